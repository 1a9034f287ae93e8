//! The top-level error: every failure a command can end with, its exit code and its hint.
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

use crate::base_credentials::BaseError;
use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::mfa::MfaError;
use crate::plan::PlanError;
use crate::provider::ProviderError;
use crate::sts::StsError;

pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 3;
pub const EXIT_AUTH: u8 = 4;
pub const EXIT_STS: u8 = 5;
pub const EXIT_LOCAL: u8 = 6;
pub const EXIT_INTERNAL: u8 = 70;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    #[error(transparent)]
    Shim(#[from] crate::shim::ShimError),
    #[error(transparent)]
    Login(#[from] crate::login::LoginError),
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
    #[error(transparent)]
    Doctor(#[from] crate::doctor::DoctorError),
    #[error("`rolegate export {profile}` would print secret keys on the terminal")]
    ExportToTerminal { profile: String },
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
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

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
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
            Error::Exec(e) => e.exit_code(),
            Error::Shim(crate::shim::ShimError::Io { .. }) => EXIT_LOCAL,
            Error::Shim(crate::shim::ShimError::NoRealProgram { .. }) => 127,
            Error::Shim(_) => EXIT_CONFIG,
            Error::ExportToTerminal { .. } => EXIT_USAGE,
            Error::Setup(e) => e.exit_code(),
            Error::Login(crate::login::LoginError::Federation { .. }) => EXIT_AUTH,
            Error::Login(_) => EXIT_STS,
            Error::Doctor(e) => e.exit_code(),
            Error::Stdout(_) => EXIT_LOCAL,
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
            Error::Login(e) => e.hint(),
            Error::Doctor(e) => e.hint(),
            Error::ExportToTerminal { profile } => Some(format!(
                "run `eval \"$(rolegate export {profile})\"` to set them in this shell, or add --force to print them"
            )),
            Error::Stdout(_) => None,
        }
    }
}

/// The error and its causes on one line (`a: b: c`), for stderr.
pub fn chain_message(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
