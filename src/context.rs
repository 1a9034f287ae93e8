//! The outside world, injected: environment, clock, directories.
//!
//! Everything that differs between two runs of the same command line comes from a [`Context`],
//! built once in [`Context::from_process`]. Nothing else reads the process environment or the
//! system clock (clippy's `disallowed-methods` enforces it), so tests build a `Context` by hand.

use std::collections::HashMap;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::env_vars;

/// A snapshot of the environment variables (those that are valid UTF-8).
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The value, treating an empty variable as unset (as the SDKs do).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `true` for the values the SDKs read as true.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn as_map(&self) -> &HashMap<String, String> {
        &self.vars
    }
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
        let env = Env::from_pairs(
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        );
        Context::new(env, Clock::System)
    }

    pub fn new(env: Env, clock: Clock) -> Self {
        let home = env.get(env_vars::HOME).map(PathBuf::from);
        Context { started_at: clock.now(), env, clock, home }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// `$ROLEGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/rolegate`, else `~/.cache/rolegate`.
    pub fn default_cache_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = self.env.get(env_vars::ROLEGATE_CACHE_DIR) {
            return Some(PathBuf::from(dir));
        }
        if let Some(xdg) = self.env.get(env_vars::XDG_CACHE_HOME).filter(|p| p.starts_with('/')) {
            return Some(PathBuf::from(xdg).join("rolegate"));
        }
        self.home.as_ref().map(|h| h.join(".cache").join("rolegate"))
    }
}
