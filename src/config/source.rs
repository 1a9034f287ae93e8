//! Where a setting is written: the file and line of every section header and `key = value`
//! line of the two AWS files, built once from the texts the SDK parser reads, and the one
//! reader of section headers (`doctor`, `setup` and the generated config use it too).
//!
//! The SDK's parser ([`crate::config::Profiles`]) decides what the settings *are*; it keeps no
//! line numbers, so this scanner goes over the same text and answers "where". It classifies
//! lines as the parser does (`aws-runtime` `env_config::parse`): a line whose first character
//! is `#` or `;` is a comment; one that starts with `[` is a section header (a comment may
//! follow its `]`); one that starts with a blank continues the property above (or is a
//! sub-property: `sts =` / `  endpoint_url = ...`, recorded as `sts.endpoint_url`); any other
//! is `key = value`, the key lower-cased. Sections follow the SDKs' rules: in the config file
//! `[profile NAME]` and `[default]` are profiles (`[profile default]` wins over `[default]`),
//! `[services NAME]` and `[sso-session NAME]` are other sections, and a bare `[NAME]` is
//! ignored by the SDKs; in the credentials file every `[NAME]` is a profile, taken literally.
//! Within a file a later line wins; the credentials file wins over the config file.
//!
//! Lookups go through an index by profile name: answering for one profile costs the same in a
//! file of ten profiles and in one of ten thousand.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Which of the two files a text is: the rules for section names differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    Config,
    Credentials,
}

/// A place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based.
    pub line: u32,
}

impl Location {
    /// `path:line`.
    pub fn render(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// A section header, as the SDKs read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Header {
    /// A profile: `[profile NAME]` (`prefixed`) or `[default]` in the config file, `[NAME]` in
    /// the credentials file (NAME taken literally there, blanks included).
    Profile { name: String, prefixed: bool },
    /// `[services NAME]`, `[sso-session NAME]`, ... in the config file.
    Other { kind: String, name: String },
    /// A bare `[NAME]` in the config file, which the SDKs ignore.
    Unprefixed { name: String },
}

impl Header {
    /// The header `line` is, if it is one (a line starting with `[`; a trailing line break and
    /// a comment after the `]` are allowed). An indented `[` is not a header: the SDKs read it as
    /// the continuation of the property above.
    pub fn parse(line: &str, kind: FileKind) -> Option<Header> {
        if !line.starts_with('[') {
            return None;
        }
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.split(['#', ';']).next().unwrap_or("").trim_matches(BLANKS);
        let inner = &line[1..];
        // The SDK parser rejects a header without its `]`; read up to the first one regardless.
        let inner = inner.strip_suffix(']').unwrap_or_else(|| inner.split(']').next().unwrap_or(inner));
        Some(section_header(inner.trim_matches(BLANKS), kind))
    }

