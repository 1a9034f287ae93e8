//! Parsing STS XML responses into credentials or a typed error.
//!
//! The success shape is `<XResponse><XResult><Credentials>..</Credentials>[<AssumedRoleUser>]`;
//! errors are `ErrorResponse/Error/{Code,Message}`, or `ErrorResponse/Errors/Error/...` as moto
//! sends them. The response text holds secrets: callers zeroize it after parsing.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::credentials::{Credentials, Secret};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    #[serde(alias = "GetSessionTokenResult", alias = "AssumeRoleResult", alias = "GetFederationTokenResult")]
    result: Option<CredsResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredsResult {
    credentials: Option<XmlCredentials>,
    #[serde(alias = "FederatedUser")]
    assumed_role_user: Option<AssumedRoleUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse {
    error: Option<XmlError>,
    errors: Option<XmlErrors>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlErrors {
    error: Option<XmlError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlError {
    code: Option<String>,
    message: Option<String>,
}

/// Parses a successful `GetSessionToken` / `AssumeRole` response. The error is a short
/// description of what is missing (never response text, which may hold secrets).
pub fn parse_credentials(body: &str) -> Result<Credentials, String> {
    let response: Response =
        quick_xml::de::from_str(body).map_err(|e| format!("not STS XML ({})", first_words(&e.to_string())))?;
    let result = response.result.ok_or("no ...Result element")?;
    let xml = result.credentials.ok_or("no Credentials element")?;
    let expiration =
        OffsetDateTime::parse(xml.expiration.trim(), &Rfc3339).map_err(|_| "Expiration is not an RFC 3339 time")?;
    let arn = result.assumed_role_user.and_then(|u| u.arn);
    let account_id = arn.as_deref().and_then(|a| a.split(':').nth(4)).filter(|a| a.len() == 12).map(str::to_string);
    let XmlCredentials { access_key_id, secret_access_key, session_token, .. } = xml;
    if access_key_id.is_empty() || secret_access_key.is_empty() || session_token.is_empty() {
        return Err("empty credentials".into());
    }
    Ok(Credentials {
        access_key_id,
        secret_access_key: Secret::new(secret_access_key),
        session_token: Secret::new(session_token),
        expiration: expiration.to_offset(time::UtcOffset::UTC),
        account_id,
        arn,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CallerIdentityResponse {
    get_caller_identity_result: Option<CallerIdentity>,
}

/// `GetCallerIdentity`'s answer.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// Parses a successful `GetCallerIdentity` response.
pub fn parse_caller_identity(body: &str) -> Result<CallerIdentity, String> {
    let response: CallerIdentityResponse =
        quick_xml::de::from_str(body).map_err(|e| format!("not STS XML ({})", first_words(&e.to_string())))?;
    response.get_caller_identity_result.ok_or_else(|| "no GetCallerIdentityResult element".into())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccessKeyResponse {
    create_access_key_result: Option<CreateAccessKeyResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccessKeyResult {
    access_key: Option<XmlAccessKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlAccessKey {
    access_key_id: String,
    secret_access_key: String,
}

/// Parses IAM's `CreateAccessKey` response: the new key id and its secret.
pub fn parse_new_access_key(body: &str) -> Result<(String, Secret), String> {
    let response: CreateAccessKeyResponse =
        quick_xml::de::from_str(body).map_err(|e| format!("not IAM XML ({})", first_words(&e.to_string())))?;
    let key = response.create_access_key_result.and_then(|r| r.access_key).ok_or("no AccessKey element")?;
    if key.access_key_id.is_empty() || key.secret_access_key.is_empty() {
        return Err("empty access key".into());
    }
    Ok((key.access_key_id, Secret::new(key.secret_access_key)))
}

/// Parses an `ErrorResponse` into (code, message).
pub fn parse_error(body: &str) -> Option<(String, String)> {
    let response: ErrorResponse = quick_xml::de::from_str(body).ok()?;
    let error = response.error.or(response.errors.and_then(|e| e.error))?;
    Some((error.code?, error.message.unwrap_or_default()))
}

/// The first words of a parser message, before anything it may quote of the input (which may
/// hold secrets): parsers quote with `:`, quotes, backticks or `<` (for example quick-xml's
/// "the namespace prefix 'xmlns' cannot be bound to '<attribute value>'").
fn first_words(message: &str) -> String {
    let end = message.find([':', '\'', '"', '`', '<']).unwrap_or(message.len());
    message[..end].trim_end().chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSUME_ROLE: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s3-access-example</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAJEXAMPLEXEG2JICEA</AccessKeyId>
      <SecretAccessKey>9drTJvcXLB89EXAMPLELB8923FB892xMFI</SecretAccessKey>
      <SessionToken>AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLE</SessionToken>
      <Expiration>2026-11-28T13:07:03Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn parses_assume_role() {
        let c = parse_credentials(ASSUME_ROLE).unwrap();
        assert_eq!(c.access_key_id, "ASIAJEXAMPLEXEG2JICEA");
        assert_eq!(c.secret_access_key.expose_secret(), "9drTJvcXLB89EXAMPLELB8923FB892xMFI");
        assert_eq!(c.account_id.as_deref(), Some("123456789012"));
        assert_eq!(c.expiration, time::macros::datetime!(2026-11-28 13:07:03 UTC));
    }

    #[test]
    fn parses_get_session_token_with_fraction() {
        let body = "<GetSessionTokenResponse><GetSessionTokenResult><Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2026-11-28T13:07:03.123Z</Expiration></Credentials></GetSessionTokenResult></GetSessionTokenResponse>";
        let c = parse_credentials(body).unwrap();
        assert_eq!(c.account_id, None);
        assert_eq!(c.expiration.unix_timestamp(), time::macros::datetime!(2026-11-28 13:07:03 UTC).unix_timestamp());
    }

    #[test]
    fn parses_caller_identity_and_new_access_keys() {
        let who = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
        let id = parse_caller_identity(who).unwrap();
        assert_eq!((id.account.as_str(), id.arn.as_str()), ("123456789012", "arn:aws:iam::123456789012:user/alice"));
        let key = "<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>alice</UserName><AccessKeyId>AKIANEW</AccessKeyId><Status>Active</Status><SecretAccessKey>SECRETSECRET</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>";
        let (id, secret) = parse_new_access_key(key).unwrap();
        assert_eq!((id.as_str(), secret.expose_secret()), ("AKIANEW", "SECRETSECRET"));
        let err = parse_new_access_key("<CreateAccessKeyResponse><SECRETSECRET/>").unwrap_err();
        assert!(!err.contains("SECRETSECRET"), "{err}");
    }

    #[test]
    fn parses_errors_in_both_shapes() {
        let aws = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>MultiFactorAuthentication failed with invalid MFA one time pass code.</Message></Error><RequestId>x</RequestId></ErrorResponse>";
        assert_eq!(parse_error(aws).unwrap().0, "AccessDenied");
        let moto = "<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>bad</Message></Error></Errors></ErrorResponse>";
        assert_eq!(parse_error(moto).unwrap(), ("InvalidClientTokenId".into(), "bad".into()));
    }

    #[test]
    fn rejects_non_sts_bodies_without_echoing_them() {
        for body in [
            "",
            "<html>SECRETSECRET</html>",
            "{\"json\": true}",
            "<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>",
            // Found by fuzzing (fuzz/fuzz_targets/sts_xml.rs): quick-xml quotes the attribute
            // value in these errors with no `:` before it.
            "<AssumeRoleResponse xmlns:xmlns=\"SECRETSECRET\"/>",
            "<x:AssumeRoleResponse xmlns:xml=\"SECRETSECRET\"/>",
            // The tag name comes right after the 60th character of this one.
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>a<SECRETSECRET/></AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>",
        ] {
            let err = parse_credentials(body).unwrap_err();
            assert!(!err.contains("SECRETSECRET"), "{err}");
        }
    }
}
