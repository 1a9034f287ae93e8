//! One function per subcommand: plan, then the side effects.

use std::time::{Duration, Instant};

use crate::base_credentials;
use crate::cache::CacheError;
use crate::cache::{Cache, hot_index};
use crate::cli::{Cli, CredentialArgs, SessionOptions};
use crate::config::resolve::{KEY_MFA_PROCESS, KEY_YKMAN_ACCOUNT};
use crate::config::{ConfigPaths, Profiles};
use crate::context::Context;
use crate::error::Error;
use crate::mfa;
use crate::output;
use crate::plan::{self, PlanOptions};
use crate::provider;

/// Margin on top of the prompt time for the lock wait and the STS calls (10 s each at most).
const DEADLINE_MARGIN: Duration = Duration::from_secs(25);

/// `rolegate credential-process [PROFILE]`
pub fn credential_process(ctx: &Context, cli: &Cli, args: &CredentialArgs) -> Result<(), Error> {
    let profile = plan::profile_name(args.profile.as_deref(), &ctx.env);
    base_credentials::check_recursion(ctx, &profile)?;
    let cache = Cache::new(cache_dir(ctx, cli)?);
    let paths = ConfigPaths::locate(ctx)?;
    let flags = hot_flags(args.session.mfa_session_duration);
    let fingerprint = hot_index::fingerprint(ctx, &paths, &profile, &flags);
    if !args.session.refresh_mfa
        && let Some(entry) = hot_hit(ctx, &cache, fingerprint.as_deref())?
    {
        return output::write_stdout(&output::credential_process::render(&entry.credentials)).map_err(Error::Stdout);
    }

    let (credentials, plan) = credentials(ctx, cli, Some(&profile), &args.session)?;
    // Indexed only if the files read the same after the plan as before it: an edit in between
    // would tie the old contents to the new plan.
    if let Some(fp) = &fingerprint
        && hot_index::fingerprint(ctx, &paths, &profile, &flags).as_ref() == Some(fp)
    {
        cache.store_index(fp, &plan.result_key, ctx.now());
    }
    output::write_stdout(&output::credential_process::render(&credentials)).map_err(Error::Stdout)
}

/// The flags that enter the hot-index fingerprint.
fn hot_flags(mfa_session_duration: Option<u32>) -> String {
    format!("{mfa_session_duration:?}")
}

/// The hot path: the hot index names a fresh entry without parsing the config.
fn hot_hit(ctx: &Context, cache: &Cache, fingerprint: Option<&str>) -> Result<Option<crate::cache::Entry>, Error> {
    let Some(fp) = fingerprint else { return Ok(None) };
    if !cache.check_dir(false)? {
        return Ok(None);
    }
    let entry = cache.lookup_index(fp).filter(|e| crate::cache::is_fresh(e, ctx.now(), None));
    if entry.is_some() {
        tracing::debug!("cache hit (hot index)");
    }
    Ok(entry)
}

/// `rolegate credential-process PROFILE`, exactly those words (the form Terraform and the SDKs
/// run), answered from the hot index before the command-line parser is built: building clap's
/// definition of every subcommand is most of a cached call's time and memory, and a hit needs
/// none of it. `true` when the credentials were printed; on anything else (a flag, a miss, an
/// error, logging asked for, a shim's name in `argv[0]`) the caller goes the ordinary way,
/// which reports errors properly. A shim (`terraform credential-process target`) runs its
/// program: the caller checks for one first, and so does this.
pub fn try_hot_path(args: &[std::ffi::OsString]) -> bool {
    let [argv0, sub, profile] = args else { return false };
    if crate::shim::invoked_as(argv0).is_some() {
        return false;
    }
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
    let fingerprint = hot_index::fingerprint(&ctx, &paths, profile, &hot_flags(None));
    match hot_hit(&ctx, &cache, fingerprint.as_deref()) {
        Ok(Some(entry)) => output::write_stdout(&output::credential_process::render(&entry.credentials)).is_ok(),
        _ => false,
    }
}

