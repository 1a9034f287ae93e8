//! Profile -> [`Chain`]: which credentials start the chain, which roles are assumed in turn,
//! and where MFA is asked for. Pure code: no file, network or terminal access.
//!
//! The rules are the SDKs' (aws-config `repr.rs`, botocore's `AssumeRoleProvider`):
//! - a profile with `role_arn` takes its source credentials from `source_profile` (followed
//!   recursively) or from `credential_source`; exactly one of the two;
//! - after the first profile, a profile with static keys ends the chain even if it also has a
//!   `role_arn` (a `source_profile` pointing at itself therefore means "my own keys");
//! - a profile without `role_arn` is a base: `credential_source`, then static keys, then
//!   `credential_process` (botocore's and the Go SDK's order).
//!
//! rolegate adds: `mfa_serial` may sit on the role profile (as botocore reads it) or on the
//! source profile that holds the keys (as aws-vault reads it); a base `credential_process` that
//! calls rolegate for a profile of this same chain is refused (it would recurse forever). From
//! aws-vault: the settings a profile takes through `include_profile` (applied at parse time,
//! `super::include`; a broken inclusion fails the chain at that profile), and each role's
//! `source_identity`, `session_tags` and `transitive_session_tags` ([`SessionAttributes`]).

use std::collections::BTreeMap;

use super::include::IncludeProblem;
pub use super::include::MAX_CHAIN;
use super::{Profiles, Properties};
use crate::credentials::Secret;
use crate::store::{self, Backend};

/// Profile key: `session` or `direct` (see `plan::MfaStrategy`). The SDKs ignore unknown keys.
pub const KEY_MFA_STRATEGY: &str = "rolegate_mfa_strategy";
/// Profile key: seconds an MFA session lasts (GetSessionToken `DurationSeconds`).
pub const KEY_MFA_SESSION_DURATION: &str = "rolegate_mfa_session_duration";

/// Profile key: a command that prints the MFA code.
pub const KEY_MFA_PROCESS: &str = "rolegate_mfa_process";
/// Profile key: the YubiKey OATH account that gives the code (`ykman`).
pub const KEY_YKMAN_ACCOUNT: &str = "rolegate_ykman_account";
/// Profile key: aws-vault's command that prints the MFA code (`rolegate_mfa_process` wins when
/// a profile of the chain sets both, see `mfa::select`).
pub const KEY_AWS_VAULT_MFA_PROCESS: &str = "mfa_process";

/// Profile key (aws-vault): `SourceIdentity` of the role's `AssumeRole`.
pub const KEY_SOURCE_IDENTITY: &str = "source_identity";
/// Profile key (aws-vault): `key=value,key=value`, the role session's tags (`Tags`).
pub const KEY_SESSION_TAGS: &str = "session_tags";
/// Profile key (aws-vault): `key,key`, the tags that pass to roles assumed from this one
/// (`TransitiveTagKeys`).
pub const KEY_TRANSITIVE_SESSION_TAGS: &str = "transitive_session_tags";
/// At most this many session tags (and transitive keys) per `AssumeRole` (STS's limit).
pub const MAX_SESSION_TAGS: usize = 50;

/// Keys that make an SDK get credentials some other way before (or instead of) a profile's
/// `credential_process`: a profile meant to call rolegate must have none of them.
pub const PRE_EMPTING_KEYS: &[&str] = &[
    "role_arn",
    "source_profile",
    "credential_source",
    "mfa_serial",
    "external_id",
    "role_session_name",
    "duration_seconds",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "sso_region",
];

/// Where the first credentials of a chain come from.
#[derive(Clone, Debug)]
pub enum Base {
    /// `aws_access_key_id` / `aws_secret_access_key` (and maybe `aws_session_token`) in a profile.
    StaticKeys { profile: String, access_key_id: String, secret_access_key: Secret, session_token: Option<Secret> },
    /// `credential_source = Environment`: the `AWS_ACCESS_KEY_ID`... variables.
    Environment { profile: String },
    /// `credential_process` on the base profile.
    Process { profile: String, command: String },
    /// `rolegate_keystore` + `rolegate_access_key_id`: long-term keys whose secret is in an OS
    /// credential store ([`crate::store`]), read only when an STS call is signed with them.
    Stored { profile: String, backend: Backend, access_key_id: String },
}

