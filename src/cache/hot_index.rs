//! The hot index: from "this profile, these files, this environment" straight to a cache entry,
//! so a cache hit skips parsing the config and planning (about a quarter of a cached call).
//!
//! It memoizes the planner, so its key hashes the planner's real inputs (each length-prefixed or
//! tagged, so that no two sets of inputs hash the same bytes):
//! - the version: rolegate's own (`CARGO_PKG_VERSION`), the entry format and this index's format
//!   ([`version_line`]): another rolegate computes other names, and never reads ours;
//! - the profile name and the flags that change the plan;
//! - the config and credentials paths and the **contents** of both files (read, not parsed: a
//!   few microseconds), or that a file is missing. A file of [`STAMP_MIN_BYTES`] or more (a
//!   generated configuration of thousands of profiles) is hashed once: its digest is kept under
//!   the file's change stamp (device, inode, size, modification and status-change times), which
//!   any write changes, and only for a file last changed at least 2 s before it was hashed. A file that is not a regular file (a FIFO, a
//!   device), larger than [`MAX_FILE_BYTES`] or unreadable gives no fingerprint: the ordinary
//!   path then reads it and reports what is wrong;
//! - the names and values of the variables in [`KEY_VARS`], every one the planner, the file
//!   lookup and the cache-directory choice read (a test runs the planner on every plan vector
//!   with an environment that records the names read, and fails on one missing here). Secret
//!   values ([`SECRET_VARS`]) enter as their own SHA-256, never stored.
//!
//! `index-<fingerprint>` (0600, written atomically) holds the [`version_line`] and the digest of
//! the result key the full path computed for it; an index whose first line is not this version's
//! (another version, or the first format, which held the bare digest) is a miss. A missing or
//! unreadable index is a miss; the full path then writes it. The entry it points to is checked for
//! freshness like any other.
//!
//! Old index files are pruned when one is written (never on a hit): those untouched for
//! [`INDEX_MAX_AGE`] (by then the entry each names has expired anyway), and beyond the newest
//! [`INDEX_MAX_FILES`]. `clear --all` removes them all.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::{Cache, CacheKey, Entry, entry, read_private};
use crate::config::{ConfigPaths, MAX_FILE_BYTES};
use crate::context::Context;
use crate::env_vars;
use crate::platform;

/// The format of the index files. 1: `index-<fingerprint>` held the bare digest, and the
/// fingerprint hashed the files' metadata; 2: the files' contents, the version, a header line.
pub const INDEX_FORMAT: u32 = 2;
/// The prefix of an index file's name (both formats).
pub const INDEX_PREFIX: &str = "index-";
/// An index file untouched for this long is removed when another one is written. The longest a
/// cache entry lives is 36 h (an MFA session of 129 600 s), so the entry it names has expired,
/// unless another command refreshed it; then the miss costs one parse and the index is rewritten.
pub const INDEX_MAX_AGE: Duration = Duration::from_secs(48 * 3600);
/// At most this many index files are kept (the most recently written).
pub const INDEX_MAX_FILES: usize = 64;
/// A prune looks at no more than this many directory entries.
const PRUNE_SCAN_LIMIT: usize = 4096;

/// The environment variables whose values the planner's result depends on: the file lookup
/// (`ConfigPaths::locate`), the cache directory (`Context::default_cache_dir`), the profile
/// (`plan::profile_name`), the recursion guard and `plan::plan` itself. Values enter the
/// fingerprint byte for byte; an empty variable is unset, as the planner reads it.
pub const KEY_VARS: &[&str] = &[
    env_vars::HOME,
    env_vars::XDG_CACHE_HOME,
    env_vars::ROLEGATE_CACHE_DIR,
    env_vars::AWS_CONFIG_FILE,
    env_vars::AWS_SHARED_CREDENTIALS_FILE,
    env_vars::ROLEGATE_CONFIG_FILE,
    env_vars::ROLEGATE_SHARED_CREDENTIALS_FILE,
    env_vars::AWS_PROFILE,
    env_vars::AWS_DEFAULT_PROFILE,
    env_vars::AWS_REGION,
    env_vars::AWS_DEFAULT_REGION,
    env_vars::AWS_ENDPOINT_URL_STS,
    env_vars::AWS_ENDPOINT_URL,
    env_vars::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
    env_vars::AWS_USE_FIPS_ENDPOINT,
    env_vars::AWS_USE_DUALSTACK_ENDPOINT,
    env_vars::AWS_STS_REGIONAL_ENDPOINTS,
    env_vars::AWS_ACCESS_KEY_ID,
    env_vars::AWS_SECRET_ACCESS_KEY,
    env_vars::AWS_SESSION_TOKEN,
    env_vars::ROLEGATE_RESOLVING,
];

