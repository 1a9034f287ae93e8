//! Support for the Terraform end-to-end test: finding the tools, an S3 bucket in moto holding
//! remote states, a root module that uses only Terraform built-ins, a `rolegate` wrapper that
//! counts Terraform's `credential_process` calls, and a pty session with a longer bound.

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::session::{PtySession, spawn_command};

use super::env::{TestEnv, rolegate_bin};

/// A local mirror of the AWS provider (no downloads in tests).
pub const PROVIDER_MIRROR: &str = "/opt/tf-plugins";

/// init, plan, apply and `output -json > outputs.json`, as one `sh` list.
pub const TERRAFORM_STEPS: &str = "terraform init -input=false -no-color \
    && terraform plan -input=false -no-color \
    && terraform apply -input=false -auto-approve -no-color \
    && terraform output -no-color -json > outputs.json";

/// The bucket the backend and the remote states live in.
pub const BUCKET: &str = "rolegate-tfstate";
/// The remote states: (name, S3 key, the value of their `name` output).
pub const REMOTE_STATES: [(&str, &str, &str); 3] = [
    ("one", "remote/one.tfstate", "one"),
    ("two", "remote/two.tfstate", "two"),
    ("three", "remote/three.tfstate", "three"),
];

/// `name`'s path, if it is an executable file in a `PATH` directory.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `terraform version -json`'s version, e.g. `(1, 11, 4)`.
pub fn terraform_version(terraform: &Path) -> Result<(u32, u32, u32), String> {
    let out = Command::new(terraform)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map_err(|e| format!("running {} version: {e}", terraform.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("terraform version -json: {e}: {}", String::from_utf8_lossy(&out.stdout)))?;
    let text = json["terraform_version"].as_str().ok_or("no terraform_version")?;
    let mut parts = text.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
}

/// A Terraform state (format 4) with one string output `name`.
pub fn remote_state_json(lineage: &str, value: &str) -> String {
    serde_json::json!({
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": lineage,
        "outputs": { "name": { "value": value, "type": "string" } },
        "resources": [],
    })
    .to_string()
}

/// Creates [`BUCKET`] (in us-west-2) in moto and uploads the [`REMOTE_STATES`], with the `aws`
/// CLI and throw-away static keys (moto's auth is off). These keys are given to the setup
/// commands only, never to Terraform.
pub fn seed_bucket(env: &TestEnv, moto_url: &str) {
    let dir = env.path("remote-states");
    std::fs::create_dir_all(dir.join("remote")).expect("mkdir remote-states");
    for (i, (_, key, value)) in REMOTE_STATES.iter().enumerate() {
        let lineage = format!("00000000-0000-4000-8000-00000000000{i}");
        std::fs::write(dir.join(key), remote_state_json(&lineage, value)).expect("write a remote state");
    }
    let aws = |args: &[&str]| {
        let mut all = vec!["--endpoint-url", moto_url, "--region", "us-west-2"];
        all.extend_from_slice(args);
        let out = env
            .command("aws", &all)
            .env("AWS_ACCESS_KEY_ID", "AKIAMOTOSETUPONLY000")
            .env("AWS_SECRET_ACCESS_KEY", "moto-setup-only")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run aws");
        assert!(
            out.status.success(),
            "aws {all:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    aws(&[
        "s3api",
        "create-bucket",
        "--bucket",
        BUCKET,
        "--create-bucket-configuration",
        "LocationConstraint=us-west-2",
    ]);
    let source = dir.join("remote");
    let target = format!("s3://{BUCKET}/remote/");
    aws(&["s3", "cp", "--recursive", source.to_str().expect("utf-8 path"), &target]);
}

/// The settings the s3 backend and every `terraform_remote_state` share: S3 on moto, STS on the
/// strict stand-in, credentials validated (GetCallerIdentity), not skipped. With `Some(p)`,
/// credentials only from profile `p` (for [`root_module`]: `target-tf`, whose
/// `credential_process` is rolegate); with `None`, no `profile` line at all (credentials then come
/// from the environment: fixed keys, the container endpoint, `AWS_PROFILE`).
fn s3_settings_with_profile(moto_url: &str, sts_url: &str, indent: &str, profile: Option<&str>) -> String {
    [
        Some(format!("bucket                     = \"{BUCKET}\"")),
        Some("region                     = \"us-west-2\"".to_owned()),
        profile.map(|p| format!("profile                    = \"{p}\"")),
        Some("use_path_style             = true".to_owned()),
        Some("skip_region_validation     = true".to_owned()),
        Some("skip_requesting_account_id = true".to_owned()),
        Some("skip_metadata_api_check    = true".to_owned()),
        Some(format!("endpoints = {{\n{indent}  s3  = \"{moto_url}\"\n{indent}  sts = \"{sts_url}\"\n{indent}}}")),
    ]
    .iter()
    .flatten()
    .map(|line| format!("{indent}{line}\n"))
    .collect()
}

/// A root module: an s3 backend, one `terraform_remote_state` per [`REMOTE_STATES`], a
/// `terraform_data` resource combining them (so `apply` writes state), and outputs. Built-ins
/// only: no provider to download.
pub fn root_module(moto_url: &str, sts_url: &str) -> String {
    root_module_with_profile(moto_url, sts_url, Some("target-tf"))
}

/// [`root_module`] whose backend and remote states say `profile = "PROFILE"`, or (with `None`)
/// name no profile at all.
pub fn root_module_with_profile(moto_url: &str, sts_url: &str, profile: Option<&str>) -> String {
    let mut tf = format!(
        "terraform {{\n  backend \"s3\" {{\n    key                        = \"main/terraform.tfstate\"\n{}  }}\n}}\n",
        s3_settings_with_profile(moto_url, sts_url, "    ", profile)
    );
    for (name, key, _) in REMOTE_STATES {
        tf.push_str(&format!(
            "\ndata \"terraform_remote_state\" \"{name}\" {{\n  backend = \"s3\"\n  config = {{\n    key                        = \"{key}\"\n{}  }}\n}}\n",
            s3_settings_with_profile(moto_url, sts_url, "    ", profile)
        ));
        tf.push_str(&format!(
            "\noutput \"{name}\" {{\n  value = data.terraform_remote_state.{name}.outputs.name\n}}\n"
        ));
    }
    let names: Vec<String> =
        REMOTE_STATES.iter().map(|(name, _, _)| format!("data.terraform_remote_state.{name}.outputs.name")).collect();
    tf.push_str(&format!(
        "\nresource \"terraform_data\" \"combined\" {{\n  input = join(\",\", [{}])\n}}\n\noutput \"combined\" {{\n  value = terraform_data.combined.output\n}}\n",
        names.join(", ")
    ));
    tf
}

/// Whether [`PROVIDER_MIRROR`] holds hashicorp/aws.
pub fn has_provider_mirror() -> bool {
    Path::new(PROVIDER_MIRROR).join("registry.terraform.io/hashicorp/aws").is_dir()
}

/// Writes a Terraform CLI config that installs hashicorp/aws from [`PROVIDER_MIRROR`].
pub fn write_mirror_config(path: &Path) {
    let text = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{PROVIDER_MIRROR}\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n}}\n"
    );
    std::fs::write(path, text).expect("write the Terraform CLI config");
}

