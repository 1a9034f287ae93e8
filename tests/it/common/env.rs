//! `TestEnv`: a temporary HOME with `~/.aws/{config,credentials}`, a private cache directory,
//! and commands for the real `rolegate` binary with a clean environment.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use super::audit::{self, Audit};
use super::strict_sts::{RoleSpec, StrictSts};

/// The seed's account, user, device and role (the shape of the original Terraform report).
pub const ACCOUNT: &str = "123456789012";
pub const USER_ARN: &str = "arn:aws:iam::123456789012:user/username";
pub const MFA_SERIAL: &str = "arn:aws:iam::123456789012:mfa/username";
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/hc/hc-master";
pub const EXTERNAL_ID: &str = "123456789069";
/// A role without conditions ([`TestEnv::seed_with_plain`]), for calls that carry no MFA code.
pub const PLAIN_ROLE: &str = "arn:aws:iam::123456789012:role/plain";
/// Recognisable fake long-term keys: a test fails if they show up where they must not.
pub const BASE_KEY_ID: &str = "AKIAROLEGATETESTBASE";
pub const BASE_SECRET: &str = "SECRETbaseKEYrolegateTEST0000000000000000";

/// The seed's configuration, with the STS endpoint left to the environment.
pub const SEED_CONFIG: &str = "[profile base]
region = us-west-2

[profile target]
source_profile = base
role_arn = arn:aws:iam::123456789012:role/hc/hc-master
mfa_serial = arn:aws:iam::123456789012:mfa/username
external_id = 123456789069

[profile target-tf]
credential_process = rolegate credential-process target
region = us-west-2
";

pub fn seed_credentials() -> String {
    format!("[base]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n")
}

/// A strict STS that knows the seed's user, device and MFA-protected role.
pub fn seed_sts() -> StrictSts {
    let sts = StrictSts::start();
    sts.add_user(BASE_KEY_ID, BASE_SECRET, USER_ARN);
    sts.add_mfa_device(MFA_SERIAL);
    sts.add_role(RoleSpec::new(ROLE_ARN).requiring_mfa().with_external_id(EXTERNAL_ID));
    sts
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
    /// Variables whose name or value need not be UTF-8 (set after `vars`).
    os_vars: Vec<(OsString, OsString)>,
    /// Variables left out, including the audit run's defaults.
    removed: Vec<String>,
    audit: Arc<Audit>,
}

