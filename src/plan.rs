//! What the user asked for, resolved into a [`Plan`]: the profile chain, the MFA strategy, the
//! durations, the STS endpoint and the cache keys. Pure: no network, no prompt, no cache access;
//! everything it knows comes from the [`Profiles`], the [`Env`] and the flags.
//!
//! ## The MFA strategy
//! - [`MfaStrategy::Session`] (default): one MFA session per (base keys, MFA device) from
//!   `GetSessionToken` with the code, cached for `mfa_session_seconds` (12 h by default) and
//!   shared by every role that uses the same keys and device; each role is then assumed from it
//!   without a prompt. AWS caps roles assumed with session credentials at 1 h ("role
//!   chaining"), so they are re-assumed, silently, as they expire.
//! - [`MfaStrategy::Direct`]: `AssumeRole` carries the code itself. Chosen when the role asks
//!   for more than 1 h (`duration_seconds > 3600`), when MFA sits on a later hop of the chain,
//!   when the base credentials are already temporary (GetSessionToken needs long-term keys), or
//!   by `rolegate_mfa_strategy = direct`. Each such role needs its own code when it expires;
//!   rolegate says so on the terminal when it asks.

use crate::cache::CacheKey;
use crate::config::resolve::{self, Base, Chain, KEY_MFA_SESSION_DURATION, KEY_MFA_STRATEGY};
use crate::config::{Profiles, Properties};
use crate::context::Env;
use crate::env_vars;
use crate::sts::endpoint::{self, Endpoint, EndpointError, EndpointParams};

/// Default lifetime of an MFA session (GetSessionToken's own default): 12 h.
pub const DEFAULT_MFA_SESSION_SECONDS: u32 = 43_200;
/// Default role lifetime (AssumeRole's default), and the cap for roles assumed from a session.
pub const ROLE_CHAINING_MAX_SECONDS: u32 = 3_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaStrategy {
    /// No MFA in the chain: roles are assumed silently.
    None,
    /// An MFA session from GetSessionToken, shared, then roles assumed from it.
    Session,
    /// The code goes on the AssumeRole call of the MFA hop.
    Direct,
}

/// Why the strategy was chosen, for the notice at the prompt and for `-v`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrategyReason {
    NoMfa,
    Default,
    Configured,
    LongRole { profile: String, seconds: u32 },
    LaterHop { profile: String },
    TemporaryBase,
}

/// Where a planned value came from: what `doctor` reports, instead of working it out again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
    /// `key` in `profile`'s section (its file and line are in the profiles' source map).
    Setting { profile: String, key: &'static str },
    /// The `sts` `endpoint_url` of the `[services NAME]` section that `profile` names.
    Services { profile: String, name: String },
    /// The built-in default.
    Default,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub chain: Chain,
    pub strategy: MfaStrategy,
    pub reason: StrategyReason,
    pub mfa_session_seconds: u32,
    pub mfa_session_source: Source,
    pub region: String,
    pub region_source: Source,
    pub endpoint: Endpoint,
    /// Where the endpoint URL was configured; [`Source::Default`] for the rules' own endpoint.
    pub endpoint_source: Source,
    /// The key of the final credentials.
    pub result_key: CacheKey,
    /// The key of the shared MFA session, with [`MfaStrategy::Session`].
    pub mfa_session_key: Option<CacheKey>,
}

impl Plan {
    /// Duration asked of the role at `index`: its `duration_seconds`, else 1 h.
    pub fn role_seconds(&self, index: usize) -> u32 {
        self.chain.hops[index].duration_seconds.unwrap_or(ROLE_CHAINING_MAX_SECONDS)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Resolve(#[from] resolve::ResolveError),
    #[error("profile `{profile}`: no STS endpoint: {source}")]
    Endpoint {
        profile: String,
        #[source]
        source: EndpointError,
    },
    #[error(
        "profile `{profile}` ({file}) has no role_arn and no mfa_serial: rolegate has nothing to add to its credentials"
    )]
    NothingToDo { profile: String, file: String },
    #[error("profile `{profile}` ({file}): {KEY_MFA_STRATEGY} `{value}` is not valid (expected `session` or `direct`)")]
    BadStrategy { profile: String, file: String, value: String },
    #[error(
        "profile `{profile}` ({file}): {KEY_MFA_SESSION_DURATION} `{value}` is not valid (expected whole seconds from 900 to 129600)"
    )]
    BadSessionDuration { profile: String, file: String, value: String },
    #[error("profile `{profile}` ({file}): {KEY_MFA_STRATEGY} = session cannot work here: {why}")]
    SessionImpossible { profile: String, file: String, why: &'static str },
}

