//! The cache of MFA sessions and role credentials.
//!
//! Layout: one directory (mode 0700, owned by the user) holding `<key>.json` entries (0600 from
//! creation, written to a temporary file, fsynced, then renamed into place) and `<key>.lock`
//! files. A key is a digest of everything that changes the result (see [`key`]).
//!
//! Invariants:
//! - an entry is served only with at least [`min_remaining_seconds`] of validity left: 15 min
//!   (botocore's advisory refresh) for an entry that lived 30 min or more, down to 11 min (its
//!   mandatory refresh and a minute) for shorter ones, so a 900-second role is assumed once and
//!   served for 4 minutes;
//! - a bad entry (truncated, corrupt, wrong mode, foreign owner, a symlink) is a miss with a
//!   warning, never a crash, and is never followed;
//! - refreshing happens only under the key's lock (a kernel `flock`, released by the kernel if
//!   its holder dies), and the entry is re-read after the lock is taken, so N concurrent cold
//!   calls make one prompt and one STS call. [`Locked`] is the only way to store.

pub mod entry;
pub mod hot_index;
pub mod key;
mod lock;

pub use entry::Entry;
pub use key::CacheKey;
pub use lock::Locked;

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use time::OffsetDateTime;

use crate::platform;

/// botocore's advisory refresh: with less validity left than this, the Python SDKs ask their
/// credential source again before each call (and keep the credentials they have if nothing
/// newer comes).
pub const ADVISORY_REFRESH_SECONDS: i64 = 15 * 60;
/// botocore's mandatory refresh: with less left than this, the Python SDKs must get newer
/// credentials before each call. It is the widest window of the SDKs: the Go SDK v2 (Terraform's
/// AWS provider) refreshes credential_process results at their expiry and container
/// credentials 5 min before, the JavaScript SDK v3 5 min before, the Rust SDK 10 s before.
pub const MANDATORY_REFRESH_SECONDS: i64 = 10 * 60;
/// Over the mandatory window: covers the call's own time, the SDK's jitter and a clock that
/// moves between our check and the SDK's.
const REFRESH_MARGIN_SECONDS: i64 = 60;

/// The least validity an entry that lived `lifetime_seconds` (from its issue to its expiry) must
/// have left to be served: half its lifetime, at least the SDKs' mandatory window and a minute
/// (11 min), at most botocore's advisory window (15 min).
///
/// Long-lived credentials (an MFA session, a one-hour role) are renewed with 15 min left, as the
/// Python SDKs would like, and come back with far more. A short role (900 s, AWS's minimum) can
/// never have 15 min left; one that has more than 11 min left is still accepted by every SDK (the
/// Python SDKs ask again before each call and keep it), so it is served until then: assumed once,
/// served for 4 minutes, instead of assumed on every call.
pub fn min_remaining_seconds(lifetime_seconds: i64) -> i64 {
    (lifetime_seconds / 2).clamp(MANDATORY_REFRESH_SECONDS + REFRESH_MARGIN_SECONDS, ADVISORY_REFRESH_SECONDS)
}
/// Largest entry read (a real one is under 2 KiB).
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("the cache directory {} is owned by another user (uid {owner})", path.display())]
    ForeignDir { path: PathBuf, owner: u32 },
    #[error("the cache directory {} is writable by other users (mode {mode:o})", path.display())]
    OpenDir { path: PathBuf, mode: u32 },
    #[error("the cache directory {} is not a directory", path.display())]
    NotADir { path: PathBuf },
    #[error("{} cannot hold copies of your AWS files: {why}", path.display())]
    NotPrivate { path: PathBuf, why: String },
    #[error("no cache directory: HOME is not set")]
    NoDir,
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out waiting for another rolegate process working on {label}")]
    LockTimeout { label: String },
    #[error("another rolegate process was getting {label} and did not succeed")]
    OtherFailed { label: String },
}

