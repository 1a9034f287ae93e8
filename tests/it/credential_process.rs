//! `rolegate credential-process` against the strict STS stand-in: the seed's profile, the
//! prompt on the terminal, the cache, the MFA strategies and the errors.

use std::os::unix::fs::PermissionsExt;

use crate::common::env::*;
use crate::common::net::{CountingProxy, closed_port_url};
use crate::common::pty::{count, spawn_script};
use crate::common::run::EXIT_STS;
use crate::common::strict_sts::RoleSpec;

#[test]
fn seed_profile_gets_role_credentials_then_serves_them_from_cache() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);

    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let json = parse_process_json(&first.stdout);
    assert_eq!(json.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(sts.count("GetSessionToken"), 1);
    assert_eq!(sts.count("AssumeRole"), 1);
    let calls = sts.calls();
    let gst = calls.iter().find(|c| c.action == "GetSessionToken").unwrap();
    assert_eq!(
        (gst.serial_number.as_deref(), gst.token_code.as_deref(), gst.duration_seconds),
        (Some(MFA_SERIAL), Some("123456"), Some(43_200))
    );
    let ar = calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(ar.role_arn.as_deref(), Some(ROLE_ARN));
    assert_eq!(ar.external_id.as_deref(), Some(EXTERNAL_ID));
    assert_eq!(ar.token_code, None, "the role is assumed silently from the MFA session");
    assert!(ar.access_key_id.starts_with("ASIA"), "AssumeRole is signed with the MFA session");

    // Second call: no STS traffic, no code needed, same credentials.
    let second = env.run_without_terminal(&["credential-process", "target"]);
    assert!(second.status.success(), "{}", stderr_of(&second));
    assert_eq!(parse_process_json(&second.stdout), json);
    assert_eq!(sts.calls().len(), 2);
    assert!(second.stderr.is_empty(), "a cache hit is silent: {}", stderr_of(&second));
}

#[test]
fn cache_files_are_private() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let dir = env.cache_dir();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(
        files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")).count(),
        2,
        "an MFA session and a role entry: {files:?}"
    );
    for f in files {
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
    }
}

#[test]
fn one_mfa_session_serves_every_role() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/reader").requiring_mfa());
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile reader]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/reader\nmfa_serial = {MFA_SERIAL}\n"
    ));
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    // No terminal and no code: the second role must come from the cached MFA session.
    let second = env.run_without_terminal(&["credential-process", "reader"]);
    assert!(second.status.success(), "{}", stderr_of(&second));
    let a = parse_process_json(&first.stdout);
    let b = parse_process_json(&second.stdout);
    assert_ne!(a.access_key_id, b.access_key_id);
    assert_eq!(sts.count("GetSessionToken"), 1);
    assert_eq!(sts.count("AssumeRole"), 2);
}

#[test]
fn prompt_is_on_the_terminal_and_stdout_carries_only_json() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    p.exp_string(&format!("Enter MFA code for {MFA_SERIAL}: ")).unwrap();
    p.send_line("123456").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("exit=0"), "{rest}");
    let json = parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    assert!(!rest.contains(&json.secret_access_key), "the terminal saw a secret");
    assert_eq!(sts.count("GetSessionToken"), 1);
}

#[test]
fn a_typo_is_asked_again_on_the_terminal() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("12345").unwrap();
    p.exp_string("rolegate: an MFA code is 6 digits; try again.").unwrap();
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("654321").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    assert_eq!(sts.attempts("GetSessionToken"), 1, "a typo never reaches STS");
}

#[test]
fn a_refused_code_asks_for_the_next_one_and_is_never_resent() {
    let sts = seed_sts();
    sts.reject_code("111111");
    let env = TestEnv::seed(&sts);
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("111111").unwrap();
    p.exp_string("rolegate: that code was not accepted; wait for the next one.").unwrap();
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("222222").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    let codes: Vec<_> =
        sts.calls().into_iter().filter(|c| c.action == "GetSessionToken").map(|c| c.token_code.unwrap()).collect();
    assert_eq!(codes, ["111111", "222222"]);
}