impl PlanError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::Resolve(e) => e.hint(),
            PlanError::Endpoint { .. } => {
                Some("set `region` in the profile, or AWS_REGION; or AWS_ENDPOINT_URL_STS for a custom endpoint".into())
            }
            PlanError::NothingToDo { profile, .. } => Some(format!(
                "use the profile directly (AWS_PROFILE={profile}); rolegate is for profiles with role_arn and/or mfa_serial"
            )),
            PlanError::BadStrategy { .. } => Some(format!(
                "write `{KEY_MFA_STRATEGY} = session` (one code a day, roles last 1 h) or `direct` (a code per role, roles may last longer)"
            )),
            PlanError::BadSessionDuration { .. } => {
                Some(format!("for example `{KEY_MFA_SESSION_DURATION} = 43200` (12 h)"))
            }
            PlanError::SessionImpossible { .. } => Some(format!("remove `{KEY_MFA_STRATEGY}` or set it to `direct`")),
        }
    }
}

/// Flags that change the plan.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub mfa_session_seconds: Option<u32>,
}

/// The profile to use: the argument, else `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
pub fn profile_name(arg: Option<&str>, env: &Env) -> String {
    arg.filter(|p| !p.is_empty())
        .or_else(|| env.get(env_vars::AWS_PROFILE))
        .or_else(|| env.get(env_vars::AWS_DEFAULT_PROFILE))
        .unwrap_or("default")
        .to_string()
}

/// How many `credential_process = rolegate credential-process OTHER` profiles are followed.
const MAX_ALIASES: usize = 4;

