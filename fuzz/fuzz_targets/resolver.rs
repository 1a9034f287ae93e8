//! The user's `~/.aws/config` and `~/.aws/credentials`, and the environment, through
//! `Profiles::parse` -> `plan::plan` (which runs `config::resolve` and `sts::endpoint`).
//!
//! Two input shapes, chosen by the first byte:
//! - `0xFF` then structured bytes (`arbitrary`): profiles built from rolegate's own keys and
//!   values that matter to the resolver (profile names that point at each other, valid and
//!   broken ARNs, durations, `credential_process = rolegate credential-process X` aliases,
//!   regions, endpoint URLs), or any string. The set is planned both as maps
//!   (`profiles_from_maps`) and rendered as file text and parsed (`Profiles::parse`).
//! - anything else is text: `CONFIG \0 CREDENTIALS \0 ENV \0 PROFILE`, each part optional; ENV
//!   is `NAME=VALUE` lines. The seeds (fuzz/seeds/resolver) are the cases of
//!   tests/data/resolve-cases.json in this shape.
//!
//! A text that does not parse goes through `Profiles::from_texts` (the error naming the file
//! and line, as `Profiles::load` reports it).
//!
//! Every profile of the set (and the one `profile_name` picks, and the asked one) is planned.
//! Properties: nothing panics; nothing hangs (chains, loops and aliases are bounded by the
//! resolver: libFuzzer's `-timeout` reports a hang); a plan is deterministic and consistent.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use rolegate::config::resolve::{MAX_CHAIN, profiles_from_maps};
use rolegate::config::{ConfigPaths, Profiles};
use rolegate::context::Env;
use rolegate::env_vars as ev;
use rolegate::plan::{MfaStrategy, Plan, PlanOptions, plan, profile_name};

const NAMES: &[&str] = &["default", "base", "target", "a", "b", "target-tf", "mfa", "my prof", "Default", "x.y"];

/// The keys rolegate reads: the fuzzer builds profiles from them.
const KEYS: &[&str] = rolegate::config::KNOWN_KEYS;

const ENV_NAMES: &[&str] = &[
    ev::AWS_PROFILE,
    ev::AWS_DEFAULT_PROFILE,
    ev::AWS_REGION,
    ev::AWS_DEFAULT_REGION,
    ev::AWS_ENDPOINT_URL_STS,
    ev::AWS_ENDPOINT_URL,
    ev::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
    ev::AWS_USE_FIPS_ENDPOINT,
    ev::AWS_USE_DUALSTACK_ENDPOINT,
    ev::AWS_STS_REGIONAL_ENDPOINTS,
    ev::AWS_ACCESS_KEY_ID,
    ev::AWS_SECRET_ACCESS_KEY,
    ev::AWS_SESSION_TOKEN,
];

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-central-1",
    "cn-north-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "aws-global",
    "aws-cn-global",
    "eu-isoe-west-1",
    "",
    "evil.com/x",
    "-a-",
];

const URLS: &[&str] = &["http://127.0.0.1:9", "https://sts.example.com/", "ftp://x", "http://", "https://[::1]:8443"];

/// An index into a list, or any string.
#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Any(String),
}

