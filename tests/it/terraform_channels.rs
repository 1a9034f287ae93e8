//! Real Terraform through each of rolegate's channels, one pty and one MFA prompt each:
//! `rolegate exec` (fixed keys in the environment), `exec` with the MFA profile hard-coded in the
//! Terraform config (served by the generated config), `argv[0]` shims (a separate rolegate per
//! command, the cache between them), `exec --server` (the container-credentials endpoint), and
//! the AWS provider with the seed's `provider "aws" { profile = "target" }` block.
//!
//! Every channel runs `terraform init`, `plan`, `apply` and `output`, then
//! `aws sts get-caller-identity` in the same channel, and must come out as the assumed role with
//! one GetSessionToken in all. S3 is moto, STS the strict stand-in; everything on 127.0.0.1.

use std::time::{Duration, Instant};

use crate::common::env::*;
use crate::common::moto::Moto;
use crate::common::pty::count;
use crate::common::strict_sts::StrictSts;
use crate::common::terraform::*;

/// The code typed at the single prompt.
const CODE: &str = "123456";
/// What `aws sts get-caller-identity` says inside every channel.
const ROLE_SESSION_ARN_PREFIX: &str = "arn:aws:sts::123456789012:assumed-role/hc-master/";
/// The seed's error: the Go SDK meets `mfa_serial` without a token provider.
const SEED_ERROR: &str = "assume role with MFA enabled, but AssumeRoleTokenProvider session option not set";
/// Who the channel's credentials are, from the AWS CLI (botocore, not the Go SDK).
const WHOAMI: &str = "aws sts get-caller-identity --output text --query Arn";

/// The seed's config exactly (`base` with keys, the MFA profile `target`), without the test
/// suite's extra `target-tf` profile: these channels must work with the user's file as it is.
fn seed_config() -> &'static str {
    let config = SEED_CONFIG.split("[profile target-tf]").next().unwrap_or_default();
    assert!(config.contains("[profile target]\n") && config.contains("mfa_serial"), "{config}");
    config
}

/// `Err(reason)` unless terraform (1.6 or newer) and the AWS CLI are on `PATH`.
fn tools() -> Result<(), String> {
    let terraform = find_on_path("terraform").ok_or("terraform not found on PATH")?;
    match terraform_version(&terraform) {
        Ok(v) if v >= (1, 6, 0) => {}
        Ok(v) => return Err(format!("terraform {v:?} at {} is older than 1.6", terraform.display())),
        Err(e) => return Err(format!("terraform at {} does not run: {e}", terraform.display())),
    }
    find_on_path("aws").ok_or("aws CLI not found on PATH")?;
    Ok(())
}

/// A visible skip; the missing tool is named in the reason.
fn skip(test: &str, reason: &str) {
    let tool = ["terraform", "aws", "moto", "mirror"].into_iter().find(|t| reason.contains(t)).unwrap_or("terraform");
    let tool = if tool == "mirror" { "tf-plugins" } else { tool };
    crate::common::skip::skip(test, tool, reason);
}

/// A channel's world: the seed's files, the strict STS, and the Terraform settings every test
/// shares. The only AWS setting in the environment is rolegate's STS endpoint.
struct Fixture {
    env: TestEnv,
    sts: StrictSts,
    /// Kept alive for the test (S3 for the backend and the remote states).
    moto: Option<Moto>,
    started: Instant,
}

impl Fixture {
    /// The tools, or `None` after a `SKIP:` line; moto only when `with_moto`.
    fn new(test: &str, with_moto: bool) -> Option<Fixture> {
        if let Err(reason) = tools() {
            skip(test, &reason);
            return None;
        }
        let moto = if with_moto {
            match Moto::start() {
                Ok(moto) => Some(moto),
                Err(reason) => {
                    skip(test, &reason);
                    return None;
                }
            }
        } else {
            None
        };
        let sts = seed_sts();
        let mut env = TestEnv::new();
        env.write_config(seed_config());
        env.write_credentials(&seed_credentials());
        env.set("AWS_ENDPOINT_URL_STS", &sts.url());
        std::fs::write(env.path("empty.tfrc"), "").unwrap();
        env.set("TF_CLI_CONFIG_FILE", env.path("empty.tfrc").to_str().unwrap());
        env.set("TF_IN_AUTOMATION", "1");
        env.set("CHECKPOINT_DISABLE", "1");
        Some(Fixture { env, sts, moto, started: Instant::now() })
    }

