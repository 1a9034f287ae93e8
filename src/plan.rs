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
    /// Where the last role's duration came from: `--duration` ([`Source::Flag`]), else its
    /// `duration_seconds` or the default.
    pub duration_source: Source,
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
    /// `--duration` out of what the strategy allows (checked before any prompt).
    #[error("profile `{profile}` ({file}): --duration {} ({seconds} s) is out of range: {why}", describe_duration(*seconds))]
    BadDurationFlag { profile: String, file: String, seconds: u32, why: String, max: u32 },
    #[error(
        "profile `{profile}` ({file}) has no role, so its credentials are the MFA session: --duration and --mfa-session-duration both give its lifetime"
    )]
    DurationConflict { profile: String, file: String },
    #[error(transparent)]
    PartitionMismatch(Box<PartitionMismatch>),
}

/// A role or MFA device of another partition than the region's STS endpoint.
#[derive(Debug, thiserror::Error)]
#[error(
    "profile `{profile}` ({file}): {key} `{arn}` is in partition {arn_partition}, but region `{region}` ({region_from}) is in partition {region_partition}: its STS endpoint does not know that {what}"
)]
pub struct PartitionMismatch {
    /// The profile that sets `key`.
    pub profile: String,
    pub file: String,
    /// `role_arn` or `mfa_serial`.
    pub key: &'static str,
    pub arn: String,
    pub arn_partition: &'static str,
    pub region: String,
    /// Where the region comes from, in words.
    pub region_from: String,
    pub region_partition: &'static str,
    /// The profile asked for, where the region is best set.
    pub requested: String,
    pub what: &'static str,
}

impl PlanError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::Resolve(e) => e.hint(),
            PlanError::Endpoint { .. } => Some(
                "set `region` in the profile, AWS_REGION or --region; or AWS_ENDPOINT_URL_STS for a custom endpoint"
                    .into(),
            ),
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
            PlanError::PartitionMismatch(m) => {
                let PartitionMismatch { arn_partition, requested, key, region_partition, .. } = &**m;
                let example = endpoint::example_region(arn_partition).unwrap_or("REGION");
                Some(format!(
                    "use a region of partition {arn_partition}: `region = {example}` (for example) in profile `{requested}`, or AWS_REGION={example}; or, if the {key} is wrong, one of partition {region_partition} starts with `arn:{region_partition}:`"
                ))
            }
            PlanError::BadDurationFlag { max, .. } => Some(format!(
                "ask for {} or less (and at least 15m): for example `--duration {}`",
                describe_duration(*max),
                describe_duration(*max)
            )),
            PlanError::DurationConflict { .. } => Some("give one of the two".into()),
        }
    }
}

