//! The AWS federation endpoint: a sign-in token for credentials, and the console URL with it.
//!
//! Wire contract (the AWS federation endpoint):
//! 1. `GET {federation}/federation?Action=getSigninToken[&SessionDuration=SECONDS]&Session=
//!    <url-encoded JSON {"sessionId": access key id, "sessionKey": secret key, "sessionToken": token}>`
//!    answers `{"SigninToken": "..."}`; `SessionDuration` (900 to 43200) is the console
//!    session's lifetime, for role sessions only (a federation session lasts its own lifetime);
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
    #[error("profile `{profile}`: --duration {seconds} s is out of range for a console session (900 to 43200 s)")]
    BadDuration { profile: String, seconds: u32 },
    #[error("profile `{profile}`: --path `{value}` is not a console destination: {why}")]
    BadDestination { profile: String, value: String, why: String },
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
            LoginError::BadDuration { .. } => "ask for 15m to 12h, for example `--duration 8h`".into(),
            LoginError::BadDestination { .. } => {
                "give a path such as `--path /ec2/home` or a URL of the console, `https://console.aws.amazon.com/...`"
                    .into()
            }
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SigninToken {
    signin_token: String,
}

/// Exchanges credentials for a sign-in token at `federation`; `session_duration`, the console
/// session's lifetime in seconds, goes with a role session only.
pub fn signin_token(
    ctx: &Context,
    federation: &str,
    credentials: &Credentials,
    profile: &str,
    session_duration: Option<u32>,
) -> Result<String, LoginError> {
    let mut session = serde_json::json!({
        "sessionId": credentials.access_key_id,
        "sessionKey": credentials.secret_access_key.expose_secret(),
        "sessionToken": credentials.session_token.expose_secret(),
    })
    .to_string();
    let duration = session_duration.map_or_else(String::new, |d| format!("&SessionDuration={d}"));
    let mut request_url =
        format!("{federation}/federation?Action=getSigninToken{duration}&Session={}", encode(&session));
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

/// The console page to open: `console` (the partition's console URL, with its trailing `/`)
/// with `path` (`/ec2/home`, `ec2/home#x`), or `path` itself when it is an `https` URL on the
/// console's host or one of its subdomains; `region=REGION` is added to the query unless it has one.
pub fn destination(console: &str, path: Option<&str>, region: &str) -> Result<String, String> {
    let url = match path.map(str::trim).filter(|p| !p.is_empty()) {
        None => console.to_string(),
        Some(url) if url.contains("://") => {
            let host_of =
                |u: &str| u.split_once("://").map(|(_, r)| r.split(['/', '?', '#']).next().unwrap_or("").to_string());
            let console_host = host_of(console).unwrap_or_default();
            let host = host_of(url).unwrap_or_default().to_ascii_lowercase();
            if !url.starts_with("https://") {
                return Err("a console URL starts with https://".into());
            }
            if host != console_host && !host.ends_with(&format!(".{console_host}")) {
                return Err(format!("its host `{host}` is not {console_host} or one of its subdomains"));
            }
            url.to_string()
        }
        Some(p) if p.chars().any(|c| c.is_control() || c == ' ') => {
            return Err("a path has no blanks or control characters".into());
        }
        Some(p) => format!("{console}{}", p.trim_start_matches('/')),
    };
    let (before_fragment, fragment) = url.split_once('#').map_or((url.as_str(), None), |(a, f)| (a, Some(f)));
    let query = before_fragment.split_once('?').map(|(_, q)| q);
    let has_region = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("region=")));
    let mut out = before_fragment.to_string();
    if !has_region {
        out.push(if query.is_some() { '&' } else { '?' });
        out.push_str("region=");
        out.push_str(&encode(region));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: &str = "https://console.aws.amazon.com/";

    #[test]
    fn destinations_get_the_region_unless_they_name_one() {
        let d = |path| destination(CONSOLE, path, "eu-west-1");
        assert_eq!(d(None).unwrap(), "https://console.aws.amazon.com/?region=eu-west-1");
        assert_eq!(d(Some("/ec2/home")).unwrap(), "https://console.aws.amazon.com/ec2/home?region=eu-west-1");
        assert_eq!(d(Some("ec2/home")).unwrap(), "https://console.aws.amazon.com/ec2/home?region=eu-west-1");
        assert_eq!(
            d(Some("/ec2/home?x=1#Instances:")).unwrap(),
            "https://console.aws.amazon.com/ec2/home?x=1&region=eu-west-1#Instances:"
        );
        assert_eq!(
            d(Some("https://eu-west-1.console.aws.amazon.com/s3/home?region=us-east-2")).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/s3/home?region=us-east-2"
        );
    }

    #[test]
    fn destinations_off_the_console_are_refused() {
        let d = |path| destination(CONSOLE, Some(path), "eu-west-1");
        assert!(d("https://evil.example/console.aws.amazon.com").unwrap_err().contains("evil.example"));
        assert!(d("https://console.aws.amazon.com.evil.example/").is_err());
        assert!(d("http://console.aws.amazon.com/").unwrap_err().contains("https://"));
        assert!(d("/ec2/home\nx").is_err());
    }
}
