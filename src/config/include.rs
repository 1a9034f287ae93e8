//! `include_profile`: a profile takes the settings it does not set itself from another profile
//! (aws-vault's key; aws-vault 5 spelled it `parent_profile`, read here too when
//! `include_profile` is absent). The included profile may include a third, and so on: the first
//! profile along the way that sets a key gives it, as aws-vault reads it (`vault/config.go`,
//! `populateFromConfigFile`).
//!
//! Applied once, when the files are parsed, so that every reader of [`super::Profiles`] (the
//! resolver, the planner, `doctor`, exec's generated config) sees the settings a profile ends up
//! with. What is not taken from an included profile:
//! - the keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`): they belong
//!   to the profile that holds them, as in aws-vault, whose keys are stored per profile; a
//!   profile that wants another's keys names it in `source_profile`;
//! - `include_profile` / `parent_profile` themselves (the inclusion is followed, not copied).
//!
//! rolegate does not fall back on `[default]` for a profile without `include_profile`, as
//! aws-vault does: the SDKs do not, and a child of `exec` sees the same settings rolegate saw.
//!
//! A loop, a chain longer than [`MAX_CHAIN`] or a missing included profile is kept as an
//! [`IncludeProblem`] of the profile, reported when that profile is used (a broken profile
//! elsewhere in the files does not stop the others).

use std::collections::BTreeMap;

use super::Properties;

/// Longest chain of profiles followed, through `include_profile` here and `source_profile` in
/// [`super::resolve`], before giving up (the SDKs have no limit; a real chain has 2 or 3).
pub const MAX_CHAIN: usize = 32;

/// Profile key: the profile whose settings this one takes (aws-vault).
pub const KEY_INCLUDE_PROFILE: &str = "include_profile";
/// aws-vault 5's name for [`KEY_INCLUDE_PROFILE`].
pub const KEY_PARENT_PROFILE: &str = "parent_profile";

/// Settings never taken from an included profile.
pub const NOT_INHERITED: &[&str] =
    &["aws_access_key_id", "aws_secret_access_key", "aws_session_token", KEY_INCLUDE_PROFILE, KEY_PARENT_PROFILE];

/// Why a profile's inclusions cannot be followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncludeProblem {
    /// `including` names `included`, which is not defined.
    Missing { including: String, included: String },
    /// The inclusions come back to a profile already included: `a -> b -> a`.
    Loop { cycle: String },
    /// More than [`MAX_CHAIN`] profiles.
    TooDeep,
}

/// What inclusion gave: for each including profile, each inherited key and the profile it
/// came from; and the profiles whose inclusions are broken.
#[derive(Clone, Debug, Default)]
pub struct Inclusions {
    pub inherited: BTreeMap<String, BTreeMap<String, String>>,
    pub problems: BTreeMap<String, IncludeProblem>,
}

/// One inherited setting: key, value, the profile it comes from.
type Inherited = (String, String, String);

/// The profile `props` includes, if any.
pub fn included(props: &Properties) -> Option<&str> {
    props.get(KEY_INCLUDE_PROFILE).or_else(|| props.get(KEY_PARENT_PROFILE)).map(String::as_str)
}

/// Adds to every profile that includes another the settings it inherits. Each profile's chain
/// of inclusions is read from the settings as written (not from what another inclusion added).
pub fn apply(profiles: &mut BTreeMap<String, Properties>) -> Inclusions {
    let mut out = Inclusions::default();
    // For each including profile: (key, value, the profile it comes from).
    let mut additions: Vec<(String, Vec<Inherited>)> = Vec::new();
    for (name, props) in profiles.iter() {
        let Some(first) = included(props) else { continue };
        let mut visited: Vec<&str> = vec![name.as_str()];
        let mut adds: Vec<Inherited> = Vec::new();
        let mut next = Some(first);
        while let Some(inc) = next {
            if visited.contains(&inc) {
                let mut cycle: Vec<&str> = visited.clone();
                cycle.push(inc);
                out.problems.insert(name.clone(), IncludeProblem::Loop { cycle: cycle.join(" -> ") });
                break;
            }
            if visited.len() > MAX_CHAIN {
                out.problems.insert(name.clone(), IncludeProblem::TooDeep);
                break;
            }
            let Some(inc_props) = profiles.get(inc) else {
                let including = visited.last().copied().unwrap_or(name).to_string();
                out.problems.insert(name.clone(), IncludeProblem::Missing { including, included: inc.to_string() });
                break;
            };
            visited.push(inc);
            for (k, v) in inc_props {
                let taken = props.contains_key(k) || adds.iter().any(|(ak, _, _)| ak == k);
                if !taken && !NOT_INHERITED.contains(&k.as_str()) {
                    adds.push((k.clone(), v.clone(), inc.to_string()));
                }
            }
            next = included(inc_props);
        }
        if !adds.is_empty() {
            additions.push((name.clone(), adds));
        }
    }
    for (name, adds) in additions {
        let Some(props) = profiles.get_mut(&name) else { continue };
        let from = out.inherited.entry(name).or_default();
        for (k, v, origin) in adds {
            props.insert(k.clone(), v);
            from.insert(k, origin);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(specs: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, Properties> {
        specs
            .iter()
            .map(|(n, kv)| (n.to_string(), kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
            .collect()
    }

    #[test]
    fn own_settings_win_then_the_nearest_inclusion() {
        let mut p = maps(&[
            ("a", &[("include_profile", "b"), ("region", "a-region")]),
            ("b", &[("include_profile", "c"), ("mfa_serial", "b-serial"), ("aws_access_key_id", "AKIDB")]),
            ("c", &[("mfa_serial", "c-serial"), ("source_profile", "root"), ("region", "c-region")]),
        ]);
        let inc = apply(&mut p);
        assert_eq!(p["a"]["region"], "a-region");
        assert_eq!(p["a"]["mfa_serial"], "b-serial");
        assert_eq!(p["a"]["source_profile"], "root");
        assert!(!p["a"].contains_key("aws_access_key_id"), "keys are never inherited");
        assert_eq!(p["b"]["source_profile"], "root");
        assert_eq!(inc.inherited["a"]["mfa_serial"], "b");
        assert_eq!(inc.inherited["a"]["source_profile"], "c");
        assert!(!inc.inherited["a"].contains_key("region"));
        assert!(inc.problems.is_empty());
    }

    #[test]
    fn loops_missing_and_the_old_spelling() {
        let mut p = maps(&[
            ("a", &[("include_profile", "b")]),
            ("b", &[("include_profile", "a")]),
            ("m", &[("include_profile", "nope")]),
            ("old", &[("parent_profile", "c")]),
            ("c", &[("region", "r")]),
            ("self", &[("include_profile", "self")]),
        ]);
        let inc = apply(&mut p);
        assert_eq!(inc.problems["a"], IncludeProblem::Loop { cycle: "a -> b -> a".into() });
        assert_eq!(inc.problems["self"], IncludeProblem::Loop { cycle: "self -> self".into() });
        assert_eq!(inc.problems["m"], IncludeProblem::Missing { including: "m".into(), included: "nope".into() });
        assert_eq!(p["old"]["region"], "r");
    }
}
