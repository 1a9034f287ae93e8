//! The user's AWS configuration: locate the files, parse them with the SDK's own parser, and
//! resolve a profile into a [`Chain`](resolve::Chain).
//!
//! Files: `$AWS_CONFIG_FILE` or `~/.aws/config`, and `$AWS_SHARED_CREDENTIALS_FILE` or
//! `~/.aws/credentials`. A missing file is an empty file (as in every SDK); an unreadable or
//! non-UTF-8 file is an error naming the file (the SDK would silently treat it as empty).
//! Parsing, the `[profile x]` / `[x]` rules and the merge of the credentials file into the
//! profiles are the SDK parser's (`aws-runtime`'s `env_config`); resolution is ours, in
//! [`resolve`], pure code over [`Profiles`].

pub mod edit;
pub mod include;
pub mod resolve;
pub mod section_edit;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::property::PropertiesKey;
use aws_runtime::env_config::section::EnvConfigSections;

use crate::context::Context;
use crate::env_vars;

pub use resolve::{Base, Chain, ResolveError, RoleHop};
pub use source::{FileKind, Location, SourceMap};

/// Errors reading or parsing the configuration files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("cannot parse the AWS configuration files: {}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse { path: PathBuf, line: Option<u32>, message: String },
    #[error("{} is {size} bytes: too large for an AWS configuration file (at most {MAX_FILE_BYTES})", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("no home directory: set HOME, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE")]
    NoHome,
    #[error("{} is a FIFO (named pipe) that no program writes to", path.display())]
    FifoWithoutWriter { path: PathBuf },
    #[error("{} is a device with nothing to read, not a file", path.display())]
    DeviceNotReady { path: PathBuf },
}

impl ConfigError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Read { .. } => Some(
                "check the file's permissions, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE elsewhere".into(),
            ),
            ConfigError::NotUtf8 { .. } => Some("save the file as UTF-8 text".into()),
            ConfigError::Parse { .. } => {
                Some("fix the line named above; `aws configure list` shows how the AWS CLI reads the same files".into())
            }
            ConfigError::TooLarge { .. } => {
                Some("check that AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE name the right files".into())
            }
            ConfigError::NoHome => None,
            ConfigError::FifoWithoutWriter { .. } => Some(
                "start the program that writes it first, or use `AWS_CONFIG_FILE=<(COMMAND)` (bash, zsh), or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at a regular file".into(),
            ),
            ConfigError::DeviceNotReady { .. } => {
                Some("point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at a regular file".into())
            }
        }
    }
}

/// Where the two shared files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigPaths {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

impl ConfigPaths {
    pub fn locate(ctx: &Context) -> Result<ConfigPaths, ConfigError> {
        let pick = |var: &str, default: &str| -> Result<PathBuf, ConfigError> {
            let raw = ctx.env.get(var).unwrap_or(default);
            expand_home(raw, ctx.home.as_deref())
        };
        // Inside a rolegate child, AWS_CONFIG_FILE names the generated copy; the user's files
        // are in ROLEGATE_CONFIG_FILE / ROLEGATE_SHARED_CREDENTIALS_FILE.
        let var = |own: &'static str, sdk: &'static str| if ctx.env.get(own).is_some() { own } else { sdk };
        Ok(ConfigPaths {
            config: pick(var(env_vars::ROLEGATE_CONFIG_FILE, env_vars::AWS_CONFIG_FILE), "~/.aws/config")?,
            credentials: pick(
                var(env_vars::ROLEGATE_SHARED_CREDENTIALS_FILE, env_vars::AWS_SHARED_CREDENTIALS_FILE),
                "~/.aws/credentials",
            )?,
        })
    }
}

fn expand_home(raw: &str, home: Option<&Path>) -> Result<PathBuf, ConfigError> {
    match raw.strip_prefix("~/").or(if raw == "~" { Some("") } else { None }) {
        Some(rest) => Ok(home.ok_or(ConfigError::NoHome)?.join(rest)),
        None => Ok(PathBuf::from(raw)),
    }
}

/// One profile's properties, keys lower-case (as the SDK parser gives them).
pub type Properties = BTreeMap<String, String>;

/// Every profile of the two files, merged as the SDKs merge them.
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    pub profiles: BTreeMap<String, Properties>,
    /// `[services NAME]` sections: NAME -> the `sts` `endpoint_url` in it.
    pub sts_service_endpoints: BTreeMap<String, String>,
    pub paths: Option<ConfigPaths>,
    /// File and line of every section and setting, from the texts that were parsed.
    sources: SourceMap,
    /// The settings profiles took through `include_profile`, and broken inclusions.
    inclusions: include::Inclusions,
}

