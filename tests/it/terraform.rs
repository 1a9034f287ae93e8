//! Real Terraform (s3 backend + `terraform_remote_state`, S3 on moto, STS on the strict
//! stand-in) using the seed's profile through `credential_process = rolegate ...`: one MFA
//! prompt on the terminal for init, plan, apply and output together, then the AWS CLI re-uses
//! the session without a terminal.

use std::time::Instant;

use crate::common::env::*;
use crate::common::moto::Moto;
use crate::common::pty::count;
use crate::common::skip::skip;
use crate::common::terraform::*;

const TEST: &str = "terraform_with_an_s3_backend_and_remote_states_prompts_once";

#[test]
#[allow(clippy::print_stderr)]
fn terraform_with_an_s3_backend_and_remote_states_prompts_once() {
    let Some(terraform) = find_on_path("terraform") else {
        skip(TEST, "terraform", "terraform not found on PATH");
        return;
    };
    match terraform_version(&terraform) {
        Ok(v) if v >= (1, 6, 0) => {}
        Ok(v) => {
            skip(TEST, "terraform", &format!("terraform {v:?} at {} is older than 1.6", terraform.display()));
            return;
        }
        Err(e) => {
            skip(TEST, "terraform", &format!("terraform at {} does not run: {e}", terraform.display()));
            return;
        }
    }
    if find_on_path("aws").is_none() {
        skip(TEST, "aws", "aws CLI not found on PATH");
        return;
    }
    let Some(moto) = Moto::start_or_skip(TEST) else { return };
    let started = Instant::now();

    let sts = seed_sts();
    // The seed's files; the only AWS setting in the environment is rolegate's STS endpoint.
    let mut env = TestEnv::new();
    env.write_config(SEED_CONFIG);
    env.write_credentials(&seed_credentials());
    env.set("AWS_ENDPOINT_URL_STS", &sts.url());
    seed_bucket(&env, &moto.url());

    std::fs::write(env.path("main.tf"), root_module(&moto.url(), &sts.url())).unwrap();
    std::fs::write(env.path("empty.tfrc"), "").unwrap();
    env.set("TF_CLI_CONFIG_FILE", env.path("empty.tfrc").to_str().unwrap());
    env.set("TF_IN_AUTOMATION", "1");
    env.set("CHECKPOINT_DISABLE", "1");
    let logs = install_counting_wrapper(&mut env);
    for (name, _) in env.envs() {
        assert!(
            !["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]
                .contains(&name.as_str()),
            "Terraform must get credentials only through target-tf, not {name}"
        );
    }

    let transcript =
        run_with_one_prompt(&env, TERRAFORM_STEPS, "123456", &|| format!("rolegate calls: {:#?}", invocations(&logs)));
    let calls = invocations(&logs);
    let elapsed_terraform = started.elapsed();

    assert!(transcript.contains("tf-exit=0"), "Terraform failed:\n{transcript}\nrolegate calls: {calls:#?}");
    assert_eq!(count(&transcript, "Enter MFA code"), 1, "one prompt in all:\n{transcript}");
    for phase in ["Terraform has been successfully initialized", "Plan: 1 to add", "Apply complete!"] {
        assert!(transcript.contains(phase), "no {phase:?} in:\n{transcript}");
    }
    assert!(!transcript.contains("rolegate:"), "rolegate wrote on the terminal besides the prompt:\n{transcript}");

    let outputs: serde_json::Value = serde_json::from_slice(&std::fs::read(env.path("outputs.json")).unwrap())
        .unwrap_or_else(|e| panic!("outputs.json: {e}\n{transcript}"));
    for (name, _, value) in REMOTE_STATES {
        assert_eq!(outputs[name]["value"], value, "output {name}: {outputs}");
    }
    assert_eq!(outputs["combined"]["value"], "one,two,three", "{outputs}");

    // STS: one MFA session, one role; Terraform's credential checks signed with the role's keys.
    let sts_calls = sts.calls();
    assert_eq!(sts.count("GetSessionToken"), 1, "{sts_calls:#?}");
    assert_eq!(sts.count("AssumeRole"), 1, "{sts_calls:#?}");
    let gst = sts_calls.iter().find(|c| c.action == "GetSessionToken").unwrap();
    assert_eq!((gst.serial_number.as_deref(), gst.token_code.as_deref()), (Some(MFA_SERIAL), Some("123456")));
    assert_eq!(gst.access_key_id, BASE_KEY_ID);
    let ar = sts_calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(ar.role_arn.as_deref(), Some(ROLE_ARN));
    assert_eq!(ar.external_id.as_deref(), Some(EXTERNAL_ID));
    assert!(ar.access_key_id.starts_with("ASIA"), "AssumeRole is signed with the MFA session: {ar:?}");
    let identity_checks: Vec<_> = sts_calls.iter().filter(|c| c.action == "GetCallerIdentity").collect();
    for c in &identity_checks {
        assert_eq!(c.status, 200, "{c:?}");
        assert!(c.access_key_id.starts_with("ASIA") && c.access_key_id != ar.access_key_id, "role keys: {c:?}");
    }
    let role_keys: std::collections::BTreeSet<_> = identity_checks.iter().map(|c| &c.access_key_id).collect();
    assert!(role_keys.len() <= 1, "every Terraform call got the same role credentials: {role_keys:?}");
    let other: Vec<_> = sts_calls
        .iter()
        .filter(|c| !["GetSessionToken", "AssumeRole", "GetCallerIdentity"].contains(&c.action.as_str()))
        .collect();
    assert!(other.is_empty(), "unexpected STS calls: {other:#?}");

    // Every call Terraform made to rolegate succeeded quietly (debug tracing aside).
    for call in &calls {
        assert!(call.caller.contains("terraform"), "a rolegate call not from Terraform: {call:#?}");
        assert!(!call.log.contains("rolegate: warning") && !call.log.contains("rolegate: error"), "{call:#?}");
    }
    let per_phase = |phase: &str| calls.iter().filter(|c| c.caller.split_whitespace().nth(1) == Some(phase)).count();
    let phases = ["init", "plan", "apply", "output"].map(|phase| (phase, per_phase(phase)));
    let cache_hits = calls.iter().filter(|c| c.log.contains("cache hit")).count();
    let lock_waits = calls.iter().filter(|c| c.log.contains("waiting for the lock")).count();
    eprintln!(
        "terraform e2e: ran init/plan/apply/output in {elapsed_terraform:.1?}; Terraform ran rolegate {} times {phases:?} \
         ({cache_hits} cache hits, {lock_waits} lock waits); STS saw {} GetSessionToken, {} AssumeRole, {} GetCallerIdentity",
        calls.len(),
        sts.count("GetSessionToken"),
        sts.count("AssumeRole"),
        identity_checks.len()
    );
    assert!(phases.iter().all(|(_, n)| *n >= 1), "each phase ran rolegate: {phases:?}\n{calls:#?}");

    // The AWS CLI, without a terminal: the same role session, no prompt, no new STS session.
    let out = env
        .command("setsid", &["-w", "aws", "sts", "get-caller-identity", "--profile", "target-tf", "--output", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aws sts get-caller-identity: {stdout}{stderr}\n{:#?}", invocations(&logs));
    let identity: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let arn = identity["Arn"].as_str().unwrap_or_default();
    assert!(arn.starts_with("arn:aws:sts::123456789012:assumed-role/hc-master/"), "{identity}");
    assert_eq!(identity["Account"], ACCOUNT, "{identity}");
    assert!(!stderr.contains("Enter MFA code"), "{stderr}");
    assert_eq!(sts.count("GetSessionToken"), 1, "{:#?}", sts.calls());
    assert_eq!(sts.count("AssumeRole"), 1, "{:#?}", sts.calls());
    let aws_calls = invocations(&logs).len() - calls.len();
    assert_eq!(aws_calls, 1, "the AWS CLI ran rolegate once: {:#?}", invocations(&logs));
    eprintln!(
        "terraform e2e: aws sts get-caller-identity (no terminal) got {arn} from the cache; total {:.1?}",
        started.elapsed()
    );
}
