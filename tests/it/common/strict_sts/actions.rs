//! The three STS actions the stand-in answers, and the Query API dispatch in front of them.
//!
//! Imitates real STS: `Version` must be `2011-06-15`; an unknown `Action` is `InvalidAction`
//! and a missing one `MissingAction`; `GetSessionToken` (optionally with MFA, refused to
//! temporary credentials), `AssumeRole` (unknown role, external-ID and MFA conditions answer
//! STS's "is not authorized to perform: sts:AssumeRole" text; the one-hour role-chaining cap;
//! the role's `MaxSessionDuration`; `RoleSessionName` and `DurationSeconds` validated with
//! STS's `ValidationError` messages) and `GetCallerIdentity`, with STS's XML result shapes.
//! `AssumeRole`'s `SourceIdentity`, `Tags.member.N.Key/Value` and `TransitiveTagKeys.member.N`
//! are checked against the STS API reference (lengths, patterns, at most 50, members numbered
//! 1, 2, ... without gaps, a key once whatever its case, nothing in the `aws:` namespace) and
//! need the role's trust policy to allow `sts:TagSession` / `sts:SetSourceIdentity`.
//! An MFA code is burned only when the whole call succeeds; a role session is "made with MFA"
//! when the credentials that assumed it were, or when the call carried a valid code.

use super::state::{Caller, Principal, State, UPPER_ALNUM, derived_string};
use super::xml::{
    MSG_ROLE_CHAINING_LIMIT, MSG_ROLE_MAX_DURATION, MSG_SESSION_CREDENTIALS, StsError, credentials_xml, success_xml,
    xml_escape,
};
use super::{HttpRequest, STS_VERSION, param};

/// Role-chaining cap: sessions assumed with temporary credentials last at most one hour.
const CHAINED_ROLE_MAX_SECONDS: u32 = 3600;

fn is_valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

impl State {
    /// Authenticates the request, checks `Version` and runs its `Action`: the success body, or
    /// the error STS would answer.
    pub(super) fn process(
        &mut self,
        seed: &[u8; 32],
        req: &HttpRequest,
        params: &[(String, String)],
        request_id: &str,
    ) -> Result<String, StsError> {
        let caller = self.authenticate(req)?;
        let action = param(params, "Action").unwrap_or_default();
        let version = param(params, "Version").unwrap_or("NO_VERSION_SPECIFIED");
        if version != STS_VERSION {
            return Err(StsError::new(
                400,
                "InvalidAction",
                format!("Could not find operation {action} for version {version}"),
            ));
        }
        let result = match action {
            "GetSessionToken" => self.get_session_token(seed, &caller, params)?,
            "AssumeRole" => self.assume_role(seed, &caller, params)?,
            "GetCallerIdentity" => self.get_caller_identity(seed, &caller),
            "" => return Err(StsError::new(400, "MissingAction", "Missing Action")),
            other => {
                return Err(StsError::new(
                    400,
                    "InvalidAction",
                    format!("Could not find operation {other} for version {version}"),
                ));
            }
        };
        Ok(success_xml(action, &result, request_id))
    }

    fn get_session_token(
        &mut self,
        seed: &[u8; 32],
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<String, StsError> {
        if caller.temporary {
            return Err(StsError::access_denied(MSG_SESSION_CREDENTIALS));
        }
        let duration = duration_param(params, 43200, 129600)?;
        let mfa = self.check_mfa(params)?;
        let with_mfa = mfa.is_some();
        if let Some(key) = mfa {
            self.used_codes.insert(key);
        }
        let issued = self.issue(seed, caller.principal.clone(), with_mfa, duration);
        Ok(credentials_xml(&issued))
    }

    fn assume_role(
        &mut self,
        seed: &[u8; 32],
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<String, StsError> {
        let role_arn = param(params, "RoleArn").ok_or_else(|| {
            StsError::validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
        })?;
        let session_name = param(params, "RoleSessionName").ok_or_else(|| {
            StsError::validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
        })?;
        if !is_valid_session_name(session_name) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
            )));
        }
        let duration = duration_param(params, 3600, 43200)?;
        let tags = session_tags(params)?;
        let transitive = transitive_tag_keys(params)?;
        let source_identity = param(params, "SourceIdentity");
        if let Some(id) = source_identity {
            check_source_identity(id)?;
        }
        let role = self.roles.get(role_arn).cloned().ok_or_else(|| StsError::not_authorized(caller, role_arn))?;
        if (!tags.is_empty() || !transitive.is_empty()) && !role.allows_tag_session {
            return Err(StsError::not_authorized_for(caller, "sts:TagSession", role_arn));
        }
        if source_identity.is_some() && !role.allows_source_identity {
            return Err(StsError::not_authorized_for(caller, "sts:SetSourceIdentity", role_arn));
        }
        if let Some(expected) = &role.external_id
            && param(params, "ExternalId") != Some(expected.as_str())
        {
            return Err(StsError::not_authorized(caller, role_arn));
        }
        let mfa = self.check_mfa(params)?;
        let with_mfa = caller.with_mfa || mfa.is_some();
        if role.requires_mfa && !with_mfa {
            return Err(StsError::not_authorized(caller, role_arn));
        }
        if caller.temporary && duration > CHAINED_ROLE_MAX_SECONDS {
            return Err(StsError::validation(MSG_ROLE_CHAINING_LIMIT));
        }
        if duration > role.max_session_duration {
            return Err(StsError::validation(MSG_ROLE_MAX_DURATION));
        }
        if let Some(key) = mfa {
            self.used_codes.insert(key);
        }
        let role_id = format!("AROA{}", derived_string(seed, &format!("role-{role_arn}"), UPPER_ALNUM, 17));
        let principal = Principal::AssumedRole {
            role_arn: role_arn.to_owned(),
            role_id: role_id.clone(),
            session_name: session_name.to_owned(),
        };
        let assumed_arn = principal.arn();
        let issued = self.issue(seed, principal, with_mfa, duration);
        Ok(format!(
            "{}    <AssumedRoleUser>\n      <AssumedRoleId>{}:{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n",
            credentials_xml(&issued),
            role_id,
            xml_escape(session_name),
            xml_escape(&assumed_arn)
        ))
    }

    fn get_caller_identity(&self, seed: &[u8; 32], caller: &Caller) -> String {
        let user_id = match &caller.principal {
            Principal::User { arn } => format!("AIDA{}", derived_string(seed, &format!("user-{arn}"), UPPER_ALNUM, 17)),
            Principal::AssumedRole { role_id, session_name, .. } => format!("{role_id}:{session_name}"),
        };
        format!(
            "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
            xml_escape(&caller.principal.arn()),
            xml_escape(&user_id),
            caller.principal.account()
        )
    }
}

