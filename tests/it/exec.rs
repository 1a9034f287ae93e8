//! `rolegate exec`: the child's environment, the generated config for hard-coded profiles,
//! nesting, exit statuses, and the local endpoint of `--server` (contract, hardening, renewal,
//! signals).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::common::env::*;
use crate::common::strict_sts::RoleSpec;

/// `env -0` output as a map.
fn env_map(stdout: &[u8]) -> BTreeMap<String, String> {
    stdout
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

#[test]
fn the_child_gets_the_credential_environment() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.set("AWS_PROFILE", "target");
    env.set("AWS_DEFAULT_PROFILE", "target");
    env.set("AWS_SECURITY_TOKEN", "stale");
    env.set("AWS_SDK_LOAD_CONFIG", "1");
    let out = env.rolegate(&["exec", "target", "--mfa-token", "123456", "--", "env", "-0"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let vars = env_map(&out.stdout);
    assert!(vars["AWS_ACCESS_KEY_ID"].starts_with("ASIA"));
    assert!(!vars["AWS_SECRET_ACCESS_KEY"].is_empty() && !vars["AWS_SESSION_TOKEN"].is_empty());
    assert!(vars["AWS_CREDENTIAL_EXPIRATION"].ends_with('Z'));
    assert_eq!((vars["AWS_REGION"].as_str(), vars["AWS_DEFAULT_REGION"].as_str()), ("us-west-2", "us-west-2"));
    assert_eq!(vars["ROLEGATE_PROFILE"], "target");
    for gone in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN", "AWS_SDK_LOAD_CONFIG"] {
        assert!(!vars.contains_key(gone), "{gone} must be unset");
    }
    // The generated config: private, the MFA profile rewritten, the others untouched.
    let generated = std::path::Path::new(&vars["AWS_CONFIG_FILE"]);
    assert!(generated.starts_with(env.cache_dir()), "{}", generated.display());
    assert_eq!(std::fs::metadata(generated).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(generated).unwrap();
    assert!(text.contains("[profile target]\n# rolegate: this profile's role and MFA settings are served by rolegate\ncredential_process = "), "{text}");
    assert!(!text.contains("mfa_serial") && !text.contains("role_arn"), "{text}");
    assert!(text.contains("[profile base]\nregion = us-west-2\n"), "{text}");
    assert_eq!(vars["ROLEGATE_CONFIG_FILE"], env.home().join(".aws/config").display().to_string());
    // The user's own files are untouched.
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config")).unwrap(), SEED_CONFIG);
}

#[test]
fn keys_of_an_mfa_profile_in_the_credentials_file_are_left_out_of_a_private_copy() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    // Keys in the credentials file and mfa_serial in the config: the SDKs would use the keys
    // without MFA before they looked at the generated credential_process.
    env.write_config(&format!("{SEED_CONFIG}\n[profile keys-mfa]\nmfa_serial = {MFA_SERIAL}\nregion = us-west-2\n"));
    let credentials = format!(
        "{}\n[keys-mfa]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n",
        seed_credentials()
    );
    env.write_credentials(&credentials);
    // The copy lives as long as the run: the child shows its modes and contents.
    let snapshot = env.path("snapshot.credentials");
    let child = "env -0 && stat -c '%a' \"$AWS_SHARED_CREDENTIALS_FILE\" \"${AWS_SHARED_CREDENTIALS_FILE%/*}\" > \"$0\" && cat \"$AWS_SHARED_CREDENTIALS_FILE\" >> \"$0\"";
    let out = env
        .rolegate(&["exec", "keys-mfa", "--mfa-token", "123456", "--", "sh", "-c", child, snapshot.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let vars = env_map(&out.stdout);
    let copy = std::path::Path::new(&vars["AWS_SHARED_CREDENTIALS_FILE"]);
    assert!(copy.starts_with(env.cache_dir().join("generated")), "{}", copy.display());
    let seen = std::fs::read_to_string(&snapshot).unwrap();
    let mut parts = seen.splitn(3, '\n');
    let modes = [parts.next().unwrap(), parts.next().unwrap()];
    let text = parts.next().unwrap();
    assert_eq!(modes, ["600", "700"], "the copy is 0600 in a 0700 directory");
    assert!(!copy.exists(), "the copy is removed when the child ends");
    assert!(!text.contains("[keys-mfa]"), "the rewritten profile's keys are left out: {text}");
    assert!(text.starts_with(&seed_credentials()), "the other sections are kept as they are: {text}");
    std::fs::remove_file(&snapshot).unwrap();
    let config = std::fs::read_to_string(&vars["AWS_CONFIG_FILE"]).unwrap();
    assert!(config.contains("[profile keys-mfa]\n# rolegate: "), "{config}");
    assert_eq!(vars["ROLEGATE_SHARED_CREDENTIALS_FILE"], env.home().join(".aws/credentials").display().to_string());
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/credentials")).unwrap(), credentials, "untouched");
    // The child's credentials are an MFA session of those keys.
    assert!(vars["AWS_ACCESS_KEY_ID"].starts_with("ASIA"));
    assert_eq!(sts.count("GetSessionToken"), 1);
}

/// The files under `dir` whose contents hold `secret`.
fn files_holding(dir: &std::path::Path, secret: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, secret));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(secret.len()).any(|w| w == secret.as_bytes())) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// A profile that needs MFA and also has keys in the credentials file makes exec copy that file
/// (without those keys, with the others'): no copy of the base secret outlives the run, whether
/// the child ends, is killed, or rolegate itself is killed (then the next exec removes it).
#[test]
fn no_copy_of_the_keys_outlives_exec() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!("{SEED_CONFIG}\n[profile keys-mfa]\nmfa_serial = {MFA_SERIAL}\nregion = us-west-2\n"));
    env.write_credentials(&format!(
        "{}\n[keys-mfa]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n",
        seed_credentials()
    ));
    let run = env.path("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let holding =
        |env: &TestEnv| [files_holding(&env.cache_dir(), BASE_SECRET), files_holding(&run, BASE_SECRET)].concat();
    // The child proves it had the copy, with a secret key in it (the base's: the keys of
    // `keys-mfa` are left out).
    let had_copy = "grep -q aws_secret_access_key \"$AWS_SHARED_CREDENTIALS_FILE\" && echo had-copy";

    // In the cache directory (no private runtime directory), then in the runtime directory.
    for (runtime, code) in [(None, "123456"), (Some(&run), "234567")] {
        match runtime {
            Some(dir) => env.set("XDG_RUNTIME_DIR", dir.to_str().unwrap()),
            None => env.unset("XDG_RUNTIME_DIR"),
        }
        let out = env
            .rolegate(&["exec", "keys-mfa", "--refresh-mfa", "--mfa-token", code, "--", "sh", "-c", had_copy])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "had-copy\n");
        assert_eq!(holding(&env), Vec::<String>::new(), "{runtime:?}: no file holds the base secret after the run");
    }

    // A child killed by a signal: the status says so, and the copy is gone.
    env.unset("XDG_RUNTIME_DIR");
    let killed = format!("{had_copy} && kill -KILL $$");
    let out = env.rolegate(&["exec", "keys-mfa", "--", "sh", "-c", &killed]).output().unwrap();
    assert_eq!(out.status.code(), Some(137), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "had-copy\n");
    assert_eq!(holding(&env), Vec::<String>::new(), "a killed child leaves no copy");

    // rolegate itself killed (SIGKILL) while its child runs: the copy stays behind...
    let waits = format!("{had_copy} && echo \"child=$$.\" && exec sleep 1000");
    let mut crashed = env
        .rolegate(&["exec", "keys-mfa", "--", "sh", "-c", &waits])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(crashed.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first).unwrap();
    stdout.read_line(&mut second).unwrap();
    assert_eq!(first, "had-copy\n");
    let child_pid = second.trim().trim_start_matches("child=").trim_end_matches('.').to_string();
    crashed.kill().unwrap();
    crashed.wait().unwrap();
    let _ = std::process::Command::new("kill").args(["-KILL", &child_pid]).status();
    let left = holding(&env);
    assert_eq!(left.len(), 1, "the killed run's copy: {left:?}");
    // ... and the next exec removes it before its own run.
    let out = env.rolegate(&["exec", "keys-mfa", "--", "sh", "-c", had_copy]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(holding(&env), Vec::<String>::new(), "the leftover is removed");
}