#[test]
fn the_connection_to_sts_is_open_before_the_code_is_typed_and_carries_every_request() {
    let sts = seed_sts();
    let proxy = CountingProxy::start(sts.addr());
    let mut env = TestEnv::seed(&sts);
    env.set("AWS_ENDPOINT_URL", &proxy.url());
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    p.exp_string(&format!("Enter MFA code for {MFA_SERIAL}: ")).unwrap();
    // The prompt waits for a connection that opens at once: it is open when the prompt shows.
    assert_eq!((proxy.connections(), sts.probes(), sts.calls().len()), (1, 1, 0));
    p.send_line("123456").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 1));
    assert_eq!(proxy.connections(), 1, "after Enter, both requests went over the connection opened before");
}

#[test]
fn sts_that_cannot_be_reached_is_reported_before_the_prompt() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let url = closed_port_url();
    env.set("AWS_ENDPOINT_URL", &url);
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target; echo \"exit=$?\"");
    let out = p.exp_eof().unwrap();
    assert!(out.contains(&format!("GetSessionToken: cannot reach STS at {url}")), "{out}");
    assert!(!out.contains("Enter MFA code"), "no code is asked for in vain: {out}");
    assert!(out.contains(&format!("exit={EXIT_STS}")), "{out}");
}

#[test]
fn a_refused_code_typed_again_is_not_sent_again() {
    let sts = seed_sts();
    sts.reject_code("111111");
    let env = TestEnv::seed(&sts);
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("111111").unwrap();
    p.exp_string("rolegate: that code was not accepted; wait for the next one.").unwrap();
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("111 111").unwrap();
    p.exp_string("rolegate: STS already refused that code, so it was not sent again; wait for the next one.").unwrap();
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("222222").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    let codes: Vec<_> =
        sts.calls().into_iter().filter(|c| c.action == "GetSessionToken").map(|c| c.token_code.unwrap()).collect();
    assert_eq!(codes, ["111111", "222222"], "the refused code reached STS once");
}

#[test]
fn the_prompt_gives_up_after_its_timeout() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target --prompt-timeout 1; echo \"exit=$?\"");
    p.exp_string("Enter MFA code for ").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("no MFA code for arn:aws:iam::123456789012:mfa/username was entered within 1 s"), "{rest}");
    assert!(rest.contains("hint: run again and type the code"), "{rest}");
    assert!(rest.contains("exit=4"), "{rest}");
    assert_eq!(sts.calls().len(), 0);
}

#[test]
fn without_a_terminal_it_fails_at_once_naming_the_options() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr_of(&out),
        "rolegate: error: profile `target` needs an MFA code for arn:aws:iam::123456789012:mfa/username, and nothing can give one: \
         no --mfa-token, no rolegate_mfa_process, no rolegate_ykman_account, no terminal, no GUI dialog (zenity or kdialog with a DISPLAY)\n\
         rolegate: hint: run `rolegate credential-process target` once in a terminal to start the day's MFA session (every later call uses it); \
         or pass --mfa-token CODE; or set `rolegate_mfa_process = COMMAND` (a command that prints the code) or `rolegate_ykman_account = NAME` (a YubiKey OATH account) in the profile\n"
    );
}

#[test]
fn thirty_two_concurrent_cold_calls_prompt_once() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    // 32 processes started at once on one terminal, as Terraform starts its remote states.
    let script = "for i in $(seq 1 32); do \"$ROLEGATE\" credential-process target > out.$i.json 2> err.$i.txt & done; wait; echo all-done";
    let mut p = spawn_script(&env, script);
    let before = p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("123456").unwrap();
    let after = p.exp_string("all-done").unwrap();
    assert_eq!(count(&before, "Enter MFA code") + count(&after, "Enter MFA code"), 0, "one prompt only");
    let outputs: Vec<_> = (1..=32).map(|i| std::fs::read(env.path(&format!("out.{i}.json"))).unwrap()).collect();
    let first = parse_process_json(&outputs[0]);
    for (i, out) in outputs.iter().enumerate() {
        let err = std::fs::read_to_string(env.path(&format!("err.{}.txt", i + 1))).unwrap();
        assert_eq!(parse_process_json(out), first, "call {} differs; stderr: {err}", i + 1);
    }
    assert_eq!(sts.count("GetSessionToken"), 1);
    assert_eq!(sts.count("AssumeRole"), 1);
    assert_eq!(sts.calls().len(), 2);
}

