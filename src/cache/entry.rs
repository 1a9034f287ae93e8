//! One cache entry: credentials plus what they are, as JSON.
//!
//! `{"version":1,"kind":"role"|"mfa-session","label":"...","profile":"...","issued_at":"...",
//!   "credentials":{"access_key_id":..,"secret_access_key":..,"session_token":..,"expiration":..}}`

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::credentials::Credentials;

pub const ENTRY_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub version: u32,
    /// `mfa-session` or `role`.
    pub kind: String,
    /// What the credentials are for, without secrets (e.g. the role ARN and the chain).
    pub label: String,
    /// The profile that asked first.
    pub profile: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    pub credentials: Credentials,
    /// Where it was read from (not stored), for messages.
    #[serde(skip)]
    pub path: Option<std::path::PathBuf>,
}
