//! The outside world, injected: environment, clock, directories.
//!
//! Everything that differs between two runs of the same command line comes from a [`Context`],
//! built once in [`Context::from_process`]. Nothing else reads the process environment or the
//! system clock (clippy's `disallowed-methods` enforces it), so tests build a `Context` by hand.
//!
//! The environment is kept whole, as the operating system gave it: every variable, as an
//! [`OsString`], including those whose name or value is not UTF-8. rolegate reads its settings
//! through [`Env::get`] (UTF-8 values, an empty variable counting as unset, as in the SDKs), and
//! the programs it starts get every variable byte for byte through [`Env::vars_os`], minus the
//! removals each of them documents.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::env_vars;

/// A snapshot of the environment variables, all of them, as raw bytes.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
    /// In tests: every name read through [`Env::get`] and its siblings, shared by clones.
    #[cfg(test)]
    reads: Option<std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>>,
}

/// Names only: values may be secrets (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    pub fn from_pairs<K: Into<OsString>, V: Into<OsString>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Env {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            #[cfg(test)]
            reads: None,
        }
    }

    /// The value, when it is valid UTF-8; an empty variable is unset (as the SDKs read it).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_os(name).and_then(OsStr::to_str)
    }

    /// The raw value, whatever its bytes; an empty variable is unset. For paths.
    pub fn get_os(&self, name: &str) -> Option<&OsStr> {
        self.record(name);
        self.vars.get(OsStr::new(name)).map(OsString::as_os_str).filter(|v| !v.is_empty())
    }

    /// `true` for the values the SDKs read as true.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Every variable as the process received it, empty and non-UTF-8 ones included, in name
    /// order: what a child started by rolegate inherits.
    pub fn vars_os(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.record("*");
        self.vars.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// An environment that notes every name read through it (tests of what the planner reads).
    /// Reading every variable at once ([`Env::vars_os`]) is noted as `*`.
    #[cfg(test)]
    pub fn recording<K: Into<OsString>, V: Into<OsString>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Env { reads: Some(std::sync::Arc::default()), ..Env::from_pairs(pairs) }
    }

    /// The names read so far through a [`Env::recording`] environment (or any clone of it).
    #[cfg(test)]
    pub fn names_read(&self) -> std::collections::BTreeSet<String> {
        self.reads
            .as_ref()
            .map(|r| r.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
            .unwrap_or_default()
    }

    #[cfg(test)]
    fn record(&self, name: &str) {
        if let Some(reads) = &self.reads {
            reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_string());
        }
    }

    #[cfg(not(test))]
    #[inline(always)]
    fn record(&self, _name: &str) {}
}

/// Where "now" comes from.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    Fixed(OffsetDateTime),
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        match self {
            #[allow(clippy::disallowed_methods)] // the one reader of the system clock
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(t) => *t,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Context {
    pub env: Env,
    pub clock: Clock,
    pub home: Option<PathBuf>,
    /// When this process started: entries issued before it are stale under `--refresh-mfa`.
    pub started_at: OffsetDateTime,
}

impl Context {
    pub fn from_process() -> Self {
        #[allow(clippy::disallowed_methods)] // the one reader of the process environment
        let env = Env::from_pairs(std::env::vars_os());
        Context::new(env, Clock::System)
    }

    pub fn new(env: Env, clock: Clock) -> Self {
        let home = env.get_os(env_vars::HOME).map(PathBuf::from);
        Context { started_at: clock.now(), env, clock, home }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// `$ROLEGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/rolegate`, else `~/.cache/rolegate`. An
    /// empty variable is unset; a relative `XDG_CACHE_HOME` is ignored (the XDG rule).
    pub fn default_cache_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = self.env.get_os(env_vars::ROLEGATE_CACHE_DIR) {
            return Some(PathBuf::from(dir));
        }
        if let Some(xdg) = self.env.get_os(env_vars::XDG_CACHE_HOME).map(PathBuf::from).filter(|p| p.is_absolute()) {
            return Some(xdg.join("rolegate"));
        }
        self.home.as_ref().map(|h| h.join(".cache").join("rolegate"))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    fn latin1() -> OsString {
        OsStr::from_bytes(b"caf\xe9").to_owned()
    }

    #[test]
    fn keeps_every_variable_byte_for_byte() {
        let env = Env::from_pairs([
            (OsString::from("LATIN1"), latin1()),
            (OsStr::from_bytes(b"N\xffME").to_owned(), OsString::from("v")),
            (OsString::from("EMPTY"), OsString::new()),
            (OsString::from("PLAIN"), OsString::from("x")),
        ]);
        // `get` keeps its meaning: UTF-8 values only, empty is unset.
        assert_eq!(env.get("PLAIN"), Some("x"));
        assert_eq!(env.get("LATIN1"), None);
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.get_os("LATIN1"), Some(latin1().as_os_str()));
        assert_eq!(env.get_os("EMPTY"), None);
        // A child gets all four, the empty one included.
        let all: Vec<(OsString, OsString)> = env.vars_os().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        assert_eq!(all.len(), 4);
        assert!(all.contains(&(OsString::from("LATIN1"), latin1())));
        assert!(all.contains(&(OsString::from("EMPTY"), OsString::new())));
        assert!(all.contains(&(OsStr::from_bytes(b"N\xffME").to_owned(), OsString::from("v"))));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let env = Env::from_pairs([("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("wJalr"), "{shown}");
    }

    #[test]
    fn an_empty_cache_dir_variable_is_unset() {
        let ctx = |pairs: &[(&str, &str)]| Context::new(Env::from_pairs(pairs.iter().copied()), Clock::System);
        let home = [("HOME", "/home/u")];
        assert_eq!(ctx(&home).default_cache_dir(), Some(PathBuf::from("/home/u/.cache/rolegate")));
        let empty = [("HOME", "/home/u"), ("ROLEGATE_CACHE_DIR", ""), ("XDG_CACHE_HOME", "")];
        assert_eq!(ctx(&empty).default_cache_dir(), Some(PathBuf::from("/home/u/.cache/rolegate")));
        let relative = [("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")];
        assert_eq!(ctx(&relative).default_cache_dir(), Some(PathBuf::from("/home/u/.cache/rolegate")));
        let set = [("HOME", "/home/u"), ("ROLEGATE_CACHE_DIR", "/c"), ("XDG_CACHE_HOME", "/x")];
        assert_eq!(ctx(&set).default_cache_dir(), Some(PathBuf::from("/c")));
        let xdg = [("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")];
        assert_eq!(ctx(&xdg).default_cache_dir(), Some(PathBuf::from("/x/rolegate")));
    }

    #[test]
    fn a_non_utf8_home_is_kept() {
        let mut home = OsString::from("/home/");
        home.push(latin1());
        let ctx = Context::new(Env::from_pairs([(OsString::from("HOME"), home.clone())]), Clock::System);
        assert_eq!(ctx.home, Some(PathBuf::from(&home)));
    }

    #[test]
    fn a_recording_environment_notes_each_name_read() {
        let env = Env::recording([("A", "1")]);
        let clone = env.clone();
        let _ = env.get("A");
        let _ = clone.flag("B");
        let _ = env.get_os("C");
        assert_eq!(env.names_read().into_iter().collect::<Vec<_>>(), ["A", "B", "C"]);
        let _ = env.vars_os().count();
        assert!(env.names_read().contains("*"));
        assert!(Env::from_pairs([("A", "1")]).names_read().is_empty());
    }
}
