//! `rolegate setup`: a corpus of real-looking config files (`tests/data/setup/*.ini`), each
//! extended by exactly the new section and nothing else; the backup, the mode, idempotence,
//! `--dry-run`, refusals, symlinks, a missing file; then the AWS CLI and real Terraform using
//! the profile that setup wrote.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use rolegate::config::Profiles;

use crate::common::env::*;
use crate::common::moto::Moto;
use crate::common::pty::{count, spawn_script};
use crate::common::skip::skip;
use crate::common::terraform::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/setup");

/// One corpus file and what setup must make of it.
struct Case {
    /// The config file, in [`DATA`].
    file: &'static str,
    /// The credentials file, in [`DATA`], if the keys are not in the config file.
    credentials: Option<&'static str>,
    /// The profile with role_arn / mfa_serial; the new one is `PROFILE-tf`.
    profile: &'static str,
    /// The region the new profile must get.
    region: &'static str,
    /// The mode the file has before (and must keep).
    mode: u32,
    /// Whether botocore (the AWS CLI) reads the file: it refuses duplicated sections.
    aws_reads: bool,
    /// Texts the report on stdout must contain.
    report: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        file: "seed.ini",
        credentials: Some("seed.credentials"),
        profile: "target",
        region: "us-west-2",
        mode: 0o600,
        aws_reads: true,
        report: &["target -> base", "aws_access_key_id AKIAROLEGATETESTBASE", "session: one code a day"],
    },
    Case {
        file: "comments.ini",
        credentials: None,
        profile: "prod",
        region: "eu-west-1",
        mode: 0o644,
        aws_reads: true,
        report: &[
            "prod -> me",
            "AssumeRole arn:aws:iam::444455556666:role/Admin",
            "MFA device: arn:aws:iam::111122223333:mfa/me",
        ],
    },
    Case {
        file: "spacing.ini",
        credentials: Some("spacing.credentials"),
        profile: "deploy",
        region: "us-east-2",
        mode: 0o640,
        aws_reads: true,
        report: &["deploy -> ci", "aws_access_key_id AKIAEXAMPLESPACING01", "region: us-east-2 (from profile `ci`)"],
    },
    Case {
        file: "default-profiles.ini",
        credentials: Some("default-profiles.credentials"),
        profile: "admin",
        region: "eu-central-1",
        mode: 0o600,
        aws_reads: true,
        report: &["admin -> default", "STS endpoint: https://sts.eu-central-1.amazonaws.com"],
    },
    Case {
        file: "sso.ini",
        credentials: None,
        profile: "ops",
        region: "ca-central-1",
        mode: 0o600,
        aws_reads: true,
        report: &["ops -> breakglass-user", "session name breakglass"],
    },
    Case {
        file: "services.ini",
        credentials: None,
        profile: "lab",
        region: "ap-southeast-2",
        mode: 0o600,
        aws_reads: true,
        report: &["STS endpoint: http://127.0.0.1:4566"],
    },
    Case {
        file: "crlf.ini",
        credentials: Some("crlf.credentials"),
        profile: "target",
        region: "us-west-1",
        mode: 0o600,
        aws_reads: true,
        report: &["target -> base"],
    },
    Case {
        file: "no-eol.ini",
        credentials: None,
        profile: "target",
        region: "sa-east-1",
        mode: 0o600,
        aws_reads: true,
        report: &["target -> base"],
    },
    Case {
        file: "crlf-no-eol.ini",
        credentials: None,
        profile: "target",
        region: "eu-north-1",
        mode: 0o644,
        aws_reads: true,
        report: &["region: eu-north-1 (from profile `target`)"],
    },
    Case {
        file: "long.ini",
        credentials: Some("long.credentials"),
        profile: "team-137-billing",
        region: "eu-west-1",
        mode: 0o600,
        aws_reads: true,
        report: &["team-137-billing -> base", "AssumeRole arn:aws:iam::100001084903:role/Billing"],
    },
    Case {
        file: "unicode.ini",
        credentials: Some("unicode.credentials"),
        profile: "target",
        region: "ap-northeast-1",
        mode: 0o600,
        aws_reads: true,
        report: &["target -> base"],
    },
    Case {
        file: "existing-tf.ini",
        credentials: Some("seed.credentials"),
        profile: "target",
        region: "us-west-2",
        mode: 0o600,
        aws_reads: true,
        report: &["target -> base"],
    },
    Case {
        file: "duplicated.ini",
        credentials: None,
        profile: "target",
        region: "us-west-2",
        mode: 0o600,
        aws_reads: false,
        report: &["aws_access_key_id AKIAEXAMPLEDUPLICATE", "with external_id, MFA"],
    },
    Case {
        file: "blank-tail.ini",
        credentials: None,
        profile: "target",
        region: "us-east-2",
        mode: 0o600,
        aws_reads: true,
        report: &["target -> base"],
    },
    Case {
        file: "chain.ini",
        credentials: None,
        profile: "target",
        region: "eu-west-2",
        mode: 0o600,
        aws_reads: true,
        report: &[
            "target -> jump -> base",
            "AssumeRole arn:aws:iam::123456789012:role/jump, MFA, for 1 h",
            "from `jump`'s credentials",
            "session: one code a day",
            "`jump` is assumed from it, then `target` in turn, for 1 h",
        ],
    },
    Case {
        file: "direct.ini",
        credentials: Some("seed.credentials"),
        profile: "target",
        region: "us-west-2",
        mode: 0o600,
        aws_reads: true,
        report: &["direct: the code goes to `target`'s AssumeRole", "duration_seconds = 7200 (2 h)", "lasts 2 h"],
    },
];

fn data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(DATA).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8")
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// The file setup must produce: the old bytes, a line break if the last line lacks one, a
/// blank line unless the file already ends with one, then the section, all in the file's line
/// ending.
fn expected_after(old: &str, name: &str, command: &str, region: &str) -> String {
    let eol = if old.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = old.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push_str(eol);
        }
        if !out.lines().last().is_some_and(|l| l.trim().is_empty()) {
            out.push_str(eol);
        }
    }
    out.push_str(&format!("[profile {name}]{eol}credential_process = {command}{eol}region = {region}{eol}"));
    out
}

