//! IAM, for `setup`'s wizard only: the MFA devices of the user whose keys sign the request, so
//! the wizard can offer them instead of asking for an ARN.
//!
//! Wire contract (IAM Query API, version 2010-05-08, SigV4 service `iam`, form-encoded `POST /`):
//! 1. `Action=GetUser` without `UserName` answers the caller's user:
//!    `GetUserResponse/GetUserResult/User/{UserName, Arn}`;
//! 2. `Action=ListMFADevices&UserName=NAME` answers
//!    `ListMFADevicesResponse/ListMFADevicesResult/MFADevices/member/SerialNumber` (the user is
//!    named: an emulator such as moto needs it, and it is what the usual "manage your own MFA"
//!    policy grants, `iam:ListMFADevices` on `user/${aws:username}`);
//! 3. errors are `ErrorResponse/Error/{Code, Message}`, as STS's.
//!
//! IAM is global: one endpoint per partition (`https://iam.amazonaws.com`, signed for
//! `us-east-1`; `aws-cn` and `aws-us-gov` their own), or `AWS_ENDPOINT_URL_IAM` /
//! `AWS_ENDPOINT_URL` (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), as the SDKs read them.
//! Nothing here is on the credentials path: no retries, one bounded exchange per call.

use std::time::Duration;

use serde::Deserialize;

use super::StsError;
use super::client::{FORM_CONTENT_TYPE, agent, form_encode, sign_post};
use crate::context::{Context, Env};
use crate::credentials::BaseCredentials;
use crate::env_vars;

/// Bound on one IAM exchange.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where IAM calls go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamEndpoint {
    pub url: String,
    pub signing_region: String,
}

