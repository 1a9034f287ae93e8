//! The top-level error: every failure a command can end with, and the one mapping from an
//! error to its exit code ([`Error::exit_code`]) and its hint ([`Error::hint`]).
//!
//! Each engine has its own error enum; this one gathers them. Engines never import this
//! module, so the mapping sees every error and nothing imports it back. [`KeysError`], the
//! error of the credential-store commands (`cmd::keys`), lives here: it wraps a rotate step's
//! whole error, and commands import this module, not the other way round.
//!
//! Exit codes (documented in the README):
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 2 | usage: bad flags or arguments (clap) |
//! | 3 | configuration: a profile, file or setting is wrong |
//! | 4 | authentication: no MFA code, a refused code, access denied, bad or expired keys |
//! | 5 | STS unreachable or answering errors |
//! | 6 | the cache directory or a local file |
//! | 70 | internal error |
//! | 126, 127 | `exec`: the command cannot run / is not found (as shells say) |

use std::path::PathBuf;

use crate::base_credentials::BaseError;
use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::config::edit::SetupError;
use crate::exec::ExecError;
use crate::exec::shim::ShimError;
use crate::mfa::MfaError;
use crate::plan::PlanError;
use crate::provider::ProviderError;
use crate::store::{Backend, StoreError};
use crate::sts::StsError;
use crate::sts::federation::LoginError;

pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 3;
pub const EXIT_AUTH: u8 = 4;
pub const EXIT_STS: u8 = 5;
pub const EXIT_LOCAL: u8 = 6;
pub const EXIT_INTERNAL: u8 = 70;
/// `exec`: the command exists but cannot run.
pub const EXIT_CANNOT_RUN: u8 = 126;
/// `exec`: no such command.
pub const EXIT_NOT_FOUND: u8 = 127;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Shim(#[from] ShimError),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("cannot read the Terraform directory {}", dir.display())]
    TerraformDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no *.tf files in {}", dir.display())]
    NoTerraformFiles { dir: PathBuf },
    #[error("cannot render the report as JSON")]
    Report(#[source] serde_json::Error),
    #[error("`rolegate export {profile}` would print secret keys on the terminal")]
    ExportToTerminal { profile: String },
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("no man page `{name}`")]
    NoManPage { name: String, known: Vec<String> },
    #[error("cannot write the man pages into {}", dir.display())]
    ManPages {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<CacheError> for Error {
    fn from(e: CacheError) -> Self {
        Error::Provider(e.into())
    }
}

impl From<BaseError> for Error {
    fn from(e: BaseError) -> Self {
        Error::Provider(e.into())
    }
}

impl From<MfaError> for Error {
    fn from(e: MfaError) -> Self {
        Error::Provider(e.into())
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        Error::Keys(e.into())
    }
}

impl From<StsError> for Error {
    fn from(e: StsError) -> Self {
        Error::Keys(KeysError::Aws(e))
    }
}

/// `add`, `import`, `rotate`, `remove`.
fn keys_exit_code(e: &KeysError) -> u8 {
    match e {
        KeysError::Store(_) | KeysError::HardLinks { .. } | KeysError::Terminal(_) | KeysError::NoTerminal(_) => {
            EXIT_LOCAL
        }
        KeysError::ReadBack { .. } | KeysError::Verify { .. } => EXIT_INTERNAL,
        KeysError::PromptTimeout { .. } => EXIT_AUTH,
        KeysError::Aws(e) => match e {
            StsError::AccessDenied { .. }
            | StsError::InvalidMfaCode { .. }
            | StsError::ExpiredToken { .. }
            | StsError::InvalidClientTokenId { .. }
            | StsError::SignatureDoesNotMatch { .. } => EXIT_AUTH,
            StsError::CaBundle { .. } => EXIT_CONFIG,
            StsError::Signing(_) => EXIT_INTERNAL,
            _ => EXIT_STS,
        },
        KeysError::Rotate { source, .. } => source.exit_code(),
        _ => EXIT_CONFIG,
    }
}

impl Error {
    /// The exit status of a command that ends with this error: the one place it is decided.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plan(PlanError::BadDurationFlag { .. } | PlanError::DurationConflict { .. }) => EXIT_USAGE,
            Error::Config(_) | Error::Plan(_) => EXIT_CONFIG,
            Error::Provider(p) => match p {
                ProviderError::Cache(_) => EXIT_LOCAL,
                ProviderError::Mfa(MfaError::Io { .. }) => EXIT_LOCAL,
                ProviderError::Mfa(_) => EXIT_AUTH,
                ProviderError::Base(BaseError::EnvMissing { .. } | BaseError::Recursion { .. }) => EXIT_CONFIG,
                ProviderError::Base(_) => EXIT_AUTH,
                ProviderError::Sts { source, .. } => match source {
                    StsError::InvalidMfaCode { .. }
                    | StsError::AccessDenied { .. }
                    | StsError::ExpiredToken { .. }
                    | StsError::InvalidClientTokenId { .. }
                    | StsError::SignatureDoesNotMatch { .. }
                    | StsError::RoleChainingLimit { .. } => EXIT_AUTH,
                    StsError::CaBundle { .. } => EXIT_CONFIG,
                    StsError::Signing(_) => EXIT_INTERNAL,
                    _ => EXIT_STS,
                },
            },
            Error::Exec(ExecError::Spawn { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                EXIT_NOT_FOUND
            }
            Error::Exec(_) => EXIT_CANNOT_RUN,
            Error::Shim(ShimError::Io { .. }) => EXIT_LOCAL,
            Error::Shim(ShimError::NoRealProgram { .. }) => EXIT_NOT_FOUND,
            Error::Shim(_) => EXIT_CONFIG,
            Error::Setup(e) => match e {
                SetupError::BadName { .. }
                | SetupError::AlreadyRolegate { .. }
                | SetupError::Conflict(_)
                | SetupError::DanglingSymlink { .. }
                | SetupError::NotAFile { .. }
                | SetupError::RoleExists { .. } => EXIT_CONFIG,
                SetupError::BadValue { .. } | SetupError::Closed => EXIT_USAGE,
                SetupError::Terminal(_) => EXIT_LOCAL,
                SetupError::ReadOnly { .. } | SetupError::Changed { .. } | SetupError::Io { .. } => EXIT_LOCAL,
                SetupError::SelfPath(_) | SetupError::Verify { .. } => EXIT_INTERNAL,
            },
            Error::Keys(e) => keys_exit_code(e),
            Error::Login(LoginError::Federation { .. }) => EXIT_AUTH,
            Error::Login(LoginError::BadDuration { .. } | LoginError::BadDestination { .. }) => EXIT_USAGE,
            Error::Login(_) => EXIT_STS,
            Error::TerraformDir { .. } | Error::NoTerraformFiles { .. } | Error::ExportToTerminal { .. } => EXIT_USAGE,
            Error::Report(_) => EXIT_INTERNAL,
            Error::Stdout(_) | Error::ManPages { .. } => EXIT_LOCAL,
            Error::NoManPage { .. } => EXIT_USAGE,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(e) => e.hint(),
            Error::Plan(e) => e.hint(),
            Error::Provider(e) => e.hint(),
            Error::Exec(e) => e.hint(),
            Error::Shim(e) => e.hint(),
            Error::Setup(e) => e.hint(),
            Error::Keys(e) => e.hint(),
            Error::Login(e) => e.hint(),
            Error::TerraformDir { .. } | Error::NoTerraformFiles { .. } => Some(
                "point --terraform at the directory that holds the root module's .tf files (subdirectories are not read)"
                    .into(),
            ),
            Error::ExportToTerminal { profile } => Some(format!(
                "run `eval \"$(rolegate export {profile})\"` to set them in this shell, or add --force to print them"
            )),
            Error::NoManPage { known, .. } => Some(format!("the pages: {}", known.join(", "))),
            Error::ManPages { .. } => Some("DIR must be an existing, writable directory".into()),
            Error::Report(_) | Error::Stdout(_) => None,
        }
    }
}

/// What `add`, `import`, `remove` and `rotate` fail with.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("profile `{profile}` has its keys in {file} (aws_access_key_id / aws_secret_access_key)")]
    KeysInFile { profile: String, file: String },
    #[error("profile `{profile}` ({file}) has {what}: it is not a profile that holds keys")]
    NotABase { profile: String, file: String, what: String },
    #[error("profile `{profile}` has no keys in {files}")]
    NoKeysInFiles { profile: String, files: String },
    #[error("profile `{profile}` ({file}) has aws_session_token: temporary keys are not worth storing")]
    TemporaryKeys { profile: String, file: String },
    #[error("profile `{profile}` has no keys in a credential store (no rolegate_keystore)")]
    NotStored { profile: String },
    #[error("{variable} is not set")]
    EnvMissing { variable: &'static str },
    #[error("`{value}` is not an access key id: {why}")]
    BadAccessKeyId { value: String, why: &'static str },
    #[error("the secret access key is empty")]
    EmptySecret,
    #[error("cannot ask for the keys: no terminal (/dev/tty)")]
    NoTerminal(#[source] std::io::Error),
    #[error("no answer at the prompt within {seconds} s")]
    PromptTimeout { seconds: u64 },
    #[error("cannot read the terminal")]
    Terminal(#[source] std::io::Error),
    #[error("{} read back a different secret for access key {access_key_id}: nothing was changed", backend.describe())]
    ReadBack { backend: Backend, access_key_id: String },
    #[error("{} has {links} hard links: the other names would keep the keys", path.display())]
    HardLinks { path: PathBuf, links: u64 },
    #[error("the edited {} would not read back as intended ({why}); nothing was changed", path.display())]
    Verify { path: PathBuf, why: String },
    #[error(transparent)]
    Aws(StsError),
    #[error("profile `{profile}`: its keys belong to {arn}, not to an IAM user: rotate makes IAM user keys")]
    NotAUser { profile: String, arn: String },
    #[error("rotate, step {step}: {what}")]
    Rotate {
        step: &'static str,
        what: String,
        #[source]
        source: Box<Error>,
    },
}

impl KeysError {
    pub fn hint(&self) -> Option<String> {
        match self {
            KeysError::Store(e) => e.hint(),
            KeysError::KeysInFile { profile, .. } => {
                Some(format!("`rolegate import {profile}` moves them into the credential store"))
            }
            KeysError::NotABase { .. } => Some(
                "name the profile that holds the keys: the one the role profiles name in source_profile".into(),
            ),
            KeysError::NoKeysInFiles { profile, .. } => {
                Some(format!("`rolegate add {profile}` stores keys you type (or --env from the environment)"))
            }
            KeysError::TemporaryKeys { .. } => Some("store long-term keys (AKIA...) only".into()),
            KeysError::NotStored { profile } => {
                Some(format!("`rolegate add {profile}` or `rolegate import {profile}` puts its keys in the store"))
            }
            KeysError::EnvMissing { .. } => {
                Some("export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run without --env to type them".into())
            }
            KeysError::BadAccessKeyId { .. } => {
                Some("an access key id is 16 to 128 letters and digits, like AKIAIOSFODNN7EXAMPLE".into())
            }
            KeysError::EmptySecret => Some("type the secret access key shown when the key was created".into()),
            KeysError::NoTerminal(_) => Some("run it in a terminal, or use --env".into()),
            KeysError::PromptTimeout { .. } | KeysError::Terminal(_) => Some("run it again".into()),
            KeysError::ReadBack { .. } => Some("the store may be misbehaving; try --keystore with another store".into()),
            KeysError::HardLinks { path, .. } => Some(format!(
                "find the other names (`find / -samefile {}`) and remove them, then run it again",
                path.display()
            )),
            KeysError::Verify { .. } => Some("please report this".into()),
            KeysError::NotAUser { .. } => Some("rotate the keys of that principal in the IAM console".into()),
            KeysError::Aws(StsError::AccessDenied { .. }) => Some(
                "the user needs iam:CreateAccessKey, iam:DeleteAccessKey and iam:GetUser on itself; if its policy requires MFA, add mfa_serial to the profile so that rotate signs with an MFA session".into(),
            ),
            KeysError::Aws(e) => e.hint(),
            KeysError::Rotate { source, .. } => source.hint(),
        }
    }
}