/// Those of [`KEY_VARS`] whose values are secret: they enter as their own SHA-256.
pub const SECRET_VARS: &[&str] = &[env_vars::AWS_SECRET_ACCESS_KEY, env_vars::AWS_SESSION_TOKEN];

/// The version part of the key and the first line of every index file.
pub fn version_line() -> String {
    format!("rolegate {} entry {} index {INDEX_FORMAT}", env!("CARGO_PKG_VERSION"), entry::ENTRY_VERSION)
}

/// The fingerprint of a request, or `None` when a file cannot be read safely (then no shortcut).
pub fn fingerprint(ctx: &Context, paths: &ConfigPaths, profile: &str, flags: &str) -> Option<String> {
    fingerprint_with(&version_line(), ctx, paths, profile, flags)
}

fn fingerprint_with(version: &str, ctx: &Context, paths: &ConfigPaths, profile: &str, flags: &str) -> Option<String> {
    let mut h = Sha256::new();
    field(&mut h, b"rolegate hot index");
    field(&mut h, version.as_bytes());
    field(&mut h, profile.as_bytes());
    field(&mut h, flags.as_bytes());
    // After each path, a tag byte says what follows: 0 nothing (missing), 1 a 32-byte digest.
    for path in [&paths.config, &paths.credentials] {
        field(&mut h, platform::os_bytes(path.as_os_str()));
        match content_digest(path, ctx)? {
            Some(digest) => {
                h.update([1]);
                h.update(digest);
            }
            None => h.update([0]),
        }
    }
    // Each variable of `KEY_VARS`: its name, then a tag byte: 0 unset, 1 a secret's 32-byte
    // digest follows, 2 a length-prefixed value follows.
    for name in KEY_VARS {
        field(&mut h, name.as_bytes());
        match ctx.env.get_os(name) {
            None => h.update([0]),
            Some(value) if SECRET_VARS.contains(name) => {
                let mut secret = Sha256::new();
                field(&mut secret, b"rolegate secret");
                field(&mut secret, platform::os_bytes(value));
                h.update([1]);
                h.update(secret.finalize());
            }
            Some(value) => {
                h.update([2]);
                field(&mut h, platform::os_bytes(value));
            }
        }
    }
    Some(super::key::hex(&h.finalize()[..16]))
}

