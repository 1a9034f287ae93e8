//! The profile half of `doctor`: explain each chain hop by hop (with the file and line of every
//! setting) and turn what is wrong into [`Finding`]s.
//!
//! Nothing is decided here that `config::resolve` and `plan::plan` do not already decide: a
//! profile is run through `plan::plan`, its typed errors become findings, and a successful plan
//! is described. The few checks of our own are about what the *SDKs* (Terraform) will do with
//! the same files: a `credential_process` profile that also carries role settings, a role
//! duration that cannot work under role chaining, a missing region, sections the SDKs ignore.

use std::collections::{BTreeSet, HashMap};

use crate::cache::Cache;
use crate::config::resolve::{self, Base, KEY_MFA_SESSION_DURATION, KEY_MFA_STRATEGY, ResolveError};
use crate::config::{ConfigPaths, Profiles, include};
use crate::context::Context;
use crate::output::credential_process::format_expiration;
use crate::plan::{self, MfaStrategy, Plan, PlanError, PlanOptions, ROLE_CHAINING_MAX_SECONDS, Source, StrategyReason};

use super::clock;
use super::report::{
    CacheEntryReport, EndpointReport, Finding, Findings, Hop, MfaReport, ProfileCacheReport, ProfileReport,
    RegionReport, RoleDuration, SettingReport, Severity, StrategyReport,
};
use crate::config::source::{Location, OddSection, SourceMap};

/// Settings whose values are never shown.
const SECRET_KEYS: &[&str] = &["aws_secret_access_key", "aws_session_token"];
/// Role settings that must not sit beside `credential_process` (the SDKs try them first).
const ROLE_KEYS: &[&str] = &["role_arn", "source_profile", "mfa_serial"];
/// Settings that shape a chain: taken through include_profile, the SDKs miss them.
const INCLUDED_CHAIN_KEYS: &[&str] =
    &["role_arn", "source_profile", "credential_source", "credential_process", "mfa_serial"];

/// Everything the profile checks read.
pub struct Inputs<'a> {
    pub ctx: &'a Context,
    pub paths: &'a ConfigPaths,
    pub profiles: &'a Profiles,
    pub sources: &'a SourceMap,
    pub cache: &'a Cache,
    /// The cache directory is safe to read (or does not exist yet).
    pub cache_private: bool,
    /// The credentials file exists: keys expected there and not found are missing keys, not a
    /// missing file.
    pub credentials_exists: bool,
}

pub struct Checker<'a> {
    inp: Inputs<'a>,
    seen_loops: Vec<(BTreeSet<String>, Finding)>,
    /// Over-long chains already reported, as the profiles each reaches: one finding per chain.
    seen_long_chains: Vec<(Vec<String>, Finding)>,
    skews: HashMap<String, Result<i64, String>>,
    /// Cache entries already looked at, by key: every role of a device shares one MFA session.
    entries: HashMap<String, CacheEntryReport>,
    /// The names of the files in the cache directory, listed once: an entry not there is not
    /// opened (ten thousand roles, ten thousand misses).
    cache_files: Option<std::collections::HashSet<std::ffi::OsString>>,
}

/// What the SDKs (Terraform) make of a profile named in a Terraform block, as to MFA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MfaNeed {
    /// A role profile of its chain has `mfa_serial`: the SDKs need a code they cannot ask for
    /// (the seed's `AssumeRoleTokenProvider` error). The profile that carries it.
    RoleMfa {
        serial_profile: String,
    },
    /// `mfa_serial` only on the profile with the keys (rolegate's and aws-vault's reading): the
    /// SDKs ignore it and use the keys without MFA.
    KeysMfa {
        serial_profile: String,
    },
    /// `credential_process = rolegate credential-process X`: rolegate serves it.
    Rolegate {
        target: String,
    },
    /// No MFA anywhere (or a chain the SDKs stop on for another reason).
    No,
    NotFound,
}