/// The backups beside `config`.
fn backups(config: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.rolegate-backup-", config.file_name().unwrap().to_str().unwrap());
    let mut out: Vec<PathBuf> = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&prefix))
        .collect();
    out.sort();
    out
}

/// The files in `dir`, by name.
fn names_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    out.sort();
    out
}

/// `aws configure get KEY --profile NAME` (botocore's own reading of the files).
fn aws_get(env: &TestEnv, key: &str, name: &str) -> Output {
    env.command("aws", &["configure", "get", key, "--profile", name]).output().expect("run aws")
}

fn run_case(file: &str) {
    let test = format!("setup corpus {file}");
    let case = CASES.iter().find(|c| c.file == file).unwrap_or_else(|| panic!("no case for {file}"));
    let old = data(case.file);
    let credentials = case.credentials.map(|c| String::from_utf8(data(c)).unwrap()).unwrap_or_default();
    let mut env = TestEnv::new();
    let config = env.home().join(".aws/config");
    std::fs::write(&config, &old).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(case.mode)).unwrap();
    if case.credentials.is_some() {
        env.write_credentials(&credentials);
    }
    let before = Profiles::parse(text(&old), &credentials).unwrap_or_else(|e| panic!("{file} before: {e}"));
    let name = format!("{}-tf", case.profile);
    let command = format!("rolegate credential-process {}", case.profile);

    let out = env.rolegate(&["setup", case.profile]).output().unwrap();
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert!(out.status.success(), "{file}: setup failed:\n{stdout}{stderr}");

    // Exactly the old bytes plus the section.
    let new = std::fs::read(&config).unwrap();
    let expected = expected_after(text(&old), &name, &command, case.region);
    assert!(
        new == expected.as_bytes(),
        "{file}: the new file is not the old one plus the section.\n--- expected tail:\n{:?}\n--- got tail:\n{:?}",
        &expected[expected.len().saturating_sub(300)..],
        String::from_utf8_lossy(&new[new.len().saturating_sub(300)..])
    );
    assert_eq!(mode_of(&config), case.mode, "{file}: the mode is kept");
    assert!(std::fs::symlink_metadata(&config).unwrap().file_type().is_file());

    // One backup, the old bytes, the same mode; no temporary file left behind.
    let saved = backups(&config);
    assert_eq!(saved.len(), 1, "{file}: {saved:?}");
    assert_eq!(std::fs::read(&saved[0]).unwrap(), old, "{file}: the backup holds the old bytes");
    assert_eq!(mode_of(&saved[0]), case.mode, "{file}: the backup has the file's mode");
    let stamp = saved[0].file_name().unwrap().to_str().unwrap().rsplit('-').next().unwrap().to_string();
    assert!(
        stamp.len() == 16 && stamp.as_bytes()[8] == b'T' && stamp.ends_with('Z'),
        "{file}: backup stamp YYYYmmddTHHMMSSZ: {stamp}"
    );
    let mut expected_names = vec!["config".to_string(), saved[0].file_name().unwrap().to_str().unwrap().to_string()];
    if case.credentials.is_some() {
        expected_names.push("credentials".into());
    }
    expected_names.sort();
    assert_eq!(names_in(config.parent().unwrap()), expected_names, "{file}: nothing else in ~/.aws");

    // The report: what was written, what will happen, what to do next; never a secret.
    assert!(stdout.contains(&format!("added [profile {name}] to {}:", config.display())), "{file}:\n{stdout}");
    assert!(stdout.contains(&format!("backup of the previous file: {}", saved[0].display())), "{file}:\n{stdout}");
    for line in case.report {
        assert!(stdout.contains(line), "{file}: no {line:?} in the report:\n{stdout}");
    }
    assert!(stdout.contains(&format!("region: {}", case.region)), "{file}:\n{stdout}");
    assert!(
        stdout.contains(&format!("terraform: set profile = \"{name}\" in the backend/provider blocks")),
        "{file}:\n{stdout}"
    );
    assert!(stdout.contains(&format!("aws --profile {name} sts get-caller-identity")), "{file}:\n{stdout}");
    for props in before.profiles.values() {
        if let Some(secret) = props.get("aws_secret_access_key") {
            assert!(!stdout.contains(secret) && !stderr.contains(secret), "{file}: a secret in the output");
        }
    }

    // The SDK's parser: the new profile, and every other profile exactly as before.
    let after = Profiles::parse(text(&new), &credentials).unwrap_or_else(|e| panic!("{file} after: {e}"));
    let props = after.get(&name).unwrap_or_else(|| panic!("{file}: no profile {name}"));
    assert_eq!(props.get("credential_process"), Some(&command), "{file}");
    assert_eq!(props.get("region").map(String::as_str), Some(case.region), "{file}");
    assert_eq!(props.len(), 2, "{file}: only credential_process and region: {props:?}");
    let mut others = after.profiles.clone();
    others.remove(&name);
    assert_eq!(others, before.profiles, "{file}: the other profiles are unchanged");
    assert_eq!(after.sts_service_endpoints, before.sts_service_endpoints, "{file}");

    // A second run changes nothing.
    let again = env.rolegate(&["setup", case.profile]).output().unwrap();
    assert!(again.status.success(), "{file}: second run:\n{}{}", stdout_of(&again), stderr_of(&again));
    assert!(stdout_of(&again).contains("already set up"), "{file}:\n{}", stdout_of(&again));
    assert_eq!(std::fs::read(&config).unwrap(), new, "{file}: the second run changed the file");
    assert_eq!(backups(&config), saved, "{file}: no second backup");

    // The AWS CLI (botocore) reads the same profile, where it can read the file at all.
    if find_on_path("aws").is_none() {
        skip(&test, "aws", "aws CLI not found on PATH");
        return;
    }
    let cp = aws_get(&env, "credential_process", &name);
    let region = aws_get(&env, "region", &name);
    if case.aws_reads {
        assert!(cp.status.success(), "{file}: aws configure get: {}", stderr_of(&cp));
        assert_eq!(stdout_of(&cp).trim_end(), command, "{file}");
        assert_eq!(stdout_of(&region).trim_end(), case.region, "{file}");
    } else {
        // botocore refuses the file before and after alike: setup did not break it.
        assert!(!cp.status.success(), "{file}: aws read it after all: {}", stdout_of(&cp));
        let backup_path = saved[0].to_str().unwrap().to_string();
        let before = env
            .command("aws", &["configure", "get", "region", "--profile", "base"])
            .env("AWS_CONFIG_FILE", &backup_path)
            .output()
            .unwrap();
        assert!(!before.status.success(), "{file}: aws read the original: {}", stdout_of(&before));
        assert!(stderr_of(&before).contains("Unable to parse config file"), "{}", stderr_of(&before));
    }
}

