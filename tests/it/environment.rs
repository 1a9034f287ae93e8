//! The environment rolegate passes on and the one it reads: every variable reaches the programs
//! it starts byte for byte (non-UTF-8 ones included), and an empty `ROLEGATE_*` is unset.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;

use crate::common::env::*;

/// `café` in Latin-1: not UTF-8.
const LATIN1: &[u8] = b"caf\xe9";

/// The seed, with a Latin-1 value, a variable whose name is not UTF-8 and an empty variable.
fn latin1_env(sts: &crate::common::strict_sts::StrictSts) -> TestEnv {
    let mut env = TestEnv::seed(sts);
    env.set_os("LATIN1", OsString::from_vec(LATIN1.to_vec()));
    env.set_os(OsString::from_vec(b"NAME_\xff".to_vec()), "v");
    env.set("EMPTY_ONE", "");
    env
}

/// Whether `env`'s output (one `NAME=value` per line) has the line `line`, byte for byte.
fn has_line(env_output: &[u8], line: &[u8]) -> bool {
    env_output.split(|b| *b == b'\n').any(|l| l == line)
}

fn assert_child_env(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr_of(out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(has_line(&out.stdout, b"LATIN1=caf\xe9"), "{shown}");
    assert!(has_line(&out.stdout, b"NAME_\xff=v"), "{shown}");
    assert!(has_line(&out.stdout, b"EMPTY_ONE="), "{shown}");
}

#[test]
fn a_non_utf8_variable_reaches_the_exec_child() {
    let sts = seed_sts();
    let env = latin1_env(&sts);
    let out = env.rolegate(&["exec", "target", "--mfa-token", "123456", "--", "env"]).output().unwrap();
    assert_child_env(&out);
    assert!(has_line(&out.stdout, b"ROLEGATE_PROFILE=target"));
}

#[test]
fn a_non_utf8_variable_reaches_the_endpoints_child() {
    let sts = seed_sts();
    let env = latin1_env(&sts);
    let out = env.rolegate(&["exec", "target", "--server", "--mfa-token", "123456", "--", "env"]).output().unwrap();
    assert_child_env(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:"));
}

#[test]
fn a_non_utf8_variable_reaches_a_base_credential_process() {
    let sts = seed_sts();
    let mut env = latin1_env(&sts);
    let record = env.path("recorded");
    let script = env.path("base-keys.sh");
    // The keys come from the seed's credentials file (a secret is never written anywhere else).
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf %s \"$LATIN1\" > '{}'\nsecret=$(sed -n 's/^aws_secret_access_key = //p' \"$HOME/.aws/credentials\")\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"{BASE_KEY_ID}\", \"SecretAccessKey\": \"%s\"}}' \"$secret\"\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_config(&format!(
        "[profile procbase]\ncredential_process = {}\n\n[profile proctarget]\nsource_profile = procbase\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\nexternal_id = {EXTERNAL_ID}\n",
        script.display()
    ));
    let out = env.rolegate(&["credential-process", "proctarget", "--mfa-token", "123456"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    assert_eq!(std::fs::read(&record).unwrap(), LATIN1);
}

#[test]
fn empty_rolegate_variables_are_unset() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    for var in ["ROLEGATE_CACHE_DIR", "ROLEGATE_PROMPT_TIMEOUT", "ROLEGATE_MFA_PROCESS", "ROLEGATE_YKMAN_ACCOUNT"] {
        env.set(var, "");
    }
    // A code on the command line: an empty ROLEGATE_MFA_PROCESS does not conflict with it.
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    assert!(first.stderr.is_empty(), "{}", stderr_of(&first));
    let creds = parse_process_json(&first.stdout);
    // The default cache directory, and the shortcut finds it.
    assert!(env.cache_dir().is_dir());
    let hit = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&hit.stdout), creds, "{}", stderr_of(&hit));
    // Every other command too.
    for args in [&["export", "target"][..], &["exec", "target", "--", "true"], &["list"], &["clear", "target"]] {
        let out = env.run_without_terminal(args);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    }
    assert_eq!(sts.calls().len(), 2, "everything came from the cache");
}
