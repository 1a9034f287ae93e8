//! The command line, declared with clap derive. No logic lives here: the `///` comments are the
//! help text, and completions and the man page can be generated from these types.
//!
//! The environment twins of the flags (`ROLEGATE_CACHE_DIR`, `ROLEGATE_MFA_PROCESS`,
//! `ROLEGATE_YKMAN_ACCOUNT`, `ROLEGATE_PROMPT_TIMEOUT`) are not clap's `env =`: clap would take an
//! empty variable as an empty value (a usage error for a path or a number). They are read from the
//! [`Context`](crate::context::Context), where an empty variable is unset: the cache directory in
//! `Context::default_cache_dir`, the others in `SessionOptions::with_env` (in [`crate::session`]). A flag wins over
//! its variable.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

/// `--prompt-timeout` when neither the flag nor `ROLEGATE_PROMPT_TIMEOUT` gives it.
pub const DEFAULT_PROMPT_TIMEOUT_SECONDS: u64 = 30;
/// The seconds `--prompt-timeout` and `ROLEGATE_PROMPT_TIMEOUT` accept.
pub const PROMPT_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

/// Credentials for MFA-protected AWS roles, for Terraform and every AWS SDK: one MFA prompt a day.
#[derive(Debug, Parser)]
#[command(name = "rolegate", version, about, max_term_width = 100)]
pub struct Cli {
    /// Log to stderr: -v for debug, -vv for trace (secrets are never logged). ROLEGATE_LOG also works.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Where sessions are cached [env: ROLEGATE_CACHE_DIR] [default: $XDG_CACHE_HOME/rolegate or ~/.cache/rolegate].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print credentials for PROFILE as `credential_process` JSON (for ~/.aws/config).
    ///
    /// Example profile for Terraform and the AWS CLI:
    ///
    /// ```text
    /// [profile target-tf]
    /// credential_process = rolegate credential-process target
    /// region = us-west-2
    /// ```
    #[command(name = "credential-process")]
    CredentialProcess(CredentialArgs),

    /// Run COMMAND with credentials for PROFILE in its environment.
    ///
    /// The MFA code is asked before COMMAND starts. The child also gets a private copy of your AWS
    /// config in which every MFA profile calls rolegate, so a profile hard-coded in Terraform
    /// (`profile = "PROFILE"`) works unchanged. With --server, credentials come from a local
    /// endpoint that renews them in the background, for runs longer than the role's hour.
    Exec(ExecArgs),

    /// Print shell commands that set credentials for PROFILE: `eval "$(rolegate export PROFILE)"`.
    Export(ExportArgs),

    /// Add the Terraform-facing profile (`credential_process = rolegate ...`) to ~/.aws/config.
    ///
    /// With --role-arn, --source-profile and --mfa-serial it writes the MFA role profile PROFILE
    /// first. Without PROFILE, on a terminal, a short wizard asks for what it needs (without a
    /// terminal it prints what to run). Every other byte of the file is kept; a backup is written
    /// first; running it again changes nothing. Then it says what will happen when the profile is
    /// used.
    Setup(SetupArgs),

    /// Explain a profile hop by hop and find what is wrong in the configuration (and in a
    /// Terraform directory with --terraform), with the fix for each finding.
    Doctor(DoctorArgs),

    /// Open the AWS console signed in as PROFILE's role (or print the sign-in URL).
    Login(LoginArgs),

    /// Print shell completions for SHELL.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), or a subcommand's: `rolegate man exec` is rolegate-exec(1).
    Man(ManArgs),

    /// Show the profiles that need MFA and the cached sessions (never a secret).
    List,

    /// Forget cached sessions: those of PROFILE (its role credentials and its MFA session), or all.
    Clear(ClearArgs),

    /// Keep PROFILE's long-term keys in the OS credential store (Keychain, Secret Service,
    /// Credential Manager) instead of a file: asked on the terminal (the secret without echo), or
    /// taken from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY with --env.
    ///
    /// The config profile gets `rolegate_keystore` and `rolegate_access_key_id` (no secret); the
    /// section is created if missing.
    Add(AddArgs),

    /// Move PROFILE's keys from the credentials file into the OS credential store: stored, read
    /// back, then removed from the file (every other byte kept, no backup holding them).
    Import(ImportArgs),

    /// Replace PROFILE's stored access key: IAM CreateAccessKey, the new key checked with
    /// GetCallerIdentity and stored, then the old key deleted. With mfa_serial on the profile,
    /// the IAM calls are signed by the MFA session.
    Rotate(KeysProfileArgs),

    /// Delete PROFILE's keys from the OS credential store and its rolegate_keystore settings.
    Remove(RemoveArgs),

    /// Manage argv[0] shims: `terraform`, `aws`, ... that run the real program through `rolegate exec`.
    Shim(ShimArgs),
}

/// `add`.
#[derive(Debug, Args, Clone)]
pub struct AddArgs {
    /// The profile whose keys these are (the base profile that role profiles name in source_profile).
    pub profile: String,

    /// Take the keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead of asking.
    #[arg(long)]
    pub env: bool,