#[test]
fn a_prompt_holder_killed_with_sigkill_leaves_no_stale_lock() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let mut holder = spawn_script(&env, "echo pid=$$; exec \"$ROLEGATE\" credential-process target");
    let (_, pid) = holder.exp_regex("pid=[0-9]+").unwrap();
    holder.exp_string("Enter MFA code for ").unwrap();
    let pid = pid.trim_start_matches("pid=");
    assert!(std::process::Command::new("kill").args(["-KILL", pid]).output().unwrap().status.success());
    holder.exp_eof().unwrap();

    let mut next = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json; echo \"exit=$?\"");
    next.exp_string("Enter MFA code for ").unwrap();
    next.send_line("123456").unwrap();
    assert!(next.exp_eof().unwrap().contains("exit=0"));
    parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
}

#[test]
fn a_role_longer_than_an_hour_gets_the_code_directly_and_says_so() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/long").requiring_mfa().with_max_session_duration(7200));
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile long]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/long\nmfa_serial = {MFA_SERIAL}\nduration_seconds = 7200\n"
    ));
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process long > out.json; echo \"exit=$?\"");
    p.exp_string("more than the 1 h AWS allows for roles assumed from an MFA session").unwrap();
    p.exp_string("Enter MFA code for ").unwrap();
    p.send_line("123456").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    let json = parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    let exp = time::OffsetDateTime::parse(&json.expiration, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(exp - time::OffsetDateTime::now_utc() > time::Duration::minutes(110));
    let calls = sts.calls();
    assert_eq!(sts.count("GetSessionToken"), 0);
    let ar = calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(
        (ar.serial_number.as_deref(), ar.token_code.as_deref(), ar.duration_seconds),
        (Some(MFA_SERIAL), Some("123456"), Some(7200))
    );
    assert_eq!(ar.access_key_id, BASE_KEY_ID, "direct: signed with the long-term keys");
}

#[test]
fn expiring_role_credentials_are_reassumed_from_the_session_without_a_prompt() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let a = parse_process_json(&first.stdout);
    age_role_entry(&env);

    let second = env.run_without_terminal(&["credential-process", "target"]);
    assert!(second.status.success(), "{}", stderr_of(&second));
    let b = parse_process_json(&second.stdout);
    assert_ne!(a.access_key_id, b.access_key_id, "new role credentials");
    assert_eq!(sts.count("GetSessionToken"), 1, "no new MFA session");
    assert_eq!(sts.count("AssumeRole"), 2);
}

#[test]
fn a_900_second_role_is_assumed_once_and_served_while_11_minutes_remain() {
    // AWS's shortest role can never have the 15 minutes left that a one-hour role is renewed
    // at: each call assumed it again. It is now served down to 11 minutes left (botocore's
    // mandatory refresh is 10).
    let sts = seed_sts();
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/short").requiring_mfa());
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile short]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/short\nmfa_serial = {MFA_SERIAL}\nduration_seconds = 900\n"
    ));
    let first = env.rolegate(&["credential-process", "short", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let a = parse_process_json(&first.stdout);
    for _ in 0..3 {
        let again = env.run_without_terminal(&["credential-process", "short"]);
        assert!(again.status.success(), "{}", stderr_of(&again));
        assert_eq!(parse_process_json(&again.stdout).access_key_id, a.access_key_id, "served from the cache");
    }
    assert_eq!(sts.count("AssumeRole"), 1, "assumed once");
    assert_eq!(sts.calls().iter().find(|c| c.action == "AssumeRole").unwrap().duration_seconds, Some(900));

    // 11 minutes left: still served. Less: assumed again from the MFA session, no prompt.
    expire_role_entry_in(&env, time::Duration::seconds(11 * 60 + 30));
    let still = env.run_without_terminal(&["credential-process", "short"]);
    assert_eq!(parse_process_json(&still.stdout).access_key_id, a.access_key_id);
    expire_role_entry_in(&env, time::Duration::seconds(10 * 60 + 50));
    let renewed = env.run_without_terminal(&["credential-process", "short"]);
    assert!(renewed.status.success(), "{}", stderr_of(&renewed));
    assert_ne!(parse_process_json(&renewed.stdout).access_key_id, a.access_key_id, "new role credentials");
    assert_eq!((sts.count("AssumeRole"), sts.count("GetSessionToken")), (2, 1));
}

#[test]
fn refresh_mfa_forces_a_new_session() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    let out =
        env.rolegate(&["credential-process", "target", "--mfa-token", "654321", "--refresh-mfa"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sts.count("GetSessionToken"), 2);
    assert_eq!(sts.count("AssumeRole"), 2);
}

#[test]
fn a_profile_whose_credential_process_calls_rolegate_for_itself_is_refused() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile loop]\ncredential_process = rolegate credential-process loop\n"
    ));
    let out = env.run_without_terminal(&["credential-process", "loop"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("profile `loop` ("), "{err}");
    assert!(err.contains("its credential_process runs rolegate for profile `loop` of this same chain"), "{err}");
    assert!(err.contains("rolegate: hint: "), "{err}");
}