impl TestEnv {
    /// An empty HOME (with `~/.aws`), nothing configured.
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home/.aws")).expect("mkdir .aws");
        TestEnv { dir, vars: Vec::new(), os_vars: Vec::new(), removed: Vec::new(), audit: Arc::default() }
    }

    /// The seed's files, talking to `sts`.
    pub fn seed(sts: &StrictSts) -> TestEnv {
        TestEnv::with_files(sts, SEED_CONFIG, seed_credentials())
    }

    /// The seed's files with `[profile plain]` added: a role without MFA (registered with
    /// `sts`), so that AssumeRole is the first and only call and carries no code.
    pub fn seed_with_plain(sts: &StrictSts) -> TestEnv {
        sts.add_role(RoleSpec::new(PLAIN_ROLE));
        let config = format!("{SEED_CONFIG}\n[profile plain]\nsource_profile = base\nrole_arn = {PLAIN_ROLE}\n");
        TestEnv::with_files(sts, config, seed_credentials())
    }

    /// These two files (any bytes), talking to `sts`.
    pub fn with_files(sts: &StrictSts, config: impl AsRef<[u8]>, credentials: impl AsRef<[u8]>) -> TestEnv {
        let mut env = TestEnv::new();
        env.write_config_bytes(config.as_ref());
        env.write_credentials_bytes(credentials.as_ref());
        env.set("AWS_ENDPOINT_URL", &sts.url());
        env
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.home().join(".cache/rolegate")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `~/.aws/config`.
    pub fn config_path(&self) -> PathBuf {
        self.home().join(".aws/config")
    }

    /// `~/.aws/credentials`.
    pub fn credentials_path(&self) -> PathBuf {
        self.home().join(".aws/credentials")
    }

    pub fn write_config(&mut self, text: &str) {
        self.write_config_bytes(text.as_bytes());
    }

    pub fn write_credentials(&mut self, text: &str) {
        self.write_credentials_bytes(text.as_bytes());
    }

    /// A config file of any bytes (not UTF-8, huge).
    pub fn write_config_bytes(&mut self, bytes: &[u8]) {
        std::fs::write(self.config_path(), bytes).expect("write config");
    }

    pub fn write_credentials_bytes(&mut self, bytes: &[u8]) {
        std::fs::write(self.credentials_path(), bytes).expect("write credentials");
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.retain(|(k, _)| k != name);
        self.removed.retain(|k| k != name);
        self.vars.push((name.into(), value.into()));
    }

    /// Sets a variable whose name or value may be any bytes (for `rolegate` and `command` only).
    pub fn set_os(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        let name = name.into();
        self.os_vars.retain(|(k, _)| *k != name);
        self.os_vars.push((name, value.into()));
    }

    /// Leaves `name` out of the commands' environment.
    pub fn unset(&mut self, name: &str) {
        self.vars.retain(|(k, _)| k != name);
        self.removed.push(name.into());
    }

    /// The environment every command gets: nothing from the test runner but PATH (with the
    /// binary's directory first, so `credential_process = rolegate ...` finds it), no proxies,
    /// no instance metadata.
    pub fn envs(&self) -> Vec<(String, String)> {
        let bin_dir = rolegate_bin().parent().expect("bin dir").to_path_buf();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let mut out = vec![
            ("PATH".to_string(), path),
            ("HOME".to_string(), self.home().display().to_string()),
            ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("TERM".to_string(), "dumb".to_string()),
        ];
        if audit::enabled() {
            // The audit run: every rolegate process logs everything to one file per test.
            out.push(("ROLEGATE_LOG".to_string(), "trace".to_string()));
            out.push(("ROLEGATE_LOG_FILE".to_string(), self.path(audit::LOG_NAME).display().to_string()));
        }
        out.retain(|(k, _)| !self.removed.contains(k) && !self.vars.iter().any(|(v, _)| v == k));
        out.extend(self.vars.iter().cloned());
        out
    }

    /// `rolegate ARGS` with the clean environment, stdin closed; its output is kept for the audit.
    pub fn rolegate(&self, args: &[&str]) -> Rolegate {
        Rolegate {
            command: self.command(rolegate_bin(), args),
            args: args.iter().map(|a| a.to_string()).collect(),
            audit: Arc::clone(&self.audit),
        }
    }

    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().envs(self.envs()).envs(self.os_vars.iter().cloned());
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    /// Runs `rolegate ARGS` in a new session, so it has no controlling terminal (as under CI).
    pub fn run_without_terminal(&self, args: &[&str]) -> Output {
        let out = self.without_terminal(args).output().expect("run setsid rolegate");
        self.record(args, &out);
        out
    }

    /// The command `rolegate ARGS` in a new session (no controlling terminal), not recorded for
    /// the audit.
    pub fn without_terminal(&self, args: &[&str]) -> Command {
        let mut all = vec!["-w", rolegate_bin().to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.command("setsid", &all)
    }

    /// Keeps the output of `rolegate ARGS`, run some other way, for the audit.
    pub fn record(&self, args: &[&str], out: &Output) {
        self.audit.record(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>(), out);
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if audit::enabled() && !std::thread::panicking() {
            self.audit.scan(self.dir.path());
        }
    }
}

/// A `rolegate` command of a [`TestEnv`]: a `Command` whose `output()` is recorded for the audit.
pub struct Rolegate {
    command: Command,
    args: Vec<String>,
    audit: Arc<Audit>,
}

impl Rolegate {
    pub fn output(&mut self) -> std::io::Result<Output> {
        let out = self.command.output()?;
        self.audit.record(&self.args, &out);
        Ok(out)
    }

    pub fn env(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Rolegate {
        self.command.env(name, value);
        self
    }

    pub fn env_remove(&mut self, name: impl AsRef<OsStr>) -> &mut Rolegate {
        self.command.env_remove(name);
        self
    }

    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Rolegate {
        self.command.stdin(cfg);
        self
    }

    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Rolegate {
        self.command.stdout(cfg);
        self
    }

    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Rolegate {
        self.command.stderr(cfg);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Rolegate {
        self.command.current_dir(dir);
        self
    }

    /// The plain command, for runners that take one (a pseudo-terminal session).
    pub fn into_command(self) -> Command {
        self.command
    }
}

impl std::ops::Deref for Rolegate {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.command
    }
}

impl std::ops::DerefMut for Rolegate {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.command
    }
}

pub fn rolegate_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rolegate"))
}

/// The credential_process JSON printed on stdout, checked against the SDK contract.
#[derive(Debug, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProcessJson {
    pub version: u32,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
    pub account_id: Option<String>,
}

pub fn parse_process_json(stdout: &[u8]) -> ProcessJson {
    let text = std::str::from_utf8(stdout).expect("utf-8 stdout");
    let json: ProcessJson =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not credential_process JSON ({e}): {text:?}"));
    assert_eq!(json.version, 1);
    assert!(json.access_key_id.starts_with("ASIA"), "{json:?}");
    let exp = time::OffsetDateTime::parse(&json.expiration, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 Expiration");
    assert!(json.expiration.ends_with('Z') && exp > time::OffsetDateTime::now_utc(), "{}", json.expiration);
    json
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
