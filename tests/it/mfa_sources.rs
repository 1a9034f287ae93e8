//! Where MFA codes come from without a terminal: a program (`rolegate_mfa_process`), a YubiKey
//! (`ykman`), a GUI dialog (`zenity`); and the error when nothing can give one.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::env::*;

fn write_program(env: &TestEnv, name: &str, body: &str) -> String {
    let dir = env.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn with_profile_key(env: &mut TestEnv, key: &str, value: &str) {
    env.write_config(
        &SEED_CONFIG.replace("external_id = 123456789069\n", &format!("external_id = 123456789069\n{key} = {value}\n")),
    );
}

fn sent_codes(sts: &crate::common::strict_sts::StrictSts) -> Vec<String> {
    sts.calls().into_iter().filter(|c| c.action == "GetSessionToken").filter_map(|c| c.token_code).collect()
}

#[test]
fn mfa_process_in_the_profile_gives_the_code() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let otp = write_program(&env, "otp", "echo 246810");
    with_profile_key(&mut env, "rolegate_mfa_process", &otp);
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    assert_eq!(sent_codes(&sts), ["246810"]);
}

#[test]
fn mfa_process_with_shell_syntax_runs_through_sh_and_the_flag_beats_the_profile() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    with_profile_key(&mut env, "rolegate_mfa_process", "false");
    let out =
        env.run_without_terminal(&["credential-process", "target", "--mfa-process", "printf '%s\\n' 135791 | cat"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sent_codes(&sts), ["135791"]);
}

#[test]
fn a_failing_mfa_process_is_reported() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let otp = write_program(&env, "otp", "echo 'vault is locked' >&2; exit 3");
    with_profile_key(&mut env, "rolegate_mfa_process", &otp);
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("vault is locked"), "the program's own stderr is shown: {err}");
    assert!(err.contains(&format!("rolegate: error: profile `target`: rolegate_mfa_process (`{otp}`) gave no MFA code: it exited with exit status: 3")), "{err}");
    assert!(err.contains("rolegate: hint: run the rolegate_mfa_process command by hand"), "{err}");
    assert!(sts.calls().is_empty());
}

#[test]
fn a_hanging_mfa_process_is_stopped_at_the_bound() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let otp = write_program(&env, "otp", "exec sleep 60");
    with_profile_key(&mut env, "rolegate_mfa_process", &otp);
    let started = Instant::now();
    let out = env.run_without_terminal(&["credential-process", "target", "--prompt-timeout", "1"]);
    assert!(started.elapsed() < Duration::from_secs(20), "bounded: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!("rolegate_mfa_process (`{otp}`) did not print a code within 1 s")),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_yubikey_gives_the_code_through_ykman() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    // A fake ykman that answers only the exact command rolegate must run.
    write_program(
        &env,
        "ykman",
        "[ \"$*\" = 'oath accounts code --single aws:username' ] && echo 112233 || { echo \"bad args: $*\" >&2; exit 2; }",
    );
    env.set("PATH", &format!("{}:{}", env.path("bin").display(), std::env::var("PATH").unwrap()));
    with_profile_key(&mut env, "rolegate_ykman_account", "aws:username");
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sent_codes(&sts), ["112233"]);
}

#[test]
fn without_a_terminal_a_gui_dialog_asks() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    write_program(
        &env,
        "zenity",
        "case \"$*\" in *'--entry'*'Enter MFA code for arn:aws:iam::123456789012:mfa/username'*) echo 445566 ;; *) exit 1 ;; esac",
    );
    env.set("PATH", &format!("{}:{}", env.path("bin").display(), std::env::var("PATH").unwrap()));
    env.set("DISPLAY", ":99");
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sent_codes(&sts), ["445566"]);
}
