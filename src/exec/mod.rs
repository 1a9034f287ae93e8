//! Running a program with credentials: the child's environment, the generated config copy
//! ([`generated_config`]), `argv[0]` shims ([`shim`]), and starting or becoming the child.
//!
//! The child's environment is the caller's, every variable kept, minus the documented removals
//! ([`crate::output::env`]), plus the credential variables (or the local endpoint's) and
//! `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` pointing at the generated copies, with the
//! user's own files in `ROLEGATE_CONFIG_FILE` / `ROLEGATE_SHARED_CREDENTIALS_FILE`.

pub mod generated_config;
pub mod shim;

use std::ffi::OsString;
use std::process::Command;

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
}

/// A child's environment: ordered pairs, later ones replacing earlier ones of the same name.
/// Values may be secrets: `Debug` shows the names only.
#[derive(Default)]
pub struct ChildEnv {
    vars: Vec<(OsString, OsString)>,
}

impl std::fmt::Debug for ChildEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.vars.iter().map(|(name, _)| name)).finish()
    }
}

impl ChildEnv {
    /// Starts from the caller's variables.
    pub fn new(vars: impl IntoIterator<Item = (OsString, OsString)>) -> ChildEnv {
        ChildEnv { vars: vars.into_iter().collect() }
    }

    pub fn remove(&mut self, name: &str) {
        self.vars.retain(|(k, _)| k != name);
    }

    pub fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.remove(name);
        self.vars.push((name.into(), value.into()));
    }

    pub fn into_vars(self) -> Vec<(OsString, OsString)> {
        self.vars
    }
}

/// Replaces this process with `command`; returns only on failure.
pub fn replace_with(command: &[OsString], env: ChildEnv) -> ExecError {
    let (program, rest) = command.split_first().expect("a command or the shell");
    let source = crate::platform::replace_process(Command::new(program).args(rest).env_clear().envs(env.into_vars()));
    ExecError::Spawn { program: program.to_string_lossy().into_owned(), source }
}

/// Runs `command` as a child and waits for it, passing SIGINT, SIGTERM and SIGHUP on (see
/// [`crate::platform::SignalForwarder`]); returns its status as a shell reports it (128 + the
/// signal when it was killed). For a run that must clean up after its command.
pub fn run_as_parent(command: &[OsString], env: ChildEnv) -> Result<u8, ExecError> {
    let (program, rest) = command.split_first().expect("a command or the shell");
    let spawn_error = |source| ExecError::Spawn { program: program.to_string_lossy().into_owned(), source };
    let signals = crate::platform::SignalForwarder::install()
        .map_err(|e| ExecError::Spawn { program: "signal handlers".into(), source: e })?;
    let mut child =
        crate::platform::spawn_with_user_limits(Command::new(program).args(rest).env_clear().envs(env.into_vars()))
            .map_err(spawn_error)?;
    let forwarder = signals.forward_to(&child);
    let status = child.wait().map_err(spawn_error)?;
    drop(forwarder);
    Ok(crate::platform::status_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_never_values_and_set_replaces() {
        let mut env = ChildEnv::new([("HOME".into(), "/h".into())]);
        env.set("AWS_SECRET_ACCESS_KEY", "SECRETvalue");
        env.set("HOME", "/other");
        let shown = format!("{env:?}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("SECRETvalue") && !shown.contains("/h"));
        assert_eq!(
            env.into_vars(),
            [("AWS_SECRET_ACCESS_KEY".into(), "SECRETvalue".into()), ("HOME".into(), "/other".into())]
        );
    }
}
