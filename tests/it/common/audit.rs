//! The leak audit: with `ROLEGATE_TEST_AUDIT=1`, the whole suite runs at maximum verbosity and
//! every test environment is scanned for secrets when it ends.
//!
//! In audit mode every `rolegate` process a test starts (directly, or through Terraform, the AWS
//! CLI, a shell or a shim) logs at trace level to a log file, which also receives every warning
//! and error rolegate prints. When a [`TestEnv`](super::env::TestEnv) is dropped, the secrets of
//! that test (the base keys of its credentials files, the session keys of its cache entries and
//! of every credential-channel output it saw, the MFA codes it sent) are looked for in:
//! - every stderr the test captured from `rolegate`, and every stdout that is not a credential
//!   channel (`credential-process`, `export`, `exec`, `login --print` are channels);
//! - every `*.log` file under the test's directory (rolegate's log files, Terraform's wrappers);
//! - every file rolegate keeps in its cache directory except the 0600 cache entries (the hot
//!   index, locks, the generated config), and every other file under the test directory for
//!   key material (not for MFA codes: tests write codes into their own scripts). Keys a profile
//!   file declares (`aws_secret_access_key = ...`) may be in that file and its backups.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;

/// Whether this run is the audit run.
pub fn enabled() -> bool {
    std::env::var("ROLEGATE_TEST_AUDIT").is_ok_and(|v| v == "1")
}

/// The log file every process of a test writes to in audit mode.
pub const LOG_NAME: &str = "rolegate-audit.log";

/// Files larger than this are test inputs (the 50 MB hostile config), never rolegate's.
const MAX_SCANNED_BYTES: u64 = 4 << 20;
/// Shorter "secrets" are placeholders of hostile test configs, not key material.
const MIN_KEY_LEN: usize = 16;

/// MFA codes any strict STS stand-in received, across tests (a code is never loggable).
static CODES_SENT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

pub fn note_code(code: &str) {
    CODES_SENT.lock().unwrap_or_else(|e| e.into_inner()).insert(code.to_owned());
}

/// Secret keys a test handed rolegate some other way than a profile file (`add --env`, a key
/// IAM made for `rotate`): looked for like the others.
static KEYS_NOTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

pub fn note_secret(secret: &str) {
    KEYS_NOTED.lock().unwrap_or_else(|e| e.into_inner()).insert(secret.to_owned());
}

/// What a test captured from its `rolegate` commands.
#[derive(Default)]
pub struct Audit {
    records: Mutex<Vec<Record>>,
}

struct Record {
    args: Vec<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Audit {
    pub fn record(&self, args: &[String], output: &Output) {
        let record = Record { args: args.to_vec(), stdout: output.stdout.clone(), stderr: output.stderr.clone() };
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }

    /// Scans everything of the test in `dir` (see the module's text); panics naming the leak.
    pub fn scan(&self, dir: &Path) {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys = BTreeSet::new();
        keys.insert(super::env::BASE_SECRET.to_string());
        keys.extend(KEYS_NOTED.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned());
        let mut codes: BTreeSet<String> = CODES_SENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut texts: Vec<(String, String)> = Vec::new();

        for r in records.iter() {
            let what = format!("rolegate {}", r.args.join(" "));
            if let Some(i) = r.args.iter().position(|a| a == "--mfa-token") {
                codes.extend(r.args.get(i + 1).cloned());
            }
            let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
            if is_channel(&r.args) {
                keys.extend(keys_in_channel_output(&stdout));
            } else {
                texts.push((format!("stdout of `{what}`"), stdout));
            }
            texts.push((format!("stderr of `{what}`"), String::from_utf8_lossy(&r.stderr).into_owned()));
        }

        let mut key_only_files = Vec::new();
        for file in walk(dir) {
            let Ok(meta) = std::fs::symlink_metadata(&file) else { continue };
            if !meta.is_file() || meta.len() > MAX_SCANNED_BYTES {
                continue;
            }
            let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let Ok(bytes) = std::fs::read(&file) else { continue };
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if is_cache_entry(meta.permissions().mode(), &text) {
                keys.extend(keys_in_entry(&text));
            } else if let Some(found) = keys_in_channel_file(&text) {
                // A test redirected a credential channel's stdout into this file.
                keys.extend(found);
            } else if is_profile_file(&file, &name) {
                // Keys a test configured: in a profile file they are where they belong; any
                // other key in it is a leak.
                let own = keys_in_profile_file(&text);
                let mut rest = text.clone();
                for key in &own {
                    rest = rest.replace(key.as_str(), "");
                }
                keys.extend(own);
                key_only_files.push((file.display().to_string(), rest));
            } else if name.ends_with(".log") || in_cache_dir(&file) {
                texts.push((file.display().to_string(), text));
            } else {
                key_only_files.push((file.display().to_string(), text));
            }
        }

        let keys: Vec<String> = keys.into_iter().filter(|k| k.len() >= MIN_KEY_LEN).collect();
        for (place, text) in texts.iter().chain(key_only_files.iter()) {
            for key in &keys {
                assert!(
                    !text.contains(key.as_str()),
                    "audit: a secret ({key:.6}...) leaked into {place}:\n{}",
                    excerpt(text, key)
                );
            }
        }
        for (place, text) in &texts {
            for code in &codes {
                if let Some(at) = find_code(text, code) {
                    panic!("audit: an MFA code ({code}) leaked into {place}:\n{}", excerpt(&text[at..], code));
                }
            }
        }
    }
}

/// Subcommands whose stdout carries credentials by design.
fn is_channel(args: &[String]) -> bool {
    let sub = args.iter().find(|a| !a.starts_with('-')).map(String::as_str);
    matches!(sub, Some("credential-process" | "export" | "exec" | "login"))
}

/// Secret values in a `credential_process` JSON or an `export` in any format.
fn keys_in_channel_output(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text.trim()) {
        for field in ["SecretAccessKey", "SessionToken"] {
            out.extend(json[field].as_str().map(str::to_owned));
        }
    }
    for name in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        for (i, _) in text.match_indices(name) {
            let rest = &text[i + name.len()..];
            let value: String = rest
                .trim_start_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '+'))
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/+=".contains(*c))
                .collect();
            out.push(value);
        }
    }
    out
}

