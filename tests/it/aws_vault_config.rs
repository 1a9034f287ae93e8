//! An aws-vault configuration works unchanged, against the strict STS stand-in:
//! `include_profile`, aws-vault's `mfa_process`, `source_identity`, `session_tags` and
//! `transitive_session_tags`; and IAM Identity Center (`sso_*`) profiles pass through to the
//! SDKs' own support.

use std::os::unix::fs::PermissionsExt;

use crate::common::env::*;
use crate::common::strict_sts::{RoleSpec, StrictSts};

const TAGGED_ROLE: &str = "arn:aws:iam::123456789012:role/tagged";

fn write_program(env: &TestEnv, name: &str, body: &str) -> String {
    let dir = env.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The seed's user and device, and an MFA role whose trust policy allows session tags and a
/// source identity.
fn tagged_sts() -> StrictSts {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new(TAGGED_ROLE).requiring_mfa().allowing_session_tags_and_source_identity());
    sts
}

/// aws-vault's "mixin" style: the role takes its source, device, region and session
/// attributes from `common`; the code comes from aws-vault's `mfa_process` on the keys profile.
fn aws_vault_config(otp: &str, role: &str) -> String {
    format!(
        "[profile base]\nregion = us-west-2\nmfa_serial = {MFA_SERIAL}\nmfa_process = {otp}\n\n\
         [profile common]\nsource_profile = base\nregion = eu-west-1\nsource_identity = alice\n\
         session_tags = team=blue, project = x=y\ntransitive_session_tags = team\n\n\
         [profile target]\ninclude_profile = common\nrole_arn = {role}\n"
    )
}

#[test]
fn an_aws_vault_config_works_unchanged_and_its_session_attributes_reach_sts() {
    let sts = tagged_sts();
    let mut env = TestEnv::seed(&sts);
    let otp = write_program(&env, "otp", "echo 246810");
    env.write_config(&aws_vault_config(&otp, TAGGED_ROLE));

    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    let calls = sts.calls();
    let gst: Vec<_> = calls.iter().filter(|c| c.action == "GetSessionToken").collect();
    assert_eq!(gst.len(), 1);
    assert_eq!(
        (gst[0].serial_number.as_deref(), gst[0].token_code.as_deref()),
        (Some(MFA_SERIAL), Some("246810")),
        "the code came from aws-vault's mfa_process, for the device named on the keys profile"
    );
    let ar = calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(ar.role_arn.as_deref(), Some(TAGGED_ROLE));
    assert_eq!(ar.source_identity.as_deref(), Some("alice"));
    assert_eq!(ar.session_tags, [("team".to_string(), "blue".to_string()), ("project".into(), "x=y".into())]);
    assert_eq!(ar.transitive_tag_keys, ["team"]);

    // Other session tags are other credentials: a new AssumeRole from the cached MFA session.
    let config = aws_vault_config(&otp, TAGGED_ROLE).replace("team=blue", "team=red");
    env.write_config(&config);
    let again = env.run_without_terminal(&["credential-process", "target"]);
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 2));
    let last = sts.calls().into_iter().rfind(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(last.session_tags[0], ("team".to_string(), "red".to_string()));
}

#[test]
fn a_role_whose_trust_policy_refuses_session_tags_names_the_profile() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new(TAGGED_ROLE).requiring_mfa());
    let mut env = TestEnv::seed(&sts);
    let otp = write_program(&env, "otp", "echo 246810");
    env.write_config(&aws_vault_config(&otp, TAGGED_ROLE));
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("profile `target`"), "{err}");
    assert!(err.contains("is not authorized to perform: sts:TagSession"), "{err}");
}

#[test]
fn rolegate_mfa_process_wins_over_aws_vaults_mfa_process() {
    let sts = tagged_sts();
    let mut env = TestEnv::seed(&sts);
    let theirs = write_program(&env, "theirs", "echo 111111");
    let ours = write_program(&env, "ours", "echo 222222");
    let config = aws_vault_config(&theirs, TAGGED_ROLE) + &format!("rolegate_mfa_process = {ours}\n");
    env.write_config(&config);
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let codes: Vec<_> = sts.calls().into_iter().filter_map(|c| c.token_code).collect();
    assert_eq!(codes, ["222222"]);
}