/// Credentials for a profile, as every channel needs them.
pub fn credentials(
    ctx: &Context,
    cli: &Cli,
    profile: Option<&str>,
    args: &SessionOptions,
) -> Result<(crate::credentials::Credentials, plan::Plan), Error> {
    let started = Instant::now();
    let args = &args.with_env(&ctx.env);
    let profile = plan::profile_name(profile, &ctx.env);
    base_credentials::check_recursion(ctx, &profile)?;
    let paths = ConfigPaths::locate(ctx)?;
    let profiles = {
        let _span = tracing::debug_span!("config_load").entered();
        Profiles::load(&paths)?
    };
    let plan =
        plan::plan(&profiles, &profile, &ctx.env, &PlanOptions { mfa_session_seconds: args.mfa_session_duration })?;
    tracing::debug!(chain = %plan.chain.describe(), strategy = ?plan.strategy, reason = ?plan.reason, endpoint = %plan.endpoint.url, key = %plan.result_key.digest, "plan");

    let cache = Cache::new(cache_dir(ctx, cli)?);
    let exists = cache.check_dir(false)?;
    if exists
        && !args.refresh_mfa
        && let Some(c) = provider::cached(ctx, &plan, &cache)
    {
        tracing::debug!("cache hit");
        return Ok((c, plan));
    }

    let sources = mfa::Sources {
        flag_code: args.mfa_token.clone(),
        process: args.mfa_process.clone().or_else(|| plan.setting(&profiles, KEY_MFA_PROCESS).map(str::to_string)),
        ykman_account: args
            .ykman_account
            .clone()
            .or_else(|| plan.setting(&profiles, KEY_YKMAN_ACCOUNT).map(str::to_string)),
    };
    let mut code_source = mfa::select(&sources, &ctx.env, &plan.chain.profile)?;
    let file_of = |p: &str| profiles.origin(p).map_or_else(|| profiles.describe_files(), |f| f.display().to_string());
    let mut opts = provider::Options {
        code_source: code_source.as_mut(),
        refresh: args.refresh_mfa,
        deadline: started + Duration::from_secs(args.prompt_timeout_seconds()) + DEADLINE_MARGIN,
        prompt_timeout_seconds: args.prompt_timeout_seconds(),
        min_remaining_seconds: crate::cache::MIN_REMAINING_SECONDS,
        file_of: &file_of,
    };
    let credentials = provider::credentials(ctx, &plan, &cache, &mut opts)?;
    Ok((credentials, plan))
}

pub fn cache_dir(ctx: &Context, cli: &Cli) -> Result<std::path::PathBuf, Error> {
    cli.cache_dir.clone().or_else(|| ctx.default_cache_dir()).ok_or_else(|| CacheError::NoDir.into())
}

/// `rolegate export [PROFILE]`
pub fn export(ctx: &Context, cli: &Cli, args: &crate::cli::ExportArgs) -> Result<(), Error> {
    use std::io::IsTerminal;
    if !args.force && std::io::stdout().is_terminal() {
        return Err(Error::ExportToTerminal { profile: plan::profile_name(args.profile.as_deref(), &ctx.env) });
    }
    let (credentials, plan) = credentials(ctx, cli, args.profile.as_deref(), &args.session)?;
    let changes = output::env::child_env(&credentials, Some(&plan.region), &plan.chain.profile);
    let mut text = output::export::render(args.format, &changes);
    let result = output::write_stdout(&text).map_err(Error::Stdout);
    zeroize::Zeroize::zeroize(&mut text);
    result
}

/// `rolegate list`
pub fn list(ctx: &Context, cli: &Cli) -> Result<(), Error> {
    let paths = ConfigPaths::locate(ctx)?;
    let profiles = Profiles::load(&paths)?;
    let mut rows = Vec::new();
    for name in profiles.profiles.keys() {
        if let Ok(plan) = plan::plan(&profiles, name, &ctx.env, &PlanOptions::default())
            && plan.strategy != plan::MfaStrategy::None
            && plan.chain.profile == *name
        {
            rows.push(output::list::ProfileRow {
                profile: name.clone(),
                target: plan.chain.hops.last().map_or_else(|| "MFA session".to_string(), |h| h.role_arn.clone()),
                chain: plan.chain.describe(),
                strategy: format!("{:?}", plan.strategy).to_lowercase(),
                serial: plan.chain.mfa_serial().unwrap_or_default().to_string(),
            });
        }
    }
    let cache = Cache::new(cache_dir(ctx, cli)?);
    let entries: Vec<_> = if cache.check_dir(false)? { cache.entries() } else { Vec::new() };
    let text = output::list::render(&paths.config, &rows, cache.dir(), &entries, ctx.now());
    output::write_stdout(&text).map_err(Error::Stdout)
}

/// `rolegate clear PROFILE | --all`
pub fn clear(ctx: &Context, cli: &Cli, args: &crate::cli::ClearArgs) -> Result<(), Error> {
    let cache = Cache::new(cache_dir(ctx, cli)?);
    if !cache.check_dir(false)? {
        return output::write_stdout("nothing cached\n").map_err(Error::Stdout);
    }
    // Each removal waits for a refresh in progress on that key, then removes what it stored.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut removed = 0;
    match &args.profile {
        Some(profile) => {
            let paths = ConfigPaths::locate(ctx)?;
            let profiles = Profiles::load(&paths)?;
            let plan = plan::plan(&profiles, profile, &ctx.env, &PlanOptions::default())?;
            for key in std::iter::once(&plan.result_key).chain(plan.mfa_session_key.as_ref()) {
                removed += usize::from(cache.remove_entry(&key.digest, deadline)?);
            }
        }
        None => {
            for (path, _) in cache.entries() {
                if let Some(digest) = path.file_stem().and_then(|s| s.to_str()) {
                    removed += usize::from(cache.remove_entry(digest, deadline)?);
                }
            }
            cache.remove_derived()?;
            crate::generated_config::remove(&crate::generated_config::dir(&ctx.env, cache.dir()))?;
        }
    }
    output::write_stdout(&format!("removed {removed} cached session{}\n", if removed == 1 { "" } else { "s" }))
        .map_err(Error::Stdout)
}

/// `rolegate completions SHELL`
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut command, "rolegate", &mut buf);
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}

/// `rolegate man`
pub fn man() -> Result<(), Error> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(command).render(&mut buf).map_err(Error::Stdout)?;
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}