#[test]
fn the_copies_go_to_a_private_runtime_directory_when_there_is_one() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let run = env.path("run");
    std::fs::create_dir(&run).unwrap();
    env.set("XDG_RUNTIME_DIR", run.to_str().unwrap());
    let copy_dir = |env: &TestEnv| {
        let out = env.rolegate(&["exec", "target", "--mfa-token", "123456", "--", "env", "-0"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let vars = env_map(&out.stdout);
        std::path::Path::new(&vars["AWS_CONFIG_FILE"]).parent().unwrap().to_path_buf()
    };

    // Readable by others: not private, so the cache directory is used.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(copy_dir(&env), env.cache_dir().join("generated"));

    // Private (as systemd makes /run/user/UID): the copies never reach the cache directory.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = copy_dir(&env);
    assert_eq!(dir, run.join("rolegate"));
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(std::fs::read_dir(&dir).unwrap().count() >= 1);

    // `clear --all` removes them with the rest.
    let cleared = env.rolegate(&["clear", "--all"]).output().unwrap();
    assert!(cleared.status.success(), "{}", stderr_of(&cleared));
    assert!(!dir.exists() && !env.cache_dir().join("generated").exists());
}

#[test]
fn a_copy_directory_that_is_not_private_is_refused() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let run = env.path("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.set("XDG_RUNTIME_DIR", run.to_str().unwrap());
    let copies = run.join("rolegate");
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    // Prepared by someone else: open to others, or a link to a place of their choosing.
    let open = || {
        std::fs::create_dir(&copies).unwrap();
        std::fs::set_permissions(&copies, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let link = || std::os::unix::fs::symlink(&elsewhere, &copies).unwrap();
    for (prepare, why) in [(&open as &dyn Fn(), "mode 755, not 700"), (&link, "not a directory")] {
        prepare();
        let out = env.run_without_terminal(&["exec", "target", "--mfa-token", "123456", "--", "true"]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(6), "{err}");
        assert!(err.contains(&format!("{} cannot hold copies of your AWS files", copies.display())), "{err}");
        assert!(err.contains(why) && err.contains("hint: remove it"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing was written through the link");
        assert_eq!(sts.count("GetSessionToken"), 0, "no code was spent");
        let _ = std::fs::remove_dir(&copies).or_else(|_| std::fs::remove_file(&copies));
    }
}

/// `rolegate exec PROFILE` with no command starts `$SHELL` (here reading its commands from a
/// pipe), with the credentials, `ROLEGATE_PROFILE`, and its exit status passed through; also
/// with `--server`.
#[test]
fn exec_without_a_command_starts_the_users_shell() {
    use std::io::Write;
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.set("SHELL", "/bin/sh");
    let script = "echo profile=$ROLEGATE_PROFILE\n\
        case $AWS_ACCESS_KEY_ID in ASIA*) echo keys=temporary;; esac\n\
        echo endpoint=${AWS_CONTAINER_CREDENTIALS_FULL_URI:+set}\n\
        exit 3\n";
    for (flags, endpoint) in [(&["--mfa-token", "123456"][..], "endpoint=\n"), (&["--server"][..], "endpoint=set\n")] {
        let mut args = vec!["exec", "target"];
        args.extend_from_slice(flags);
        let mut cmd = env.rolegate(&args);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.into_command().spawn().unwrap();
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{stdout}{}", stderr_of(&out));
        assert!(stdout.starts_with("profile=target\n"), "{stdout}");
        assert!(stdout.contains(endpoint), "{stdout}");
        if flags[0] == "--mfa-token" {
            assert!(stdout.contains("keys=temporary\n"), "{stdout}");
        }
    }
    assert_eq!(sts.count("GetSessionToken"), 1, "the shell with --server used the cached session");
}

#[test]
fn the_exit_status_is_the_childs() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env.rolegate(&["exec", "target", "--mfa-token", "123456", "--", "sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    let missing = env.run_without_terminal(&["exec", "target", "--", "no-such-command-anywhere"]);
    assert_eq!(missing.status.code(), Some(127), "{}", stderr_of(&missing));
    assert!(stderr_of(&missing).contains("cannot run `no-such-command-anywhere`"), "{}", stderr_of(&missing));
}

#[test]
fn a_nested_exec_reuses_the_session_with_a_notice() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env
        .rolegate(&[
            "exec",
            "target",
            "--mfa-token",
            "123456",
            "--",
            "rolegate",
            "exec",
            "target",
            "--",
            "sh",
            "-c",
            "echo key=$AWS_ACCESS_KEY_ID",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "rolegate: already running with credentials for `target`; re-using them\n");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("key=ASIA"));
    assert_eq!(sts.calls().len(), 2);
}

#[test]
fn a_profile_hard_coded_in_the_child_gets_rolegates_credentials() {
    let Some(aws) = which("aws") else {
        return skip("a_profile_hard_coded_in_the_child_gets_rolegates_credentials", "aws");
    };
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    // `--profile target` is the seed's hard-coded MFA profile: outside rolegate the CLI would
    // prompt; inside, the generated config serves it, with no terminal at all.
    let out = env.run_without_terminal(&[
        "exec",
        "target",
        "--",
        aws.as_str(),
        "sts",
        "get-caller-identity",
        "--profile",
        "target",
        "--output",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let identity: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        identity["Arn"].as_str().unwrap().starts_with("arn:aws:sts::123456789012:assumed-role/hc-master/"),
        "{identity}"
    );
    assert_eq!(sts.count("GetSessionToken"), 1);
}

#[test]
fn short_lived_credentials_are_served_through_the_generated_config() {
    let Some(aws) = which("aws") else {
        return skip("short_lived_credentials_are_served_through_the_generated_config", "aws");
    };
    let sts = seed_sts();
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/short").requiring_mfa());
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile short]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/short\nmfa_serial = {MFA_SERIAL}\nduration_seconds = 900\n"
    ));
    assert!(env.rolegate(&["credential-process", "short", "--mfa-token", "123456"]).output().unwrap().status.success());
    // 15-minute credentials are below botocore's 15-minute refresh at once: every SDK call
    // re-runs the credential_process, and rolegate serves them from the cache while more than
    // 11 minutes are left (it used to assume the role again for each).
    let script = format!(
        "for i in 1 2 3; do {aws} sts get-caller-identity --profile short --output text --query Arn || exit 1; done"
    );
    let out = env.run_without_terminal(&["exec", "short", "--", "sh", "-c", &script]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    assert_eq!(sts.count("GetSessionToken"), 1, "no second MFA session");
    assert_eq!(sts.count("AssumeRole"), 1, "served from the cache");
}

/// A child that prints the endpoint's answers: `python3 -c` with urllib, no SDK involved.
const PROBE: &str = r#"
import json, os, sys, urllib.request
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
host = uri.split("/")[2]
def get(headers, method="GET", url=uri, data=None):
    req = urllib.request.Request(url, headers=headers, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
results = {
    "ok": get({"Authorization": token}),
    "missing": get({}),
    "wrong": get({"Authorization": token[:-1] + ("0" if token[-1] != "0" else "1")}),
    "host": get({"Authorization": token, "Host": "evil.example"}),
    "post": get({"Authorization": token}, method="POST", data=b""),
    "huge": get({"Authorization": token}, method="GET", data=b"x" * (1 << 20)),
    "path": get({"Authorization": token}, url=uri.replace("/credentials", "/other")),
}
results["keys_in_env"] = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if k in os.environ]
results["token_len"] = len(token)
print(json.dumps(results))
"#;

#[test]
fn the_local_endpoint_serves_the_contract_and_refuses_the_rest() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env
        .rolegate(&["exec", "--server", "target", "--mfa-token", "123456", "--", "python3", "-c", PROBE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["ok"][0], 200);
    let creds: serde_json::Value = serde_json::from_str(r["ok"][1].as_str().unwrap()).unwrap();
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(creds["Token"].as_str().is_some() && creds["SecretAccessKey"].as_str().is_some());
    assert!(creds["Expiration"].as_str().unwrap().ends_with('Z'));
    assert_eq!(creds["AccountId"], ACCOUNT);
    let secret = creds["SecretAccessKey"].as_str().unwrap();
    for (case, status) in [("missing", 401), ("wrong", 403), ("host", 403), ("post", 405), ("huge", 413), ("path", 404)]
    {
        assert_eq!(r[case][0], status, "{case}: {}", r[case]);
        assert!(!r[case][1].as_str().unwrap().contains(secret), "{case} leaked");
    }
    assert_eq!(r["keys_in_env"], serde_json::json!([]), "fixed keys would beat the endpoint");
    assert_eq!(r["token_len"], 64);
}

/// A child that asks the endpoint for credentials `n` times, 20 ms apart, and prints how many
/// distinct ones it saw.
const DISTINCT_KEYS: &str = r#"
import json, os, sys, time, urllib.request
seen = []
for _ in range(int(sys.argv[1])):
    req = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    with urllib.request.urlopen(req, timeout=5) as r:
        seen.append(json.loads(r.read())["AccessKeyId"])
    time.sleep(0.02)
print(len(set(seen)))
"#;

/// A profile `short` for a role of 900 s, AWS's shortest.
fn short_role_env(sts: &crate::common::strict_sts::StrictSts) -> TestEnv {
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/short").requiring_mfa());
    let mut env = TestEnv::seed(sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile short]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/short\nmfa_serial = {MFA_SERIAL}\nduration_seconds = 900\n"
    ));
    env
}

#[test]
fn a_short_role_is_assumed_once_over_a_run_of_the_endpoint() {
    // The default margin (20 min) is more than a 900-second role ever has left: the endpoint
    // used to renew it in a loop (1,193 AssumeRole calls in 6 s). It renews with 11 min left.
    let sts = seed_sts();
    let env = short_role_env(&sts);
    let out = env
        .rolegate(&["exec", "--server", "short", "--mfa-token", "123456", "--", "python3", "-c", DISTINCT_KEYS, "100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "one set of credentials served");
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 1));
}

#[test]
fn the_endpoint_renews_credentials_without_a_prompt_at_most_once_a_minute() {
    let sts = seed_sts();
    let env = short_role_env(&sts);
    // Credentials issued from now on expire 664 s from now (the stand-in's clock is 236 s
    // behind): the endpoint renews them 4 s after the start, when 11 min are left, from the
    // cached MFA session; the renewed ones are as short, and the endpoint waits a minute before
    // it asks STS again.
    sts.advance(-236);
    let child = r#"
import json, os, time, urllib.request
seen, last = [], None
deadline = time.time() + 30
while time.time() < deadline and (last is None or time.time() < last + 2):
    req = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    with urllib.request.urlopen(req, timeout=5) as r:
        seen.append(json.loads(r.read())["AccessKeyId"])
    if last is None and len(set(seen)) == 2:
        last = time.time()
    time.sleep(0.02)
print(len(set(seen)))
"#;
    let out = env
        .rolegate(&["exec", "--server", "short", "--mfa-token", "123456", "--", "python3", "-c", child])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2", "the first credentials, then the renewed ones");
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 2), "renewed once, then not for a minute");
}

