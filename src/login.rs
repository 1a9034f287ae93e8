//! `rolegate login PROFILE [--print]`: a signed-in AWS console URL for the profile's role.
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

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::base_credentials;
use crate::cli::{Cli, LoginArgs};
use crate::commands;
use crate::context::Context;
use crate::credentials::Credentials;
use crate::diag;
use crate::env_vars;
use crate::error::Error;
use crate::output;
use crate::plan::Plan;
use crate::sts::{StsClient, StsError, endpoint};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the federation endpoint {url} refused the sign-in (HTTP {status})")]
    Refused { url: String, status: u16 },
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
            LoginError::Refused { .. } => {
                "the credentials may be too old or lack console access; try `rolegate clear PROFILE` and log in again"
                    .into()
            }
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

pub fn login(ctx: &Context, cli: &Cli, args: &LoginArgs) -> Result<u8, Error> {
    let (mut credentials, plan) = commands::credentials(ctx, cli, args.profile.as_deref(), &args.session)?;
    if plan.chain.hops.is_empty() {
        credentials = federation_session(ctx, &plan)?;
        diag::notice("the console session is a federation session of your IAM user: it does not carry the MFA context");
    }
    let partition = endpoint::partition_id(&plan.region);
    let (federation_default, console) = match partition {
        "aws-cn" => ("https://signin.amazonaws.cn", "https://console.amazonaws.cn/"),
        "aws-us-gov" => ("https://signin.amazonaws-us-gov.com", "https://console.amazonaws-us-gov.com/"),
        _ => ("https://signin.aws.amazon.com", "https://console.aws.amazon.com/"),
    };
    let federation = ctx.env.get(env_vars::ROLEGATE_FEDERATION_URL).unwrap_or(federation_default).trim_end_matches('/');
    let token = signin_token(ctx, federation, &credentials)?;
    let destination = format!("{console}?region={}", plan.region);
    let url = format!(
        "{federation}/federation?Action=login&Issuer=rolegate&Destination={}&SigninToken={}",
        encode(&destination),
        encode(&token)
    );
    if args.print || !open_browser(&url) {
        output::write_stdout(&format!("{url}\n")).map_err(Error::Stdout)?;
    }
    Ok(0)
}

fn federation_session(ctx: &Context, plan: &Plan) -> Result<Credentials, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = base_credentials::fetch(ctx, &plan.chain.base, &[plan.chain.base.profile()], deadline)?;
    let profile = plan.chain.profile.clone();
    let client = StsClient::new(ctx, plan.endpoint.clone())
        .map_err(|source| LoginError::Federation { profile: profile.clone(), source })?;
    Ok(client
        .get_federation_token(&base, "rolegate", 43_200)
        .map_err(|source| LoginError::Federation { profile, source })?)
}

fn signin_token(ctx: &Context, federation: &str, credentials: &Credentials) -> Result<String, Error> {
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
        return Err(LoginError::Refused { url: federation.into(), status }.into());
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
fn encode(value: &str) -> String {
    value.bytes().fold(String::with_capacity(value.len() * 3), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        out
    })
}

/// Opens `url` in the browser (`open` on macOS, `xdg-open` elsewhere); `false` if it cannot.
/// The URL goes in argv of the opener: it is a short-lived sign-in token, as every peer passes it.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
