//! `rolegate doctor` on the fixture configs and Terraform directories of `tests/data/doctor/`
//! (the seed's own files among them): the `--json` document checked against the shape documented
//! in docs/DOCTOR.md, the exit codes, and no secret in any output.
//!
//! Most scenarios share one shape (two files, maybe an environment variable, `rolegate doctor
//! ARGS`, the findings expected with their id, severity, profile, place, message and fix, and
//! the exit status): they are rows of one table ([`cases`]) run by [`doctor_findings_table`],
//! which reports every failing row by name. Scenarios of another shape (the seed's full
//! explanation, the text report, the cache directory, the clock, an STS stand-in, unreadable
//! Terraform directories, secrets) are tests of their own.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::env::*;
use crate::common::net::{CannedServer, closed_port_url};

/// Terraform's error for the seed's setup, which the MFA-profile finding quotes.
const SEED_ERROR: &str = "assume role with MFA enabled, but AssumeRoleTokenProvider session option not set";

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/doctor").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A HOME with `configs/CASE.config` and its credentials (`CASE.credentials`, else the shared one).
fn env_for(case: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.write_config(&read(&data(&format!("configs/{case}.config"))));
    let own = data(&format!("configs/{case}.credentials"));
    env.write_credentials(&read(&if own.exists() { own } else { data_credentials() }));
    env
}

fn data_credentials() -> PathBuf {
    data("configs/credentials")
}

fn tf(case: &str) -> String {
    data(&format!("terraform/{case}")).display().to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `rolegate doctor ARGS`; the temporary HOME reads `$HOME` and the fixture directory `$DATA`.
fn doctor(env: &TestEnv, args: &[&str]) -> Run {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let out = env.rolegate(&all).output().expect("run rolegate doctor");
    let norm = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec())
            .expect("utf-8 output")
            .replace(&env.home().display().to_string(), "$HOME")
            .replace(&data("").display().to_string().trim_end_matches('/').to_string(), "$DATA")
    };
    Run { code: out.status.code().expect("exit code"), stdout: norm(&out.stdout), stderr: norm(&out.stderr) }
}

/// `rolegate doctor --json ARGS`, checked against the documented shape.
fn doctor_json(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = doctor(env, &all);
    let json: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr));
    check_shape(&json);
    assert_eq!(json["summary"]["exit_code"], run.code, "summary.exit_code is the exit status");
    (run.code, json)
}

fn findings<'a>(json: &'a Value, id: &str) -> Vec<&'a Value> {
    json["findings"].as_array().unwrap().iter().filter(|f| f["id"] == id).collect()
}