/// A root module with `provider "aws" { SETTINGS }` and the provider's identity as output `arn`.
pub fn aws_provider_module(settings: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}

provider "aws" {{
{settings}}}

data "aws_caller_identity" "me" {{}}

output "arn" {{
  value = data.aws_caller_identity.me.arn
}}
"#
    )
}

/// Runs `steps` on a pseudo-terminal, types `code` at the one MFA prompt, and returns the whole
/// transcript, which ends in `tf-exit=STATUS`. A failure message adds `context()` (for example
/// the rolegate calls so far).
pub fn run_with_one_prompt(env: &TestEnv, steps: &str, code: &str, context: &dyn Fn() -> String) -> String {
    let prompt = format!("Enter MFA code for {}: ", super::env::MFA_SERIAL);
    let script = format!("{steps}; echo \"tf-exit=$?\"");
    let mut p = spawn_script_with_timeout(env, &script, TERRAFORM_TIMEOUT_MS);
    let before = p.exp_string(&prompt).unwrap_or_else(|e| panic!("no MFA prompt: {e}\n{}", context()));
    p.send_line(code).expect("type the code");
    let after = p.exp_regex("tf-exit=[0-9]+").unwrap_or_else(|e| {
        panic!("Terraform did not finish: {e}\ntranscript so far:\n{before}{prompt}\n{}", context())
    });
    let rest = p.exp_eof().unwrap_or_default();
    format!("{before}{prompt}{}{}{rest}", after.0, after.1)
}