    /// The store [env: ROLEGATE_KEYSTORE] [default: the system's: keychain, credential-manager, or
    /// secret-service, else kernel-keyring on Linux].
    #[arg(long, value_name = "STORE", value_parser = ["secret-service", "kernel-keyring", "keychain", "credential-manager"])]
    pub keystore: Option<String>,
}

/// `import`.
#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// The profile whose aws_access_key_id / aws_secret_access_key to move.
    pub profile: String,

    /// The store [env: ROLEGATE_KEYSTORE] [default: as for `add`].
    #[arg(long, value_name = "STORE", value_parser = ["secret-service", "kernel-keyring", "keychain", "credential-manager"])]
    pub keystore: Option<String>,
}

/// `rotate`, `remove`.
#[derive(Debug, Args, Clone)]
pub struct KeysProfileArgs {
    /// The profile whose keys are in the store.
    pub profile: String,

    #[command(flatten)]
    pub session: SessionOptions,
}

/// `remove`.
#[derive(Debug, Args, Clone)]
pub struct RemoveArgs {
    /// The profile whose keys are in the store.
    pub profile: String,
}

/// How to get credentials for one profile.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// The profile with role_arn / mfa_serial [default: $AWS_PROFILE, $AWS_DEFAULT_PROFILE, `default`].
    #[arg(add = ArgValueCandidates::new(profile_candidates))]
    pub profile: Option<String>,

    #[command(flatten)]
    pub session: SessionOptions,
}

#[derive(Debug, Args, Clone)]
pub struct ExecArgs {
    /// The profile with role_arn / mfa_serial.
    #[arg(add = ArgValueCandidates::new(profile_candidates))]
    pub profile: String,

    #[command(flatten)]
    pub session: SessionOptions,

    /// Serve credentials from a local container-credentials endpoint that renews them, instead of
    /// fixed keys in the environment (for long runs).
    #[arg(long)]
    pub server: bool,

    /// Renew the endpoint's credentials this many seconds before they expire.
    #[arg(long, hide = true, value_name = "SECONDS", requires = "server")]
    pub refresh_margin: Option<u64>,

    /// Do not give the child a generated AWS config (hard-coded MFA profiles will then fail in it).
    #[arg(long)]
    pub no_generated_config: bool,

    /// The command and its arguments [default: a shell, $SHELL or /bin/sh, with the credentials
    /// and ROLEGATE_PROFILE set].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args, Clone)]
pub struct ShimArgs {
    /// The shim directory [default: $XDG_DATA_HOME/rolegate/shims or ~/.local/share/rolegate/shims].
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    #[command(subcommand)]
    pub action: ShimAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum ShimAction {
    /// Link COMMANDs to rolegate in the shim directory, and print the PATH line to add.
    Install {
        #[arg(required = true, value_name = "COMMAND")]
        commands: Vec<String>,
    },
    /// List the shims.
    List,
    /// Remove shims.
    Remove {
        #[arg(required = true, value_name = "COMMAND")]
        commands: Vec<String>,
    },
}

#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The profile with role_arn / mfa_serial [default: $AWS_PROFILE, $AWS_DEFAULT_PROFILE, `default`].
    #[arg(add = ArgValueCandidates::new(profile_candidates))]
    pub profile: Option<String>,

    #[command(flatten)]
    pub session: SessionOptions,

    /// Output syntax.
    #[arg(long, value_enum, default_value_t = crate::output::export::Format::Sh)]
    pub format: crate::output::export::Format,

    /// Print even when stdout is a terminal (the secrets then stay in your scrollback).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct SetupArgs {
    /// The profile with role_arn / mfa_serial to serve; with --role-arn, the profile to create
    /// [default: a short wizard on the terminal].
    #[arg(add = ArgValueCandidates::new(profile_candidates))]
    pub profile: Option<String>,

    /// Name of the new profile [default: PROFILE-tf].
    #[arg(long = "as", value_name = "NAME")]
    pub name: Option<String>,

    /// Show the change as a diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Create PROFILE first, as a role profile assuming ARN (with --source-profile and --mfa-serial).
    #[arg(long, value_name = "ARN", requires_all = ["profile", "source_profile", "mfa_serial"])]
    pub role_arn: Option<String>,

    /// With --role-arn: the profile that holds your access keys (it may have none yet).
    #[arg(long, value_name = "BASE", requires = "role_arn")]
    pub source_profile: Option<String>,

    /// With --role-arn: your MFA device, arn:aws:iam::ACCOUNT_ID:mfa/NAME.
    #[arg(long, value_name = "ARN", requires = "role_arn")]
    pub mfa_serial: Option<String>,

    /// With --role-arn: the role's external id, if its trust policy asks for one.
    #[arg(long, value_name = "ID", requires = "role_arn")]
    pub external_id: Option<String>,