pub fn plan(profiles: &Profiles, profile: &str, env: &Env, options: &PlanOptions) -> Result<Plan, PlanError> {
    // A profile that is only `credential_process = rolegate credential-process OTHER` (the
    // Terraform-facing profile) stands for OTHER: plan OTHER directly, without a second process.
    let mut profile = profile;
    let mut chain = resolve::resolve(profiles, profile)?;
    let mut seen = vec![profile];
    loop {
        let target = match (&chain.base, chain.hops.is_empty(), &chain.base_mfa_serial) {
            (Base::Process { command, .. }, true, None) => resolve::rolegate_target(command),
            _ => None,
        };
        let Some(t) = target else { break };
        let file = profiles.origin(profile).map_or_else(|| profiles.describe_files(), |p| p.display().to_string());
        if seen.contains(&t.as_str()) {
            return Err(resolve::ResolveError::SelfRecursion { profile: profile.into(), file, target: t }.into());
        }
        let Some((name, _)) = profiles.profiles.get_key_value(&t) else {
            return Err(resolve::ResolveError::ProfileNotFound {
                nearest: resolve::nearest_name(profiles, &t),
                profile: t,
                files: profiles.describe_files(),
            }
            .into());
        };
        if seen.len() > MAX_ALIASES {
            return Err(resolve::ResolveError::TooDeep { profile: seen[0].into(), file }.into());
        }
        tracing::debug!(alias = profile, target = %t, "profile stands for another");
        profile = name.as_str();
        seen.push(profile);
        chain = resolve::resolve(profiles, profile)?;
    }
    let no_properties = Properties::new();
    let selected = profiles.get(profile).unwrap_or(&no_properties);
    let file = profiles.origin(profile).map_or_else(|| profiles.describe_files(), |p| p.display().to_string());
    let (strategy, reason) = choose_strategy(&chain, selected, env, &file)?;
    if strategy == MfaStrategy::None && chain.hops.is_empty() {
        let file = profiles.origin_of_key(profile, "aws_access_key_id").map_or(file, |p| p.display().to_string());
        return Err(PlanError::NothingToDo { profile: profile.into(), file });
    }

    let (mfa_session_seconds, mfa_session_source) = match options.mfa_session_seconds {
        Some(s) => (s, Source::Flag("--mfa-session-duration")),
        None => match setting_from(&chain, profiles, KEY_MFA_SESSION_DURATION) {
            Some((from, v)) => {
                let seconds = resolve::parse_duration(v, 900, 129_600).ok_or_else(|| {
                    PlanError::BadSessionDuration { profile: profile.into(), file: file.clone(), value: v.into() }
                })?;
                (seconds, Source::Setting { profile: from.into(), key: KEY_MFA_SESSION_DURATION })
            }
            None => (DEFAULT_MFA_SESSION_SECONDS, Source::Default),
        },
    };

    let (region, region_source) = region_of(&chain, profiles, env);
    let configured = configured_endpoint(profile, selected, profiles, env);
    let endpoint =
        endpoint::resolve(&endpoint_params(selected, configured.as_ref().map(|c| c.0.clone()), env, &region))
            .map_err(|source| PlanError::Endpoint { profile: profile.into(), source })?;
    let endpoint_source = configured.map_or(Source::Default, |c| c.1);

    let identity = base_identity(&chain.base, env);
    // The MFA session is valid in every region of its partition: key it on the partition, or on
    // the custom endpoint when one is configured (a test or a private STS is another world).
    let sts_world = if endpoint_source != Source::Default {
        endpoint.url.clone()
    } else {
        endpoint::partition_id(&region).to_string()
    };
    let serial = chain.mfa_serial().unwrap_or_default().to_string();
    let mfa_session_key = (strategy == MfaStrategy::Session).then(|| {
        CacheKey::new(
            "mfa",
            &format!("{identity}\n{serial}\n{mfa_session_seconds}\n{sts_world}"),
            format!("MFA session of {} with {serial}", chain.base.profile()),
        )
    });
    let mut material = format!("{identity}\n{strategy:?}\n{}\n{mfa_session_seconds}", endpoint.url);
    for hop in &chain.hops {
        material.push_str(&format!(
            "\n{}|{}|{}|{}|{}",
            hop.role_arn,
            hop.external_id.as_deref().unwrap_or(""),
            hop.role_session_name.as_deref().unwrap_or(""),
            hop.duration_seconds.unwrap_or(0),
            hop.mfa_serial.as_deref().unwrap_or("")
        ));
    }
    let label = match chain.hops.last() {
        Some(hop) => format!("{} ({})", hop.role_arn, chain.describe()),
        None => format!("MFA session of {}", chain.base.profile()),
    };
    let result_key = if chain.hops.is_empty() {
        mfa_session_key.clone().unwrap_or_else(|| CacheKey::new("role", &material, label.clone()))
    } else {
        CacheKey::new("role", &material, label)
    };

    Ok(Plan {
        chain,
        strategy,
        reason,
        mfa_session_seconds,
        mfa_session_source,
        region,
        region_source,
        endpoint,
        endpoint_source,
        result_key,
        mfa_session_key,
    })
}

/// The region of a chain: `AWS_REGION`, `AWS_DEFAULT_REGION`, the chain's `region`, else us-east-1.
fn region_of(chain: &Chain, profiles: &Profiles, env: &Env) -> (String, Source) {
    if let Some(r) = env.get(env_vars::AWS_REGION) {
        (r.to_string(), Source::Env(env_vars::AWS_REGION))
    } else if let Some(r) = env.get(env_vars::AWS_DEFAULT_REGION) {
        (r.to_string(), Source::Env(env_vars::AWS_DEFAULT_REGION))
    } else if let Some((from, r)) = setting_from(chain, profiles, "region") {
        (r.to_string(), Source::Setting { profile: from.into(), key: "region" })
    } else {
        ("us-east-1".to_string(), Source::Default)
    }
}

/// The region and STS endpoint of `profile`'s calls, as [`plan`] chooses them, for a call made
/// outside a plan (`rotate`'s GetCallerIdentity on a profile that needs no MFA).
pub fn region_and_endpoint(profiles: &Profiles, profile: &str, env: &Env) -> Result<(String, Endpoint), PlanError> {
    let chain = resolve::resolve(profiles, profile)?;
    let no_properties = Properties::new();
    let selected = profiles.get(profile).unwrap_or(&no_properties);
    let (region, _) = region_of(&chain, profiles, env);
    let configured = configured_endpoint(profile, selected, profiles, env);
    let endpoint = endpoint::resolve(&endpoint_params(selected, configured.map(|c| c.0), env, &region))
        .map_err(|source| PlanError::Endpoint { profile: profile.into(), source })?;
    Ok((region, endpoint))
}

