//! Codes from a program: `rolegate_mfa_process` or aws-vault's `mfa_process` (any command whose
//! stdout is the code, e.g. a password manager's TOTP command) and YubiKey's
//! `ykman oath accounts code --single ACCOUNT`.
//!
//! The command runs without a shell when it is plain words (no quotes, `$`, pipes or
//! redirections), else with `sh -c`. Its stdin and stderr are the terminal when there is one (a
//! touch-to-confirm message or a PIN prompt reaches the user), else stdin is empty and stderr
//! is ours. It runs in a process group of its own, which has the terminal for its run
//! ([`crate::platform::spawn_in_own_group`]); it is bounded by the prompt deadline, past which
//! the whole group is killed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use super::{CodeRequest, CodeSource, MfaError};
use crate::credentials::MfaCode;

/// A program that prints a code.
pub struct ProcessCode {
    /// What to tell the user on failure: `rolegate_mfa_process` or `ykman`.
    pub what: &'static str,
    pub argv: Vec<String>,
    /// Set when the command needs a shell.
    pub shell_line: Option<String>,
}

const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~', '=', '%', '{', '}',
    '\n',
];

impl ProcessCode {
    /// `rolegate_mfa_process = LINE`.
    pub fn from_line(line: &str) -> ProcessCode {
        if line.contains(SHELL_CHARS) {
            ProcessCode { what: "rolegate_mfa_process", argv: Vec::new(), shell_line: Some(line.to_string()) }
        } else {
            ProcessCode {
                what: "rolegate_mfa_process",
                argv: line.split_whitespace().map(str::to_string).collect(),
                shell_line: None,
            }
        }
    }

    /// `ykman oath accounts code --single ACCOUNT`.
    pub fn ykman(account: &str) -> ProcessCode {
        ProcessCode {
            what: "ykman",
            argv: ["ykman", "oath", "accounts", "code", "--single", account].map(str::to_string).to_vec(),
            shell_line: None,
        }
    }

    fn command(&self) -> Command {
        match &self.shell_line {
            Some(line) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(line);
                c
            }
            None => {
                let mut c = Command::new(&self.argv[0]);
                c.args(&self.argv[1..]);
                c
            }
        }
    }

    fn describe(&self) -> String {
        self.shell_line.clone().unwrap_or_else(|| self.argv.join(" "))
    }
}

impl CodeSource for ProcessCode {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
        let failed = |why: String| MfaError::ProcessFailed {
            profile: request.profile.into(),
            what: self.what,
            command: self.describe(),
            why,
        };
        if self.shell_line.is_none() && self.argv.is_empty() {
            return Err(failed("the command is empty".into()));
        }
        let mut command = self.command();
        command.stdout(Stdio::piped());
        let terminal = match crate::platform::open_terminal_for_child() {
            Ok(tty) => {
                let err = tty.try_clone().map_err(|e| failed(e.to_string()))?;
                command.stdin(tty).stderr(err);
                true
            }
            Err(_) => {
                command.stdin(Stdio::null());
                false
            }
        };
        let _span = tracing::debug_span!("mfa_process", what = self.what).entered();
        let (mut child, group) = crate::platform::spawn_in_own_group(&mut command, terminal)
            .map_err(|e| failed(format!("cannot start it: {e}")))?;
        let mut stdout = child.stdout.take().expect("piped");
        // Its output to the end, then its exit, both within the deadline.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = (&mut stdout).take(4096).read_to_end(&mut out).map(|_| out);
            let status = child.wait();
            if let Err(mpsc::SendError((Ok(mut out), _))) = tx.send((read, status)) {
                zeroize::Zeroize::zeroize(&mut out); // given up on: no one reads it
            }
        });
        let (mut out, status) = match rx.recv_timeout(request.deadline.saturating_duration_since(Instant::now())) {
            Ok((read, status)) => {
                (read.map_err(|e| failed(e.to_string()))?, status.map_err(|e| failed(e.to_string()))?)
            }
            Err(_) => {
                group.kill();
                return Err(MfaError::ProcessTimeout {
                    profile: request.profile.into(),
                    what: self.what,
                    command: self.describe(),
                    seconds: request.timeout_seconds,
                });
            }
        };
        drop(group);
        let text = String::from_utf8_lossy(&out).into_owned();
        zeroize::Zeroize::zeroize(&mut out);
        if !status.success() {
            return Err(failed(format!("it exited with {status}")));
        }
        // ykman prints the bare code with --single; a process may add a newline or a label.
        let code = text.split_whitespace().rev().find_map(MfaCode::parse);
        let mut text = text;
        zeroize::Zeroize::zeroize(&mut text);
        code.ok_or_else(|| failed("it printed no 6-digit code".into()))
    }
}