#[test]
fn the_terraform_facing_profile_stands_for_its_target() {
    // `target-tf` is `credential_process = rolegate credential-process target`: asking rolegate
    // for it serves `target`, in this process, from the same cache.
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let cold = env.run_without_terminal(&["credential-process", "target-tf"]);
    assert_eq!(cold.status.code(), Some(4), "{}", stderr_of(&cold));
    assert!(
        stderr_of(&cold).contains("profile `target` needs an MFA code for arn:aws:iam::123456789012:mfa/username"),
        "{}",
        stderr_of(&cold)
    );
    let direct = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let alias = env.run_without_terminal(&["credential-process", "target-tf"]);
    assert!(alias.status.success(), "{}", stderr_of(&alias));
    assert_eq!(parse_process_json(&alias.stdout), parse_process_json(&direct.stdout));
    assert_eq!(sts.calls().len(), 2);
}

#[test]
fn a_cache_directory_writable_by_others_is_refused() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    std::fs::create_dir_all(env.cache_dir()).unwrap();
    std::fs::set_permissions(env.cache_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    let dir = env.cache_dir();
    assert_eq!(
        stderr_of(&out),
        format!(
            "rolegate: error: the cache directory {} is writable by other users (mode 777)\nrolegate: hint: run `chmod 700 {}`\n",
            dir.display(),
            dir.display()
        )
    );
    assert_eq!(sts.calls().len(), 0);
}

#[test]
fn a_corrupt_cache_entry_is_a_miss_with_a_warning() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    for entry in std::fs::read_dir(env.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        std::fs::write(&entry, b"{\"version\":1,\"kind\":\"ro").unwrap();
    }
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "222222"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    assert!(stderr_of(&out).contains("rolegate: warning: ignoring the unreadable cache entry"), "{}", stderr_of(&out));
    assert_eq!(sts.count("GetSessionToken"), 2);
}

#[test]
fn verbose_logs_never_show_a_secret() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let cold = env.rolegate(&["-vv", "credential-process", "target", "--mfa-token", "918273"]).output().unwrap();
    assert!(cold.status.success(), "{}", stderr_of(&cold));
    let json = parse_process_json(&cold.stdout);
    let hot = env.rolegate(&["-vv", "credential-process", "target"]).output().unwrap();
    let logs = format!("{}{}", stderr_of(&cold), stderr_of(&hot));
    assert!(logs.contains("sts_call") && logs.contains("cache hit"), "tracing is on: {logs}");
    for secret in [BASE_SECRET, "918273", &json.secret_access_key, &json.session_token] {
        assert!(!logs.contains(secret), "secret {secret:.6}... leaked into the logs");
    }
}

