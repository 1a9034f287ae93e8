//! The per-key lock: a held `flock` on `<key>.lock`, and the only way to store an entry.

use std::fs::File;
use std::io::Write;
use std::sync::mpsc;
use std::time::Instant;

use super::CacheKey;
use super::{Cache, CacheError, Entry};

/// A held lock on one key. Dropping it releases the lock.
pub struct Locked<'a> {
    cache: &'a Cache,
    key: CacheKey,
    _file: File,
    /// Whether another process held the lock when we asked for it.
    pub waited: bool,
}

impl<'a> Locked<'a> {
    pub(super) fn acquire(cache: &'a Cache, key: &CacheKey, deadline: Instant) -> Result<Locked<'a>, CacheError> {
        let path = cache.path(key, "lock");
        let file = crate::platform::open_lock_file(&path).map_err(|source| CacheError::Io {
            action: "open the lock",
            path: path.clone(),
            source,
        })?;
        let waited = match file.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::debug!(key = %key.digest, "waiting for the lock");
                wait_for_lock(&file, deadline).map_err(|e| match e {
                    Some(source) => CacheError::Io { action: "lock", path: path.clone(), source },
                    None => CacheError::LockTimeout { label: key.label.clone() },
                })?;
                true
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(CacheError::Io { action: "lock", path, source }),
        };
        Ok(Locked { cache, key: key.clone(), _file: file, waited })
    }

    /// Re-reads the entry under the lock.
    pub fn read(&self) -> Option<Entry> {
        self.cache.read(&self.key)
    }

    /// Stores an entry atomically: a 0600 temporary file in the cache directory, fsync, rename.
    /// An entry of another version of rolegate at the same place is left alone (the key digest
    /// includes the version, so only a hand-made file gets there).
    pub fn store(&self, entry: &Entry) -> Result<(), CacheError> {
        let dir = &self.cache.dir;
        if let Ok(Some(mut existing)) = super::read_private(&self.cache.path(&self.key, "json")) {
            // Only the version is read; the secrets in it are skipped, not copied.
            #[derive(serde::Deserialize)]
            struct Version {
                version: u32,
            }
            let version = serde_json::from_slice::<Version>(&existing).ok().map(|v| v.version);
            zeroize::Zeroize::zeroize(&mut existing);
            if version.is_some_and(|v| v != super::entry::ENTRY_VERSION) {
                tracing::debug!(key = %self.key.digest, "an entry of another version is in place; not replacing it");
                return Ok(());
            }
        }
        let io = |action, source| CacheError::Io { action, path: dir.clone(), source };
        let mut bytes = serde_json::to_vec(entry).map_err(|e| io("encode an entry for", e.into()))?;
        let result = (|| {
            // tempfile creates the file with mode 0600 (O_EXCL, in our 0700 directory).
            let mut tmp =
                tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(|e| io("create a file in", e))?;
            tmp.write_all(&bytes).map_err(|e| io("write to", e))?;
            tmp.as_file().sync_all().map_err(|e| io("sync a file in", e))?;
            tmp.persist(self.cache.path(&self.key, "json")).map_err(|e| io("rename a file in", e.error))?;
            Ok(())
        })();
        zeroize::Zeroize::zeroize(&mut bytes);
        result
    }

    /// Removes the entry (under the lock); `false` if there was none.
    pub fn remove(&self) -> Result<bool, CacheError> {
        let path = self.cache.path(&self.key, "json");
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CacheError::Io { action: "remove", path, source }),
        }
    }
}

/// Blocks on the lock until `deadline`. std's `File::lock` has no timeout, so a helper thread
/// takes it on a duplicate descriptor (flock belongs to the open file, so the lock is ours),
/// and we stop waiting at the deadline; the process then exits with the error, ending the thread.
/// `Err(None)` is a timeout.
fn wait_for_lock(file: &File, deadline: Instant) -> Result<(), Option<std::io::Error>> {
    let clone = file.try_clone().map_err(Some)?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let locked = clone.lock();
        // The lock belongs to the open file description, which `file` keeps open: this
        // descriptor must be closed before the caller learns it has the lock, or the lock would
        // outlive the caller's `Locked` for as long as this thread takes to end (and a next
        // lock of the same key in this process would find it taken).
        drop(clone);
        let _ = tx.send(locked);
    });
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(result) => result.map_err(Some),
        Err(_) => Err(None),
    }
}