impl Pick {
    fn get(&self, list: &[&str]) -> String {
        match self {
            Pick::Known(i) => list[*i as usize % list.len()].to_string(),
            Pick::Any(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Value {
    Profile(Pick),
    RoleArn { partition: u8, account: u8, name: Pick },
    MfaArn { partition: u8, name: Pick },
    HardwareSerial(u8),
    Duration(u32),
    SmallDuration(u16),
    Process { program: u8, sub: u8, target: Pick },
    Source(u8),
    Flag(bool),
    Region(Pick),
    Url(Pick),
    Strategy(u8),
    Any(String),
}

impl Value {
    fn render(&self) -> String {
        let partition = |p: &u8| ["aws", "aws-cn", "aws-us-gov", "aws-iso-b", "azure"][*p as usize % 5];
        match self {
            Value::Profile(p) => p.get(NAMES),
            Value::RoleArn { partition: p, account, name } => {
                let account = ["123456789012", "12345678901", "12345678901a", ""][*account as usize % 4];
                format!("arn:{}:iam::{account}:role/{}", partition(p), name.get(&["hc-master", "a/b", ""]))
            }
            Value::MfaArn { partition: p, name } => {
                format!("arn:{}:iam::123456789012:mfa/{}", partition(p), name.get(&["me", "other", ""]))
            }
            Value::HardwareSerial(n) => "GAHT12345678".chars().take(*n as usize % 14).collect(),
            Value::Duration(d) => d.to_string(),
            Value::SmallDuration(d) => (u32::from(*d) + 800).to_string(),
            Value::Process { program, sub, target } => {
                let program =
                    ["rolegate", "/usr/local/bin/rolegate", "aws-vault", "rolegate -v"][*program as usize % 4];
                let sub = ["credential-process", "exec", "export", "list"][*sub as usize % 4];
                let target = target.get(NAMES);
                let quoted = if target.contains(' ') { format!("'{target}'") } else { target };
                format!("{program} {sub} {quoted}")
            }
            Value::Source(i) => {
                ["Environment", "Ec2InstanceMetadata", "EcsContainer", "environment"][*i as usize % 4].into()
            }
            Value::Flag(b) => if *b { "true" } else { "false" }.into(),
            Value::Region(p) => p.get(REGIONS),
            Value::Url(p) => p.get(URLS),
            Value::Strategy(i) => ["session", "direct", "Session", ""][*i as usize % 4].into(),
            Value::Any(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Structured {
    profiles: Vec<(Pick, Vec<(u8, Value)>)>,
    /// `[services NAME]` sections with an sts endpoint_url.
    services: Vec<(Pick, Value)>,
    env: Vec<(u8, Value)>,
    ask: Vec<Pick>,
    mfa_session_seconds: Option<u32>,
}

fuzz_target!(|data: &[u8]| {
    if let Some((&0xFF, rest)) = data.split_first() {
        let Ok(input) = Structured::arbitrary_take_rest(Unstructured::new(rest)) else { return };
        structured(&input);
    } else {
        text(data);
    }
});

fn structured(input: &Structured) {
    let mut maps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (name, props) in &input.profiles {
        let entry = maps.entry(name.get(NAMES)).or_default();
        for (key, value) in props {
            entry.insert(KEYS[*key as usize % KEYS.len()].to_string(), value.render());
        }
    }
    let env = Env::from_pairs(input.env.iter().map(|(k, v)| (ENV_NAMES[*k as usize % ENV_NAMES.len()], v.render())));
    let asked: Vec<String> = input.ask.iter().map(|p| p.get(NAMES)).collect();
    let options = PlanOptions { mfa_session_seconds: input.mfa_session_seconds, ..PlanOptions::default() };

    let mut profiles = profiles_from_maps(maps.clone());
    for (name, url) in &input.services {
        profiles.sts_service_endpoints.insert(name.get(&["local", "prod"]), url.render());
    }
    plan_all(&profiles, &env, &asked, &options);

    // The same set as file text, through the SDK's parser.
    let mut config = String::new();
    for (name, props) in &maps {
        config.push_str(&if name == "default" { "[default]\n".to_string() } else { format!("[profile {name}]\n") });
        for (key, value) in props {
            config.push_str(&format!("{key} = {value}\n"));
        }
    }
    for (name, url) in &input.services {
        config.push_str(&format!(
            "[services {}]\nsts =\n  endpoint_url = {}\n",
            name.get(&["local", "prod"]),
            url.render()
        ));
    }
    if let Ok(parsed) = Profiles::parse(&config, "") {
        plan_all(&parsed, &env, &asked, &options);
    }
}

fn text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\0');
    let (config, credentials) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let env = Env::from_pairs(parts.next().unwrap_or("").lines().filter_map(|l| l.split_once('=')));
    let asked: Vec<String> = parts.next().map(str::to_string).into_iter().collect();
    let profiles = match Profiles::parse(config, credentials) {
        Ok(p) => p,
        Err(_) => {
            // The error as `Profiles::load` reports it: the file that fails, its line.
            let paths =
                ConfigPaths { config: "/nonexistent/config".into(), credentials: "/nonexistent/credentials".into() };
            let e = Profiles::from_texts(config, credentials, &paths).expect_err("parse failed, from_texts too");
            let _ = (e.to_string(), e.hint());
            return;
        }
    };
    plan_all(&profiles, &env, &asked, &PlanOptions::default());
}

fn plan_all(profiles: &Profiles, env: &Env, asked: &[String], options: &PlanOptions) {
    let mut names: Vec<String> = profiles.profiles.keys().cloned().collect();
    names.extend(asked.iter().cloned());
    names.push(profile_name(None, env));
    for name in &names {
        let first = plan(profiles, name, env, options);
        let second = plan(profiles, name, env, options);
        match (first, second) {
            (Ok(p), Ok(q)) => {
                check(&p, options);
                assert_eq!(p.result_key, q.result_key, "planning is deterministic");
                assert_eq!(p.mfa_session_key, q.mfa_session_key, "planning is deterministic");
            }
            (Err(e), Err(f)) => {
                assert_eq!(e.to_string(), f.to_string(), "planning is deterministic");
                let _ = e.hint();
            }
            _ => panic!("planning the same profile twice gave different outcomes"),
        }
    }
}

fn check(p: &Plan, options: &PlanOptions) {
    assert!(p.chain.hops.len() <= MAX_CHAIN);
    assert_eq!(p.strategy == MfaStrategy::Session, p.mfa_session_key.is_some());
    if p.strategy == MfaStrategy::None {
        assert!(p.chain.mfa_serial().is_none());
        assert!(!p.chain.hops.is_empty(), "a plan with nothing to do");
    } else {
        assert!(p.chain.mfa_serial().is_some());
    }
    for i in 0..p.chain.hops.len() {
        assert!((900..=43_200).contains(&p.role_seconds(i)), "role duration {}", p.role_seconds(i));
    }
    if options.mfa_session_seconds.is_none() {
        assert!((900..=129_600).contains(&p.mfa_session_seconds));
    }
    for key in std::iter::once(&p.result_key).chain(p.mfa_session_key.as_ref()) {
        let hex = key.digest.strip_prefix("role-").or_else(|| key.digest.strip_prefix("mfa-"));
        assert!(hex.is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit())), "{}", key.digest);
    }
    // A configured URL keeps the case of its scheme (`HTTPS://` is valid).
    let scheme = p.endpoint.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    assert!(matches!(scheme.as_deref(), Some("https" | "http")), "{}", p.endpoint.url);
    let _ = p.chain.describe();
}