impl<'a> Checker<'a> {
    pub fn new(inp: Inputs<'a>) -> Checker<'a> {
        Checker {
            inp,
            seen_loops: Vec::new(),
            seen_long_chains: Vec::new(),
            skews: HashMap::new(),
            entries: HashMap::new(),
            cache_files: None,
        }
    }

    /// Where `profile` gets `key`: its own line, or the line of the profile it includes.
    fn key(&self, profile: &str, key: &str) -> Option<Location> {
        self.inp.profiles.key_location(profile, key)
    }

    fn header(&self, profile: &str) -> Option<Location> {
        self.inp.sources.profile(profile)
    }

    fn options() -> PlanOptions {
        PlanOptions::default()
    }

    /// Checks `requested` (and the profiles of its chain), or every profile; explains the
    /// requested one, or every profile that needs MFA or fails.
    pub fn run(&mut self, requested: Option<&str>, findings: &mut Findings) -> Vec<ProfileReport> {
        for odd in self.inp.sources.odd_sections() {
            findings.push(odd_section_finding(odd));
        }
        let profiles = self.inp.profiles;
        let scope: Vec<String> = match requested {
            Some(p) => chain_names(profiles, p),
            None => profiles.profiles.keys().cloned().collect(),
        };
        for name in &scope {
            self.static_checks(name, findings);
        }
        let mut reports = Vec::new();
        for name in &scope {
            let explicit = requested == Some(name.as_str());
            let outcome = plan::plan(profiles, name, &self.inp.ctx.env, &Self::options());
            let selected = match &outcome {
                Ok(plan) => {
                    // Roles without MFA are not rolegate's business unless asked for.
                    let relevant = explicit || plan.strategy != MfaStrategy::None;
                    if relevant {
                        self.plan_checks(name, plan, findings);
                    }
                    relevant
                }
                Err(PlanError::NothingToDo { profile, .. }) => {
                    if explicit {
                        findings.push(
                            Finding::new(
                                Severity::Info,
                                "nothing-to-do",
                                format!("profile `{profile}` has no role_arn and no mfa_serial: its keys are used directly, rolegate has nothing to add"),
                            )
                            .profile(profile)
                            .at(self.header(profile)),
                        );
                    }
                    explicit
                }
                Err(e) => {
                    let relevant = explicit || self.worth_reporting(name, e);
                    if relevant {
                        let f = self.plan_error_finding(name, e);
                        findings.push(f);
                    }
                    relevant
                }
            };
            // With a requested profile, only it is explained; its chain is only checked.
            if !(selected && (explicit || requested.is_none())) {
                continue;
            }
            let report = match outcome {
                Ok(plan) => self.explain(name, &plan),
                Err(e) => {
                    let message = match &e {
                        PlanError::NothingToDo { .. } => None,
                        e => Some(self.plan_error_finding(name, e).message),
                    };
                    let mut r = ProfileReport::unresolved(name, self.header(name), message);
                    r.ok = matches!(e, PlanError::NothingToDo { .. });
                    r
                }
            };
            reports.push(report);
        }
        if let Some(p) = requested
            && !profiles.profiles.contains_key(p)
        {
            // A section the SDK parser dropped (a name with a space, say) is explained as such.
            let e = PlanError::Resolve(match profiles.origin(p) {
                Some(file) => ResolveError::ProfileNameRejected { profile: p.into(), file: file.display().to_string() },
                None => ResolveError::ProfileNotFound {
                    profile: p.into(),
                    files: profiles.describe_files(),
                    nearest: resolve::nearest_name(profiles, p),
                },
            });
            let f = self.plan_error_finding(p, &e);
            reports.push(ProfileReport::unresolved(p, None, Some(f.message.clone())));
            findings.push(f);
        }
        reports
    }

    /// What a Terraform block's `profile = "NAME"` gets from the SDKs: the SDK chain rules
    /// (mfa_serial is read on role profiles; after the first profile, keys end the chain).
    pub fn mfa_need(&self, start: &str) -> MfaNeed {
        let profiles = self.inp.profiles;
        if profiles.get(start).is_none() {
            return MfaNeed::NotFound;
        }
        let mut name = start.to_string();
        let mut visited: Vec<String> = Vec::new();
        let mut keys_mfa = None;
        while let Some(props) = profiles.get(&name) {
            if visited.contains(&name) || visited.len() > resolve::MAX_CHAIN {
                break;
            }
            let has_keys = props.contains_key("aws_access_key_id");
            let first = visited.is_empty();
            visited.push(name.clone());
            if (!first && has_keys) || !props.contains_key("role_arn") {
                if props.contains_key("mfa_serial") && has_keys {
                    keys_mfa = Some(name.clone());
                }
                if first && let Some(target) = props.get("credential_process").and_then(|c| resolve::rolegate_target(c))
                {
                    return MfaNeed::Rolegate { target };
                }
                break;
            }
            if props.contains_key("mfa_serial") {
                return MfaNeed::RoleMfa { serial_profile: name };
            }
            match props.get("source_profile") {
                Some(source) if *source == name && has_keys => break,
                Some(source) => name = source.clone(),
                None => break,
            }
        }
        match keys_mfa {
            Some(serial_profile) => MfaNeed::KeysMfa { serial_profile },
            None => MfaNeed::No,
        }
    }

    /// The `rolegate credential-process TARGET` profiles of the config, for suggestions.
    pub fn rolegate_profile_for(&self, target: &str) -> Option<String> {
        self.inp.profiles.profiles.iter().find_map(|(n, p)| {
            let t = p.get("credential_process").and_then(|c| resolve::rolegate_target(c))?;
            (t == target && !ROLE_KEYS.iter().any(|k| p.contains_key(*k))).then(|| n.clone())
        })
    }

    /// A profile whose role is `role_arn` and for which rolegate asks an MFA code.
    pub fn mfa_profile_with_role(&self, role_arn: &str) -> Option<String> {
        let profiles = self.inp.profiles;
        profiles.profiles.iter().find_map(|(n, p)| {
            let same = p.get("role_arn").is_some_and(|r| r == role_arn);
            (same && resolve::resolve(profiles, n).is_ok_and(|c| c.mfa_serial().is_some())).then(|| n.clone())
        })
    }

    /// The `mfa_serial` a profile's chain uses, as rolegate reads it.
    pub fn mfa_serial_of(&self, name: &str) -> Option<String> {
        resolve::resolve(self.inp.profiles, name).ok().and_then(|c| c.mfa_serial().map(str::to_string))
    }

    fn static_checks(&self, name: &str, findings: &mut Findings) {
        let Some(props) = self.inp.profiles.get(name) else { return };
        if let Some(inherited) = self.inp.profiles.inherited(name) {
            let chain_keys: Vec<&str> =
                INCLUDED_CHAIN_KEYS.iter().copied().filter(|k| inherited.contains_key(*k)).collect();
            if !chain_keys.is_empty() {
                let list = chain_keys.join(", ");
                findings.push(
                    Finding::new(
                        Severity::Info,
                        "include-profile-outside-rolegate",
                        format!(
                            "profile `{name}` takes {list} through include_profile (aws-vault's key): rolegate and `rolegate exec` read them, but the SDKs (Terraform, the AWS CLI) run on their own do not"
                        ),
                    )
                    .profile(name)
                    .at(self.inp.sources.key(name, include::KEY_INCLUDE_PROFILE).or_else(|| self.inp.sources.key(name, include::KEY_PARENT_PROFILE)))
                    .fix(format!(
                        "run the tool under `rolegate exec {name} -- ...` (its generated config writes the included settings out), or copy {list} into profile `{name}`"
                    )),
                );
            }
        }
        if let (Some(_), Some(_)) = (props.get(resolve::KEY_MFA_PROCESS), props.get(resolve::KEY_AWS_VAULT_MFA_PROCESS))
        {
            findings.push(
                Finding::new(
                    Severity::Info,
                    "two-mfa-processes",
                    format!(
                        "profile `{name}` has both {} and mfa_process (aws-vault's): rolegate runs {}",
                        resolve::KEY_MFA_PROCESS,
                        resolve::KEY_MFA_PROCESS
                    ),
                )
                .profile(name)
                .at(self.key(name, resolve::KEY_AWS_VAULT_MFA_PROCESS))
                .fix(format!(
                    "keep one of them (aws-vault reads only mfa_process, rolegate prefers {})",
                    resolve::KEY_MFA_PROCESS
                )),
            );
        }
        if props.contains_key("credential_process") {
            let mut extra: Vec<&str> = ROLE_KEYS.iter().copied().filter(|k| props.contains_key(*k)).collect();
            extra.sort_by_key(|k| self.key(name, k).map(|l| (l.file, l.line)));
            if !extra.is_empty() {
                let first = extra.first().and_then(|k| self.key(name, k)).or_else(|| self.header(name));
                let list = extra.join(", ");
                let target = props.get("credential_process").and_then(|c| resolve::rolegate_target(c));
                let fix = match target {
                    Some(t) => format!(
                        "remove {list} from profile `{name}`: `rolegate credential-process {t}` already follows `{t}`'s role and MFA settings; keep only credential_process (and region)"
                    ),
                    None => format!(
                        "remove {list} from profile `{name}` and keep credential_process, or move credential_process to another profile"
                    ),
                };
                findings.push(
                    Finding::new(
                        Severity::Error,
                        "credential-process-with-role-settings",
                        format!(
                            "profile `{name}` has credential_process and also {list}: the SDKs (Terraform, the AWS CLI) try the role settings first and never run credential_process{}",
                            if props.contains_key("mfa_serial") {
                                ", so Terraform fails again with \"assume role with MFA enabled, but AssumeRoleTokenProvider session option not set\""
                            } else {
                                ""
                            }
                        ),
                    )
                    .profile(name)
                    .at(first)
                    .fix(fix),
                );
            }
        }
    }

    /// Checks that need a successful plan.
    fn plan_checks(&mut self, name: &str, plan: &Plan, findings: &mut Findings) {
        for (i, hop) in plan.chain.hops.iter().enumerate() {
            let Some(d) = hop.duration_seconds.filter(|d| *d > ROLE_CHAINING_MAX_SECONDS) else { continue };
            let (why, fix) = if i > 0 {
                (
                    format!("`{}` is assumed with the credentials of another role (role chaining)", hop.profile),
                    format!(
                        "set duration_seconds to {ROLE_CHAINING_MAX_SECONDS} or less in profile `{}` (AWS caps a chained role at 1 h whatever the role allows)",
                        hop.profile
                    ),
                )
            } else if plan.strategy == MfaStrategy::Session {
                (
                    format!(
                        "`{KEY_MFA_STRATEGY} = session` assumes `{}` from the MFA session (role chaining)",
                        hop.profile
                    ),
                    format!(
                        "set duration_seconds to {ROLE_CHAINING_MAX_SECONDS} or less in profile `{}`, or remove `{KEY_MFA_STRATEGY} = session` so that rolegate sends the code to AssumeRole directly (a new code each time the role expires)",
                        hop.profile
                    ),
                )
            } else {
                continue;
            };
            findings.push(
                Finding::new(
                    Severity::Error,
                    "duration-exceeds-role-chaining-cap",
                    format!(
                        "duration_seconds = {d} cannot work: {why}, and STS refuses more than {ROLE_CHAINING_MAX_SECONDS} s for such a role"
                    ),
                )
                .profile(&hop.profile)
                .at(self.key(&hop.profile, "duration_seconds"))
                .fix(fix),
            );
        }
        let region = self.region(plan);
        if region.source == "default" {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    "region-missing",
                    format!(
                        "no region for profile `{name}` (none in its chain, no AWS_REGION): rolegate uses us-east-1, and Terraform's provider and backend need one too"
                    ),
                )
                .profile(name)
                .at(self.header(name))
                .fix(format!("add `region = us-east-1` (or your region) to profile `{name}`")),
            );
        }
        let (source, at) = self.endpoint_source(plan);
        if source != "default" {
            let url = plan.endpoint.url.clone();
            let ctx = self.inp.ctx;
            let result = self.skews.entry(url.clone()).or_insert_with(|| clock::skew(ctx, &url)).clone();
            match result {
                Ok(skew) => {
                    if let Some(f) = clock::finding(skew, &url) {
                        findings.push(f.at(at));
                    }
                }
                Err(why) => findings.push(
                    Finding::new(
                        Severity::Warning,
                        "sts-endpoint-unreachable",
                        format!("the configured STS endpoint {url} does not answer ({why}): rolegate's calls to it will fail too"),
                    )
                    .at(at)
                    .fix(format!("check the endpoint URL (from {source}) and that the service behind it is running")),
                ),
            }
        }
    }

    fn worth_reporting(&self, name: &str, e: &PlanError) -> bool {
        let props = self.inp.profiles.get(name);
        let has = |k: &str| props.is_some_and(|p| p.contains_key(k));
        match e {
            PlanError::Resolve(ResolveError::NoCredentials { profile, .. }) if profile == name => {
                ["role_arn", "source_profile", "mfa_serial", "credential_source", "credential_process"]
                    .iter()
                    .any(|k| has(k))
            }
            // Profiles rolegate does not serve (SSO, instance metadata...) are someone else's business
            // unless they ask for MFA; so is a role without MFA in another partition (the SDKs
            // fail on it alike).
            PlanError::Resolve(
                ResolveError::UnsupportedBase { .. } | ResolveError::UnsupportedCredentialSource { .. },
            )
            | PlanError::PartitionMismatch(_) => chain_names(self.inp.profiles, name)
                .iter()
                .any(|p| self.inp.profiles.get(p).is_some_and(|pp| pp.contains_key("mfa_serial"))),
            _ => true,
        }
    }

    fn plan_error_finding(&mut self, name: &str, e: &PlanError) -> Finding {
        let err = |id, message: String| Finding::new(Severity::Error, id, message);
        match e {
            PlanError::Resolve(r) => self.resolve_error_finding(name, r),
            PlanError::Endpoint { profile, source } => {
                err("sts-endpoint-invalid", format!("no STS endpoint for profile `{profile}`: {source}"))
                    .profile(profile)
                    .at(self.header(profile))
                    .fix(e.hint().unwrap_or_default())
            }
            PlanError::BadStrategy { profile, value, .. } => err(
                "mfa-strategy-invalid",
                format!("{KEY_MFA_STRATEGY} `{value}` is not valid (expected `session` or `direct`)"),
            )
            .profile(profile)
            .at(self.key(profile, KEY_MFA_STRATEGY))
            .fix(e.hint().unwrap_or_default()),
            PlanError::BadSessionDuration { profile, value, .. } => {
                let at = chain_names(self.inp.profiles, profile)
                    .iter()
                    .find_map(|p| self.key(p, KEY_MFA_SESSION_DURATION))
                    .or_else(|| self.header(profile));
                err(
                    "mfa-session-duration-out-of-range",
                    format!("{KEY_MFA_SESSION_DURATION} `{value}` is not valid: GetSessionToken accepts whole seconds from 900 to 129600"),
                )
                .profile(profile)
                .at(at)
                .fix(e.hint().unwrap_or_default())
            }
            PlanError::SessionImpossible { profile, why, .. } => err(
                "mfa-strategy-session-impossible",
                format!("{KEY_MFA_STRATEGY} = session cannot work for profile `{profile}`: {why}"),
            )
            .profile(profile)
            .at(self.key(profile, KEY_MFA_STRATEGY))
            .fix(e.hint().unwrap_or_default()),
            PlanError::NothingToDo { profile, .. } => {
                Finding::new(Severity::Info, "nothing-to-do", e.to_string()).profile(profile)
            }
            PlanError::PartitionMismatch(m) => {
                let plan::PartitionMismatch {
                    profile,
                    key,
                    arn,
                    arn_partition,
                    region,
                    region_from,
                    region_partition,
                    what,
                    ..
                } = &**m;
                err(
                "partition-mismatch",
                format!(
                    "{key} `{arn}` is in partition {arn_partition}, but region `{region}` ({region_from}) is in partition {region_partition}: its STS endpoint does not know that {what}, and would refuse it after the MFA code is used"
                ),
            )
                .profile(profile)
                .at(self.key(profile, key))
                .fix(e.hint().unwrap_or_default())
            }
            // Errors of the per-call `--duration`, which the doctor's plans never carry.
            PlanError::BadDurationFlag { .. } | PlanError::DurationConflict { .. } => {
                unreachable!("the doctor plans without --duration: {e}")
            }
        }
    }

    fn resolve_error_finding(&mut self, name: &str, e: &ResolveError) -> Finding {
        let hint = e.hint().unwrap_or_default();
        let err = |id, message: String| Finding::new(Severity::Error, id, message);
        let files = self.inp.paths;
        match e {
            ResolveError::ProfileNotFound { profile, .. } if profile != name => err(
                "credential-process-target-missing",
                format!("profile `{name}` runs `rolegate credential-process {profile}`, but profile `{profile}` is not defined"),
            )
            .profile(name)
            .at(self.key(name, "credential_process"))
            .fix(format!(
                "correct the profile name in credential_process, or add [profile {profile}] (with role_arn, source_profile and mfa_serial) to {}",
                files.config.display()
            )),
            ResolveError::ProfileNotFound { profile, .. } => err(
                "profile-not-found",
                format!(
                    "profile `{profile}` is not defined in {} or {}",
                    files.config.display(),
                    files.credentials.display()
                ),
            )
            .profile(profile)
            .fix(hint),
            ResolveError::ProfileNameRejected { profile, .. } => {
                err("profile-name-rejected", e.to_string()).profile(profile).at(self.header(profile)).fix(hint)
            }
            ResolveError::SourceProfileNotFound { profile, source_profile, .. } if !self.inp.credentials_exists => err(
                "credentials-file-missing",
                format!(
                    "profile `{profile}` names source_profile `{source_profile}`, whose keys would be in the credentials file {}, which does not exist",
                    files.credentials.display()
                ),
            )
            .profile(profile)
            .at(self.key(profile, "source_profile"))
            .fix(store_keys_fix(source_profile, &files.credentials)),
            ResolveError::SourceProfileNotFound { profile, source_profile, .. } => {
                let unprefixed = self.inp.sources.odd_sections().iter().find_map(|o| match o {
                    OddSection::ConfigWithoutPrefix { name: n, at } if n == source_profile => Some(at),
                    _ => None,
                });
                let fix = match unprefixed {
                    Some(at) => format!(
                        "write `[profile {source_profile}]` instead of `[{source_profile}]` at {}: the config file ignores sections without `profile `",
                        at.render()
                    ),
                    None => format!(
                        "add [profile {source_profile}] to {} (or [{source_profile}] with its keys to {}), or correct the name in source_profile",
                        files.config.display(),
                        files.credentials.display()
                    ),
                };
                err(
                    "source-profile-missing",
                    format!("profile `{profile}` names source_profile `{source_profile}`, which is not defined in either file"),
                )
                .profile(profile)
                .at(self.key(profile, "source_profile"))
                .fix(fix)
            }
            ResolveError::Loop { cycle, .. } => {
                let members: Vec<&str> = cycle.split(" -> ").collect();
                let set: BTreeSet<String> = members.iter().map(|s| s.to_string()).collect();
                // One loop is one finding, whichever of its members (or of the profiles that
                // lead into it) met it first.
                if let Some((_, f)) = self.seen_loops.iter().find(|(s, _)| *s == set) {
                    return f.clone();
                }
                // The profile whose source_profile closes the loop.
                let closing = members.len().checked_sub(2).and_then(|i| members.get(i)).copied().unwrap_or(name);
                let first = members.first().copied().unwrap_or(name);
                let f = err(
                    "source-profile-loop",
                    format!("source_profile loop {cycle}: no profile in it holds keys, so nothing can start the chain"),
                )
                .profile(first)
                .at(self.key(closing, "source_profile"))
                .fix(format!(
                    "point source_profile of `{closing}` at the profile that holds your keys (aws_access_key_id/aws_secret_access_key in {}), or give one profile of the loop its own keys",
                    files.credentials.display()
                ));
                self.seen_loops.push((set, f.clone()));
                f
            }
            ResolveError::TooDeep { profile, .. } => {
                // The profiles further down the same chain are too long too: one finding.
                if let Some((_, f)) = self.seen_long_chains.iter().find(|(names, _)| names.contains(profile)) {
                    return f.clone();
                }
                let f = err(
                    "source-profile-chain-too-long",
                    format!("the source_profile chain of `{profile}` is longer than {} profiles", resolve::MAX_CHAIN),
                )
                .profile(profile)
                .at(self.header(profile))
                .fix(hint);
                self.seen_long_chains.push((chain_names(self.inp.profiles, profile), f.clone()));
                f
            }
            ResolveError::BothSources { profile, .. } => err(
                "both-source-profile-and-credential-source",
                format!("profile `{profile}` has both source_profile and credential_source: the SDKs refuse it"),
            )
            .profile(profile)
            .at(self.key(profile, "credential_source"))
            .fix("keep one of them: source_profile names the profile with your keys; credential_source = Environment takes the keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"),
            ResolveError::NoSource { profile, .. } => err(
                "role-without-source",
                format!("profile `{profile}` has role_arn but neither source_profile nor credential_source: there are no credentials to assume the role with"),
            )
            .profile(profile)
            .at(self.key(profile, "role_arn"))
            .fix(format!("add `source_profile = PROFILE` naming the profile that holds your keys (in {})", files.credentials.display())),
            ResolveError::NoCredentials { profile, .. }
                if self.inp.profiles.get(profile).is_some_and(|p| p.contains_key("source_profile")) =>
            {
                err(
                    "source-profile-without-role-arn",
                    format!("profile `{profile}` has source_profile but no role_arn: the SDKs ignore source_profile without a role, so it has no credentials"),
                )
                .profile(profile)
                .at(self.key(profile, "source_profile"))
                .fix(format!("add `role_arn = arn:aws:iam::ACCOUNT_ID:role/NAME` to profile `{profile}`, or remove source_profile and use the source profile directly"))
            }
            ResolveError::NoCredentials { profile, .. } if !self.inp.credentials_exists => err(
                "credentials-file-missing",
                format!(
                    "profile `{profile}` has no keys: they would be in the credentials file {}, which does not exist",
                    files.credentials.display()
                ),
            )
            .profile(profile)
            .at(self.header(profile))
            .fix(store_keys_fix(profile, &files.credentials)),
            ResolveError::NoCredentials { profile, .. } => err(
                "no-credentials",
                format!("profile `{profile}` has no credentials: no aws_access_key_id, credential_process, credential_source or role_arn"),
            )
            .profile(profile)
            .at(self.header(profile))
            .fix(hint),
            ResolveError::IncompleteKeys { profile, present, missing, .. } => err(
                "incomplete-keys",
                format!("profile `{profile}` has {present} but not {missing}"),
            )
            .profile(profile)
            .at(self.key(profile, present))
            .fix(format!("add {missing} next to {present} (in {})", files.credentials.display())),
            ResolveError::UnsupportedCredentialSource { profile, value, .. } => err(
                "unsupported-credential-source",
                format!("profile `{profile}`: credential_source = {value} is not supported by rolegate"),
            )
            .profile(profile)
            .at(self.key(profile, "credential_source"))
            .fix(hint),
            ResolveError::UnsupportedBase { profile, .. } if e.sso_profile().is_some() => {
                Finding::new(
                    Severity::Info,
                    "sso-profile",
                    format!("profile `{name}` starts at `{profile}`, an IAM Identity Center (sso_*) profile: the AWS SDKs and CLI serve it themselves, rolegate passes it through"),
                )
                .profile(name)
                .at(self.header(profile))
                .fix(hint)
            }
            ResolveError::UnsupportedBase { profile, what, .. } => err(
                "unsupported-base",
                format!("profile `{profile}` uses {what}, which rolegate does not support as the start of a chain"),
            )
            .profile(profile)
            .at(self.header(profile))
            .fix(hint),
            ResolveError::BadValue { profile, key, value, why, .. } => {
                let at = self.key(profile, key);
                match *key {
                    "mfa_serial" => mfa_serial_finding(value).profile(profile).at(at),
                    "duration_seconds" => err(
                        "duration-out-of-range",
                        format!("duration_seconds `{value}` is out of range: AssumeRole accepts whole seconds from 900 to 43200"),
                    )
                    .profile(profile)
                    .at(at)
                    .fix(format!(
                        "set duration_seconds between 900 and {ROLE_CHAINING_MAX_SECONDS} in profile `{profile}` (up to 43200 if the role's maximum session duration allows it; above {ROLE_CHAINING_MAX_SECONDS} rolegate asks a code each time the role expires)"
                    )),
                    "role_arn" => err("role-arn-invalid", format!("role_arn `{value}` is not a role ARN ({why})"))
                        .profile(profile)
                        .at(at)
                        .fix(hint),
                    "role_session_name" => err(
                        "role-session-name-invalid",
                        format!("role_session_name `{value}` is not valid ({why})"),
                    )
                    .profile(profile)
                    .at(at)
                    .fix("use 2 to 64 characters of letters, digits and +=,.@-_"),
                    resolve::KEY_SOURCE_IDENTITY | resolve::KEY_SESSION_TAGS | resolve::KEY_TRANSITIVE_SESSION_TAGS => err(
                        "session-attribute-invalid",
                        format!("{key} `{value}` is not valid for AssumeRole ({why}): STS would refuse the role"),
                    )
                    .profile(profile)
                    .at(at)
                    .fix(hint),
                    _ => err("credential-source-invalid", format!("{key} `{value}` is not valid ({why})"))
                        .profile(profile)
                        .at(at)
                        .fix("write `credential_source = Environment`"),
                }
            }
            ResolveError::SelfRecursion { profile, target, .. } => {
                let fix = if profile == target {
                    format!(
                        "a profile with `credential_process = rolegate credential-process X` must not be X: put role_arn/source_profile/mfa_serial in profile `{profile}` and the credential_process line in a new profile such as `{profile}-tf` (`rolegate setup` writes it)"
                    )
                } else {
                    format!(
                        "the start of a chain needs its own credentials: give profile `{profile}` static keys (in {}) or `credential_source = Environment` instead of a credential_process that calls rolegate for `{target}`",
                        files.credentials.display()
                    )
                };
                let why = if profile == target {
                    "that is, itself".to_string()
                } else {
                    format!("and `{target}` gets its credentials from `{profile}`")
                };
                err(
                    "self-recursion",
                    format!(
                        "the credential_process of profile `{profile}` runs `rolegate credential-process {target}`, {why}: rolegate would call itself forever"
                    ),
                )
                .profile(profile)
                .at(self.key(profile, "credential_process"))
                .fix(fix)
            }
            ResolveError::IncludeNotFound { profile, including, included, .. } => err(
                "include-profile-missing",
                format!("profile `{including}` includes profile `{included}` (include_profile), which is not defined: `{profile}` cannot take its settings"),
            )
            .profile(profile)
            .at(self.inp.sources.key(including, include::KEY_INCLUDE_PROFILE).or_else(|| self.inp.sources.key(including, include::KEY_PARENT_PROFILE)))
            .fix(hint),
            ResolveError::IncludeLoop { profile, cycle, .. } => err(
                "include-profile-loop",
                format!("include_profile loop {cycle}: the profiles include each other"),
            )
            .profile(profile)
            .at(self.inp.sources.key(profile, include::KEY_INCLUDE_PROFILE).or_else(|| self.inp.sources.key(profile, include::KEY_PARENT_PROFILE)))
            .fix(hint),
            ResolveError::IncludeTooDeep { profile, .. } => err(
                "include-profile-chain-too-long",
                format!("the include_profile chain of `{profile}` is longer than {} profiles", resolve::MAX_CHAIN),
            )
            .profile(profile)
            .at(self.header(profile))
            .fix(hint),
            ResolveError::TwoMfaDevices { profile, first, second, .. } => err(
                "two-mfa-devices",
                format!("the chain uses two MFA devices ({first} and {second}); rolegate asks for one code per chain"),
            )
            .profile(profile)
            .at(self.key(profile, "mfa_serial"))
            .fix(hint),
        }
    }

    /// The region and where `plan` found it.
    fn region(&self, plan: &Plan) -> RegionReport {
        let value = plan.region.clone();
        match &plan.region_source {
            Source::Env(var) => RegionReport { value, source: var, profile: None, file: None, line: None },
            Source::Setting { profile, key } => {
                let at = self.key(profile, key);
                RegionReport {
                    value,
                    source: "profile",
                    profile: Some(profile.clone()),
                    file: at.as_ref().map(|l| l.file.display().to_string()),
                    line: at.map(|l| l.line),
                }
            }
            Source::Flag(_) | Source::Services { .. } | Source::Default => {
                RegionReport { value, source: "default", profile: None, file: None, line: None }
            }
        }
    }

    /// Where `plan` found the STS endpoint URL, in the report's words.
    fn endpoint_source(&self, plan: &Plan) -> (&'static str, Option<Location>) {
        match &plan.endpoint_source {
            Source::Env(var) => (var, None),
            Source::Services { name, .. } => ("services", self.inp.sources.services(name, Some("sts.endpoint_url"))),
            Source::Setting { profile, key } => ("endpoint_url", self.key(profile, key)),
            Source::Flag(_) | Source::Default => ("default", None),
        }
    }

    fn explain(&mut self, name: &str, plan: &Plan) -> ProfileReport {
        let chain = &plan.chain;
        let at = self.header(name);
        let mut hops = vec![self.base_hop(&chain.base)];
        for hop in &chain.hops {
            let at = self.header(&hop.profile);
            hops.push(Hop {
                profile: hop.profile.clone(),
                kind: "role",
                file: at.as_ref().map(|l| l.file.display().to_string()),
                line: at.map(|l| l.line),
                access_key_id: None,
                keystore: None,
                temporary: None,
                command: None,
                role_arn: Some(hop.role_arn.clone()),
                external_id: hop.external_id.clone(),
                role_session_name: hop.role_session_name.clone(),
                duration_seconds: hop.duration_seconds,
                mfa_serial: hop.mfa_serial.clone(),
                settings: self.settings(&hop.profile),
            });
        }

        let mfa = chain.mfa_serial().filter(|_| plan.strategy != MfaStrategy::None).map(|serial| {
            let owner = chain_profiles(chain)
                .into_iter()
                .find(|p| self.inp.profiles.get(p).and_then(|pp| pp.get("mfa_serial")).is_some_and(|s| s == serial))
                .unwrap_or_else(|| chain.base.profile().to_string());
            let at = self.key(&owner, "mfa_serial");
            let hop = match plan.strategy {
                MfaStrategy::Direct => chain.mfa_hop().map(|i| i + 1),
                _ => None,
            };
            MfaReport {
                serial: serial.to_string(),
                profile: owner,
                file: at.as_ref().map(|l| l.file.display().to_string()),
                line: at.map(|l| l.line),
                hop,
                call: if hop.is_some() { "AssumeRole" } else { "GetSessionToken" },
            }
        });

        let strategy = self.strategy(plan);
        let region = self.region(plan);
        let (source, endpoint_at) = self.endpoint_source(plan);
        let sts_endpoint = EndpointReport {
            url: plan.endpoint.url.clone(),
            signing_region: plan.endpoint.signing_region.clone(),
            source,
            file: endpoint_at.as_ref().map(|l| l.file.display().to_string()),
            line: endpoint_at.map(|l| l.line),
            clock_skew_seconds: self.skews.get(&plan.endpoint.url).and_then(|r| r.as_ref().ok().copied()),
        };
        let cache = self.inp.cache_private.then(|| {
            let mfa_session = plan.mfa_session_key.as_ref().map(|k| self.cache_entry(k));
            let role = (!chain.hops.is_empty()).then(|| self.cache_entry(&plan.result_key));
            ProfileCacheReport { mfa_session, role }
        });

        ProfileReport {
            name: name.to_string(),
            file: at.as_ref().map(|l| l.file.display().to_string()),
            line: at.map(|l| l.line),
            stands_for: (chain.profile != name).then(|| chain.profile.clone()),
            ok: true,
            error: None,
            chain: hops,
            mfa,
            strategy: Some(strategy),
            region: Some(region),
            sts_endpoint: Some(sts_endpoint),
            cache,
        }
    }

    fn base_hop(&self, base: &Base) -> Hop {
        let profile = base.profile();
        let at = self.header(profile);
        let (kind, access_key_id, temporary, command) = match base {
            Base::StaticKeys { access_key_id, session_token, .. } => {
                ("static-keys", Some(access_key_id.clone()), Some(session_token.is_some()), None)
            }
            Base::Environment { .. } => ("environment", None, None, None),
            Base::Process { command, .. } => ("credential-process", None, None, Some(command.clone())),
            Base::Stored { access_key_id, .. } => ("stored-keys", Some(access_key_id.clone()), Some(false), None),
        };
        let keystore = match base {
            Base::Stored { backend, .. } => Some(backend.name()),
            _ => None,
        };
        Hop {
            profile: profile.to_string(),
            kind,
            file: at.as_ref().map(|l| l.file.display().to_string()),
            line: at.map(|l| l.line),
            access_key_id,
            keystore,
            temporary,
            command,
            role_arn: None,
            external_id: None,
            role_session_name: None,
            duration_seconds: None,
            mfa_serial: self.inp.profiles.get(profile).and_then(|p| p.get("mfa_serial")).cloned(),
            settings: self.settings(profile),
        }
    }

    /// The profile's settings, in file order, secrets without their values.
    fn settings(&self, profile: &str) -> Vec<SettingReport> {
        let Some(props) = self.inp.profiles.get(profile) else { return Vec::new() };
        let mut out: Vec<(Option<Location>, SettingReport)> = props
            .iter()
            .map(|(k, v)| {
                let at = self.key(profile, k);
                let report = SettingReport {
                    key: k.clone(),
                    value: (!SECRET_KEYS.contains(&k.as_str())).then(|| v.clone()),
                    file: at.as_ref().map(|l| l.file.display().to_string()),
                    line: at.as_ref().map(|l| l.line),
                    included_from: self.inp.profiles.inherited_from(profile, k).map(str::to_string),
                };
                (at, report)
            })
            .collect();
        out.sort_by(|(a, _), (b, _)| a.as_ref().map(|l| (&l.file, l.line)).cmp(&b.as_ref().map(|l| (&l.file, l.line))));
        out.into_iter().map(|(_, r)| r).collect()
    }

    fn strategy(&self, plan: &Plan) -> StrategyReport {
        let configured_at =
            self.key(&plan.chain.profile, KEY_MFA_STRATEGY).map(|l| format!(" ({})", l.render())).unwrap_or_default();
        let per_role = "a new code is asked each time the role expires";
        let (name, reason, explanation) = match (&plan.strategy, &plan.reason) {
            (MfaStrategy::None, _) => ("none", "no-mfa", "no mfa_serial in the chain: the roles are assumed without a code".to_string()),
            (MfaStrategy::Session, StrategyReason::Configured) => (
                "session",
                "configured",
                format!("{KEY_MFA_STRATEGY} = session{configured_at}: one code per MFA session (GetSessionToken); roles assumed from it last 1 h at most and are re-assumed silently"),
            ),
            (MfaStrategy::Session, _) => (
                "session",
                "default",
                "one code a day: GetSessionToken with the code gives an MFA session shared by every role with the same keys and device; roles are assumed from it without a prompt, last 1 h at most (role chaining) and are re-assumed silently".to_string(),
            ),
            (MfaStrategy::Direct, StrategyReason::LongRole { profile, seconds }) => (
                "direct",
                "long-role",
                format!("`{profile}` asks for duration_seconds = {seconds}, above the 1 h cap of roles assumed from an MFA session: the code goes to AssumeRole itself; {per_role}"),
            ),
            (MfaStrategy::Direct, StrategyReason::LaterHop { profile }) => (
                "direct",
                "later-hop",
                format!("mfa_serial is on `{profile}`, a role assumed with another role's credentials: the code goes to that AssumeRole; {per_role}"),
            ),
            (MfaStrategy::Direct, StrategyReason::TemporaryBase) => (
                "direct",
                "temporary-base",
                format!("the base keys are temporary (aws_session_token) and GetSessionToken needs long-term keys: the code goes to AssumeRole itself; {per_role}"),
            ),
            (MfaStrategy::Direct, _) => (
                "direct",
                "configured",
                format!("{KEY_MFA_STRATEGY} = direct{configured_at}: the code goes to AssumeRole itself; {per_role}"),
            ),
        };
        StrategyReport {
            name,
            reason,
            explanation,
            mfa_session_seconds: (plan.strategy == MfaStrategy::Session).then_some(plan.mfa_session_seconds),
            roles: plan
                .chain
                .hops
                .iter()
                .enumerate()
                .map(|(i, h)| RoleDuration { profile: h.profile.clone(), seconds: plan.role_seconds(i) })
                .collect(),
        }
    }

    fn cache_entry(&mut self, key: &crate::cache::CacheKey) -> CacheEntryReport {
        let (cache, now) = (self.inp.cache, self.inp.ctx.now());
        let files = self.cache_files.get_or_insert_with(|| {
            std::fs::read_dir(cache.dir())
                .map(|dir| dir.filter_map(Result::ok).map(|e| e.file_name()).collect())
                .unwrap_or_default()
        });
        let listed = files.contains(std::ffi::OsStr::new(&format!("{}.json", key.digest)));
        let report = self.entries.entry(key.digest.clone()).or_insert_with(|| {
            let entry = if listed { cache.read(key) } else { None };
            CacheEntryReport {
                key: key.digest.clone(),
                present: entry.is_some(),
                expires: entry.as_ref().map(|e| format_expiration(e.credentials.expiration)),
                fresh: entry.as_ref().is_some_and(|e| crate::cache::is_fresh(e, now, None)),
            }
        });
        report.clone()
    }
}

