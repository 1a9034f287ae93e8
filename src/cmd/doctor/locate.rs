//! Where a setting is written: file and line of each section header and `key = value` line of
//! the two AWS files, for `doctor`'s reports only.
//!
//! The SDK's parser ([`crate::config::Profiles`]) decides what the settings *are*; it keeps no
//! line numbers, so this small scanner reads the raw text again and answers "where". It follows
//! the same section rules: in the config file `[profile NAME]` and `[default]` are profiles
//! (`[profile default]` wins over `[default]`), `[services NAME]` and `[sso-session NAME]` are
//! other sections, and a bare `[NAME]` is ignored by the SDKs; in the credentials file every
//! `[NAME]` is a profile, taken literally. Within a file a later line wins; the credentials file
//! wins over the config file. Indented lines after a property are its continuation or its
//! sub-properties (`sts =` / `  endpoint_url = ...`) and are recorded as `parent.sub`.

use std::path::{Path, PathBuf};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    Config,
    Credentials,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Header {
    /// A profile: `[profile NAME]` or `[default]` in the config file, `[NAME]` in credentials.
    Profile { name: String, prefixed: bool },
    /// `[services NAME]`, `[sso-session NAME]`, ...
    Other { kind: String, name: String },
    /// A bare `[NAME]` in the config file, which the SDKs ignore.
    Unprefixed { name: String },
}

#[derive(Clone, Debug)]
struct Section {
    header: Header,
    line: u32,
    keys: Vec<(String, u32)>,
}

#[derive(Clone, Debug)]
struct FileMap {
    path: PathBuf,
    kind: FileKind,
    sections: Vec<Section>,
}

/// The locations of every section and property of the config and credentials files.
#[derive(Clone, Debug)]
pub struct SourceMap {
    config: FileMap,
    credentials: FileMap,
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
    pub fn build(config_path: &Path, config_text: &str, credentials_path: &Path, credentials_text: &str) -> SourceMap {
        SourceMap {
            config: scan(config_path, config_text, FileKind::Config),
            credentials: scan(credentials_path, credentials_text, FileKind::Credentials),
        }
    }

    /// The header that defines `profile`: in the config file if it is there, else in the credentials file.
    pub fn profile(&self, profile: &str) -> Option<Location> {
        let in_config = self.config.profile_sections(profile).next().map(|s| self.config.at(s.line));
        in_config.or_else(|| self.credentials.profile_sections(profile).next().map(|s| self.credentials.at(s.line)))
    }

    /// The line that gives `profile` its `key`, as the SDKs merge the files.
    pub fn key(&self, profile: &str, key: &str) -> Option<Location> {
        self.credentials.last_key(profile, key).or_else(|| self.config.last_key(profile, key))
    }

    /// The `[services NAME]` section's line (or its `sts` property's line).
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

    /// Headers the SDKs read differently from what they look like.
    pub fn odd_sections(&self) -> Vec<OddSection> {
        let mut out = Vec::new();
        for s in &self.config.sections {
            if let Header::Unprefixed { name } = &s.header {
                out.push(OddSection::ConfigWithoutPrefix { name: name.clone(), at: self.config.at(s.line) });
            }
        }
        for s in &self.credentials.sections {
            if let Header::Profile { name, .. } = &s.header
                && let Some(rest) = name.strip_prefix("profile")
                && rest.starts_with(char::is_whitespace)
            {
                out.push(OddSection::CredentialsWithPrefix {
                    name: rest.trim().to_string(),
                    at: self.credentials.at(s.line),
                });
            }
        }
        out
    }
}

impl FileMap {
    fn at(&self, line: u32) -> Location {
        Location { file: self.path.clone(), line }
    }

    /// The sections that define `profile`, in file order. In the config file, once a
    /// `[profile default]` exists the `[default]` sections are ignored (the SDKs' rule).
    fn profile_sections<'a>(&'a self, profile: &'a str) -> impl Iterator<Item = &'a Section> + Clone + 'a {
        let prefixed_default = self.kind == FileKind::Config
            && profile == "default"
            && self
                .sections
                .iter()
                .any(|s| matches!(&s.header, Header::Profile { name, prefixed: true } if name == "default"));
        self.sections.iter().filter(move |s| match &s.header {
            Header::Profile { name, prefixed } => name == profile && (!prefixed_default || *prefixed),
            _ => false,
        })
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
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let inner = rest.split(']').next().unwrap_or("").trim();
            sections.push(Section { header: header(inner, kind), line, keys: Vec::new() });
            parent = None;
            continue;
        }
        let Some(section) = sections.last_mut() else { continue };
        let indented = raw.starts_with([' ', '\t']);
        let key = trimmed.split('=').next().unwrap_or("").trim().to_string();
        match (&parent, indented) {
            // A continuation or a sub-property of the property above.
            (Some(p), true) => {
                if trimmed.contains('=') {
                    section.keys.push((format!("{p}.{key}"), line));
                }
            }
            _ => {
                if trimmed.contains('=') && !key.is_empty() {
                    section.keys.push((key.clone(), line));
                    parent = Some(key);
                }
            }
        }
    }
    FileMap { path: path.to_path_buf(), kind, sections }
}

fn header(inner: &str, kind: FileKind) -> Header {
    if kind == FileKind::Credentials {
        return Header::Profile { name: inner.to_string(), prefixed: false };
    }
    if inner == "default" {
        return Header::Profile { name: inner.to_string(), prefixed: false };
    }
    match inner.split_once(char::is_whitespace) {
        Some(("profile", name)) => Header::Profile { name: name.trim().to_string(), prefixed: true },
        Some((kind, name)) => Header::Other { kind: kind.to_string(), name: name.trim().to_string() },
        None => Header::Unprefixed { name: inner.to_string() },
    }
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
region = us-east-2
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
        assert_eq!(m.profile("nope"), None);
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
    fn reports_odd_sections() {
        assert_eq!(
            map().odd_sections(),
            vec![
                OddSection::ConfigWithoutPrefix {
                    name: "GEHC-000".into(),
                    at: Location { file: "/c".into(), line: 15 }
                },
                OddSection::CredentialsWithPrefix { name: "x".into(), at: Location { file: "/k".into(), line: 4 } },
            ]
        );
    }
}
