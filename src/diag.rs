//! Diagnostics on stderr: warnings and the final error. The only stderr writer besides tracing.
//!
//! Nothing written here may contain a secret: callers pass texts built from names, paths and ARNs.

use std::io::Write;

/// `rolegate: warning: <message>`
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "rolegate: warning: {message}");
}

/// `rolegate: <message>`
pub fn notice(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "rolegate: {message}");
}

/// `error: <message>` then `hint: <hint>`.
pub fn error(message: &str, hint: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "rolegate: error: {message}");
    if let Some(hint) = hint {
        let _ = writeln!(err, "rolegate: hint: {hint}");
    }
}