fn choose_strategy(
    chain: &Chain,
    selected: &Properties,
    env: &Env,
    file: &str,
) -> Result<(MfaStrategy, StrategyReason), PlanError> {
    let profile = chain.profile.clone();
    let file = file.to_string();
    let Some(_) = chain.mfa_serial() else { return Ok((MfaStrategy::None, StrategyReason::NoMfa)) };
    let configured = match selected.get(KEY_MFA_STRATEGY).map(String::as_str) {
        None => None,
        Some("session") => Some(MfaStrategy::Session),
        Some("direct") => Some(MfaStrategy::Direct),
        Some(other) => return Err(PlanError::BadStrategy { profile, file, value: other.into() }),
    };
    let temporary_base = match &chain.base {
        Base::StaticKeys { session_token, .. } => session_token.is_some(),
        Base::Environment { .. } => env.get(env_vars::AWS_SESSION_TOKEN).is_some(),
        Base::Process { .. } | Base::Stored { .. } => false,
    };
    let mfa_hop = chain.mfa_hop();
    // What forces Direct, if anything.
    let forced: Option<(StrategyReason, &'static str)> = if temporary_base {
        Some((
            StrategyReason::TemporaryBase,
            "the base credentials are temporary (they have a session token) and GetSessionToken needs long-term keys",
        ))
    } else if let Some(i) = mfa_hop.filter(|i| *i > 0) {
        Some((
            StrategyReason::LaterHop { profile: chain.hops[i].profile.clone() },
            "mfa_serial is on a role assumed with another role's credentials",
        ))
    } else {
        None
    };
    if chain.hops.is_empty() {
        // Keys + mfa_serial and no role: the MFA session is the result.
        return match forced {
            Some((_, why)) => Err(PlanError::SessionImpossible { profile, file, why }),
            None => Ok((MfaStrategy::Session, StrategyReason::Default)),
        };
    }
    match (configured, forced) {
        (Some(MfaStrategy::Session), Some((_, why))) => Err(PlanError::SessionImpossible { profile, file, why }),
        (_, Some((reason, _))) => Ok((MfaStrategy::Direct, reason)),
        (Some(s), None) => Ok((s, StrategyReason::Configured)),
        (None, None) => {
            let first = &chain.hops[0];
            match first.duration_seconds.filter(|d| *d > ROLE_CHAINING_MAX_SECONDS) {
                Some(seconds) => {
                    Ok((MfaStrategy::Direct, StrategyReason::LongRole { profile: first.profile.clone(), seconds }))
                }
                None => Ok((MfaStrategy::Session, StrategyReason::Default)),
            }
        }
    }
}

impl Plan {
    /// A setting from the requested profile, else from the chain's profiles in order.
    pub fn setting<'a>(&self, profiles: &'a Profiles, key: &str) -> Option<&'a str> {
        setting(&self.chain, profiles, key)
    }
}

/// A setting from the requested profile, else from the chain's profiles in order.
fn setting<'a>(chain: &Chain, profiles: &'a Profiles, key: &str) -> Option<&'a str> {
    setting_from(chain, profiles, key).map(|(_, value)| value)
}

/// [`setting`], with the profile that sets it.
fn setting_from<'a, 'c>(chain: &'c Chain, profiles: &'a Profiles, key: &str) -> Option<(&'c str, &'a str)> {
    std::iter::once(chain.profile.as_str())
        .chain(chain.hops.iter().rev().map(|h| h.profile.as_str()))
        .chain(std::iter::once(chain.base.profile()))
        .find_map(|p| profiles.get(p).and_then(|props| props.get(key)).map(|v| (p, v.as_str())))
}

fn ignore_configured(selected: &Properties, env: &Env) -> bool {
    env.flag(env_vars::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)
        .or_else(|| selected.get("ignore_configured_endpoint_urls").map(|v| v.eq_ignore_ascii_case("true")))
        .unwrap_or(false)
}