/// Flags that change the plan.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub mfa_session_seconds: Option<u32>,
    /// `--region`: the region of the STS endpoint and of the credentials' users; wins over
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` and the profile's `region`.
    pub region: Option<String>,
    /// `--duration`: the lifetime of the final credentials (the last role's `DurationSeconds`;
    /// for a profile without a role, the MFA session's), checked against what the strategy allows.
    pub duration_seconds: Option<u32>,
}

/// The longest role session AssumeRole grants (a role's maximum session duration is at most 12 h).
pub const ROLE_MAX_SECONDS: u32 = 43_200;
/// The shortest session STS grants.
pub const MIN_SECONDS: u32 = 900;
/// The longest MFA session GetSessionToken grants (36 h).
pub const MFA_SESSION_MAX_SECONDS: u32 = 129_600;

/// `--duration`'s value: whole seconds (`3600`), or hours, minutes and seconds (`1h`, `30m`,
/// `1h30m`, `90s`). The range is checked by the plan, which knows the strategy.
pub fn parse_duration_flag(value: &str) -> Result<u32, String> {
    let bad = || format!("`{value}` is not a duration: write seconds (3600) or hours and minutes (1h, 30m, 1h30m)");
    let text = value.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(seconds) = text.parse::<u32>() {
        return Ok(seconds);
    }
    let (mut total, mut number, mut units) = (0u64, String::new(), String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let scale = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        // Each unit once, largest first, each after a number.
        if number.is_empty() || units.contains(c) || units.chars().any(|u| "hms".find(u) > "hms".find(c)) {
            return Err(bad());
        }
        units.push(c);
        total += number.parse::<u64>().map_err(|_| bad())? * scale;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// `1h`, `30m`, `1h30m`, `90s`: how `--duration` values are written back.
pub fn describe_duration(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
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
    let mut duration_source = match chain.hops.last() {
        Some(hop) if hop.duration_seconds.is_some() => {
            Source::Setting { profile: hop.profile.clone(), key: "duration_seconds" }
        }
        _ => Source::Default,
    };
    // `--duration` is the last role's duration_seconds: the strategy is chosen with it.
    if let (Some(seconds), Some(last)) = (options.duration_seconds, chain.hops.last_mut()) {
        last.duration_seconds = Some(seconds);
        duration_source = Source::Flag("--duration");
    }
    let (strategy, reason) = choose_strategy(&chain, selected, env, &file)?;
    if let Some(seconds) = options.duration_seconds {
        check_duration_flag(&chain, strategy, seconds, options.mfa_session_seconds, profile, &file)?;
    }
    if strategy == MfaStrategy::None && chain.hops.is_empty() {
        let file = profiles.origin_of_key(profile, "aws_access_key_id").map_or(file, |p| p.display().to_string());
        return Err(PlanError::NothingToDo { profile: profile.into(), file });
    }

    // Without a role the MFA session is the result: `--duration` is its lifetime.
    let duration_as_session = options.duration_seconds.filter(|_| chain.hops.is_empty());
    let (mfa_session_seconds, mfa_session_source) = match (options.mfa_session_seconds, duration_as_session) {
        (Some(s), _) => (s, Source::Flag("--mfa-session-duration")),
        (None, Some(s)) => (s, Source::Flag("--duration")),
        (None, None) => match setting_from(&chain, profiles, KEY_MFA_SESSION_DURATION) {
            Some((from, v)) => {
                let seconds = resolve::parse_duration(v, 900, 129_600).ok_or_else(|| {
                    PlanError::BadSessionDuration { profile: profile.into(), file: file.clone(), value: v.into() }
                })?;
                (seconds, Source::Setting { profile: from.into(), key: KEY_MFA_SESSION_DURATION })
            }
            None => (DEFAULT_MFA_SESSION_SECONDS, Source::Default),
        },
    };

    let (region, region_source) = region_of(&chain, profiles, env, options.region.as_deref());
    let configured = configured_endpoint(profile, selected, profiles, env);
    let endpoint =
        endpoint::resolve(&endpoint_params(selected, configured.as_ref().map(|c| c.0.clone()), env, &region))
            .map_err(|source| PlanError::Endpoint { profile: profile.into(), source })?;
    let endpoint_source = configured.map_or(Source::Default, |c| c.1);
    // A custom endpoint (a test, a private STS, a proxy) is trusted to know its roles.
    if endpoint_source == Source::Default {
        check_partition(profiles, &chain, &region, &region_source)?;
    }

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
        // Source identity and session tags change what the role's credentials may do.
        if !hop.attributes.is_empty() {
            material.push_str(&format!("|{}", hop.attributes.key_material()));
        }
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
        duration_source,
        result_key,
        mfa_session_key,
    })
}

/// The roles and the MFA device of the chain must be in the partition of the region's STS
/// endpoint: another partition's STS refuses them, and only after the MFA code was spent.
fn check_partition(profiles: &Profiles, chain: &Chain, region: &str, region_source: &Source) -> Result<(), PlanError> {
    let region_partition = endpoint::partition_id(region);
    let serial_owner = || {
        chain
            .hops
            .iter()
            .map(|h| h.profile.as_str())
            .chain(std::iter::once(chain.base.profile()))
            .find(|p| profiles.get(p).is_some_and(|props| props.contains_key("mfa_serial")))
            .unwrap_or(chain.profile.as_str())
    };
    let arns = chain
        .hops
        .iter()
        .map(|h| ("role_arn", h.role_arn.as_str(), h.profile.as_str(), "role"))
        .chain(chain.mfa_serial().map(|s| ("mfa_serial", s, serial_owner(), "MFA device")));
    for (key, arn, profile, what) in arns {
        let Some(arn_partition) = endpoint::arn_partition(arn) else { continue };
        if arn_partition == region_partition {
            continue;
        }
        let region_from = match region_source {
            Source::Env(var) => format!("from {var}"),
            Source::Setting { profile, .. } => format!("the region of profile `{profile}`"),
            Source::Flag(flag) => format!("from {flag}"),
            Source::Services { .. } | Source::Default => "the default region".to_string(),
        };
        let file = profiles
            .origin_of_key(profile, key)
            .or_else(|| profiles.origin(profile))
            .map_or_else(|| profiles.describe_files(), |p| p.display().to_string());
        return Err(PlanError::PartitionMismatch(Box::new(PartitionMismatch {
            profile: profile.into(),
            file,
            key,
            arn: arn.into(),
            arn_partition,
            region: region.into(),
            region_from,
            region_partition,
            requested: chain.profile.clone(),
            what,
        })));
    }
    Ok(())
}

/// `--duration` against what AWS grants the final credentials: an MFA session 900 s to 36 h; a
/// role 900 s to 12 h, and at most 1 h when it is assumed with session credentials (role
/// chaining: a later hop, or the first hop assumed from the MFA session), as `doctor` checks
/// `duration_seconds`.
fn check_duration_flag(
    chain: &Chain,
    strategy: MfaStrategy,
    seconds: u32,
    mfa_session_flag: Option<u32>,
    profile: &str,
    file: &str,
) -> Result<(), PlanError> {
    let error = |max: u32, why: String| PlanError::BadDurationFlag {
        profile: profile.into(),
        file: file.into(),
        seconds,
        why,
        max,
    };
    let Some(last) = chain.hops.len().checked_sub(1) else {
        if mfa_session_flag.is_some_and(|s| s != seconds) {
            return Err(PlanError::DurationConflict { profile: profile.into(), file: file.into() });
        }
        if !(MIN_SECONDS..=MFA_SESSION_MAX_SECONDS).contains(&seconds) {
            return Err(error(
                MFA_SESSION_MAX_SECONDS,
                format!(
                    "the profile has no role, so its credentials are an MFA session, which lasts {MIN_SECONDS} to {MFA_SESSION_MAX_SECONDS} s (15m to 36h)"
                ),
            ));
        }
        return Ok(());
    };
    let hop = &chain.hops[last].profile;
    let chained = if last > 0 {
        Some(format!("`{hop}` is assumed with the credentials of another role (role chaining)"))
    } else if strategy == MfaStrategy::Session {
        Some(format!("`{hop}` is assumed from the MFA session ({KEY_MFA_STRATEGY} = session; role chaining)"))
    } else {
        None
    };
    match chained {
        Some(why) if seconds > ROLE_CHAINING_MAX_SECONDS => Err(error(
            ROLE_CHAINING_MAX_SECONDS,
            format!("{why}, and AWS caps such a role at {ROLE_CHAINING_MAX_SECONDS} s (1h)"),
        )),
        _ if !(MIN_SECONDS..=ROLE_MAX_SECONDS).contains(&seconds) => Err(error(
            ROLE_MAX_SECONDS,
            format!("AssumeRole grants {MIN_SECONDS} to {ROLE_MAX_SECONDS} s (15m to 12h) for `{hop}`"),
        )),
        _ => Ok(()),
    }
}

/// The region of a chain: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the chain's `region`,
/// else us-east-1.
fn region_of(chain: &Chain, profiles: &Profiles, env: &Env, flag: Option<&str>) -> (String, Source) {
    if let Some(r) = flag.filter(|r| !r.is_empty()) {
        (r.to_string(), Source::Flag("--region"))
    } else if let Some(r) = env.get(env_vars::AWS_REGION) {
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
    let (region, _) = region_of(&chain, profiles, env, None);
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

    #[test]
    fn duration_flags_are_seconds_or_hours_and_minutes() {
        for (text, seconds) in [("3600", 3600), ("1h", 3600), ("30m", 1800), ("1h30m", 5400), ("90s", 90), ("2H", 7200)]
        {
            assert_eq!(parse_duration_flag(text), Ok(seconds), "{text}");
        }
        for bad in ["", "h", "1d", "30m1h", "1h1h", "-5", "1.5h", "99999999999", "1 h x"] {
            assert!(parse_duration_flag(bad).is_err(), "{bad}");
        }
        assert_eq!(describe_duration(5400), "1h30m");
    }

    fn seed_profiles(extra: &str) -> (tempfile::TempDir, Profiles) {
        let dir = tempfile::tempdir().unwrap();
        let paths = ConfigPaths { config: dir.path().join("config"), credentials: dir.path().join("credentials") };
        std::fs::write(
            &paths.config,
            format!(
                "[profile base]\nregion = us-west-2\n[profile target]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/r\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n{extra}"
            ),
        )
        .unwrap();
        std::fs::write(&paths.credentials, "[base]\naws_access_key_id = AKID\naws_secret_access_key = s\n").unwrap();
        let profiles = Profiles::load(&paths).unwrap();
        (dir, profiles)
    }

    #[test]
    fn the_region_flag_wins_and_moves_the_endpoint() {
        let (_dir, profiles) = seed_profiles("");
        let env = Env::from_pairs([("AWS_REGION", "eu-west-1")]);
        let plain = plan(&profiles, "target", &env, &PlanOptions::default()).unwrap();
        assert_eq!(
            (plain.region.as_str(), plain.endpoint.url.as_str()),
            ("eu-west-1", "https://sts.eu-west-1.amazonaws.com")
        );
        let options = PlanOptions { region: Some("eu-central-1".into()), ..PlanOptions::default() };
        let flagged = plan(&profiles, "target", &env, &options).unwrap();
        assert_eq!(flagged.region, "eu-central-1");
        assert_eq!(flagged.region_source, Source::Flag("--region"));
        assert_eq!(flagged.endpoint.url, "https://sts.eu-central-1.amazonaws.com");
        assert_ne!(flagged.result_key.digest, plain.result_key.digest, "another endpoint, another entry");
        // The MFA session is valid in the whole partition: shared.
        assert_eq!(flagged.mfa_session_key, plain.mfa_session_key);
    }

    #[test]
    fn the_duration_flag_is_the_last_roles_and_enters_the_key() {
        let (_dir, profiles) = seed_profiles("");
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let plain = plan(&profiles, "target", &env, &PlanOptions::default()).unwrap();
        let half = PlanOptions { duration_seconds: Some(1800), ..PlanOptions::default() };
        let flagged = plan(&profiles, "target", &env, &half).unwrap();
        assert_eq!(flagged.role_seconds(0), 1800);
        assert_eq!(flagged.strategy, MfaStrategy::Session);
        assert_eq!(flagged.duration_source, Source::Flag("--duration"));
        assert_ne!(flagged.result_key.digest, plain.result_key.digest);
        assert_eq!(flagged.mfa_session_key, plain.mfa_session_key, "the MFA session is the same");
        // Longer than 1 h: the code goes to AssumeRole, as with duration_seconds.
        let long = PlanOptions { duration_seconds: Some(7200), ..PlanOptions::default() };
        let direct = plan(&profiles, "target", &env, &long).unwrap();
        assert_eq!((direct.strategy, direct.role_seconds(0)), (MfaStrategy::Direct, 7200));
    }

    #[test]
    fn a_duration_flag_out_of_what_the_strategy_allows_is_refused() {
        let (_dir, profiles) = seed_profiles(
            "[profile pinned]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/p\nmfa_serial = arn:aws:iam::123456789012:mfa/u\nrolegate_mfa_strategy = session\n[profile second]\nsource_profile = target\nrole_arn = arn:aws:iam::123456789012:role/s\n[profile user]\naws_access_key_id = AKID2\naws_secret_access_key = s\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n",
        );
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let with = |seconds| PlanOptions { duration_seconds: Some(seconds), ..PlanOptions::default() };
        let refused = |profile: &str, seconds: u32| match plan(&profiles, profile, &env, &with(seconds)) {
            Err(e @ PlanError::BadDurationFlag { .. }) => (e.to_string(), e.hint().unwrap()),
            other => panic!("{profile} {seconds}: {other:?}"),
        };
        let (message, hint) = refused("target", 50_000);
        assert!(
            message.contains("profile `target`") && message.contains("--duration 13h53m20s (50000 s)"),
            "{message}"
        );
        assert!(message.contains("900 to 43200"), "{message}");
        assert_eq!(hint, "ask for 12h or less (and at least 15m): for example `--duration 12h`");
        assert!(refused("target", 600).0.contains("900 to 43200"));
        let (message, hint) = refused("pinned", 7200);
        assert!(message.contains("assumed from the MFA session") && message.contains("3600 s (1h)"), "{message}");
        assert!(hint.contains("1h or less"), "{hint}");
        assert!(refused("second", 7200).0.contains("role chaining"));
        assert!(plan(&profiles, "second", &env, &with(3600)).is_ok());
        // No role: the MFA session is the result, up to 36 h.
        let session = plan(&profiles, "user", &env, &with(86_400)).unwrap();
        assert_eq!(
            (session.mfa_session_seconds, session.mfa_session_source.clone()),
            (86_400, Source::Flag("--duration"))
        );
        assert!(refused("user", 200_000).0.contains("MFA session"));
        let both =
            PlanOptions { duration_seconds: Some(3600), mfa_session_seconds: Some(7200), ..PlanOptions::default() };
        assert!(matches!(plan(&profiles, "user", &env, &both), Err(PlanError::DurationConflict { .. })));
    }
}