/// The profiles of a resolved chain: the requested one, its roles from the last, the base.
fn chain_profiles(chain: &resolve::Chain) -> Vec<String> {
    let mut out = vec![chain.profile.clone()];
    out.extend(chain.hops.iter().rev().map(|h| h.profile.clone()));
    out.push(chain.base.profile().to_string());
    out.dedup();
    out
}

/// `start` and every profile it reaches through source_profile or a rolegate credential_process,
/// as written (no validation), without repeats.
pub fn chain_names(profiles: &Profiles, start: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut todo = vec![start.to_string()];
    while let Some(name) = todo.pop() {
        if out.contains(&name) || out.len() > resolve::MAX_CHAIN {
            continue;
        }
        let Some(props) = profiles.get(&name) else { continue };
        out.push(name);
        if let Some(source) = props.get("source_profile") {
            todo.push(source.clone());
        }
        if let Some(target) = props.get("credential_process").and_then(|c| resolve::rolegate_target(c)) {
            todo.push(target);
        }
    }
    out
}

/// The mistake behind an `mfa_serial` that is not an MFA device.
/// How to give `profile` its keys when the credentials file does not exist.
fn store_keys_fix(profile: &str, credentials: &std::path::Path) -> String {
    let quoted = crate::config::quote(profile);
    format!(
        "store the access key of profile `{profile}`: `rolegate add {quoted}` (the OS credential store), or `aws configure --profile {quoted}` (writes {})",
        credentials.display()
    )
}