/// A bound on one expectation (a whole init/plan/apply), not a wait.
pub const TERRAFORM_TIMEOUT_MS: u64 = 300_000;

/// Puts a `rolegate` shell wrapper first on `PATH`: each call appends its caller's command line
/// to a per-call log file, then `exec`s the real binary (same pid, terminal and stdout) with
/// `ROLEGATE_LOG=debug` (unless set) and stderr in that file. Returns the log directory (`rolegate.PID.log`).
pub fn install_counting_wrapper(env: &mut TestEnv) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path("wrapper-bin");
    let logs = env.path("rolegate-logs");
    std::fs::create_dir_all(&bin).expect("mkdir wrapper-bin");
    std::fs::create_dir_all(&logs).expect("mkdir rolegate-logs");
    let wrapper = bin.join("rolegate");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\n\
         log=\"$ROLEGATE_TEST_LOG_DIR/rolegate.$$.log\"\n\
         p=$PPID\n\
         caller=$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null)\n\
         case \"$caller\" in sh\\ -c*|/bin/sh\\ -c*)\n\
           p=$(cut -d' ' -f4 /proc/$p/stat); caller=$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null) ;;\n\
         esac\n\
         printf 'caller: %s\\nargs: %s\\n' \"$caller\" \"$*\" > \"$log\"\n\
         ROLEGATE_LOG=${ROLEGATE_LOG:-debug} exec \"$ROLEGATE\" \"$@\" 2>>\"$log\"\n",
    )
    .expect("write the wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod the wrapper");
    let path = env.envs().into_iter().find(|(k, _)| k == "PATH").map(|(_, v)| v).unwrap_or_default();
    env.set("PATH", &format!("{}:{path}", bin.display()));
    env.set("ROLEGATE", rolegate_bin().to_str().expect("utf-8 path"));
    env.set("ROLEGATE_TEST_LOG_DIR", logs.to_str().expect("utf-8 path"));
    logs
}

/// One wrapped rolegate call: who called it and what it logged.
#[derive(Debug)]
pub struct Invocation {
    pub pid: u32,
    /// The caller's command line (e.g. `terraform plan -input=false`).
    pub caller: String,
    /// The whole log: `caller:`, `args:`, then rolegate's stderr (debug tracing).
    pub log: String,
}

/// The calls logged by the wrapper, in pid order.
pub fn invocations(logs: &Path) -> Vec<Invocation> {
    let mut out: Vec<Invocation> = std::fs::read_dir(logs)
        .expect("read the log dir")
        .map(|e| e.expect("a log dir entry").path())
        .filter_map(|p| {
            let pid = p.file_name()?.to_str()?.strip_prefix("rolegate.")?.strip_suffix(".log")?.parse().ok()?;
            let log = std::fs::read_to_string(&p).ok()?;
            let caller = log.lines().next()?.strip_prefix("caller: ")?.trim().to_owned();
            Some(Invocation { pid, caller, log })
        })
        .collect();
    out.sort_by_key(|i| i.pid);
    out
}

/// Like [`super::pty::spawn_script`], with a longer bound per expectation (Terraform is slow
/// to start, and a whole init/plan/apply runs between two expectations).
pub fn spawn_script_with_timeout(env: &TestEnv, script: &str, timeout_ms: u64) -> PtySession {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).env_clear().envs(env.envs()).current_dir(env.dir.path());
    spawn_command(cmd, Some(timeout_ms)).expect("spawn on a pty")
}