impl Base {
    pub fn profile(&self) -> &str {
        match self {
            Base::StaticKeys { profile, .. }
            | Base::Environment { profile }
            | Base::Process { profile, .. }
            | Base::Stored { profile, .. } => profile,
        }
    }

    /// Whether the base holds long-term keys (GetSessionToken needs them). Process and
    /// environment credentials are only known when fetched; they count as long-term when they
    /// carry no session token, decided then.
    pub fn has_session_token(&self) -> Option<bool> {
        match self {
            Base::StaticKeys { session_token, .. } => Some(session_token.is_some()),
            Base::Stored { .. } => Some(false),
            _ => None,
        }
    }
}

/// One `AssumeRole` in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleHop {
    pub profile: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub role_session_name: Option<String>,
    pub duration_seconds: Option<u32>,
    pub mfa_serial: Option<String>,
    /// `source_identity`, `session_tags`, `transitive_session_tags` of the role's profile.
    pub attributes: SessionAttributes,
}

/// What a role session is marked with for the role's policies and CloudTrail: sent with the
/// hop's `AssumeRole` as `SourceIdentity`, `Tags.member.N.Key/Value` and
/// `TransitiveTagKeys.member.N`. Checked here against STS's formats, so that a typo is an error
/// naming the profile, not a `ValidationError` from STS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionAttributes {
    pub source_identity: Option<String>,
    /// In the order written.
    pub tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
}

impl SessionAttributes {
    pub fn is_empty(&self) -> bool {
        self.source_identity.is_none() && self.tags.is_empty() && self.transitive_tag_keys.is_empty()
    }

    /// One line for cache key material: every value, unambiguous.
    pub fn key_material(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        // JSON strings: a value may hold `=`, `,` or `|`.
        serde_json::json!([self.source_identity, self.tags, self.transitive_tag_keys]).to_string()
    }
}

/// A resolved profile: a base, then zero or more roles, base first.
#[derive(Clone, Debug)]
pub struct Chain {
    /// The profile asked for.
    pub profile: String,
    pub base: Base,
    pub hops: Vec<RoleHop>,
    /// `mfa_serial` of a profile that has keys and no role: an MFA session is the result.
    pub base_mfa_serial: Option<String>,
}

impl Chain {
    /// The index of the hop that needs MFA, if any; `None` with `base_mfa_serial` set means the
    /// MFA session itself is the result.
    pub fn mfa_hop(&self) -> Option<usize> {
        self.hops.iter().position(|h| h.mfa_serial.is_some())
    }

    pub fn mfa_serial(&self) -> Option<&str> {
        self.hops.iter().find_map(|h| h.mfa_serial.as_deref()).or(self.base_mfa_serial.as_deref())
    }

    /// The profile names, target first, e.g. `target -> base`.
    pub fn describe(&self) -> String {
        let mut names: Vec<&str> = self.hops.iter().rev().map(|h| h.profile.as_str()).collect();
        if names.last() != Some(&self.base.profile()) {
            names.push(self.base.profile());
        }
        names.join(" -> ")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("profile `{profile}` not found in {files}")]
    ProfileNotFound {
        profile: String,
        files: String,
        /// A defined profile whose name is close (a typo, another case).
        nearest: Option<String>,
    },
    #[error(
        "profile `{profile}` ({file}): the section [profile {profile}] is not read: the AWS SDKs' parser takes only profile names of letters, digits and -_/.%@:+"
    )]
    ProfileNameRejected { profile: String, file: String },
    #[error("profile `{profile}` ({file}) names source_profile `{source_profile}`, which does not exist")]
    SourceProfileNotFound { profile: String, source_profile: String, file: String },
    #[error("profile `{profile}` ({file}): source_profile loop {cycle}")]
    Loop { profile: String, cycle: String, file: String },
    #[error("profile `{profile}` ({file}): the source_profile chain is longer than {MAX_CHAIN} profiles")]
    TooDeep { profile: String, file: String },
    #[error("profile `{profile}` ({file}) has both source_profile and credential_source")]
    BothSources { profile: String, file: String },
    #[error("profile `{profile}` ({file}) has role_arn but neither source_profile nor credential_source")]
    NoSource { profile: String, file: String },
    #[error(
        "profile `{profile}` ({file}) has no credentials: no aws_access_key_id, credential_process, credential_source or role_arn"
    )]
    NoCredentials { profile: String, file: String },
    #[error("profile `{profile}` ({file}) has {present} but not {missing}")]
    IncompleteKeys { profile: String, file: String, present: &'static str, missing: &'static str },
    #[error("profile `{profile}` ({file}): credential_source `{value}` is not supported by rolegate")]
    UnsupportedCredentialSource { profile: String, file: String, value: String },
    #[error("profile `{profile}` ({file}) uses {what}, which rolegate does not support as a base")]
    UnsupportedBase {
        profile: String,
        file: String,
        what: &'static str,
        /// A profile of the chain has `mfa_serial`: the SDKs cannot serve it on their own either.
        needs_mfa: bool,
    },
    #[error("profile `{profile}` ({file}): {key} `{value}` is not valid: {why}")]
    BadValue { profile: String, file: String, key: &'static str, value: String, why: &'static str },
    #[error(
        "profile `{profile}` ({file}): its credential_process runs rolegate for profile `{target}` of this same chain, which would call itself forever"
    )]
    SelfRecursion { profile: String, file: String, target: String },
    #[error(
        "profile `{profile}` ({file}): the chain uses two MFA devices ({first} and {second}); rolegate asks for one code per chain"
    )]
    TwoMfaDevices { profile: String, file: String, first: String, second: String },
    #[error(
        "profile `{profile}` ({file}): include_profile names `{included}` (in `{including}`), which does not exist"
    )]
    IncludeNotFound { profile: String, file: String, including: String, included: String },
    #[error("profile `{profile}` ({file}): include_profile loop {cycle}")]
    IncludeLoop { profile: String, file: String, cycle: String },
    #[error("profile `{profile}` ({file}): the include_profile chain is longer than {MAX_CHAIN} profiles")]
    IncludeTooDeep { profile: String, file: String },
}

