//! The private copy of the user's AWS config that a rolegate child runs with.
//!
//! Why: the Go SDK (Terraform) and botocore let a profile named in code (`profile = "target"`)
//! beat credentials in the environment, so a hard-coded MFA profile fails in an exec'd child
//! exactly as it fails outside. In the copy, every profile that needs an MFA code becomes
//!
//! ```ini
//! [profile target]
//! credential_process = /path/to/rolegate credential-process target
//! region = us-west-2          # kept, or added from the plan
//! ```
//!
//! with the role settings (`role_arn`, `source_profile`, `mfa_serial`, ...) removed, because an
//! SDK tries those before `credential_process`. A profile that takes settings through aws-vault's
//! `include_profile`, which no SDK reads, gets them written out at the end of its first section
//! (for a rewritten one, only those that cannot pre-empt its `credential_process`; never keys,
//! which inclusion does not carry). Every other byte of the file is kept: IAM Identity Center
//! profiles and `[sso-session]` sections, the SDKs' own business, included. Only when a
//! rewritten profile also has a section in the credentials file (its static keys would win over
//! `credential_process`) is a credentials copy made, without those sections; it keeps the other
//! sections, keys included. The user's files are never written. The copies are 0600 in a 0700
//! directory ([`dir`]: the runtime directory when there is a private one, so they never reach
//! the disk and are gone at logout; else the cache directory), rewritten at every exec, so they
//! follow the user's edits. The credentials copy is the run's own and lives only as long as the
//! run ([`CredentialsCopy`]). The child gets
//! `ROLEGATE_CONFIG_FILE` / `ROLEGATE_SHARED_CREDENTIALS_FILE` naming the originals, which is
//! where the `credential_process` calls (and nested rolegates) read the real profiles.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cache::CacheError;
use crate::config::resolve::PRE_EMPTING_KEYS;
use crate::config::source::{Header, Line};
use crate::config::{ConfigPaths, FileKind, Profiles, quote};
use crate::context::Env;
use crate::plan::{self, MfaStrategy, PlanOptions};

pub struct Generated {
    pub config: PathBuf,
    /// A credentials copy, only when a rewritten profile had a section in the credentials file
    /// (its static keys would win over `credential_process`). Otherwise the child reads the
    /// user's own file: a copy would duplicate long-term secrets for nothing.
    pub credentials: Option<CredentialsCopy>,
    /// The profiles that now call rolegate.
    pub rewritten: Vec<String>,
}

/// exec's copy of the credentials file: it keeps the long-term keys of the profiles it does not
/// rewrite, so it must not outlive the run. Its name is this run's own
/// (`credentials-TAG-PID`), it is locked (`flock`) while the run lasts, and dropping it removes
/// it: `exec` stays the parent of its command while such a copy exists and drops it when the
/// command ends. A copy that no run holds locked is what a killed run left; the next
/// [`write`] removes it.
pub struct CredentialsCopy {
    path: PathBuf,
    /// Held for the run: the lock says "in use" to other runs.
    _lock: std::fs::File,
}

impl CredentialsCopy {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CredentialsCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where the copies go: `$XDG_RUNTIME_DIR/rolegate` when `XDG_RUNTIME_DIR` is a directory of
/// ours that no one else can enter, else `generated/` in the cache directory.
pub fn dir(env: &Env, cache_dir: &Path) -> PathBuf {
    let private_runtime = env
        .get(crate::env_vars::XDG_RUNTIME_DIR)
        .filter(|d| d.starts_with('/'))
        .filter(|d| std::fs::metadata(d).is_ok_and(|m| m.is_dir() && crate::platform::is_private(&m)));
    match private_runtime {
        Some(run) => Path::new(run).join("rolegate"),
        None => cache_dir.join("generated"),
    }
}

/// Removes the copies (`clear --all`).
pub fn remove(dir: &Path) -> Result<(), CacheError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(CacheError::Io { action: "remove", path: dir.to_path_buf(), source: e })
        }
        _ => Ok(()),
    }
}

/// The profiles the SDKs cannot serve (they need an MFA code), with the region of each plan.
pub fn profiles_to_rewrite(profiles: &Profiles, env: &Env) -> BTreeMap<String, String> {
    profiles
        .profiles
        .keys()
        .filter_map(|name| {
            let plan = plan::plan(profiles, name, env, &PlanOptions::default()).ok()?;
            let is_alias = plan.chain.profile != *name;
            (plan.strategy != MfaStrategy::None && !is_alias).then(|| (name.clone(), plan.region))
        })
        .collect()
}