fn mfa_serial_finding(value: &str) -> Finding {
    let id = "mfa-serial-not-mfa";
    let console = "IAM console: Users > your user > Security credentials > Multi-factor authentication";
    if value.starts_with("arn:")
        && let Some((prefix, user)) = value.split_once(":user/")
    {
        let name = user.rsplit('/').next().unwrap_or(user);
        let suggestion = format!("{prefix}:mfa/{name}");
        return Finding::new(
            Severity::Error,
            id,
            format!("mfa_serial `{value}` is the ARN of an IAM user, not of its MFA device"),
        )
        .fix(format!(
            "write the ARN of the user's MFA device, usually `mfa_serial = {suggestion}` ({console}; or `aws iam list-mfa-devices --user-name {name}`)"
        ));
    }
    if !value.contains(':') && !value.contains('/') {
        return Finding::new(
            Severity::Error,
            id,
            format!("mfa_serial `{value}` looks like an IAM user name, not an MFA device ARN"),
        )
        .fix(format!(
            "write the ARN of the MFA device, usually `mfa_serial = arn:aws:iam::ACCOUNT_ID:mfa/{value}` with your account id ({console}; or `aws iam list-mfa-devices --user-name {value}`)"
        ));
    }
    Finding::new(
        Severity::Error,
        id,
        format!("mfa_serial `{value}` is not an MFA device ARN (expected arn:aws:iam::ACCOUNT_ID:mfa/NAME)"),
    )
    .fix(format!("write the ARN of the MFA device ({console}; or `aws iam list-mfa-devices`)"))
}