    /// [`Fixture::new`] with moto, the remote states uploaded, and [`root_module_with_profile`]
    /// as `main.tf`.
    fn s3(test: &str, profile: Option<&str>) -> Option<Fixture> {
        let fx = Fixture::new(test, true)?;
        let moto_url = fx.moto.as_ref().expect("moto").url();
        seed_bucket(&fx.env, &moto_url);
        std::fs::write(fx.env.path("main.tf"), root_module_with_profile(&moto_url, &fx.sts.url(), profile)).unwrap();
        Some(fx)
    }

    /// Neither a profile nor fixed keys in the environment: only the channel provides credentials.
    fn assert_no_credentials_in_env(&self) {
        for (name, value) in self.env.envs() {
            assert!(
                ![
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                    "AWS_PROFILE",
                    "AWS_DEFAULT_PROFILE"
                ]
                .contains(&name.as_str())
                    && !name.starts_with("AWS_CONTAINER_"),
                "the test environment must not provide credentials: {name}={value}"
            );
        }
    }

    /// Runs `script` plainly (no rolegate), with stdin closed and no controlling terminal;
    /// returns (success, stdout + stderr).
    fn run_plain(&self, script: &str) -> (bool, String) {
        let out = self.env.command("setsid", &["-w", "sh", "-c", script]).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }
}

/// What one pty session printed.
struct Run {
    transcript: String,
    elapsed: Duration,
}

impl Run {
    /// The `aws sts get-caller-identity` answer: the transcript's line that is an STS ARN.
    fn arn(&self) -> &str {
        self.transcript
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("arn:aws:sts::"))
            .unwrap_or_else(|| panic!("no ARN from aws sts get-caller-identity in:\n{}", self.transcript))
    }
}

/// Runs `sh -c 'SCRIPT; echo "tf-exit=$?"'` on a new pty, types [`CODE`] at the first
/// `Enter MFA code for` prompt, and collects everything until the end.
fn run_on_pty(env: &TestEnv, script: &str) -> Run {
    let started = Instant::now();
    let prompt = format!("Enter MFA code for {MFA_SERIAL}: ");
    let mut p = spawn_script_with_timeout(env, &format!("{script}; echo \"tf-exit=$?\""), TERRAFORM_TIMEOUT_MS);
    let before = p.exp_string(&prompt).unwrap_or_else(|e| panic!("no MFA prompt: {e}\nscript: {script}"));
    p.send_line(CODE).unwrap();
    let (middle, exit) = p.exp_regex("tf-exit=[0-9]+").unwrap_or_else(|e| {
        panic!("the script did not finish: {e}\nscript: {script}\ntranscript so far:\n{before}{prompt}")
    });
    let rest = p.exp_eof().unwrap_or_default();
    let transcript = format!("{before}{prompt}{middle}{exit}{rest}");
    assert_eq!(exit, "tf-exit=0", "the script failed: {script}\n{transcript}");
    Run { transcript, elapsed: started.elapsed() }
}

/// What every channel must show: one prompt, nothing from rolegate besides it, the assumed
/// role in the AWS CLI.
fn check_transcript(run: &Run) {
    let t = &run.transcript;
    assert_eq!(count(t, "Enter MFA code for"), 1, "exactly one prompt in all:\n{t}");
    assert!(!t.contains("rolegate:"), "rolegate wrote on the terminal besides the prompt:\n{t}");
    assert!(!t.contains(SEED_ERROR), "{t}");
    assert!(run.arn().starts_with(ROLE_SESSION_ARN_PREFIX), "not the assumed role: {}\n{t}", run.arn());
}

/// The s3 backend's phases, and the remote states' values in `outputs.json`.
fn check_s3_terraform(env: &TestEnv, run: &Run) {
    let t = &run.transcript;
    for phase in ["Terraform has been successfully initialized", "Plan: 1 to add", "Apply complete!"] {
        assert!(t.contains(phase), "no {phase:?} in:\n{t}");
    }
    let outputs: serde_json::Value = serde_json::from_slice(&std::fs::read(env.path("outputs.json")).unwrap())
        .unwrap_or_else(|e| panic!("outputs.json: {e}\n{t}"));
    for (name, _, value) in REMOTE_STATES {
        assert_eq!(outputs[name]["value"], value, "output {name}: {outputs}");
    }
    assert_eq!(outputs["combined"]["value"], "one,two,three", "{outputs}");
}