/// One length-prefixed field: no two sequences of fields hash the same bytes.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// SHA-256 of a file's contents: `Some(None)` when it does not exist, `None` when it is not a
/// regular file, is too large or cannot be read. A FIFO or a device is never opened (opening a
/// FIFO would release a writer waiting for its reader, and the contents would be lost to the
/// ordinary path); should one take the file's place after that check, it is opened non-blocking
/// and its type checked again on the open descriptor before anything is read.
fn content_digest(path: &Path, ctx: &Context) -> Option<Option<[u8; 32]>> {
    let stamp = match fs::metadata(path) {
        Ok(meta) if meta.is_file() => (meta.len() >= STAMP_MIN_BYTES).then(|| platform::change_stamp(&meta)),
        Ok(_) => return None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    let stamps = stamp.as_ref().and_then(|_| ctx.default_cache_dir()).map(Cache::new);
    if let (Some(stamp), Some(cache)) = (&stamp, &stamps)
        && let Some(digest) = cache.remembered_digest(path, stamp)
    {
        return Some(Some(digest));
    }
    let digest = hash_file(path)?;
    if let (Some(stamp), Some(cache), Some(digest)) = (&stamp, &stamps, &digest) {
        cache.remember_digest(path, stamp, digest, ctx.now().unix_timestamp());
    }
    Some(digest)
}

/// Files at least this large are not hashed at every call: their digest is kept in the cache
/// directory under the file's [`platform::change_stamp`], and used while the stamp is the same.
/// (A configuration generated for a large organisation is megabytes: hashing it would cost
/// more than the rest of the call.)
pub const STAMP_MIN_BYTES: u64 = 64 * 1024;
/// The prefix of a kept digest's file name.
pub const STAMP_PREFIX: &str = "stamp-";
/// A digest is kept only for a file whose last change is at least this old when it is hashed
/// (git's "racily clean" rule): a change within the same tick of the file system's clock as the
/// one hashed would leave the stamp unchanged; a later change cannot.
const RACY_SECONDS: i64 = 2;

impl Cache {
    fn stamp_file(&self, path: &Path) -> std::path::PathBuf {
        self.dir.join(format!("{STAMP_PREFIX}{}", super::key::short_digest(&path.display().to_string())))
    }

    /// The digest kept for `path` under `stamp`, if any.
    fn remembered_digest(&self, path: &Path, stamp: &str) -> Option<[u8; 32]> {
        let bytes = read_private(&self.stamp_file(path)).ok()??;
        let text = std::str::from_utf8(&bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != version_line() || lines.next()? != stamp {
            return None;
        }
        let hex = lines.next()?;
        let mut digest = [0u8; 32];
        if hex.len() != 64 {
            return None;
        }
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(digest)
    }

    /// Keeps `digest` for `path` under `stamp`, when the file's last change is old enough to
    /// trust the stamp and the cache directory is there and private. Failures are ignored (the
    /// next call hashes again).
    fn remember_digest(&self, path: &Path, stamp: &str, digest: &[u8; 32], now: i64) {
        let Ok(meta) = fs::metadata(path) else { return };
        if platform::change_stamp(&meta) != stamp || platform::changed_at(&meta) > now - RACY_SECONDS {
            return;
        }
        if !self.check_dir(false).unwrap_or(false) {
            return;
        }
        let text = format!("{}\n{stamp}\n{}\n", version_line(), super::key::hex(digest));
        let _ = self.write_small(&self.stamp_file(path), &text);
    }
}

/// SHA-256 of a regular file's contents, read without blocking (see [`content_digest`]).
fn hash_file(path: &Path) -> Option<Option<[u8; 32]>> {
    let file: File = match platform::open_read_nonblocking(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    let mut file = file;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n as u64;
                if total > MAX_FILE_BYTES {
                    return None;
                }
                h.update(&buf[..n]);
                // A short read of a regular file is its end: no further call to see it.
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(Some(h.finalize().into()))
}

impl Cache {
    /// The entry the index names for `fingerprint`, if the index is this version's and both exist
    /// and are readable.
    pub fn lookup_index(&self, fingerprint: &str) -> Option<Entry> {
        let bytes = read_private(&self.dir.join(format!("{INDEX_PREFIX}{fingerprint}"))).ok()??;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (version, digest) = text.split_once('\n')?;
        if version != version_line() {
            return None;
        }
        let digest = digest.trim_end_matches('\n');
        if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        self.read(&CacheKey { digest: digest.to_string(), label: String::new() })
    }

    /// Records that `fingerprint` resolves to `key`, then prunes the index files that are old at
    /// `now` (best effort: a failure only costs speed).
    pub fn store_index(&self, fingerprint: &str, key: &CacheKey, now: time::OffsetDateTime) {
        let name = format!("{INDEX_PREFIX}{fingerprint}");
        if let Err(e) = self.write_small(&self.dir.join(&name), &format!("{}\n{}\n", version_line(), key.digest)) {
            tracing::debug!(error = %e, dir = %Path::display(&self.dir), "cannot write the hot index");
        }
        self.prune_index(&name, SystemTime::from(now));
    }

    /// Writes a small derived file (an index, a kept digest) atomically: a 0600 temporary file in
    /// the cache directory, renamed into place. No fsync: losing one costs only speed.
    fn write_small(&self, path: &Path, text: &str) -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&self.dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Removes the index files untouched for [`INDEX_MAX_AGE`] at `now`, then the oldest beyond
    /// [`INDEX_MAX_FILES`]; never `keep` (the one just written). Returns how many were removed.
    fn prune_index(&self, keep: &str, now: SystemTime) -> usize {
        let Ok(dir) = fs::read_dir(&self.dir) else { return 0 };
        let mut kept: Vec<(SystemTime, std::path::PathBuf)> = Vec::new();
        let mut removed = 0;
        for dirent in dir.take(PRUNE_SCAN_LIMIT).filter_map(Result::ok) {
            let file_name = dirent.file_name();
            let Some(name) = file_name.to_str() else { continue };
            if !name.starts_with(INDEX_PREFIX) || name == keep {
                continue;
            }
            let Ok(meta) = dirent.metadata() else { continue };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let path = dirent.path();
            if now.duration_since(modified).is_ok_and(|age| age > INDEX_MAX_AGE) {
                removed += usize::from(fs::remove_file(&path).is_ok());
            } else {
                kept.push((modified, path));
            }
        }
        let room = INDEX_MAX_FILES.saturating_sub(1);
        if kept.len() > room {
            kept.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
            for (_, path) in &kept[room..] {
                removed += usize::from(fs::remove_file(path).is_ok());
            }
        }
        if removed > 0 {
            tracing::debug!(removed, "pruned old hot-index files");
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;
    use crate::context::{Clock, Env};

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        Context::new(Env::from_pairs(pairs.iter().copied()), Clock::System)
    }

    struct Files {
        dir: tempfile::TempDir,
        paths: ConfigPaths,
    }

    fn files(config: &str) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let paths = ConfigPaths { config: dir.path().join("config"), credentials: dir.path().join("credentials") };
        fs::write(&paths.config, config).unwrap();
        Files { dir, paths }
    }

    #[test]
    fn a_large_file_s_digest_is_kept_under_its_stamp_and_dropped_when_it_changes() {
        let big =
            format!("[profile t]\nrole_arn = arn:aws:iam::123456789012:role/hc-master\n{}", "# pad\n".repeat(20_000));
        let f = files(&big);
        let home = f.dir.path().join("home");
        let cache_dir = home.join(".cache/rolegate");
        fs::create_dir_all(&cache_dir).unwrap();
        fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o700)).unwrap();
        let home_var = home.to_str().unwrap().to_string();
        let stamps = || -> Vec<PathBuf> {
            fs::read_dir(&cache_dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(STAMP_PREFIX))
                .collect()
        };

        // Just written: its last change is "racy", so nothing is kept.
        let now = ctx(&[("HOME", &home_var)]);
        let first = fingerprint(&now, &f.paths, "t", "").unwrap();
        assert!(stamps().is_empty(), "a file changed within the last seconds is hashed every time");

        // An hour later, the digest is kept, and used: a planted digest under the same stamp
        // changes the fingerprint.
        let later = Context::new(
            Env::from_pairs([("HOME", home_var.as_str())]),
            Clock::Fixed(Clock::System.now() + time::Duration::hours(1)),
        );
        assert_eq!(fingerprint(&later, &f.paths, "t", "").unwrap(), first);
        let kept = stamps();
        assert_eq!(kept.len(), 1);
        let text = fs::read_to_string(&kept[0]).unwrap();
        let planted = text.replace(text.lines().nth(2).unwrap(), &"0".repeat(64));
        fs::write(&kept[0], planted).unwrap();
        assert_ne!(fingerprint(&later, &f.paths, "t", "").unwrap(), first, "the kept digest is what is used");

        // The file edited in place with its size and modification time put back: the change
        // time moved, so the stamp no longer matches and the contents are read again.
        let meta = fs::metadata(&f.paths.config).unwrap();
        fs::write(&f.paths.config, big.replace("hc-master", "hc-mastex")).unwrap();
        File::options().write(true).open(&f.paths.config).unwrap().set_modified(meta.modified().unwrap()).unwrap();
        let edited = fingerprint(&later, &f.paths, "t", "").unwrap();
        assert_ne!(edited, first);
        fs::remove_dir_all(&cache_dir).unwrap();
        assert_eq!(fingerprint(&now, &f.paths, "t", "").unwrap(), edited, "the same as hashing it afresh");
    }

    /// The drift guard: every variable the planner, the file lookup, the profile choice, the
    /// recursion guard and the cache-directory choice read, over every case of the plan vectors
    /// (each with its environment, with none, and with a home directory), is in [`KEY_VARS`].
    #[test]
    fn the_key_covers_every_variable_the_planner_reads() {
        use crate::config::Profiles;
        use crate::plan::{self, PlanOptions};
        use serde_json::Value;

        let file: Value = serde_json::from_str(include_str!("../../tests/data/resolve-cases.json")).unwrap();
        let cases = file["cases"].as_array().unwrap();
        assert!(cases.len() >= 40, "{} cases", cases.len());
        let mut read = std::collections::BTreeSet::new();
        let mut planned = 0;
        for case in cases {
            let text = |k: &str| case[k].as_str().unwrap_or("").to_string();
            let Ok(profiles) = Profiles::parse(&text("config"), &text("credentials")) else { continue };
            let mut runs = vec![(case["profile"].as_str().unwrap(), &case["env"], &case["options"])];
            for relation in ["same_key_as", "different_key_from", "same_mfa_key_as", "different_mfa_key_from"] {
                for other in case["expect"][relation].as_array().into_iter().flatten() {
                    runs.push(match other {
                        Value::String(p) => (p.as_str(), &case["env"], &case["options"]),
                        o => (
                            o["profile"].as_str().unwrap(),
                            o.get("env").unwrap_or(&case["env"]),
                            o.get("options").unwrap_or(&case["options"]),
                        ),
                    });
                }
            }
            for (profile, env, options) in runs {
                // The case's environment, none at all, and the case's with a home directory.
                for (env, home) in [(env, false), (&Value::Null, false), (env, true)] {
                    let mut pairs: Vec<(String, String)> = env
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    if home {
                        pairs.push((env_vars::HOME.into(), "/home/u".into()));
                    }
                    let ctx = Context::new(Env::recording(pairs), Clock::System);
                    let _ = plan::profile_name(None, &ctx.env);
                    let name = plan::profile_name(Some(profile), &ctx.env);
                    let _ = crate::base_credentials::check_recursion(&ctx, &name);
                    let _ = ConfigPaths::locate(&ctx);
                    let _ = ctx.default_cache_dir();
                    let seconds = options["mfa_session_seconds"].as_u64().map(|s| u32::try_from(s).unwrap());
                    planned += usize::from(
                        plan::plan(
                            &profiles,
                            &name,
                            &ctx.env,
                            &PlanOptions { mfa_session_seconds: seconds, ..PlanOptions::default() },
                        )
                        .is_ok(),
                    );
                    read.extend(ctx.env.names_read());
                }
            }
        }
        let uncovered: Vec<&String> = read.iter().filter(|n| !KEY_VARS.contains(&n.as_str())).collect();
        assert!(uncovered.is_empty(), "read by the planner but not in the hot index's key: {uncovered:?}");
        assert!(planned >= 40, "only {planned} plans succeeded");
        // And the list holds nothing the planner does not read, but the environment base's secret
        // (the key id names the identity; a changed secret is still re-planned, to be safe).
        let unread: Vec<&&str> =
            KEY_VARS.iter().filter(|n| !read.contains(**n) && **n != env_vars::AWS_SECRET_ACCESS_KEY).collect();
        assert!(unread.is_empty(), "in the key but never read by the planner in any vector: {unread:?}");
    }

    #[test]
    fn the_contents_enter_not_the_metadata() {
        let f = files("[profile t]\nrole_arn = arn:aws:iam::123456789012:role/hc-master\n");
        let c = ctx(&[("HOME", "/h")]);
        let before = fingerprint(&c, &f.paths, "t", "").unwrap();
        let meta = fs::metadata(&f.paths.config).unwrap();
        fs::write(&f.paths.config, "[profile t]\nrole_arn = arn:aws:iam::123456789012:role/hc-mastex\n").unwrap();
        File::options().write(true).open(&f.paths.config).unwrap().set_modified(meta.modified().unwrap()).unwrap();
        let after_meta = fs::metadata(&f.paths.config).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec()),
            (after_meta.ino(), after_meta.len(), after_meta.mtime(), after_meta.mtime_nsec())
        );
        assert_ne!(fingerprint(&c, &f.paths, "t", "").unwrap(), before);
        // A missing file differs from an empty one, and both are fingerprinted.
        let missing = fingerprint(&c, &f.paths, "t", "").unwrap();
        fs::write(&f.paths.credentials, "").unwrap();
        assert_ne!(fingerprint(&c, &f.paths, "t", "").unwrap(), missing);
        drop(f.dir);
    }

    #[test]
    fn the_version_profile_flags_and_variables_enter() {
        let f = files("[profile t]\n");
        let c = ctx(&[("HOME", "/h"), ("AWS_REGION", "eu-west-1")]);
        let base = fingerprint_with("rolegate 1.0.0 entry 1 index 2", &c, &f.paths, "t", "").unwrap();
        let again = fingerprint_with("rolegate 1.0.0 entry 1 index 2", &c, &f.paths, "t", "").unwrap();
        assert_eq!(base, again);
        for other in [
            fingerprint_with("rolegate 1.0.1 entry 1 index 2", &c, &f.paths, "t", ""),
            fingerprint_with("rolegate 1.0.0 entry 2 index 2", &c, &f.paths, "t", ""),
            fingerprint_with("rolegate 1.0.0 entry 1 index 2", &c, &f.paths, "u", ""),
            fingerprint_with("rolegate 1.0.0 entry 1 index 2", &c, &f.paths, "t", "Some(900)"),
            fingerprint_with(
                "rolegate 1.0.0 entry 1 index 2",
                &ctx(&[("HOME", "/h"), ("AWS_REGION", "eu-west-2")]),
                &f.paths,
                "t",
                "",
            ),
            fingerprint_with(
                "rolegate 1.0.0 entry 1 index 2",
                &ctx(&[("HOME", "/h"), ("AWS_REGION", "eu-west-1"), ("AWS_SESSION_TOKEN", "a")]),
                &f.paths,
                "t",
                "",
            ),
        ] {
            assert_ne!(other.unwrap(), base);
        }
        // Two secret values differ; an empty variable is unset; a variable no one reads is not keyed.
        let secret = |v: &str| fingerprint(&ctx(&[("AWS_SECRET_ACCESS_KEY", v)]), &f.paths, "t", "").unwrap();
        assert_ne!(secret("a"), secret("b"));
        assert_eq!(secret(""), fingerprint(&ctx(&[]), &f.paths, "t", "").unwrap());
        assert_eq!(
            fingerprint(&ctx(&[("AWS_CONTAINER_AUTHORIZATION_TOKEN", "x")]), &f.paths, "t", ""),
            fingerprint(&ctx(&[]), &f.paths, "t", "")
        );
        assert!(version_line().contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn a_fifo_a_directory_or_a_large_file_gives_no_fingerprint() {
        let f = files("");
        let c = ctx(&[]);
        let fifo = f.dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // No writer: a blocking open would wait for ever.
        let paths = ConfigPaths { config: fifo, credentials: f.paths.credentials.clone() };
        assert_eq!(fingerprint(&c, &paths, "t", ""), None);
        let paths = ConfigPaths { config: f.dir.path().to_path_buf(), credentials: f.paths.credentials.clone() };
        assert_eq!(fingerprint(&c, &paths, "t", ""), None);
        let big = f.dir.path().join("big");
        File::create(&big).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        let paths = ConfigPaths { config: big, credentials: f.paths.credentials.clone() };
        assert_eq!(fingerprint(&c, &paths, "t", ""), None);
        let paths = ConfigPaths { config: PathBuf::from("/dev/null"), credentials: f.paths.credentials.clone() };
        assert_eq!(fingerprint(&c, &paths, "t", ""), None);
    }

    #[test]
    fn an_index_of_another_version_or_format_is_a_miss_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let key = CacheKey { digest: "0123456789abcdef0123456789abcdef".into(), label: String::new() };
        let now = Clock::System.now();
        cache.store_index("aa", &key, now);
        let text = fs::read_to_string(dir.path().join("index-aa")).unwrap();
        assert_eq!(text, format!("{}\n{}\n", version_line(), key.digest));
        // The index names no entry here; what matters is that the version line is checked
        // before the entry is looked for: see the integration tests for served entries.
        assert!(cache.lookup_index("aa").is_none());

        // Pruning: old ones and the oldest beyond the count go; the one just written stays.
        let now = SystemTime::from(now);
        let write = |name: &str, age: Duration| {
            let path = dir.path().join(name);
            fs::write(&path, "x").unwrap();
            File::options().write(true).open(&path).unwrap().set_modified(now - age).unwrap();
        };
        write("index-old", INDEX_MAX_AGE + Duration::from_secs(60));
        write("entry.json", INDEX_MAX_AGE * 10);
        for i in 0..INDEX_MAX_FILES + 5 {
            write(&format!("index-{i:03}"), Duration::from_secs(i as u64 + 1));
        }
        write("index-keep", INDEX_MAX_AGE * 10);
        let removed = cache.prune_index("index-keep", now);
        // Candidates: `aa` and 69 numbered ones; room for 63 beside `index-keep`.
        assert_eq!(removed, 1 + 7, "the old one, and the 7 oldest beyond the count");
        let left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(INDEX_PREFIX))
            .collect();
        assert_eq!(left.len(), INDEX_MAX_FILES);
        assert!(left.contains(&"index-keep".to_string()) && left.contains(&"index-000".to_string()));
        assert!(
            !left.contains(&"index-old".to_string()) && !left.contains(&format!("index-{:03}", INDEX_MAX_FILES + 4))
        );
        assert!(dir.path().join("entry.json").exists(), "only index files are pruned");
    }
}
