//! The `credential_process` output, as every AWS SDK reads it:
//!
//! ```json
//! {"Version": 1, "AccessKeyId": "ASIA...", "SecretAccessKey": "...", "SessionToken": "...",
//!  "Expiration": "2026-01-02T03:04:05Z", "AccountId": "123456789012"}
//! ```
//!
//! `Version` is the integer 1. `Expiration` is RFC 3339 in UTC with `Z` and whole seconds (the
//! Go and Rust SDKs parse strictly; without it SDKs never refresh). `AccountId` only when known.

use serde::Serialize;

use crate::credentials::Credentials;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Output<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

pub use crate::credentials::format_expiration;

/// The JSON document, one line, with a trailing newline.
pub fn render(credentials: &Credentials) -> String {
    let out = Output {
        version: 1,
        access_key_id: &credentials.access_key_id,
        secret_access_key: credentials.secret_access_key.expose_secret(),
        session_token: credentials.session_token.expose_secret(),
        expiration: format_expiration(credentials.expiration),
        account_id: credentials.account_id.as_deref(),
    };
    let mut text = serde_json::to_string(&out).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;

    #[test]
    fn renders_the_sdk_contract() {
        let c = Credentials {
            access_key_id: "ASIAX".into(),
            secret_access_key: Secret::new("s/+"),
            session_token: Secret::new("t"),
            expiration: time::macros::datetime!(2026-01-02 03:04:05.678 UTC),
            account_id: Some("123456789012".into()),
            arn: None,
        };
        assert_eq!(
            render(&c),
            "{\"Version\":1,\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"s/+\",\"SessionToken\":\"t\",\"Expiration\":\"2026-01-02T03:04:05Z\",\"AccountId\":\"123456789012\"}\n"
        );
    }
}
