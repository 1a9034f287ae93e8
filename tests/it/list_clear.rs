//! `rolegate list` and `rolegate clear`: what is cached, without a secret; forgetting it safely,
//! also while another process is refreshing.

use std::process::Stdio;

use crate::common::env::*;
use crate::common::pty::spawn_script;

fn files(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.cache_dir())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().into_string().unwrap()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn list_shows_profiles_and_sessions_but_no_secret() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let creds = parse_process_json(&out.stdout);
    let list = env.rolegate(&["list"]).output().unwrap();
    assert!(list.status.success(), "{}", stderr_of(&list));
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains(&format!("  target  arn:aws:iam::123456789012:role/hc/hc-master [target -> base]  MFA arn:aws:iam::123456789012:mfa/username (session)  keys in {}\n", env.credentials_path().display())), "{text}");
    assert!(
        text.contains(
            "  mfa-session  MFA session of base with arn:aws:iam::123456789012:mfa/username  (for `target`)  expires "
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  role         arn:aws:iam::123456789012:role/hc/hc-master (target -> base)  (for `target`)  expires "
        ),
        "{text}"
    );
    assert!(text.contains(" h ") && text.contains("min left)"), "{text}");
    for secret in [
        creds.secret_access_key.as_str(),
        creds.session_token.as_str(),
        creds.access_key_id.as_str(),
        BASE_SECRET,
        BASE_KEY_ID,
    ] {
        assert!(!text.contains(secret), "list printed {secret:.8}...");
    }
}

#[test]
fn clear_forgets_a_profile_and_clear_all_forgets_everything() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    let cleared = env.rolegate(&["clear", "target"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&cleared.stdout), "removed 2 cached sessions\n", "{}", stderr_of(&cleared));
    let after = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(after.status.code(), Some(4), "the session is gone: {}", stderr_of(&after));

    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "222222"]).output().unwrap().status.success()
    );
    assert!(env.rolegate(&["exec", "target", "--", "true"]).output().unwrap().status.success());
    assert!(
        files(&env).iter().any(|f| f.starts_with("index-")) && files(&env).contains(&"generated".to_string()),
        "{:?}",
        files(&env)
    );
    let all = env.rolegate(&["clear", "--all"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&all.stdout), "removed 2 cached sessions\n");
    assert!(files(&env).iter().all(|f| f.ends_with(".lock")), "only lock files remain: {:?}", files(&env));
    let usage = env.rolegate(&["clear"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn clear_during_a_refresh_waits_for_it_and_loses_nothing() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    // The holder takes the locks and waits at the prompt.
    let mut holder = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    holder.exp_string("Enter MFA code for ").unwrap();
    // clear must wait for the holder's lock, not remove anything under it.
    let clear = env.rolegate(&["clear", "target"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    holder.send_line("123456").unwrap();
    assert!(holder.exp_eof().unwrap().contains("exit=0"));
    let cleared = clear.wait_with_output().unwrap();
    assert!(cleared.status.success(), "{}", stderr_of(&cleared));
    assert_eq!(String::from_utf8_lossy(&cleared.stdout), "removed 2 cached sessions\n");
    parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    assert!(
        files(&env).iter().all(|f| f.ends_with(".lock") || f.starts_with("index-")),
        "no entry and no temporary file left: {:?}",
        files(&env)
    );
}
