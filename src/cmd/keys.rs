//! `rolegate add | import | rotate | remove PROFILE`: a base profile's long-term keys in the OS
//! credential store ([`crate::store`]) instead of `~/.aws/credentials`.
//!
//! The config profile gets two settings, neither secret (the SDKs ignore them):
//!
//! ```ini
//! [profile base]
//! rolegate_keystore = secret-service
//! rolegate_access_key_id = AKIA...
//! ```
//!
//! Rules:
//! - A secret is never written to a file, an argument, a log or a message. `add` reads it from
//!   the terminal device with echo off, or from `AWS_SECRET_ACCESS_KEY` with `--env`.
//! - The store is written and read back before any file changes; a file change that fails
//!   leaves the profile as it was (the secret just written is taken out of the store again).
//! - Files are edited line by line ([`crate::config::section_edit`]), every other byte kept, and
//!   replaced atomically as `setup` does. The config file gets `setup`'s backup, except when it
//!   held the keys being moved; `import` writes no backup of the credentials file (it would hold
//!   the secret), and overwrites the replaced file's bytes with zeros once it is unlinked.
//! - `rotate` keeps a working key in the store at every step: the new key is stored and proven
//!   (GetCallerIdentity) before the profile points at it, and the old key is deleted last.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::{AddArgs, Cli, ImportArgs, KeysProfileArgs};
use crate::config::resolve::{self, Base};
use crate::config::section_edit::{remove_keys, set_keys};
use crate::config::source::FileKind;
use crate::config::{self, ConfigError, ConfigPaths, Profiles};
use crate::context::Context;
use crate::credentials::{BaseCredentials, Secret};
use crate::diag;
use crate::env_vars;
use crate::error::{Error, KeysError};
use crate::output;
use crate::plan::PlanError;
use crate::platform;
use crate::session::Session;
use crate::store::{self, Backend, Store, StoreError};
use crate::sts::client::StsClient;
use crate::sts::{StsError, iam};

use super::setup::{self, Original};

/// The settings of a profile that hold keys in the files.
const FILE_KEYS: &[&str] = &["aws_access_key_id", "aws_secret_access_key", "aws_session_token"];
/// The settings `add` writes.
const STORE_KEYS: &[&str] = &[store::KEY_KEYSTORE, store::KEY_ACCESS_KEY_ID];
/// How long `add` waits at each of its two prompts.
const PROMPT_SECONDS: u64 = 300;
/// A new IAM key takes seconds to be accepted everywhere: GetCallerIdentity is tried this long.
const NEW_KEY_PATIENCE: Duration = Duration::from_secs(20);

/// The file a profile's section is in, for messages.
fn file_of(profiles: &Profiles, profile: &str) -> String {
    profiles.origin(profile).map_or_else(|| profiles.describe_files(), |p| p.display().to_string())
}

/// Refuses a profile that gets its credentials some other way than keys.
fn check_base(profiles: &Profiles, profile: &str) -> Result<(), KeysError> {
    let Some(props) = profiles.get(profile) else { return Ok(()) };
    let other: Vec<&str> =
        ["role_arn", "source_profile", "credential_source", "credential_process", "sso_session", "sso_start_url"]
            .into_iter()
            .filter(|k| props.contains_key(*k))
            .collect();
    if other.is_empty() {
        return Ok(());
    }
    Err(KeysError::NotABase { profile: profile.into(), file: file_of(profiles, profile), what: other.join(", ") })
}

/// The store named by `--keystore`, else `ROLEGATE_KEYSTORE`, else the system's (with its
/// fallback, said on stderr).
fn choose_store(ctx: &Context, flag: Option<&str>) -> Result<Store, KeysError> {
    let named = flag.or_else(|| ctx.env.get(env_vars::ROLEGATE_KEYSTORE));
    if let Some(name) = named {
        let backend = Backend::parse(name).ok_or(KeysError::Store(StoreError::Unavailable {
            backend: Backend::native(),
            detail: format!("ROLEGATE_KEYSTORE `{name}` is not a store rolegate knows"),
        }))?;
        return Ok(Store::open(backend)?);
    }
    let (store, fell_back) = Store::open_default()?;
    if let Some(why) = fell_back {
        diag::notice(&format!(
            "{why}; using {} instead: it is emptied at every reboot, so keep a way to add the keys again (--keystore chooses)",
            store.backend().describe()
        ));
    }
    Ok(store)
}