#[test]
fn a_failing_aws_vault_mfa_process_is_named_by_its_key() {
    let sts = tagged_sts();
    let mut env = TestEnv::seed(&sts);
    let otp = write_program(&env, "otp", "exit 3");
    env.write_config(&aws_vault_config(&otp, TAGGED_ROLE));
    let out = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains(&format!("profile `target`: mfa_process (`{otp}`) gave no MFA code")), "{err}");
    assert!(sts.calls().is_empty());
}

#[test]
fn include_profile_loops_and_missing_profiles_are_errors_naming_the_file() {
    let sts = tagged_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "[profile a]\ninclude_profile = b\nrole_arn = {TAGGED_ROLE}\n[profile b]\ninclude_profile = a\nsource_profile = base\n[profile m]\ninclude_profile = gone\nrole_arn = {TAGGED_ROLE}\n"
    ));
    let config = env.config_path().display().to_string();
    let out = env.run_without_terminal(&["credential-process", "a"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains(&format!("profile `a` ({config}): include_profile loop a -> b -> a")), "{err}");
    assert!(err.contains("hint: remove include_profile from one profile of the loop"), "{err}");
    let out = env.run_without_terminal(&["credential-process", "m"]);
    let err = stderr_of(&out);
    assert!(err.contains("include_profile names `gone` (in `m`), which does not exist"), "{err}");
    assert!(sts.calls().is_empty());
}