macro_rules! corpus {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_case($file);
            }
        )*

        #[test]
        fn every_corpus_file_has_a_case_and_a_test() {
            let tested = [$($file),*];
            let mut files: Vec<String> = std::fs::read_dir(DATA)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".ini"))
                .collect();
            files.sort();
            let mut cases: Vec<String> = CASES.iter().map(|c| c.file.to_string()).collect();
            cases.sort();
            assert_eq!(files, cases, "tests/data/setup/*.ini and CASES");
            let mut tested: Vec<String> = tested.iter().map(|s| s.to_string()).collect();
            tested.sort();
            assert_eq!(tested, cases, "one test per case");
        }
    };
}

corpus! {
    corpus_seed => "seed.ini",
    corpus_comments => "comments.ini",
    corpus_odd_spacing_and_tabs => "spacing.ini",
    corpus_default_and_profile_default => "default-profiles.ini",
    corpus_sso_sessions => "sso.ini",
    corpus_services_with_nested_sts_endpoint => "services.ini",
    corpus_crlf => "crlf.ini",
    corpus_no_trailing_newline => "no-eol.ini",
    corpus_crlf_without_trailing_newline => "crlf-no-eol.ini",
    corpus_very_long_file => "long.ini",
    corpus_unicode_comments => "unicode.ini",
    corpus_existing_unrelated_tf_profile => "existing-tf.ini",
    corpus_duplicated_sections => "duplicated.ini",
    corpus_ends_with_blank_lines => "blank-tail.ini",
    corpus_two_roles_mfa_on_the_keys => "chain.ini",
    corpus_long_role_goes_direct => "direct.ini",
}

/// The seed's config without its `target-tf` profile: what a user has before setup.
fn seed_without_tf() -> &'static str {
    let config = SEED_CONFIG.split("[profile target-tf]").next().unwrap();
    assert!(config.ends_with("external_id = 123456789069\n\n"), "{config:?}");
    config
}

fn seed_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.write_config(seed_without_tf());
    env.write_credentials(&seed_credentials());
    env
}

fn config_path(env: &TestEnv) -> PathBuf {
    env.home().join(".aws/config")
}

#[test]
fn setup_writes_exactly_the_profile_of_the_readme() {
    let env = seed_env();
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // The seed's hand-written config is exactly what setup produces from the seed's profiles.
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), SEED_CONFIG);
    let stdout = stdout_of(&out);
    for expected in [
        "profile `target-tf`: credential_process = rolegate credential-process target",
        "runs as profile `target`: target -> base",
        &format!("AssumeRole {ROLE_ARN}, with external_id, MFA, for 1 h, from `base`'s credentials"),
        &format!("static keys: aws_access_key_id {BASE_KEY_ID}"),
        &format!("MFA device: {MFA_SERIAL}"),
        "session: one code a day",
        "MFA session of 12 h",
        "assumed from it for 1 h and renewed silently",
        "region: us-west-2 (from profile `base`)",
        "STS endpoint: https://sts.us-west-2.amazonaws.com",
        "rolegate is on PATH",
        "terraform: set profile = \"target-tf\" in the backend/provider blocks",
        "try it:    aws --profile target-tf sts get-caller-identity",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains(BASE_SECRET) && !stderr_of(&out).contains(BASE_SECRET));
    assert!(!stdout.contains(EXTERNAL_ID), "the external id is not printed:\n{stdout}");
}

