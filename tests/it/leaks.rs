//! No secret leaks: every channel run at maximum verbosity with recognisable secrets, and every
//! place a secret must not reach scanned: stderr and logs, stdout that is not a credential
//! channel, the argv (`/proc/PID/cmdline`) of the processes rolegate starts, the generated
//! config, and every file rolegate writes except the 0600 cache entries.

use std::os::unix::fs::PermissionsExt;

use crate::common::env::*;

/// The MFA code of this test: recognisable, and handed over by a program, never in argv.
const CODE: &str = "918273";

fn program(env: &TestEnv, name: &str, body: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn no_secret_reaches_logs_argv_or_files() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    // The code comes from a program that also records its own argv and its parent's (rolegate's).
    let otp = program(
        &env,
        "otp",
        &format!(
            "tr '\\0' ' ' < /proc/$$/cmdline >> {0}/argv.log; echo >> {0}/argv.log; tr '\\0' ' ' < /proc/$PPID/cmdline >> {0}/argv.log; echo >> {0}/argv.log; echo {CODE}",
            env.dir.path().display()
        ),
    );
    env.write_config(&SEED_CONFIG.replace(
        "external_id = 123456789069\n",
        &format!("external_id = 123456789069\nrolegate_mfa_process = {otp}\n"),
    ));
    env.set("ROLEGATE_LOG", "trace");

    let mut logs = String::new();
    let mut run = |args: &[&str], stdout_is_channel: bool| {
        let out = env.run_without_terminal(args);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        logs.push_str(&stderr_of(&out));
        if !stdout_is_channel {
            logs.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        out
    };
    let first = run(&["-vv", "credential-process", "target"], true);
    let creds = parse_process_json(&first.stdout);
    run(&["-vv", "credential-process", "target"], true);
    run(&["-vv", "credential-process", "target-tf"], true);
    let child = "tr '\\0' ' ' < /proc/$$/cmdline; echo; env | grep -v -e '^AWS_SECRET_ACCESS_KEY=' -e '^AWS_SESSION_TOKEN=' -e '^AWS_CONTAINER_AUTHORIZATION_TOKEN=' | sort";
    run(&["-vv", "exec", "target", "--", "sh", "-c", child], false);
    run(&["-vv", "exec", "--server", "target", "--", "sh", "-c", child], false);
    run(&["-vv", "export", "--format", "json", "target"], true);
    run(&["-vv", "list"], false);
    let argv_log = std::fs::read_to_string(env.path("argv.log")).unwrap();
    assert!(argv_log.contains("credential-process target"), "the recorder saw rolegate's argv: {argv_log}");
    logs.push_str(&argv_log);

    // Files rolegate wrote, other than the 0600 entries themselves.
    let mut written = String::new();
    let mut session_secrets = Vec::new();
    for entry in walk(&env.cache_dir()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&entry).unwrap();
        if name.ends_with(".json") && (name.starts_with("mfa-") || name.starts_with("role-")) {
            assert_eq!(std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777, 0o600, "{name}");
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for field in ["secret_access_key", "session_token"] {
                session_secrets.push(json["credentials"][field].as_str().unwrap().to_string());
            }
        } else {
            written.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    assert!(written.contains("credential_process"), "the generated config was scanned");
    logs.push_str(&written);
    assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "tracing was on");

    let mut secrets =
        vec![BASE_SECRET.to_string(), CODE.to_string(), creds.secret_access_key.clone(), creds.session_token.clone()];
    secrets.extend(session_secrets);
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret ({:.6}...) leaked:\n{}", secret, excerpt(&logs, secret));
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        if e.is_dir() { out.extend(walk(&e)) } else { out.push(e) }
    }
    out
}

fn excerpt(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or(0);
    let start = text[..i].char_indices().rev().nth(200).map_or(0, |(p, _)| p);
    text[start..(i + needle.len()).min(text.len())].to_string()
}