fn keys_in_entry(text: &str) -> Vec<String> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else { return Vec::new() };
    ["secret_access_key", "session_token"]
        .iter()
        .filter_map(|f| json["credentials"][f].as_str().map(str::to_owned))
        .collect()
}

/// The keys of a file that holds exactly a `credential_process` document.
fn keys_in_channel_file(text: &str) -> Option<Vec<String>> {
    let json = serde_json::from_str::<serde_json::Value>(text.trim()).ok()?;
    (json["Version"] == 1 && json["AccessKeyId"].is_string()).then(|| keys_in_channel_output(text))
}

/// A shared config or credentials file a test wrote, `setup`'s backup of one, or `exec`'s
/// private copy of a credentials file (the generated config is scanned like any other file).
fn is_profile_file(path: &Path, name: &str) -> bool {
    // `exec`'s private copy of a credentials file (0600, in the cache's `generated/` or the
    // runtime directory's `rolegate/`) keeps the sections it does not rewrite, keys included.
    let generated = path.parent().is_some_and(|d| d.ends_with("generated") || d.ends_with("rolegate"));
    if generated && name.starts_with("credentials-") {
        return true;
    }
    // `setup` backs a file up beside it, with its mode: the backup holds what the file held.
    let name = name.split(".rolegate-backup-").next().unwrap_or(name);
    !in_cache_dir(path) && (matches!(name, "config" | "credentials") || name.ends_with(".credentials"))
}

fn keys_in_profile_file(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| matches!(k.trim(), "aws_secret_access_key" | "aws_session_token"))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// A cache entry (or a test's copy of one): a private JSON file in the entry format.
fn is_cache_entry(mode: u32, text: &str) -> bool {
    mode & 0o777 == 0o600 && !keys_in_entry(text).is_empty()
}

fn in_cache_dir(path: &Path) -> bool {
    path.ancestors().any(|a| a.file_name().is_some_and(|n| n == "rolegate" || n == "cache"))
}

/// `code` as a number of its own: not inside a longer number (an account id), nor the fraction
/// of a timestamp, nor a process id in the log (`pid=`).
fn find_code(text: &str, code: &str) -> Option<usize> {
    text.match_indices(code).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
            && !text[..i].ends_with("pid=")
            && !is_signing_time(text, i, code.len())
    })
}

/// Whether the six digits at `i` are the time of a SigV4 timestamp (`20261130T222222Z`), which
/// STS's clock-skew refusals quote: a code that happens to read as the time of day is not a leak.
fn is_signing_time(text: &str, i: usize, len: usize) -> bool {
    let date = i.checked_sub(9).and_then(|start| text.get(start..i));
    date.is_some_and(|d| d.ends_with('T') && d[..8].bytes().all(|b| b.is_ascii_digit()))
        && text[i + len..].starts_with('Z')
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        // Terraform's providers and plugin caches: binaries, never written by rolegate.
        if is_dir && path.file_name().is_some_and(|n| n == ".terraform" || n == "plugins") {
            continue;
        }
        if is_dir { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

fn excerpt(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or(0);
    let start = text[..i].char_indices().rev().nth(200).map_or(0, |(p, _)| p);
    let end = (i + needle.len()).min(text.len());
    format!("{}[SECRET]", &text[start..i]) + &text[end..text.len().min(end + 80)]
}