impl Profiles {
    pub fn get(&self, name: &str) -> Option<&Properties> {
        self.profiles.get(name)
    }

    /// Reads and parses both files.
    pub fn load(paths: &ConfigPaths) -> Result<Profiles, ConfigError> {
        let config = read_text(&paths.config)?;
        let mut credentials = read_text(&paths.credentials)?;
        let profiles = Profiles::from_texts(&config, &credentials, paths);
        zeroize::Zeroize::zeroize(&mut credentials); // the keys live on in the profiles only
        profiles
    }

    /// Parses the two files' texts, and maps where each setting is; a parse error names the
    /// file and line it is in.
    pub fn from_texts(config: &str, credentials: &str, paths: &ConfigPaths) -> Result<Profiles, ConfigError> {
        let sources = SourceMap::build(&paths.config, config, &paths.credentials, credentials);
        let mut profiles = Profiles::parse_mapped(config, credentials, sources).map_err(|message| {
            // The SDK parser's message names no file: find the one that fails alone.
            let (path, message) = if Profiles::parse(config, "").is_err() {
                (paths.config.clone(), message)
            } else {
                (paths.credentials.clone(), Profiles::parse("", credentials).err().unwrap_or(message))
            };
            let (line, message) = split_parse_message(&message);
            ConfigError::Parse { path, line, message }
        })?;
        profiles.paths = Some(paths.clone());
        Ok(profiles)
    }

    /// Parses file contents with the SDK's parser, without paths (so without a source map). The
    /// error is the parser's message (with its line).
    pub fn parse(config: &str, credentials: &str) -> Result<Profiles, String> {
        let sources = SourceMap::build(Path::new(""), config, Path::new(""), credentials);
        let mut profiles = Profiles::parse_mapped(config, credentials, sources)?;
        profiles.sources = SourceMap::default();
        Ok(profiles)
    }

    /// Parses with the SDK's parser; `sources` is the map of the same texts.
    fn parse_mapped(config: &str, credentials: &str, sources: SourceMap) -> Result<Profiles, String> {
        let files = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, config)
            .with_contents(EnvConfigFileKind::Credentials, credentials)
            .build();
        // The parser's `load` is `async` for forward compatibility only: with in-memory contents it
        // never awaits anything, so one poll completes it and no async runtime is needed.
        let env = aws_types::os_shim_internal::Env::from_slice(&[]);
        let fs = aws_types::os_shim_internal::Fs::from_slice(&[]);
        let source = poll_once(aws_runtime::env_config::source::load(&env, &fs, &files)).map_err(|e| e.to_string())?;
        let sections = EnvConfigSections::parse(source).map_err(|e| e.to_string())?;