    /// The profile this header defines, if it is a profile section.
    pub fn profile(&self) -> Option<&str> {
        match self {
            Header::Profile { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// What one line of an AWS file is, by the SDK parser's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// Blank, or a comment (`#` or `;` in the first column).
    Blank,
    /// `[...]`.
    Header(Header),
    /// `key = value` (or `key =`, which starts sub-properties): the key, lower-cased.
    Property { key: String },
    /// Indented: the continuation of the property above, or a sub-property.
    Continuation,
}

impl Line {
    /// Classifies one line (a trailing line break is allowed).
    pub fn parse(line: &str, kind: FileKind) -> Line {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let bare = bare.strip_suffix('\r').unwrap_or(bare);
        if bare.trim_matches(BLANKS).is_empty() || bare.starts_with(['#', ';']) {
            return Line::Blank;
        }
        if let Some(header) = Header::parse(bare, kind) {
            return Line::Header(header);
        }
        if bare.starts_with(BLANKS) {
            return Line::Continuation;
        }
        Line::Property { key: property_key(bare) }
    }
}

/// The SDK parser's blanks (it trims nothing else).
const BLANKS: &[char] = &[' ', '\t'];

/// The key of a property line: before the first `=`, blanks trimmed, lower-cased (the SDK
/// parser's rule; a line without `=` is a parse error there, and has an empty key here).
fn property_key(line: &str) -> String {
    match line.split_once('=') {
        Some((key, _)) => key.trim_matches(BLANKS).to_ascii_lowercase(),
        None => String::new(),
    }
}

/// `profile NAME`, `default`, `services NAME`, `NAME`: what the brackets hold, trimmed.
fn section_header(inner: &str, kind: FileKind) -> Header {
    if kind == FileKind::Credentials || inner == "default" {
        return Header::Profile { name: inner.to_string(), prefixed: false };
    }
    match inner.split_once(BLANKS) {
        Some(("profile", name)) => Header::Profile { name: name.trim().to_string(), prefixed: true },
        Some((kind, name)) => Header::Other { kind: kind.to_string(), name: name.trim().to_string() },
        None => Header::Unprefixed { name: inner.to_string() },
    }
}

#[derive(Clone, Debug)]
struct Section {
    header: Header,
    line: u32,
    keys: Vec<(String, u32)>,
}

#[derive(Clone, Default)]
struct FileMap {
    path: PathBuf,
    /// The text as read: the one the SDK parser got. The credentials file's holds keys: it is
    /// wiped when dropped and never shown (see the `Debug` below).
    text: Zeroizing<String>,
    sections: Vec<Section>,
    /// Profile name -> its sections, in file order (in the config file without the `[default]`
    /// sections that a `[profile default]` overrides).
    profiles: HashMap<String, Vec<usize>>,
}

impl std::fmt::Debug for FileMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMap")
            .field("path", &self.path)
            .field("text", &format_args!("{} bytes", self.text.len()))
            .field("sections", &self.sections.len())
            .finish()
    }
}

/// The locations of every section and property of the config and credentials files.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    config: FileMap,
    credentials: FileMap,
    odd: Vec<OddSection>,
}

/// A section header that the SDKs read differently from what its author probably meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OddSection {
    /// `[NAME]` in the config file: ignored; the author meant `[profile NAME]`.
    ConfigWithoutPrefix { name: String, at: Location },
    /// `[profile NAME]` in the credentials file: a profile literally named `profile NAME`.
    CredentialsWithPrefix { name: String, at: Location },
}

impl SourceMap {
    /// Scans both texts once (the texts are kept, for [`SourceMap::text`]).
    pub fn build(config_path: &Path, config_text: &str, credentials_path: &Path, credentials_text: &str) -> SourceMap {
        let config = scan(config_path, config_text, FileKind::Config);
        let credentials = scan(credentials_path, credentials_text, FileKind::Credentials);
        let mut odd = Vec::new();
        for s in &config.sections {
            if let Header::Unprefixed { name } = &s.header {
                odd.push(OddSection::ConfigWithoutPrefix { name: name.clone(), at: config.at(s.line) });
            }
        }
        for s in &credentials.sections {
            if let Header::Profile { name, .. } = &s.header
                && let Some(rest) = name.strip_prefix("profile")
                && rest.starts_with(char::is_whitespace)
            {
                odd.push(OddSection::CredentialsWithPrefix {
                    name: rest.trim().to_string(),
                    at: credentials.at(s.line),
                });
            }
        }
        SourceMap { config, credentials, odd }
    }

    /// The path of one file.
    pub fn path(&self, kind: FileKind) -> &Path {
        &self.file(kind).path
    }

    /// The text of one file, exactly as it was read and parsed.
    pub fn text(&self, kind: FileKind) -> &str {
        &self.file(kind).text
    }

    fn file(&self, kind: FileKind) -> &FileMap {
        match kind {
            FileKind::Config => &self.config,
            FileKind::Credentials => &self.credentials,
        }
    }

