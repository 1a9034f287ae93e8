//! The bodies of the stand-in's answers: STS's XML success and error documents, and the
//! messages of the errors tests compare against.
//!
//! Imitates STS's Query API responses: `<{Action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`
//! with a `<{Action}Result>` and `<ResponseMetadata><RequestId>`, `<Credentials>` with an
//! ISO 8601 `Expiration`, and `<ErrorResponse><Error><Type>Sender</Type><Code>..<Message>..`
//! with real STS's codes, HTTP statuses and message texts.

use time::OffsetDateTime;
use time::macros::format_description;

use super::STS_NAMESPACE;
use super::state::{Caller, IssuedCredentials};

/// `Message` of a wrong, reused or rejected MFA code (403 `AccessDenied`).
pub const MSG_INVALID_MFA_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";
/// `Message` when the MFA serial is not a registered device (403 `AccessDenied`).
pub const MSG_UNKNOWN_MFA_DEVICE: &str = "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.";
/// `Message` of `GetSessionToken` called with temporary credentials (403 `AccessDenied`).
pub const MSG_SESSION_CREDENTIALS: &str = "Cannot call GetSessionToken with session credentials";
/// `Message` of an `AssumeRole` beyond one hour from temporary credentials (400 `ValidationError`).
pub const MSG_ROLE_CHAINING_LIMIT: &str =
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.";
/// `Message` of an `AssumeRole` beyond the role's maximum (400 `ValidationError`).
pub const MSG_ROLE_MAX_DURATION: &str =
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";
/// `Message` of expired temporary credentials (403 `ExpiredToken`).
pub const MSG_EXPIRED_TOKEN: &str = "The security token included in the request is expired";
/// `Message` of an unknown access key or a missing/wrong session token (403 `InvalidClientTokenId`).
pub const MSG_INVALID_TOKEN_ID: &str = "The security token included in the request is invalid.";
/// `Message` of a bad signature (403 `SignatureDoesNotMatch`).
pub const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// An STS error answer.
#[derive(Debug)]
pub(super) struct StsError {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl StsError {
    pub(super) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub(super) fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    pub(super) fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    pub(super) fn not_authorized(caller: &Caller, role_arn: &str) -> Self {
        Self::not_authorized_for(caller, "sts:AssumeRole", role_arn)
    }

    pub(super) fn not_authorized_for(caller: &Caller, action: &str, role_arn: &str) -> Self {
        Self::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {role_arn}",
            caller.principal.arn()
        ))
    }
}

pub(super) fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

pub(super) fn format_expiration(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).expect("a UTC time formats")
}

/// The XML body of an STS error.
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{STS_NAMESPACE}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

/// The body real STS sends with HTTP 400 when throttling (for [`StrictSts::fail_next`]).
pub fn throttling_xml() -> String {
    error_xml("Throttling", "Rate exceeded", "c0ffee00-0000-4000-8000-000000000000")
}

pub(super) fn success_xml(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{STS_NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    )
}

pub(super) fn credentials_xml(c: &IssuedCredentials) -> String {
    format!(
        "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        c.access_key_id,
        xml_escape(&c.secret),
        xml_escape(&c.session_token),
        format_expiration(c.expires)
    )
}

/// The unescaped text of the first `<tag>...</tag>` in `xml` (no attributes on that tag).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    let raw = &xml[start..start + len];
    Some(quick_xml::escape::unescape(raw).map(|s| s.into_owned()).unwrap_or_else(|_| raw.to_owned()))
}
