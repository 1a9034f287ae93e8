//! The environment a credentialed child gets, shared by `exec` and `export`.
//!
//! Set: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_CREDENTIAL_EXPIRATION` (RFC 3339), `AWS_REGION` and `AWS_DEFAULT_REGION` when a region is
//! known (boto3 reads the latter), and `ROLEGATE_PROFILE` (the marker nested calls look for).
//! Unset: `AWS_PROFILE`, `AWS_DEFAULT_PROFILE` (a profile would beat the keys in some SDKs),
//! `AWS_SDK_LOAD_CONFIG`, and `AWS_SECURITY_TOKEN` (a stale one confuses old SDKs; we never set
//! it: Terragrunt broke on it).

use crate::credentials::Credentials;
use crate::env_vars;
use crate::output::credential_process::format_expiration;

/// What to change in an environment. Values may be secrets: never log them.
pub struct EnvChanges {
    pub set: Vec<(&'static str, String)>,
    pub unset: Vec<&'static str>,
}

impl std::fmt::Debug for EnvChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.set.iter().map(|(k, _)| *k).collect();
        f.debug_struct("EnvChanges").field("set", &names).field("unset", &self.unset).finish()
    }
}

impl Drop for EnvChanges {
    fn drop(&mut self) {
        for (_, v) in &mut self.set {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

/// Variables removed from a credentialed child's environment.
pub const UNSET: &[&str] = &[
    env_vars::AWS_PROFILE,
    env_vars::AWS_DEFAULT_PROFILE,
    env_vars::AWS_SDK_LOAD_CONFIG,
    env_vars::AWS_SECURITY_TOKEN,
];

pub fn child_env(credentials: &Credentials, region: Option<&str>, profile: &str) -> EnvChanges {
    let mut set = vec![
        (env_vars::AWS_ACCESS_KEY_ID, credentials.access_key_id.clone()),
        (env_vars::AWS_SECRET_ACCESS_KEY, credentials.secret_access_key.expose_secret().to_string()),
        (env_vars::AWS_SESSION_TOKEN, credentials.session_token.expose_secret().to_string()),
        (env_vars::AWS_CREDENTIAL_EXPIRATION, format_expiration(credentials.expiration)),
    ];
    if let Some(region) = region {
        set.push((env_vars::AWS_REGION, region.to_string()));
        set.push((env_vars::AWS_DEFAULT_REGION, region.to_string()));
    }
    set.push((env_vars::ROLEGATE_PROFILE, profile.to_string()));
    EnvChanges { set, unset: UNSET.to_vec() }
}

/// The environment of a child that runs an IAM Identity Center (`sso_*`) profile through the
/// SDKs' own support: `AWS_PROFILE` names it, and the credential variables that would beat the
/// profile in every SDK's chain are removed.
pub fn sso_pass_through_env(profile: &str) -> EnvChanges {
    let set = vec![(env_vars::AWS_PROFILE, profile.to_string()), (env_vars::ROLEGATE_PROFILE, profile.to_string())];
    let unset = vec![
        env_vars::AWS_ACCESS_KEY_ID,
        env_vars::AWS_SECRET_ACCESS_KEY,
        env_vars::AWS_SESSION_TOKEN,
        env_vars::AWS_SECURITY_TOKEN,
        env_vars::AWS_CREDENTIAL_EXPIRATION,
        env_vars::AWS_DEFAULT_PROFILE,
    ];
    EnvChanges { set, unset }
}
