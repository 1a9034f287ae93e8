//! Credentials and the secret types.
//!
//! Invariants: a secret is never a bare `String`. [`Secret`] zeroizes its bytes on drop, prints
//! `** redacted **` in `Debug`, has no `Display`, and gives its value only through
//! [`Secret::expose_secret`], a call a reviewer notices. [`Credentials`] always carries an
//! expiration: rolegate only hands out temporary credentials, and an SDK given none never refreshes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string: a secret access key, a session token.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for the few places that must send or store it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Long-term or temporary AWS credentials that are the *input* of a call (static keys from a
/// profile, the environment, or a base `credential_process`). They may have no expiry.
#[derive(Clone, Debug)]
pub struct BaseCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expiration: Option<OffsetDateTime>,
}

/// Temporary credentials issued by STS, as rolegate caches and hands them out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The ARN STS reported for the identity (assumed-role ARN), when known. Not secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

impl Credentials {
    /// Seconds of validity left at `now` (negative once expired).
    pub fn seconds_left(&self, now: OffsetDateTime) -> i64 {
        (self.expiration - now).whole_seconds()
    }

    /// These credentials as the input of a further STS call.
    pub fn as_base(&self) -> BaseCredentials {
        BaseCredentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: Some(self.session_token.clone()),
            expiration: Some(self.expiration),
        }
    }
}

/// A one-time MFA code: exactly six ASCII digits.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MfaCode(String);

impl MfaCode {
    /// Accepts six digits, ignoring surrounding whitespace and inner spaces ("123 456").
    pub fn parse(input: &str) -> Option<MfaCode> {
        let mut digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let ok = digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Some(MfaCode(digits))
        } else {
            digits.zeroize();
            None
        }
    }

    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MfaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

/// A time as the SDKs read an expiration: RFC 3339 in UTC with `Z`, `2026-01-02T03:04:05Z`.
pub fn format_expiration(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{s:?}"), "** redacted **");
    }

    #[test]
    fn credentials_debug_shows_no_secret() {
        let c = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("SECRETSECRET"),
            session_token: Secret::new("TOKENTOKEN"),
            expiration: OffsetDateTime::UNIX_EPOCH,
            account_id: None,
            arn: None,
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains("SECRETSECRET") && !debug.contains("TOKENTOKEN"), "{debug}");
        let base = format!("{:?}", c.as_base());
        assert!(!base.contains("SECRETSECRET") && !base.contains("TOKENTOKEN"), "{base}");
    }

    #[test]
    fn mfa_code_accepts_six_digits_only() {
        assert_eq!(MfaCode::parse(" 123456\n").unwrap().expose_secret(), "123456");
        assert_eq!(MfaCode::parse("123 456").unwrap().expose_secret(), "123456");
        for bad in ["12345", "1234567", "12345a", "", "١٢٣٤٥٦"] {
            assert!(MfaCode::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(format!("{:?}", MfaCode::parse("123456").unwrap()), "** redacted **");
    }
}