#[test]
fn the_aws_cli_reads_the_endpoint() {
    let Some(aws) = which("aws") else { return skip("the_aws_cli_reads_the_endpoint", "aws") };
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env
        .rolegate(&[
            "exec",
            "--server",
            "target",
            "--mfa-token",
            "123456",
            "--",
            aws.as_str(),
            "sts",
            "get-caller-identity",
            "--output",
            "text",
            "--query",
            "Arn",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("arn:aws:sts::123456789012:assumed-role/hc-master/"));
}

/// Starts `exec --server` with a child that traps signals, waits for it to be ready, sends
/// `signal` to rolegate, and returns rolegate's exit code and the child's report.
fn signal_rolegate(signal: &str) -> (Option<i32>, String) {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let child = "trap 'echo got-INT; exit 130' INT; trap 'echo got-TERM; exit 143' TERM; trap 'echo got-HUP; exit 129' HUP; echo ready; while :; do sleep 0.05; done";
    let mut proc = env
        .rolegate(&["exec", "--server", "target", "--mfa-token", "123456", "--", "sh", "-c", child])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(proc.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    assert!(
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &proc.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = proc.wait().unwrap();
    (status.code(), rest)
}

#[test]
fn sigterm_and_sigint_reach_the_child_and_its_status_comes_back() {
    assert_eq!(signal_rolegate("TERM"), (Some(143), "got-TERM\n".to_string()));
    assert_eq!(signal_rolegate("INT"), (Some(130), "got-INT\n".to_string()));
    assert_eq!(signal_rolegate("HUP"), (Some(129), "got-HUP\n".to_string()));
}

#[test]
fn a_child_killed_by_a_signal_gives_128_plus_the_signal() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env
        .rolegate(&["exec", "--server", "target", "--mfa-token", "123456", "--", "sh", "-c", "kill -KILL $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137), "{}", stderr_of(&out));
}

fn which(program: &str) -> Option<String> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

fn skip(test: &str, tool: &str) {
    crate::common::skip::skip(test, tool, &format!("{tool} not found on PATH"));
}

#[test]
fn export_prints_what_a_shell_evals_and_refuses_a_terminal() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.set("AWS_PROFILE", "stale");
    let code = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let creds = parse_process_json(&code.stdout);
    let script = "eval \"$(rolegate export target)\" && printf '%s|%s|%s|%s' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SESSION_TOKEN\" \"$ROLEGATE_PROFILE\" \"${AWS_PROFILE-unset}\"";
    let out = env.command("setsid", &["-w", "bash", "-c", script]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}|{}|target|unset", creds.access_key_id, creds.session_token)
    );
    let json = env.run_without_terminal(&["export", "--format", "json", "target"]);
    let vars: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(vars["AWS_SECRET_ACCESS_KEY"], creds.secret_access_key);

    let mut p = crate::common::pty::spawn_script(&env, "\"$ROLEGATE\" export target; echo \"exit=$?\"");
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("rolegate: error: `rolegate export target` would print secret keys on the terminal"),
        "{rest}"
    );
    assert!(rest.contains("exit=2"), "{rest}");
    assert!(!rest.contains(&creds.secret_access_key), "{rest}");
}

#[test]
fn the_region_flag_reaches_the_child_and_the_signature() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.set("AWS_REGION", "us-east-2");
    let args = ["exec", "target", "--mfa-token", "123456", "--region", "eu-central-1", "--", "env", "-0"];
    let out = env.rolegate(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let vars = env_map(&out.stdout);
    assert_eq!((vars["AWS_REGION"].as_str(), vars["AWS_DEFAULT_REGION"].as_str()), ("eu-central-1", "eu-central-1"));
    let regions: Vec<String> = sts.calls().iter().map(|c| c.signing_region.clone()).collect();
    assert_eq!(
        regions,
        ["eu-central-1", "eu-central-1"],
        "GetSessionToken and AssumeRole signed for the flag's region"
    );

    // A duration with exec: AssumeRole is asked for it (from the cached MFA session).
    let out = env.run_without_terminal(&["exec", "target", "--duration", "45m", "--", "true"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let last = sts.calls().pop().unwrap();
    assert_eq!((last.action.as_str(), last.duration_seconds), ("AssumeRole", Some(2700)));
}
