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

// The audit run (`ROLEGATE_TEST_AUDIT=1`, see common/audit.rs) and its scanner.

/// The scanner finds what it is for, and does not cry wolf over account ids or timestamps.
#[test]
fn the_audit_scanner_finds_planted_secrets_and_only_those() {
    use crate::common::audit::{Audit, note_code};
    use std::os::unix::process::ExitStatusExt;
    let output = |stdout: &str, stderr: &str| std::process::Output {
        status: std::process::ExitStatus::from_raw(0),
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let session_secret = "sessionSECRETfromTHEchannel0000000000000";
    let channel = format!(
        r#"{{"Version":1,"AccessKeyId":"ASIAX","SecretAccessKey":"{session_secret}","SessionToken":"tokenTOKENtoken0000","Expiration":"2030-01-01T00:00:00Z"}}"#
    );
    note_code("604917");
    let leaks = |audit: &Audit, dir: &std::path::Path| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| audit.scan(dir)))
            .err()
            .map(|e| e.downcast_ref::<String>().cloned().unwrap_or_default())
    };

    // Clean: the secret only in its channel; the code's digits inside an account id and a timestamp.
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::default();
    audit.record(&args(&["credential-process", "target"]), &output(&channel, ""));
    audit.record(&args(&["list"]), &output("role arn:aws:iam::604917000000:role/x\n", "at 04:22:22.604917Z\n"));
    std::fs::write(
        dir.path().join("x.log"),
        "2026-11-28T04:22:22.604917Z TRACE rolegate{pid=604917}: done\nSignature expired: 20261128T604917Z is now earlier\n",
    )
    .unwrap();
    assert_eq!(leaks(&audit, dir.path()), None);

    // A channel's secret on stderr; in a log file; in a file of the cache directory.
    for (place, plant) in [("stderr of `rolegate list`", 0), ("x.log", 1), ("rolegate/hot-index", 2)] {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::default();
        audit.record(&args(&["credential-process", "target"]), &output(&channel, ""));
        match plant {
            0 => audit.record(&args(&["list"]), &output("", &format!("debug: {session_secret}\n"))),
            1 => std::fs::write(dir.path().join("x.log"), format!("TRACE {session_secret}\n")).unwrap(),
            _ => {
                std::fs::create_dir(dir.path().join("rolegate")).unwrap();
                std::fs::write(dir.path().join("rolegate/hot-index"), session_secret).unwrap();
            }
        }
        let found = leaks(&audit, dir.path()).unwrap_or_else(|| panic!("the secret in {place} was not found"));
        assert!(found.contains("a secret (sessio...) leaked into") && found.contains(place), "{found}");
        assert!(!found.contains(session_secret), "the report itself does not print the secret: {found}");
    }

    // An MFA code on its own in a log line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.log"), "DEBUG code=604917 sent\n").unwrap();
    let found = leaks(&Audit::default(), dir.path()).expect("the code is found");
    assert!(found.contains("an MFA code (604917) leaked into"), "{found}");
}

/// In the audit run, every rolegate process of a test logs at trace level to the test's log file.
#[test]
fn the_audit_run_logs_every_process_at_trace_level() {
    if !crate::common::audit::enabled() {
        let reason = "only in the audit run, ROLEGATE_TEST_AUDIT=1";
        crate::common::skip::skip("the_audit_run_logs_every_process_at_trace_level", "audit", reason);
        return;
    }
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let cold = env.rolegate(&["credential-process", "target", "--mfa-token", "604918"]).output().unwrap();
    assert!(cold.status.success(), "{}", stderr_of(&cold));
    // Without a flag: the exact form Terraform runs, which the hot index would answer silently.
    let warm = env.rolegate(&["credential-process", "target"]).output().unwrap();
    assert!(warm.status.success(), "{}", stderr_of(&warm));
    let log = std::fs::read_to_string(env.path(crate::common::audit::LOG_NAME)).unwrap();
    let pids: std::collections::BTreeSet<&str> =
        log.lines().filter_map(|l| l.split("rolegate{pid=").nth(1)?.split('}').next()).collect();
    assert_eq!(pids.len(), 2, "both processes logged: {log}");
    assert!(log.contains(" DEBUG ") && log.contains("sts_call") && log.contains("cache hit"), "{log}");
}
