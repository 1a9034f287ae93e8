use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if rolegate::commands::try_hot_path(&args) {
        return ExitCode::SUCCESS;
    }
    let result = match args.first().and_then(rolegate::shim::invoked_as) {
        Some(name) => rolegate::shim::run_shim(&name, &args[1..]),
        None => rolegate::run(rolegate::cli::Cli::parse_from(args)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            rolegate::report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