#[test]
fn the_seed_with_its_target_tf_is_already_set_up() {
    let mut env = TestEnv::new();
    env.write_config(SEED_CONFIG);
    env.write_credentials(&seed_credentials());
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains(&format!("profile `target-tf` is already set up at {}:10", config_path(&env).display())));
    assert!(stdout.contains("nothing changed"), "{stdout}");
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), SEED_CONFIG);
    assert!(backups(&config_path(&env)).is_empty());
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let env = seed_env();
    let config = config_path(&env);
    let modified = std::fs::metadata(&config).unwrap().modified().unwrap();
    let out = env.rolegate(&["setup", "target", "--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    let path = config.display();
    let diff = format!(
        "--- {path}\n+++ {path}\n@@ -7,3 +7,6 @@\n mfa_serial = {MFA_SERIAL}\n external_id = {EXTERNAL_ID}\n \n\
         +[profile target-tf]\n+credential_process = rolegate credential-process target\n+region = us-west-2\n"
    );
    assert!(stdout.starts_with(&diff), "expected:\n{diff}\ngot:\n{stdout}");
    assert!(stdout.contains("dry run: nothing written"), "{stdout}");
    assert!(stdout.contains("terraform: set profile = \"target-tf\""), "{stdout}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), seed_without_tf());
    assert_eq!(std::fs::metadata(&config).unwrap().modified().unwrap(), modified);
    assert_eq!(names_in(config.parent().unwrap()), ["config", "credentials"]);

    // The diff applies with patch(1) and gives what setup writes.
    if find_on_path("patch").is_some() {
        std::fs::write(env.path("change.diff"), stdout.split("\ndry run:").next().unwrap()).unwrap();
        let copy = env.path("config-copy");
        std::fs::copy(&config, &copy).unwrap();
        let patched = env
            .command("patch", &["-s", copy.to_str().unwrap(), env.path("change.diff").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(patched.status.success(), "{}{}", stdout_of(&patched), stderr_of(&patched));
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), SEED_CONFIG);
    }
}

#[test]
fn dry_run_of_a_missing_file_creates_nothing() {
    let mut env = TestEnv::new();
    let config = env.path("nowhere/aws/config");
    env.set("AWS_CONFIG_FILE", config.to_str().unwrap());
    env.write_credentials(&format!(
        "{}\n[target]\nsource_profile = base\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\n",
        seed_credentials()
    ));
    let out = env.rolegate(&["setup", "target", "--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(
        stdout.starts_with(&format!(
            "--- /dev/null\n+++ {}\n@@ -0,0 +1,3 @@\n+[profile target-tf]\n+credential_process = rolegate credential-process target\n+region = us-east-1\n",
            config.display()
        )),
        "{stdout}"
    );
    assert!(!env.path("nowhere").exists());
}

#[test]
fn a_missing_config_file_is_created_private() {
    let mut env = TestEnv::new();
    let config = env.path("nowhere/aws/config");
    env.set("AWS_CONFIG_FILE", config.to_str().unwrap());
    // The role profile lives in the credentials file (the SDKs read role settings there too).
    env.write_credentials(&format!(
        "{}\n[target]\nsource_profile = base\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\n",
        seed_credentials()
    ));
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "[profile target-tf]\ncredential_process = rolegate credential-process target\nregion = us-east-1\n"
    );
    assert_eq!(mode_of(&config), 0o600);
    assert_eq!(mode_of(&env.path("nowhere/aws")), 0o700);
    assert_eq!(mode_of(&env.path("nowhere")), 0o700);
    assert!(backups(&config).is_empty(), "nothing to back up");
    assert!(stdout.contains(&format!("created {} (mode 0600)", config.display())), "{stdout}");
    assert!(stdout.contains("region: us-east-1 (no profile of the chain sets one: the default)"), "{stdout}");
    let again = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(again.status.success() && stdout_of(&again).contains("already set up"), "{}", stderr_of(&again));
}

#[test]
fn a_region_only_in_the_environment_is_written_and_said() {
    let mut env = TestEnv::new();
    env.write_config(&format!(
        "[profile base]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n\n[profile target]\nsource_profile = base\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\n"
    ));
    env.set("AWS_REGION", "eu-south-1");
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(std::fs::read_to_string(config_path(&env)).unwrap().ends_with("region = eu-south-1\n"));
    assert!(stdout_of(&out).contains("region: eu-south-1 (from AWS_REGION"), "{}", stdout_of(&out));

    // A region in the files wins over the shell's: the profile means the same in every shell.
    let mut env = seed_env();
    env.set("AWS_REGION", "eu-south-1");
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), SEED_CONFIG);
}

#[test]
fn conflicting_sections_are_refused_with_file_and_line() {
    let role = format!("source_profile = base\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\n");
    // (config addition, credentials addition, the reason in the message, where: config or credentials line)
    let cases: [(String, &str, &str, (bool, usize)); 6] = [
        (
            format!("[profile target-tf]\n{role}region = us-west-2\n"),
            "",
            "it has role_arn, source_profile, mfa_serial",
            (true, 10),
        ),
        (
            "[profile target-tf]\ncredential_process = rolegate credential-process other\nregion = us-west-2\n".into(),
            "",
            "it calls rolegate for profile `other`",
            (true, 10),
        ),
        (
            "[profile target-tf]  # aws-vault\ncredential_process = aws-vault export --format=json target\nregion = us-west-2\n".into(),
            "",
            "its credential_process is `aws-vault export --format=json target`",
            (true, 10),
        ),
        (
            "[profile target-tf]\ncredential_process = rolegate credential-process target\n".into(),
            "",
            "it has no region",
            (true, 10),
        ),
        (
            "[profile target-tf]\ncredential_process = rolegate credential-process target\nregion = us-west-2\n".into(),
            "\n[target-tf]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n",
            "it has aws_access_key_id, aws_secret_access_key",
            (true, 10),
        ),
        (String::new(), "\n[target-tf]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n", "it has aws_access_key_id", (false, 5)),
    ];
    for (config_extra, credentials_extra, why, (in_config, line)) in cases {
        let mut env = TestEnv::new();
        let config = format!("{}{config_extra}", seed_without_tf());
        env.write_config(&config);
        env.write_credentials(&format!("{}{credentials_extra}", seed_credentials()));
        let out = env.rolegate(&["setup", "target"]).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(3), "{config_extra}{credentials_extra}\n{stderr}{}", stdout_of(&out));
        let file = if in_config { config_path(&env) } else { env.home().join(".aws/credentials") };
        let place = format!("{}:{line}", file.display());
        assert!(
            stderr.contains(&format!(
                "rolegate: error: {place}: profile `target-tf` already exists and is not rolegate's profile for `target`: {why}"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("rolegate: hint: choose another name"), "{stderr}");
        let header = if in_config { "[profile target-tf]" } else { "[target-tf]" };
        assert!(stderr.contains(&format!("edit or remove the {header} section at {place}")), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", stdout_of(&out));
        assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), config, "never modified");
        assert!(backups(&config_path(&env)).is_empty());
    }

    // --as another name works next to the refused one.
    let mut env = TestEnv::new();
    let config = format!("{}[profile target-tf]\n{role}", seed_without_tf());
    env.write_config(&config);
    env.write_credentials(&seed_credentials());
    let out = env.rolegate(&["setup", "target", "--as", "target-terraform"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(config_path(&env)).unwrap(),
        expected_after(&config, "target-terraform", "rolegate credential-process target", "us-west-2")
    );
    assert!(stdout_of(&out).contains("terraform: set profile = \"target-terraform\""));
}

#[test]
fn a_bad_profile_fails_with_the_planner_error_and_writes_nothing() {
    let cases = [
        ("nope", seed_without_tf().to_string(), "profile `nope` not found"),
        (
            "a",
            "[profile a]\nsource_profile = b\nrole_arn = arn:aws:iam::123456789012:role/a\n[profile b]\nsource_profile = a\nrole_arn = arn:aws:iam::123456789012:role/b\n".to_string(),
            "source_profile loop",
        ),
        ("base", seed_without_tf().to_string(), "rolegate has nothing to add"),
        ("target-tf", SEED_CONFIG.to_string(), "already calls rolegate for profile `target`"),
    ];
    for (profile, config, message) in cases {
        let mut env = TestEnv::new();
        env.write_config(&config);
        env.write_credentials(&seed_credentials());
        let out = env.rolegate(&["setup", profile]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{profile}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains(message), "{profile}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("rolegate: hint: "), "{}", stderr_of(&out));
        assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), config);
        assert!(backups(&config_path(&env)).is_empty());
    }
}