fn odd_section_finding(odd: &OddSection) -> Finding {
    match odd {
        OddSection::ConfigWithoutPrefix { name, at } => Finding::new(
            Severity::Warning,
            "config-section-without-profile-prefix",
            format!("section `[{name}]` in the config file is ignored by the SDKs: only `[profile {name}]` (and `[default]`) define profiles there"),
        )
        .profile(name)
        .at(Some(at.clone()))
        .fix(format!("write `[profile {name}]`")),
        OddSection::CredentialsWithPrefix { name, at } => Finding::new(
            Severity::Warning,
            "credentials-section-with-profile-prefix",
            format!("section `[profile {name}]` in the credentials file defines a profile named `profile {name}`, not `{name}`"),
        )
        .profile(name)
        .at(Some(at.clone()))
        .fix(format!("write `[{name}]`: the credentials file takes section names without `profile `")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_arn_as_mfa_serial() {
        let f = mfa_serial_finding("arn:aws:iam::1:user/x");
        assert_eq!(f.message, "mfa_serial `arn:aws:iam::1:user/x` is the ARN of an IAM user, not of its MFA device");
        assert!(f.fix.unwrap().contains("usually `mfa_serial = arn:aws:iam::1:mfa/x`"));
        let f = mfa_serial_finding("arn:aws:iam::123456789012:user/team/jo");
        assert!(f.fix.unwrap().contains("usually `mfa_serial = arn:aws:iam::123456789012:mfa/jo`"));
        let f = mfa_serial_finding("jdoe");
        assert!(f.message.contains("looks like an IAM user name"));
    }

    #[test]
    fn chain_names_follow_sources_and_aliases() {
        let p = Profiles::parse(
            "[profile a-tf]\ncredential_process = rolegate credential-process a\n[profile a]\nsource_profile = b\nrole_arn = arn:aws:iam::123456789012:role/r\n[profile b]\nsource_profile = a\n",
            "",
        )
        .unwrap();
        assert_eq!(chain_names(&p, "a-tf"), ["a-tf", "a", "b"]);
    }
}
