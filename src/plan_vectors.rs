//! Data-driven tests of profile resolution and planning: `tests/data/resolve-cases.json`.
//!
//! Each case gives the two AWS files, an environment and a profile, and expects either an
//! error (a substring of its one-line message, and maybe of its hint) or a plan: the chain,
//! the MFA strategy and its reason, durations, region, endpoint, and cache-key relations with
//! other profiles of the same files. The file's top-level `docs` describes the shape. Every
//! field a case gives is asserted; all failures are collected and reported together.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::{Base, Profiles};
use crate::context::Env;
use crate::diag::chain_message;
use crate::plan::{self, MfaStrategy, Plan, PlanOptions, StrategyReason};

const CASES: &str = include_str!("../tests/data/resolve-cases.json");
const MIN_CASES: usize = 40;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    docs: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    docs: String,
    #[serde(default)]
    config: String,
    #[serde(default)]
    credentials: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    profile: String,
    #[serde(default)]
    options: Options,
    expect: Expect,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    mfa_session_seconds: Option<u32>,
}

/// `null` in the file is `Some(None)` (asserted absent); a missing field is `None` (not asserted).
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    error: Option<String>,
    hint: Option<String>,
    chain: Option<Vec<String>>,
    describe: Option<String>,
    base_access_key_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    mfa_serial: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    mfa_hop: Option<Option<usize>>,
    #[serde(default, deserialize_with = "nullable")]
    base_mfa_serial: Option<Option<String>>,
    strategy: Option<String>,
    reason: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    signing_region: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    session_name: Option<Option<String>>,
    durations: Option<Vec<u32>>,
    hops: Option<Vec<HopExpect>>,
    mfa_session_seconds: Option<u32>,
    has_mfa_session_key: Option<bool>,
    result_is_mfa_session: Option<bool>,
    #[serde(default)]
    same_key_as: Vec<Other>,
    #[serde(default)]
    different_key_from: Vec<Other>,
    #[serde(default)]
    same_mfa_key_as: Vec<Other>,
    #[serde(default)]
    different_mfa_key_from: Vec<Other>,
}

impl Expect {
    /// Whether the case expects a plan (any field other than `error`/`hint`).
    fn has_success_fields(&self) -> bool {
        let Expect {
            error: _,
            hint: _,
            chain,
            describe,
            base_access_key_id,
            mfa_serial,
            mfa_hop,
            base_mfa_serial,
            strategy,
            reason,
            region,
            endpoint,
            signing_region,
            external_id,
            session_name,
            durations,
            hops,
            mfa_session_seconds,
            has_mfa_session_key,
            result_is_mfa_session,
            same_key_as,
            different_key_from,
            same_mfa_key_as,
            different_mfa_key_from,
        } = self;
        chain.is_some()
            || describe.is_some()
            || base_access_key_id.is_some()
            || mfa_serial.is_some()
            || mfa_hop.is_some()
            || base_mfa_serial.is_some()
            || strategy.is_some()
            || reason.is_some()
            || region.is_some()
            || endpoint.is_some()
            || signing_region.is_some()
            || external_id.is_some()
            || session_name.is_some()
            || durations.is_some()
            || hops.is_some()
            || mfa_session_seconds.is_some()
            || has_mfa_session_key.is_some()
            || result_is_mfa_session.is_some()
            || !same_key_as.is_empty()
            || !different_key_from.is_empty()
            || !same_mfa_key_as.is_empty()
            || !different_mfa_key_from.is_empty()
    }
}

/// One role of the chain, base first; each given field is asserted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HopExpect {
    profile: Option<String>,
    role_arn: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    role_session_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    duration_seconds: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    mfa_serial: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    source_identity: Option<Option<String>>,
    /// `[[key, value], ...]` in the order sent.
    session_tags: Option<Vec<(String, String)>>,
    transitive_session_tags: Option<Vec<String>>,
}