/// The IAM endpoint for a chain in `region` (which names the partition).
pub fn endpoint(env: &Env, region: &str) -> IamEndpoint {
    let configured = if env.flag(env_vars::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) == Some(true) {
        None
    } else {
        env.get(env_vars::AWS_ENDPOINT_URL_IAM).or_else(|| env.get(env_vars::AWS_ENDPOINT_URL))
    };
    let (url, signing_region) = match super::endpoint::partition_id(region) {
        "aws-cn" => ("https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        "aws-us-gov" => ("https://iam.us-gov.amazonaws.com", "us-gov-west-1"),
        _ => ("https://iam.amazonaws.com", "us-east-1"),
    };
    IamEndpoint {
        url: configured.unwrap_or(url).trim_end_matches('/').to_string(),
        signing_region: signing_region.to_string(),
    }
}

/// The caller's user and its MFA devices.
#[derive(Debug, PartialEq, Eq)]
pub struct MfaDevices {
    pub user_arn: String,
    pub serials: Vec<String>,
}

/// `GetUser`, then `ListMFADevices` for that user.
pub fn mfa_devices(ctx: &Context, endpoint: &IamEndpoint, caller: &BaseCredentials) -> Result<MfaDevices, StsError> {
    let agent = agent(ctx)?;
    let user = call(ctx, &agent, endpoint, caller, "GetUser", &[])?;
    let user: GetUserResponse = parse("GetUser", endpoint, &user)?;
    let user = user.result.user;
    let listed = call(ctx, &agent, endpoint, caller, "ListMFADevices", &[("UserName", &user.user_name)])?;
    let listed: ListMfaDevicesResponse = parse("ListMFADevices", endpoint, &listed)?;
    let serials = listed.result.devices.map(|d| d.members).unwrap_or_default();
    Ok(MfaDevices { user_arn: user.arn, serials: serials.into_iter().map(|m| m.serial_number).collect() })
}

fn call(
    ctx: &Context,
    agent: &ureq::Agent,
    endpoint: &IamEndpoint,
    caller: &BaseCredentials,
    action: &'static str,
    params: &[(&str, &str)],
) -> Result<String, StsError> {
    let mut all = vec![("Action", action), ("Version", "2010-05-08")];
    all.extend_from_slice(params);
    let body = form_encode(&all);
    let url = format!("{}/", endpoint.url);
    let headers = sign_post(caller, "iam", &endpoint.signing_region, ctx.now(), &url, &body)?;
    let mut request =
        agent.post(&url).config().timeout_global(Some(TIMEOUT)).build().header("content-type", FORM_CONTENT_TYPE);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let transport = |e: ureq::Error| StsError::Transport { action, url: endpoint.url.clone(), detail: e.to_string() };
    let mut response = request.send(body.as_bytes()).map_err(transport)?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(1 << 20).read_to_string().map_err(transport)?;
    if status == 200 {
        return Ok(text);
    }
    Err(match super::xml::parse_error(&text) {
        Some((code, message)) => StsError::from_service(action, status, code, message),
        None => StsError::BadResponse { action, url: endpoint.url.clone(), status, detail: "no ErrorResponse".into() },
    })
}

fn parse<T: for<'de> Deserialize<'de>>(
    action: &'static str,
    endpoint: &IamEndpoint,
    text: &str,
) -> Result<T, StsError> {
    quick_xml::de::from_str(text).map_err(|e| StsError::BadResponse {
        action,
        url: endpoint.url.clone(),
        status: 200,
        detail: e.to_string(),
    })
}

#[derive(Deserialize)]
struct GetUserResponse {
    #[serde(rename = "GetUserResult")]
    result: GetUserResult,
}

#[derive(Deserialize)]
struct GetUserResult {
    #[serde(rename = "User")]
    user: User,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct User {
    user_name: String,
    arn: String,
}

#[derive(Deserialize)]
struct ListMfaDevicesResponse {
    #[serde(rename = "ListMFADevicesResult")]
    result: ListMfaDevicesResult,
}

#[derive(Deserialize)]
struct ListMfaDevicesResult {
    #[serde(rename = "MFADevices")]
    devices: Option<Members>,
}

#[derive(Deserialize)]
struct Members {
    #[serde(rename = "member", default)]
    members: Vec<Device>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Device {
    serial_number: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_as_iam_sends_them() {
        let user = r#"<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetUserResult><User><Path>/</Path><UserName>bob</UserName><UserId>AIDA</UserId>
  <Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate></User></GetUserResult>
  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetUserResponse>"#;
        let ep = endpoint(&Env::default(), "us-east-1");
        let parsed: GetUserResponse = parse("GetUser", &ep, user).unwrap();
        assert_eq!(
            (parsed.result.user.user_name.as_str(), parsed.result.user.arn.as_str()),
            ("bob", "arn:aws:iam::123456789012:user/bob")
        );
        let listed = r#"<ListMFADevicesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListMFADevicesResult><IsTruncated>false</IsTruncated><MFADevices>
  <member><UserName>bob</UserName><SerialNumber>arn:aws:iam::123456789012:mfa/bob</SerialNumber><EnableDate>2026-01-01T00:00:00Z</EnableDate></member>
  <member><UserName>bob</UserName><SerialNumber>GAHT12345678</SerialNumber><EnableDate>2026-01-01T00:00:00Z</EnableDate></member>
  </MFADevices></ListMFADevicesResult></ListMFADevicesResponse>"#;
        let parsed: ListMfaDevicesResponse = parse("ListMFADevices", &ep, listed).unwrap();
        let serials: Vec<String> =
            parsed.result.devices.unwrap().members.into_iter().map(|d| d.serial_number).collect();
        assert_eq!(serials, ["arn:aws:iam::123456789012:mfa/bob", "GAHT12345678"]);
        let none = "<ListMFADevicesResponse><ListMFADevicesResult><IsTruncated>false</IsTruncated><MFADevices/></ListMFADevicesResult></ListMFADevicesResponse>";
        let parsed: ListMfaDevicesResponse = parse("ListMFADevices", &ep, none).unwrap();
        assert!(parsed.result.devices.is_none_or(|d| d.members.is_empty()));
    }

    #[test]
    fn endpoints_by_partition_and_configuration() {
        let env = |vars: &[(&str, &str)]| Env::from_pairs(vars.iter().copied());
        assert_eq!(endpoint(&env(&[]), "eu-west-1").url, "https://iam.amazonaws.com");
        assert_eq!(endpoint(&env(&[]), "cn-northwest-1").signing_region, "cn-north-1");
        assert_eq!(endpoint(&env(&[]), "us-gov-east-1").url, "https://iam.us-gov.amazonaws.com");
        assert_eq!(
            endpoint(&env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")]), "us-east-1").url,
            "http://127.0.0.1:5000"
        );
        let both = [("AWS_ENDPOINT_URL", "http://a"), ("AWS_ENDPOINT_URL_IAM", "http://iam")];
        assert_eq!(endpoint(&env(&both), "us-east-1").url, "http://iam");
        let ignored = [("AWS_ENDPOINT_URL", "http://a"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")];
        assert_eq!(endpoint(&env(&ignored), "us-east-1").url, "https://iam.amazonaws.com");
    }
}