/// What [`ResolveError::UnsupportedBase`] names for a chain that starts at an IAM Identity
/// Center profile (`sso_session` or `sso_start_url`).
pub const SSO_BASE: &str = "IAM Identity Center (sso_*)";

impl ResolveError {
    /// The IAM Identity Center profile a chain starts at, when that is why it failed and no
    /// profile of the chain asks for MFA: the SDKs serve such chains themselves.
    pub fn sso_profile(&self) -> Option<&str> {
        match self {
            ResolveError::UnsupportedBase { profile, what: SSO_BASE, needs_mfa: false, .. } => Some(profile),
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ResolveError::ProfileNotFound { nearest: Some(nearest), .. } => format!("`aws configure list-profiles` lists the profiles; the name is case-sensitive: did you mean `{nearest}`?"),
            ResolveError::ProfileNotFound { .. } => "`aws configure list-profiles` lists the profiles; the name is case-sensitive".into(),
            ResolveError::ProfileNameRejected { .. } => "rename the profile without spaces or other characters (botocore reads it, but the Go SDK of Terraform and the Rust SDK do not)".into(),
            ResolveError::SourceProfileNotFound { source_profile, .. } => format!("add a [profile {source_profile}] section (or [{source_profile}] in the credentials file), or fix the name"),
            ResolveError::Loop { .. } => "one profile of the loop must hold the keys (aws_access_key_id/aws_secret_access_key) instead of a source_profile".into(),
            ResolveError::TooDeep { .. } => "shorten the chain; real chains have two or three profiles".into(),
            ResolveError::BothSources { .. } => "keep one of source_profile and credential_source".into(),
            ResolveError::NoSource { .. } => "add `source_profile = <profile with your keys>`".into(),
            ResolveError::NoCredentials { .. } => "add aws_access_key_id and aws_secret_access_key (in ~/.aws/credentials), or source_profile + role_arn".into(),
            ResolveError::IncompleteKeys { missing, .. } => format!("add {missing} next to it"),
            ResolveError::UnsupportedCredentialSource { .. } => "use `credential_source = Environment`, or `source_profile` naming a profile with keys".into(),
            ResolveError::UnsupportedBase { what: SSO_BASE, profile, needs_mfa: false, .. } => format!("the AWS SDKs and CLI sign in to IAM Identity Center themselves: run `aws sso login --profile {profile}`, then use the profile directly (AWS_PROFILE, or `profile` in Terraform); `rolegate exec PROFILE -- COMMAND` runs COMMAND that way"),
            ResolveError::UnsupportedBase { .. } => "point source_profile at a profile with static keys, credential_process, or credential_source = Environment".into(),
            ResolveError::BadValue { key, .. } => match *key {
                "role_arn" => "a role ARN looks like arn:aws:iam::123456789012:role/NAME".into(),
                "mfa_serial" => "an MFA serial looks like arn:aws:iam::123456789012:mfa/NAME (IAM console: Security credentials)".into(),
                "credential_source" => "use `credential_source = Environment`, or `source_profile` naming a profile with keys".into(),
                "role_session_name" => "a session name is 2 to 64 letters, digits and +=,.@-_ (for example `rolegate-alice`)".into(),
                KEY_SOURCE_IDENTITY => "a source identity is 2 to 64 letters, digits and +=,.@-_, not starting with `aws:` (for example `alice`)".into(),
                KEY_SESSION_TAGS => "write `session_tags = key1=value1,key2=value2`: keys of letters, digits, blanks and _.:/=+-@ (not starting with `aws:`, at most 128), values the same (at most 256), at most 50 tags, each key once".into(),
                KEY_TRANSITIVE_SESSION_TAGS => "write `transitive_session_tags = key1,key2`: tag keys of letters, digits, blanks and _.:/=+-@, at most 50".into(),
                _ => "durations are whole seconds: 900 to 43200 for roles, 900 to 129600 for MFA sessions".into(),
            },
            ResolveError::SelfRecursion { target, .. } => format!("a profile with `credential_process = rolegate credential-process X` must not be X itself or X's source; name the profile that has role_arn/mfa_serial (here probably `{target}`'s role profile), not the credential_process profile"),
            ResolveError::TwoMfaDevices { .. } => "put mfa_serial on one profile of the chain only".into(),
            ResolveError::IncludeNotFound { included, .. } => format!("add a [profile {included}] section, or fix the name in include_profile"),
            ResolveError::IncludeLoop { .. } => "remove include_profile from one profile of the loop".into(),
            ResolveError::IncludeTooDeep { .. } => "shorten the include_profile chain".into(),
        })
    }
}