#[test]
fn the_log_file_collects_every_process_and_its_warnings_and_errors_while_stderr_stays_quiet() {
    use std::os::unix::fs::PermissionsExt;
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let log = env.path("rolegate.log");
    env.set("ROLEGATE_LOG_FILE", log.to_str().unwrap());
    env.unset("ROLEGATE_LOG");

    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "918273"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    assert!(first.stderr.is_empty(), "the log goes to the file only: {}", stderr_of(&first));
    let second = env.rolegate(&["credential-process", "target"]).output().unwrap();
    assert!(second.status.success() && second.stderr.is_empty(), "{}", stderr_of(&second));
    let failed = env.rolegate(&["credential-process", "no-such-profile"]).output().unwrap();
    assert_eq!(failed.status.code(), Some(3));
    assert!(stderr_of(&failed).contains("rolegate: error: profile `no-such-profile` not found"));

    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&log).unwrap();
    let pids: std::collections::BTreeSet<&str> =
        text.lines().filter_map(|l| l.split("rolegate{pid=").nth(1)?.split('}').next()).collect();
    assert!(pids.len() >= 2, "the processes' events, each with its pid: {text}");
    assert!(text.contains(" DEBUG ") && text.contains("sts_call") && text.contains("cache hit"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("ERROR rolegate::diag") && l.contains("profile `no-such-profile` not found")),
        "the error printed on stderr is in the file too: {text}"
    );
    let json = parse_process_json(&first.stdout);
    for secret in [BASE_SECRET, "918273", &json.secret_access_key, &json.session_token] {
        assert!(!text.contains(secret), "secret {secret:.6}... leaked into the log file");
    }

    // `-v` asks for the log on stderr as well; an error is still printed there once.
    let verbose = env.rolegate(&["-v", "credential-process", "target"]).output().unwrap();
    assert!(stderr_of(&verbose).contains(" DEBUG ") && stderr_of(&verbose).contains("cache hit"));
    let verbose = env.rolegate(&["-v", "credential-process", "no-such-profile"]).output().unwrap();
    let err = stderr_of(&verbose);
    assert_eq!(err.matches("profile `no-such-profile` not found").count(), 1, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("ERROR rolegate::diag: profile `no-such-profile` not found").count(), 2, "{text}");
}

#[test]
fn throttled_calls_without_a_code_are_retried_and_calls_with_a_code_are_not() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    // GetSessionToken carries the code: a throttled attempt is not re-sent with it.
    sts.throttle_next(1);
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("GetSessionToken: throttled by STS: Rate exceeded"), "{}", stderr_of(&out));
    assert_eq!(sts.attempts("GetSessionToken"), 1);
    // With a session in place, AssumeRole (no code) is retried through throttling.
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "222222"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sts.count("AssumeRole"), 1);
}

#[test]
fn an_assume_role_throttled_once_is_retried() {
    let sts = seed_sts();
    let env = TestEnv::seed_with_plain(&sts);
    sts.throttle_next(1);
    let out = env.run_without_terminal(&["credential-process", "plain"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    assert_eq!((sts.attempts("AssumeRole"), sts.count("AssumeRole")), (2, 1));
}

#[test]
fn the_role_chaining_limit_is_explained() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/long").requiring_mfa().with_max_session_duration(7200));
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile long]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/long\nmfa_serial = {MFA_SERIAL}\nduration_seconds = 7200\nrolegate_mfa_strategy = session\n"
    ));
    let out = env.rolegate(&["credential-process", "long", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("profile `long` ("), "{err}");
    assert!(err.contains("AssumeRole: the role-chaining limit: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."), "{err}");
    assert!(err.contains("hint: roles assumed from an MFA session or another role last at most 1 h"), "{err}");
}

#[test]
fn unknown_base_keys_are_explained() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_credentials("[base]\naws_access_key_id = AKIAUNKNOWNUNKNOWN00\naws_secret_access_key = whatever\n");
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("profile `base` ("), "{err}");
    assert!(err.contains("GetSessionToken: the access key is not valid"), "{err}");
    assert!(
        err.contains("hint: the access key that signed the request is unknown to AWS: it may be deleted or mistyped (`rolegate doctor base` shows which key and where it is set)"),
        "{err}"
    );
    assert!(!err.contains("whatever"), "{err}");
}

#[test]
fn a_symlink_planted_in_place_of_an_entry_is_not_followed() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    let decoy = env.path("decoy.json");
    for entry in std::fs::read_dir(env.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        std::fs::copy(&entry, &decoy).unwrap();
        std::fs::remove_file(&entry).unwrap();
        std::os::unix::fs::symlink(&decoy, &entry).unwrap();
    }
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "222222"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("it is a symbolic link"), "{}", stderr_of(&out));
    assert_eq!(sts.count("GetSessionToken"), 2, "the planted entry was not used");
}