#[test]
fn a_name_the_sdks_would_ignore_is_refused() {
    let env = seed_env();
    for name in ["target tf", "target]tf", "tf#1", ""] {
        let out = env.rolegate(&["setup", "target", "--as", name]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{name:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("cannot be a profile name"), "{}", stderr_of(&out));
    }
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), seed_without_tf());
}

#[test]
fn a_read_only_config_is_refused() {
    let env = seed_env();
    let config = config_path(&env);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o400)).unwrap();
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is read-only (mode 0400)"), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--dry-run"), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), seed_without_tf());
    assert!(backups(&config).is_empty());
}

#[test]
fn without_rolegate_on_path_the_absolute_path_is_written_and_said() {
    let mut env = seed_env();
    env.set("PATH", "/usr/bin:/bin");
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let exe = std::fs::canonicalize(rolegate_bin()).unwrap();
    let command = format!("{} credential-process target", exe.display());
    assert_eq!(
        std::fs::read_to_string(config_path(&env)).unwrap(),
        expected_after(seed_without_tf(), "target-tf", &command, "us-west-2")
    );
    assert!(stderr_of(&out).contains("`rolegate` is not on PATH"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains(&format!("credential_process = {command}")), "{}", stdout_of(&out));
    // The absolute form counts as set up too.
    let again = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(again.status.success() && stdout_of(&again).contains("already set up"), "{}", stderr_of(&again));
}

#[test]
fn a_symlinked_config_is_written_through_and_the_link_kept() {
    let env = seed_env();
    let dotfiles = env.path("dotfiles/aws");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let real = dotfiles.join("config");
    let link = config_path(&env);
    std::fs::rename(&link, &real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink("../../dotfiles/aws/config", &link).unwrap();

    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link survives");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../../dotfiles/aws/config"));
    assert_eq!(std::fs::read_to_string(&real).unwrap(), SEED_CONFIG);
    assert_eq!(mode_of(&real), 0o644);
    let saved = backups(&real);
    assert_eq!(saved.len(), 1, "the backup is beside the real file");
    assert_eq!(std::fs::read_to_string(&saved[0]).unwrap(), seed_without_tf());
    assert!(backups(&link).is_empty(), "{:?}", names_in(link.parent().unwrap()));
    let real = std::fs::canonicalize(&real).unwrap();
    assert!(
        stderr_of(&out).contains(&format!("{} is a symlink: wrote its target {}", link.display(), real.display())),
        "{}",
        stderr_of(&out)
    );
    assert!(stdout_of(&out).contains(&format!("added [profile target-tf] to {}:10", real.display())));

    // A dangling link is refused, naming both.
    let env = seed_env();
    let link = config_path(&env);
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(env.path("gone/config"), &link).unwrap();
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("which does not exist"), "{}", stderr_of(&out));
    assert!(!env.path("gone").exists());
}

/// The profile setup wrote, used by the AWS CLI without a terminal: served from the cache
/// that `credential-process target` filled (one MFA session for both names).
#[test]
fn the_aws_cli_uses_the_new_profile() {
    let test = "the_aws_cli_uses_the_new_profile";
    if find_on_path("aws").is_none() {
        return skip(test, "aws", "aws CLI not found on PATH");
    }
    let sts = seed_sts();
    let mut env = seed_env();
    env.set("AWS_ENDPOINT_URL_STS", &sts.url());
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains(&format!("STS endpoint: {}", sts.url())), "{}", stdout_of(&out));
    let warm = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(warm.status.success(), "{}", stderr_of(&warm));
    let who = env
        .command("setsid", &["-w", "aws", "sts", "get-caller-identity", "--profile", "target-tf", "--output", "json"])
        .output()
        .unwrap();
    assert!(who.status.success(), "{}{}", stdout_of(&who), stderr_of(&who));
    let identity: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    assert!(
        identity["Arn"].as_str().unwrap_or_default().starts_with("arn:aws:sts::123456789012:assumed-role/hc-master/"),
        "{identity}"
    );
    assert_eq!(sts.count("GetSessionToken"), 1);
    assert_eq!(sts.count("AssumeRole"), 1);
}

const TF_TEST: &str = "terraform_uses_the_profile_setup_wrote";

/// The AWS provider with `profile = "target-tf"`, and who it is.
fn provider_blocks(sts_url: &str) -> String {
    aws_provider_module(&format!(
        "  profile                    = \"target-tf\"\n  skip_metadata_api_check    = true\n  skip_region_validation     = true\n  skip_requesting_account_id = true\n  endpoints {{\n    sts = \"{sts_url}\"\n  }}\n"
    ))
}