    /// With --role-arn: the new profile's region.
    #[arg(long, value_name = "REGION", requires = "role_arn")]
    pub region: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct DoctorArgs {
    /// The profile to explain [default: every profile that needs MFA].
    #[arg(add = ArgValueCandidates::new(profile_candidates))]
    pub profile: Option<String>,

    /// Also check the `provider "aws"`, `backend "s3"` and `terraform_remote_state` blocks of the
    /// .tf files in DIR.
    #[arg(long, value_name = "DIR")]
    pub terraform: Option<PathBuf>,

    /// Machine-readable output (the shape is documented in docs/DOCTOR.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ManArgs {
    /// The subcommand whose page to print (`exec`, `shim install`, or `rolegate-shim-install`)
    /// [default: rolegate(1)].
    #[arg(value_name = "SUBCOMMAND")]
    pub page: Vec<String>,

    /// Write every page (rolegate.1, rolegate-exec.1, ...) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "page")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ClearArgs {
    /// The profile whose sessions to forget.
    #[arg(required_unless_present = "all", conflicts_with = "all", add = ArgValueCandidates::new(profile_candidates))]
    pub profile: Option<String>,

    /// Forget every cached session, the hot index and the generated configs.
    #[arg(long)]
    pub all: bool,
}

/// With `login`, `--duration` is the console session's lifetime (15m to 12h): the sign-in
/// token's `SessionDuration` for a role, the federation session's for an IAM user.
#[derive(Debug, Args, Clone)]
pub struct LoginArgs {
    /// The profile [default: $AWS_PROFILE, $AWS_DEFAULT_PROFILE, `default`].
    #[arg(add = ArgValueCandidates::new(profile_candidates))]
    pub profile: Option<String>,

    #[command(flatten)]
    pub session: SessionOptions,

    /// Where the console opens: a path (`/ec2/home`, `/s3/buckets?x=y#frag`) or a console URL
    /// (`https://console.aws.amazon.com/...`); the region is added unless it names one.
    #[arg(long, visible_alias = "destination", value_name = "PATH|URL")]
    pub path: Option<String>,

    /// Print the URL instead of opening the browser.
    #[arg(long)]
    pub print: bool,
}

/// How the MFA session is obtained, and the per-call overrides of the plan.
#[derive(Debug, Args, Clone, Default)]
pub struct SessionOptions {
    /// The current MFA code, instead of asking on the terminal (visible to other local users in the process list).
    #[arg(long, value_name = "CODE")]
    pub mfa_token: Option<String>,

    /// A command that prints the MFA code (e.g. a password manager's TOTP command) [env: ROLEGATE_MFA_PROCESS] [profile key: rolegate_mfa_process].
    #[arg(long, value_name = "COMMAND", conflicts_with = "mfa_token")]
    pub mfa_process: Option<String>,

    /// Take the code from a YubiKey: `ykman oath accounts code --single NAME` [env: ROLEGATE_YKMAN_ACCOUNT] [profile key: rolegate_ykman_account].
    #[arg(long, value_name = "NAME", conflicts_with_all = ["mfa_token", "mfa_process"])]
    pub ykman_account: Option<String>,

    /// Ignore cached sessions and ask for a new MFA code (for policies that check aws:MultiFactorAuthAge).
    #[arg(long)]
    pub refresh_mfa: bool,

    /// Seconds to wait for the MFA code at the prompt (Terraform kills a helper after 60) [env: ROLEGATE_PROMPT_TIMEOUT] [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(PROMPT_TIMEOUT_RANGE))]
    pub prompt_timeout: Option<u64>,

    /// Lifetime of the MFA session in seconds, 900 to 129600 [default: profile's rolegate_mfa_session_duration, else 43200 = 12 h].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(900..=129_600))]
    pub mfa_session_duration: Option<u32>,

    /// Region of the STS endpoint and of the credentials (AWS_REGION of a child, the console's region) [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Lifetime of the role credentials (for `login`: of the console session): 1h, 30m, 1h30m or seconds; 15m to 12h, at most 1h for a role assumed from the MFA session or from another role [default: the profile's duration_seconds, else 1h].
    #[arg(long, value_name = "DURATION", value_parser = crate::plan::parse_duration_flag)]
    pub duration: Option<u32>,
}

/// The profile names a shell offers at TAB (`rolegate exec tar<TAB>`), from the user's files as
/// they are at that moment: read when the shell asks, headers only
/// ([`crate::config::profile_names`]).
fn profile_candidates() -> Vec<CompletionCandidate> {
    let ctx = crate::context::Context::from_process();
    let Ok(paths) = crate::config::ConfigPaths::locate(&ctx) else { return Vec::new() };
    crate::config::profile_names(&paths).into_iter().map(CompletionCandidate::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_still_names_the_variables() {
        let help = <Cli as clap::CommandFactory>::command().render_long_help().to_string();
        assert!(help.contains("ROLEGATE_CACHE_DIR"), "{help}");
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let sub = cmd.find_subcommand_mut("credential-process").expect("subcommand").render_long_help().to_string();
        for var in ["ROLEGATE_MFA_PROCESS", "ROLEGATE_YKMAN_ACCOUNT", "ROLEGATE_PROMPT_TIMEOUT"] {
            assert!(sub.contains(var), "{var}: {sub}");
        }
    }
}
