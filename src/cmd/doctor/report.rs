//! What `doctor` found, as data: the `--json` document (its shape is documented, field by field,
//! in docs/DOCTOR.md and must only grow) and the text for humans rendered from the same data.
//!
//! Invariant: nothing here holds a secret. Static keys appear as their access key id only;
//! `aws_secret_access_key` and `aws_session_token` appear as a key name with a `null` value;
//! cache entries appear as kind, presence and expiry.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Location;

/// Version of the JSON document. Bumped only on an incompatible change.
pub const JSON_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem, with where it is and how to fix it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier (see docs/DOCTOR.md).
    pub id: &'static str,
    pub profile: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: String,
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(severity: Severity, id: &'static str, message: impl Into<String>) -> Finding {
        Finding { severity, id, profile: None, file: None, line: None, message: message.into(), fix: None }
    }

    pub fn profile(mut self, profile: &str) -> Finding {
        self.profile = Some(profile.to_string());
        self
    }

    pub fn at(mut self, location: Option<Location>) -> Finding {
        if let Some(l) = location {
            self.file = Some(l.file.display().to_string());
            self.line = Some(l.line);
        }
        self
    }

    pub fn in_file(mut self, file: &std::path::Path) -> Finding {
        self.file = Some(file.display().to_string());
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }

    fn place(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => Some(format!("{f}:{l}")),
            (Some(f), None) => Some(f.clone()),
            _ => None,
        }
    }
}

/// Findings without duplicates (the same problem met from two profiles' chains is one finding).
#[derive(Debug, Default)]
pub struct Findings {
    list: Vec<Finding>,
    /// What makes two findings the same, for those in `list`.
    seen: HashSet<FindingKey>,
}

