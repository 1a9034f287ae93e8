//! The text of `rolegate list`: profiles that need MFA, and what the cache holds. Never a
//! secret: entries show what they are for and how long they last, not their keys.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::cache::Entry;
use crate::output::credential_process::format_expiration;

pub struct ProfileRow {
    pub profile: String,
    pub target: String,
    pub chain: String,
    pub strategy: String,
    pub serial: String,
    /// Where the base's keys live: `keys in FILE`, `keys in the STORE store`, `environment`, ...
    pub keys: String,
}

/// `11 h 52 min`, `58 min`, `expired`.
pub fn remaining(seconds: i64) -> String {
    if seconds <= 0 {
        return "expired".into();
    }
    let (h, m) = (seconds / 3600, (seconds % 3600) / 60);
    if h > 0 { format!("{h} h {m} min left") } else { format!("{m} min left") }
}

pub fn render(
    config: &Path,
    profiles: &[ProfileRow],
    cache_dir: &Path,
    entries: &[(PathBuf, Option<Entry>)],
    now: OffsetDateTime,
) -> String {
    let mut out = format!("Profiles that need MFA ({}):\n", config.display());
    if profiles.is_empty() {
        out.push_str("  none\n");
    }
    for p in profiles {
        out.push_str(&format!(
            "  {}  {} [{}]  MFA {} ({})  {}\n",
            p.profile, p.target, p.chain, p.serial, p.strategy, p.keys
        ));
    }
    out.push_str(&format!("\nCached sessions ({}):\n", cache_dir.display()));
    if entries.is_empty() {
        out.push_str("  none\n");
    }
    for (path, entry) in entries {
        match entry {
            Some(e) => out.push_str(&format!(
                "  {:<11}  {}  (for `{}`)  expires {} ({})\n",
                e.kind,
                e.label,
                e.profile,
                format_expiration(e.credentials.expiration),
                remaining(e.credentials.seconds_left(now))
            )),
            None => out.push_str(&format!("  unreadable   {}\n", path.display())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time() {
        assert_eq!(remaining(42_720), "11 h 52 min left");
        assert_eq!(remaining(3_540), "59 min left");
        assert_eq!(remaining(0), "expired");
    }
}