/// Another plan to compare cache keys with: a profile of the same files, planned with the
/// case's environment and options unless the reference gives its own.
#[derive(Deserialize)]
#[serde(untagged)]
enum Other {
    Profile(String),
    Full(OtherPlan),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherPlan {
    profile: String,
    env: Option<BTreeMap<String, String>>,
    options: Option<Options>,
}

impl Other {
    fn describe(&self) -> String {
        match self {
            Other::Profile(p) => format!("`{p}`"),
            Other::Full(OtherPlan { profile, env, options }) => {
                let mut s = format!("`{profile}`");
                if let Some(env) = env {
                    s.push_str(&format!(" with env {env:?}"));
                }
                if let Some(o) = options.as_ref().and_then(|o| o.mfa_session_seconds) {
                    s.push_str(&format!(" with --mfa-session-duration {o}"));
                }
                s
            }
        }
    }
}

fn render_base(base: &Base) -> String {
    match base {
        Base::StaticKeys { profile, session_token: None, .. } => format!("keys:{profile}"),
        Base::StaticKeys { profile, session_token: Some(_), .. } => format!("keys+token:{profile}"),
        Base::Environment { profile } => format!("env:{profile}"),
        Base::Process { profile, .. } => format!("process:{profile}"),
        Base::Stored { profile, backend, .. } => format!("stored:{}:{profile}", backend.name()),
    }
}

fn render_chain(plan: &Plan) -> Vec<String> {
    std::iter::once(render_base(&plan.chain.base))
        .chain(plan.chain.hops.iter().map(|h| format!("role:{}:{}", h.profile, h.role_arn)))
        .collect()
}

fn render_strategy(s: MfaStrategy) -> &'static str {
    match s {
        MfaStrategy::None => "None",
        MfaStrategy::Session => "Session",
        MfaStrategy::Direct => "Direct",
    }
}

/// The reason in full (`LongRole:PROFILE:SECONDS`, `LaterHop:PROFILE`) and its variant name.
fn render_reason(r: &StrategyReason) -> (String, &'static str) {
    match r {
        StrategyReason::NoMfa => ("NoMfa".into(), "NoMfa"),
        StrategyReason::Default => ("Default".into(), "Default"),
        StrategyReason::Configured => ("Configured".into(), "Configured"),
        StrategyReason::TemporaryBase => ("TemporaryBase".into(), "TemporaryBase"),
        StrategyReason::LongRole { profile, seconds } => (format!("LongRole:{profile}:{seconds}"), "LongRole"),
        StrategyReason::LaterHop { profile } => (format!("LaterHop:{profile}"), "LaterHop"),
    }
}

fn summary(plan: &Plan) -> String {
    format!(
        "chain {:?}, strategy {}, reason {}, mfa_serial {:?}, mfa_hop {:?}, region {}, endpoint {}",
        render_chain(plan),
        render_strategy(plan.strategy),
        render_reason(&plan.reason).0,
        plan.chain.mfa_serial(),
        plan.chain.mfa_hop(),
        plan.region,
        plan.endpoint.url
    )
}

struct Checker {
    problems: Vec<String>,
}

impl Checker {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, expected: &T, actual: &T) {
        if expected != actual {
            self.problems.push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }
}