    /// The header that defines `profile`: its first in the config file if it is there, else its
    /// first in the credentials file. Sections the SDKs drop for their name (`[profile a b]`)
    /// count: they are where the author defined the profile.
    pub fn profile(&self, profile: &str) -> Option<Location> {
        self.headers(profile, FileKind::Config).next().or_else(|| self.headers(profile, FileKind::Credentials).next())
    }

    /// Every header that defines `profile` in one file, in file order.
    pub fn headers<'a>(&'a self, profile: &str, kind: FileKind) -> impl Iterator<Item = Location> + 'a {
        let file = self.file(kind);
        file.profile_sections(profile).map(move |s| file.at(s.line))
    }

    /// The line that gives `profile` its `key` (lower-case), as the SDKs merge the files.
    pub fn key(&self, profile: &str, key: &str) -> Option<Location> {
        self.credentials.last_key(profile, key).or_else(|| self.config.last_key(profile, key))
    }

    /// The keys (lower-case) that the sections of `profile` set, in both files, repeats
    /// included; `None` when no section defines `profile`.
    pub fn keys<'a>(&'a self, profile: &str) -> Option<impl Iterator<Item = &'a str> + 'a> {
        fn of<'a>(file: &'a FileMap, sections: Option<&'a Vec<usize>>) -> impl Iterator<Item = &'a str> + 'a {
            sections.into_iter().flatten().flat_map(|i| file.sections[*i].keys.iter().map(|(k, _)| k.as_str()))
        }
        let (config, credentials) = (self.config.profiles.get(profile), self.credentials.profiles.get(profile));
        (config.is_some() || credentials.is_some())
            .then(|| of(&self.config, config).chain(of(&self.credentials, credentials)))
    }

    /// The `[services NAME]` section's line (or, with `key`, its `sts.endpoint_url`-style
    /// property's line).
    pub fn services(&self, name: &str, key: Option<&str>) -> Option<Location> {
        let sections = self
            .config
            .sections
            .iter()
            .filter(|s| matches!(&s.header, Header::Other { kind, name: n } if kind == "services" && n == name));
        match key {
            None => sections.clone().next().map(|s| self.config.at(s.line)),
            Some(k) => sections.flat_map(|s| s.keys.iter()).rfind(|(kk, _)| kk == k).map(|(_, l)| self.config.at(*l)),
        }
    }

    /// Headers the SDKs read differently from what they look like, in file order (config first).
    pub fn odd_sections(&self) -> &[OddSection] {
        &self.odd
    }
}

impl FileMap {
    fn at(&self, line: u32) -> Location {
        Location { file: self.path.clone(), line }
    }

    fn profile_sections<'a>(&'a self, profile: &str) -> impl Iterator<Item = &'a Section> + 'a {
        self.profiles.get(profile).into_iter().flatten().map(|i| &self.sections[*i])
    }

    fn last_key(&self, profile: &str, key: &str) -> Option<Location> {
        self.profile_sections(profile)
            .flat_map(|s| s.keys.iter())
            .filter(|(k, _)| k == key)
            .last()
            .map(|(_, line)| self.at(*line))
    }
}