/// Names by which the rolegate binary may be called from a `credential_process` line.
pub const SELF_NAMES: &[&str] = &["rolegate"];

/// Resolves `profile` in `profiles`.
pub fn resolve(profiles: &Profiles, profile: &str) -> Result<Chain, ResolveError> {
    resolve_chain(profiles, profile).map_err(|e| match e {
        // Name the file that holds the half key pair, not the first section of the profile.
        ResolveError::IncompleteKeys { profile, present, missing, file } => ResolveError::IncompleteKeys {
            file: profiles.origin_of_key(&profile, present).map_or(file, |p| p.display().to_string()),
            profile,
            present,
            missing,
        },
        // The section exists in the text, but the SDK parser dropped it: say why.
        ResolveError::ProfileNotFound { profile, files, .. } => match profiles.origin(&profile) {
            Some(file) => ResolveError::ProfileNameRejected { profile, file: file.display().to_string() },
            None => ResolveError::ProfileNotFound { nearest: nearest_name(profiles, &profile), profile, files },
        },
        other => other,
    })
}

/// The defined profile whose name is closest to `wanted`, if it is close: the same letters in
/// another case, or at most two edits away (one for names of four letters or fewer).
pub fn nearest_name(profiles: &Profiles, wanted: &str) -> Option<String> {
    let limit = if wanted.chars().count() <= 4 { 1 } else { 2 };
    profiles
        .profiles
        .keys()
        .map(|name| {
            let distance = if name.eq_ignore_ascii_case(wanted) { 0 } else { edit_distance(name, wanted) };
            (distance, name)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, name)| name.clone())
}

