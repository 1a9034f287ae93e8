//! `rolegate exec PROFILE -- COMMAND`: run a command with credentials.
//!
//! The child's environment: every variable rolegate was given, byte for byte (non-UTF-8 names
//! and values included), with the credential variables of [`output::env`] (or, with `--server`,
//! the container-credentials endpoint instead of fixed keys), and `AWS_CONFIG_FILE` /
//! `AWS_SHARED_CREDENTIALS_FILE` pointing at the generated copies ([`generated_config`]) so a
//! profile named in the child's own code also gets rolegate's credentials.
//!
//! Without `--server`, rolegate replaces itself with the command (Unix `exec`): signals and the
//! exit status are the command's own. With `--server`, rolegate stays the parent: it forwards
//! SIGINT, SIGTERM and SIGHUP and exits with the child's status (128 + signal when killed).
//!
//! Nesting: inside a rolegate child (`ROLEGATE_PROFILE` set), the same profile re-uses the
//! credentials already there; another profile replaces them. Either way with a one-line notice.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::cli::{Cli, ExecArgs};
use crate::commands;
use crate::config::{ConfigPaths, Profiles};
use crate::context::Context;
use crate::diag;
use crate::env_vars;
use crate::error::Error;
use crate::generated_config;
use crate::output::env::child_env;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find the rolegate executable for the generated config: {0}")]
    SelfPath(#[source] std::io::Error),
}

impl ExecError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ExecError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("check the command's name and PATH".into())
            }
            _ => None,
        }
    }

    /// 127 for a command not found and 126 for one that cannot run, as shells do.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExecError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 127,
            _ => 126,
        }
    }
}

/// Runs the command; returns its exit status when rolegate stays the parent.
pub fn exec(ctx: &Context, cli: &Cli, args: &ExecArgs) -> Result<u8, Error> {
    if let Some(current) = ctx.env.get(env_vars::ROLEGATE_PROFILE) {
        if current == args.profile {
            diag::notice(&format!("already running with credentials for `{current}`; re-using them"));
            let env: Vec<(OsString, OsString)> = ctx.env.vars_os().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            return Err(replace_with(&args.command, env).into());
        }
        diag::notice(&format!("replacing the credentials for `{current}` with `{}`", args.profile));
    }

    let (credentials, plan) = commands::credentials(ctx, cli, Some(&args.profile), &args.session)?;
    // Every variable the user had, byte for byte, minus those the credentials replace or unset.
    let mut env: Vec<(OsString, OsString)> = ctx.env.vars_os().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let changes = child_env(&credentials, Some(&plan.region), &args.profile);
    env.retain(|(k, _)| !changes.unset.iter().any(|u| k == u) && !changes.set.iter().any(|(s, _)| k == s));

    if !args.no_generated_config {
        let paths = ConfigPaths::locate(ctx)?;
        let profiles = Profiles::load(&paths)?;
        let exe = std::env::current_exe().map_err(ExecError::SelfPath)?;
        let dir = generated_config::dir(&ctx.env, &commands::cache_dir(ctx, cli)?);
        let generated = generated_config::write(&dir, &paths, &profiles, &ctx.env, &exe)?;
        tracing::debug!(profiles = ?generated.rewritten, config = %generated.config.display(), "generated config");
        let set = [
            (env_vars::AWS_CONFIG_FILE, generated.config.into_os_string()),
            (
                env_vars::AWS_SHARED_CREDENTIALS_FILE,
                generated.credentials.as_ref().unwrap_or(&paths.credentials).clone().into_os_string(),
            ),
            (env_vars::ROLEGATE_CONFIG_FILE, paths.config.clone().into_os_string()),
            (env_vars::ROLEGATE_SHARED_CREDENTIALS_FILE, paths.credentials.clone().into_os_string()),
        ];
        env.retain(|(k, _)| !set.iter().any(|(s, _)| k == s));
        env.extend(set.into_iter().map(|(k, v)| (OsString::from(k), v)));
    }

    if args.server {
        return crate::server::exec_with_server(ctx, cli, args, &plan, credentials, env);
    }
    env.extend(changes.set.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
    Err(replace_with(&args.command, env).into())
}

/// Replaces this process with `command`; returns only on failure.
fn replace_with(command: &[OsString], env: Vec<(OsString, OsString)>) -> ExecError {
    let (program, rest) = command.split_first().expect("clap requires a command");
    let source = Command::new(program).args(rest).env_clear().envs(env).exec();
    ExecError::Spawn { program: program.to_string_lossy().into_owned(), source }
}
