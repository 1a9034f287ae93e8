//! Shims: invoked under another name (`terraform`, `aws`, ...), rolegate runs the real program
//! through `exec` ([`run_shim`]); `rolegate shim install|list|remove` manages the links
//! ([`manage`]). Finding the real program and the profile is [`crate::exec::shim`]'s.

use std::ffi::OsString;
use std::path::Path;

use clap::Parser;

use crate::cli::{Cli, Command, ShimAction, ShimArgs};
use crate::context::Context;
use crate::env_vars;
use crate::error::Error;
use crate::exec::ExecError;
use crate::exec::shim::{ShimError, default_dir, find_real, profile_file};
use crate::output;
use crate::platform;

/// Runs the real `name` through rolegate: `rolegate exec PROFILE -- REAL ARGS...`.
pub fn run_shim(ctx: Context, name: &str, args: &[OsString]) -> Result<u8, Error> {
    let me = std::env::current_exe().and_then(|p| p.canonicalize()).map_err(ExecError::SelfPath)?;
    let real = find_real(name, ctx.env.get("PATH").unwrap_or(""), &me)
        .ok_or_else(|| ShimError::NoRealProgram { name: name.into() })?;
    if ctx.env.get(env_vars::ROLEGATE_PROFILE).is_some() {
        // Already inside a rolegate child: the credentials are in place.
        let source = platform::replace_process(std::process::Command::new(&real).args(args));
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
    let cli = Cli::parse_from(argv);
    let Command::Exec(exec) = &cli.command else { unreachable!("the argv above is an exec command line") };
    super::exec::run(ctx, &cli, exec)
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
                platform::symlink(&me, &link).map_err(|e| io("create", &link, e))?;
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
