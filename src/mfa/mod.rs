//! Where MFA codes come from, in this order (the first that is configured is used, and no
//! other is tried when it fails):
//! 1. `--mfa-token CODE`;
//! 2. a program: `--mfa-process CMD`, `ROLEGATE_MFA_PROCESS`, or `rolegate_mfa_process` in the profile
//!    (the requested one, else the chain's from the last role to the base), else aws-vault's
//!    `mfa_process` found the same way (`rolegate_mfa_process` wins where both are set: it is
//!    rolegate's own, and a config shared with aws-vault may want aws-vault to run another);
//! 3. a YubiKey: `--ykman-account NAME`, `ROLEGATE_YKMAN_ACCOUNT`, or `rolegate_ykman_account`;
//! 4. the terminal prompt when there is a terminal;
//! 5. a GUI dialog (zenity, kdialog, osascript) when there is none.
//!
//! Invariants: the prompt is written to and read from the controlling terminal (`/dev/tty`),
//! never stdout (Terraform parses it), stdin (the caller's) or stderr (the AWS CLI captures
//! it). Every wait is bounded by a deadline well under Terraform's 60 s kill. Without a
//! terminal the error comes at once and names the non-interactive options.

pub mod gui;
pub mod process;
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
    /// The previous code given was one STS had already refused in this call: it was not sent.
    pub repeated: bool,
    pub deadline: Instant,
    /// The configured bound, for the timeout message.
    pub timeout_seconds: u64,
}

/// A source of MFA codes.
pub trait CodeSource {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError>;

    /// The error [`code`](CodeSource::code) would surely give for `profile`'s `serial`, known
    /// before anything is spent on the call (a base `credential_process` run, a request).
    fn unavailable(&self, _profile: &str, _serial: &str) -> Option<MfaError> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("profile `{profile}` needs an MFA code for {serial}, and there is no terminal to ask on")]
    NoTerminal { profile: String, serial: String },
    #[error("profile `{profile}` needs an MFA code for {serial}, and nothing can give one: {tried}")]
    NoSource { profile: String, serial: String, tried: String },
    #[error("profile `{profile}`: {what} (`{command}`) gave no MFA code: {why}")]
    ProcessFailed { profile: String, what: &'static str, command: String, why: String },
    #[error("profile `{profile}`: {what} (`{command}`) did not print a code within {seconds} s")]
    ProcessTimeout { profile: String, what: &'static str, command: String, seconds: u64 },
    #[error("profile `{profile}`: no MFA code for {serial} was entered within {seconds} s")]
    Timeout { profile: String, serial: String, seconds: u64 },
    #[error("profile `{profile}`: no valid 6-digit MFA code for {serial} after {tries} tries")]
    TooManyTypos { profile: String, serial: String, tries: u32 },
    #[error("profile `{profile}`: the MFA prompt was closed (end of input)")]
    Closed { profile: String },
    #[error("profile `{profile}`: --mfa-token is not 6 digits")]
    BadFlagCode { profile: String },
    #[error(
        "profile `{profile}`: the MFA code for {serial} given last is one STS had already refused, so it was not sent again"
    )]
    RefusedAgain { profile: String, serial: String },
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
            MfaError::NoTerminal { profile, .. } | MfaError::NoSource { profile, .. } => format!("run `rolegate credential-process {}` once in a terminal to start the day's MFA session (every later call uses it); or pass --mfa-token CODE; or set `rolegate_mfa_process = COMMAND` (a command that prints the code) or `rolegate_ykman_account = NAME` (a YubiKey OATH account) in the profile", crate::config::quote(profile)),
            MfaError::ProcessFailed { what, .. } | MfaError::ProcessTimeout { what, .. } => format!("run the {what} command by hand: it must print the 6-digit code on stdout"),
            MfaError::Timeout { .. } => "run again and type the code within the time, or raise it with --prompt-timeout / ROLEGATE_PROMPT_TIMEOUT (Terraform stops waiting after 60 s)".into(),
            MfaError::TooManyTypos { .. } => "a code is the 6 digits shown by your authenticator app or device".into(),
            MfaError::Closed { .. } => return None,
            MfaError::BadFlagCode { .. } => "pass the 6 digits shown by your authenticator, e.g. --mfa-token 123456".into(),
            MfaError::RefusedAgain { .. } => "wait for the next code your device shows (STS refused this one) and run again".into(),
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

    fn unavailable(&self, profile: &str, serial: &str) -> Option<MfaError> {
        Some(MfaError::NotNow { profile: profile.into(), serial: serial.into() })
    }
}

/// Where codes may come from for one call (flags, environment and profile keys, already merged
/// in that order of precedence by the caller).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub flag_code: Option<String>,
    pub process: Option<String>,
    /// The key that gave `process`, for messages (`rolegate_mfa_process` when `None`).
    pub process_key: Option<&'static str>,
    pub ykman_account: Option<String>,
}

/// The code source for `sources`, in the documented order.
pub fn select(sources: &Sources, env: &crate::context::Env, profile: &str) -> Result<Box<dyn CodeSource>, MfaError> {
    if let Some(raw) = &sources.flag_code {
        return Ok(Box::new(FixedCode::new(raw, profile)?));
    }
    if let Some(line) = &sources.process {
        let mut code = process::ProcessCode::from_line(line);
        code.what = sources.process_key.unwrap_or(code.what);
        return Ok(Box::new(code));
    }
    if let Some(account) = &sources.ykman_account {
        return Ok(Box::new(process::ProcessCode::ykman(account)));
    }
    Ok(Box::new(Interactive { tty: tty::TtyPrompt::new(), gui: gui::GuiPrompt::detect(env), use_gui: false }))
}

/// The terminal when there is one, else a GUI dialog, else an error listing what was tried.
struct Interactive {
    tty: tty::TtyPrompt,
    gui: Option<gui::GuiPrompt>,
    use_gui: bool,
}

impl CodeSource for Interactive {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
        if !self.use_gui {
            match self.tty.code(request) {
                Err(MfaError::NoTerminal { .. }) => self.use_gui = true,
                other => return other,
            }
        }
        match &mut self.gui {
            Some(gui) => gui.code(request),
            None => Err(MfaError::NoSource {
                profile: request.profile.into(),
                serial: request.serial.into(),
                tried: "no --mfa-token, no rolegate_mfa_process, no rolegate_ykman_account, no terminal, no GUI dialog (zenity or kdialog with a DISPLAY)".into(),
            }),
        }
    }
}
