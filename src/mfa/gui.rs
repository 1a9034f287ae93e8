//! A GUI dialog for the code when there is no terminal (an IDE, a GUI git client): zenity or
//! kdialog on Linux (with `DISPLAY` or `WAYLAND_DISPLAY` set), osascript on macOS. The dialog
//! program is found on `PATH`; the first present one is used.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use super::{CodeRequest, CodeSource, MfaError};
use crate::context::Env;
use crate::credentials::MfaCode;

pub struct GuiPrompt {
    program: &'static str,
}

impl GuiPrompt {
    /// The dialog program to use, if a display and one of the programs are available.
    pub fn detect(env: &Env) -> Option<GuiPrompt> {
        let path = env.get("PATH").unwrap_or("/usr/bin:/bin");
        let present = |p: &str| path.split(':').any(|d| std::path::Path::new(d).join(p).is_file());
        if cfg!(target_os = "macos") {
            return present("osascript").then_some(GuiPrompt { program: "osascript" });
        }
        if env.get("DISPLAY").is_none() && env.get("WAYLAND_DISPLAY").is_none() {
            return None;
        }
        ["zenity", "kdialog"].into_iter().find(|p| present(p)).map(|program| GuiPrompt { program })
    }

    pub fn program(&self) -> &'static str {
        self.program
    }

    fn command(&self, request: &CodeRequest<'_>) -> Command {
        let text = match request.attempt {
            1 => format!("Enter MFA code for {}", request.serial),
            _ if request.repeated => {
                format!("STS already refused that code. Enter the next MFA code for {}", request.serial)
            }
            _ => format!("That code was not accepted. Enter the next MFA code for {}", request.serial),
        };
        let mut c = Command::new(self.program);
        match self.program {
            "zenity" => c.args(["--entry", "--title", "rolegate", "--text", &text, "--timeout", &request.timeout_seconds.to_string()]),
            "kdialog" => c.args(["--title", "rolegate", "--inputbox", &text]),
            _ => c.args([
                "-e",
                &format!("text returned of (display dialog \"{}\" default answer \"\" with title \"rolegate\" giving up after {})", text.replace('"', "'"), request.timeout_seconds),
            ]),
        };
        c
    }
}

impl CodeSource for GuiPrompt {
    fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
        let failed = |why: String| MfaError::ProcessFailed {
            profile: request.profile.into(),
            what: "the GUI dialog",
            command: self.program.into(),
            why,
        };
        let mut command = self.command(request);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        // Its own process group, killed whole at the deadline (osascript and kdialog may start
        // helpers); a dialog needs no terminal.
        let (child, group) =
            crate::platform::spawn_in_own_group(&mut command, false).map_err(|e| failed(e.to_string()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let output = match rx.recv_timeout(request.deadline.saturating_duration_since(Instant::now())) {
            Ok(r) => r.map_err(|e| failed(e.to_string()))?,
            Err(_) => {
                group.kill();
                return Err(MfaError::Timeout {
                    profile: request.profile.into(),
                    serial: request.serial.into(),
                    seconds: request.timeout_seconds,
                });
            }
        };
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        let code = MfaCode::parse(&text);
        zeroize::Zeroize::zeroize(&mut text);
        if !output.status.success() {
            return Err(failed("the dialog was cancelled".into()));
        }
        code.ok_or_else(|| failed("the text entered is not 6 digits".into()))
    }
}
