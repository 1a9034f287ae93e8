//! Cache keys: a digest of everything that changes a cached result (the plan computes the
//! material; the cache owns the key and its format).

use sha2::{Digest, Sha256};

/// A cache key: a hex digest of everything that changes the result, plus a readable label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    pub digest: String,
    /// Non-secret description stored beside the entry, for `list` and for humans.
    pub label: String,
}

/// The first 16 bytes of SHA-256 of `text`, in hex.
pub fn short_digest(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes())[..16])
}

/// `bytes` in lower-case hex (one of these per profile when `list` or `doctor` plans
/// thousands: no `format!` per byte).
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

impl CacheKey {
    /// The key of `kind` (`mfa`, `role`) for `material`, everything that changes the result.
    pub fn new(kind: &str, material: &str, label: String) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        // The entry format is part of the key: two versions of rolegate sharing a cache never
        // overwrite each other's entries.
        hasher.update(format!("\0v{}\0", super::entry::ENTRY_VERSION).as_bytes());
        hasher.update(material.as_bytes());
        let hex = hex(&hasher.finalize()[..16]);
        CacheKey { digest: format!("{kind}-{hex}"), label }
    }
}
