fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(rolegate::main(std::env::args_os().collect()))
}