fn scan(path: &Path, text: &str, kind: FileKind) -> FileMap {
    let mut sections: Vec<Section> = Vec::new();
    let mut parent: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        match Line::parse(raw, kind) {
            Line::Blank => {}
            Line::Header(header) => {
                sections.push(Section { header, line, keys: Vec::new() });
                parent = None;
            }
            Line::Property { key } => {
                let Some(section) = sections.last_mut() else { continue };
                if !key.is_empty() && raw.contains('=') {
                    section.keys.push((key.clone(), line));
                    parent = Some(key);
                }
            }
            Line::Continuation => {
                let (Some(section), Some(p)) = (sections.last_mut(), &parent) else { continue };
                // A sub-property of the property above (a plain continuation has no `=`).
                if raw.contains('=') {
                    section.keys.push((format!("{p}.{}", property_key(raw.trim_matches(BLANKS))), line));
                }
            }
        }
    }
    // In the config file, once a `[profile default]` exists the `[default]` sections are
    // ignored (the SDKs' rule).
    let prefixed_default = kind == FileKind::Config
        && sections.iter().any(|s| matches!(&s.header, Header::Profile { name, prefixed: true } if name == "default"));
    let mut profiles: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in sections.iter().enumerate() {
        if let Header::Profile { name, prefixed } = &s.header
            && !(prefixed_default && name == "default" && !prefixed)
        {
            profiles.entry(name.clone()).or_default().push(i);
        }
    }
    FileMap { path: path.to_path_buf(), text: Zeroizing::new(text.to_string()), sections, profiles }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# comment
[default]
region = eu-west-1

[profile base]
region = us-west-2
[profile target]
source_profile = base
  ; a comment
role_arn = arn:aws:iam::123456789012:role/x
services = local
[services local]
sts =
  endpoint_url = http://127.0.0.1:9