#[test]
fn doctor_shows_where_included_settings_come_from() {
    let sts = tagged_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&aws_vault_config("true", TAGGED_ROLE));
    let config = env.config_path().display().to_string();
    let out = env.run_without_terminal(&["doctor", "target"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // `session_tags` is line 8 of `common`, included by `target`.
    assert!(
        text.contains(&format!("session_tags = team=blue, project = x=y from include_profile `common` ({config}:10)")),
        "{text}"
    );
    assert!(text.contains("include-profile-outside-rolegate"), "{text}");
    let json = env.run_without_terminal(&["doctor", "target", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("doctor --json");
    let settings = &report["profiles"][0]["chain"][1]["settings"];
    let identity = settings.as_array().unwrap().iter().find(|s| s["key"] == "source_identity").unwrap();
    assert_eq!(identity["included_from"], "common");
    assert_eq!(identity["line"], 9);
}

const SSO_CONFIG: &str = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\n[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Developer\nregion = eu-west-1\n\n[profile legacy] ; old style\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\n";

#[test]
fn exec_of_an_sso_profile_runs_the_command_with_aws_profile_and_no_keys() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!("{SEED_CONFIG}\n{SSO_CONFIG}"));
    env.set("AWS_ACCESS_KEY_ID", "AKIAWOULDWINOVERPROF");
    env.set("AWS_SECRET_ACCESS_KEY", "secret-that-would-win");
    let script = r#"printf '%s|%s|%s' "$AWS_PROFILE" "${AWS_ACCESS_KEY_ID-unset}" "${ROLEGATE_PROFILE-}""#;
    let out = env.run_without_terminal(&["exec", "dev", "--", "sh", "-c", script]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "dev|unset|dev");
    let err = stderr_of(&out);
    assert!(
        err.contains("profile `dev` uses IAM Identity Center (`dev`), which the AWS SDKs and CLI handle themselves"),
        "{err}"
    );
    assert!(err.contains("aws sso login --profile dev"), "{err}");
    assert!(sts.calls().is_empty());

    // A role with MFA on the SSO profile is neither rolegate's nor the SDKs' to serve: an error.
    let mut config = format!("{SEED_CONFIG}\n{SSO_CONFIG}");
    config.push_str(&format!(
        "[profile dev-admin]\nsource_profile = dev\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\n"
    ));
    env.write_config(&config);
    let out = env.run_without_terminal(&["exec", "dev-admin", "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("hint: point source_profile at a profile with static keys"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn credential_process_of_an_sso_profile_says_what_to_run_instead() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!("{SEED_CONFIG}\n{SSO_CONFIG}"));
    let out = env.run_without_terminal(&["credential-process", "legacy"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("profile `legacy`"), "{err}");
    assert!(err.contains("IAM Identity Center"), "{err}");
    assert!(err.contains("hint: the AWS SDKs and CLI sign in to IAM Identity Center themselves: run `aws sso login --profile legacy`, then use the profile directly"), "{err}");
    assert!(out.stdout.is_empty());
}

/// exec's generated config keeps the SSO profiles and `[sso-session]` sections byte for byte
/// (they are the SDKs' business), and writes out what include_profile gave a profile.
#[test]
fn exec_generated_config_keeps_sso_sections_and_spells_out_included_settings() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new(PLAIN_ROLE));
    let mut env = TestEnv::seed(&sts);
    let extra = format!(
        "\n[profile fragment]\nregion = ap-south-1\nsource_profile = base\n\n[profile plain]\ninclude_profile = fragment\nrole_arn = {PLAIN_ROLE}\n"
    );
    let config = format!("{SEED_CONFIG}\n{SSO_CONFIG}{extra}");
    env.write_config(&config);
    let out = env.run_without_terminal(&[
        "exec",
        "target",
        "--mfa-token",
        "123456",
        "--",
        "sh",
        "-c",
        "cat \"$AWS_CONFIG_FILE\"",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let generated = String::from_utf8(out.stdout).unwrap();
    assert!(generated.contains(SSO_CONFIG), "the SSO sections, byte for byte:\n{generated}");
    assert!(
        generated.contains(&format!("[profile plain]\ninclude_profile = fragment\nrole_arn = {PLAIN_ROLE}\n# rolegate: settings this profile takes through include_profile, which the SDKs do not read\nregion = ap-south-1\nsource_profile = base\n")),
        "{generated}"
    );
}

#[test]
fn doctor_notes_a_profile_with_both_mfa_processes() {
    let sts = tagged_sts();
    let mut env = TestEnv::seed(&sts);
    let config = aws_vault_config("echo 1", TAGGED_ROLE)
        .replace("mfa_process = echo 1\n", "mfa_process = echo 1\nrolegate_mfa_process = echo 2\n");
    env.write_config(&config);
    let json = env.run_without_terminal(&["doctor", "target", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("doctor --json");
    let finding = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "two-mfa-processes").cloned();
    let finding = finding.unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(finding["severity"], "info");
    assert_eq!(finding["line"], 4, "at aws-vault's mfa_process: {finding:#}");
}

#[test]
fn doctor_of_an_sso_profile_is_a_note_not_an_error() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!("{SEED_CONFIG}\n{SSO_CONFIG}"));
    let out = env.run_without_terminal(&["doctor", "dev", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    let ids: Vec<_> =
        report["findings"].as_array().unwrap().iter().map(|f| (f["id"].clone(), f["severity"].clone())).collect();
    assert_eq!(ids, [(serde_json::json!("sso-profile"), serde_json::json!("info"))], "{report:#}");
}

/// A real SDK client (the AWS CLI, botocore) in an exec child reads what include_profile gave
/// a profile: a role whose source comes from the included profile is assumed by the CLI itself,
/// and an MFA role whose device comes from it is served by rolegate.
#[test]
fn the_aws_cli_in_an_exec_child_sees_included_settings() {
    let Some(aws) = std::env::var("PATH")
        .ok()
        .and_then(|path| path.split(':').map(|d| std::path::Path::new(d).join("aws")).find(|p| p.is_file()))
    else {
        return crate::common::skip::skip(
            "the_aws_cli_in_an_exec_child_sees_included_settings",
            "aws",
            "aws not found on PATH",
        );
    };
    let sts = seed_sts();
    sts.add_role(RoleSpec::new(PLAIN_ROLE));
    let mut env = TestEnv::seed(&sts);
    env.write_config(&format!(
        "[profile base]\nregion = us-west-2\n\n[profile fragment]\nsource_profile = base\nregion = ap-south-1\n\n\
         [profile plain]\ninclude_profile = fragment\nrole_arn = {PLAIN_ROLE}\n\n\
         [profile mfa-common]\nsource_profile = base\nmfa_serial = {MFA_SERIAL}\nexternal_id = {EXTERNAL_ID}\n\n\
         [profile mfa-role]\ninclude_profile = mfa-common\nrole_arn = {ROLE_ARN}\n"
    ));
    let script = format!(
        "{aws} sts get-caller-identity --profile plain --query Arn --output text && {aws} sts get-caller-identity --profile mfa-role --query Arn --output text && {aws} configure get region --profile plain",
        aws = aws.display()
    );
    let out = env.run_without_terminal(&["exec", "mfa-role", "--mfa-token", "123456", "--", "sh", "-c", &script]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("arn:aws:sts::123456789012:assumed-role/plain/"), "{stdout}");
    assert!(lines[1].starts_with("arn:aws:sts::123456789012:assumed-role/hc-master/"), "{stdout}");
    assert_eq!(lines[2], "ap-south-1");
    assert_eq!(sts.count("GetSessionToken"), 1, "one code for the exec and the CLI's credential_process");
}
