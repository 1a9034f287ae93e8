//! The first credentials of a chain: static keys, keys in an OS credential store
//! ([`crate::store`]), the environment, or a `credential_process`.
//!
//! A base `credential_process` runs as the SDKs run it (`sh -c LINE`, stdin and stderr
//! inherited, stdout parsed as credential_process JSON), bounded by the call's deadline (then
//! its whole process group is killed: what it started too), with
//! every variable of rolegate's environment (byte for byte) and `ROLEGATE_RESOLVING` naming the
//! profiles being resolved so that a rolegate started by it for one of them stops instead of
//! recursing.
//!
//! The provider asks a [`BaseSource`] only when an STS call is about to be signed with the base
//! credentials: a call served by a cached MFA session runs no `credential_process` (a password
//! manager may prompt, or take seconds). [`Configured`] is the real source; unit tests count.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Base;
use crate::context::Context;
use crate::credentials::{BaseCredentials, Secret};
use crate::env_vars;

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("profile `{profile}` has credential_source = Environment, but {missing} is not set")]
    EnvMissing { profile: String, missing: &'static str },
    #[error("profile `{profile}`: its credential_process could not start: {source}")]
    ProcessSpawn {
        profile: String,
        #[source]
        source: std::io::Error,
    },
    #[error("profile `{profile}`: its credential_process exited with {status}")]
    ProcessFailed { profile: String, status: String },
    #[error("profile `{profile}`: its credential_process did not finish in time")]
    ProcessTimeout { profile: String },
    #[error("profile `{profile}`: its credential_process printed no valid credential_process JSON ({why})")]
    ProcessOutput { profile: String, why: String },
    #[error("profile `{profile}`: its credential_process returned credentials that expired at {expiration}")]
    ProcessExpired { profile: String, expiration: String },
    #[error("rolegate is being run by its own credential_process for profile `{profile}` (recursion: {chain})")]
    Recursion { profile: String, chain: String },
    #[error("profile `{profile}`: its keys cannot be read from the credential store")]
    Store {
        profile: String,
        #[source]
        source: crate::store::StoreError,
    },
}

impl BaseError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            BaseError::EnvMissing { .. } => "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use source_profile with keys instead".into(),
            BaseError::ProcessSpawn { .. } | BaseError::ProcessFailed { .. } => "run the credential_process command by hand to see its error".into(),
            BaseError::ProcessTimeout { .. } => "the command must print its JSON within the time; run it by hand to see where it waits".into(),
            BaseError::ProcessOutput { .. } => "the command must print {\"Version\": 1, \"AccessKeyId\": ..., \"SecretAccessKey\": ...} on stdout".into(),
            BaseError::ProcessExpired { .. } => "renew the credentials that command returns".into(),
            BaseError::Store { source, .. } => return source.hint(),
            BaseError::Recursion { .. } => "point `rolegate credential-process` at the profile that has role_arn/mfa_serial, not at a profile whose credential_process is rolegate".into(),
        })
    }
}

/// Refuses to continue when this rolegate was started, directly or not, by a base
/// `credential_process` that rolegate itself ran for `profile`.
pub fn check_recursion(ctx: &Context, profile: &str) -> Result<(), BaseError> {
    match ctx.env.get(env_vars::ROLEGATE_RESOLVING) {
        Some(chain) if chain.split(',').any(|p| p == profile) => {
            Err(BaseError::Recursion { profile: profile.into(), chain: chain.into() })
        }
        _ => Ok(()),
    }
}

/// Where the base credentials of a chain come from.
pub trait BaseSource {
    /// The base credentials of `base`; `resolving` lists the profiles of the chain being
    /// resolved, and nothing may wait past `deadline`.
    fn fetch(
        &self,
        ctx: &Context,
        base: &Base,
        resolving: &[&str],
        deadline: Instant,
    ) -> Result<BaseCredentials, BaseError>;
}

/// The base credentials as the profiles configure them: [`fetch`].
pub struct Configured {
    /// Whether a base `credential_process` may have the terminal for its run (see
    /// [`crate::platform::spawn_in_own_group`]): not in the local endpoint's background
    /// renewal, which runs while the endpoint's child has the terminal.
    pub terminal: bool,
}

impl BaseSource for Configured {
    fn fetch(
        &self,
        ctx: &Context,
        base: &Base,
        resolving: &[&str],
        deadline: Instant,
    ) -> Result<BaseCredentials, BaseError> {
        fetch_base(ctx, base, resolving, deadline, self.terminal)
    }
}

/// Fetches the base credentials. `resolving` lists the profiles of the chain being resolved.
pub fn fetch(ctx: &Context, base: &Base, resolving: &[&str], deadline: Instant) -> Result<BaseCredentials, BaseError> {
    fetch_base(ctx, base, resolving, deadline, true)
}

