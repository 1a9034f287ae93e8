//! rolegate's cache directory as tests look into it: its `.json` entries (`mfa-*` sessions,
//! `role-*` credentials), read and rewritten as JSON, and the check that nothing was left
//! behind or half-written.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::env::TestEnv;

/// The `.json` entries, sorted.
pub fn entries(env: &TestEnv) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(env.cache_dir()) else { return Vec::new() };
    let mut out: Vec<PathBuf> =
        dir.map(|e| e.expect("dir entry").path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    out.sort();
    out
}

/// The one entry whose name starts with `prefix` (`role-` or `mfa-`).
pub fn entry(env: &TestEnv, prefix: &str) -> PathBuf {
    let found: Vec<PathBuf> = entries(env)
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .collect();
    assert_eq!(found.len(), 1, "one {prefix}* entry expected: {found:?}");
    found.into_iter().next().expect("one entry")
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read entry")).expect("an entry is JSON")
}

/// Rewrites an entry in place (its mode and owner stay).
pub fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec(value).expect("encode")).expect("write entry");
}

pub fn rfc3339(t: OffsetDateTime) -> serde_json::Value {
    serde_json::Value::String(t.format(&Rfc3339).expect("format"))
}

/// The access key id of the credentials an entry holds.
pub fn access_key_of(path: &Path) -> String {
    read_json(path)["credentials"]["access_key_id"].as_str().expect("access_key_id").to_string()
}

/// The temporary files (`.tmp-*`) in the cache directory.
pub fn temporary_files(env: &TestEnv) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(env.cache_dir()) else { return Vec::new() };
    dir.map(|e| e.expect("dir entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".tmp-")))
        .collect()
}

/// No temporary file left behind, and every entry is whole: version 1, credentials, 0600, ours.
pub fn assert_cache_clean(env: &TestEnv) {
    let Ok(dir) = std::fs::read_dir(env.cache_dir()) else { return };
    for path in dir.map(|e| e.expect("dir entry").path()) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        assert!(!name.starts_with(".tmp-"), "a temporary file was left behind: {}", path.display());
        if path.extension().is_some_and(|e| e == "json") {
            let meta = std::fs::symlink_metadata(&path).expect("stat entry");
            assert!(meta.is_file(), "{}", path.display());
            assert_eq!(meta.mode() & 0o777, 0o600, "{}", path.display());
            assert_eq!(meta.uid(), rustix::process::geteuid().as_raw(), "{}", path.display());
            let json = read_json(&path);
            assert_eq!(json["version"], 1, "{}", path.display());
            for field in ["access_key_id", "secret_access_key", "session_token", "expiration"] {
                assert!(json["credentials"][field].is_string(), "{field} in {}", path.display());
            }
        }
    }
}