#[test]
fn a_cache_directory_owned_by_another_user_is_refused() {
    if rustix::process::geteuid().as_raw() != 0 {
        crate::common::skip::skip("a_cache_directory_owned_by_another_user_is_refused", "root", "needs root to chown");
        return;
    }
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    std::fs::create_dir_all(env.cache_dir()).unwrap();
    std::os::unix::fs::chown(env.cache_dir(), Some(65534), Some(65534)).unwrap();
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    let err = stderr_of(&out);
    assert!(err.contains("is owned by another user (uid 65534)"), "{err}");
    assert!(err.contains("hint: use a directory of your own with --cache-dir or ROLEGATE_CACHE_DIR"), "{err}");
}

#[test]
fn an_edit_to_the_config_is_seen_by_the_next_cached_call() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new("arn:aws:iam::123456789012:role/other").requiring_mfa());
    let mut env = TestEnv::seed(&sts);
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let hit = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&hit.stdout), parse_process_json(&first.stdout));
    // Point `target` at another role: the cached answer for the old role must not be served.
    env.write_config(&SEED_CONFIG.replace("role/hc/hc-master", "role/other"));
    let after = env.run_without_terminal(&["credential-process", "target"]);
    assert!(after.status.success(), "{}", stderr_of(&after));
    assert_ne!(parse_process_json(&after.stdout).access_key_id, parse_process_json(&first.stdout).access_key_id);
    let roles: Vec<_> = sts.calls().into_iter().filter_map(|c| c.role_arn).collect();
    assert_eq!(roles, ["arn:aws:iam::123456789012:role/hc/hc-master", "arn:aws:iam::123456789012:role/other"]);
    assert_eq!(sts.count("GetSessionToken"), 1, "the MFA session is shared by both roles");
}

/// The role entry's credentials set to expire in 10 minutes: below the floor (11 minutes at least), so the
/// next call renews them, as an hour later.
fn age_role_entry(env: &TestEnv) {
    expire_role_entry_in(env, time::Duration::minutes(10));
}

/// Rewrites the cached role entry's expiration to `left` from now (its issue time unchanged).
fn expire_role_entry_in(env: &TestEnv, left: time::Duration) {
    let role_entry = std::fs::read_dir(env.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name().unwrap().to_str().unwrap().starts_with("role-") && p.extension().is_some_and(|e| e == "json")
        })
        .unwrap();
    let mut entry: serde_json::Value = serde_json::from_slice(&std::fs::read(&role_entry).unwrap()).unwrap();
    let soon = time::OffsetDateTime::now_utc() + left;
    entry["credentials"]["expiration"] =
        serde_json::Value::String(soon.format(&time::format_description::well_known::Rfc3339).unwrap());
    std::fs::write(&role_entry, serde_json::to_vec(&entry).unwrap()).unwrap();
}

#[test]
fn a_base_credential_process_runs_once_for_a_day_of_renewals_from_the_mfa_session() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    // The base keys come from a command (a password manager, say) that counts its runs. The keys
    // reach it through the environment, so that no file of the test holds them.
    let runs = env.path("base-runs.txt");
    let script = env.path("base-keys.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}}\\n' \"$TEST_BASE_KEY_ID\" \"$TEST_BASE_SECRET\"\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.set("TEST_BASE_KEY_ID", BASE_KEY_ID);
    env.set("TEST_BASE_SECRET", BASE_SECRET);
    // A 36-hour MFA session: a day of hourly role renewals fits in one.
    let config = SEED_CONFIG
        .replace("[profile base]\n", &format!("[profile base]\ncredential_process = {}\n", script.display()))
        .replace(
            "external_id = 123456789069\n",
            "external_id = 123456789069\nrolegate_mfa_session_duration = 129600\n",
        );
    env.write_config(&config);
    env.write_credentials("");
    let base_runs = || std::fs::read_to_string(&runs).unwrap_or_default().lines().count();

    // Hour 0: the code starts the MFA session, signed with the base keys.
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let mut previous = parse_process_json(&first.stdout).access_key_id;
    assert_eq!(base_runs(), 1);
    let gst = sts.calls().into_iter().find(|c| c.action == "GetSessionToken").unwrap();
    assert_eq!((gst.access_key_id.as_str(), gst.duration_seconds), (BASE_KEY_ID, Some(129_600)));

    // Hours 1 to 23: the role runs out and is assumed again from the MFA session, as an SDK
    // calls for it (no terminal, no code); STS's clock moves with the hours.
    for hour in 1..24 {
        sts.advance(3600);
        age_role_entry(&env);
        let renewal = env.run_without_terminal(&["credential-process", "target"]);
        assert!(renewal.status.success(), "hour {hour}: {}", stderr_of(&renewal));
        assert!(renewal.stderr.is_empty(), "hour {hour}: {}", stderr_of(&renewal));
        let json = parse_process_json(&renewal.stdout);
        assert_ne!(json.access_key_id, previous, "hour {hour}: new role credentials");
        previous = json.access_key_id;
        assert_eq!(base_runs(), 1, "hour {hour}: the base credential_process ran again");
        assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, hour + 1), "hour {hour}");
    }
    let ars: Vec<_> = sts.calls().into_iter().filter(|c| c.action == "AssumeRole").collect();
    assert!(ars.iter().all(|c| c.access_key_id.starts_with("ASIA") && c.token_code.is_none()));

    // A day and a half later the session is over at STS: the base is asked once more, for the
    // new session's GetSessionToken.
    sts.advance(13 * 3600);
    age_role_entry(&env);
    let next_day = env.rolegate(&["credential-process", "target", "--mfa-token", "654321"]).output().unwrap();
    assert!(next_day.status.success(), "{}", stderr_of(&next_day));
    parse_process_json(&next_day.stdout);
    assert_eq!(base_runs(), 2);
    assert_eq!(sts.count("GetSessionToken"), 2);
}