        let mut out = Profiles::default();
        let mut asked: Vec<&str> = Vec::with_capacity(KNOWN_KEYS.len());
        for name in sections.profiles() {
            let Some(profile) = sections.get_profile(name) else { continue };
            // The parser's `get` allocates for each key asked: ask for the known keys that the
            // profile's sections set (the source map has them, lower-cased as the parser has
            // them), not for all of them.
            asked.clear();
            match sources.keys(name) {
                Some(keys) => asked.extend(keys.filter_map(|k| KNOWN_KEYS.iter().copied().find(|known| *known == k))),
                None => asked.extend(KNOWN_KEYS),
            }
            let props: Properties =
                asked.iter().filter_map(|k| profile.get(k).map(|v| ((*k).to_string(), v.to_string()))).collect();
            out.profiles.insert(name.to_string(), props);
        }
        out.inclusions = include::apply(&mut out.profiles);
        // The STS endpoint of each `services` section a profile names (itself or through
        // include_profile).
        for services in out.profiles.values().filter_map(|p| p.get("services")) {
            if out.sts_service_endpoints.contains_key(services) {
                continue;
            }
            let key = PropertiesKey::builder()
                .section_key("services")
                .section_name(services.as_str())
                .property_name("sts")
                .sub_property_name("endpoint_url")
                .build();
            if let Some(url) = key.ok().and_then(|k| sections.other_sections().get(&k).map(|v| v.to_string())) {
                out.sts_service_endpoints.insert(services.clone(), url);
            }
        }
        out.sources = sources;
        Ok(out)
    }

    /// Where the two files' sections and settings are (empty for [`Profiles::parse`]).
    pub fn sources(&self) -> &SourceMap {
        &self.sources
    }

    /// The file that defines `profile`, for error messages: the file of its first section
    /// header ([`SourceMap::profile`] has the line too). From memory: no file is read.
    pub fn origin(&self, profile: &str) -> Option<&Path> {
        self.paths.as_ref()?;
        let at = self.sources.profile(profile)?;
        Some(self.sources.path(self.kind_of(&at.file)))
    }

    /// The file whose section for `profile` gives it `key` (for errors about that key), as the
    /// SDKs merge the files; else [`Profiles::origin`].
    pub fn origin_of_key(&self, profile: &str, key: &str) -> Option<&Path> {
        self.paths.as_ref()?;
        match self.key_location(profile, key) {
            Some(at) => Some(self.sources.path(self.kind_of(&at.file))),
            None => self.origin(profile),
        }
    }

    /// The line that gives `profile` its `key`: its own, else the line of the profile it took
    /// the key from through `include_profile`.
    pub fn key_location(&self, profile: &str, key: &str) -> Option<Location> {
        match self.inherited_from(profile, key) {
            Some(from) => self.sources.key(from, key),
            None => self.sources.key(profile, key),
        }
    }

    /// The profile `profile` took `key` from through `include_profile`, if it did.
    pub fn inherited_from(&self, profile: &str, key: &str) -> Option<&str> {
        self.inclusions.inherited.get(profile)?.get(key).map(String::as_str)
    }

    /// Every setting `profile` took through `include_profile`: key -> the profile it came from.
    pub fn inherited(&self, profile: &str) -> Option<&BTreeMap<String, String>> {
        self.inclusions.inherited.get(profile)
    }

    /// Why `profile`'s `include_profile` cannot be followed, if it cannot.
    pub fn include_problem(&self, profile: &str) -> Option<&include::IncludeProblem> {
        self.inclusions.problems.get(profile)
    }

    fn kind_of(&self, file: &Path) -> FileKind {
        if file == self.sources.path(FileKind::Config) { FileKind::Config } else { FileKind::Credentials }
    }

    /// A short description of where profiles live, for messages.
    pub fn describe_files(&self) -> String {
        match &self.paths {
            Some(p) => format!("{} or {}", p.config.display(), p.credentials.display()),
            None => "the AWS configuration files".into(),
        }
    }
}

/// The profile keys rolegate reads; others are ignored.
pub const KNOWN_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_account_id",
    "credential_process",
    "credential_source",
    "source_profile",
    "role_arn",
    "external_id",
    "role_session_name",
    "duration_seconds",
    "mfa_serial",
    "region",
    "endpoint_url",
    "services",
    "ignore_configured_endpoint_urls",
    "use_fips_endpoint",
    "use_dualstack_endpoint",
    "sts_regional_endpoints",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "ca_bundle",
    "sso_region",
    include::KEY_INCLUDE_PROFILE,
    include::KEY_PARENT_PROFILE,
    resolve::KEY_SOURCE_IDENTITY,
    resolve::KEY_SESSION_TAGS,
    resolve::KEY_TRANSITIVE_SESSION_TAGS,
    resolve::KEY_AWS_VAULT_MFA_PROCESS,
    resolve::KEY_MFA_STRATEGY,
    resolve::KEY_MFA_SESSION_DURATION,
    resolve::KEY_MFA_PROCESS,
    resolve::KEY_YKMAN_ACCOUNT,
    crate::store::KEY_KEYSTORE,
    crate::store::KEY_ACCESS_KEY_ID,
];