fn fetch_base(
    ctx: &Context,
    base: &Base,
    resolving: &[&str],
    deadline: Instant,
    terminal: bool,
) -> Result<BaseCredentials, BaseError> {
    match base {
        Base::StaticKeys { access_key_id, secret_access_key, session_token, .. } => Ok(BaseCredentials {
            access_key_id: access_key_id.clone(),
            secret_access_key: secret_access_key.clone(),
            session_token: session_token.clone(),
            expiration: None,
        }),
        Base::Environment { profile } => {
            let get = |name: &'static str| {
                ctx.env.get(name).ok_or_else(|| BaseError::EnvMissing { profile: profile.clone(), missing: name })
            };
            Ok(BaseCredentials {
                access_key_id: get(env_vars::AWS_ACCESS_KEY_ID)?.to_string(),
                secret_access_key: Secret::new(get(env_vars::AWS_SECRET_ACCESS_KEY)?),
                session_token: ctx.env.get(env_vars::AWS_SESSION_TOKEN).map(Secret::new),
                expiration: None,
            })
        }
        Base::Process { profile, command } => run_process(ctx, profile, command, resolving, deadline, terminal),
        Base::Stored { profile, backend, access_key_id } => {
            let store_error = |source| BaseError::Store { profile: profile.clone(), source };
            let store = crate::store::Store::open(*backend).map_err(store_error)?;
            Ok(BaseCredentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: store.get(access_key_id).map_err(store_error)?,
                session_token: None,
                expiration: None,
            })
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessOutput {
    version: u32,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: Option<String>,
}

fn run_process(
    ctx: &Context,
    profile: &str,
    command: &str,
    resolving: &[&str],
    deadline: Instant,
    terminal: bool,
) -> Result<BaseCredentials, BaseError> {
    let mut chain: Vec<&str> =
        ctx.env.get(env_vars::ROLEGATE_RESOLVING).map(|c| c.split(',').collect()).unwrap_or_default();
    chain.extend_from_slice(resolving);
    let _span = tracing::debug_span!("credential_process", profile).entered();
    let mut command_line = Command::new("sh");
    command_line
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(ctx.env.vars_os())
        .env(env_vars::ROLEGATE_RESOLVING, chain.join(","))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Its own process group: at the deadline the group is killed, with whatever the command
    // started; it has the terminal for its run (a password manager may ask there).
    let (mut child, group) = crate::platform::spawn_in_own_group(&mut command_line, terminal)
        .map_err(|source| BaseError::ProcessSpawn { profile: profile.into(), source })?;
    let mut stdout = child.stdout.take().expect("piped");
    // Its output to the end, then its exit, both within the deadline (a command that closes
    // stdout and goes on running is waited for no longer than one that never prints).
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = stdout.by_ref().take(1 << 20).read_to_end(&mut out).map(|_| out);
        let status = child.wait();
        if let Err(mpsc::SendError((Ok(mut out), _))) = tx.send((read, status)) {
            zeroize::Zeroize::zeroize(&mut out); // given up on: no one reads it
        }
    });
    let spawn_error = |source| BaseError::ProcessSpawn { profile: profile.into(), source };
    let (output, status) = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok((read, status)) => (read.map_err(spawn_error)?, status.map_err(spawn_error)?),
        Err(_) => {
            group.kill();
            return Err(BaseError::ProcessTimeout { profile: profile.into() });
        }
    };
    drop(group);
    let mut output = output;
    if !status.success() {
        zeroize::Zeroize::zeroize(&mut output);
        return Err(BaseError::ProcessFailed { profile: profile.into(), status: status.to_string() });
    }
    let parsed = serde_json::from_slice::<ProcessOutput>(&output);
    zeroize::Zeroize::zeroize(&mut output);
    let parsed = parsed.map_err(|e| BaseError::ProcessOutput {
        profile: profile.into(),
        why: format!("line {} column {}", e.line(), e.column()),
    })?;
    if parsed.version != 1 {
        return Err(BaseError::ProcessOutput {
            profile: profile.into(),
            why: format!("Version is {}, not 1", parsed.version),
        });
    }
    let expiration = match parsed.expiration.as_deref() {
        None => None,
        Some(text) => Some(OffsetDateTime::parse(text, &Rfc3339).map_err(|_| BaseError::ProcessOutput {
            profile: profile.into(),
            why: "Expiration is not an RFC 3339 time".into(),
        })?),
    };
    if let Some(exp) = expiration
        && exp <= ctx.now()
    {
        return Err(BaseError::ProcessExpired {
            profile: profile.into(),
            expiration: crate::credentials::format_expiration(exp),
        });
    }
    Ok(BaseCredentials {
        access_key_id: parsed.access_key_id,
        secret_access_key: Secret::new(parsed.secret_access_key),
        session_token: parsed.session_token.map(Secret::new),
        expiration,
    })
}