/// Stores the secret and reads it back.
fn put_checked(store: &Store, access_key_id: &str, secret: &Secret) -> Result<(), KeysError> {
    store.put(access_key_id, secret)?;
    if store.get(access_key_id)? != *secret {
        let _ = store.delete(access_key_id);
        return Err(KeysError::ReadBack { backend: store.backend(), access_key_id: access_key_id.into() });
    }
    Ok(())
}

fn check_access_key_id(value: &str) -> Result<(), KeysError> {
    let bad = |why| Err(KeysError::BadAccessKeyId { value: value.chars().take(40).collect(), why });
    if !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return bad("only letters and digits");
    }
    if !(16..=128).contains(&value.len()) {
        return bad("16 to 128 characters");
    }
    Ok(())
}

/// One of the user's two files as read, ready to be replaced.
struct EditedFile {
    /// The file written (a symlink's target).
    path: PathBuf,
    original: Option<Original>,
    text: String,
}

impl EditedFile {
    fn read(path: &Path) -> Result<EditedFile, Error> {
        let target = setup::locate_target(path)?;
        let original = setup::read_existing(&target.path)?;
        let text = match &original {
            Some(o) => String::from_utf8(o.bytes.clone()).map_err(|_| ConfigError::NotUtf8 { path: path.into() })?,
            None => String::new(),
        };
        Ok(EditedFile { path: target.path, original, text })
    }
}

impl Drop for EditedFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
        if let Some(o) = &mut self.original {
            zeroize::Zeroize::zeroize(&mut o.bytes);
        }
    }
}

/// Replaces `file` with `new` and no backup, then overwrites the replaced file's bytes with
/// zeros (it held keys). Best effort against the disk: a copy-on-write or journaling file
/// system, or an SSD, may keep old blocks (docs/SECURITY.md).
fn replace_scrubbing(file: &EditedFile, new: &str) -> Result<(), Error> {
    let path = &file.path;
    let io = |action, source| setup_io(action, path, source);
    let Some(original) = &file.original else { return Ok(()) };
    if original.mode & 0o200 == 0 {
        return Err(crate::config::edit::SetupError::ReadOnly { path: path.clone(), mode: original.mode }.into());
    }
    let old = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| io("open", e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "credentials".into());
    let tmp = setup::temp_file(&dir, &name, original.mode, Some((original.uid, original.gid)), new.as_bytes())?;
    if std::fs::read(path).ok().as_deref() != Some(original.bytes.as_slice()) {
        return Err(crate::config::edit::SetupError::Changed { path: path.clone() }.into());
    }
    tmp.persist(path).map_err(|e| io("replace", e.error))?;
    setup::sync_dir(&dir);
    // The old inode is unlinked now: nobody reads it by name, so its bytes can go.
    let zeros = vec![0u8; original.bytes.len()];
    let mut old = old;
    if old.write_all(&zeros).and_then(|()| old.sync_all()).is_err() {
        diag::warn(&format!("could not overwrite the old copy of {} with zeros", path.display()));
    }
    Ok(())
}

fn setup_io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    crate::config::edit::SetupError::Io { action, path: path.to_path_buf(), source }.into()
}

/// Writes the config file's new text with `setup`'s backup (or none, when `scrub`: the old text
/// held keys).
fn write_config(ctx: &Context, file: &EditedFile, new: &str, scrub: bool) -> Result<Option<PathBuf>, Error> {
    if scrub && file.original.is_some() {
        replace_scrubbing(file, new)?;
        return Ok(None);
    }
    Ok(setup::write(ctx, &file.path, file.original.as_ref(), new.as_bytes())?.backup)
}

