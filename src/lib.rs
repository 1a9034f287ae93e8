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
    init_logging(cli.verbose, ctx.env.get(env_vars::ROLEGATE_LOG));
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

/// Tracing to stderr, off unless `-v` or `ROLEGATE_LOG` asks. Only rolegate's own events (and
/// the config parser's warnings) are shown: dependencies' trace events may carry request
/// bodies, and a request body can hold an MFA code.
fn init_logging(verbose: u8, env_level: Option<&str>) {
    use tracing::level_filters::LevelFilter;
    let level = match (verbose, env_level) {
        (0, None) => return,
        (0, Some(l)) => l.parse::<LevelFilter>().unwrap_or(LevelFilter::DEBUG),
        (1, _) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("rolegate", level)
        .with_target("aws_runtime::env_config", LevelFilter::WARN);
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false).with_filter(filter));
    let _ = tracing::subscriber::set_global_default(subscriber);
}