/// Levenshtein distance between two names (by characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn resolve_chain(profiles: &Profiles, profile: &str) -> Result<Chain, ResolveError> {
    let file =
        |name: &str| profiles.origin(name).map_or_else(|| profiles.describe_files(), |p| p.display().to_string());
    let first = profiles.get(profile).ok_or_else(|| ResolveError::ProfileNotFound {
        profile: profile.into(),
        files: profiles.describe_files(),
        nearest: None,
    })?;
    let _ = first;

    let mut visited: Vec<String> = Vec::new();
    let mut hops: Vec<RoleHop> = Vec::new();
    let mut name = profile.to_string();
    let (base, base_props) = loop {
        let props = match profiles.get(&name) {
            Some(p) => p,
            None => {
                let from = visited.last().cloned().unwrap_or_default();
                return Err(ResolveError::SourceProfileNotFound {
                    file: file(&from),
                    profile: from,
                    source_profile: name,
                });
            }
        };
        if visited.contains(&name) {
            let start = visited.iter().position(|v| *v == name).unwrap_or(0);
            let mut cycle: Vec<&str> = visited[start..].iter().map(String::as_str).collect();
            cycle.push(&name);
            return Err(ResolveError::Loop { profile: profile.into(), cycle: cycle.join(" -> "), file: file(profile) });
        }
        if visited.len() >= MAX_CHAIN {
            return Err(ResolveError::TooDeep { profile: profile.into(), file: file(profile) });
        }
        visited.push(name.clone());
        if let Some(problem) = profiles.include_problem(&name) {
            return Err(include_error(&name, file(&name), problem));
        }

        // After the first profile, static keys end the chain.
        if visited.len() > 1 && (props.contains_key("aws_access_key_id") || props.contains_key(store::KEY_KEYSTORE)) {
            break (keys(&name, props, &file)?, props);
        }
        // An unsupported base says whether the chain asks for MFA (an SSO chain that does not
        // is the SDKs' to serve).
        let base_of = |name: &str, props: &Properties, hops: &[RoleHop]| {
            base_of(name, props, &file).map_err(|e| match e {
                ResolveError::UnsupportedBase { profile, file, what, .. } => ResolveError::UnsupportedBase {
                    profile,
                    file,
                    what,
                    needs_mfa: props.contains_key("mfa_serial") || hops.iter().any(|h| h.mfa_serial.is_some()),
                },
                other => other,
            })
        };
        let Some(role_arn) = props.get("role_arn") else {
            break (base_of(&name, props, &hops)?, props);
        };
        if props.contains_key("web_identity_token_file") {
            return Err(ResolveError::UnsupportedBase {
                profile: name.clone(),
                file: file(&name),
                what: "web_identity_token_file",
                needs_mfa: props.contains_key("mfa_serial") || hops.iter().any(|h| h.mfa_serial.is_some()),
            });
        }
        hops.push(role_hop(&name, role_arn, props, &file)?);
        match (props.get("source_profile"), props.get("credential_source")) {
            (Some(_), Some(_)) => return Err(ResolveError::BothSources { profile: name.clone(), file: file(&name) }),
            (None, None) => return Err(ResolveError::NoSource { profile: name.clone(), file: file(&name) }),
            (None, Some(_)) => break (base_of(&name, props, &hops)?, props),
            (Some(source), None)
                if *source == name
                    && (props.contains_key("aws_access_key_id") || props.contains_key(store::KEY_KEYSTORE)) =>
            {
                break (keys(&name, props, &file)?, props);
            }
            (Some(source), None) => name = source.clone(),
        }
    };
    hops.reverse();

    // mfa_serial on the profile that holds the keys applies to the first role (aws-vault's reading),
    // or, with no role at all, makes the result an MFA session.
    let base_serial = base_props.get("mfa_serial").map(|s| check_mfa_serial(base.profile(), s, &file)).transpose()?;
    let mut base_mfa_serial = None;
    match hops.first_mut() {
        Some(first) if first.mfa_serial.is_none() && first.profile != base.profile() => first.mfa_serial = base_serial,
        Some(_) => {}
        None => base_mfa_serial = base_serial,
    }
    let mut serials = hops.iter().filter_map(|h| h.mfa_serial.as_ref().map(|s| (h, s)));
    if let Some((_, first)) = serials.next()
        && let Some((hop, second)) = serials.find(|(_, s)| *s != first)
    {
        return Err(ResolveError::TwoMfaDevices {
            profile: hop.profile.clone(),
            file: file(&hop.profile),
            first: first.clone(),
            second: second.clone(),
        });
    }

    // A base credential_process that calls rolegate for a profile of this chain recurses.
    if let Base::Process { profile: p, command } = &base
        && let Some(target) = rolegate_target(command)
        && visited.contains(&target)
    {
        return Err(ResolveError::SelfRecursion { profile: p.clone(), file: file(p), target });
    }

    Ok(Chain { profile: profile.into(), base, hops, base_mfa_serial })
}

fn include_error(name: &str, file: String, problem: &IncludeProblem) -> ResolveError {
    let profile = name.to_string();
    match problem {
        IncludeProblem::Missing { including, included } => {
            ResolveError::IncludeNotFound { profile, file, including: including.clone(), included: included.clone() }
        }
        IncludeProblem::Loop { cycle } => ResolveError::IncludeLoop { profile, file, cycle: cycle.clone() },
        IncludeProblem::TooDeep => ResolveError::IncludeTooDeep { profile, file },
    }
}