/// The files' profiles after an edit, checked to resolve `profile` to its stored key.
fn verify_stored(
    paths: &ConfigPaths,
    config: &str,
    credentials: &str,
    profile: &str,
    backend: Backend,
    access_key_id: &str,
) -> Result<(), KeysError> {
    let fail = |why: String| KeysError::Verify { path: paths.config.clone(), why };
    let profiles = Profiles::from_texts(config, credentials, paths).map_err(|e| fail(e.to_string()))?;
    match resolve::resolve(&profiles, profile).map(|c| c.base) {
        Ok(Base::Stored { backend: b, access_key_id: k, .. }) if b == backend && k == access_key_id => Ok(()),
        Ok(other) => Err(fail(format!("the profile's base is {}", other.profile()))),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// `rolegate add PROFILE [--env] [--keystore STORE]`.
pub fn add(ctx: &Context, args: &AddArgs) -> Result<u8, Error> {
    let profile = args.profile.as_str();
    setup::check_name(profile)?;
    let paths = ConfigPaths::locate(ctx)?;
    let config_file = EditedFile::read(&paths.config)?;
    let mut credentials_text = config::read_text(&paths.credentials)?;
    let profiles = Profiles::from_texts(&config_file.text, &credentials_text, &paths)?;
    if let Some(props) = profiles.get(profile)
        && (props.contains_key("aws_access_key_id") || props.contains_key("aws_secret_access_key"))
    {
        let file = profiles.origin_of_key(profile, "aws_access_key_id").map(|p| p.display().to_string());
        return Err(KeysError::KeysInFile {
            profile: profile.into(),
            file: file.unwrap_or_else(|| file_of(&profiles, profile)),
        }
        .into());
    }
    check_base(&profiles, profile)?;
    let previous = match resolve::resolve(&profiles, profile).map(|c| c.base) {
        Ok(Base::Stored { backend, access_key_id, .. }) => Some((backend, access_key_id)),
        _ => None,
    };

    let (access_key_id, secret) = if args.env { keys_from_env(ctx)? } else { keys_from_terminal(profile)? };
    check_access_key_id(&access_key_id)?;
    let store = choose_store(ctx, args.keystore.as_deref())?;
    put_checked(&store, &access_key_id, &secret)?;
    drop(secret);

    let new_config = set_keys(
        &config_file.text,
        FileKind::Config,
        profile,
        &[(store::KEY_KEYSTORE, store.backend().name()), (store::KEY_ACCESS_KEY_ID, &access_key_id)],
    );
    let written = verify_stored(&paths, &new_config, &credentials_text, profile, store.backend(), &access_key_id)
        .map_err(Error::from)
        .and_then(|()| write_config(ctx, &config_file, &new_config, false));
    zeroize::Zeroize::zeroize(&mut credentials_text);
    let backup = match written {
        Ok(backup) => backup,
        Err(e) => {
            if previous.as_ref().is_none_or(|(b, k)| (*b, k.as_str()) != (store.backend(), access_key_id.as_str())) {
                let _ = store.delete(&access_key_id);
            }
            return Err(e);
        }
    };
    let mut report = String::new();
    let _ = writeln!(report, "stored the secret of access key {access_key_id} in {}", store.backend().describe());
    report_config(&mut report, &config_file.path, profile, backup.as_deref());
    if let Some((old_backend, old_key)) = previous
        && (old_backend, old_key.as_str()) != (store.backend(), access_key_id.as_str())
    {
        match forget(&profiles, profile, old_backend, &old_key) {
            Ok(line) => report.push_str(&line),
            Err(e) => diag::warn(&format!("the previous key {old_key} stays in {}: {e}", old_backend.describe())),
        }
    }
    output::write_stdout(&report).map_err(Error::Stdout)?;
    Ok(0)
}

fn report_config(report: &mut String, path: &Path, profile: &str, backup: Option<&Path>) {
    let _ = writeln!(
        report,
        "[{}] in {}: {} and {} say where its keys are (no secret in the file)",
        if profile == "default" { "default".to_string() } else { format!("profile {profile}") },
        path.display(),
        store::KEY_KEYSTORE,
        store::KEY_ACCESS_KEY_ID
    );
    if let Some(backup) = backup {
        let _ = writeln!(report, "backup of the previous config: {}", backup.display());
    }
}

/// Deletes a key no profile names any more from its store: the line to report.
fn forget(profiles: &Profiles, except: &str, backend: Backend, access_key_id: &str) -> Result<String, StoreError> {
    let shared = profiles.profiles.iter().any(|(name, props)| {
        name != except
            && props.get(store::KEY_ACCESS_KEY_ID).map(String::as_str) == Some(access_key_id)
            && props.get(store::KEY_KEYSTORE).map(String::as_str) == Some(backend.name())
    });
    if shared {
        return Ok(format!("access key {access_key_id} stays in {}: another profile uses it\n", backend.describe()));
    }
    let found = Store::open(backend)?.delete(access_key_id)?;
    Ok(if found {
        format!("deleted access key {access_key_id} from {}\n", backend.describe())
    } else {
        format!("access key {access_key_id} was not in {} any more\n", backend.describe())
    })
}

fn keys_from_env(ctx: &Context) -> Result<(String, Secret), KeysError> {
    let get = |variable| ctx.env.get(variable).ok_or(KeysError::EnvMissing { variable });
    let id = get(env_vars::AWS_ACCESS_KEY_ID)?.trim().to_string();
    let secret = Secret::new(get(env_vars::AWS_SECRET_ACCESS_KEY)?.trim());
    if secret.expose_secret().is_empty() {
        return Err(KeysError::EmptySecret);
    }
    Ok((id, secret))
}

/// Asks on `/dev/tty`: the access key id (shown), then the secret (not echoed).
fn keys_from_terminal(profile: &str) -> Result<(String, Secret), KeysError> {
    let mut tty = platform::open_terminal().map_err(KeysError::NoTerminal)?;
    let deadline = || Instant::now() + Duration::from_secs(PROMPT_SECONDS);
    let read = |tty: &mut File| match crate::mfa::tty::read_line(tty, deadline()) {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(KeysError::PromptTimeout { seconds: PROMPT_SECONDS }),
        Err(e) => Err(KeysError::Terminal(e)),
    };
    write!(tty, "Access key id for profile `{profile}`: ").and_then(|()| tty.flush()).map_err(KeysError::Terminal)?;
    let id = read(&mut tty)?.trim().to_string();
    check_access_key_id(&id)?;
    let mut line = {
        // Echo goes off before the prompt shows: nothing typed after it is ever displayed.
        let probe = tty.try_clone().map_err(KeysError::Terminal)?;
        let _quiet = platform::echo_off(&probe).map_err(KeysError::Terminal)?;
        write!(tty, "Secret access key (not shown): ").and_then(|()| tty.flush()).map_err(KeysError::Terminal)?;
        let line = read(&mut tty);
        let _ = writeln!(tty);
        line?
    };
    let secret = Secret::new(line.trim());
    zeroize::Zeroize::zeroize(&mut line);
    if secret.expose_secret().is_empty() {
        return Err(KeysError::EmptySecret);
    }
    Ok((id, secret))
}

/// `rolegate import PROFILE [--keystore STORE]`.
pub fn import(ctx: &Context, args: &ImportArgs) -> Result<u8, Error> {
    let profile = args.profile.as_str();
    let paths = ConfigPaths::locate(ctx)?;
    let config_file = EditedFile::read(&paths.config)?;
    let credentials_file = EditedFile::read(&paths.credentials)?;
    let profiles = Profiles::from_texts(&config_file.text, &credentials_file.text, &paths)?;
    let Some(props) = profiles.get(profile) else {
        return Err(resolve::resolve(&profiles, profile).err().map_or_else(
            || KeysError::NoKeysInFiles { profile: profile.into(), files: profiles.describe_files() }.into(),
            |e| PlanError::from(e).into(),
        ));
    };
    if props.contains_key("aws_session_token") {
        let file = profiles.origin_of_key(profile, "aws_session_token").map(|p| p.display().to_string());
        return Err(KeysError::TemporaryKeys { profile: profile.into(), file: file.unwrap_or_default() }.into());
    }
    check_base(&profiles, profile)?;
    let (Some(access_key_id), Some(secret)) = (props.get("aws_access_key_id"), props.get("aws_secret_access_key"))
    else {
        if props.contains_key("aws_access_key_id") || props.contains_key("aws_secret_access_key") {
            // Half a pair: the resolver's error names the file and the missing half.
            resolve::resolve(&profiles, profile).map_err(PlanError::from)?;
        }
        return Err(KeysError::NoKeysInFiles { profile: profile.into(), files: profiles.describe_files() }.into());
    };
    let access_key_id = access_key_id.trim().to_string();
    check_access_key_id(&access_key_id)?;
    let secret = Secret::new(secret.as_str());
    for file in [&config_file, &credentials_file] {
        if let Some(o) = &file.original
            && o.links > 1
            && file.text.contains(secret.expose_secret())
        {
            return Err(KeysError::HardLinks { path: file.path.clone(), links: o.links }.into());
        }
    }

    let store = choose_store(ctx, args.keystore.as_deref())?;
    put_checked(&store, &access_key_id, &secret)?;

    // The config first (its marker makes the stored key the profile's once the file keys go),
    // then the credentials file: a failure between the two leaves keys that still work.
    let (config_without, removed_from_config) = remove_keys(&config_file.text, FileKind::Config, profile, FILE_KEYS);
    let new_config = set_keys(
        &config_without,
        FileKind::Config,
        profile,
        &[(store::KEY_KEYSTORE, store.backend().name()), (store::KEY_ACCESS_KEY_ID, &access_key_id)],
    );
    let (new_credentials, removed_from_credentials) =
        remove_keys(&credentials_file.text, FileKind::Credentials, profile, FILE_KEYS);
    let verified = verify_stored(&paths, &new_config, &new_credentials, profile, store.backend(), &access_key_id);
    if let Err(e) = verified {
        let _ = store.delete(&access_key_id);
        return Err(e.into());
    }
    let backup = match write_config(ctx, &config_file, &new_config, removed_from_config > 0) {
        Ok(b) => b,
        Err(e) => {
            let _ = store.delete(&access_key_id);
            return Err(e);
        }
    };
    if removed_from_credentials > 0 {
        replace_scrubbing(&credentials_file, &new_credentials)?;
    }

    let mut report = String::new();
    let _ = writeln!(
        report,
        "stored the secret of access key {access_key_id} in {} (read back: same)",
        store.backend().describe()
    );
    for (count, file) in [(removed_from_credentials, &credentials_file), (removed_from_config, &config_file)] {
        if count > 0 {
            let _ = writeln!(
                report,
                "removed {count} key line(s) of `{profile}` from {} (no backup kept)",
                file.path.display()
            );
        }
    }
    report_config(&mut report, &config_file.path, profile, backup.as_deref());
    output::write_stdout(&report).map_err(Error::Stdout)?;
    for copy in plaintext_copies(&[&paths.config, &paths.credentials], &secret) {
        diag::warn(&format!(
            "{} still holds the secret access key of {access_key_id} (a backup or an editor's copy?): delete it",
            copy.display()
        ));
    }
    Ok(0)
}

/// Files beside the AWS files (backups, editors' copies) that still hold `secret`.
fn plaintext_copies(files: &[&Path], secret: &Secret) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
    dirs.dedup();
    let needle = secret.expose_secret().as_bytes();
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if !meta.is_file() || meta.len() > 1 << 20 {
                continue;
            }
            let Ok(mut bytes) = std::fs::read(&path) else { continue };
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
            zeroize::Zeroize::zeroize(&mut bytes);
        }
    }
    found.sort();
    found
}