fn plan_for(
    profiles: &Profiles,
    profile: &str,
    env: &BTreeMap<String, String>,
    options: &Options,
) -> Result<Plan, plan::PlanError> {
    let env = Env::from_pairs(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    plan::plan(
        profiles,
        profile,
        &env,
        &PlanOptions { mfa_session_seconds: options.mfa_session_seconds, ..PlanOptions::default() },
    )
}

/// Runs one case; returns what went wrong, empty when it passed.
fn run_case(case: &Case) -> Vec<String> {
    let expect = &case.expect;
    let mut c = Checker { problems: Vec::new() };
    match (&expect.error, expect.has_success_fields()) {
        (Some(_), true) => return vec!["malformed case: `error` together with success fields".into()],
        (None, false) => return vec!["malformed case: expects neither `error` nor `chain`".into()],
        (None, true) if expect.chain.is_none() => return vec!["malformed case: a success case needs `chain`".into()],
        (None, true) if expect.hint.is_some() => return vec!["malformed case: `hint` only goes with `error`".into()],
        _ => {}
    }

    let profiles = match Profiles::parse(&case.config, &case.credentials) {
        Ok(p) => p,
        Err(message) => {
            match &expect.error {
                Some(want) if message.contains(want.as_str()) => {}
                _ => c.problems.push(format!("the files do not parse: {message}")),
            }
            return c.problems;
        }
    };
    let result = plan_for(&profiles, &case.profile, &case.env, &case.options);

    if let Some(want) = &expect.error {
        match &result {
            Ok(plan) => c.problems.push(format!("expected error containing {want:?}, got a plan: {}", summary(plan))),
            Err(e) => {
                let message = chain_message(e);
                if !message.contains(want.as_str()) {
                    c.problems.push(format!("error: expected it to contain {want:?}, got {message:?}"));
                }
                if let Some(want_hint) = &expect.hint {
                    match e.hint() {
                        Some(h) if h.contains(want_hint.as_str()) => {}
                        other => c.problems.push(format!("hint: expected it to contain {want_hint:?}, got {other:?}")),
                    }
                }
            }
        }
        return c.problems;
    }

    let plan = match result {
        Ok(plan) => plan,
        Err(e) => {
            let hint = e.hint().map(|h| format!(" (hint: {h})")).unwrap_or_default();
            c.problems.push(format!("expected a plan, got error: {}{hint}", chain_message(&e)));
            return c.problems;
        }
    };

    if let Some(chain) = &expect.chain {
        c.eq("chain", chain, &render_chain(&plan));
    }
    if let Some(d) = &expect.describe {
        c.eq("describe", d, &plan.chain.describe());
    }
    if let Some(akid) = &expect.base_access_key_id {
        let actual = match &plan.chain.base {
            Base::StaticKeys { access_key_id, .. } | Base::Stored { access_key_id, .. } => Some(access_key_id.clone()),
            _ => None,
        };
        c.eq("base_access_key_id", &Some(akid.clone()), &actual);
    }
    if let Some(serial) = &expect.mfa_serial {
        c.eq("mfa_serial", &serial.as_deref(), &plan.chain.mfa_serial());
    }
    if let Some(hop) = &expect.mfa_hop {
        c.eq("mfa_hop", hop, &plan.chain.mfa_hop());
    }
    if let Some(serial) = &expect.base_mfa_serial {
        c.eq("base_mfa_serial", serial, &plan.chain.base_mfa_serial);
    }
    if let Some(s) = &expect.strategy {
        c.eq("strategy", &s.as_str(), &render_strategy(plan.strategy));
    }
    if let Some(r) = &expect.reason {
        let (full, variant) = render_reason(&plan.reason);
        if *r != full && r != variant {
            c.problems.push(format!("reason: expected {r:?}, got {full:?}"));
        }
    }
    if let Some(region) = &expect.region {
        c.eq("region", region, &plan.region);
    }
    if let Some(url) = &expect.endpoint {
        c.eq("endpoint", url, &plan.endpoint.url);
    }
    if let Some(sr) = &expect.signing_region {
        c.eq("signing_region", sr, &plan.endpoint.signing_region);
    }
    let last = plan.chain.hops.last();
    if let Some(id) = &expect.external_id {
        match last {
            Some(hop) => c.eq("external_id (last role)", id, &hop.external_id),
            None => c.problems.push("external_id: the chain has no role".into()),
        }
    }
    if let Some(name) = &expect.session_name {
        match last {
            Some(hop) => c.eq("session_name (last role)", name, &hop.role_session_name),
            None => c.problems.push("session_name: the chain has no role".into()),
        }
    }
    if let Some(durations) = &expect.durations {
        let actual: Vec<u32> = (0..plan.chain.hops.len()).map(|i| plan.role_seconds(i)).collect();
        c.eq("durations", durations, &actual);
    }
    if let Some(hops) = &expect.hops {
        if hops.len() != plan.chain.hops.len() {
            c.problems.push(format!("hops: expected {} roles, got {}", hops.len(), plan.chain.hops.len()));
        }
        for (i, (want, got)) in hops.iter().zip(&plan.chain.hops).enumerate() {
            if let Some(p) = &want.profile {
                c.eq(&format!("hops[{i}].profile"), p, &got.profile);
            }
            if let Some(a) = &want.role_arn {
                c.eq(&format!("hops[{i}].role_arn"), a, &got.role_arn);
            }
            if let Some(x) = &want.external_id {
                c.eq(&format!("hops[{i}].external_id"), x, &got.external_id);
            }
            if let Some(x) = &want.role_session_name {
                c.eq(&format!("hops[{i}].role_session_name"), x, &got.role_session_name);
            }
            if let Some(x) = &want.duration_seconds {
                c.eq(&format!("hops[{i}].duration_seconds"), x, &got.duration_seconds);
            }
            if let Some(x) = &want.mfa_serial {
                c.eq(&format!("hops[{i}].mfa_serial"), x, &got.mfa_serial);
            }
            if let Some(x) = &want.source_identity {
                c.eq(&format!("hops[{i}].source_identity"), x, &got.attributes.source_identity);
            }
            if let Some(x) = &want.session_tags {
                c.eq(&format!("hops[{i}].session_tags"), x, &got.attributes.tags);
            }
            if let Some(x) = &want.transitive_session_tags {
                c.eq(&format!("hops[{i}].transitive_session_tags"), x, &got.attributes.transitive_tag_keys);
            }
        }
    }
    if let Some(s) = expect.mfa_session_seconds {
        c.eq("mfa_session_seconds", &s, &plan.mfa_session_seconds);
    }
    if let Some(has) = expect.has_mfa_session_key {
        c.eq("has_mfa_session_key", &has, &plan.mfa_session_key.is_some());
    }
    if let Some(is) = expect.result_is_mfa_session {
        let actual = plan.mfa_session_key.as_ref() == Some(&plan.result_key);
        c.eq("result_is_mfa_session (result key == MFA-session key)", &is, &actual);
    }

    let relations: [(&str, &Vec<Other>, bool, bool); 4] = [
        ("same_key_as", &expect.same_key_as, false, true),
        ("different_key_from", &expect.different_key_from, false, false),
        ("same_mfa_key_as", &expect.same_mfa_key_as, true, true),
        ("different_mfa_key_from", &expect.different_mfa_key_from, true, false),
    ];
    for (what, others, mfa, same) in relations {
        for other in others {
            let (profile, env, options) = match other {
                Other::Profile(p) => (p, &case.env, &case.options),
                Other::Full(OtherPlan { profile, env, options }) => {
                    (profile, env.as_ref().unwrap_or(&case.env), options.as_ref().unwrap_or(&case.options))
                }
            };
            let other_plan = match plan_for(&profiles, profile, env, options) {
                Ok(p) => p,
                Err(e) => {
                    c.problems.push(format!("{what} {}: that plan fails: {}", other.describe(), chain_message(&e)));
                    continue;
                }
            };
            let (mine, theirs) = if mfa {
                match (&plan.mfa_session_key, &other_plan.mfa_session_key) {
                    (Some(a), Some(b)) => (a, b),
                    (a, b) => {
                        c.problems.push(format!(
                            "{what} {}: both plans need an MFA-session key (this one: {}, that one: {})",
                            other.describe(),
                            a.is_some(),
                            b.is_some()
                        ));
                        continue;
                    }
                }
            } else {
                (&plan.result_key, &other_plan.result_key)
            };
            if (mine.digest == theirs.digest) != same {
                c.problems.push(format!(
                    "{what} {}: keys {} vs {} ({} vs {})",
                    other.describe(),
                    mine.digest,
                    theirs.digest,
                    mine.label,
                    theirs.label
                ));
            }
        }
    }
    c.problems
}

#[test]
fn resolve_and_plan_cases() {
    let file: CaseFile = match serde_json::from_str(CASES) {
        Ok(f) => f,
        Err(e) => panic!("tests/data/resolve-cases.json does not match the expected shape: {e}"),
    };
    assert!(!file.docs.trim().is_empty(), "the file's top-level docs is empty");
    assert!(file.cases.len() >= MIN_CASES, "only {} cases, want at least {MIN_CASES}", file.cases.len());

    let mut failures = Vec::new();
    for (i, case) in file.cases.iter().enumerate() {
        let mut problems = Vec::new();
        if case.docs.trim().is_empty() {
            problems.push("the case has no docs".to_string());
        }
        problems.extend(run_case(case));
        if !problems.is_empty() {
            failures.push(format!(
                "case {i} [profile `{}`]: {}\n    {}",
                case.profile,
                case.docs,
                problems.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), file.cases.len(), failures.join("\n"));
}