#[test]
fn a_misspelt_profile_gets_a_did_you_mean() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    for (typed, meant) in
        [("targt", Some("target")), ("TARGET", Some("target")), ("target-tfx", Some("target-tf")), ("prod", None)]
    {
        let out = env.run_without_terminal(&["credential-process", typed]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains(&format!("profile `{typed}` not found")), "{err}");
        match meant {
            Some(name) => assert!(err.contains(&format!("case-sensitive: did you mean `{name}`?\n")), "{typed}: {err}"),
            None => assert!(!err.contains("did you mean"), "{typed}: {err}"),
        }
    }
    assert!(sts.calls().is_empty());
}

/// A role of another partition than its region's (a GovCloud role with `us-west-2`) is refused
/// while planning: no prompt on the terminal, no request (every request would go through the
/// recording proxy). The control, the same role with a GovCloud region, does send one.
#[test]
fn a_role_of_another_partition_is_refused_before_any_prompt() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    let proxy = crate::common::net::CannedServer::start(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec()
    });
    let mut env = TestEnv::new();
    env.write_config(
        "[profile base]\nregion = us-west-2\n\n[profile gov]\nsource_profile = base\nrole_arn = arn:aws-us-gov:iam::123456789012:role/admin\nmfa_serial = arn:aws-us-gov:iam::123456789012:mfa/username\n",
    );
    env.write_credentials(&seed_credentials());
    env.set("HTTPS_PROXY", &proxy.url());
    env.set("HTTP_PROXY", &proxy.url());

    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process gov; echo \"status=$?.\"");
    let shown = p.exp_string("status=3.").expect("a configuration error");
    assert!(!shown.contains("Enter MFA code"), "no prompt: {shown}");
    let config = env.config_path().display().to_string();
    assert!(
        shown.contains(&format!("rolegate: error: profile `gov` ({config}): role_arn `arn:aws-us-gov:iam::123456789012:role/admin` is in partition aws-us-gov, but region `us-west-2` (the region of profile `base`) is in partition aws")),
        "{shown}"
    );
    assert!(shown.contains("`region = us-gov-west-1` (for example) in profile `gov`"), "{shown}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no request was made");

    // Control: with a region of its partition the same profile does reach for STS.
    env.set("AWS_REGION", "us-gov-west-1");
    let out = env.run_without_terminal(&["credential-process", "gov", "--mfa-token", "123456"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(connections.load(Ordering::SeqCst) > 0, "the proxy sees requests: {}", stderr_of(&out));
}

#[test]
fn the_duration_flag_reaches_assume_role_and_has_its_own_cache_entry() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let flagged =
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456", "--duration", "30m"]).output();
    let flagged = flagged.unwrap();
    assert!(flagged.status.success(), "{}", stderr_of(&flagged));
    let short = parse_process_json(&flagged.stdout);
    let role_durations =
        || sts.calls().iter().filter(|c| c.action == "AssumeRole").map(|c| c.duration_seconds).collect::<Vec<_>>();
    assert_eq!(role_durations(), [Some(1800)]);

    // The bare form (the fast path's) must not be served the 30-minute credentials: a new
    // role from the cached MFA session, for the default hour, without a code.
    let bare = env.run_without_terminal(&["credential-process", "target"]);
    assert!(bare.status.success(), "{}", stderr_of(&bare));
    let hour = parse_process_json(&bare.stdout);
    assert_ne!(hour.access_key_id, short.access_key_id);
    assert_eq!(role_durations(), [Some(1800), Some(3600)]);
    assert_eq!(sts.count("GetSessionToken"), 1, "one MFA session serves both durations");

    // Each from its own entry now.
    let again = env.run_without_terminal(&["credential-process", "target", "--duration", "1800"]);
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert_eq!(parse_process_json(&again.stdout), short);
    let bare_again = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&bare_again.stdout), hour);
    assert_eq!(sts.count("AssumeRole"), 2);
}