/// `rolegate remove PROFILE`.
pub fn remove(ctx: &Context, profile: &str) -> Result<u8, Error> {
    let paths = ConfigPaths::locate(ctx)?;
    let config_file = EditedFile::read(&paths.config)?;
    let mut credentials_text = config::read_text(&paths.credentials)?;
    let profiles = Profiles::from_texts(&config_file.text, &credentials_text, &paths);
    zeroize::Zeroize::zeroize(&mut credentials_text);
    let profiles = profiles?;
    let stored = profiles
        .get(profile)
        .and_then(|p| Some((p.get(store::KEY_KEYSTORE)?.clone(), p.get(store::KEY_ACCESS_KEY_ID)?.clone())));
    let Some((backend, access_key_id)) = stored else {
        if profiles.get(profile).is_none() {
            resolve::resolve(&profiles, profile).map_err(PlanError::from)?;
        }
        return Err(KeysError::NotStored { profile: profile.into() }.into());
    };
    let backend = Backend::parse(&backend).ok_or_else(|| {
        PlanError::from(resolve::ResolveError::BadValue {
            profile: profile.into(),
            file: file_of(&profiles, profile),
            key: store::KEY_KEYSTORE,
            value: backend.clone(),
            why: "expected secret-service, kernel-keyring, keychain or credential-manager",
        })
    })?;
    let (new_config, _) = remove_keys(&config_file.text, FileKind::Config, profile, STORE_KEYS);
    let backup = setup::write(ctx, &config_file.path, config_file.original.as_ref(), new_config.as_bytes())?.backup;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "removed {} and {} from [{}] in {}",
        store::KEY_KEYSTORE,
        store::KEY_ACCESS_KEY_ID,
        if profile == "default" { "default".to_string() } else { format!("profile {profile}") },
        config_file.path.display()
    );
    if let Some(b) = backup {
        let _ = writeln!(report, "backup of the previous config: {}", b.display());
    }
    match forget(&profiles, profile, backend, &access_key_id) {
        Ok(line) => report.push_str(&line),
        Err(e) => {
            output::write_stdout(&report).map_err(Error::Stdout)?;
            return Err(KeysError::Store(e).into());
        }
    }
    output::write_stdout(&report).map_err(Error::Stdout)?;
    Ok(0)
}