/// One word of a `credential_process` line that rolegate writes into an AWS config file (the
/// program, the profile name). The line is read twice: by the SDKs' config parsers, then as a
/// command (`sh -c` in the Go and Rust SDKs, `shlex` in botocore). A word of letters, digits
/// and `/._-+:@%` means nothing to any of them and is written as it is (`%` included: no SDK
/// interpolates the config file, botocore's parser is a `RawConfigParser`, and neither `sh` nor
/// `shlex` give it a meaning). Any other word goes in single quotes, a `'` as `'\''`; and `#`
/// and `;` as `'\#'` / `'\;'`, outside the quotes, because the SDKs' parsers end a value at a
/// `#` or `;` that follows a blank, and a quoted word may hold a blank.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%".contains(&b)) {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '#' | ';' => {
                out.push_str("'\\");
                out.push(c);
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Largest config or credentials file read: real ones are kilobytes; this bounds the parser's
/// time and memory on a wrong or hostile file.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// `error parsing  on line 6:\n  Expected ...` -> (Some(6), "Expected ...").
fn split_parse_message(message: &str) -> (Option<u32>, String) {
    let line = message
        .split_once("on line ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok());
    let text = message.split_once(":\n").map_or(message, |(_, m)| m).trim().to_string();
    (line, text)
}

pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let read_error = |source| ConfigError::Read { path: path.to_path_buf(), source };
    // Opened without blocking: a FIFO's open would wait for a writer for ever.
    let mut file = match crate::platform::open_read_nonblocking(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(source) => return Err(read_error(source)),
    };
    let meta = file.metadata().map_err(read_error)?;
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge { path: path.to_path_buf(), size: meta.len() });
    }
    // A pipe is what the SDKs read too (`AWS_CONFIG_FILE=<(sops -d config)`): it is read to its
    // end however long its writer takes. A named FIFO that no program has open for writing
    // gets a moment for one to come, then an error. A device never makes us wait.
    let fifo = crate::platform::is_fifo(&meta);
    let (mut writer_awaited, mut grace_over) = (false, false);
    // The cap counts the bytes actually read: a device (`/dev/zero`) or a pipe says nothing
    // true about its size.
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            // No writer: the end, unless a FIFO has had none yet.
            Ok(0) if !fifo || writer_awaited || !bytes.is_empty() => break,
            Ok(0) if grace_over => return Err(ConfigError::FifoWithoutWriter { path: path.to_path_buf() }),
            // A writer that opens it and writes later makes the next read wait (`WouldBlock`).
            Ok(0) => match wait_for_input(&file, Some(FIFO_WRITER_GRACE)).map_err(read_error)? {
                true => writer_awaited = true,
                false => grace_over = true,
            },
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                if bytes.len() as u64 > MAX_FILE_BYTES {
                    return Err(ConfigError::TooLarge { path: path.to_path_buf(), size: bytes.len() as u64 });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && fifo => {
                writer_awaited = true;
                wait_for_input(&file, None).map_err(read_error)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(ConfigError::DeviceNotReady { path: path.to_path_buf() });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(read_error(source)),
        }
    }
    String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { path: path.to_path_buf() })
}

/// How long a named FIFO that no program writes to is given for a writer to come.
const FIFO_WRITER_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Waits until `file` has input or an end, for at most `bound` (`None`: as long as it takes);
/// `Ok(false)` when the bound passed.
fn wait_for_input(file: &std::fs::File, bound: Option<std::time::Duration>) -> std::io::Result<bool> {
    let deadline = bound.map(|b| std::time::Instant::now() + b);
    loop {
        let step = match deadline {
            Some(d) => d.saturating_duration_since(std::time::Instant::now()),
            None => std::time::Duration::from_secs(3600),
        };
        if crate::platform::wait_readable(file, step)? {
            return Ok(true);
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(false);
        }
    }
}