fn ids(json: &Value) -> Vec<String> {
    json["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

/// The finding `id` at `at` (`FILE:LINE`, or `FILE`, or none), pinned field by field.
fn expect(json: &Value, id: &str, severity: &str, profile: Option<&str>, at: Option<&str>, message: &str, fix: &str) {
    let place = |f: &Value| match (f["file"].as_str(), f["line"].as_u64()) {
        (Some(file), Some(line)) => Some(format!("{file}:{line}")),
        (Some(file), None) => Some(file.to_string()),
        _ => None,
    };
    let all = findings(json, id);
    let f = all
        .iter()
        .find(|f| place(f).as_deref() == at)
        .unwrap_or_else(|| panic!("no finding {id} at {at:?} in {:#}", json["findings"]));
    assert_eq!(f["severity"], severity, "{f:#}");
    assert_eq!(f["profile"].as_str(), profile, "{f:#}");
    assert_eq!(f["message"], message, "{f:#}");
    assert_eq!(f["fix"], fix, "{f:#}");
}

fn profile<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["profiles"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| {
        panic!("profile {name} not explained: {:#}", json["profiles"]);
    })
}

// ---------------------------------------------------------------------------------------------
// The documented shape (docs/DOCTOR.md), as a small schema.

#[derive(Clone, Debug)]
enum T {
    Str,
    Int,
    Bool,
    OneOf(&'static [&'static str]),
    Opt(Box<T>),
    /// A field present only in some objects (its value of the inner type when present).
    Absent(Box<T>),
    Arr(Box<T>),
    Obj(Vec<(&'static str, T)>),
}

fn opt(t: T) -> T {
    T::Opt(Box::new(t))
}

fn arr(t: T) -> T {
    T::Arr(Box::new(t))
}

fn obj(fields: &[(&'static str, T)]) -> T {
    T::Obj(fields.to_vec())
}

fn place_fields() -> Vec<(&'static str, T)> {
    vec![("file", opt(T::Str)), ("line", opt(T::Int))]
}

fn with_place(fields: &[(&'static str, T)]) -> T {
    let mut all = fields.to_vec();
    all.extend(place_fields());
    T::Obj(all)
}

fn schema() -> T {
    let cache_entry = obj(&[("key", T::Str), ("present", T::Bool), ("expires", opt(T::Str)), ("fresh", T::Bool)]);
    let setting = with_place(&[("key", T::Str), ("value", opt(T::Str)), ("included_from", opt(T::Str))]);
    let hop = with_place(&[
        ("profile", T::Str),
        ("kind", T::OneOf(&["static-keys", "stored-keys", "environment", "credential-process", "role"])),
        ("access_key_id", opt(T::Str)),
        (
            "keystore",
            T::Absent(Box::new(T::OneOf(&["secret-service", "kernel-keyring", "keychain", "credential-manager"]))),
        ),
        ("temporary", opt(T::Bool)),
        ("command", opt(T::Str)),
        ("role_arn", opt(T::Str)),
        ("external_id", opt(T::Str)),
        ("role_session_name", opt(T::Str)),
        ("duration_seconds", opt(T::Int)),
        ("mfa_serial", opt(T::Str)),
        ("settings", arr(setting)),
    ]);
    let profile = with_place(&[
        ("name", T::Str),
        ("stands_for", opt(T::Str)),
        ("ok", T::Bool),
        ("error", opt(T::Str)),
        ("chain", arr(hop)),
        (
            "mfa",
            opt(with_place(&[
                ("serial", T::Str),
                ("profile", T::Str),
                ("hop", opt(T::Int)),
                ("call", T::OneOf(&["GetSessionToken", "AssumeRole"])),
            ])),
        ),
        (
            "strategy",
            opt(obj(&[
                ("name", T::OneOf(&["none", "session", "direct"])),
                ("reason", T::OneOf(&["no-mfa", "default", "configured", "long-role", "later-hop", "temporary-base"])),
                ("explanation", T::Str),
                ("mfa_session_seconds", opt(T::Int)),
                ("roles", arr(obj(&[("profile", T::Str), ("seconds", T::Int)]))),
            ])),
        ),
        (
            "region",
            opt(with_place(&[
                ("value", T::Str),
                ("source", T::OneOf(&["AWS_REGION", "AWS_DEFAULT_REGION", "profile", "default"])),
                ("profile", opt(T::Str)),
            ])),
        ),
        (
            "sts_endpoint",
            opt(with_place(&[
                ("url", T::Str),
                ("signing_region", T::Str),
                (
                    "source",
                    T::OneOf(&["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", "services", "endpoint_url", "default"]),
                ),
                ("clock_skew_seconds", opt(T::Int)),
            ])),
        ),
        ("cache", opt(obj(&[("mfa_session", opt(cache_entry.clone())), ("role", opt(cache_entry))]))),
    ]);
    let finding = with_place(&[
        ("severity", T::OneOf(&["error", "warning", "info"])),
        ("id", T::Str),
        ("profile", opt(T::Str)),
        ("message", T::Str),
        ("fix", opt(T::Str)),
    ]);
    obj(&[
        ("version", T::Int),
        ("config_file", T::Str),
        ("credentials_file", T::Str),
        (
            "cache",
            obj(&[
                ("dir", T::Str),
                ("exists", T::Bool),
                ("mode", opt(T::Str)),
                ("owner_uid", opt(T::Int)),
                ("private", T::Bool),
            ]),
        ),
        ("profiles", arr(profile)),
        (
            "terraform",
            opt(obj(&[
                ("dir", T::Str),
                ("files", arr(T::Str)),
                (
                    "blocks",
                    arr(obj(&[
                        ("kind", T::OneOf(&["provider", "backend", "remote_state"])),
                        ("name", T::Str),
                        ("file", T::Str),
                        ("line", opt(T::Int)),
                        ("profile", opt(T::Str)),
                    ])),
                ),
            ])),
        ),
        ("findings", arr(finding)),
        ("summary", obj(&[("errors", T::Int), ("warnings", T::Int), ("infos", T::Int), ("exit_code", T::Int)])),
    ])
}

fn check_value(v: &Value, t: &T, path: &str) {
    match t {
        T::Str => assert!(v.is_string(), "{path}: expected a string, got {v}"),
        T::Int => assert!(v.is_u64() || v.is_i64(), "{path}: expected an integer, got {v}"),
        T::Bool => assert!(v.is_boolean(), "{path}: expected a bool, got {v}"),
        T::OneOf(values) => {
            assert!(v.as_str().is_some_and(|s| values.contains(&s)), "{path}: expected one of {values:?}, got {v}")
        }
        T::Opt(inner) => {
            if !v.is_null() {
                check_value(v, inner, path);
            }
        }
        T::Absent(inner) => check_value(v, inner, path),
        T::Arr(inner) => {
            let items = v.as_array().unwrap_or_else(|| panic!("{path}: expected an array, got {v}"));
            for (i, item) in items.iter().enumerate() {
                check_value(item, inner, &format!("{path}[{i}]"));
            }
        }
        T::Obj(fields) => {
            let map = v.as_object().unwrap_or_else(|| panic!("{path}: expected an object, got {v}"));
            for (name, ft) in fields {
                let Some(field) = map.get(*name) else {
                    assert!(matches!(ft, T::Absent(_)), "{path}.{name}: documented field missing");
                    continue;
                };
                check_value(field, ft, &format!("{path}.{name}"));
            }
            for key in map.keys() {
                assert!(fields.iter().any(|(n, _)| n == key), "{path}.{key}: field not documented in docs/DOCTOR.md");
            }
        }
    }
}

fn doc() -> String {
    read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/DOCTOR.md"))
}

/// The ids of the "Finding ids" table of docs/DOCTOR.md.
fn documented_ids() -> Vec<String> {
    let doc = doc();
    let table = doc.split("## Finding ids").nth(1).expect("a Finding ids section");
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

fn field_names(t: &T, out: &mut Vec<&'static str>) {
    match t {
        T::Opt(i) | T::Absent(i) | T::Arr(i) => field_names(i, out),
        T::Obj(fields) => {
            for (n, ft) in fields {
                out.push(n);
                field_names(ft, out);
            }
        }
        _ => {}
    }
}

fn check_shape(json: &Value) {
    check_value(json, &schema(), "$");
    assert_eq!(json["version"], 1);
    let documented = documented_ids();
    for f in json["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        assert!(documented.iter().any(|d| d == id), "finding id {id} is not in docs/DOCTOR.md");
    }
    let counts = |s: &str| json["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == s).count();
    assert_eq!(json["summary"]["errors"], counts("error"));
    assert_eq!(json["summary"]["warnings"], counts("warning"));
    assert_eq!(json["summary"]["infos"], counts("info"));
    assert_eq!(json["summary"]["exit_code"], u8::from(counts("error") > 0));
}

#[test]
fn the_documented_shape_names_every_field_and_finding_id() {
    let doc = doc();
    let mut names = Vec::new();
    field_names(&schema(), &mut names);
    for name in names {
        assert!(doc.contains(&format!("`{name}`")), "docs/DOCTOR.md does not document field `{name}`");
    }
    let ids = documented_ids();
    assert!(ids.len() > 40, "{ids:?}");
    for id in ["source-profile-loop", "mfa-serial-not-mfa", "terraform-mfa-profile", "clock-skew"] {
        assert!(ids.iter().any(|i| i == id), "{id}");
    }
    // Every id the source can emit is documented: the quoted `lower-case-with-dashes` words of
    // the doctor sources (outside unit tests), less the documented enum values that look the same.
    const NOT_IDS: &[&str] = &[
        "static-keys",
        "stored-keys",
        "credential-process",
        "no-mfa",
        "long-role",
        "later-hop",
        "temporary-base",
        "long-term",
    ];
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cmd/doctor");
    let mut seen = 0;
    for entry in std::fs::read_dir(&src_dir).unwrap() {
        let text = read(&entry.unwrap().path());
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let pieces: Vec<&str> = code.split('"').collect();
        for piece in pieces.iter().skip(1) {
            let is_word = piece.contains('-')
                && !piece.starts_with('-')
                && piece.chars().all(|c| c.is_ascii_lowercase() || c == '-');
            if is_word && !NOT_IDS.contains(piece) {
                seen += 1;
                assert!(
                    ids.iter().any(|i| i == piece),
                    "`{piece}` appears in {} but not among docs/DOCTOR.md's ids",
                    src_dir.display()
                );
            }
        }
    }
    assert!(seen > 40, "{seen}");
}

// ---------------------------------------------------------------------------------------------
// The seed.

#[test]
fn seed_config_and_provider_block_get_both_fixes() {
    let env = env_for("seed");
    let (code, json) = doctor_json(&env, &["--terraform", &tf("seed")]);
    assert_eq!(code, 1);
    assert_eq!(ids(&json), ["terraform-mfa-profile", "terraform-credentials-file-is-config"]);
    expect(
        &json,
        "terraform-mfa-profile",
        "error",
        Some("GEHC-056"),
        Some("$DATA/terraform/seed/main.tf:7"),
        &format!(
            "provider \"aws\" hard-codes profile = \"GEHC-056\", which needs an MFA code (mfa_serial of profile `GEHC-056`): Terraform cannot ask for it and stops with \"{SEED_ERROR}\""
        ),
        "write profile = \"GEHC-056-tf\" after `rolegate setup GEHC-056` (its credential_process calls rolegate), or run Terraform as `rolegate exec GEHC-056 -- terraform plan`: exec's generated config makes the hard-coded profile work unchanged",
    );
    expect(
        &json,
        "terraform-credentials-file-is-config",
        "error",
        None,
        Some("$DATA/terraform/seed/main.tf:8"),
        "provider \"aws\": shared_credentials_file points at the AWS config file ($HOME/.aws/config), not the credentials file: the SDK reads `[profile NAME]` there as credentials sections named \"profile NAME\" and never reads the keys in $HOME/.aws/credentials",
        "remove shared_credentials_file (the SDK reads ~/.aws/credentials by default), or set it to \"~/.aws/credentials\"",
    );
    let tf = &json["terraform"];
    assert_eq!(tf["files"], serde_json::json!(["$DATA/terraform/seed/main.tf"]));
    assert_eq!(
        tf["blocks"],
        serde_json::json!([{"kind": "provider", "name": "aws", "file": "$DATA/terraform/seed/main.tf", "line": 6, "profile": "GEHC-056"}])
    );

    // The explanation: only the MFA profile (the [default] with a region and the key profile are
    // fine), hop by hop with files and lines.
    let names: Vec<&str> = json["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["GEHC-056"]);
    let p = profile(&json, "GEHC-056");
    assert_eq!((p["file"].as_str(), p["line"].as_u64()), (Some("$HOME/.aws/config"), Some(10)));
    assert_eq!(p["chain"][0]["kind"], "static-keys");
    assert_eq!(p["chain"][0]["profile"], "GEHC-000");
    assert_eq!(p["chain"][0]["access_key_id"], "AKIADOCTORFIXTURE001");
    assert_eq!(p["chain"][0]["temporary"], false);
    assert_eq!(p["chain"][1]["kind"], "role");
    assert_eq!(p["chain"][1]["role_arn"], "arn:aws:iam::123456789069:role/hc/hc-master");
    assert_eq!(p["chain"][1]["external_id"], "123456789069");
    assert_eq!(
        p["mfa"],
        serde_json::json!({"serial": "arn:aws:iam::123456789183:mfa/username", "profile": "GEHC-056",
            "file": "$HOME/.aws/config", "line": 13, "hop": null, "call": "GetSessionToken"})
    );
    assert_eq!(p["strategy"]["name"], "session");
    assert_eq!(p["strategy"]["reason"], "default");
    assert_eq!(p["strategy"]["mfa_session_seconds"], 43_200);
    assert_eq!(p["strategy"]["roles"], serde_json::json!([{"profile": "GEHC-056", "seconds": 3600}]));
    assert_eq!(
        p["region"],
        serde_json::json!({"value": "us-west-2", "source": "profile", "profile": "GEHC-000", "file": "$HOME/.aws/config", "line": 6})
    );
    assert_eq!(p["sts_endpoint"]["url"], "https://sts.us-west-2.amazonaws.com");
    assert_eq!(p["sts_endpoint"]["source"], "default");
    assert_eq!(p["sts_endpoint"]["clock_skew_seconds"], Value::Null, "public endpoints are never contacted");
    assert_eq!(p["cache"]["mfa_session"]["present"], false);
    assert_eq!(p["cache"]["role"]["present"], false);
    let secret = p["chain"][0]["settings"].as_array().unwrap().iter().find(|s| s["key"] == "aws_secret_access_key");
    assert_eq!(
        secret,
        Some(
            &serde_json::json!({"key": "aws_secret_access_key", "value": null, "file": "$HOME/.aws/credentials", "line": 7, "included_from": null})
        )
    );
}

#[test]
fn seed_text_explains_the_chain_with_files_and_lines() {
    let env = env_for("seed");
    let run = doctor(&env, &["--terraform", &tf("seed")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = [
        "profile `GEHC-056` ($HOME/.aws/config:10)\n",
        "  chain: GEHC-056 -> GEHC-000\n",
        "  1. base `GEHC-000` ($HOME/.aws/config:5): static keys, aws_access_key_id AKIADOCTORFIXTURE001 (long-term)\n",
        "       region = us-west-2 ($HOME/.aws/config:6)\n",
        "       aws_access_key_id = AKIADOCTORFIXTURE001 ($HOME/.aws/credentials:6)\n",
        "       aws_secret_access_key = (set, not shown) ($HOME/.aws/credentials:7)\n",
        "  2. role `GEHC-056` ($HOME/.aws/config:10): AssumeRole arn:aws:iam::123456789069:role/hc/hc-master\n",
        "       source_profile = GEHC-000 ($HOME/.aws/config:11)\n",
        "       role_arn = arn:aws:iam::123456789069:role/hc/hc-master ($HOME/.aws/config:12)\n",
        "       mfa_serial = arn:aws:iam::123456789183:mfa/username ($HOME/.aws/config:13)\n",
        "       external_id = 123456789069 ($HOME/.aws/config:14)\n",
        "  MFA: arn:aws:iam::123456789183:mfa/username (mfa_serial of `GEHC-056`, $HOME/.aws/config:13): the code goes to GetSessionToken with the keys of `GEHC-000`\n",
        "  strategy: session (default): one code a day: GetSessionToken with the code gives an MFA session shared by every role with the same keys and device; roles are assumed from it without a prompt, last 1 h at most (role chaining) and are re-assumed silently\n",
        "  durations: MFA session 43200 s (12 h); role `GEHC-056` 3600 s (1 h)\n",
        "  region: us-west-2, from profile `GEHC-000` ($HOME/.aws/config:6)\n",
        "  STS endpoint: https://sts.us-west-2.amazonaws.com (the regional endpoint), signed for us-west-2\n",
        "  cache: MFA session: none; role credentials: none\n",
    ]
    .concat();
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
    assert!(run.stdout.contains("\nterraform $DATA/terraform/seed: 1 .tf file\n  provider \"aws\" ($DATA/terraform/seed/main.tf:6): profile GEHC-056\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "\nfindings:\nerror[terraform-mfa-profile]: $DATA/terraform/seed/main.tf:7: provider \"aws\" hard-codes profile = \"GEHC-056\", which needs an MFA code (mfa_serial of profile `GEHC-056`): Terraform cannot ask for it and stops with \"{SEED_ERROR}\"\n  fix: write profile = \"GEHC-056-tf\" after `rolegate setup GEHC-056`"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nerror[terraform-credentials-file-is-config]: $DATA/terraform/seed/main.tf:8: provider \"aws\": shared_credentials_file points at the AWS config file"), "{}", run.stdout);
    assert!(run.stdout.contains("\n  fix: remove shared_credentials_file (the SDK reads ~/.aws/credentials by default), or set it to \"~/.aws/credentials\"\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with("\n2 errors, 0 warnings\n"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
}

#[test]
fn a_healthy_setup_has_no_findings_and_exits_0() {
    let env = env_for("healthy");
    let (code, json) = doctor_json(&env, &["--terraform", &tf("healthy")]);
    assert_eq!(code, 0);
    assert_eq!(json["findings"], serde_json::json!([]), "{:#}", json["findings"]);
    let names: Vec<&str> = json["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["target", "target-tf", "via-temporary"]);
    assert_eq!(profile(&json, "target-tf")["stands_for"], "target");
    let temp = profile(&json, "via-temporary");
    assert_eq!(temp["strategy"]["name"], "direct");
    assert_eq!(temp["strategy"]["reason"], "temporary-base");
    assert_eq!(temp["mfa"]["hop"], 1);
    assert_eq!(temp["mfa"]["call"], "AssumeRole");
    assert_eq!(temp["chain"][0]["temporary"], true);
    assert_eq!(temp["cache"]["mfa_session"], Value::Null);
    let kinds: Vec<&str> =
        json["terraform"]["blocks"].as_array().unwrap().iter().map(|b| b["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["backend", "provider", "remote_state"]);

    let text = doctor(&env, &["--terraform", &tf("healthy")]);
    assert_eq!(text.code, 0);
    assert!(text.stdout.ends_with("\nno problems found\n"), "{}", text.stdout);
}

// ---------------------------------------------------------------------------------------------
// The cache directory.

#[test]
fn cache_dir_writable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let env = env_for("healthy");
    std::fs::create_dir_all(env.cache_dir()).unwrap();
    std::fs::set_permissions(env.cache_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, json) = doctor_json(&env, &[]);
    assert_eq!(code, 1);
    assert_eq!(ids(&json), ["cache-dir-writable-by-others"]);
    expect(
        &json,
        "cache-dir-writable-by-others",
        "error",
        None,
        Some("$HOME/.cache/rolegate"),
        "the cache directory is writable by other users (mode 0777): rolegate refuses to use it, since another user could plant credentials there",
        "run `chmod 700 $HOME/.cache/rolegate`",
    );
    assert_eq!(json["cache"]["mode"], "0777");
    assert_eq!(json["cache"]["private"], false);
    assert_eq!(profile(&json, "target")["cache"], Value::Null, "entries of an unsafe directory are not read");
}

#[test]
fn cache_dir_owned_by_another_user() {
    let env = env_for("healthy");
    std::fs::create_dir_all(env.cache_dir()).unwrap();
    if let Err(e) = std::os::unix::fs::chown(env.cache_dir(), Some(65_534), Some(65_534)) {
        crate::common::skip::skip("cache_dir_owned_by_another_user", "root", &format!("cannot chown: {e}"));
        return;
    }
    let (code, json) = doctor_json(&env, &[]);
    assert_eq!(code, 1);
    expect(
        &json,
        "cache-dir-foreign-owner",
        "error",
        None,
        Some("$HOME/.cache/rolegate"),
        "the cache directory belongs to another user (uid 65534): rolegate refuses to use it, so every call asks for a new MFA code or fails",
        "use a directory of your own with --cache-dir or ROLEGATE_CACHE_DIR, or `chown $(id -u) $HOME/.cache/rolegate`",
    );
    assert_eq!(json["cache"]["owner_uid"], 65_534);
}

#[test]
fn cached_sessions_are_shown_with_their_expiry_and_no_secret() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let creds = parse_process_json(&out.stdout);
    let (code, json) = doctor_json(&env, &["target"]);
    assert_eq!(code, 0, "{:#}", json["findings"]);
    let p = profile(&json, "target");
    for entry in ["mfa_session", "role"] {
        let e = &p["cache"][entry];
        assert_eq!((e["present"].as_bool(), e["fresh"].as_bool()), (Some(true), Some(true)), "{e:#}");
        let expires = e["expires"].as_str().unwrap();
        assert!(expires.ends_with('Z'), "{expires}");
        assert!(env.cache_dir().join(format!("{}.json", e["key"].as_str().unwrap())).exists(), "{e:#}");
    }
    assert_eq!(json["cache"]["mode"], "0700");
    assert_eq!(json["cache"]["private"], true);
    // The endpoint is configured (loopback): doctor compares clocks with it.
    assert_eq!(p["sts_endpoint"]["source"], "AWS_ENDPOINT_URL");
    let skew = p["sts_endpoint"]["clock_skew_seconds"].as_i64().expect("clock compared");
    assert!(skew.abs() <= 5, "{skew}");

    let text = doctor(&env, &["-vv", "target"]);
    assert!(text.stdout.contains("  cache: MFA session: cached, expires "), "{}", text.stdout);
    let json_text = serde_json::to_string(&json).unwrap();
    for secret in [creds.secret_access_key.as_str(), creds.session_token.as_str(), BASE_SECRET] {
        for (what, output) in [("text", &text.stdout), ("stderr", &text.stderr), ("json", &json_text)] {
            assert!(!output.contains(secret), "doctor's {what} holds a secret ({:.8}...)", secret);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The clock and the endpoint.

/// A loopback HTTP server whose `Date` header is `offset` away from now (until dropped).
fn dated_server(offset: time::Duration) -> CannedServer {
    CannedServer::start(move || {
        let date = (time::OffsetDateTime::now_utc() + offset)
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap();
        format!("HTTP/1.1 403 Forbidden\r\nDate: {date}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
    })
}

#[test]
fn clock_skew_against_a_configured_endpoint() {
    let mut env = env_for("healthy");
    let behind = dated_server(time::Duration::hours(-1));
    let url = behind.url();
    env.set("AWS_ENDPOINT_URL", &url);
    let (code, json) = doctor_json(&env, &[]);
    assert_eq!(code, 1);
    assert_eq!(ids(&json), ["clock-skew"], "one finding per endpoint");
    expect(
        &json,
        "clock-skew",
        "error",
        None,
        None,
        &format!(
            "the local clock is about 60 min ahead of the STS endpoint {url} (its Date header): STS refuses requests signed more than 15 minutes off: rolegate signs with STS's time, other tools may not"
        ),
        "synchronise the clock (`timedatectl set-ntp true`, or your system's time settings)",
    );
    let skew = profile(&json, "target")["sts_endpoint"]["clock_skew_seconds"].as_i64().unwrap();
    assert!((3595..=3605).contains(&skew), "{skew}");

    let ahead = dated_server(time::Duration::minutes(5));
    let url = ahead.url();
    env.set("AWS_ENDPOINT_URL", &url);
    let (code, json) = doctor_json(&env, &[]);
    assert_eq!(code, 0, "a few minutes off is a warning");
    expect(
        &json,
        "clock-skew",
        "warning",
        None,
        None,
        &format!(
            "the local clock is about 5 min behind the STS endpoint {url} (its Date header): tools that sign by the local clock fail once it is more than 15 minutes off"
        ),
        "synchronise the clock (`timedatectl set-ntp true`, or your system's time settings)",
    );
}

#[test]
fn an_unreachable_configured_endpoint_is_a_warning() {
    let mut env = env_for("healthy");
    let url = closed_port_url();
    env.set("AWS_ENDPOINT_URL_STS", &url);
    let (code, json) = doctor_json(&env, &[]);
    assert_eq!(code, 0);
    assert_eq!(ids(&json), ["sts-endpoint-unreachable"]);
    let f = findings(&json, "sts-endpoint-unreachable")[0];
    assert_eq!(f["severity"], "warning");
    let message = f["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("the configured STS endpoint {url} does not answer (")), "{message}");
    assert!(message.ends_with("): rolegate's calls to it will fail too"), "{message}");
    assert_eq!(
        f["fix"],
        "check the endpoint URL (from AWS_ENDPOINT_URL_STS) and that the service behind it is running"
    );
}

// ---------------------------------------------------------------------------------------------
// Terraform directories that cannot be read.

#[test]
fn terraform_dir_without_tf_files_is_a_usage_error() {
    let env = env_for("healthy");
    let run = doctor(&env, &["--terraform", &tf("empty")]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "rolegate: error: no *.tf files in $DATA/terraform/empty\nrolegate: hint: point --terraform at the directory that holds the root module's .tf files (subdirectories are not read)\n"
    );
    let run = doctor(&env, &["--terraform", &tf("does-not-exist")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("rolegate: error: cannot read the Terraform directory $DATA/terraform/does-not-exist: "),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets.

/// Every secret value of the fixture credentials file.
fn fixture_secrets() -> Vec<String> {
    read(&data_credentials())
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| matches!(k.trim(), "aws_secret_access_key" | "aws_session_token"))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[test]
fn no_output_holds_a_secret() {
    let secrets = fixture_secrets();
    assert!(secrets.len() >= 4, "{secrets:?}");
    for (case, tf_case) in [("seed", "seed"), ("healthy", "healthy"), ("duration", "backend")] {
        let env = env_for(case);
        for args in [vec!["-vv"], vec!["-vv", "--json"]] {
            let mut all = args.clone();
            let dir = tf(tf_case);
            all.extend(["--terraform", dir.as_str()]);
            let run = doctor(&env, &all);
            assert!(!run.stdout.is_empty());
            for secret in &secrets {
                assert!(!run.stdout.contains(secret.as_str()), "{case} {args:?}: stdout holds {secret:.10}...");
                assert!(!run.stderr.contains(secret.as_str()), "{case} {args:?}: stderr holds {secret:.10}...");
            }
        }
    }
    // The temporary keys' profile is explained (its access key id shows, its token does not).
    let run = doctor(&env_for("healthy"), &["via-temporary"]);
    assert!(
        run.stdout.contains("aws_access_key_id ASIADOCTORFIXTURE003 (temporary: aws_session_token is set)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("       aws_session_token = (set, not shown) ($HOME/.aws/credentials:"),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// Cache paths that are not a usable directory, a Terraform file that is not UTF-8.

#[test]
fn a_cache_path_that_is_a_file_is_a_finding() {
    let mut env = env_for("healthy");
    std::fs::write(env.path("not-a-dir"), "").unwrap();
    env.set("ROLEGATE_CACHE_DIR", env.path("not-a-dir").to_str().unwrap());
    let (code, json) = doctor_json(&env, &[]);
    assert_eq!(code, 1, "{json:#}");
    let f = findings(&json, "cache-dir-not-a-directory");
    assert_eq!(f.len(), 1, "{:#}", json["findings"]);
    assert_eq!(f[0]["severity"], "error");
    assert!(f[0]["message"].as_str().unwrap().starts_with("the cache directory path is not a directory"), "{:#}", f[0]);
}

#[test]
fn a_terraform_file_that_is_not_utf8_is_a_warning_and_the_rest_is_read() {
    let env = env_for("healthy");
    let dir = env.path("tf");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.tf"), b"provider \"aws\" { profile = \"\xff\" }\n").unwrap();
    std::fs::write(dir.join("b.tf"), "provider \"aws\" {\n  profile = \"nope\"\n}\n").unwrap();
    let (_, json) = doctor_json(&env, &["--terraform", dir.to_str().unwrap()]);
    let f = findings(&json, "terraform-file-unreadable");
    assert_eq!(f.len(), 1, "{:#}", json["findings"]);
    assert_eq!(f[0]["severity"], "warning");
    assert!(f[0]["file"].as_str().unwrap().ends_with("/tf/a.tf"), "{:#}", f[0]);
    assert_eq!(findings(&json, "terraform-profile-not-found").len(), 1, "b.tf was read: {:#}", json["findings"]);
}

#[test]
fn a_cache_path_that_cannot_be_inspected_is_a_warning() {
    let mut env = env_for("healthy");
    // A symlink that points at itself: every lookup through it fails (ELOOP), even for root.
    std::os::unix::fs::symlink(env.path("loop"), env.path("loop")).unwrap();
    env.set("ROLEGATE_CACHE_DIR", env.path("loop").to_str().unwrap());
    let (_, json) = doctor_json(&env, &[]);
    let f = findings(&json, "cache-dir-unreadable");
    assert_eq!(f.len(), 1, "{:#}", json["findings"]);
    assert_eq!(f[0]["severity"], "warning");
    let message = f[0]["message"].as_str().unwrap();
    assert!(message.starts_with("cannot inspect the cache directory: cannot inspect "), "{message}");
    assert!(message.contains("/loop"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// The findings table: one row per scenario of the shape "these two files (and environment),
// `rolegate doctor ARGS`, these findings and this exit status". The runner checks every row's
// `--json` document (the documented shape, the exit status, the findings pinned field by field)
// and its text report (the same exit status, each finding's message), and reports every failing
// row by name at the end instead of stopping at the first.

/// What a finding's `message` must be.
enum Msg {
    /// Exactly this text.
    Is(String),
    /// Text that starts with this.
    Starts(String),
}

/// What a finding's `fix` must be.
enum Fix {
    /// Exactly this text.
    Is(String),
    /// Some text, not empty.
    Given,
}

/// One finding a case expects, found by its id and place.
struct Finding {
    id: &'static str,
    severity: &'static str,
    profile: Option<&'static str>,
    /// `FILE:LINE`, `FILE`, or no place.
    at: Option<String>,
    message: Msg,
    fix: Fix,
}

/// What a case says of the whole list of findings.
enum Ids {
    /// Not checked beyond the expected findings.
    Unchecked,
    /// Exactly these ids, in this order.
    Exactly(Vec<&'static str>),
    /// This many findings.
    Count(usize),
    /// Each expected finding's id occurs once (one finding per fault, though several profiles
    /// of a chain meet it).
    Once,
}

/// Checks that go beyond the findings, collected rather than stopping at the first.
#[derive(Default)]
struct Checks {
    problems: Vec<String>,
}

impl Checks {
    fn eq<A: PartialEq<E> + std::fmt::Debug, E: std::fmt::Debug>(&mut self, what: &str, actual: A, expected: E) {
        if actual != expected {
            self.problems.push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }

    fn holds(&mut self, what: &str, ok: bool) {
        if !ok {
            self.problems.push(what.to_string());
        }
    }
}

struct Case {
    name: String,
    config: String,
    credentials: String,
    env: Vec<(&'static str, String)>,
    args: Vec<String>,
    exit: Option<i32>,
    ids: Ids,
    findings: Vec<Finding>,
    /// Fragments of the text report.
    text: Vec<String>,
    /// How the text report ends.
    text_end: Option<String>,
    /// Checks of the `--json` document beyond the findings (the profiles' explanations).
    extra: Option<fn(&Value, &mut Checks)>,
    /// The config file (`config`) or the credentials file (`credentials`) does not exist.
    missing: Vec<&'static str>,
}

impl Case {
    /// `configs/FIXTURE.config` and its credentials (`FIXTURE.credentials`, else the shared one).
    fn fixture(name: &str, fixture: &str) -> Case {
        let own = data(&format!("configs/{fixture}.credentials"));
        let credentials = read(&if own.exists() { own } else { data_credentials() });
        Case::inline(name, read(&data(&format!("configs/{fixture}.config"))), credentials)
    }

    fn inline(name: &str, config: String, credentials: String) -> Case {
        Case {
            name: name.to_string(),
            config,
            credentials,
            env: Vec::new(),
            args: Vec::new(),
            exit: None,
            ids: Ids::Unchecked,
            findings: Vec::new(),
            text: Vec::new(),
            text_end: None,
            extra: None,
            missing: Vec::new(),
        }
    }

    /// Leaves out `config` or `credentials` (a machine where it was never written).
    fn without(mut self, file: &'static str) -> Case {
        self.missing.push(file);
        self
    }

    fn args(mut self, args: &[&str]) -> Case {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// `--terraform` with the fixture directory `terraform/DIR`.
    fn terraform(mut self, dir: &str) -> Case {
        self.args.extend(["--terraform".to_string(), tf(dir)]);
        self
    }

    fn env(mut self, name: &'static str, value: &str) -> Case {
        self.env.push((name, value.to_string()));
        self
    }

    fn exit(mut self, code: i32) -> Case {
        self.exit = Some(code);
        self
    }

    fn ids(mut self, ids: &[&'static str]) -> Case {
        self.ids = Ids::Exactly(ids.to_vec());
        self
    }

    fn count(mut self, n: usize) -> Case {
        self.ids = Ids::Count(n);
        self
    }

    fn once(mut self) -> Case {
        self.ids = Ids::Once;
        self
    }

    fn finding(
        mut self,
        id: &'static str,
        severity: &'static str,
        profile: Option<&'static str>,
        at: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Case {
        self.findings.push(Finding {
            id,
            severity,
            profile,
            at: at.map(str::to_string),
            message: Msg::Is(message.into()),
            fix: Fix::Is(fix.into()),
        });
        self
    }

    /// A finding pinned by the start of its message and with some fix.
    fn finding_starting(
        mut self,
        id: &'static str,
        severity: &'static str,
        profile: Option<&'static str>,
        at: &str,
        message: &str,
        fix: Fix,
    ) -> Case {
        self.findings.push(Finding {
            id,
            severity,
            profile,
            at: Some(at.to_string()),
            message: Msg::Starts(message.to_string()),
            fix,
        });
        self
    }

    fn text(mut self, fragment: impl Into<String>) -> Case {
        self.text.push(fragment.into());
        self
    }

    fn text_end(mut self, end: &str) -> Case {
        self.text_end = Some(end.to_string());
        self
    }

    fn extra(mut self, check: fn(&Value, &mut Checks)) -> Case {
        self.extra = Some(check);
        self
    }
}

fn place(f: &Value) -> Option<String> {
    match (f["file"].as_str(), f["line"].as_u64()) {
        (Some(file), Some(line)) => Some(format!("{file}:{line}")),
        (Some(file), None) => Some(file.to_string()),
        _ => None,
    }
}

/// Runs one case; returns what went wrong, empty when it passed.
fn run_case(case: &Case) -> Vec<String> {
    let Some(exit) = case.exit else { return vec!["malformed case: no exit status".into()] };
    let mut env = TestEnv::new();
    env.write_config(&case.config);
    env.write_credentials(&case.credentials);
    for file in &case.missing {
        let path = match *file {
            "config" => env.config_path(),
            "credentials" => env.credentials_path(),
            other => return vec![format!("malformed case: no file {other:?}")],
        };
        std::fs::remove_file(path).expect("remove the file");
    }
    for (name, value) in &case.env {
        env.set(name, value);
    }
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let mut c = Checks::default();
    // doctor_json asserts the documented shape; a panic there is this case's failure.
    let (code, json) = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doctor_json(&env, &args))) {
        Ok(result) => result,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return vec![format!("doctor --json: {why}")];
        }
    };
    let listed = || format!("{:#}", json["findings"]);
    c.eq("exit status", code, exit);
    match &case.ids {
        Ids::Unchecked => {}
        Ids::Exactly(want) => c.eq("finding ids", ids(&json), want.as_slice()),
        Ids::Count(n) => c.eq("number of findings", ids(&json).len(), *n),
        Ids::Once => {
            for f in &case.findings {
                c.eq(&format!("findings {}", f.id), findings(&json, f.id).len(), 1);
            }
        }
    }
    let mut messages = Vec::new();
    for want in &case.findings {
        let all = findings(&json, want.id);
        let Some(f) = all.iter().find(|f| place(f) == want.at) else {
            c.problems.push(format!("no finding {} at {:?} in {}", want.id, want.at, listed()));
            continue;
        };
        let what = |field: &str| format!("{} at {:?}: {field}", want.id, want.at);
        c.eq(&what("severity"), f["severity"].as_str(), Some(want.severity));
        c.eq(&what("profile"), f["profile"].as_str(), want.profile);
        let message = f["message"].as_str().unwrap_or_default();
        match &want.message {
            Msg::Is(text) => c.eq(&what("message"), message, text.as_str()),
            Msg::Starts(start) => c.holds(
                &format!("{}: {message:?} does not start with {start:?}", what("message")),
                message.starts_with(start.as_str()),
            ),
        }
        let fix = f["fix"].as_str().unwrap_or_default();
        match &want.fix {
            Fix::Is(text) => c.eq(&what("fix"), fix, text.as_str()),
            Fix::Given => c.holds(&format!("{} says how to fix it", what("fix")), !fix.is_empty()),
        }
        messages.push(message.to_string());
    }
    if let Some(extra) = case.extra {
        extra(&json, &mut c);
    }

    // The text report: the same exit status, every expected finding's message, the fragments.
    let text = doctor(&env, &args);
    c.eq("text report's exit status", text.code, exit);
    for message in messages.iter().chain(&case.text) {
        c.holds(&format!("the text report lacks {message:?}"), text.stdout.contains(message.as_str()));
    }
    if let Some(end) = &case.text_end {
        c.holds(&format!("the text report does not end with {end:?}"), text.stdout.ends_with(end.as_str()));
    }
    if !c.problems.is_empty() {
        c.problems.push(format!("the findings: {}", listed()));
    }
    c.problems
}

#[test]
fn doctor_findings_table() {
    let cases = cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    let mut failures = Vec::new();
    for case in &cases {
        let problems = run_case(case);
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", case.name, problems.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

const ROLE: &str = "arn:aws:iam::123456789012:role/r";
const MFA: &str = "arn:aws:iam::123456789012:mfa/u";

/// Every case of the table.
fn cases() -> Vec<Case> {
    let mut all = missing_file_cases();
    all.extend(profile_cases());
    all.extend(terraform_cases());
    all.extend(configuration_error_cases());
    all
}

/// Machines where a file was never written: nothing set up, keys expected in a missing file.
fn missing_file_cases() -> Vec<Case> {
    let setup = "run `rolegate setup`: on a terminal it asks for the role, the MFA device and the profile with your keys, and writes the MFA profile and its `-tf` profile for Terraform (without a terminal: `rolegate setup PROFILE --source-profile BASE --role-arn ARN --mfa-serial ARN`)";
    let store = |p: &str| {
        format!(
            "store the access key of profile `{p}`: `rolegate add {p}` (the OS credential store), or `aws configure --profile {p}` (writes $HOME/.aws/credentials)"
        )
    };
    let role = format!("[profile target]\nsource_profile = base\nrole_arn = {ROLE}\nmfa_serial = {MFA}\n");
    vec![
        Case::inline("an_empty_machine_says_to_run_setup", String::new(), String::new())
            .without("config")
            .without("credentials")
            .exit(0)
            .ids(&["config-file-missing"])
            .finding(
                "config-file-missing",
                "warning",
                None,
                Some("$HOME/.aws/config"),
                "the config file does not exist, nor does the credentials file $HOME/.aws/credentials: nothing is set up yet",
                setup,
            )
            .text_end("0 errors, 1 warning\n"),
        Case::inline("an_empty_machine_asked_about_a_profile", String::new(), String::new())
            .without("config")
            .without("credentials")
            .args(&["target"])
            .exit(1)
            .ids(&["profile-not-found", "config-file-missing"]),
        Case::inline("keys_but_no_config_file", String::new(), read(&data_credentials()))
            .without("config")
            .exit(0)
            .ids(&["config-file-missing"])
            .finding(
                "config-file-missing",
                "warning",
                None,
                Some("$HOME/.aws/config"),
                "the config file does not exist: no profile with a role or an MFA device is set up",
                setup,
            ),
        Case::inline("a_config_without_mfa_profiles", "[default]\nregion = eu-west-1\n".into(), String::new())
            .exit(0)
            .ids(&["no-mfa-profiles"])
            .finding(
                "no-mfa-profiles",
                "info",
                None,
                Some("$HOME/.aws/config"),
                "no profile has a role with an MFA device or an mfa_serial: rolegate has nothing to serve yet",
                setup,
            ),
        Case::inline(
            "keys_expected_in_a_missing_credentials_file",
            format!("{role}[profile base]\nregion = us-west-2\n"),
            String::new(),
        )
        .without("credentials")
        .exit(1)
        .ids(&["credentials-file-missing"])
        .finding(
            "credentials-file-missing",
            "error",
            Some("base"),
            Some("$HOME/.aws/config:5"),
            "profile `base` has no keys: they would be in the credentials file $HOME/.aws/credentials, which does not exist",
            store("base"),
        ),
        Case::inline("a_source_profile_only_in_a_missing_credentials_file", role.clone(), String::new())
            .without("credentials")
            .exit(1)
            .ids(&["credentials-file-missing"])
            .finding(
                "credentials-file-missing",
                "error",
                Some("target"),
                Some("$HOME/.aws/config:2"),
                "profile `target` names source_profile `base`, whose keys would be in the credentials file $HOME/.aws/credentials, which does not exist",
                store("base"),
            ),
        // Keys in a credential store: no credentials file is needed.
        Case::inline(
            "keys_in_a_store_need_no_credentials_file",
            format!("{role}[profile base]\nregion = us-west-2\nrolegate_keystore = kernel-keyring\nrolegate_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
            String::new(),
        )
        .without("credentials")
        .exit(0)
        .ids(&[]),
        // The file exists: missing keys are missing keys.
        Case::inline("keys_missing_from_an_existing_credentials_file", format!("{role}[profile base]\nregion = us-west-2\n"), String::new())
            .exit(1)
            .ids(&["no-credentials"]),
    ]
}

/// The profile findings on the fixture configs.
fn profile_cases() -> Vec<Case> {
    let console = "IAM console: Users > your user > Security credentials > Multi-factor authentication";
    vec![
        // One loop, one finding, whichever member meets it.
        Case::fixture("source_profile_loop", "loop")
            .exit(1)
            .ids(&["source-profile-loop"])
            .finding(
                "source-profile-loop",
                "error",
                Some("a"),
                Some("$HOME/.aws/config:7"),
                "source_profile loop a -> b -> a: no profile in it holds keys, so nothing can start the chain",
                "point source_profile of `b` at the profile that holds your keys (aws_access_key_id/aws_secret_access_key in $HOME/.aws/credentials), or give one profile of the loop its own keys",
            )
            .extra(|json, c| {
                for name in ["a", "b"] {
                    let p = profile(json, name);
                    c.eq(&format!("profile {name}: ok"), &p["ok"], &Value::Bool(false));
                    c.eq(&format!("profile {name}: error"), &p["error"], &json["findings"][0]["message"]);
                    c.eq(&format!("profile {name}: chain"), &p["chain"], &serde_json::json!([]));
                }
            }),
        Case::fixture("dangling_source_profile_and_sections_the_sdks_ignore", "dangling")
            .exit(1)
            .count(4)
            .finding(
                "source-profile-missing",
                "error",
                Some("GEHC-056"),
                Some("$HOME/.aws/config:5"),
                "profile `GEHC-056` names source_profile `GEHC-000`, which is not defined in either file",
                "write `[profile GEHC-000]` instead of `[GEHC-000]` at $HOME/.aws/config:1: the config file ignores sections without `profile `",
            )
            .finding(
                "source-profile-missing",
                "error",
                Some("typo"),
                Some("$HOME/.aws/config:10"),
                "profile `typo` names source_profile `basse`, which is not defined in either file",
                "add [profile basse] to $HOME/.aws/config (or [basse] with its keys to $HOME/.aws/credentials), or correct the name in source_profile",
            )
            .finding(
                "config-section-without-profile-prefix",
                "warning",
                Some("GEHC-000"),
                Some("$HOME/.aws/config:1"),
                "section `[GEHC-000]` in the config file is ignored by the SDKs: only `[profile GEHC-000]` (and `[default]`) define profiles there",
                "write `[profile GEHC-000]`",
            )
            .finding(
                "credentials-section-with-profile-prefix",
                "warning",
                Some("base2"),
                Some("$HOME/.aws/credentials:5"),
                "section `[profile base2]` in the credentials file defines a profile named `profile base2`, not `base2`",
                "write `[base2]`: the credentials file takes section names without `profile `",
            ),
        Case::fixture("mfa_serial_that_is_a_user_arn_or_a_user_name", "mfa-user")
            .exit(1)
            .count(2)
            .finding(
                "mfa-serial-not-mfa",
                "error",
                Some("user-arn"),
                Some("$HOME/.aws/config:7"),
                "mfa_serial `arn:aws:iam::1:user/x` is the ARN of an IAM user, not of its MFA device",
                format!(
                    "write the ARN of the user's MFA device, usually `mfa_serial = arn:aws:iam::1:mfa/x` ({console}; or `aws iam list-mfa-devices --user-name x`)"
                ),
            )
            .finding(
                "mfa-serial-not-mfa",
                "error",
                Some("user-name"),
                Some("$HOME/.aws/config:12"),
                "mfa_serial `jdoe` looks like an IAM user name, not an MFA device ARN",
                format!(
                    "write the ARN of the MFA device, usually `mfa_serial = arn:aws:iam::ACCOUNT_ID:mfa/jdoe` with your account id ({console}; or `aws iam list-mfa-devices --user-name jdoe`)"
                ),
            ),
        // A long role with the direct strategy is fine: three findings, not four.
        Case::fixture("durations_above_the_role_chaining_cap_and_out_of_range", "duration")
            .exit(1)
            .count(3)
            .finding(
                "duration-exceeds-role-chaining-cap",
                "error",
                Some("session-long"),
                Some("$HOME/.aws/config:8"),
                "duration_seconds = 7200 cannot work: `rolegate_mfa_strategy = session` assumes `session-long` from the MFA session (role chaining), and STS refuses more than 3600 s for such a role",
                "set duration_seconds to 3600 or less in profile `session-long`, or remove `rolegate_mfa_strategy = session` so that rolegate sends the code to AssumeRole directly (a new code each time the role expires)",
            )
            .finding(
                "duration-exceeds-role-chaining-cap",
                "error",
                Some("chained"),
                Some("$HOME/.aws/config:20"),
                "duration_seconds = 7200 cannot work: `chained` is assumed with the credentials of another role (role chaining), and STS refuses more than 3600 s for such a role",
                "set duration_seconds to 3600 or less in profile `chained` (AWS caps a chained role at 1 h whatever the role allows)",
            )
            .finding(
                "duration-out-of-range",
                "error",
                Some("too-long"),
                Some("$HOME/.aws/config:26"),
                "duration_seconds `50000` is out of range: AssumeRole accepts whole seconds from 900 to 43200",
                "set duration_seconds between 900 and 3600 in profile `too-long` (up to 43200 if the role's maximum session duration allows it; above 3600 rolegate asks a code each time the role expires)",
            )
            .extra(|json, c| {
                let direct = profile(json, "direct-long");
                c.eq("direct-long: strategy", &direct["strategy"]["name"], "direct");
                c.eq("direct-long: reason", &direct["strategy"]["reason"], "long-role");
                c.eq("direct-long: MFA session", &direct["strategy"]["mfa_session_seconds"], &Value::Null);
                c.eq(
                    "direct-long: roles",
                    &direct["strategy"]["roles"],
                    &serde_json::json!([{"profile": "direct-long", "seconds": 7200}]),
                );
            }),
        Case::fixture("credential_process_profile_with_role_settings", "credential-process-role")
            .exit(1)
            .ids(&["credential-process-with-role-settings"])
            .finding(
                "credential-process-with-role-settings",
                "error",
                Some("target-tf"),
                Some("$HOME/.aws/config:12"),
                format!(
                    "profile `target-tf` has credential_process and also source_profile, role_arn, mfa_serial: the SDKs (Terraform, the AWS CLI) try the role settings first and never run credential_process, so Terraform fails again with \"{SEED_ERROR}\""
                ),
                "remove source_profile, role_arn, mfa_serial from profile `target-tf`: `rolegate credential-process target` already follows `target`'s role and MFA settings; keep only credential_process (and region)",
            ),
        Case::fixture("self_recursion_through_a_base_and_a_profile_naming_itself", "self-recursion")
            .exit(1)
            .ids(&["self-recursion", "self-recursion"])
            .finding(
                "self-recursion",
                "error",
                Some("base"),
                Some("$HOME/.aws/config:8"),
                "the credential_process of profile `base` runs `rolegate credential-process target`, and `target` gets its credentials from `base`: rolegate would call itself forever",
                "the start of a chain needs its own credentials: give profile `base` static keys (in $HOME/.aws/credentials) or `credential_source = Environment` instead of a credential_process that calls rolegate for `target`",
            )
            .finding(
                "self-recursion",
                "error",
                Some("loop-tf"),
                Some("$HOME/.aws/config:11"),
                "the credential_process of profile `loop-tf` runs `rolegate credential-process loop-tf`, that is, itself: rolegate would call itself forever",
                "a profile with `credential_process = rolegate credential-process X` must not be X: put role_arn/source_profile/mfa_serial in profile `loop-tf` and the credential_process line in a new profile such as `loop-tf-tf` (`rolegate setup` writes it)",
            ),
        // A warning alone exits 0.
        Case::fixture("missing_region_is_a_warning", "region-missing")
            .exit(0)
            .ids(&["region-missing"])
            .finding(
                "region-missing",
                "warning",
                Some("target"),
                Some("$HOME/.aws/config:4"),
                "no region for profile `target` (none in its chain, no AWS_REGION): rolegate uses us-east-1, and Terraform's provider and backend need one too",
                "add `region = us-east-1` (or your region) to profile `target`",
            )
            .extra(|json, c| c.eq("target: region source", &profile(json, "target")["region"]["source"], "default")),
        Case::fixture("missing_region_is_a_warning_unless_aws_region_is_set", "region-missing")
            .env("AWS_REGION", "eu-central-1")
            .exit(0)
            .ids(&[])
            .extra(|json, c| {
                c.eq(
                    "target: region",
                    &profile(json, "target")["region"],
                    &serde_json::json!({"value": "eu-central-1", "source": "AWS_REGION", "profile": null, "file": null, "line": null}),
                );
            }),
        Case::fixture("a_file_the_sdk_parser_rejects", "parse-error")
            .exit(1)
            .ids(&["config-parse-error"])
            .finding(
                "config-parse-error",
                "error",
                None,
                Some("$HOME/.aws/credentials:3"),
                "the SDK's parser rejects this file: error parsing on line 3: Expected an '=' sign defining a property",
                "fix the line named; `aws configure list` shows how the AWS CLI reads the same files",
            )
            .extra(|json, c| c.eq("profiles", &json["profiles"], &serde_json::json!([]))),
        Case::fixture("a_requested_profile_is_explained_alone", "healthy").args(&["target-tf"]).exit(0).extra(
            |json, c| {
                let names: Vec<&str> =
                    json["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
                c.eq("profiles explained", names, ["target-tf"]);
                let p = profile(json, "target-tf");
                c.eq("target-tf: stands_for", &p["stands_for"], "target");
                c.eq(
                    "target-tf: place",
                    (p["file"].as_str(), p["line"].as_u64()),
                    (Some("$HOME/.aws/config"), Some(10)),
                );
                c.eq("target-tf: second hop", &p["chain"][1]["profile"], "target");
            },
        ),
        Case::fixture("a_requested_profile_with_nothing_to_do", "healthy")
            .args(&["base"])
            .exit(0)
            .ids(&["nothing-to-do"]),
        Case::fixture("a_requested_profile_that_is_not_defined", "healthy")
            .args(&["nope"])
            .exit(1)
            .finding(
                "profile-not-found",
                "error",
                Some("nope"),
                None,
                "profile `nope` is not defined in $HOME/.aws/config or $HOME/.aws/credentials",
                "`aws configure list-profiles` lists the profiles; the name is case-sensitive",
            )
            .extra(|json, c| c.eq("nope: ok", &profile(json, "nope")["ok"], &Value::Bool(false))),
    ]
}

/// The Terraform findings on the fixture directories, with the healthy config.
fn terraform_cases() -> Vec<Case> {
    let mfa_profile_message = |block: &str| {
        format!(
            "{block} hard-codes profile = \"target\", which needs an MFA code (mfa_serial of profile `target`): Terraform cannot ask for it and stops with \"{SEED_ERROR}\""
        )
    };
    let exec_fix = "write profile = \"target-tf\" (already in your config: `credential_process = rolegate credential-process target`), or run Terraform as `rolegate exec target -- terraform plan`: exec's generated config makes the hard-coded profile work unchanged";
    let assume_fix = "replace the assume_role (and the block's profile) with profile = \"target-tf\" (already in your config: `credential_process = rolegate credential-process target`)";
    let evaluate_fix = "check the value it has at run time (`terraform console` shows it), or write it literally";
    vec![
        // The local remote state is not read: three findings.
        Case::fixture("terraform_backend_and_remote_state_with_the_mfa_profile", "healthy")
            .terraform("backend")
            .exit(1)
            .count(3)
            .finding(
                "terraform-mfa-profile",
                "error",
                Some("target"),
                Some("$DATA/terraform/backend/main.tf:6"),
                mfa_profile_message("backend \"s3\""),
                exec_fix,
            )
            .finding(
                "terraform-mfa-profile",
                "error",
                Some("target"),
                Some("$DATA/terraform/backend/main.tf:17"),
                mfa_profile_message("data \"terraform_remote_state\" \"network\""),
                exec_fix,
            )
            .finding(
                "terraform-credentials-file-is-config",
                "error",
                None,
                Some("$DATA/terraform/backend/main.tf:7"),
                "backend \"s3\": shared_credentials_files points at the AWS config file ($HOME/.aws/config), not the credentials file: the SDK reads `[profile NAME]` there as credentials sections named \"profile NAME\" and never reads the keys in $HOME/.aws/credentials",
                "remove shared_credentials_files (the SDK reads ~/.aws/credentials by default), or set it to [\"~/.aws/credentials\"]",
            )
            .extra(|json, c| {
                let blocks: Vec<(&str, &str)> = json["terraform"]["blocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| (b["kind"].as_str().unwrap(), b["name"].as_str().unwrap()))
                    .collect();
                c.eq("blocks", blocks, [("backend", "s3"), ("remote_state", "network")]);
            }),
        // Not for the rolegate profile.
        Case::fixture("terraform_shared_config_files_bypass_the_generated_config", "healthy")
            .terraform("shared-config")
            .exit(1)
            .ids(&["terraform-mfa-profile", "terraform-shared-config-files"])
            .finding(
                "terraform-shared-config-files",
                "warning",
                None,
                Some("$DATA/terraform/shared-config/main.tf:4"),
                "provider \"aws\" sets shared_config_files: `rolegate exec` and the shims hand Terraform a generated config (AWS_CONFIG_FILE) in which MFA profiles call rolegate, and this setting bypasses it",
                "remove shared_config_files, or write profile = \"target-tf\" (already in your config: `credential_process = rolegate credential-process target`), which works with any config file",
            )
            .finding(
                "terraform-mfa-profile",
                "error",
                Some("target"),
                Some("$DATA/terraform/shared-config/main.tf:3"),
                mfa_profile_message("provider \"aws\""),
                "write profile = \"target-tf\" (already in your config: `credential_process = rolegate credential-process target`); `rolegate exec` cannot help while the block sets shared_config_files",
            ),
        // Not for a role without MFA.
        Case::fixture("terraform_assume_role_of_a_role_that_needs_mfa", "healthy")
            .terraform("assume-role")
            .exit(1)
            .ids(&["terraform-assume-role-mfa", "terraform-assume-role-mfa"])
            .finding(
                "terraform-assume-role-mfa",
                "error",
                None,
                Some("$DATA/terraform/assume-role/main.tf:7"),
                "backend \"s3\" assumes role arn:aws:iam::123456789012:role/hc-master with assume_role, and that role needs MFA (profile `target` assumes the same role with MFA): Terraform's assume_role cannot send an MFA code",
                assume_fix,
            )
            .finding(
                "terraform-assume-role-mfa",
                "error",
                None,
                Some("$DATA/terraform/assume-role/main.tf:17"),
                "provider \"aws\" assumes role arn:aws:iam::123456789012:role/hc-master with assume_role, and that role needs MFA (profile `target` assumes the same role with MFA): Terraform's assume_role cannot send an MFA code",
                assume_fix,
            )
            .extra(|json, c| {
                let names: Vec<&str> = json["terraform"]["blocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["name"].as_str().unwrap())
                    .collect();
                c.eq("block names", names, ["s3", "aws", "aws.readonly"]);
            }),
        Case::fixture("terraform_assume_role_from_keys_that_carry_mfa_serial", "keys-mfa")
            .terraform("keys-mfa")
            .exit(1)
            .finding(
                "terraform-assume-role-mfa",
                "error",
                None,
                Some("$DATA/terraform/keys-mfa/main.tf:5"),
                "provider \"aws\" assumes role arn:aws:iam::123456789012:role/admin with assume_role, and that role needs MFA (the keys of profile `base` come with mfa_serial arn:aws:iam::123456789012:mfa/username): Terraform's assume_role cannot send an MFA code",
                "move the role into a profile ([profile NAME] with source_profile = base, role_arn = arn:aws:iam::123456789012:role/admin, mfa_serial = arn:aws:iam::123456789012:mfa/username), then `rolegate setup NAME` and write profile = \"NAME-tf\" instead of assume_role",
            )
            .finding(
                "terraform-mfa-ignored",
                "warning",
                Some("base"),
                Some("$DATA/terraform/keys-mfa/main.tf:3"),
                "provider \"aws\" uses profile = \"base\", whose mfa_serial (on profile `base`, which holds the keys) the SDKs ignore: Terraform calls AWS with the keys alone, without MFA, and policies that require MFA deny it",
                "run `rolegate setup base` and write profile = \"base-tf\": rolegate asks the code and hands Terraform MFA credentials",
            ),
        Case::fixture("terraform_profile_not_found", "healthy")
            .terraform("not-found")
            .exit(0)
            .ids(&["terraform-profile-not-found"])
            .finding(
                "terraform-profile-not-found",
                "warning",
                Some("targte"),
                Some("$DATA/terraform/not-found/main.tf:3"),
                "provider \"aws\" names profile = \"targte\", which is not defined in $HOME/.aws/config or $HOME/.aws/credentials",
                "correct the name, or define the profile (Terraform fails with \"failed to get shared config profile\")",
            ),
        // Notes do not fail.
        Case::fixture("terraform_values_that_cannot_be_evaluated_are_notes", "healthy")
            .terraform("unknown")
            .exit(0)
            .ids(&["terraform-cannot-evaluate"; 3])
            .finding(
                "terraform-cannot-evaluate",
                "info",
                None,
                Some("$DATA/terraform/unknown/main.tf:6"),
                "provider \"aws\": cannot evaluate profile `var.profile`; only literal values are checked",
                evaluate_fix,
            )
            .finding(
                "terraform-cannot-evaluate",
                "info",
                None,
                Some("$DATA/terraform/unknown/main.tf:7"),
                "provider \"aws\": cannot evaluate shared_credentials_files `\"${path.module}/credentials\"`; only literal values are checked",
                evaluate_fix,
            )
            .finding(
                "terraform-cannot-evaluate",
                "info",
                None,
                Some("$DATA/terraform/unknown/main.tf:12"),
                "data \"terraform_remote_state\" \"network\": cannot evaluate config `var.state`; only literal values are checked",
                evaluate_fix,
            )
            .text("\ninfo[terraform-cannot-evaluate]: $DATA/terraform/unknown/main.tf:6: ")
            .text_end("\n0 errors, 0 warnings, 3 notes\n"),
        Case::fixture("terraform_file_that_is_not_hcl", "healthy")
            .terraform("broken")
            .exit(0)
            .ids(&["terraform-parse-error"])
            .finding_starting(
                "terraform-parse-error",
                "warning",
                None,
                "$DATA/terraform/broken/main.tf:8",
                "not valid HCL, not checked: ",
                Fix::Is("`terraform validate` shows the same error".into()),
            ),
    ]
}

/// Each configuration error a profile can have, as doctor reports it: an error at its line of
/// the config, once, with a fix.
fn configuration_error_cases() -> Vec<Case> {
    let role =
        |extra: &str| format!("[profile p]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {MFA}\n{extra}");
    let long_chain = {
        let mut c = format!("[profile p0]\nrole_arn = {ROLE}\nsource_profile = p1\nmfa_serial = {MFA}\n");
        for i in 1..40 {
            c.push_str(&format!("[profile p{i}]\nrole_arn = {ROLE}\nsource_profile = p{}\n", i + 1));
        }
        c + &format!("[profile p40]\nrole_arn = {ROLE}\nsource_profile = base\n")
    };
    // (config, the profile asked about, id, profile of the finding, line in the config, message start)
    let rows: Vec<(String, &str, &'static str, &'static str, u64, &str)> = vec![
        (
            "[profile my role]\nregion = us-east-1\n".into(),
            "my role",
            "profile-name-rejected",
            "my role",
            1,
            "profile `my role` ($HOME/.aws/config): the section [profile my role] is not read",
        ),
        (
            "[profile p]\ncredential_process = rolegate credential-process nope\n".into(),
            "p",
            "credential-process-target-missing",
            "p",
            2,
            "profile `p` runs `rolegate credential-process nope`",
        ),
        (
            long_chain,
            "p0",
            "source-profile-chain-too-long",
            "p0",
            1,
            "the source_profile chain of `p0` is longer than 32",
        ),
        (
            format!("[profile p]\nsource_profile = base\nmfa_serial = {MFA}\n"),
            "p",
            "source-profile-without-role-arn",
            "p",
            2,
            "profile `p` has source_profile but no role_arn",
        ),
        (
            role("credential_source = Environment\n"),
            "p",
            "both-source-profile-and-credential-source",
            "p",
            5,
            "profile `p` has both source_profile and credential_source",
        ),
        (
            format!("[profile p]\nrole_arn = {ROLE}\n"),
            "p",
            "role-without-source",
            "p",
            2,
            "profile `p` has role_arn but neither source_profile nor credential_source",
        ),
        ("[profile p]\nregion = us-east-1\n".into(), "p", "no-credentials", "p", 1, "profile `p` has no credentials"),
        (
            "[profile p]\naws_access_key_id = AKIAROLEGATETESTHALF\n".into(),
            "p",
            "incomplete-keys",
            "p",
            2,
            "profile `p` has aws_access_key_id but not aws_secret_access_key",
        ),
        (
            format!("[profile p]\nrole_arn = {ROLE}\ncredential_source = Ec2InstanceMetadata\nmfa_serial = {MFA}\n"),
            "p",
            "unsupported-credential-source",
            "p",
            3,
            "profile `p`: credential_source = Ec2InstanceMetadata is not supported",
        ),
        (
            format!(
                "[profile p]\nrole_arn = {ROLE}\nsource_profile = sso\nmfa_serial = {MFA}\n[profile sso]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = r\n"
            ),
            "p",
            "unsupported-base",
            "sso",
            5,
            "profile `sso` uses IAM Identity Center (sso_*)",
        ),
        (
            role("").replace(ROLE, "arn:aws:iam::123456789012:user/x"),
            "p",
            "role-arn-invalid",
            "p",
            2,
            "role_arn `arn:aws:iam::123456789012:user/x` is not a role ARN",
        ),
        (
            role("role_session_name = a b c\n"),
            "p",
            "role-session-name-invalid",
            "p",
            5,
            "role_session_name `a b c` is not valid",
        ),
        (
            format!("[profile p]\nrole_arn = {ROLE}\ncredential_source = Environmnet\nmfa_serial = {MFA}\n"),
            "p",
            "credential-source-invalid",
            "p",
            3,
            "credential_source `Environmnet` is not valid",
        ),
        (
            role("rolegate_mfa_strategy = sometimes\n"),
            "p",
            "mfa-strategy-invalid",
            "p",
            5,
            "rolegate_mfa_strategy `sometimes` is not valid",
        ),
        (
            format!(
                "[profile p]\nrole_arn = {ROLE}\nsource_profile = q\nrolegate_mfa_strategy = session\nmfa_serial = {MFA}\n[profile q]\nrole_arn = {ROLE}2\nsource_profile = base\n"
            ),
            "p",
            "mfa-strategy-session-impossible",
            "p",
            4,
            "rolegate_mfa_strategy = session cannot work for profile `p`",
        ),
        (
            role("rolegate_mfa_session_duration = 10\n"),
            "p",
            "mfa-session-duration-out-of-range",
            "p",
            5,
            "rolegate_mfa_session_duration `10` is not valid",
        ),
        (
            format!(
                "[profile p]\nrole_arn = {ROLE}\nsource_profile = q\nmfa_serial = {MFA}\n[profile q]\nrole_arn = {ROLE}2\nsource_profile = base\nmfa_serial = arn:aws:iam::123456789012:mfa/other\n"
            ),
            "p",
            "two-mfa-devices",
            "p",
            4,
            "the chain uses two MFA devices",
        ),
        (
            "[profile p]\nrole_arn = arn:aws-us-gov:iam::123456789012:role/r\nsource_profile = base\nmfa_serial = arn:aws-us-gov:iam::123456789012:mfa/u\n".into(),
            "p",
            "partition-mismatch",
            "p",
            2,
            "role_arn `arn:aws-us-gov:iam::123456789012:role/r` is in partition aws-us-gov, but region `us-east-1` (the default region) is in partition aws",
        ),
        (
            format!("[profile p]\nregion = cn-north-1\nrole_arn = arn:aws-cn:iam::123456789012:role/r\nsource_profile = base\nmfa_serial = {MFA}\n"),
            "p",
            "partition-mismatch",
            "p",
            5,
            "mfa_serial `arn:aws:iam::123456789012:mfa/u` is in partition aws, but region `cn-north-1` (the region of profile `p`) is in partition aws-cn",
        ),
        (
            format!(
                "[profile p]\ninclude_profile = q\nrole_arn = {ROLE}\n[profile q]\ninclude_profile = p\nsource_profile = base\n"
            ),
            "p",
            "include-profile-loop",
            "p",
            2,
            "include_profile loop p -> q -> p",
        ),
        (
            format!(
                "[profile p]\nrole_arn = {ROLE}\ninclude_profile = common\nmfa_serial = {MFA}\n[profile common]\nsource_profile = base\ninclude_profile = gone\n"
            ),
            "p",
            "include-profile-missing",
            "p",
            7,
            "profile `common` includes profile `gone` (include_profile), which is not defined",
        ),
        (
            role("session_tags = team\n"),
            "p",
            "session-attribute-invalid",
            "p",
            5,
            "session_tags `team` is not valid for AssumeRole",
        ),
        (
            format!("[profile common]\nsource_identity = a\n{}", role("include_profile = common\n")),
            "p",
            "session-attribute-invalid",
            "p",
            2,
            "source_identity `a` is not valid for AssumeRole",
        ),
        (
            role("region = not a region!\n"),
            "p",
            "sts-endpoint-invalid",
            "p",
            1,
            "no STS endpoint for profile `p`: invalid region \"not a region!\"",
        ),
        (
            role("endpoint_url = not-a-url\n"),
            "p",
            "sts-endpoint-invalid",
            "p",
            1,
            "no STS endpoint for profile `p`: invalid endpoint URL \"not-a-url\"",
        ),
    ];
    rows.into_iter()
        .map(|(config, asked, id, profile, line, message)| {
            let name = format!("configuration error {id}: {message}");
            Case::inline(&name, config, seed_credentials()).args(&[asked]).exit(1).once().finding_starting(
                id,
                "error",
                Some(profile),
                &format!("$HOME/.aws/config:{line}"),
                message,
                Fix::Given,
            )
        })
        .collect()
}
