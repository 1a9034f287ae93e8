//! `rolegate credential-process [PROFILE]`: credentials as `credential_process` JSON.
//!
//! The exact form the SDKs run, `rolegate credential-process PROFILE`, is tried first by
//! [`fast_path`], before the command-line parser is built: a hit needs no parsing of either the
//! command line or the configuration. Anything else takes [`run`], the ordinary way.

use crate::base_credentials;
use crate::cache::{Cache, hot_index};
use crate::cli::{Cli, CredentialArgs, SessionOptions};
use crate::config::ConfigPaths;
use crate::context::Context;
use crate::error::Error;
use crate::output;
use crate::session::Session;

/// `rolegate credential-process [PROFILE]`, the ordinary way.
pub fn run(ctx: Context, cli: &Cli, args: &CredentialArgs) -> Result<(), Error> {
    let flags = hot_flags(&args.session);
    let requested = crate::plan::profile_name(args.profile.as_deref(), &ctx.env);
    let before =
        ConfigPaths::locate(&ctx).ok().and_then(|paths| hot_index::fingerprint(&ctx, &paths, &requested, &flags));
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let target = session.target(args.profile.as_deref(), &args.session)?;
    let credentials = session.credentials(&target)?;
    // Remember the answer for the fast path, under the exact inputs it will see; only if the
    // files read the same after the plan as before it (an edit in between would tie the old
    // contents to the new plan).
    let (ctx, paths) = (&session.ctx, &session.paths);
    if let Some(fp) = &before
        && hot_index::fingerprint(ctx, paths, &requested, &flags).as_ref() == Some(fp)
    {
        session.cache.store_index(fp, &target.plan.result_key, ctx.now());
    }
    output::write_stdout(&output::credential_process::render(&credentials)).map_err(Error::Stdout)
}

/// The flags that change the plan, as they enter the hot-index fingerprint. The fast path
/// handles the bare form only, whose flags are all unset; an index written by a call with flags
/// is keyed on them, so the bare form never finds it.
fn hot_flags(options: &SessionOptions) -> String {
    let SessionOptions { mfa_session_duration, region, duration, .. } = options;
    format!("{mfa_session_duration:?} {region:?} {duration:?}")
}

/// `rolegate credential-process PROFILE`, exactly those words (the form Terraform and the SDKs
/// run), answered from the hot index before the command-line parser is built: building clap's
/// definition of every subcommand is most of a cached call's time and memory, and a hit needs
/// none of it. `true` when the credentials were printed; on anything else (a flag, a miss, an
/// error, logging asked for) the caller goes the ordinary way, which reports errors properly.
pub fn fast_path(args: &[std::ffi::OsString]) -> bool {
    let [_, sub, profile] = args else { return false };
    let (Some("credential-process"), Some(profile)) = (sub.to_str(), profile.to_str()) else { return false };
    if profile.starts_with('-') {
        return false;
    }
    let ctx = Context::from_process();
    // Logging asked for: the ordinary path, which logs.
    let logging = [crate::env_vars::ROLEGATE_LOG, crate::env_vars::ROLEGATE_LOG_FILE];
    if logging.iter().any(|v| ctx.env.get(v).is_some()) || base_credentials::check_recursion(&ctx, profile).is_err() {
        return false;
    }
    let (Some(dir), Ok(paths)) = (ctx.default_cache_dir(), ConfigPaths::locate(&ctx)) else { return false };
    let cache = Cache::new(dir);
    // No cache directory, nothing to find: no need to read the files.
    if !cache.check_dir(false).unwrap_or(false) {
        return false;
    }
    let Some(fingerprint) = hot_index::fingerprint(&ctx, &paths, profile, &hot_flags(&SessionOptions::default()))
    else {
        return false;
    };
    match cache.lookup_index(&fingerprint).filter(|e| crate::cache::is_fresh(e, ctx.now(), None)) {
        Some(entry) => output::write_stdout(&output::credential_process::render(&entry.credentials)).is_ok(),
        None => false,
    }
}
