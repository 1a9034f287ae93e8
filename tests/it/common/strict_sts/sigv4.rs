//! SigV4 checking: how the stand-in authenticates a request, as STS does.
//!
//! Imitates STS's header authentication (`Authorization: AWS4-HMAC-SHA256 ...`): the signature
//! is recomputed for real with aws-sigv4 from the headers the client says it signed (so
//! botocore, the Go SDK and the Rust SDK all pass), for long-term user keys (`AKIA...`) and the
//! temporary keys the stand-in issued (`ASIA...`, which must carry their
//! `X-Amz-Security-Token`); expired temporary keys are `ExpiredToken`; a request signed more
//! than 15 minutes away from STS's wall clock is `SignatureDoesNotMatch` with STS's "Signature
//! expired" / "Signature not yet current" texts, checked before the parameters are looked at
//! (so an MFA code in such a request is not used up). Not imitated: presigned (query-string)
//! SigV4, SigV4a, and the `Date` header in place of `X-Amz-Date`.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::HttpRequest;
use super::state::{Caller, Principal, State};
use super::xml::{MSG_EXPIRED_TOKEN, MSG_INVALID_TOKEN_ID, MSG_SIGNATURE_MISMATCH, StsError};

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub(super) struct AuthHeader {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

pub(super) fn parse_authorization(value: &str) -> Result<AuthHeader, StsError> {
    let incomplete = |what: &str| {
        StsError::new(
            400,
            "IncompleteSignature",
            format!("Authorization header requires '{what}' parameter. Authorization={value}"),
        )
    };
    let rest = value.trim().strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        StsError::new(400, "IncompleteSignature", "Unsupported AWS 'algorithm': only AWS4-HMAC-SHA256 is supported")
    })?;
    let mut fields = HashMap::new();
    for part in rest.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            fields.insert(k.trim(), v.trim());
        }
    }
    let credential = fields.get("Credential").ok_or_else(|| incomplete("Credential"))?;
    let signed_headers = fields.get("SignedHeaders").ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = fields.get("Signature").ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(StsError::new(
            400,
            "IncompleteSignature",
            format!("Credential is not of the form AKID/DATE/REGION/SERVICE/aws4_request: {credential}"),
        ));
    };
    Ok(AuthHeader {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed_headers.split(';').map(|h| h.trim().to_ascii_lowercase()).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// The access key named in a request's `Authorization` header, if any.
pub(super) fn access_key_of(req: &HttpRequest) -> String {
    req.header("authorization").and_then(|v| parse_authorization(v).ok()).map(|a| a.access_key_id).unwrap_or_default()
}

/// The region of a request's SigV4 credential scope, if any.
pub(super) fn signing_region_of(req: &HttpRequest) -> String {
    req.header("authorization").and_then(|v| parse_authorization(v).ok()).map(|a| a.region).unwrap_or_default()
}

pub(super) fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format).ok().map(PrimitiveDateTime::assume_utc)
}

