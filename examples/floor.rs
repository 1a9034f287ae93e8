//! The floor for `bench/cached.sh`: the least work any cached `credential_process` helper does.
//!
//! It reads a `credential_process` JSON file named by its one argument, parses it with serde_json,
//! parses `Expiration` as RFC 3339 with `time`, checks that it is in the future and prints the
//! JSON on stdout. No config files, no cache key, no command-line parser, no logging: whatever
//! rolegate's cached call costs above this program is rolegate's own overhead.
//!
//! ```text
//! cargo run --release --example floor -- creds.json
//! ```

// A benchmark fixture, not part of rolegate: it writes stdout and stderr directly instead of
// going through src/output and src/diag.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Credentials {
    version: u8,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: floor CREDENTIALS.json");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("floor: cannot read {}: {e}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let credentials: Credentials = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("floor: not credential_process JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    let expiration = match OffsetDateTime::parse(&credentials.expiration, &Rfc3339) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("floor: Expiration is not RFC 3339: {e}");
            return ExitCode::FAILURE;
        }
    };
    // rolegate reads the clock through its Context; a fixture has no such seam.
    #[allow(clippy::disallowed_methods)]
    let now = OffsetDateTime::now_utc();
    if expiration <= now {
        eprintln!("floor: the credentials expired at {}", credentials.expiration);
        return ExitCode::FAILURE;
    }
    let mut text = match serde_json::to_string(&credentials) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("floor: cannot encode: {e}");
            return ExitCode::FAILURE;
        }
    };
    text.push('\n');
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: cannot write stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