/// STS saw one MFA session (with the typed code, from the base keys), the role assumed from it
/// (once, or more when `renewals_allowed`), and only identity checks signed with role keys.
/// Returns (AssumeRole, GetCallerIdentity) counts.
fn check_sts(sts: &StrictSts, renewals_allowed: bool) -> (usize, usize) {
    let calls = sts.calls();
    assert!(calls.iter().all(|c| c.status == 200), "every STS call succeeded: {calls:#?}");
    assert_eq!(sts.count("GetSessionToken"), 1, "one MFA session: {calls:#?}");
    let gst = calls.iter().find(|c| c.action == "GetSessionToken").unwrap();
    assert_eq!((gst.serial_number.as_deref(), gst.token_code.as_deref()), (Some(MFA_SERIAL), Some(CODE)));
    assert_eq!(gst.access_key_id, BASE_KEY_ID);
    let assumes: Vec<_> = calls.iter().filter(|c| c.action == "AssumeRole").collect();
    if renewals_allowed {
        assert!(!assumes.is_empty(), "{calls:#?}");
    } else {
        assert_eq!(assumes.len(), 1, "one role session: {calls:#?}");
    }
    for ar in &assumes {
        assert_eq!(ar.role_arn.as_deref(), Some(ROLE_ARN), "{ar:?}");
        assert_eq!(ar.external_id.as_deref(), Some(EXTERNAL_ID), "{ar:?}");
        assert!(ar.access_key_id.starts_with("ASIA"), "AssumeRole is signed with the MFA session: {ar:?}");
    }
    let session_keys: Vec<&str> = assumes.iter().map(|c| c.access_key_id.as_str()).collect();
    let identity_checks: Vec<_> = calls.iter().filter(|c| c.action == "GetCallerIdentity").collect();
    assert!(!identity_checks.is_empty(), "Terraform and the AWS CLI checked their credentials: {calls:#?}");
    for c in &identity_checks {
        assert!(
            c.access_key_id.starts_with("ASIA") && !session_keys.contains(&c.access_key_id.as_str()),
            "signed with role keys, not the MFA session or the base keys: {c:?}"
        );
    }
    let other: Vec<_> = calls
        .iter()
        .filter(|c| !["GetSessionToken", "AssumeRole", "GetCallerIdentity"].contains(&c.action.as_str()))
        .collect();
    assert!(other.is_empty(), "unexpected STS calls: {other:#?}");
    (assumes.len(), identity_checks.len())
}

/// The s3 channels' common end: transcript, outputs, STS; one summary line on stderr.
#[allow(clippy::print_stderr)]
fn check_s3_channel(fx: &Fixture, run: &Run, channel: &str, renewals_allowed: bool) {
    check_transcript(run);
    check_s3_terraform(&fx.env, run);
    let (assume_roles, identity_checks) = check_sts(&fx.sts, renewals_allowed);
    eprintln!(
        "terraform channels: {channel}: init/plan/apply/output + aws sts get-caller-identity on one pty in {:.1?} \
         (test total {:.1?}); 1 prompt; STS saw 1 GetSessionToken, {assume_roles} AssumeRole, {identity_checks} \
         GetCallerIdentity; the AWS CLI was {}",
        run.elapsed,
        fx.started.elapsed(),
        run.arn()
    );
}

#[test]
fn exec_with_no_profile_in_the_terraform_config() {
    let test = "exec_with_no_profile_in_the_terraform_config";
    let Some(fx) = Fixture::s3(test, None) else { return };
    fx.assert_no_credentials_in_env();
    let script = format!("rolegate exec target -- sh -c '{TERRAFORM_STEPS} && {WHOAMI}'");
    let run = run_on_pty(&fx.env, &script);
    check_s3_channel(&fx, &run, "exec (fixed keys in the environment, no profile in the config)", false);
}

#[test]
fn exec_with_the_profile_hard_coded_like_the_seed() {
    let test = "exec_with_the_profile_hard_coded_like_the_seed";
    let Some(fx) = Fixture::s3(test, Some("target")) else { return };
    fx.assert_no_credentials_in_env();
    assert!(
        std::fs::read_to_string(fx.env.path("main.tf")).unwrap().contains("profile                    = \"target\"")
    );

    // Without rolegate: the seed's failure, before any request.
    let (ok, text) = fx.run_plain("terraform init -input=false -no-color");
    assert!(!ok && text.contains(SEED_ERROR), "plain terraform init must fail like the seed:\n{text}");
    assert!(fx.sts.calls().is_empty(), "{:#?}", fx.sts.calls());

    // Through rolegate: the generated config serves the hard-coded profile.
    let script = format!("rolegate exec target -- sh -c '{TERRAFORM_STEPS} && {WHOAMI}'");
    let run = run_on_pty(&fx.env, &script);
    check_s3_channel(
        &fx,
        &run,
        "exec with profile = \"target\" hard-coded (plain init failed with the seed error)",
        false,
    );
}