/// The signature aws-sigv4 computes for `req` with `secret`, rebuilt from the headers the
/// client says it signed. aws-sigv4 adds `x-amz-date` (from the signing time) and
/// `x-amz-security-token` (from the credentials) itself, and `host` from the URI when the
/// headers lack it, so the first two are left out of the headers handed to it.
pub(super) fn expected_signature(
    req: &HttpRequest,
    auth: &AuthHeader,
    secret: &str,
    session_token: Option<&str>,
) -> Result<String, String> {
    let amz_date = req.header("x-amz-date").ok_or("no X-Amz-Date header")?;
    let time = parse_amz_date(amz_date).ok_or("unparsable X-Amz-Date")?;
    if !amz_date.starts_with(&auth.date) {
        return Err("credential scope date differs from X-Amz-Date".into());
    }
    if !auth.signed_headers.iter().any(|h| h == "x-amz-date") {
        return Err("X-Amz-Date is not signed".into());
    }
    let mut headers = Vec::new();
    for name in &auth.signed_headers {
        if name == "x-amz-date" || name == "x-amz-security-token" {
            continue;
        }
        let before = headers.len();
        for (n, v) in &req.headers {
            if n.eq_ignore_ascii_case(name) {
                headers.push((name.as_str(), v.as_str()));
            }
        }
        if headers.len() == before {
            return Err(format!("signed header {name} is missing"));
        }
    }
    let host = req.header("host").unwrap_or("localhost");
    let uri = format!("http://{host}{}", req.url);
    let signable = SignableRequest::new(&req.method, uri, headers.into_iter(), SignableBody::Bytes(&req.body))
        .map_err(|e| e.to_string())?;

    let mut settings = SigningSettings::default();
    // Sign exactly what the client signed: no header is excluded (the default set would
    // drop e.g. `user-agent`), and the token is signed only if the client signed it.
    settings.excluded_headers = None;
    if !auth.signed_headers.iter().any(|h| h == "x-amz-security-token") {
        settings.session_token_mode = SessionTokenMode::Exclude;
    }
    let identity: Identity = Credentials::new(
        auth.access_key_id.clone(),
        secret.to_owned(),
        session_token.map(str::to_owned),
        None,
        "strict-sts",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&auth.region)
        .name(&auth.service)
        .time(SystemTime::from(time))
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let (_, signature) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    Ok(signature)
}

/// Equality that does not stop at the first differing byte.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl State {
    /// Checks the access key, session token, expiry and SigV4 signature.
    pub(super) fn authenticate(&self, req: &HttpRequest) -> Result<Caller, StsError> {
        let header = req.header("authorization").ok_or_else(|| {
            StsError::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        })?;
        let auth = parse_authorization(header)?;
        if auth.service != "sts" {
            return Err(StsError::new(
                403,
                "SignatureDoesNotMatch",
                "Credential should be scoped to correct service: 'sts'. ",
            ));
        }
        let invalid_key = || StsError::new(403, "InvalidClientTokenId", MSG_INVALID_TOKEN_ID);
        let (secret, token, caller) = if let Some(user) = self.users.get(&auth.access_key_id) {
            let caller =
                Caller { principal: Principal::User { arn: user.arn.clone() }, temporary: false, with_mfa: false };
            (user.secret.as_str(), None, caller)
        } else if let Some(temp) = self.temporary.get(&auth.access_key_id) {
            let sent = req.header("x-amz-security-token").unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), temp.session_token.as_bytes()) {
                return Err(invalid_key());
            }
            if self.now() >= temp.expires {
                return Err(StsError::new(403, "ExpiredToken", MSG_EXPIRED_TOKEN));
            }
            let caller = Caller { principal: temp.principal.clone(), temporary: true, with_mfa: temp.with_mfa };
            (temp.secret.as_str(), Some(temp.session_token.as_str()), caller)
        } else {
            return Err(invalid_key());
        };
        let mismatch = || StsError::new(403, "SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH);
        self.check_signing_time(req)?;
        let expected = expected_signature(req, &auth, secret, token).map_err(|_| mismatch())?;
        if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            return Err(mismatch());
        }
        Ok(caller)
    }

    /// STS refuses a signature made more than 15 minutes away from its clock (before it looks
    /// at the parameters: an MFA code in such a request is not used up).
    pub(super) fn check_signing_time(&self, req: &HttpRequest) -> Result<(), StsError> {
        let Some(signed) = req.header("x-amz-date").and_then(parse_amz_date) else { return Ok(()) };
        let now = self.wall_now();
        let window = time::Duration::minutes(15);
        let f = |t: OffsetDateTime| {
            t.format(format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap_or_default()
        };
        if signed < now - window {
            let message = format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                f(signed),
                f(now - window),
                f(now)
            );
            return Err(StsError::new(403, "SignatureDoesNotMatch", message));
        }
        if signed > now + window {
            let message = format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                f(signed),
                f(now + window),
                f(now)
            );
            return Err(StsError::new(403, "SignatureDoesNotMatch", message));
        }
        Ok(())
    }
}
