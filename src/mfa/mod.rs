//! Where MFA codes come from: the terminal device, or a code given on the command line.
//!
//! Invariants: the prompt is written to and read from the controlling terminal (`/dev/tty`),
//! never stdout (Terraform parses it), stdin (the caller's) or stderr (the AWS CLI captures
//! it). Every wait is bounded by a deadline well under Terraform's 60 s kill. Without a
//! terminal the error comes at once and names the non-interactive options.

pub mod tty;

use std::time::Instant;

use crate::credentials::MfaCode;

/// What the prompt needs to say.
#[derive(Debug, Clone)]
pub struct CodeRequest<'a> {
    pub serial: &'a str,
    pub profile: &'a str,
    /// Said once before the prompt (e.g. why this role gets the code directly).
    pub notice: Option<&'a str>,
    /// 1 for the first code; higher after STS refused the previous one.
    pub attempt: u32,
    pub deadline: Instant,
    /// The configured bound, for the timeout message.
    pub timeout_seconds: u64,
}

/// A source of MFA codes.
pub trait CodeSource {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("profile `{profile}` needs an MFA code for {serial}, and there is no terminal to ask on")]
    NoTerminal { profile: String, serial: String },
    #[error("profile `{profile}`: no MFA code for {serial} was entered within {seconds} s")]
    Timeout { profile: String, serial: String, seconds: u64 },
    #[error("profile `{profile}`: no valid 6-digit MFA code for {serial} after {tries} tries")]
    TooManyTypos { profile: String, serial: String, tries: u32 },
    #[error("profile `{profile}`: the MFA prompt was closed (end of input)")]
    Closed { profile: String },
    #[error("profile `{profile}`: --mfa-token is not 6 digits")]
    BadFlagCode { profile: String },
    #[error("profile `{profile}`: the code given with --mfa-token was refused, and there is no other code")]
    FlagCodeUsed { profile: String },
    #[error("profile `{profile}` needs a new MFA code for {serial}, and a background renewal cannot ask for one")]
    NotNow { profile: String, serial: String },
    #[error("profile `{profile}`: terminal error: {source}")]
    Io {
        profile: String,
        #[source]
        source: std::io::Error,
    },
}

impl MfaError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            MfaError::NoTerminal { .. } => "run `rolegate credential-process PROFILE` once in a terminal to start the day's MFA session (every later call uses it), or pass the code with --mfa-token CODE".into(),
            MfaError::Timeout { .. } => "run again and type the code within the time, or raise it with --prompt-timeout / ROLEGATE_PROMPT_TIMEOUT (Terraform stops waiting after 60 s)".into(),
            MfaError::TooManyTypos { .. } => "a code is the 6 digits shown by your authenticator app or device".into(),
            MfaError::Closed { .. } => return None,
            MfaError::BadFlagCode { .. } => "pass the 6 digits shown by your authenticator, e.g. --mfa-token 123456".into(),
            MfaError::FlagCodeUsed { .. } => "wait for the next code and run again; each code works once".into(),
            MfaError::Io { .. } => return None,
            MfaError::NotNow { profile, .. } => format!("run `rolegate credential-process {profile}` in a terminal to start a new MFA session; the endpoint picks it up"),
        })
    }
}

/// A code given up front (`--mfa-token`): usable once.
pub struct FixedCode {
    code: Option<MfaCode>,
    profile: String,
}

impl FixedCode {
    pub fn new(raw: &str, profile: &str) -> Result<FixedCode, MfaError> {
        let code = MfaCode::parse(raw).ok_or_else(|| MfaError::BadFlagCode { profile: profile.into() })?;
        Ok(FixedCode { code: Some(code), profile: profile.into() })
    }
}

impl CodeSource for FixedCode {
    fn code(&mut self, _request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
        self.code.take().ok_or_else(|| MfaError::FlagCodeUsed { profile: self.profile.clone() })
    }
}

/// The code source of background renewals: never asks.
pub struct NoPrompt;

impl CodeSource for NoPrompt {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
        Err(MfaError::NotNow { profile: request.profile.into(), serial: request.serial.into() })
    }
}
