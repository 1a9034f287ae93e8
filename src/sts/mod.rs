//! STS over the Query API: `GetSessionToken` and `AssumeRole`, signed with SigV4.
//!
//! Wire contract: `POST {endpoint}/` with `Content-Type: application/x-www-form-urlencoded`, body
//! `Action=...&Version=2011-06-15&...`, SigV4 for service `sts` in the endpoint's signing region
//! (temporary credentials add `X-Amz-Security-Token`). A 200 answer is
//! `<{Action}Response><{Action}Result><Credentials><AccessKeyId/><SecretAccessKey/><SessionToken/>
//! <Expiration/></Credentials>[<AssumedRoleUser><Arn/></AssumedRoleUser>]</...Result></...Response>`;
//! an error is `<ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>`.
//!
//! Retries: a request that carries an MFA code is sent once and never again (TOTP codes are
//! single-use: a resent code fails, and the first attempt may have reached STS). Requests
//! without a code are retried on throttling, 5xx and connection failures.
//!
//! [`Sts`] is the seam between the decision (`provider`) and the wire: [`StsClient`] speaks to
//! STS, [`LazyClient`] builds one on its first call, and unit tests script answers with
//! `fake::FakeSts`.

pub mod client;
pub mod endpoint;
#[cfg(test)]
pub mod fake;
pub mod federation;
pub mod iam;
pub mod xml;

pub use client::{LazyClient, StsClient};

use crate::credentials::{BaseCredentials, Credentials, MfaCode};

/// The STS calls credentials are made of, each signed with `caller`.
pub trait Sts {
    /// Gets ready to call (for the real client: the HTTP agent and its trust store). The
    /// provider calls it before a step's first request, so that a setup failure is reported
    /// against the profile being resolved rather than the hop that happened to come first.
    fn prepare(&self) -> Result<(), StsError> {
        Ok(())
    }

    /// `GetSessionToken` with the request's code: sent once, never again.
    fn get_session_token(&self, caller: &BaseCredentials, req: &GetSessionToken<'_>) -> Result<Credentials, StsError>;

    /// `AssumeRole`: sent once when it carries a code, else retried on passing failures.
    fn assume_role(&self, caller: &BaseCredentials, req: &AssumeRole<'_>) -> Result<Credentials, StsError>;
}

/// Parameters of `GetSessionToken`.
#[derive(Debug)]
pub struct GetSessionToken<'a> {
    pub duration_seconds: u32,
    pub serial_number: &'a str,
    pub token_code: &'a MfaCode,
}

/// Parameters of `AssumeRole`.
#[derive(Debug)]
pub struct AssumeRole<'a> {
    pub role_arn: &'a str,
    pub role_session_name: &'a str,
    pub duration_seconds: u32,
    pub external_id: Option<&'a str>,
    /// `SerialNumber` + `TokenCode`, for the direct MFA strategy.
    pub mfa: Option<(&'a str, &'a MfaCode)>,
}

/// What a call is made with.
pub struct Caller<'a> {
    pub credentials: &'a BaseCredentials,
}

