//! The command line, declared with clap derive. No logic lives here: the `///` comments are the
//! help text, and completions and the man page can be generated from these types.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Credentials for MFA-protected AWS roles, for Terraform and every AWS SDK: one MFA prompt a day.
#[derive(Debug, Parser)]
#[command(name = "rolegate", version, about, max_term_width = 100)]
pub struct Cli {
    /// Log to stderr: -v for debug, -vv for trace (secrets are never logged). ROLEGATE_LOG also works.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Where sessions are cached [default: $XDG_CACHE_HOME/rolegate or ~/.cache/rolegate].
    #[arg(long, global = true, env = "ROLEGATE_CACHE_DIR", value_name = "DIR")]
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
}

/// How to get credentials for one profile.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// The profile with role_arn / mfa_serial [default: $AWS_PROFILE, $AWS_DEFAULT_PROFILE, `default`].
    pub profile: Option<String>,

    /// The current MFA code, instead of asking on the terminal (visible to other local users in the process list).
    #[arg(long, value_name = "CODE")]
    pub mfa_token: Option<String>,

    /// Ignore cached sessions and ask for a new MFA code (for policies that check aws:MultiFactorAuthAge).
    #[arg(long)]
    pub refresh_mfa: bool,

    /// Seconds to wait for the MFA code at the prompt (Terraform kills a helper after 60).
    #[arg(long, env = "ROLEGATE_PROMPT_TIMEOUT", value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub prompt_timeout: u64,

    /// Lifetime of the MFA session in seconds, 900 to 129600 [default: profile's rolegate_mfa_session_duration, else 43200 = 12 h].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(900..=129_600))]
    pub mfa_session_duration: Option<u32>,
}
