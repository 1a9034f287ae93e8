//! The [`Session`]: everything one command needs, found and parsed once.
//!
//! A command that works on AWS profiles builds one `Session` (the located config files, every
//! profile parsed once with the origin of each value, the cache), and, when it works on one
//! profile, one [`Target`] from it: the requested profile's plan (pure: no file access), where
//! its MFA codes come from, and the deadline that bounds every wait of the call. Every channel
//! (credential-process, exec, the local endpoint, export, login, list, clear) takes these two
//! values (the endpoint through the provider's renewer); none of them locates, reads or parses the configuration itself.
//!
//! ```text
//! Context ──> Session::load ──> { paths, profiles (+ source map), cache }
//!                 └──> Session::target(profile, flags) ──> Target { plan, codes, deadline }
//!                           └──> Session::credentials(target) ──> provider ──> Credentials
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::base_credentials;
use crate::cache::{Cache, CacheError};
use crate::cli::SessionOptions;
use crate::config::resolve::{KEY_MFA_PROCESS, KEY_YKMAN_ACCOUNT};
use crate::config::{ConfigPaths, Profiles};
use crate::context::Context;
use crate::credentials::Credentials;
use crate::error::Error;
use crate::mfa;
use crate::plan::{self, Plan, PlanOptions};
use crate::provider;
use crate::sts::LazyClient;

/// Margin on top of the prompt time for the lock wait and the STS calls (10 s each at most).
const DEADLINE_MARGIN: Duration = Duration::from_secs(25);

/// The located files, the parsed profiles and the cache of one command.
pub struct Session {
    pub ctx: Context,
    pub paths: ConfigPaths,
    pub profiles: Profiles,
    pub cache: Cache,
}

/// The one profile a command works on, resolved.
pub struct Target {
    /// The plan of the profile (after following `credential_process = rolegate ...` aliases).
    pub plan: Plan,
    /// The name as the user gave it (or `AWS_PROFILE`, ...), before aliases were followed.
    pub requested: String,
    /// Ignore cached sessions (`--refresh-mfa`).
    pub refresh: bool,
    /// Where MFA codes may come from: flags, environment and profile keys merged.
    pub codes: mfa::Sources,
    pub prompt_timeout_seconds: u64,
    /// Bound on every wait of the call: the lock, the prompt, a base `credential_process`.
    pub deadline: Instant,
}

impl Session {
    /// Locates and parses the configuration files, and picks the cache directory (`--cache-dir`,
    /// else the context's default). Nothing is created.
    pub fn load(ctx: Context, cache_dir: Option<&Path>) -> Result<Session, Error> {
        let cache = Cache::new(cache_dir_of(&ctx, cache_dir)?);
        let paths = ConfigPaths::locate(&ctx)?;
        let profiles = {
            let _span = tracing::debug_span!("config_load").entered();
            Profiles::load(&paths)?
        };
        Ok(Session { ctx, paths, profiles, cache })
    }

    /// The plan of `profile` (else `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, `default`) and how its
    /// codes are asked for; the call's deadline starts now.
    pub fn target(&self, profile: Option<&str>, options: &SessionOptions) -> Result<Target, Error> {
        let started = Instant::now();
        let requested = plan::profile_name(profile, &self.ctx.env);
        base_credentials::check_recursion(&self.ctx, &requested)?;
        let plan = plan::plan(
            &self.profiles,
            &requested,
            &self.ctx.env,
            &PlanOptions { mfa_session_seconds: options.mfa_session_duration },
        )?;
        tracing::debug!(chain = %plan.chain.describe(), strategy = ?plan.strategy, reason = ?plan.reason, endpoint = %plan.endpoint.url, key = %plan.result_key.digest, "plan");
        let setting = |key| plan.setting(&self.profiles, key).map(str::to_string);
        let codes = mfa::Sources {
            flag_code: options.mfa_token.clone(),
            process: options.mfa_process.clone().or_else(|| setting(KEY_MFA_PROCESS)),
            ykman_account: options.ykman_account.clone().or_else(|| setting(KEY_YKMAN_ACCOUNT)),
        };
        Ok(Target {
            plan,
            requested,
            refresh: options.refresh_mfa,
            codes,
            prompt_timeout_seconds: options.prompt_timeout,
            deadline: started + Duration::from_secs(options.prompt_timeout) + DEADLINE_MARGIN,
        })
    }

    /// Credentials for `target`: a fresh cached result, else the provider's work (which may ask
    /// for a code).
    pub fn credentials(&self, target: &Target) -> Result<Credentials, Error> {
        let exists = self.cache.check_dir(false)?;
        if exists
            && !target.refresh
            && let Some(c) = provider::cached(&self.ctx, &target.plan, &self.cache)
        {
            tracing::debug!("cache hit");
            return Ok(c);
        }
        let mut code_source = mfa::select(&target.codes, &self.ctx.env, &target.plan.chain.profile)?;
        let file_of = |p: &str| self.file_of(p);
        let sts = LazyClient::new(&self.ctx, target.plan.endpoint.clone(), target.deadline);
        let mut opts = provider::Options {
            code_source: code_source.as_mut(),
            base: &base_credentials::Configured,
            sts: &sts,
            refresh: target.refresh,
            deadline: target.deadline,
            prompt_timeout_seconds: target.prompt_timeout_seconds,
            min_remaining_seconds: crate::cache::MIN_REMAINING_SECONDS,
            file_of: &file_of,
        };
        Ok(provider::credentials(&self.ctx, &target.plan, &self.cache, &mut opts)?)
    }

    /// What keeps the local endpoint's credentials fresh: the provider, from the cached MFA
    /// session, never asking for a code. It owns copies of what it needs (the plan, the cache's
    /// place, the files that define the chain's profiles), not the configuration.
    pub fn renewer(&self, target: &Target, prompt_timeout_seconds: u64) -> provider::Renewer {
        let chain = &target.plan.chain;
        let names = std::iter::once(chain.profile.as_str())
            .chain(chain.hops.iter().map(|h| h.profile.as_str()))
            .chain(std::iter::once(chain.base.profile()));
        provider::Renewer {
            ctx: self.ctx.clone(),
            plan: target.plan.clone(),
            cache: Cache::new(self.cache.dir().to_path_buf()),
            files: names.map(|p| (p.to_string(), self.file_of(p))).collect(),
            other_files: self.profiles.describe_files(),
            prompt_timeout_seconds,
        }
    }

    /// The file that defines `profile`, for messages.
    pub fn file_of(&self, profile: &str) -> String {
        self.profiles.origin(profile).map_or_else(|| self.profiles.describe_files(), |f| f.display().to_string())
    }
}

/// The cache of a command that needs no configuration (`clear --all`).
pub fn cache(ctx: &Context, cache_dir: Option<&Path>) -> Result<Cache, Error> {
    Ok(Cache::new(cache_dir_of(ctx, cache_dir)?))
}

/// `--cache-dir`, else `$ROLEGATE_CACHE_DIR`, `$XDG_CACHE_HOME/rolegate`, `~/.cache/rolegate`.
fn cache_dir_of(ctx: &Context, flag: Option<&Path>) -> Result<PathBuf, CacheError> {
    flag.map(Path::to_path_buf).or_else(|| ctx.default_cache_dir()).ok_or(CacheError::NoDir)
}