/// Writes the copies into `dir` (created 0700), after removing what killed runs left there
/// ([`CredentialsCopy`]; `now` is the clock's Unix time). `exe` is the rolegate binary the
/// copies call.
pub fn write(
    dir: &Path,
    paths: &ConfigPaths,
    profiles: &Profiles,
    env: &Env,
    exe: &Path,
    now: i64,
) -> Result<Generated, CacheError> {
    let io = |action, path: &Path, source| CacheError::Io { action, path: path.to_path_buf(), source };
    let rewrite = profiles_to_rewrite(profiles, env);
    // The texts that were parsed: the copy follows exactly what the plans were made from.
    let config_text = profiles.sources().text(FileKind::Config);
    let credentials_text = profiles.sources().text(FileKind::Credentials);
    let config = rewrite_config_spelling(config_text, &rewrite, &included_settings(profiles, &rewrite), exe);
    let credentials = drop_sections(credentials_text, &rewrite);
    let needs_credentials_copy = credentials != credentials_text;

    crate::platform::create_private_dir_all(dir).map_err(|e| io("create", dir, e))?;
    check_private_dir(dir)?;
    remove_leftovers(dir, now);
    let tag = crate::cache::key::short_digest(&format!("{}\n{}", paths.config.display(), paths.credentials.display()));
    let config_path = dir.join(format!("config-{tag}"));
    let persist = |path: &Path, text: &str| {
        let mut tmp =
            tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(|e| io("create a file in", dir, e))?;
        // Locked from its first byte to the end of the run (a no-op for the config copy, whose
        // handle is closed at once).
        tmp.as_file().lock().map_err(|e| io("lock a file in", dir, e))?;
        tmp.write_all(text.as_bytes()).map_err(|e| io("write to", dir, e))?;
        tmp.as_file().sync_all().map_err(|e| io("sync a file in", dir, e))?;
        tmp.persist(path).map_err(|e| io("rename a file in", dir, e.error))
    };
    persist(&config_path, &config)?;
    let credentials = if needs_credentials_copy {
        let path = dir.join(format!("credentials-{tag}-{}", std::process::id()));
        let lock = persist(&path, &credentials)?;
        Some(CredentialsCopy { path, _lock: lock })
    } else {
        None
    };
    Ok(Generated { config: config_path, credentials, rewritten: rewrite.into_keys().collect() })
}

/// Removes the credentials copies of runs that were killed (no run holds their lock), and
/// temporary files of interrupted writes (unlocked, and older than a minute: a write under
/// way locks its file the moment it creates it).
fn remove_leftovers(dir: &Path, now: i64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let temporary = name.starts_with(".tmp-");
        if !temporary && !name.starts_with("credentials-") {
            continue;
        }
        let path = entry.path();
        let Ok(file) = crate::platform::open_read_nofollow(&path) else { continue };
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() || (temporary && now - crate::platform::changed_at(&meta) < 60) {
            continue;
        }
        if file.try_lock().is_ok() {
            tracing::debug!(path = %path.display(), "removing a copy a killed run left");
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The copies hold the user's keys: their directory must be a real directory (not a link), ours,
/// and closed to everyone else, as the cache directory is (an existing one is never trusted
/// blindly: `/run/user/UID` or the cache may have been prepared by someone else).
fn check_private_dir(dir: &Path) -> Result<(), CacheError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| CacheError::Io {
        action: "inspect",
        path: dir.to_path_buf(),
        source,
    })?;
    let not_private = |why: String| Err(CacheError::NotPrivate { path: dir.to_path_buf(), why });
    if !meta.is_dir() {
        return not_private("it is not a directory (a symbolic link or a file)".into());
    }
    let owner = crate::platform::owner(&meta);
    if owner != crate::platform::my_uid() {
        return not_private(format!("it is owned by another user (uid {owner})"));
    }
    let mode = crate::platform::mode(&meta);
    if mode & 0o077 != 0 {
        return not_private(format!("other users may enter it (mode {mode:o}, not 700)"));
    }
    Ok(())
}

/// Rewrites the sections of `rewrite` (profile -> region) and keeps every other line.
pub fn rewrite_config(text: &str, rewrite: &BTreeMap<String, String>, exe: &Path) -> String {
    rewrite_config_spelling(text, rewrite, &BTreeMap::new(), exe)
}

/// The settings each profile takes through `include_profile`, which the SDKs do not read, to be
/// written out in its first section of the copy: all of them for a profile the SDKs serve; for
/// one that calls rolegate, only those that cannot pre-empt its `credential_process` (and not
/// `region`, which the copy takes from the plan).
pub fn included_settings(
    profiles: &Profiles,
    rewrite: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for (name, props) in &profiles.profiles {
        let Some(inherited) = profiles.inherited(name) else { continue };
        let rewritten = rewrite.contains_key(name);
        let settings: Vec<(String, String)> = inherited
            .keys()
            .filter(|k| !rewritten || !dropped_from_rewritten(k) && k.as_str() != "region")
            .filter_map(|k| props.get(k).map(|v| (k.clone(), v.clone())))
            // A value the parser joined from continuation lines cannot be written on one line.
            .filter(|(_, v)| !v.contains('\n'))
            .collect();
        if !settings.is_empty() {
            out.insert(name.clone(), settings);
        }
    }
    out
}

