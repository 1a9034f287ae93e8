//! `argv[0]` shims: `terraform`, `terragrunt`, `aws`, ... linked to rolegate in a shim directory
//! that comes first on `PATH`, so `terraform plan` runs as `rolegate exec PROFILE -- terraform plan`
//! with no change to how the user types it.
//!
//! Invoked under another name, rolegate:
//! 1. finds the real program further down `PATH`, skipping every candidate whose canonical path
//!    is rolegate's own (itself, any other shim, a copy linked elsewhere): never a loop;
//! 2. inside a rolegate child (`ROLEGATE_PROFILE` set) runs it directly: nested calls do not ask
//!    again;
//! 3. otherwise picks the profile from `ROLEGATE_PROFILE`, `AWS_PROFILE`, or the nearest
//!    `.rolegate` file (the profile name on its first line) in the working directory or above,
//!    and runs `rolegate exec PROFILE -- REAL ARGS...`.
//!
//! `rolegate shim install|list|remove` (in `cmd::shim`) manage the links (default directory
//! `$XDG_DATA_HOME/rolegate/shims` or `~/.local/share/rolegate/shims`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::context::Context;

/// The file naming the profile for a directory tree.
pub const PROFILE_FILE: &str = ".rolegate";

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("`{name}` is a rolegate shim, but no other `{name}` is on PATH")]
    NoRealProgram { name: String },
    #[error("`{name}` is a rolegate shim and no profile is chosen")]
    NoProfile { name: String },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} exists and is not a rolegate shim", path.display())]
    NotAShim { path: PathBuf },
    #[error("no home directory for the shim directory: pass --dir")]
    NoDir,
}

impl ShimError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ShimError::NoRealProgram { name } => {
                format!("install {name}, or remove the shim with `rolegate shim remove {name}`")
            }
            ShimError::NoProfile { .. } => format!(
                "set AWS_PROFILE, or write the profile name into a {PROFILE_FILE} file in this directory or above"
            ),
            ShimError::Io { .. } => return None,
            ShimError::NotAShim { .. } => {
                "remove it yourself if it should become a shim, or choose another --dir".into()
            }
            ShimError::NoDir => "rolegate shim install --dir DIR terraform".into(),
        })
    }
}

/// The name rolegate was invoked under, when it is not `rolegate` itself.
pub fn invoked_as(argv0: &OsString) -> Option<String> {
    let name = Path::new(argv0).file_name()?.to_str()?.to_string();
    (!name.starts_with("rolegate")).then_some(name)
}

/// The first `name` on `path` that is not rolegate itself (compared by canonical path).
pub fn find_real(name: &str, path: &str, me: &Path) -> Option<PathBuf> {
    path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(name)).find(|candidate| {
        let Ok(canonical) = candidate.canonicalize() else { return false };
        canonical != me && is_executable(&canonical)
    })
}

fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && crate::platform::is_executable(&m))
}

/// The profile named by the nearest `.rolegate` file at or above `dir`.
pub fn profile_file(dir: &Path) -> Option<String> {
    dir.ancestors().find_map(|d| {
        let text = std::fs::read_to_string(d.join(PROFILE_FILE)).ok()?;
        text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string)
    })
}

/// `$XDG_DATA_HOME/rolegate/shims`, else `~/.local/share/rolegate/shims`.
pub fn default_dir(ctx: &Context) -> Option<PathBuf> {
    ctx.env
        .get("XDG_DATA_HOME")
        .filter(|p| p.starts_with('/'))
        .map(|d| PathBuf::from(d).join("rolegate/shims"))
        .or_else(|| ctx.home.as_ref().map(|h| h.join(".local/share/rolegate/shims")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_shim_names() {
        assert_eq!(
            invoked_as(&OsString::from("/home/u/.local/share/rolegate/shims/terraform")).as_deref(),
            Some("terraform")
        );
        assert_eq!(invoked_as(&OsString::from("/usr/bin/rolegate")), None);
        assert_eq!(invoked_as(&OsString::from("rolegate")), None);
    }

    #[test]
    fn reads_the_nearest_profile_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROFILE_FILE), "# comment\n\n prod \n").unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        assert_eq!(profile_file(&dir.path().join("a/b")).as_deref(), Some("prod"));
    }
}