fn base_of(name: &str, props: &Properties, file: &dyn Fn(&str) -> String) -> Result<Base, ResolveError> {
    if let Some(source) = props.get("credential_source") {
        return match source.as_str() {
            "Environment" => Ok(Base::Environment { profile: name.into() }),
            "Ec2InstanceMetadata" | "EcsContainer" => Err(ResolveError::UnsupportedCredentialSource {
                profile: name.into(),
                file: file(name),
                value: source.clone(),
            }),
            _ => Err(ResolveError::BadValue {
                profile: name.into(),
                file: file(name),
                key: "credential_source",
                value: source.clone(),
                why: "expected Environment, Ec2InstanceMetadata or EcsContainer",
            }),
        };
    }
    if props.contains_key("web_identity_token_file") {
        return Err(ResolveError::UnsupportedBase {
            profile: name.into(),
            file: file(name),
            what: "web_identity_token_file",
            needs_mfa: false,
        });
    }
    if props.contains_key("sso_session") || props.contains_key("sso_start_url") {
        return Err(ResolveError::UnsupportedBase {
            profile: name.into(),
            file: file(name),
            what: SSO_BASE,
            needs_mfa: false,
        });
    }
    // Static keys before credential_process, as botocore and the Go SDK (Terraform) order them.
    if props.contains_key("aws_access_key_id") || props.contains_key("aws_secret_access_key") {
        return static_keys(name, props, file);
    }
    if props.contains_key(store::KEY_KEYSTORE) || props.contains_key(store::KEY_ACCESS_KEY_ID) {
        return stored_keys(name, props, file);
    }
    if let Some(command) = props.get("credential_process") {
        return Ok(Base::Process { profile: name.into(), command: command.clone() });
    }
    static_keys(name, props, file)
}

/// The keys of a profile that holds some: in the files, else in a store.
fn keys(name: &str, props: &Properties, file: &dyn Fn(&str) -> String) -> Result<Base, ResolveError> {
    if props.contains_key("aws_access_key_id") || props.contains_key("aws_secret_access_key") {
        return static_keys(name, props, file);
    }
    stored_keys(name, props, file)
}

/// `rolegate_keystore` + `rolegate_access_key_id`.
fn stored_keys(name: &str, props: &Properties, file: &dyn Fn(&str) -> String) -> Result<Base, ResolveError> {
    let (backend, key) = match (props.get(store::KEY_KEYSTORE), props.get(store::KEY_ACCESS_KEY_ID)) {
        (Some(b), Some(k)) => (b, k),
        (Some(_), None) => {
            return Err(ResolveError::IncompleteKeys {
                profile: name.into(),
                file: file(name),
                present: store::KEY_KEYSTORE,
                missing: store::KEY_ACCESS_KEY_ID,
            });
        }
        _ => {
            return Err(ResolveError::IncompleteKeys {
                profile: name.into(),
                file: file(name),
                present: store::KEY_ACCESS_KEY_ID,
                missing: store::KEY_KEYSTORE,
            });
        }
    };
    let backend = Backend::parse(backend).ok_or_else(|| ResolveError::BadValue {
        profile: name.into(),
        file: file(name),
        key: store::KEY_KEYSTORE,
        value: backend.clone(),
        why: "expected secret-service, kernel-keyring, keychain or credential-manager",
    })?;
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ResolveError::BadValue {
            profile: name.into(),
            file: file(name),
            key: store::KEY_ACCESS_KEY_ID,
            value: key.clone(),
            why: "an access key id is letters and digits (AKIA...)",
        });
    }
    Ok(Base::Stored { profile: name.into(), backend, access_key_id: key.clone() })
}

fn static_keys(name: &str, props: &Properties, file: &dyn Fn(&str) -> String) -> Result<Base, ResolveError> {
    let key = props.get("aws_access_key_id");
    let secret = props.get("aws_secret_access_key");
    match (key, secret) {
        (Some(k), Some(s)) => Ok(Base::StaticKeys {
            profile: name.into(),
            access_key_id: k.clone(),
            secret_access_key: Secret::new(s.clone()),
            session_token: props.get("aws_session_token").map(|t| Secret::new(t.clone())),
        }),
        (Some(_), None) => Err(ResolveError::IncompleteKeys {
            profile: name.into(),
            file: file(name),
            present: "aws_access_key_id",
            missing: "aws_secret_access_key",
        }),
        (None, Some(_)) => Err(ResolveError::IncompleteKeys {
            profile: name.into(),
            file: file(name),
            present: "aws_secret_access_key",
            missing: "aws_access_key_id",
        }),
        (None, None) => Err(ResolveError::NoCredentials { profile: name.into(), file: file(name) }),
    }
}