/// Real Terraform with the profile `rolegate setup` wrote (not the seed's hand-written one): the
/// s3 backend and three `terraform_remote_state`s with `profile = "target-tf"` (S3 on moto),
/// plus the AWS provider with the same profile when a local provider mirror exists. init, plan,
/// apply and output on one pty: one MFA prompt in all.
#[test]
#[allow(clippy::print_stderr)]
fn terraform_uses_the_profile_setup_wrote() {
    let Some(terraform) = find_on_path("terraform") else {
        return skip(TF_TEST, "terraform", "terraform not found on PATH");
    };
    match terraform_version(&terraform) {
        Ok(v) if v >= (1, 6, 0) => {}
        Ok(v) => return skip(TF_TEST, "terraform", &format!("terraform {v:?} is older than 1.6")),
        Err(e) => return skip(TF_TEST, "terraform", &format!("terraform does not run: {e}")),
    }
    if find_on_path("aws").is_none() {
        return skip(TF_TEST, "aws", "aws CLI not found on PATH (it uploads the remote states)");
    }
    let Some(moto) = Moto::start_or_skip(TF_TEST) else { return };
    let started = std::time::Instant::now();

    let sts = seed_sts();
    let mut env = seed_env();
    env.set("AWS_ENDPOINT_URL_STS", &sts.url());
    env.set("TF_IN_AUTOMATION", "1");
    env.set("CHECKPOINT_DISABLE", "1");
    seed_bucket(&env, &moto.url());
    let logs = install_counting_wrapper(&mut env);
    for (name, _) in env.envs() {
        assert!(
            !["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"]
                .contains(&name.as_str()),
            "Terraform must get credentials only through target-tf, not {name}"
        );
    }

    // Before setup there is no target-tf; setup writes it.
    assert!(!std::fs::read_to_string(config_path(&env)).unwrap().contains("target-tf"));
    let out = env.rolegate(&["setup", "target"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    let config = std::fs::read_to_string(config_path(&env)).unwrap();
    assert!(
        config.ends_with(
            "[profile target-tf]\ncredential_process = rolegate credential-process target\nregion = us-west-2\n"
        ),
        "{config}"
    );
    assert!(invocations(&logs).is_empty(), "setup ran no rolegate through PATH");

    let mut main_tf = root_module(&moto.url(), &sts.url());
    let with_provider = has_provider_mirror();
    if with_provider {
        main_tf.push_str(&provider_blocks(&sts.url()));
        write_mirror_config(&env.path("cli.tfrc"));
    } else {
        skip(TF_TEST, "tf-plugins", "no local mirror of hashicorp/aws at /opt/tf-plugins: backend only");
        std::fs::write(env.path("cli.tfrc"), "").unwrap();
    }
    env.set("TF_CLI_CONFIG_FILE", env.path("cli.tfrc").to_str().unwrap());
    std::fs::write(env.path("main.tf"), main_tf).unwrap();

    let transcript =
        run_with_one_prompt(&env, TERRAFORM_STEPS, "123456", &|| format!("rolegate calls: {:#?}", invocations(&logs)));
    let calls = invocations(&logs);

    assert!(transcript.contains("tf-exit=0"), "Terraform failed:\n{transcript}\nrolegate calls: {calls:#?}");
    assert_eq!(count(&transcript, "Enter MFA code"), 1, "one prompt in all:\n{transcript}");
    for phase in ["Terraform has been successfully initialized", "Plan: 1 to add", "Apply complete!"] {
        assert!(transcript.contains(phase), "no {phase:?} in:\n{transcript}");
    }
    let outputs: serde_json::Value = serde_json::from_slice(&std::fs::read(env.path("outputs.json")).unwrap())
        .unwrap_or_else(|e| panic!("outputs.json: {e}\n{transcript}"));
    for (name, _, value) in REMOTE_STATES {
        assert_eq!(outputs[name]["value"], value, "output {name}: {outputs}");
    }
    assert_eq!(outputs["combined"]["value"], "one,two,three", "{outputs}");
    if with_provider {
        let arn = outputs["arn"]["value"].as_str().unwrap_or_default();
        assert!(arn.starts_with("arn:aws:sts::123456789012:assumed-role/hc-master/"), "provider identity: {outputs}");
    }

    assert_eq!(sts.count("GetSessionToken"), 1, "{:#?}", sts.calls());
    let ar = sts.calls().into_iter().filter(|c| c.action == "AssumeRole").collect::<Vec<_>>();
    assert!(!ar.is_empty() && ar.iter().all(|c| c.role_arn.as_deref() == Some(ROLE_ARN)), "{ar:#?}");
    assert!(!calls.is_empty());
    for call in &calls {
        assert!(call.caller.contains("terraform"), "a rolegate call not from Terraform: {call:#?}");
        assert!(call.log.contains("args: credential-process target\n"), "the line setup wrote: {call:#?}");
        assert!(!call.log.contains("rolegate: error"), "{call:#?}");
    }
    eprintln!(
        "setup e2e: `rolegate setup target` then terraform init/plan/apply/output{} with profile target-tf: \
         1 prompt, {} rolegate calls, STS {} GetSessionToken / {} AssumeRole, {:.1?}",
        if with_provider { " (s3 backend + remote states + aws provider)" } else { " (s3 backend + remote states)" },
        calls.len(),
        sts.count("GetSessionToken"),
        sts.count("AssumeRole"),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Setup from nothing: `--role-arn` and its companions, and the wizard on a terminal.

/// The role profile and its `-tf` profile, as `--role-arn` writes them for the seed's role.
fn seed_role_sections(external_id: bool, region: Option<&str>) -> String {
    let mut role =
        format!("[profile target]\nsource_profile = base\nrole_arn = {ROLE_ARN}\nmfa_serial = {MFA_SERIAL}\n");
    if external_id {
        role.push_str(&format!("external_id = {EXTERNAL_ID}\n"));
    }
    if let Some(r) = region {
        role.push_str(&format!("region = {r}\n"));
    }
    let tf_region = region.unwrap_or("us-west-2");
    format!(
        "{role}\n[profile target-tf]\ncredential_process = rolegate credential-process target\nregion = {tf_region}\n"
    )
}

fn role_flags<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "setup",
        "target",
        "--source-profile",
        "base",
        "--role-arn",
        ROLE_ARN,
        "--mfa-serial",
        MFA_SERIAL,
        "--external-id",
        EXTERNAL_ID,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn setup_from_nothing_with_flags_writes_both_profiles_and_says_how_to_store_the_keys() {
    let sts = seed_sts();
    let mut env = TestEnv::new();
    std::fs::remove_dir(env.home().join(".aws")).unwrap();
    let out = env.run_without_terminal(&role_flags(&["--region", "us-west-2"]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let config = config_path(&env);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), seed_role_sections(true, Some("us-west-2")));
    assert_eq!(mode_of(&config), 0o600);
    assert!(!env.credentials_path().exists(), "setup never writes keys");
    let stdout = stdout_of(&out);
    for expected in [
        format!("created {} (mode 0600) with [profile target] and [profile target-tf]", config.display()).as_str(),
        "runs as profile `target`: target -> base",
        "base    no keys yet (see next)",
        "keys:      `rolegate add base` stores the access key of `base` (or `aws configure --profile base` writes it to the credentials file)",
        "region: us-west-2 (from profile `target`)",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("AKIAKEYSNOTSTOREDYET"), "the stand-in keys are never shown:\n{stdout}");

    // Again: nothing changes.
    let again = env.run_without_terminal(&role_flags(&["--region", "us-west-2"]));
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert!(stdout_of(&again).contains("is already set up"), "{}", stdout_of(&again));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), seed_role_sections(true, Some("us-west-2")));
    assert!(backups(&config).is_empty());

    // With the keys stored, the profile setup wrote works as written.
    env.write_credentials(&seed_credentials());
    env.set("AWS_ENDPOINT_URL", &sts.url());
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    assert_eq!(sts.count("GetSessionToken"), 1);
    assert_eq!(sts.calls().iter().filter(|c| c.action == "AssumeRole").count(), 1);
}

#[test]
fn setup_with_flags_appends_both_sections_and_keeps_every_byte() {
    let mut env = TestEnv::new();
    let before = "# my settings\r\n[profile base]\r\nregion = eu-west-1\r\n";
    env.write_config(before);
    env.write_credentials(&seed_credentials());
    let out = env.run_without_terminal(&role_flags(&[]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let expected = format!(
        "{before}\r\n{}",
        seed_role_sections(true, None).replace("us-west-2", "eu-west-1").replace('\n', "\r\n")
    );
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), expected);
    let stdout = stdout_of(&out);
    assert!(
        stdout
            .contains(&format!("added [profile target] and [profile target-tf] to {}:5", config_path(&env).display())),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("static keys: aws_access_key_id {BASE_KEY_ID}")), "{stdout}");
    assert!(!stdout.contains("rolegate add"), "the keys are there: {stdout}");
    let backup = backups(&config_path(&env));
    assert_eq!(backup.len(), 1);
    assert_eq!(std::fs::read_to_string(&backup[0]).unwrap(), before);
}

#[test]
fn an_existing_profile_with_the_same_settings_only_gets_its_tf_profile() {
    let env = seed_env();
    let out = env.run_without_terminal(&role_flags(&[]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), SEED_CONFIG);
}

#[test]
fn an_existing_profile_with_other_settings_is_refused_and_nothing_written() {
    let env = seed_env();
    let out = env.run_without_terminal(&[
        "setup",
        "target",
        "--source-profile",
        "base",
        "--role-arn",
        PLAIN_ROLE,
        "--mfa-serial",
        MFA_SERIAL,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "rolegate: error: {}:4: profile `target` already exists with other settings: role_arn = {ROLE_ARN} (not {PLAIN_ROLE})\n\
             rolegate: hint: give the new profile another name, or serve `target` as it is: `rolegate setup target`; rolegate never changes an existing section\n",
            config_path(&env).display()
        )
    );
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), seed_without_tf());
    assert!(backups(&config_path(&env)).is_empty());
}