#[test]
fn terraform_shim() {
    let test = "terraform_shim";
    let Some(mut fx) = Fixture::s3(test, None) else { return };
    fx.assert_no_credentials_in_env();
    let shims = fx.env.path("shims");
    let out =
        fx.env.rolegate(&["shim", "install", "--dir", shims.to_str().unwrap(), "terraform", "aws"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let path = fx.env.envs().into_iter().find(|(k, _)| k == "PATH").map(|(_, v)| v).unwrap_or_default();
    fx.env.set("PATH", &format!("{}:{path}", shims.display()));
    for tool in ["terraform", "aws"] {
        let found = fx.env.command("sh", &["-c", &format!("command -v {tool}")]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), shims.join(tool).display().to_string());
    }
    fx.env.set("AWS_PROFILE", "target");

    // Five separate rolegate processes (four terraform, one aws): the first prompts.
    let run = run_on_pty(&fx.env, &format!("{TERRAFORM_STEPS} && {WHOAMI}"));
    check_s3_channel(&fx, &run, "shims (terraform x4 + aws, each its own rolegate exec)", false);
}

#[test]
fn server_channel() {
    let test = "server_channel";
    let Some(fx) = Fixture::s3(test, None) else { return };
    fx.assert_no_credentials_in_env();
    let script = format!(
        "rolegate exec --server target -- sh -c 'test -n \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" \
         && test -z \"$AWS_ACCESS_KEY_ID\" && {TERRAFORM_STEPS} && {WHOAMI}'"
    );
    let run = run_on_pty(&fx.env, &script);
    check_s3_channel(&fx, &run, "exec --server (container endpoint, no fixed keys)", true);
}

/// The seed's provider block, with STS on the stand-in.
fn provider_module(sts_url: &str) -> String {
    aws_provider_module(&format!(
        "  profile                    = \"target\"\n  region                     = \"us-west-2\"\n  skip_metadata_api_check    = true\n  skip_region_validation     = true\n  skip_requesting_account_id = true\n  endpoints {{\n    sts = \"{sts_url}\"\n  }}\n"
    ))
}

#[test]
#[allow(clippy::print_stderr)]
fn seed_provider_block_with_hard_coded_profile() {
    let test = "seed_provider_block_with_hard_coded_profile";
    if !has_provider_mirror() {
        return skip(test, "no local mirror of hashicorp/aws at /opt/tf-plugins (no downloads in tests)");
    }
    let Some(mut fx) = Fixture::new(test, false) else { return };
    fx.assert_no_credentials_in_env();
    write_mirror_config(&fx.env.path("mirror.tfrc"));
    fx.env.set("TF_CLI_CONFIG_FILE", fx.env.path("mirror.tfrc").to_str().unwrap());
    std::fs::write(fx.env.path("main.tf"), provider_module(&fx.sts.url())).unwrap();

    // Without rolegate: init needs no credentials, plan fails like the seed, before any request.
    let (ok, text) = fx.run_plain("terraform init -input=false -no-color");
    assert!(ok, "plain terraform init (local backend, provider from the mirror):\n{text}");
    let (ok, text) = fx.run_plain("terraform plan -input=false -no-color");
    assert!(!ok && text.contains(SEED_ERROR), "plain terraform plan must fail like the seed:\n{text}");
    assert!(fx.sts.calls().is_empty(), "{:#?}", fx.sts.calls());

    let run = run_on_pty(&fx.env, &format!("rolegate exec target -- sh -c '{TERRAFORM_STEPS} && {WHOAMI}'"));
    check_transcript(&run);
    let t = &run.transcript;
    assert!(t.contains("Apply complete!"), "{t}");
    let outputs: serde_json::Value = serde_json::from_slice(&std::fs::read(fx.env.path("outputs.json")).unwrap())
        .unwrap_or_else(|e| panic!("outputs.json: {e}\n{t}"));
    let arn = outputs["arn"]["value"].as_str().unwrap_or_else(|| panic!("no arn output: {outputs}"));
    assert!(arn.starts_with(ROLE_SESSION_ARN_PREFIX), "the provider is the assumed role: {arn}");
    assert_eq!(arn, run.arn(), "the provider and the AWS CLI share one role session");
    let (assume_roles, identity_checks) = check_sts(&fx.sts, false);
    eprintln!(
        "terraform channels: exec with the seed's provider \"aws\" {{ profile = \"target\" }} (mirror {PROVIDER_MIRROR}; \
         plain plan failed with the seed error): init/plan/apply/output + aws sts get-caller-identity on one pty in \
         {:.1?} (test total {:.1?}); 1 prompt; STS saw 1 GetSessionToken, {assume_roles} AssumeRole, \
         {identity_checks} GetCallerIdentity; data.aws_caller_identity = {arn}",
        run.elapsed,
        fx.started.elapsed()
    );
}