/// The configured endpoint URL of `profile` (with `selected`, its settings), in the SDKs' order,
/// and where it was configured.
fn configured_endpoint(
    profile: &str,
    selected: &Properties,
    profiles: &Profiles,
    env: &Env,
) -> Option<(String, Source)> {
    if ignore_configured(selected, env) {
        return None;
    }
    for var in [env_vars::AWS_ENDPOINT_URL_STS, env_vars::AWS_ENDPOINT_URL] {
        if let Some(url) = env.get(var) {
            return Some((url.to_string(), Source::Env(var)));
        }
    }
    if let Some(name) = selected.get("services")
        && let Some(url) = profiles.sts_service_endpoints.get(name)
    {
        return Some((url.clone(), Source::Services { profile: profile.into(), name: name.clone() }));
    }
    selected
        .get("endpoint_url")
        .map(|url| (url.clone(), Source::Setting { profile: profile.into(), key: "endpoint_url" }))
}

fn endpoint_params(selected: &Properties, configured: Option<String>, env: &Env, region: &str) -> EndpointParams {
    let profile_flag = |key: &str| selected.get(key).map(|v| v.eq_ignore_ascii_case("true"));
    EndpointParams {
        region: Some(region.to_string()),
        use_fips: env
            .flag(env_vars::AWS_USE_FIPS_ENDPOINT)
            .or_else(|| profile_flag("use_fips_endpoint"))
            .unwrap_or(false),
        use_dual_stack: env
            .flag(env_vars::AWS_USE_DUALSTACK_ENDPOINT)
            .or_else(|| profile_flag("use_dualstack_endpoint"))
            .unwrap_or(false),
        use_global_endpoint: env
            .get(env_vars::AWS_STS_REGIONAL_ENDPOINTS)
            .or_else(|| selected.get("sts_regional_endpoints").map(String::as_str))
            .is_some_and(|v| v.eq_ignore_ascii_case("legacy")),
        endpoint: configured,
    }
}

/// Who the base credentials belong to, without fetching them: the access key id, or where
/// they come from. Part of every cache key.
fn base_identity(base: &Base, env: &Env) -> String {
    match base {
        // Stored keys are the same keys as in the files: moving them into a store (`import`)
        // keeps the cached sessions.
        Base::StaticKeys { access_key_id, .. } | Base::Stored { access_key_id, .. } => format!("keys:{access_key_id}"),
        Base::Environment { .. } => format!("env:{}", env.get(env_vars::AWS_ACCESS_KEY_ID).unwrap_or("")),
        Base::Process { profile, command } => format!("process:{profile}:{command}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigPaths;

    /// Planning is pure: once the files are parsed, a plan (and every file its errors name)
    /// comes from memory, however large the configuration. Here the files are gone before the
    /// plans are made.
    #[test]
    fn plans_read_no_file_in_a_large_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let paths = ConfigPaths { config: dir.path().join("config"), credentials: dir.path().join("credentials") };
        let mut config = String::from("[profile base]\nregion = us-west-2\n[profile broken]\nrole_arn = x\n");
        for i in 0..10_000 {
            config.push_str(&format!(
                "[profile role{i}]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/r{i}\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n"
            ));
        }
        std::fs::write(&paths.config, &config).unwrap();
        std::fs::write(&paths.credentials, "[base]\naws_access_key_id = AKID\naws_secret_access_key = s\n").unwrap();
        let profiles = Profiles::load(&paths).unwrap();
        drop(dir);
        assert!(!paths.config.exists());

        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let role = plan(&profiles, "role9999", &env, &PlanOptions::default()).unwrap();
        assert_eq!(role.chain.describe(), "role9999 -> base");
        assert_eq!(role.strategy, MfaStrategy::Session);
        let config_file = paths.config.display().to_string();
        match plan(&profiles, "broken", &env, &PlanOptions::default()) {
            Err(PlanError::Resolve(resolve::ResolveError::BadValue { file, .. })) => assert_eq!(file, config_file),
            other => panic!("{other:?}"),
        }
        // The keys are in the credentials file: that is the file named.
        match plan(&profiles, "base", &env, &PlanOptions::default()) {
            Err(PlanError::NothingToDo { file, .. }) => assert_eq!(file, paths.credentials.display().to_string()),
            other => panic!("{other:?}"),
        }
        assert_eq!(profiles.sources().profile("role9999").map(|at| at.line), Some(5 + 4 * 9999));
    }
}