/// `rolegate rotate PROFILE`.
pub fn rotate(ctx: Context, cli: &Cli, args: &KeysProfileArgs) -> Result<u8, Error> {
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let ctx = &session.ctx;
    let chain = resolve::resolve(&session.profiles, &args.profile).map_err(PlanError::from)?;
    let Base::Stored { profile, backend, access_key_id: old_id } = chain.base.clone() else {
        return Err(KeysError::NotStored { profile: chain.base.profile().into() }.into());
    };
    let store = Store::open(backend)?;
    let old = BaseCredentials {
        access_key_id: old_id.clone(),
        secret_access_key: store.get(&old_id)?,
        session_token: None,
        expiration: None,
    };
    let (region, sts_endpoint) = crate::plan::region_and_endpoint(&session.profiles, &profile, &ctx.env)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let client = StsClient::new(ctx, sts_endpoint)?.with_deadline(deadline);
    let iam_endpoint = iam::endpoint(&ctx.env, &region);
    let step = |step: &'static str, what: String| {
        move |source: Error| KeysError::Rotate { step, what, source: Box::new(source) }
    };

    // Who signs the IAM calls: the MFA session when the profile has mfa_serial (a policy that
    // requires MFA for iam:CreateAccessKey accepts it), else the old key itself.
    let signer = match session.profiles.get(&profile).and_then(|p| p.get("mfa_serial")) {
        Some(_) => {
            let target = session.target(Some(&profile), &args.session)?;
            session.credentials(&target)?.as_base()
        }
        None => old.clone(),
    };

    // Whose key it is: IAM's calls name the user (an MFA session's calls have no key of their own).
    let who = client.get_caller_identity(&signer).map_err(|e| {
        step("1 of 6, GetCallerIdentity with the current key", format!("nothing was changed; {old_id} stays in use"))(
            sts(e),
        )
    })?;
    let Some(user) = iam::user_name(&who.arn).map(str::to_string) else {
        return Err(KeysError::NotAUser { profile, arn: who.arn }.into());
    };
    let mut report = String::new();
    let (new_id, new_secret) = iam::create_access_key(&client, &iam_endpoint, &signer, &user).map_err(|e| {
        step("2 of 6, IAM CreateAccessKey", format!("no new key was made; {old_id} stays in use"))(sts(e))
    })?;
    let _ = writeln!(report, "created access key {new_id}");
    let undo_new = |why: String| {
        let deleted = iam::delete_access_key(&client, &iam_endpoint, &signer, &user, &new_id);
        let _ = store.delete(&new_id);
        match deleted {
            Ok(()) => format!("{why}; the new key {new_id} was deleted again and {old_id} stays in use"),
            Err(e) => format!(
                "{why}; {old_id} stays in use, and the new key {new_id} could not be deleted ({e}): delete it in the IAM console"
            ),
        }
    };
    if let Err(e) = put_checked(&store, &new_id, &new_secret) {
        return Err(step("3 of 6, storing the new key", undo_new("it could not be stored".into()))(e.into()).into());
    }
    let new = BaseCredentials {
        access_key_id: new_id.clone(),
        secret_access_key: new_secret,
        session_token: None,
        expiration: None,
    };
    let identity = match caller_identity_with_patience(&client, &new) {
        Ok(id) => id,
        Err(e) => {
            return Err(step("4 of 6, GetCallerIdentity with the new key", undo_new("STS did not accept it".into()))(
                sts(e),
            )
            .into());
        }
    };
    let _ = writeln!(report, "checked: STS accepts {new_id} as {}", identity.arn);

    let config_file = EditedFile::read(&session.paths.config)?;
    let new_config = set_keys(&config_file.text, FileKind::Config, &profile, &[(store::KEY_ACCESS_KEY_ID, &new_id)]);
    let mut credentials_text = config::read_text(&session.paths.credentials)?;
    let written = verify_stored(&session.paths, &new_config, &credentials_text, &profile, backend, &new_id)
        .map_err(Error::from)
        .and_then(|()| write_config(ctx, &config_file, &new_config, false));
    zeroize::Zeroize::zeroize(&mut credentials_text);
    if let Err(e) = written {
        return Err(step(
            "5 of 6, pointing the profile at the new key",
            undo_new("the config file could not be changed".into()),
        )(e)
        .into());
    }
    let _ = writeln!(
        report,
        "[profile {profile}] in {}: {} = {new_id}",
        config_file.path.display(),
        store::KEY_ACCESS_KEY_ID
    );

    // The new key works and the profile uses it: the old one goes, in IAM first.
    let delete_signer = if signer.session_token.is_some() { &signer } else { &new };
    if let Err(e) = iam::delete_access_key(&client, &iam_endpoint, delete_signer, &user, &old_id) {
        output::write_stdout(&report).map_err(Error::Stdout)?;
        return Err(step(
            "6 of 6, IAM DeleteAccessKey of the old key",
            format!("{new_id} is in use and stored; the old key {old_id} is still active in IAM and in {}: delete it in the IAM console, then `rolegate rotate` works again", backend.describe()),
        )(sts(e))
        .into());
    }
    let _ = writeln!(report, "deleted the old access key {old_id} in IAM");
    match forget(&session.profiles, &profile, backend, &old_id) {
        Ok(line) => report.push_str(&line),
        Err(e) => {
            diag::warn(&format!("the old key {old_id} stays in {} (already deleted in IAM): {e}", backend.describe()))
        }
    }
    output::write_stdout(&report).map_err(Error::Stdout)?;
    Ok(0)
}

fn sts(e: StsError) -> Error {
    KeysError::Aws(e).into()
}

/// GetCallerIdentity with a key IAM just made: IAM is eventually consistent, so a refusal as an
/// unknown key is tried again for a few seconds.
fn caller_identity_with_patience(
    client: &StsClient,
    caller: &BaseCredentials,
) -> Result<crate::sts::xml::CallerIdentity, StsError> {
    let give_up = Instant::now() + NEW_KEY_PATIENCE;
    let mut pause = Duration::from_millis(250);
    loop {
        match client.get_caller_identity(caller) {
            Err(StsError::InvalidClientTokenId { .. } | StsError::SignatureDoesNotMatch { .. })
                if Instant::now() + pause < give_up =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(4));
            }
            other => return other,
        }
    }
}
