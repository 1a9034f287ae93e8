//! The AWS federation endpoint: a sign-in token for credentials, and the console URL with it.
//!
//! Wire contract (the AWS federation endpoint):
//! 1. `GET {federation}/federation?Action=getSigninToken&Session=<url-encoded JSON
//!    {"sessionId": access key id, "sessionKey": secret key, "sessionToken": token}>`
//!    answers `{"SigninToken": "..."}`;
//! 2. the console URL is `{federation}/federation?Action=login&Issuer=rolegate&Destination=
//!    <url-encoded console URL>&SigninToken=<token>`.
//!
//! The endpoint accepts role (AssumeRole) and federation (GetFederationToken) credentials, not an
//! MFA session from GetSessionToken. So for a profile whose result is an MFA session (keys +
//! `mfa_serial`, no role), a federation session is minted from the user's long-term keys first,
//! as peers do; it does not carry the MFA context, and rolegate says so.
//! `{federation}` is `https://signin.aws.amazon.com` (aws-cn, aws-us-gov: their own hosts), or
//! `ROLEGATE_FEDERATION_URL`.

use serde::Deserialize;

use crate::context::Context;
use crate::credentials::Credentials;
use crate::sts::StsError;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("profile `{profile}`: the federation endpoint {url} refused the sign-in (HTTP {status})")]
    Refused { profile: String, url: String, status: u16 },
    #[error("cannot reach the federation endpoint {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("the federation endpoint {url} answered without a SigninToken")]
    BadAnswer { url: String },
    #[error("profile `{profile}`: cannot mint a federation session: {source}")]
    Federation {
        profile: String,
        #[source]
        source: StsError,
    },
}

impl LoginError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            LoginError::Refused { profile, .. } => format!(
                "the credentials may be too old or lack console access; try `rolegate clear {}` and log in again",
                crate::config::quote(profile)
            ),
            LoginError::Transport { .. } => "check the network and ROLEGATE_FEDERATION_URL".into(),
            LoginError::BadAnswer { .. } => "ROLEGATE_FEDERATION_URL must name an AWS federation endpoint".into(),
            LoginError::Federation { source, .. } => return source.hint(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SigninToken {
    signin_token: String,
}

/// Exchanges credentials for a sign-in token at `federation`.
pub fn signin_token(
    ctx: &Context,
    federation: &str,
    credentials: &Credentials,
    profile: &str,
) -> Result<String, LoginError> {
    let mut session = serde_json::json!({
        "sessionId": credentials.access_key_id,
        "sessionKey": credentials.secret_access_key.expose_secret(),
        "sessionToken": credentials.session_token.expose_secret(),
    })
    .to_string();
    let mut request_url = format!("{federation}/federation?Action=getSigninToken&Session={}", encode(&session));
    zeroize::Zeroize::zeroize(&mut session);
    let agent = crate::sts::client::agent(ctx)
        .map_err(|e| LoginError::Transport { url: federation.into(), detail: e.to_string() })?;
    let result = agent.get(&request_url).call();
    zeroize::Zeroize::zeroize(&mut request_url);
    let mut response = result.map_err(|e| LoginError::Transport { url: federation.into(), detail: e.to_string() })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(LoginError::Refused { profile: profile.into(), url: federation.into(), status });
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| LoginError::Transport { url: federation.into(), detail: e.to_string() })?;
    let parsed: SigninToken =
        serde_json::from_str(&body).map_err(|_| LoginError::BadAnswer { url: federation.into() })?;
    Ok(parsed.signin_token)
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters pass).
pub fn encode(value: &str) -> String {
    value.bytes().fold(String::with_capacity(value.len() * 3), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        out
    })
}