#[test]
fn values_that_would_not_read_back_are_refused() {
    let env = seed_env();
    for (flag, value, why) in [
        ("--external-id", "a\n[profile evil]\ncredential_process = sh -c id", "control character"),
        ("--external-id", " padded", "starts or ends with a space"),
        ("--region", "", "empty"),
    ] {
        let args = [
            "setup",
            "target",
            "--source-profile",
            "base",
            "--role-arn",
            ROLE_ARN,
            "--mfa-serial",
            MFA_SERIAL,
            flag,
            value,
        ];
        let out = env.run_without_terminal(&args);
        assert_eq!(out.status.code(), Some(2), "{flag} {value:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains(why), "{}", stderr_of(&out));
    }
    let bad_arn = env.run_without_terminal(&[
        "setup",
        "new",
        "--source-profile",
        "base",
        "--role-arn",
        "arn:aws:iam::123456789012:user/x",
        "--mfa-serial",
        MFA_SERIAL,
    ]);
    assert_eq!(bad_arn.status.code(), Some(3), "{}", stderr_of(&bad_arn));
    assert!(stderr_of(&bad_arn).contains("role_arn"), "{}", stderr_of(&bad_arn));
    let incomplete = env.run_without_terminal(&["setup", "new", "--role-arn", ROLE_ARN]);
    assert_eq!(incomplete.status.code(), Some(2), "clap: the companions are required: {}", stderr_of(&incomplete));
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), seed_without_tf());
}

