//! Everything rolegate prints on stdout. stdout is an API (Terraform and the SDKs parse it), so
//! this module is its only writer.

pub mod credential_process;
pub mod env;
pub mod export;
pub mod list;

use std::io::Write;

/// Writes `text` to stdout. A closed pipe (the reader went away) is not an error worth a crash.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
