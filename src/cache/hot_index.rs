//! The hot index: from "this profile, these files, this environment" straight to a cache entry,
//! so a cache hit skips parsing the config and planning (about a quarter of a cached call).
//!
//! The fingerprint hashes: the profile name, the config and credentials paths with each file's
//! device, inode, size and modification time (any edit changes it), every `AWS_*`, `ROLEGATE_*`,
//! `HOME` and `XDG_CACHE_HOME` variable (secret values only as present/absent), and the flags
//! that change the plan. `index-<fingerprint>` holds the digest of the result key the full path
//! computed for it. A missing or unreadable index is a miss; the full path then writes it.
//! The entry it points to is checked for freshness like any other.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::CacheKey;
use super::{Cache, Entry, read_private};
use crate::config::ConfigPaths;
use crate::context::Context;

/// Variables whose values are secret: only their presence enters the fingerprint.
const SECRET_VARS: &[&str] =
    &["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"];

/// The fingerprint of a request, or `None` if a file cannot be inspected (then no shortcut).
pub fn fingerprint(ctx: &Context, paths: &ConfigPaths, profile: &str, flags: &str) -> Option<String> {
    let mut h = Sha256::new();
    h.update(b"rolegate-hot-index-v1\0");
    h.update(profile.as_bytes());
    h.update(b"\0");
    h.update(flags.as_bytes());
    for path in [&paths.config, &paths.credentials] {
        h.update(b"\0");
        h.update(path.as_os_str().as_encoded_bytes());
        match std::fs::metadata(path) {
            Ok(m) => h.update(format!(":{}:{}:{}:{}:{}", m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => h.update(b":missing"),
            Err(_) => return None,
        }
    }
    let mut vars: Vec<(&String, &String)> = ctx
        .env
        .as_map()
        .iter()
        .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("ROLEGATE_") || *k == "HOME" || *k == "XDG_CACHE_HOME")
        .collect();
    vars.sort();
    for (k, v) in vars {
        h.update(b"\0");
        h.update(k.as_bytes());
        h.update(b"=");
        if SECRET_VARS.contains(&k.as_str()) {
            h.update(if v.is_empty() { "unset" } else { "set" });
        } else {
            h.update(v.as_bytes());
        }
    }
    Some(h.finalize().iter().take(16).fold(String::with_capacity(32), |mut s, b| {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
        s
    }))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Cache {
    /// The entry the index names for `fingerprint`, if both exist and are readable.
    pub fn lookup_index(&self, fingerprint: &str) -> Option<Entry> {
        let bytes = read_private(&self.dir.join(format!("index-{fingerprint}"))).ok()??;
        let digest = std::str::from_utf8(&bytes).ok()?.trim();
        if !digest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || digest.is_empty() {
            return None;
        }
        self.read(&CacheKey { digest: digest.to_string(), label: String::new() })
    }

    /// Records that `fingerprint` resolves to `key` (best effort: a failure only costs speed).
    pub fn store_index(&self, fingerprint: &str, key: &CacheKey) {
        let result = (|| -> std::io::Result<()> {
            let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&self.dir)?;
            tmp.write_all(key.digest.as_bytes())?;
            tmp.persist(self.dir.join(format!("index-{fingerprint}"))).map_err(|e| e.error)?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::debug!(error = %e, dir = %Path::display(&self.dir), "cannot write the hot index");
        }
    }
}
