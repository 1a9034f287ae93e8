//! `rolegate exec PROFILE [-- COMMAND]`: run a command (or, without one, the user's shell) with
//! credentials.
//!
//! The child's environment: the credential variables of [`output::env`] (or, with `--server`,
//! the container-credentials endpoint instead of fixed keys), and `AWS_CONFIG_FILE` /
//! `AWS_SHARED_CREDENTIALS_FILE` pointing at the generated copies ([`generated_config`]) so a
//! profile named in the child's own code also gets rolegate's credentials.
//!
//! Without `--server`, rolegate replaces itself with the command (Unix `exec`): signals and the
//! exit status are the command's own. With `--server`, or when the child needs a credentials
//! copy (it holds long-term keys, and is removed when the command ends), rolegate stays the
//! parent: it forwards SIGINT, SIGTERM and SIGHUP and exits with the child's status (128 +
//! signal when killed).
//!
//! An IAM Identity Center profile (or a role on one) is the SDKs' own: the command runs with
//! `AWS_PROFILE` naming it and no credential variables (see [`sso_pass_through`]).
//!
//! Nesting: inside a rolegate child (`ROLEGATE_PROFILE` set), the same profile re-uses the
//! credentials already there; another profile replaces them. Either way with a one-line notice.

use crate::cli::{Cli, ExecArgs};
use crate::context::Context;
use crate::diag;
use crate::env_vars;
use crate::error::Error;
use crate::exec::{ChildEnv, ExecError, generated_config, replace_with, run_as_parent};
use crate::output::env::{child_env, sso_pass_through_env};
use crate::plan::PlanError;
use crate::server;
use crate::session::Session;

/// Runs the command (or the user's shell); returns its exit status when rolegate stays the
/// parent.
pub fn run(ctx: Context, cli: &Cli, args: &ExecArgs) -> Result<u8, Error> {
    let shell;
    let command = if args.command.is_empty() {
        // No command: the user's shell, as aws-vault does (`ROLEGATE_PROFILE` tells prompts).
        shell = [ctx.env.get_os(env_vars::SHELL).map_or_else(|| "/bin/sh".into(), std::ffi::OsStr::to_owned)];
        &shell[..]
    } else {
        &args.command[..]
    };
    // Every variable the user had, byte for byte, minus those the credentials replace or unset.
    let caller = || ChildEnv::new(ctx.env.vars_os().map(|(k, v)| (k.to_owned(), v.to_owned())));
    if let Some(current) = ctx.env.get(env_vars::ROLEGATE_PROFILE) {
        if current == args.profile {
            diag::notice(&format!("already running with credentials for `{current}`; re-using them"));
            return Err(replace_with(command, caller()).into());
        }
        diag::notice(&format!("replacing the credentials for `{current}` with `{}`", args.profile));
    }
    let mut env = caller();
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let target = match session.target(Some(&args.profile), &args.session) {
        Err(Error::Plan(PlanError::Resolve(e))) if e.sso_profile().is_some() => {
            return Err(sso_pass_through(args, command, env, e.sso_profile().unwrap_or_default()));
        }
        other => other?,
    };

    // Before the credentials: a copy that cannot be written costs no MFA code.
    let mut credentials_copy = None;
    if !args.no_generated_config {
        let paths = &session.paths;
        let exe = std::env::current_exe().map_err(ExecError::SelfPath)?;
        let dir = generated_config::dir(&session.ctx.env, session.cache.dir());
        let now = session.ctx.now().unix_timestamp();
        let generated = generated_config::write(&dir, paths, &session.profiles, &session.ctx.env, &exe, now)?;
        tracing::debug!(profiles = ?generated.rewritten, config = %generated.config.display(), "generated config");
        env.set(env_vars::AWS_CONFIG_FILE, &generated.config);
        let credentials_file = generated.credentials.as_ref().map_or(paths.credentials.as_path(), |c| c.path());
        env.set(env_vars::AWS_SHARED_CREDENTIALS_FILE, credentials_file);
        env.set(env_vars::ROLEGATE_CONFIG_FILE, &paths.config);
        env.set(env_vars::ROLEGATE_SHARED_CREDENTIALS_FILE, &paths.credentials);
        credentials_copy = generated.credentials;
    }

    // From here the credentials copy (long-term keys) is removed when `credentials_copy` drops:
    // on an error, or when the command has ended.
    let credentials = session.credentials(&target)?;
    if args.server {
        let child = server::Child { command, env, profile: &args.profile, region: &target.plan.region };
        let renewer = session.renewer(&target);
        let margin = args.refresh_margin.unwrap_or(server::DEFAULT_REFRESH_MARGIN_SECONDS);
        let status = server::run(child, credentials, renewer, margin)?;
        drop(credentials_copy);
        return Ok(status);
    }
    let changes = child_env(&credentials, Some(&target.plan.region), &args.profile);
    for name in &changes.unset {
        env.remove(name);
    }
    for (name, value) in &changes.set {
        env.set(name, value);
    }
    drop(changes);
    match credentials_copy {
        // Stay the parent, to remove the copy when the command ends.
        Some(copy) => {
            let status = run_as_parent(command, env)?;
            drop(copy);
            Ok(status)
        }
        None => Err(replace_with(command, env).into()),
    }
}

/// An IAM Identity Center profile (or a role on one): the SDKs sign in and assume it
/// themselves, from the SSO token cache `aws sso login` fills, so the command runs with
/// `AWS_PROFILE` naming the profile and no credential variables to beat it. The generated
/// config is not written (the child reads the user's files: SSO profiles and `[sso-session]`
/// sections are the SDKs' business, and the generated copy keeps them as they are anyway).
fn sso_pass_through(args: &ExecArgs, command: &[std::ffi::OsString], mut env: ChildEnv, sso_profile: &str) -> Error {
    diag::notice(&format!(
        "profile `{}` uses IAM Identity Center (`{sso_profile}`), which the AWS SDKs and CLI handle themselves: running the command with AWS_PROFILE={}{} (sign in with `aws sso login --profile {sso_profile}` if it asks)",
        args.profile,
        args.profile,
        if args.server { ", without the --server endpoint" } else { "" }
    ));
    let changes = sso_pass_through_env(&args.profile);
    for name in &changes.unset {
        env.remove(name);
    }
    for (name, value) in &changes.set {
        env.set(name, value);
    }
    drop(changes);
    replace_with(command, env).into()
}
