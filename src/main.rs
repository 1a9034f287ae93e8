use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rolegate::cli::Cli::parse();
    match rolegate::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            rolegate::report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
