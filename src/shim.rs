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
//! `rolegate shim install|list|remove` manage the links (default directory
//! `$XDG_DATA_HOME/rolegate/shims` or `~/.local/share/rolegate/shims`).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cli::{Cli, ShimAction, ShimArgs};
use crate::context::Context;
use crate::env_vars;
use crate::error::Error;
use crate::exec::ExecError;
use crate::output;

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

/// Runs the real `name` through rolegate.
pub fn run_shim(name: &str, args: &[OsString]) -> Result<u8, Error> {
    let ctx = Context::from_process();
    let me = std::env::current_exe().and_then(|p| p.canonicalize()).map_err(ExecError::SelfPath)?;
    let real = find_real(name, ctx.env.get("PATH").unwrap_or(""), &me)
        .ok_or_else(|| ShimError::NoRealProgram { name: name.into() })?;
    if ctx.env.get(env_vars::ROLEGATE_PROFILE).is_some() {
        // Already inside a rolegate child: the credentials are in place.
        let source = std::process::Command::new(&real).args(args).exec();
        return Err(ExecError::Spawn { program: real.display().to_string(), source }.into());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let profile = ctx
        .env
        .get(env_vars::AWS_PROFILE)
        .map(str::to_string)
        .or_else(|| profile_file(&cwd))
        .ok_or_else(|| ShimError::NoProfile { name: name.into() })?;
    let mut argv: Vec<OsString> = vec!["rolegate".into(), "exec".into(), profile.into(), "--".into(), real.into()];
    argv.extend_from_slice(args);
    crate::run(Cli::parse_from(argv))
}

/// The first `name` on `path` that is not rolegate itself (compared by canonical path).
pub fn find_real(name: &str, path: &str, me: &Path) -> Option<PathBuf> {
    path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(name)).find(|candidate| {
        let Ok(canonical) = candidate.canonicalize() else { return false };
        canonical != me && is_executable(&canonical)
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The profile named by the nearest `.rolegate` file at or above `dir`.
pub fn profile_file(dir: &Path) -> Option<String> {
    dir.ancestors().find_map(|d| {
        let text = std::fs::read_to_string(d.join(PROFILE_FILE)).ok()?;
        text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string)
    })
}

/// `rolegate shim install|list|remove`.
pub fn manage(ctx: &Context, args: &ShimArgs) -> Result<u8, Error> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => default_dir(ctx).ok_or(ShimError::NoDir)?,
    };
    let me = std::env::current_exe().and_then(|p| p.canonicalize()).map_err(ExecError::SelfPath)?;
    let io = |action, path: &Path, source| ShimError::Io { action, path: path.to_path_buf(), source };
    match &args.action {
        ShimAction::Install { commands } => {
            std::fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
            for name in commands {
                let link = dir.join(name);
                match link.canonicalize() {
                    Ok(target) if target == me => continue,
                    Ok(_) => return Err(ShimError::NotAShim { path: link }.into()),
                    Err(_) => {}
                }
                let _ = std::fs::remove_file(&link); // a dangling link from an older install
                std::os::unix::fs::symlink(&me, &link).map_err(|e| io("create", &link, e))?;
            }
            let path_line = format!("export PATH=\"{}:$PATH\"\n", dir.display());
            output::write_stdout(&format!("# add the shim directory to PATH, before the real programs:\n{path_line}"))
                .map_err(Error::Stdout)?;
        }
        ShimAction::List => {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| e.path().canonicalize().is_ok_and(|t| t == me))
                        .filter_map(|e| e.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            let text: String = names.iter().map(|n| format!("{n}\n")).collect();
            output::write_stdout(&text).map_err(Error::Stdout)?;
        }
        ShimAction::Remove { commands } => {
            for name in commands {
                let link = dir.join(name);
                match link.canonicalize() {
                    Ok(target) if target == me => std::fs::remove_file(&link).map_err(|e| io("remove", &link, e))?,
                    Ok(_) => return Err(ShimError::NotAShim { path: link }.into()),
                    Err(_) => {}
                }
            }
        }
    }
    Ok(0)
}

fn default_dir(ctx: &Context) -> Option<PathBuf> {
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