#[test]
fn an_out_of_range_duration_is_a_usage_error_before_any_prompt() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "{SEED_CONFIG}\n[profile pinned]\nsource_profile = base\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\nexternal_id = {EXTERNAL_ID}\nrolegate_mfa_strategy = session\n"
    ));
    let config = env.config_path().display().to_string();
    // No terminal and no code: had the check come after the code source, the error would be
    // that no code can be asked for.
    let too_long = env.run_without_terminal(&["credential-process", "target", "--duration", "13h"]);
    assert_eq!(too_long.status.code(), Some(2), "{}", stderr_of(&too_long));
    assert_eq!(
        stderr_of(&too_long),
        format!(
            "rolegate: error: profile `target` ({config}): --duration 13h (46800 s) is out of range: AssumeRole grants 900 to 43200 s (15m to 12h) for `target`\nrolegate: hint: ask for 12h or less (and at least 15m): for example `--duration 12h`\n"
        )
    );
    let chained = env.run_without_terminal(&["credential-process", "pinned", "--duration", "2h"]);
    assert_eq!(chained.status.code(), Some(2), "{}", stderr_of(&chained));
    assert!(
        stderr_of(&chained).contains("`pinned` is assumed from the MFA session (rolegate_mfa_strategy = session; role chaining), and AWS caps such a role at 3600 s (1h)"),
        "{}",
        stderr_of(&chained)
    );
    let unreadable = env.run_without_terminal(&["credential-process", "target", "--duration", "2d"]);
    assert_eq!(unreadable.status.code(), Some(2));
    assert!(stderr_of(&unreadable).contains("`2d` is not a duration"), "{}", stderr_of(&unreadable));
    assert!(sts.calls().is_empty(), "nothing reached STS: {:?}", sts.calls());
}

#[test]
fn the_region_flag_picks_the_regional_sts_endpoint() {
    let sts = seed_sts();
    let mut env = TestEnv::seed_with_plain(&sts);
    // No configured endpoint: the region's own. A loopback proxy shows which host rolegate
    // asks for (and refuses the tunnel, so nothing leaves the machine).
    env.unset("AWS_ENDPOINT_URL");
    let proxy =
        crate::common::net::CannedServer::start(|| b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec());
    env.set("HTTPS_PROXY", &proxy.url());
    let default = env.run_without_terminal(&["credential-process", "plain"]);
    assert_eq!(default.status.code(), Some(5), "{}", stderr_of(&default));
    let flagged = env.run_without_terminal(&["credential-process", "plain", "--region", "eu-central-1"]);
    assert_eq!(flagged.status.code(), Some(5), "{}", stderr_of(&flagged));
    assert!(stderr_of(&flagged).contains("sts.eu-central-1.amazonaws.com"), "{}", stderr_of(&flagged));
    let hosts: Vec<String> = proxy.requests().iter().filter_map(|r| r.lines().next().map(str::to_string)).collect();
    assert!(hosts.iter().any(|l| l.starts_with("CONNECT sts.us-west-2.amazonaws.com:443 ")), "{hosts:?}");
    assert!(hosts.iter().any(|l| l.starts_with("CONNECT sts.eu-central-1.amazonaws.com:443 ")), "{hosts:?}");
    assert!(hosts.iter().all(|l| l.starts_with("CONNECT sts.")), "{hosts:?}");
}