#[test]
fn setup_without_a_terminal_says_what_to_run_and_changes_nothing() {
    let env = TestEnv::new();
    let out = env.run_without_terminal(&["setup"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(
        stdout.starts_with("rolegate setup: there is no terminal to ask on, so nothing was changed. Run:\n"),
        "{stdout}"
    );
    assert!(stdout.contains("rolegate setup PROFILE --source-profile BASE --role-arn arn:aws:iam::ACCOUNT_ID:role/NAME --mfa-serial arn:aws:iam::ACCOUNT_ID:mfa/NAME"), "{stdout}");
    assert!(!config_path(&env).exists());

    let env = seed_env();
    let out = env.run_without_terminal(&["setup"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("  rolegate setup target    # serves `target` to Terraform as `target-tf`\n"),
        "{}",
        stdout_of(&out)
    );
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), seed_without_tf());
}

#[test]
fn the_wizard_sets_up_a_listed_profile() {
    let env = seed_env();
    let mut p = spawn_script(&env, "\"$ROLEGATE\" setup > out.txt; echo \"exit=$?\"");
    p.exp_string("Profiles that need an MFA code:").unwrap();
    p.exp_string(&format!("  1) target  {ROLE_ARN}  MFA {MFA_SERIAL}")).unwrap();
    p.exp_string("  2) a new role profile").unwrap();
    p.exp_string("Set up which one? [1]: ").unwrap();
    p.send_line("").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), SEED_CONFIG);
    let report = std::fs::read_to_string(env.path("out.txt")).unwrap();
    assert!(report.contains("added [profile target-tf]"), "{report}");
}

#[test]
fn the_wizard_on_an_empty_machine_asks_and_writes_both_profiles() {
    let env = TestEnv::new();
    let mut p = spawn_script(&env, "\"$ROLEGATE\" setup > out.txt; echo \"exit=$?\"");
    p.exp_string("Role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME): ").unwrap();
    p.send_line("arn:aws:iam::123456789012:user/oops").unwrap();
    p.exp_string("  that is not a role ARN").unwrap();
    p.exp_string("Role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME): ").unwrap();
    p.send_line(ROLE_ARN).unwrap();
    p.exp_string("No profile holds access keys yet").unwrap();
    p.exp_string("Name of the profile that will hold your access keys [default]: ").unwrap();
    p.send_line("base").unwrap();
    p.exp_string("MFA device ARN (arn:aws:iam::ACCOUNT_ID:mfa/NAME): ").unwrap();
    p.send_line(MFA_SERIAL).unwrap();
    p.exp_string("External ID (Enter for none): ").unwrap();
    p.send_line(EXTERNAL_ID).unwrap();
    p.exp_string("Name of the new profile [hc-master]: ").unwrap();
    p.send_line("target").unwrap();
    p.exp_string("Region [us-east-1]: ").unwrap();
    p.send_line("us-west-2").unwrap();
    p.exp_string("Store the access keys of `base` in the OS credential store now? (y/n) [y]: ").unwrap();
    p.send_line("n").unwrap();
    assert!(p.exp_eof().unwrap().contains("exit=0"));
    assert_eq!(std::fs::read_to_string(config_path(&env)).unwrap(), seed_role_sections(true, Some("us-west-2")));
    let report = std::fs::read_to_string(env.path("out.txt")).unwrap();
    assert!(report.contains("keys:      `rolegate add base` stores the access key of `base`"), "{report}");
}

#[test]
fn the_wizard_closed_midway_writes_nothing() {
    let env = TestEnv::new();
    let mut p = spawn_script(&env, "\"$ROLEGATE\" setup; echo \"exit=$?\"");
    p.exp_string("Role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME): ").unwrap();
    p.send_control('d').unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("the setup wizard was closed (end of input): nothing was written"), "{rest}");
    assert!(rest.contains("exit=2"), "{rest}");
    assert!(!config_path(&env).exists());
}

#[test]
fn the_wizard_offers_the_mfa_devices_iam_lists_for_the_keys() {
    let Some(moto) = Moto::start_or_skip("the_wizard_offers_the_mfa_devices_iam_lists_for_the_keys") else { return };
    let keys = moto.create_admin_key("deployer");
    let iam = |params: &[(&str, &str)]| {
        let mut all = params.to_vec();
        all.push(("Version", "2010-05-08"));
        let r = crate::common::strict_sts::sign_and_post_service(&moto.url(), &keys, "iam", "us-east-1", &all);
        assert_eq!(r.status, 200, "{params:?}: {}", r.body);
    };
    iam(&[("Action", "CreateVirtualMFADevice"), ("VirtualMFADeviceName", "deployer")]);
    let serial = "arn:aws:iam::123456789012:mfa/deployer";
    iam(&[
        ("Action", "EnableMFADevice"),
        ("UserName", "deployer"),
        ("SerialNumber", serial),
        ("AuthenticationCode1", "123456"),
        ("AuthenticationCode2", "654321"),
    ]);
    moto.enable_auth();
    let mut env = TestEnv::new();
    env.write_config("[profile me]\nregion = eu-west-1\n");
    env.write_credentials(&format!(
        "[me]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        keys.access_key_id, keys.secret_access_key
    ));
    env.set("AWS_ENDPOINT_URL", &moto.url());
    let mut p = spawn_script(&env, "\"$ROLEGATE\" setup > out.txt; echo \"exit=$?\"");
    p.exp_string("Role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME): ").unwrap();
    p.send_line("arn:aws:iam::123456789012:role/Deploy").unwrap();
    p.exp_string(&format!("  1) me  (keys {})", keys.access_key_id)).unwrap();
    p.exp_string("Which one? [1]: ").unwrap();
    p.send_line("1").unwrap();
    p.exp_string("MFA devices of arn:aws:iam::123456789012:user/deployer:").unwrap();
    p.exp_string(&format!("  1) {serial}")).unwrap();
    p.exp_string("Which one? [1]: ").unwrap();
    p.send_line("").unwrap();
    p.exp_string("External ID (Enter for none): ").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Name of the new profile [deploy]: ").unwrap();
    p.send_line("").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("exit=0"), "{rest}");
    assert!(!rest.contains("Region"), "the region comes from `me`: {rest}");
    assert_eq!(
        std::fs::read_to_string(config_path(&env)).unwrap(),
        format!(
            "[profile me]\nregion = eu-west-1\n\n[profile deploy]\nsource_profile = me\nrole_arn = arn:aws:iam::123456789012:role/Deploy\nmfa_serial = {serial}\n\n[profile deploy-tf]\ncredential_process = rolegate credential-process deploy\nregion = eu-west-1\n"
        )
    );
    assert!(!rest.contains(&keys.secret_access_key), "no secret on the terminal");
}
