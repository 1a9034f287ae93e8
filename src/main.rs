use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rolegate::cli::Cli::parse();
    match rolegate::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            rolegate::report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