fn role_hop(
    name: &str,
    role_arn: &str,
    props: &Properties,
    file: &dyn Fn(&str) -> String,
) -> Result<RoleHop, ResolveError> {
    if !is_arn_of(role_arn, "iam", "role/") {
        return Err(ResolveError::BadValue {
            profile: name.into(),
            file: file(name),
            key: "role_arn",
            value: role_arn.into(),
            why: "expected arn:PARTITION:iam::ACCOUNT:role/NAME",
        });
    }
    let duration_seconds = props
        .get("duration_seconds")
        .map(|d| {
            parse_duration(d, 900, 43_200).ok_or_else(|| ResolveError::BadValue {
                profile: name.into(),
                file: file(name),
                key: "duration_seconds",
                value: d.clone(),
                why: "expected whole seconds from 900 to 43200",
            })
        })
        .transpose()?;
    if let Some(n) = props.get("role_session_name") {
        let ok = (2..=64).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
        if !ok {
            return Err(ResolveError::BadValue {
                profile: name.into(),
                file: file(name),
                key: "role_session_name",
                value: n.clone(),
                why: "expected 2 to 64 characters of letters, digits and +=,.@-_",
            });
        }
    }
    Ok(RoleHop {
        profile: name.into(),
        role_arn: role_arn.into(),
        external_id: props.get("external_id").cloned(),
        role_session_name: props.get("role_session_name").cloned(),
        duration_seconds,
        mfa_serial: props.get("mfa_serial").map(|s| check_mfa_serial(name, s, file)).transpose()?,
        attributes: session_attributes(name, props, file)?,
    })
}

/// `source_identity`, `session_tags` and `transitive_session_tags`, checked against STS's
/// formats (the STS API reference: `AssumeRole`, `Tag`).
fn session_attributes(
    name: &str,
    props: &Properties,
    file: &dyn Fn(&str) -> String,
) -> Result<SessionAttributes, ResolveError> {
    let bad = |key: &'static str, value: &str, why: &'static str| ResolveError::BadValue {
        profile: name.into(),
        file: file(name),
        key,
        value: value.into(),
        why,
    };
    let mut out = SessionAttributes::default();
    if let Some(id) = props.get(KEY_SOURCE_IDENTITY) {
        let ok = (2..=64).contains(&id.chars().count())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
            && !id.to_ascii_lowercase().starts_with("aws:");
        if !ok {
            return Err(bad(KEY_SOURCE_IDENTITY, id, "expected 2 to 64 letters, digits and _+=,.@- (not aws:...)"));
        }
        out.source_identity = Some(id.clone());
    }
    if let Some(raw) = props.get(KEY_SESSION_TAGS) {
        for pair in raw.split(',') {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(bad(KEY_SESSION_TAGS, raw, "expected key=value pairs separated by commas"));
            };
            let (k, v) = (k.trim(), v.trim());
            if !is_tag_key(k) || v.chars().count() > 256 || !v.chars().all(is_tag_char) {
                return Err(bad(KEY_SESSION_TAGS, raw, "a key or value has a character STS refuses, or is too long"));
            }
            if out.tags.iter().any(|(seen, _)| seen.eq_ignore_ascii_case(k)) {
                return Err(bad(KEY_SESSION_TAGS, raw, "a key appears twice (keys are case-insensitive)"));
            }
            out.tags.push((k.to_string(), v.to_string()));
        }
        if out.tags.len() > MAX_SESSION_TAGS {
            return Err(bad(KEY_SESSION_TAGS, raw, "more than 50 tags"));
        }
    }
    if let Some(raw) = props.get(KEY_TRANSITIVE_SESSION_TAGS) {
        out.transitive_tag_keys = raw.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect();
        if !out.transitive_tag_keys.iter().all(|k| is_tag_key(k)) {
            return Err(bad(KEY_TRANSITIVE_SESSION_TAGS, raw, "a key has a character STS refuses, or is too long"));
        }
        if out.transitive_tag_keys.len() > MAX_SESSION_TAGS {
            return Err(bad(KEY_TRANSITIVE_SESSION_TAGS, raw, "more than 50 keys"));
        }
    }
    Ok(out)
}

