//! rolegate: credentials for MFA-protected AWS roles, for Terraform and every AWS SDK.
//!
//! One call flows one way (ARCHITECTURE.md has the map):
//!
//! ```text
//! main ──> entry: shim (argv[0]) ──> fast path (a cached answer) ──> completion ──> cli (clap) ──> cmd::*
//! cmd::* ──> session { config, plan } ──> provider ──> { cache, mfa, sts, base_credentials }
//!                                              └──> credentials ──> { output, exec, server }
//! ```
//!
//! - [`cli`]: the command line (clap derive, no logic); [`cmd`]: one file per subcommand.
//! - [`session`]: the files located and parsed once, the cache, a profile's plan, its deadline.
//! - [`config`]: the AWS config files, parsed by the SDK's parser; [`config::resolve`] turns a
//!   profile into a chain (pure). [`plan`]: chain + flags -> strategy, endpoint, cache keys (pure).
//! - [`provider`]: cache first, then under a lock the MFA session and the role calls, over
//!   [`cache`], [`mfa`], [`sts`] and [`base_credentials`].
//! - [`credentials`]: the secret types. [`output`]: stdout; [`exec`]: a child with credentials;
//!   [`server`]: the local endpoint.
//! - [`context`], [`env_vars`], [`diag`]: the world (environment, clock), stderr.
//! - [`error`]: the top-level error, its hint and its exit code.

pub mod base_credentials;
pub mod cache;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod context;
pub mod credentials;
pub mod diag;
pub mod env_vars;
pub mod error;
pub mod exec;
pub mod mfa;
pub mod output;
pub mod plan;
#[cfg(test)]
mod plan_vectors;
pub mod platform;
pub mod provider;
pub mod server;
pub mod session;
pub mod store;
pub mod sts;

use std::ffi::OsString;

use clap::Parser;

use cli::Cli;
use context::Context;
pub use error::Error;

/// The whole program: argv in, exit status out. In this order, each decided once:
/// 1. invoked under another name (`terraform`, ...): a shim, which runs the real program
///    through `exec` (never the fast path: `terraform credential-process x` is Terraform's);
/// 2. `credential-process PROFILE` answered from the cache without parsing anything;
/// 3. a shell asking for completions (`ROLEGATE_COMPLETE`), answered;
/// 4. the command line parsed by clap, and the subcommand run.
pub fn main(args: Vec<OsString>) -> u8 {
    // Before any secret is read (the fast path reads one from the cache).
    platform::forbid_core_dumps();
    if let Some(name) = args.first().and_then(exec::shim::invoked_as) {
        let ctx = Context::from_process();
        let result = {
            let _process = init_logging(0, &ctx);
            cmd::shim::run_shim(ctx, &name, &args[1..])
        };
        return finish(result);
    }
    if cmd::credential_process::fast_path(&args) {
        return 0;
    }
    if let Some(status) = cmd::completions::complete(&args) {
        return status;
    }
    let cli = Cli::parse_from(args);
    let ctx = Context::from_process();
    let result = {
        let _process = init_logging(cli.verbose, &ctx);
        cmd::run(ctx, &cli)
    };
    finish(result)
}

/// The exit status of a command's result; an error is reported on stderr first (after the
/// process's span has ended, so the final error line stands on its own in a shared log).
fn finish(result: Result<u8, Error>) -> u8 {
    match result {
        Ok(code) => code,
        Err(error) => {
            diag::error(&diag::chain_message(&error), error.hint().as_deref());
            error.exit_code()
        }
    }
}

/// Tracing, off unless asked for; the returned span names this process in every event. `-v`/`-vv` log to stderr; `ROLEGATE_LOG_FILE` appends the
/// log, and every warning and error rolegate prints, to a file (for runs under Terraform, which
/// shows a helper's stderr only when it fails); `ROLEGATE_LOG` sets the level of either.
/// Only rolegate's own events (and the config parser's warnings) are logged: dependencies'
/// trace events may carry request bodies, and a request body can hold an MFA code.
fn init_logging(verbose: u8, ctx: &Context) -> tracing::span::EnteredSpan {
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
    // Tells apart the processes that share one log file (Terraform starts several at once).
    let process = || tracing::info_span!("rolegate", pid = std::process::id()).entered();
    if stderr_level.is_none() && file.is_none() {
        return process();
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
    process()
}