[GEHC-000]
region = us-east-1
[profile target]
Region = us-east-2
";
    const CREDENTIALS: &str =
        "[base]\naws_access_key_id = AKID\naws_secret_access_key = s\n[profile x]\naws_access_key_id = A\n";

    fn map() -> SourceMap {
        SourceMap::build(Path::new("/c"), CONFIG, Path::new("/k"), CREDENTIALS)
    }

    fn at(file: &str, line: u32) -> Option<Location> {
        Some(Location { file: file.into(), line })
    }

    #[test]
    fn finds_headers_and_keys() {
        let m = map();
        assert_eq!(m.profile("target"), at("/c", 7));
        assert_eq!(m.key("target", "role_arn"), at("/c", 10));
        assert_eq!(m.key("target", "region"), at("/c", 18), "a later section of the same profile wins");
        assert_eq!(m.key("base", "region"), at("/c", 6));
        assert_eq!(m.key("base", "aws_access_key_id"), at("/k", 2));
        assert_eq!(m.profile("base"), at("/c", 5));
        assert_eq!(m.key("default", "region"), at("/c", 3));
        assert_eq!(m.profile("GEHC-000"), None, "a bare section in the config file is not a profile");
        assert_eq!(m.services("local", Some("sts.endpoint_url")), at("/c", 14));
        assert_eq!(m.services("local", None), at("/c", 12));
        assert_eq!(m.profile("nope"), None);
        assert_eq!(m.headers("target", FileKind::Config).map(|l| l.line).collect::<Vec<_>>(), [7, 17]);
        assert_eq!(m.text(FileKind::Config), CONFIG);
        assert_eq!(
            m.keys("base").unwrap().collect::<Vec<_>>(),
            ["region", "aws_access_key_id", "aws_secret_access_key"]
        );
        assert!(m.keys("nope").is_none());
        let shown = format!("{m:?}");
        assert!(!shown.contains("AKID") && shown.contains("bytes"), "{shown}");
        assert_eq!(m.path(FileKind::Credentials), Path::new("/k"));
    }

    #[test]
    fn profile_default_wins_over_default() {
        let m = SourceMap::build(
            Path::new("/c"),
            "[default]\nregion = a\n[profile default]\nregion = b\n",
            Path::new("/k"),
            "",
        );
        assert_eq!(m.key("default", "region"), at("/c", 4));
        assert_eq!(m.profile("default"), at("/c", 3));
    }

    #[test]
    fn credentials_win_over_config() {
        let m = SourceMap::build(
            Path::new("/c"),
            "[profile a]\naws_access_key_id = X\n",
            Path::new("/k"),
            "[a]\naws_access_key_id = Y\n",
        );
        assert_eq!(m.key("a", "aws_access_key_id"), at("/k", 2));
    }

    #[test]
    fn rejected_names_are_found_where_written() {
        let m = SourceMap::build(Path::new("/c"), "[profile my role]\nregion = r\n", Path::new("/k"), "[my keys]\n");
        assert_eq!(m.profile("my role"), at("/c", 1));
        assert_eq!(m.profile("my keys"), at("/k", 1));
    }

    #[test]
    fn reports_odd_sections() {
        assert_eq!(
            map().odd_sections(),
            [
                OddSection::ConfigWithoutPrefix {
                    name: "GEHC-000".into(),
                    at: Location { file: "/c".into(), line: 15 }
                },
                OddSection::CredentialsWithPrefix { name: "x".into(), at: Location { file: "/k".into(), line: 4 } },
            ]
        );
    }

    #[test]
    fn headers_by_the_sdk_rules() {
        let config = |line: &str| Header::parse(line, FileKind::Config);
        let credentials = |line: &str| Header::parse(line, FileKind::Credentials);
        let profile = |h: Option<Header>| h.and_then(|h| h.profile().map(str::to_string));
        assert_eq!(profile(config("[profile a]")).as_deref(), Some("a"));
        assert_eq!(profile(config("[profile \t a ]  # comment")).as_deref(), Some("a"));
        assert_eq!(profile(config("[profile a];c\r")).as_deref(), Some("a"));
        assert_eq!(profile(config("[profile a]\r\n")).as_deref(), Some("a"));
        assert_eq!(profile(config("[default]")).as_deref(), Some("default"));
        assert_eq!(config("[profile default]"), Some(Header::Profile { name: "default".into(), prefixed: true }));
        assert_eq!(config("[a]"), Some(Header::Unprefixed { name: "a".into() }), "no prefix in the config file");
        assert_eq!(config("[sso-session a]"), Some(Header::Other { kind: "sso-session".into(), name: "a".into() }));
        assert_eq!(config("[services a]"), Some(Header::Other { kind: "services".into(), name: "a".into() }));
        assert_eq!(config(" [profile a]"), None, "indented: a continuation line");
        assert_eq!(profile(credentials("[a]")).as_deref(), Some("a"));
        assert_ne!(profile(credentials("[profile a]")).as_deref(), Some("a"), "the credentials file takes no prefix");
        let m =
            SourceMap::build(Path::new("/c"), "[profile a]\nx = 1\n[profile b]\n[profile a]\n", Path::new("/k"), "");
        assert_eq!(m.headers("a", FileKind::Config).map(|l| l.line).collect::<Vec<_>>(), [1, 4]);
    }

    #[test]
    fn lines_by_the_sdk_rules() {
        let line = |l: &str| Line::parse(l, FileKind::Config);
        assert_eq!(line("  \t\n"), Line::Blank);
        assert_eq!(line("# x = y"), Line::Blank);
        assert_eq!(line(";x"), Line::Blank);
        assert_eq!(line("Role_ARN = x # c\n"), Line::Property { key: "role_arn".into() });
        assert_eq!(line("  endpoint_url = x"), Line::Continuation);
        assert_eq!(line("  # indented: a continuation, not a comment"), Line::Continuation);
        assert!(matches!(line("[profile a] ; c"), Line::Header(_)));
    }

    #[test]
    fn lookups_do_not_depend_on_the_number_of_profiles() {
        let mut config = String::from("[profile base]\nregion = us-west-2\n");
        for i in 0..10_000 {
            config.push_str(&format!("[profile role{i}]\nsource_profile = base\nrole_arn = r\n"));
        }
        let m = SourceMap::build(Path::new("/c"), &config, Path::new("/k"), "");
        assert_eq!(m.profile("role9999"), at("/c", 3 + 3 * 9999));
        assert_eq!(m.key("role9999", "role_arn"), at("/c", 5 + 3 * 9999));
        // Each profile's entry in the index names its own sections only.
        assert!(m.config.profiles.values().all(|v| v.len() == 1));
    }
}