/// A session tag key: 1 to 128 of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, not in the `aws:` namespace.
fn is_tag_key(k: &str) -> bool {
    (1..=128).contains(&k.chars().count()) && k.chars().all(is_tag_char) && !k.to_ascii_lowercase().starts_with("aws:")
}

/// A letter, a separator (blank), a number or one of `_.:/=+-@`.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || c.is_whitespace() && !c.is_control() || "_.:/=+-@".contains(c)
}

/// An ARN for virtual and most hardware devices, or a bare hardware serial (e.g. GAHT12345678).
pub fn is_mfa_serial(serial: &str) -> bool {
    let bare_hardware =
        (9..=32).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    is_arn_of(serial, "iam", "mfa/") || bare_hardware
}

fn check_mfa_serial(profile: &str, serial: &str, file: &dyn Fn(&str) -> String) -> Result<String, ResolveError> {
    if is_mfa_serial(serial) {
        Ok(serial.into())
    } else {
        Err(ResolveError::BadValue {
            profile: profile.into(),
            file: file(profile),
            key: "mfa_serial",
            value: serial.into(),
            why: "expected arn:PARTITION:iam::ACCOUNT:mfa/NAME",
        })
    }
}

/// `arn:<partition>:<service>::<12-digit account>:<resource_prefix><name>`.
pub fn is_arn_of(arn: &str, service: &str, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, svc, "", account, resource]
        if partition.starts_with("aws")
            && *svc == service
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix(resource_prefix).is_some_and(|n| !n.is_empty()))
}

/// Whole seconds within `min..=max`.
pub fn parse_duration(value: &str, min: u32, max: u32) -> Option<u32> {
    value.trim().parse::<u32>().ok().filter(|d| (min..=max).contains(d))
}

/// If `command` runs rolegate's `credential-process` (or `exec`/`export`) for a profile, that profile.
pub fn rolegate_target(command: &str) -> Option<String> {
    let words: Vec<String> = split_words(command);
    let program = words.first()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    if !SELF_NAMES.contains(&base) {
        return None;
    }
    let mut rest = words.iter().skip(1).filter(|w| !w.starts_with('-'));
    let sub = rest.next()?;
    if !matches!(sub.as_str(), "credential-process" | "exec" | "export") {
        return None;
    }
    rest.next().cloned()
}

/// Splits a command line into words the way a POSIX shell would for plain words, quotes and
/// backslashes (what [`super::quote`] writes reads back as the words it was given).
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            // In double quotes a backslash escapes only these; elsewhere it is itself.
            (Some('"'), '\\') if chars.peek().is_some_and(|n| matches!(n, '$' | '`' | '"' | '\\' | '\n')) => {
                cur.extend(chars.next().filter(|n| *n != '\n'));
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
            },
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// For tests and fuzzing: a [`Profiles`] from plain maps.
/// `include_profile` is applied as when files are parsed.
pub fn profiles_from_maps(mut maps: BTreeMap<String, BTreeMap<String, String>>) -> Profiles {
    let inclusions = super::include::apply(&mut maps);
    Profiles { profiles: maps, inclusions, ..Profiles::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_checks() {
        assert!(is_arn_of("arn:aws:iam::123456789012:role/hc/hc-master", "iam", "role/"));
        assert!(is_arn_of("arn:aws-cn:iam::123456789012:mfa/me", "iam", "mfa/"));
        assert!(!is_arn_of("arn:aws:iam::12345678901:role/x", "iam", "role/"));
        assert!(!is_arn_of("arn:aws:iam::123456789012:user/x", "iam", "role/"));
        assert!(!is_arn_of("role/x", "iam", "role/"));
    }

    #[test]
    fn finds_rolegate_targets() {
        assert_eq!(rolegate_target("rolegate credential-process target").as_deref(), Some("target"));
        assert_eq!(
            rolegate_target("/usr/local/bin/rolegate -v credential-process 'my prof'").as_deref(),
            Some("my prof")
        );
        assert_eq!(rolegate_target("aws-vault export x"), None);
        assert_eq!(rolegate_target("rolegate list"), None);
    }
}