/// `DurationSeconds`: `default` when absent, else an integer in `900..=max`.
fn duration_param(params: &[(String, String)], default: u32, max: u32) -> Result<u32, StsError> {
    let Some(raw) = param(params, "DurationSeconds") else {
        return Ok(default);
    };
    let value: i64 = raw.parse().map_err(|_| {
        StsError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be an integer"
        ))
    })?;
    if value < 900 {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    if value > i64::from(max) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(u32::try_from(value).expect("checked range"))
}

/// At most this many session tags (and transitive keys) per call.
const MAX_TAGS: usize = 50;

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() && !c.is_control() || "_.:/=+-@".contains(c)
}

/// `Tags.member.N.Key` / `.Value` for N = 1, 2, ...: a gap, a member without its key or value,
/// a bad key or value, a key twice or more than 50 tags is a `ValidationError`.
pub(super) fn session_tags(params: &[(String, String)]) -> Result<Vec<(String, String)>, StsError> {
    let members = numbered(params, "Tags.member.", &[".Key", ".Value"])?;
    let mut tags: Vec<(String, String)> = Vec::new();
    for n in 1..=members {
        let key = param(params, &format!("Tags.member.{n}.Key"));
        let value = param(params, &format!("Tags.member.{n}.Value"));
        let (Some(key), Some(value)) = (key, value) else {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value null at 'tags.{n}.member.{}' failed to satisfy constraint: Member must not be null",
                if key.is_none() { "key" } else { "value" }
            )));
        };
        check_tag_key(key, &format!("tags.{n}.member.key"))?;
        if value.chars().count() > 256 || !value.chars().all(is_tag_char) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{value}' at 'tags.{n}.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]* and have length less than or equal to 256"
            )));
        }
        if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(StsError::new(
                400,
                "InvalidParameterValue",
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        tags.push((key.to_owned(), value.to_owned()));
    }
    if tags.len() > MAX_TAGS {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    Ok(tags)
}

/// `TransitiveTagKeys.member.N` for N = 1, 2, ...
pub(super) fn transitive_tag_keys(params: &[(String, String)]) -> Result<Vec<String>, StsError> {
    let members = numbered(params, "TransitiveTagKeys.member.", &[""])?;
    let mut keys = Vec::new();
    for n in 1..=members {
        let key = param(params, &format!("TransitiveTagKeys.member.{n}")).unwrap_or_default();
        check_tag_key(key, &format!("transitiveTagKeys.{n}.member"))?;
        keys.push(key.to_owned());
    }
    if keys.len() > MAX_TAGS {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    Ok(keys)
}

/// How many members `PREFIX{N}{suffix}` are numbered 1..=N; a name whose number is not in that
/// run (a gap, a zero, a non-number) is refused.
fn numbered(params: &[(String, String)], prefix: &str, suffixes: &[&str]) -> Result<usize, StsError> {
    let mut numbers: Vec<usize> = Vec::new();
    for (name, _) in params {
        let Some(rest) = name.strip_prefix(prefix) else { continue };
        let n = suffixes
            .iter()
            .find_map(|s| rest.strip_suffix(s).filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
            .and_then(|n| n.parse::<usize>().ok());
        match n {
            Some(n) if n >= 1 => numbers.push(n),
            _ => {
                return Err(StsError::new(400, "InvalidParameterValue", format!("Unrecognized parameter: {name}")));
            }
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.iter().enumerate().any(|(i, n)| *n != i + 1) {
        return Err(StsError::new(
            400,
            "InvalidParameterValue",
            format!("{prefix}N members are not numbered 1, 2, ..."),
        ));
    }
    Ok(numbers.len())
}

fn check_tag_key(key: &str, at: &str) -> Result<(), StsError> {
    let ok = (1..=128).contains(&key.chars().count()) && key.chars().all(is_tag_char);
    if !ok {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{key}' at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+ and have length between 1 and 128"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(StsError::new(400, "InvalidParameterValue", "Tag keys with the prefix 'aws:' are reserved."));
    }
    Ok(())
}

/// `SourceIdentity`: 2 to 64 of `[\w+=,.@-]` (so never `aws:...`).
fn check_source_identity(id: &str) -> Result<(), StsError> {
    if !is_valid_session_name(id) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{id}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
        )));
    }
    Ok(())
}
