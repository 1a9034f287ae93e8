//! The terminal prompt: `Enter MFA code for <serial>: ` on `/dev/tty`, with a deadline.
//!
//! Echo stays on (as in the AWS CLI's and aws-vault's prompts): a TOTP code is single-use and
//! short-lived, and leaving the terminal's mode untouched means a kill at any moment cannot
//! leave the user's terminal without echo.

use std::fs::File;
use std::io::{Read, Write};
use std::time::Instant;

use super::{CodeRequest, CodeSource, MfaError};
use crate::credentials::MfaCode;

/// Typos accepted before giving up.
pub const MAX_TYPOS: u32 = 3;

pub struct TtyPrompt {
    tty: Option<File>,
}

impl TtyPrompt {
    pub fn new() -> TtyPrompt {
        TtyPrompt { tty: None }
    }

    fn open(&mut self, request: &CodeRequest<'_>) -> Result<&mut File, MfaError> {
        if self.tty.is_none() {
            let file = crate::platform::open_terminal()
                .map_err(|_| MfaError::NoTerminal { profile: request.profile.into(), serial: request.serial.into() })?;
            self.tty = Some(file);
        }
        Ok(self.tty.as_mut().expect("opened above"))
    }
}

impl Default for TtyPrompt {
    fn default() -> Self {
        TtyPrompt::new()
    }
}

impl CodeSource for TtyPrompt {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
        let profile = request.profile.to_string();
        let io = |source| MfaError::Io { profile: profile.clone(), source };
        let tty = self.open(request)?;
        if let Some(notice) = request.notice {
            writeln!(tty, "rolegate: {notice}").map_err(io)?;
        }
        if request.attempt > 1 {
            writeln!(tty, "rolegate: that code was not accepted; wait for the next one.").map_err(io)?;
        }
        for typo in 0..MAX_TYPOS {
            write!(tty, "Enter MFA code for {}: ", request.serial).map_err(io)?;
            tty.flush().map_err(io)?;
            let mut line = match read_line(tty, request.deadline) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    let _ = writeln!(tty);
                    return Err(MfaError::Timeout {
                        profile,
                        serial: request.serial.into(),
                        seconds: request.timeout_seconds,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(MfaError::Closed { profile }),
                Err(e) => return Err(io(e)),
            };
            let code = MfaCode::parse(&line);
            zeroize::Zeroize::zeroize(&mut line);
            if let Some(code) = code {
                return Ok(code);
            }
            if typo + 1 < MAX_TYPOS {
                writeln!(tty, "rolegate: an MFA code is 6 digits; try again.").map_err(io)?;
            }
        }
        Err(MfaError::TooManyTypos { profile, serial: request.serial.into(), tries: MAX_TYPOS })
    }
}

/// Reads one line before `deadline`: `Ok(None)` on timeout. The terminal is in canonical mode,
/// so a read returns when the user presses Enter.
pub(crate) fn read_line(tty: &mut File, deadline: Instant) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(16);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            zeroize::Zeroize::zeroize(&mut buf);
            return Ok(None);
        }
        if !crate::platform::wait_readable(tty, left)? {
            continue;
        }
        let mut chunk = [0u8; 64];
        let n = tty.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        zeroize::Zeroize::zeroize(&mut chunk);
        if buf.contains(&b'\n') || buf.len() > 256 {
            let line = String::from_utf8_lossy(&buf).into_owned();
            zeroize::Zeroize::zeroize(&mut buf);
            return Ok(Some(line));
        }
    }
}