/// A failed STS call. The `Display` text never contains a secret: STS messages name ARNs and
/// account ids, never keys or codes.
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    #[error("{action}: the MFA code was not accepted: {message}")]
    InvalidMfaCode { action: &'static str, message: String },
    #[error("{action}: access denied: {message}")]
    AccessDenied { action: &'static str, message: String },
    #[error("{action}: the credentials have expired: {message}")]
    ExpiredToken { action: &'static str, message: String },
    #[error("{action}: the access key is not valid: {message}")]
    InvalidClientTokenId { action: &'static str, message: String },
    #[error("{action}: the request signature was refused: {message}")]
    SignatureDoesNotMatch { action: &'static str, message: String },
    #[error("{action}: throttled by STS: {message}")]
    Throttling { action: &'static str, message: String },
    #[error("{action}: the role-chaining limit: {message}")]
    RoleChainingLimit { action: &'static str, message: String },
    #[error("{action}: STS error {code} (HTTP {status}): {message}")]
    Service { action: &'static str, status: u16, code: String, message: String },
    #[error("{action}: cannot reach STS at {url}: {detail}")]
    Transport { action: &'static str, url: String, detail: String },
    #[error("{action}: STS at {url} answered HTTP {status} with a body that is not an STS response: {detail}")]
    BadResponse { action: &'static str, url: String, status: u16, detail: String },
    #[error("{action}: STS issued credentials that expire at {expiration}, but this machine's clock says it is {now}")]
    ExpiredOnArrival { action: &'static str, expiration: String, now: String },
    #[error("cannot sign the request: {0}")]
    Signing(String),
    #[error("cannot read the CA bundle {path}: {detail}")]
    CaBundle { path: String, detail: String },
}

impl StsError {
    /// Builds the typed error for an STS `ErrorResponse`.
    pub fn from_service(action: &'static str, status: u16, code: String, message: String) -> StsError {
        let lower = message.to_ascii_lowercase();
        match code.as_str() {
            "AccessDenied"
                if lower.contains("multifactorauthentication")
                    || lower.contains("one time pass")
                    || lower.contains("mfa") && lower.contains("code") =>
            {
                StsError::InvalidMfaCode { action, message }
            }
            "AccessDenied" => StsError::AccessDenied { action, message },
            "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => StsError::ExpiredToken { action, message },
            "InvalidClientTokenId" | "UnrecognizedClientException" => {
                StsError::InvalidClientTokenId { action, message }
            }
            "SignatureDoesNotMatch" | "IncompleteSignature" => StsError::SignatureDoesNotMatch { action, message },
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
                StsError::Throttling { action, message }
            }
            "ValidationError" if lower.contains("chaining") => StsError::RoleChainingLimit { action, message },
            _ => StsError::Service { action, status, code, message },
        }
    }

    /// Whether the same request may be sent again (never for a request with an MFA code: the
    /// caller decides that).
    pub fn is_retryable(&self) -> bool {
        match self {
            StsError::Throttling { .. } | StsError::Transport { .. } => true,
            StsError::Service { status, .. } | StsError::BadResponse { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Refused because the request's signing time is too far from STS's clock.
    pub fn is_clock_refusal(&self) -> bool {
        match self {
            StsError::SignatureDoesNotMatch { message, .. } => {
                message.starts_with("Signature expired") || message.starts_with("Signature not yet current")
            }
            StsError::Service { code, .. } => matches!(code.as_str(), "RequestTimeTooSkewed" | "RequestInTheFuture"),
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StsError::InvalidMfaCode { .. } => "wait for the next code on your device (each code works once) and try again; check that mfa_serial names the device you are reading".into(),
            StsError::AccessDenied { .. } => "check the role's trust policy (the principal, aws:MultiFactorAuthPresent, the external id) and your user's sts:AssumeRole permission".into(),
            StsError::ExpiredToken { .. } => "run again with --refresh-mfa to start a new MFA session; if the base keys are temporary, renew them".into(),
            StsError::InvalidClientTokenId { .. } => "the access key in the base profile is unknown to AWS: it may be deleted or mistyped (`aws sts get-caller-identity --profile BASE` checks it)".into(),
            StsError::SignatureDoesNotMatch { .. } => "the secret access key does not match the access key id; or the clock is wrong (check `date -u`)".into(),
            StsError::Throttling { .. } => "STS is rate-limiting this account; wait a minute and try again".into(),
            StsError::RoleChainingLimit { .. } => "roles assumed from an MFA session or another role last at most 1 h (3600 s): lower duration_seconds, or set `rolegate_mfa_strategy = direct` on the profile to assume the role with the code itself".into(),
            StsError::Service { status, .. } if *status >= 500 => "STS failed on its side; try again in a moment (https://health.aws.amazon.com shows outages)".into(),
            StsError::Service { .. } => return None,
            StsError::Transport { detail, .. } if detail.contains("certificate") => "the server's TLS certificate is not trusted: behind a TLS-inspecting proxy, set AWS_CA_BUNDLE to its CA bundle (PEM); else check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL".into(),
            StsError::Transport { .. } => "check the network, the proxy variables (HTTPS_PROXY, NO_PROXY) and the endpoint (AWS_ENDPOINT_URL_STS, the profile's region)".into(),
            StsError::BadResponse { .. } => "the endpoint is probably not STS: check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL and the profile's endpoint_url".into(),
            StsError::Signing(_) => return None,
            StsError::ExpiredOnArrival { .. } => "this machine's clock is wrong: set it right (`timedatectl`, NTP) and run again".into(),
            StsError::CaBundle { .. } => "AWS_CA_BUNDLE must name a readable PEM file of CA certificates".into(),
        })
    }
}