/// Settings a rewritten profile loses: those an SDK would try before its `credential_process`.
fn dropped_from_rewritten(key: &str) -> bool {
    PRE_EMPTING_KEYS.contains(&key) || key == "credential_process" || key.starts_with("rolegate_")
}

/// [`rewrite_config`], and `spelled` (profile -> settings) written at the end of each
/// profile's first section.
pub fn rewrite_config_spelling(
    text: &str,
    rewrite: &BTreeMap<String, String>,
    spelled: &BTreeMap<String, Vec<(String, String)>>,
    exe: &Path,
) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut current: Option<&str> = None; // the profile being rewritten
    let mut section: Option<&str> = None; // the profile whose section this is, if it spells settings
    let mut has_region = false;
    let mut dropping_continuation = false;
    let mut done: HashSet<&str> = HashSet::new();
    let mut spelled_done: HashSet<&str> = HashSet::new();
    let exe = quote(&exe.to_string_lossy());
    let close = |out: &mut String, current: Option<&str>, section: Option<&str>, has_region: bool| {
        if let Some(p) = section {
            out.push_str(
                "# rolegate: settings this profile takes through include_profile, which the SDKs do not read\n",
            );
            for (k, v) in &spelled[p] {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        if let Some(p) = current
            && !has_region
        {
            out.push_str(&format!("region = {}\n", rewrite[p]));
        }
    };
    for line in text.split_inclusive('\n') {
        match Line::parse(line, FileKind::Config) {
            Line::Header(header) => {
                close(&mut out, current, section, has_region);
                section = header
                    .profile()
                    .and_then(|p| spelled.get_key_value(p).map(|(k, _)| k.as_str()))
                    .filter(|p| spelled_done.insert(p));
                current = header.profile().and_then(|p| rewrite.get_key_value(p).map(|(k, _)| k.as_str()));
                has_region = false;
                dropping_continuation = false;
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push('\n');
                }
                if let Some(p) = current {
                    out.push_str("# rolegate: this profile's role and MFA settings are served by rolegate\n");
                    if done.insert(p) {
                        out.push_str(&format!("credential_process = {exe} credential-process {}\n", quote(p)));
                    }
                }
                continue;
            }
            // A rewritten profile keeps only what cannot pre-empt its new credential_process.
            Line::Property { key } if current.is_some() => {
                dropping_continuation = dropped_from_rewritten(&key);
                has_region |= key == "region";
                if dropping_continuation {
                    continue;
                }
            }
            Line::Continuation if current.is_some() && dropping_continuation => continue,
            _ => {}
        }
        out.push_str(line);
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    close(&mut out, current, section, has_region);
    out
}

/// Removes the sections named in `rewrite` from a credentials file.
pub fn drop_sections(text: &str, rewrite: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        if let Some(header) = Header::parse(line, FileKind::Credentials) {
            skipping = header.profile().is_some_and(|p| rewrite.contains_key(p));
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn rewrites_only_the_mfa_profiles() {
        let text = "# my config\n[default]\nregion = eu-west-1\n\n[profile target]  ; prod\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/x\nmfa_serial = arn:aws:iam::123456789012:mfa/u\noutput = json\n[profile base]\nregion = us-west-2\n[services s]\nsts =\n  endpoint_url = http://x\n";
        let out = rewrite_config(text, &map(&[("target", "us-west-2")]), Path::new("/usr/bin/rolegate"));
        assert_eq!(
            out,
            "# my config\n[default]\nregion = eu-west-1\n\n[profile target]  ; prod\n# rolegate: this profile's role and MFA settings are served by rolegate\ncredential_process = /usr/bin/rolegate credential-process target\noutput = json\nregion = us-west-2\n[profile base]\nregion = us-west-2\n[services s]\nsts =\n  endpoint_url = http://x\n"
        );
    }

    #[test]
    fn drops_continuation_lines_of_dropped_keys_and_keeps_the_region() {
        let text = "[profile t]\nrole_arn =\n  arn:aws:iam::123456789012:role/x\nregion = ca-central-1";
        let out = rewrite_config(text, &map(&[("t", "us-east-1")]), Path::new("/opt/my tools/rolegate"));
        assert_eq!(
            out,
            "[profile t]\n# rolegate: this profile's role and MFA settings are served by rolegate\ncredential_process = '/opt/my tools/rolegate' credential-process t\nregion = ca-central-1\n"
        );
    }

    #[test]
    fn drops_keys_as_the_sdk_reads_them() {
        // The SDK parser lower-cases keys: `Role_Arn` is role_arn, which would pre-empt the
        // credential_process. A `[profile t]` header with blanks and a comment is still t's.
        let text =
            "[profile  t ] # c\r\nRole_Arn = arn:aws:iam::123456789012:role/x\r\nREGION = eu-west-1\r\n[ profile t]\n";
        let out = rewrite_config(text, &map(&[("t", "us-east-1")]), Path::new("/opt/a #b/rolegate"));
        assert_eq!(
            out,
            "[profile  t ] # c\r\n# rolegate: this profile's role and MFA settings are served by rolegate\ncredential_process = '/opt/a '\\#'b/rolegate' credential-process t\nREGION = eu-west-1\r\n[ profile t]\n# rolegate: this profile's role and MFA settings are served by rolegate\nregion = us-east-1\n"
        );
    }

    /// IAM Identity Center profiles and `[sso-session]` sections are the SDKs' own: the copy
    /// keeps every byte of them, beside a rewritten MFA profile.
    #[test]
    fn keeps_sso_profiles_and_sessions_byte_for_byte() {
        let text = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\n[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Developer\nregion = eu-west-1\n[profile legacy]  # old style\nsso_start_url = https://corp.awsapps.com/start\r\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\n[profile on-sso]\nsource_profile = dev\nrole_arn = arn:aws:iam::123456789012:role/x\n[profile mfa]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/y\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n";
        let profiles = Profiles::parse(text, "[base]\naws_access_key_id = AKID\naws_secret_access_key = s\n").unwrap();
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let rewrite = profiles_to_rewrite(&profiles, &env);
        assert_eq!(rewrite.keys().collect::<Vec<_>>(), ["mfa"], "only the MFA profile calls rolegate");
        let out = rewrite_config_spelling(text, &rewrite, &included_settings(&profiles, &rewrite), Path::new("/r"));
        let (kept, rewritten) = out.split_at(text.find("[profile mfa]").unwrap());
        assert_eq!(
            kept,
            &text[..text.find("[profile mfa]").unwrap()],
            "everything before the MFA profile, byte for byte"
        );
        assert!(rewritten.starts_with("[profile mfa]\n# rolegate:"), "{rewritten}");
    }

    /// The SDKs do not read include_profile: the copy writes out what a profile takes through
    /// it; for a profile that calls rolegate, only what cannot pre-empt its credential_process.
    #[test]
    fn spells_out_settings_taken_through_include_profile() {
        let text = "[profile common]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/u\nsource_profile = base\n[profile mfa-role]\ninclude_profile = common\nrole_arn = arn:aws:iam::123456789012:role/a\n[profile plain]\nparent_profile = fragment\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/b\n[profile fragment]\nregion = ca-central-1\nduration_seconds = 1800\n";
        let profiles = Profiles::parse(text, "[base]\naws_access_key_id = AKID\naws_secret_access_key = s\n").unwrap();
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let rewrite = profiles_to_rewrite(&profiles, &env);
        assert_eq!(rewrite.keys().collect::<Vec<_>>(), ["mfa-role"]);
        let out = rewrite_config_spelling(text, &rewrite, &included_settings(&profiles, &rewrite), Path::new("/r"));
        let section = |name: &str| {
            let start = out.find(&format!("[profile {name}]")).unwrap();
            let end = out[start + 1..].find("\n[").map_or(out.len(), |e| start + 1 + e);
            out[start..end].to_string()
        };
        assert_eq!(
            section("mfa-role"),
            "[profile mfa-role]\n# rolegate: this profile's role and MFA settings are served by rolegate\ncredential_process = /r credential-process mfa-role\ninclude_profile = common\nregion = eu-west-1"
        );
        assert_eq!(
            section("plain"),
            "[profile plain]\nparent_profile = fragment\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/b\n# rolegate: settings this profile takes through include_profile, which the SDKs do not read\nduration_seconds = 1800\nregion = ca-central-1"
        );
        // The SDK's parser reads the written-out settings as the profile's own.
        let copy = Profiles::parse(&out.replace("parent_profile = fragment\n", ""), "").unwrap();
        assert_eq!(copy.get("plain").unwrap()["duration_seconds"], "1800");
        assert_eq!(copy.get("plain").unwrap()["region"], "ca-central-1");
    }

    #[test]
    fn drops_credentials_sections_of_rewritten_profiles() {
        let text = "[base]\naws_access_key_id = A\n[target]\naws_access_key_id = B\n[other]\nx = y\n";
        assert_eq!(drop_sections(text, &map(&[("target", "r")])), "[base]\naws_access_key_id = A\n[other]\nx = y\n");
    }
}