type FindingKey = (&'static str, Option<String>, Option<String>, Option<u32>, String);

impl Findings {
    /// Adds `finding` unless the same one (id, profile, place, message) is already there.
    pub fn push(&mut self, finding: Finding) {
        let key = (finding.id, finding.profile.clone(), finding.file.clone(), finding.line, finding.message.clone());
        if self.seen.insert(key) {
            self.list.push(finding);
        }
    }

    /// Errors first, then warnings, then notes; within each, by file and line (findings
    /// without a place last), else in the order found.
    pub fn into_sorted(mut self) -> Vec<Finding> {
        fn key(f: &Finding) -> (Severity, bool, Option<&str>, Option<u32>) {
            (f.severity, f.file.is_none(), f.file.as_deref(), f.line)
        }
        self.list.sort_by(|a, b| key(a).cmp(&key(b)));
        self.list
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub config_file: String,
    pub credentials_file: String,
    pub cache: CacheDirReport,
    pub profiles: Vec<ProfileReport>,
    pub terraform: Option<TerraformReport>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct CacheDirReport {
    pub dir: String,
    pub exists: bool,
    /// Octal permission bits, e.g. `"0700"`.
    pub mode: Option<String>,
    pub owner_uid: Option<u32>,
    /// Owned by this user and writable by nobody else: rolegate uses it.
    pub private: bool,
}

#[derive(Debug, Serialize)]
pub struct ProfileReport {
    pub name: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// For `credential_process = rolegate credential-process OTHER`: OTHER, whose chain follows.
    pub stands_for: Option<String>,
    pub ok: bool,
    /// Why the profile cannot be served (the message of its error finding).
    pub error: Option<String>,
    /// Base first, then each role in the order they are assumed.
    pub chain: Vec<Hop>,
    pub mfa: Option<MfaReport>,
    pub strategy: Option<StrategyReport>,
    pub region: Option<RegionReport>,
    pub sts_endpoint: Option<EndpointReport>,
    pub cache: Option<ProfileCacheReport>,
}

impl ProfileReport {
    pub fn unresolved(name: &str, at: Option<Location>, error: Option<String>) -> ProfileReport {
        ProfileReport {
            name: name.to_string(),
            file: at.as_ref().map(|l| l.file.display().to_string()),
            line: at.map(|l| l.line),
            stands_for: None,
            ok: false,
            error,
            chain: Vec::new(),
            mfa: None,
            strategy: None,
            region: None,
            sts_endpoint: None,
            cache: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Hop {
    pub profile: String,
    /// `static-keys`, `stored-keys`, `environment`, `credential-process` or `role`.
    pub kind: &'static str,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Static or stored keys: the access key id (never the secret).
    pub access_key_id: Option<String>,
    /// Stored keys: the store that holds the secret (`secret-service`, `kernel-keyring`,
    /// `keychain`, `credential-manager`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keystore: Option<&'static str>,
    /// Static keys: whether they carry `aws_session_token` (temporary keys).
    pub temporary: Option<bool>,
    /// `credential-process`: the command.
    pub command: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub role_session_name: Option<String>,
    pub duration_seconds: Option<u32>,
    pub mfa_serial: Option<String>,
    /// Every setting of the profile that rolegate reads, with where it is written.
    pub settings: Vec<SettingReport>,
}

#[derive(Debug, Serialize)]
pub struct SettingReport {
    pub key: String,
    /// `null` for secrets (`aws_secret_access_key`, `aws_session_token`).
    pub value: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The profile this setting comes from through `include_profile` (`file`/`line` are there).
    pub included_from: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MfaReport {
    pub serial: String,
    /// The profile whose `mfa_serial` it is.
    pub profile: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Index in `chain` of the role whose AssumeRole carries the code (strategy `direct`), or
    /// `null` when the code goes to GetSessionToken (strategy `session`).
    pub hop: Option<usize>,
    /// `GetSessionToken` or `AssumeRole`.
    pub call: &'static str,
}

#[derive(Debug, Serialize)]
pub struct StrategyReport {
    /// `none`, `session` or `direct`.
    pub name: &'static str,
    /// `no-mfa`, `default`, `configured`, `long-role`, `later-hop` or `temporary-base`.
    pub reason: &'static str,
    pub explanation: String,
    /// Lifetime of the MFA session (strategy `session` only).
    pub mfa_session_seconds: Option<u32>,
    pub roles: Vec<RoleDuration>,
}

#[derive(Debug, Serialize)]
pub struct RoleDuration {
    pub profile: String,
    pub seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct RegionReport {
    pub value: String,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, `profile` or `default`.
    pub source: &'static str,
    pub profile: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct EndpointReport {
    pub url: String,
    pub signing_region: String,
    /// `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, `services`, `endpoint_url` or `default`.
    pub source: &'static str,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Local clock minus the endpoint's `Date`, in seconds, when it was checked.
    pub clock_skew_seconds: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct ProfileCacheReport {
    /// Strategy `session` only.
    pub mfa_session: Option<CacheEntryReport>,
    pub role: Option<CacheEntryReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CacheEntryReport {
    /// The entry's key (its file name without `.json`).
    pub key: String,
    pub present: bool,
    /// RFC 3339, UTC.
    pub expires: Option<String>,
    /// It would be served now (at least 15 minutes left).
    pub fresh: bool,
}

#[derive(Debug, Serialize)]
pub struct TerraformReport {
    pub dir: String,
    pub files: Vec<String>,
    pub blocks: Vec<TerraformBlock>,
}

#[derive(Debug, Serialize)]
pub struct TerraformBlock {
    /// `provider`, `backend` or `remote_state`.
    pub kind: &'static str,
    /// `aws`, `s3`, or the remote state's name.
    pub name: String,
    pub file: String,
    pub line: Option<u32>,
    /// The literal `profile`, when there is one.
    pub profile: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub exit_code: u8,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        let errors = count(Severity::Error);
        Summary {
            errors,
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            exit_code: u8::from(errors > 0),
        }
    }
}

fn place(file: &Option<String>, line: Option<u32>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!(" ({f}:{l})"),
        (Some(f), None) => format!(" ({f})"),
        _ => String::new(),
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `12 h`, `1 h 30 min`, `15 min`.
fn human_seconds(s: u32) -> String {
    let (h, m) = (s / 3600, (s % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The text for humans.
pub fn render_text(report: &Report) -> String {
    // About 2 KB per profile explained: one allocation for the whole report.
    let mut out = String::with_capacity(4096 + 2048 * report.profiles.len());
    out.push_str("rolegate doctor\n");
    let _ = writeln!(out, "  config file       {}", report.config_file);
    let _ = writeln!(out, "  credentials file  {}", report.credentials_file);
    let c = &report.cache;
    let cache_state = match (c.exists, &c.mode, c.private) {
        (false, _, _) => "not created yet (rolegate creates it, 0700, at first use)".to_string(),
        (true, Some(mode), true) => format!("mode {mode}, yours"),
        (true, Some(mode), false) => format!("mode {mode}, owner uid {}: NOT private", c.owner_uid.unwrap_or(0)),
        (true, None, _) => "not readable".to_string(),
    };
    let _ = writeln!(out, "  cache             {}: {cache_state}", c.dir);

    for p in &report.profiles {
        out.push('\n');
        render_profile(&mut out, p);
    }

    if let Some(tf) = &report.terraform {
        let _ = writeln!(out, "\nterraform {}: {}", tf.dir, plural(tf.files.len(), ".tf file"));
        for b in &tf.blocks {
            let what = match b.kind {
                "provider" => format!("provider \"{}\"", b.name),
                "backend" => format!("backend \"{}\"", b.name),
                _ => format!("data \"terraform_remote_state\" \"{}\"", b.name),
            };
            let at = match b.line {
                Some(l) => format!("{}:{l}", b.file),
                None => b.file.clone(),
            };
            let profile =
                b.profile.as_ref().map_or_else(|| "no literal profile".to_string(), |p| format!("profile {p}"));
            let _ = writeln!(out, "  {what} ({at}): {profile}");
        }
    }

    out.push('\n');
    if report.findings.is_empty() {
        out.push_str("no problems found\n");
        return out;
    }
    out.push_str("findings:\n");
    for f in &report.findings {
        let place = f.place().map(|p| format!("{p}: ")).unwrap_or_default();
        let _ = writeln!(out, "{}[{}]: {place}{}", f.severity.as_str(), f.id, f.message);
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "  fix: {fix}");
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{}, {}{}",
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        if s.infos > 0 { format!(", {}", plural(s.infos, "note")) } else { String::new() }
    );
    out
}

fn render_profile(out: &mut String, p: &ProfileReport) {
    let _ = writeln!(out, "profile `{}`{}", p.name, place(&p.file, p.line));
    if let Some(target) = &p.stands_for {
        let _ = writeln!(out, "  stands for `{target}` (credential_process = rolegate credential-process {target})");
    }
    if let Some(e) = &p.error {
        let _ = writeln!(out, "  cannot be served: {e}");
    }
    if p.chain.is_empty() {
        return;
    }
    let names: Vec<&str> = p.chain.iter().rev().map(|h| h.profile.as_str()).collect();
    let _ = writeln!(out, "  chain: {}", names.join(" -> "));
    for (i, hop) in p.chain.iter().enumerate() {
        let what = match hop.kind {
            "static-keys" => format!(
                "static keys, aws_access_key_id {} ({})",
                hop.access_key_id.as_deref().unwrap_or("?"),
                if hop.temporary == Some(true) { "temporary: aws_session_token is set" } else { "long-term" }
            ),
            "stored-keys" => format!(
                "stored keys, access key {}, its secret in the {} store (rolegate_keystore)",
                hop.access_key_id.as_deref().unwrap_or("?"),
                hop.keystore.unwrap_or("?")
            ),
            "environment" => "credential_source = Environment (AWS_ACCESS_KEY_ID... from the environment)".into(),
            "credential-process" => format!("credential_process `{}`", hop.command.as_deref().unwrap_or("")),
            _ => format!("AssumeRole {}", hop.role_arn.as_deref().unwrap_or("")),
        };
        let role = if hop.kind == "role" { "role" } else { "base" };
        let _ = writeln!(out, "  {}. {role} `{}`{}: {what}", i + 1, hop.profile, place(&hop.file, hop.line));
        for s in &hop.settings {
            let value = s.value.clone().unwrap_or_else(|| "(set, not shown)".into());
            let from = s.included_from.as_ref().map(|p| format!(" from include_profile `{p}`")).unwrap_or_default();
            let _ = writeln!(out, "       {} = {value}{from}{}", s.key, place(&s.file, s.line));
        }
    }
    if let Some(m) = &p.mfa {
        let asked = match m.hop {
            Some(i) => format!(
                "the code goes to AssumeRole of `{}` (hop {})",
                p.chain.get(i).map_or("", |h| h.profile.as_str()),
                i + 1
            ),
            None => format!(
                "the code goes to GetSessionToken with the keys of `{}`",
                p.chain.first().map_or("", |h| h.profile.as_str())
            ),
        };
        let at = match (&m.file, m.line) {
            (Some(f), Some(l)) => format!(", {f}:{l}"),
            _ => String::new(),
        };
        let _ = writeln!(out, "  MFA: {} (mfa_serial of `{}`{at}): {asked}", m.serial, m.profile);
    } else {
        out.push_str("  MFA: none in this chain\n");
    }
    if let Some(s) = &p.strategy {
        let _ = writeln!(out, "  strategy: {} ({}): {}", s.name, s.reason, s.explanation);
        let mut parts = Vec::new();
        if let Some(m) = s.mfa_session_seconds {
            parts.push(format!("MFA session {m} s ({})", human_seconds(m)));
        }
        for r in &s.roles {
            parts.push(format!("role `{}` {} s ({})", r.profile, r.seconds, human_seconds(r.seconds)));
        }
        if !parts.is_empty() {
            let _ = writeln!(out, "  durations: {}", parts.join("; "));
        }
    }
    if let Some(r) = &p.region {
        let from = match (r.source, &r.profile) {
            ("profile", Some(name)) => format!("from profile `{name}`{}", place(&r.file, r.line)),
            ("default", _) => "no region configured: rolegate uses us-east-1".into(),
            (var, _) => format!("from {var}"),
        };
        let _ = writeln!(out, "  region: {}, {from}", r.value);
    }
    if let Some(e) = &p.sts_endpoint {
        let from = match e.source {
            "default" => "the regional endpoint".to_string(),
            "services" => format!("from the profile's services section{}", place(&e.file, e.line)),
            "endpoint_url" => format!("from endpoint_url{}", place(&e.file, e.line)),
            var => format!("from {var}"),
        };
        let skew = match e.clock_skew_seconds {
            Some(s) => format!("; local clock {s:+} s against its Date header"),
            None => String::new(),
        };
        let _ = writeln!(out, "  STS endpoint: {} ({from}), signed for {}{skew}", e.url, e.signing_region);
    }
    if let Some(c) = &p.cache {
        let state = |e: &CacheEntryReport| match (&e.expires, e.fresh) {
            (Some(t), true) => format!("cached, expires {t}"),
            (Some(t), false) => format!("cached but not served (expires {t}, under 15 min left)"),
            _ => "none".to_string(),
        };
        let mut parts = Vec::new();
        if let Some(m) = &c.mfa_session {
            parts.push(format!("MFA session: {}", state(m)));
        }
        if let Some(r) = &c.role {
            parts.push(format!("role credentials: {}", state(r)));
        }
        let _ = writeln!(out, "  cache: {}", parts.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_dedupe_and_sort() {
        let mut f = Findings::default();
        f.push(Finding::new(Severity::Warning, "w", "w").profile("a"));
        f.push(Finding::new(Severity::Error, "e", "e").profile("a"));
        f.push(Finding::new(Severity::Error, "e", "e").profile("a"));
        f.push(Finding::new(Severity::Info, "i", "i"));
        let ids: Vec<&str> = f.into_sorted().iter().map(|f| f.id).collect();
        assert_eq!(ids, ["e", "w", "i"]);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_seconds(43_200), "12 h");
        assert_eq!(human_seconds(5_400), "1 h 30 min");
        assert_eq!(human_seconds(900), "15 min");
    }
}
