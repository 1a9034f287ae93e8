//! rolegate: credentials for MFA-protected AWS roles, for Terraform and every AWS SDK.
//!
//! One call, in order (see ARCHITECTURE.md for the map):
//!
//! ```text
//! cli ──> plan ──> { config, sts::endpoint }          what to do: pure
//!           └────> provider ──> { cache, mfa, base_credentials, sts }   side effects
//!                     └────> credentials ──> output (the only stdout writer)
//! ```
//!
//! - [`cli`]: the command line (clap derive, no logic).
//! - [`context`]: the outside world, injected: environment, clock, home.
//! - [`config`]: the AWS config files, parsed by the SDK's parser; [`config::resolve`] turns a
//!   profile into a chain (pure).
//! - [`plan`]: chain + flags -> MFA strategy, durations, endpoint, cache keys (pure).
//! - [`provider`]: cache first, then under a lock the MFA session and the role calls.
//! - [`cache`], [`mfa`], [`sts`], [`base_credentials`]: the engines it drives.
//! - [`output`]: what goes to stdout; [`diag`]: what goes to stderr.
//! - [`error`]: the top-level error, its hint and its exit code.

pub mod base_credentials;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod credentials;
pub mod diag;
pub mod doctor;
pub mod env_vars;
pub mod error;
pub mod exec;
pub mod generated_config;
pub mod login;
pub mod mfa;
pub mod output;
pub mod plan;
#[cfg(test)]
mod plan_vectors;
pub mod provider;
pub mod server;
pub mod setup;
pub mod shim;
pub mod sts;

use cli::{Cli, Command};
use context::Context;
pub use error::Error;

/// Runs a parsed command line; the exit status on success (a child's, for `exec`).
pub fn run(cli: Cli) -> Result<u8, Error> {
    let ctx = Context::from_process();
    init_logging(cli.verbose, &ctx);
    // Tells apart the processes that share one log file (Terraform starts several at once).
    let _process = tracing::info_span!("rolegate", pid = std::process::id()).entered();
    match &cli.command {
        Command::CredentialProcess(args) => commands::credential_process(&ctx, &cli, args).map(|()| 0),
        Command::Exec(args) => exec::exec(&ctx, &cli, args),
        Command::Export(args) => commands::export(&ctx, &cli, args).map(|()| 0),
        Command::Shim(args) => shim::manage(&ctx, args),
        Command::Login(args) => login::login(&ctx, &cli, args),
        Command::Completions { shell } => commands::completions(*shell).map(|()| 0),
        Command::Man => commands::man().map(|()| 0),
        Command::List => commands::list(&ctx, &cli).map(|()| 0),
        Command::Clear(args) => commands::clear(&ctx, &cli, args).map(|()| 0),
        Command::Setup(args) => setup::run(&ctx, &cli, args),
        Command::Doctor(args) => doctor::run(&ctx, &cli, args),
    }
}

/// Prints the error and its hint on stderr.
pub fn report(error: &Error) {
    diag::error(&error::chain_message(error), error.hint().as_deref());
}

/// Tracing, off unless asked for. `-v`/`-vv` log to stderr; `ROLEGATE_LOG_FILE` appends the
/// log, and every warning and error rolegate prints, to a file (for runs under Terraform, which
/// shows a helper's stderr only when it fails); `ROLEGATE_LOG` sets the level of either.
/// Only rolegate's own events (and the config parser's warnings) are logged: dependencies'
/// trace events may carry request bodies, and a request body can hold an MFA code.
fn init_logging(verbose: u8, ctx: &Context) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::{Layer, SubscriberExt};

    let env_level = ctx.env.get(env_vars::ROLEGATE_LOG).map(|l| l.parse::<LevelFilter>().unwrap_or(LevelFilter::DEBUG));
    let file_path = ctx.env.get(env_vars::ROLEGATE_LOG_FILE).filter(|p| !p.is_empty());
    let flag_level = match verbose {
        0 => None,
        1 => Some(LevelFilter::DEBUG),
        _ => Some(LevelFilter::TRACE),
    };
    let stderr_level = flag_level.or(if file_path.is_none() { env_level } else { None });
    let file = file_path.and_then(|path| match diag::open_log_file(path) {
        Ok(file) => Some(file),
        Err(e) => {
            diag::warn(&format!("cannot open the log file {path} (ROLEGATE_LOG_FILE): {e}; logging to it is off"));
            None
        }
    });
    if stderr_level.is_none() && file.is_none() {
        return;
    }
    let targets = |level: LevelFilter| {
        Targets::new().with_target("rolegate", level).with_target("aws_runtime::env_config", LevelFilter::WARN)
    };
    // Warnings and errors already reach stderr as plain lines (diag); in the file they are events.
    let stderr_layer = stderr_level.map(|level| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_filter(targets(level).with_target(diag::TARGET, LevelFilter::OFF))
    });
    let file_layer = file.map(|file| {
        let level = env_level.or(flag_level).unwrap_or(LevelFilter::DEBUG);
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Arc::new(file))
            .with_ansi(false)
            .with_filter(targets(level).with_target(diag::TARGET, LevelFilter::INFO))
    });
    let subscriber = tracing_subscriber::registry().with(stderr_layer).with(file_layer);
    let _ = tracing::subscriber::set_global_default(subscriber);
}