impl CacheError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CacheError::ForeignDir { path, .. } => format!(
                "use a directory of your own with --cache-dir or ROLEGATE_CACHE_DIR, or `chown $(id -u) {}`",
                path.display()
            ),
            CacheError::OpenDir { path, .. } => format!("run `chmod 700 {}`", path.display()),
            CacheError::NotADir { .. } => "point --cache-dir / ROLEGATE_CACHE_DIR at a directory".into(),
            CacheError::NotPrivate { path, .. } => {
                format!("remove it (`rm -r {}`): rolegate makes it again, private", path.display())
            }
            CacheError::NoDir => "set HOME, XDG_CACHE_HOME or ROLEGATE_CACHE_DIR".into(),
            CacheError::Io { .. } => "check the free space and permissions of the cache directory".into(),
            CacheError::LockTimeout { .. } => {
                "another rolegate is waiting for an MFA code on a terminal: type it there, or stop it and run again"
                    .into()
            }
            CacheError::OtherFailed { .. } => {
                "see the other process's error (for example a prompt that timed out); run again to be asked yourself"
                    .into()
            }
        })
    }
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache at `dir`. Nothing is created or checked until it is used.
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks that the directory is private to this user; creates it (0700) if `create`.
    /// Returns `false` if it does not exist and was not created.
    pub fn check_dir(&self, create: bool) -> Result<bool, CacheError> {
        let meta = match fs::metadata(&self.dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Ok(false);
                }
                if let Some(parent) = self.dir.parent() {
                    fs::create_dir_all(parent).map_err(|source| CacheError::Io {
                        action: "create",
                        path: parent.into(),
                        source,
                    })?;
                }
                platform::create_private_dir(&self.dir).map_err(|source| CacheError::Io {
                    action: "create",
                    path: self.dir.clone(),
                    source,
                })?;
                fs::metadata(&self.dir).map_err(|source| CacheError::Io {
                    action: "inspect",
                    path: self.dir.clone(),
                    source,
                })?
            }
            Err(source) => return Err(CacheError::Io { action: "inspect", path: self.dir.clone(), source }),
        };
        if !meta.is_dir() {
            return Err(CacheError::NotADir { path: self.dir.clone() });
        }
        if platform::owner(&meta) != platform::my_uid() {
            return Err(CacheError::ForeignDir { path: self.dir.clone(), owner: platform::owner(&meta) });
        }
        if platform::mode(&meta) & 0o022 != 0 {
            return Err(CacheError::OpenDir { path: self.dir.clone(), mode: platform::mode(&meta) });
        }
        Ok(true)
    }

    fn path(&self, key: &CacheKey, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", key.digest))
    }

    /// Reads an entry; any problem is a miss (with a warning when the entry exists but is bad).
    pub fn read(&self, key: &CacheKey) -> Option<Entry> {
        let path = self.path(key, "json");
        match read_private(&path) {
            Ok(Some(mut bytes)) => {
                let entry = serde_json::from_slice::<Entry>(&bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
                match entry {
                    Ok(e) if e.version != entry::ENTRY_VERSION => {
                        warn(&format!(
                            "ignoring the cache entry {}: it is version {} (this rolegate writes version {}); it is left in place",
                            path.display(),
                            e.version,
                            entry::ENTRY_VERSION
                        ));
                        None
                    }
                    Ok(e) => Some(Entry { path: Some(path), ..e }),
                    Err(_) => {
                        warn(&format!(
                            "ignoring the unreadable cache entry {} (corrupt or from another version)",
                            path.display()
                        ));
                        None
                    }
                }
            }
            Ok(None) => None,
            Err(why) => {
                warn(&format!("ignoring the cache entry {}: {why}", path.display()));
                None
            }
        }
    }

    /// Takes the key's lock, waiting until `deadline` at most. `waited` in the result tells
    /// whether another process held it.
    pub fn lock(&self, key: &CacheKey, deadline: Instant) -> Result<Locked<'_>, CacheError> {
        self.check_dir(true)?;
        Locked::acquire(self, key, deadline)
    }

    /// Every entry in the cache (for `list` and `clear`).
    pub fn entries(&self) -> Vec<(PathBuf, Option<Entry>)> {
        let Ok(dir) = fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out: Vec<_> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let entry = read_private(&p).ok().flatten().and_then(|mut b| {
                    let e = serde_json::from_slice(&b).ok();
                    zeroize::Zeroize::zeroize(&mut b);
                    e
                });
                (p, entry)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

impl Cache {
    /// Removes the entry of `digest` under its lock; `false` if there was none.
    pub fn remove_entry(&self, digest: &str, deadline: Instant) -> Result<bool, CacheError> {
        let key = CacheKey { digest: digest.to_string(), label: digest.to_string() };
        self.lock(&key, deadline)?.remove()
    }

    /// Removes the hot index and the generated configs (derived data, rebuilt on demand).
    pub fn remove_derived(&self) -> Result<(), CacheError> {
        let io = |path: PathBuf, source| CacheError::Io { action: "remove", path, source };
        if let Ok(dir) = fs::read_dir(&self.dir) {
            for path in dir.filter_map(Result::ok).map(|e| e.path()) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with(hot_index::INDEX_PREFIX) || name.starts_with(hot_index::STAMP_PREFIX) {
                    fs::remove_file(&path).map_err(|e| io(path.clone(), e))?;
                }
            }
        }
        let generated = self.dir.join("generated");
        match fs::remove_dir_all(&generated) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(generated, e)),
            _ => Ok(()),
        }
    }
}

/// Whether an entry may be served at `now`: at least [`min_remaining_seconds`] of its lifetime
/// left.
pub fn is_fresh(entry: &Entry, now: OffsetDateTime, not_before: Option<OffsetDateTime>) -> bool {
    let lifetime = (entry.credentials.expiration - entry.issued_at).whole_seconds();
    if entry.credentials.seconds_left(now) < min_remaining_seconds(lifetime) {
        return false;
    }
    // An entry issued in the future means a clock that jumped: do not trust it.
    if entry.issued_at > now + time::Duration::minutes(5) {
        let path = entry.path.as_ref().map_or_else(String::new, |p| format!(" {}", p.display()));
        warn(&format!("ignoring the cache entry{path}: it was issued in the future (was the clock changed?)"));
        return false;
    }
    not_before.is_none_or(|t| entry.issued_at >= t)
}

/// Reads a cache file that must be a regular file, owned by us, mode 0600, not a symlink.
/// `Ok(None)` when it does not exist.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = platform::open_read_nofollow(path);
    let mut file: File = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if platform::is_symlink_error(&e) => {
            return Err("it is a symbolic link".into());
        }
        Err(e) => return Err(e.to_string()),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if platform::owner(&meta) != platform::my_uid() {
        return Err("owned by another user".into());
    }
    if platform::mode(&meta) & 0o077 != 0 {
        return Err(format!("its mode is {:o}, not 600", platform::mode(&meta) & 0o777));
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err("too large".into());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(Some(bytes))
}

/// A warning on stderr (never with a secret in it), once per process however often the same
/// entry is read.
pub(crate) fn warn(message: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if said.iter().any(|m| m == message) {
        return;
    }
    said.push(message.to_string());
    tracing::warn!("{message}");
    crate::diag::warn(message);
}
