//! Diagnostics on stderr: warnings and the final error. The only stderr writer besides tracing.
//! With a log file (`ROLEGATE_LOG_FILE`), each one is also logged there, as an event of
//! [`TARGET`].
//!
//! Nothing written here may contain a secret: callers pass texts built from names, paths and ARNs.

use std::io::Write;

/// The tracing target of the diagnostics' copies in the log file.
pub const TARGET: &str = "rolegate::diag";

/// `rolegate: warning: <message>`
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "rolegate: warning: {message}");
    tracing::warn!(target: TARGET, "{message}");
}

/// `rolegate: <message>`
pub fn notice(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "rolegate: {message}");
    tracing::info!(target: TARGET, "{message}");
}

/// `error: <message>` then `hint: <hint>`.
pub fn error(message: &str, hint: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "rolegate: error: {message}");
    if let Some(hint) = hint {
        let _ = writeln!(err, "rolegate: hint: {hint}");
    }
    tracing::error!(target: TARGET, hint, "{message}");
}

/// Opens the log file for appending, creating it private (0600). Appends of one event are one
/// `write`, so the lines of processes sharing the file do not interleave.
pub fn open_log_file(path: &str) -> std::io::Result<std::fs::File> {
    crate::platform::open_append_private(std::path::Path::new(path))
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