/// The names of the profiles the two files define, sorted, from their section headers alone
/// ([`source::Header`]): what shell completion offers at each TAB. No parsing, so it stays fast
/// in a file of ten thousand profiles; a file that cannot be read gives no names. (The SDK
/// parser, not this, decides what a profile holds.)
pub fn profile_names(paths: &ConfigPaths) -> Vec<String> {
    use source::{FileKind, Header};
    let mut names = std::collections::BTreeSet::new();
    for (path, kind) in [(&paths.config, FileKind::Config), (&paths.credentials, FileKind::Credentials)] {
        // The credentials file holds keys: wiped when dropped.
        let Ok(text) = read_text(path).map(zeroize::Zeroizing::new) else { continue };
        for line in text.lines().filter(|l| l.starts_with('[')) {
            if let Some(Header::Profile { name, .. }) = Header::parse(line, kind)
                && !name.is_empty()
            {
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}

/// Polls a future that is known to complete without waiting (see its one caller).
fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => unreachable!("in-memory profile loading never waits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profiles_and_merges_credentials() {
        let p = Profiles::parse(
            "[default]\nregion = us-west-2\n[profile target]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/x\n[services local]\nsts =\n  endpoint_url = http://127.0.0.1:9\n[profile svc]\nservices = local\n",
            "[base]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s\n",
        )
        .unwrap();
        assert_eq!(p.get("default").unwrap()["region"], "us-west-2");
        assert_eq!(p.get("target").unwrap()["source_profile"], "base");
        assert_eq!(p.get("base").unwrap()["aws_access_key_id"], "AKIDEXAMPLE");
        assert_eq!(p.sts_service_endpoints["local"], "http://127.0.0.1:9");
    }

    #[test]
    fn parse_error_names_the_line() {
        let err = Profiles::parse("[profile a]\nthis is not a property\n", "").unwrap_err();
        assert!(err.contains("line 2") || err.contains('2'), "{err}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("target"), "target");
        assert_eq!(quote("/usr/local/bin/rolegate"), "/usr/local/bin/rolegate");
        assert_eq!(quote("a_b.c/d%e@f:g+h"), "a_b.c/d%e@f:g+h", "every character of a profile name is plain");
        assert_eq!(quote("/opt/my tools/rolegate"), "'/opt/my tools/rolegate'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("/opt/a #b;c"), "'/opt/a '\\#'b'\\;'c'");
        assert_eq!(quote(""), "''");
    }

    /// What `quote` writes reads back as the same words: through the SDK's config parser, then
    /// split as a command line.
    #[test]
    fn quoted_words_survive_the_config_parser_and_the_shell() {
        let programs =
            ["rolegate", "/opt/my tools/rolegate", "/opt/a #b/rolegate", "/x;y/ z;/rolegate", "/it's/rolegate"];
        let profiles = ["t", "a%b", "a_b.c/d%e@f:g+h", "it's", "#a", "a ;b", "a\\b"];
        for program in programs {
            for profile in profiles {
                let line = format!("{} credential-process {}", quote(program), quote(profile));
                let parsed = Profiles::parse(&format!("[profile x]\ncredential_process = {line}\n"), "").unwrap();
                assert_eq!(parsed.get("x").unwrap()["credential_process"], line, "{program:?} {profile:?}");
                assert_eq!(resolve::rolegate_target(&line).as_deref(), Some(profile), "{line}");
            }
        }
    }

    #[test]
    fn origin_answers_from_the_source_map() {
        let paths = ConfigPaths { config: "/nonexistent/c".into(), credentials: "/nonexistent/k".into() };
        let p = Profiles::from_texts(
            "[profile a]\nregion = r\n[profile b]\naws_access_key_id = X\n[profile c d]\n",
            "[b]\naws_access_key_id = Y\n",
            &paths,
        )
        .unwrap();
        assert_eq!(p.origin("a"), Some(Path::new("/nonexistent/c")));
        assert_eq!(p.origin("b"), Some(Path::new("/nonexistent/c")));
        assert_eq!(p.origin_of_key("b", "aws_access_key_id"), Some(Path::new("/nonexistent/k")));
        assert_eq!(p.origin_of_key("a", "aws_access_key_id"), Some(Path::new("/nonexistent/c")));
        assert_eq!(p.origin("c d"), Some(Path::new("/nonexistent/c")), "a section the parser dropped");
        assert_eq!(p.origin("nope"), None);
        assert_eq!(p.sources().profile("b"), Some(Location { file: "/nonexistent/c".into(), line: 3 }));
        assert_eq!(Profiles::parse("[profile a]\n", "").unwrap().origin("a"), None, "no paths, no origin");
    }

    /// Asking the parser only for the keys the source map saw gives what asking for every known
    /// key gives (an empty map answers no profile, so every key is asked).
    #[test]
    fn asking_for_the_keys_seen_loses_none() {
        let cases = [
            (
                "[default]\nregion = a\n[profile default]\nRegion = b\nmfa_serial = m\n",
                "[default]\naws_access_key_id = k\n",
            ),
            (
                "[profile  a ]\r\nROLE_ARN = r ; c\r\nsource_profile=b\n[profile a]\nregion=x\n",
                "[ b ]\naws_secret_access_key = s\n",
            ),
            (
                "[profile a]\nsts =\n  endpoint_url = u\nservices = s\n[services s]\nsts =\n  endpoint_url = http://x\n",
                "",
            ),
            (
                "# c\n[profile x]\n; c\nrole_arn = r\n  continued\n[x]\nregion = y\n[profile a b]\nregion = z\n",
                "[profile x]\nregion = q\n",
            ),
            ("[profile a]\nrole_arn#x = y\nRole_Session_Name = n\n", "[a]\n"),
        ];
        for (config, credentials) in cases {
            let sources = SourceMap::build(Path::new("/c"), config, Path::new("/k"), credentials);
            let seen = Profiles::parse_mapped(config, credentials, sources).unwrap();
            let all = Profiles::parse_mapped(config, credentials, SourceMap::default()).unwrap();
            assert_eq!(seen.profiles, all.profiles, "{config:?}");
            assert_eq!(seen.sts_service_endpoints, all.sts_service_endpoints, "{config:?}");
        }
    }

    #[test]
    fn expands_tilde() {
        assert_eq!(expand_home("~/.aws/config", Some(Path::new("/h"))).unwrap(), PathBuf::from("/h/.aws/config"));
        assert_eq!(expand_home("/etc/x", None).unwrap(), PathBuf::from("/etc/x"));
        assert!(expand_home("~/x", None).is_err());
    }
}
