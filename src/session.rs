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
use crate::cli::{DEFAULT_PROMPT_TIMEOUT_SECONDS, SessionOptions};
use crate::config::resolve::{KEY_AWS_VAULT_MFA_PROCESS, KEY_MFA_PROCESS, KEY_YKMAN_ACCOUNT};
use crate::config::{ConfigPaths, Profiles};
use crate::context::Context;
use crate::context::Env;
use crate::credentials::Credentials;
use crate::env_vars;
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
        let options = &options.with_env(&self.ctx.env);
        let requested = plan::profile_name(profile, &self.ctx.env);
        base_credentials::check_recursion(&self.ctx, &requested)?;
        let plan = plan::plan(
            &self.profiles,
            &requested,
            &self.ctx.env,
            &PlanOptions {
                mfa_session_seconds: options.mfa_session_duration,
                region: options.region.clone(),
                duration_seconds: options.duration,
            },
        )?;
        tracing::debug!(chain = %plan.chain.describe(), strategy = ?plan.strategy, reason = ?plan.reason, endpoint = %plan.endpoint.url, key = %plan.result_key.digest, "plan");
        let setting = |key| plan.setting(&self.profiles, key).map(str::to_string);
        // aws-vault's `mfa_process` only when no `rolegate_mfa_process` (mfa::select's order).
        let (process, process_key) = match options.mfa_process.clone().or_else(|| setting(KEY_MFA_PROCESS)) {
            Some(line) => (Some(line), None),
            None => (setting(KEY_AWS_VAULT_MFA_PROCESS), Some(KEY_AWS_VAULT_MFA_PROCESS)),
        };
        let codes = mfa::Sources {
            flag_code: options.mfa_token.clone(),
            process,
            process_key,
            ykman_account: options.ykman_account.clone().or_else(|| setting(KEY_YKMAN_ACCOUNT)),
        };
        Ok(Target {
            plan,
            requested,
            refresh: options.refresh_mfa,
            codes,
            prompt_timeout_seconds: options.prompt_timeout_seconds(),
            deadline: started + Duration::from_secs(options.prompt_timeout_seconds()) + DEADLINE_MARGIN,
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
            base: &base_credentials::Configured { terminal: true },
            sts: &sts,
            refresh: target.refresh,
            deadline: target.deadline,
            prompt_timeout_seconds: target.prompt_timeout_seconds,
            min_remaining_seconds: 0,
            file_of: &file_of,
        };
        Ok(provider::credentials(&self.ctx, &target.plan, &self.cache, &mut opts)?)
    }

    /// What keeps the local endpoint's credentials fresh: the provider, from the cached MFA
    /// session, never asking for a code. It owns copies of what it needs (the plan, the cache's
    /// place, the files that define the chain's profiles), not the configuration.
    pub fn renewer(&self, target: &Target) -> provider::Renewer {
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
            prompt_timeout_seconds: target.prompt_timeout_seconds,
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

/// The flags' environment twins, read where an empty variable is unset (not by clap).
impl SessionOptions {
    /// The options with the environment's twins filled in where no flag was given:
    /// `ROLEGATE_MFA_PROCESS`, `ROLEGATE_YKMAN_ACCOUNT`, `ROLEGATE_PROMPT_TIMEOUT`. An empty
    /// variable is unset. A variable never overrides a flag of the same family: with
    /// `--mfa-token` neither program variable applies, with `--ykman-account` the MFA-process
    /// variable does not, and the other way round. A `ROLEGATE_PROMPT_TIMEOUT` that is not a
    /// number of seconds from 1 to 3600 is ignored with a warning (the default then applies).
    pub fn with_env(&self, env: &Env) -> SessionOptions {
        let mut out = self.clone();
        let code_flag = self.mfa_token.is_some();
        if out.mfa_process.is_none() && !code_flag && self.ykman_account.is_none() {
            out.mfa_process = env.get(env_vars::ROLEGATE_MFA_PROCESS).map(str::to_string);
        }
        if out.ykman_account.is_none() && !code_flag && self.mfa_process.is_none() {
            out.ykman_account = env.get(env_vars::ROLEGATE_YKMAN_ACCOUNT).map(str::to_string);
        }
        if out.prompt_timeout.is_none()
            && let Some(raw) = env.get(env_vars::ROLEGATE_PROMPT_TIMEOUT)
        {
            match raw.trim().parse::<u64>() {
                Ok(s) if crate::cli::PROMPT_TIMEOUT_RANGE.contains(&s) => out.prompt_timeout = Some(s),
                _ => {
                    // Once per process, however many channels resolve the options.
                    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
                    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        crate::diag::warn(&format!(
                            "ignoring ROLEGATE_PROMPT_TIMEOUT={raw:?}: not a number of seconds from 1 to 3600; waiting {} s",
                            DEFAULT_PROMPT_TIMEOUT_SECONDS
                        ));
                    }
                }
            }
        }
        out
    }

    /// Seconds to wait at the prompt: the flag, else (after [`SessionOptions::with_env`]) the
    /// variable, else the default.
    pub fn prompt_timeout_seconds(&self) -> u64 {
        self.prompt_timeout.unwrap_or(DEFAULT_PROMPT_TIMEOUT_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn session(args: &[&str]) -> SessionOptions {
        let mut argv = vec!["rolegate", "credential-process", "p"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::CredentialProcess(a) => a.session,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_variables_fill_in_what_no_flag_gave() {
        let env = Env::from_pairs([
            ("ROLEGATE_MFA_PROCESS", "pass otp aws"),
            ("ROLEGATE_YKMAN_ACCOUNT", "aws"),
            ("ROLEGATE_PROMPT_TIMEOUT", "45"),
        ]);
        let s = session(&[]).with_env(&env);
        assert_eq!(
            (s.mfa_process.as_deref(), s.ykman_account.as_deref(), s.prompt_timeout_seconds()),
            (Some("pass otp aws"), Some("aws"), 45)
        );
        // Flags win, also over the other variable of their family.
        let s = session(&["--prompt-timeout", "5", "--ykman-account", "yk"]).with_env(&env);
        assert_eq!(
            (s.mfa_process.as_deref(), s.ykman_account.as_deref(), s.prompt_timeout_seconds()),
            (None, Some("yk"), 5)
        );
        let s = session(&["--mfa-token", "123456"]).with_env(&env);
        assert_eq!((s.mfa_process, s.ykman_account), (None, None));
    }

    #[test]
    fn an_empty_or_bad_variable_is_unset() {
        let empty = Env::from_pairs([
            ("ROLEGATE_MFA_PROCESS", ""),
            ("ROLEGATE_YKMAN_ACCOUNT", ""),
            ("ROLEGATE_PROMPT_TIMEOUT", ""),
        ]);
        let s = session(&[]).with_env(&empty);
        assert_eq!(
            (s.mfa_process.as_deref(), s.ykman_account.as_deref(), s.prompt_timeout_seconds()),
            (None, None, 30)
        );
        for bad in ["0", "3601", "soon", "-1"] {
            let s = session(&[]).with_env(&Env::from_pairs([("ROLEGATE_PROMPT_TIMEOUT", bad)]));
            assert_eq!(s.prompt_timeout_seconds(), DEFAULT_PROMPT_TIMEOUT_SECONDS, "{bad}");
        }
    }
}
