//! IAM over the same signed Query API client as STS ([`StsClient::call_once`]: one agent, STS's
//! clock, never retried): for `setup`'s wizard, the MFA devices of the user whose keys sign the
//! request (`GetUser`, then `ListMFADevices` for that user, so the wizard can offer them instead
//! of asking for an ARN); for `rotate`, `CreateAccessKey` and `DeleteAccessKey` (a second
//! `CreateAccessKey` would make a second key; IAM allows two per user).
//!
//! Wire contract (IAM Query API, version 2010-05-08, SigV4 service `iam`, form-encoded `POST /`):
//! `GetUser` without `UserName` answers the caller's user,
//! `GetUserResponse/GetUserResult/User/{UserName, Arn}`; `ListMFADevices&UserName=NAME` answers
//! `ListMFADevicesResponse/ListMFADevicesResult/MFADevices/member/SerialNumber` (the user is
//! named: an emulator such as moto needs it, and it is what the usual "manage your own MFA"
//! policy grants, `iam:ListMFADevices` on `user/${aws:username}`); errors are
//! `ErrorResponse/Error/{Code, Message}`, as STS's.
//!
//! IAM is a global service: one endpoint per partition, signed for that partition's region.
//! `AWS_ENDPOINT_URL_IAM`, else `AWS_ENDPOINT_URL`, overrides it as in the AWS SDKs (unless
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true).

use std::time::{Duration, Instant};

use serde::Deserialize;
use zeroize::Zeroize;

use super::client::StsClient;
use super::endpoint::{self, Endpoint};
use super::{StsError, xml};
use crate::context::{Context, Env};
use crate::credentials::{BaseCredentials, Secret};
use crate::env_vars;

const VERSION: &str = "2010-05-08";
/// Bound on the wizard's IAM exchanges.
const TIMEOUT: Duration = Duration::from_secs(10);

/// IAM's endpoint for a profile whose region is `region`.
pub fn endpoint(env: &Env, region: &str) -> Endpoint {
    let (url, signing_region) = match endpoint::partition_id(region) {
        "aws-cn" => ("https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        "aws-us-gov" => ("https://iam.us-gov.amazonaws.com", "us-gov-west-1"),
        _ => ("https://iam.amazonaws.com", "us-east-1"),
    };
    let ignore = env.get(env_vars::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let configured = (!ignore)
        .then(|| env.get(env_vars::AWS_ENDPOINT_URL_IAM).or_else(|| env.get(env_vars::AWS_ENDPOINT_URL)))
        .flatten();
    Endpoint {
        url: configured.map_or(url, |u| u.trim_end_matches('/')).to_string(),
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
pub fn mfa_devices(ctx: &Context, iam: &Endpoint, caller: &BaseCredentials) -> Result<MfaDevices, StsError> {
    let client = StsClient::new(ctx, iam.clone())?.with_deadline(Instant::now() + TIMEOUT);
    let call = |action: &'static str, params: &[(&str, &str)]| {
        let mut all = vec![("Action", action), ("Version", VERSION)];
        all.extend_from_slice(params);
        client.call_once(action, "iam", &iam.url, &iam.signing_region, caller, &all)
    };
    let user: GetUserResponse = parse("GetUser", iam, &call("GetUser", &[])?)?;
    let user = user.result.user;
    let listed = call("ListMFADevices", &[("UserName", &user.user_name)])?;
    let listed: ListMfaDevicesResponse = parse("ListMFADevices", iam, &listed)?;
    let serials = listed.result.devices.map(|d| d.members).unwrap_or_default();
    Ok(MfaDevices { user_arn: user.arn, serials: serials.into_iter().map(|m| m.serial_number).collect() })
}

/// The IAM user name of a user ARN (`arn:aws:iam::123456789012:user/path/NAME` -> `NAME`).
pub fn user_name(arn: &str) -> Option<&str> {
    let resource = arn.split(':').nth(5)?;
    resource.strip_prefix("user/").and_then(|r| r.rsplit('/').next()).filter(|n| !n.is_empty())
}

/// A new access key of user `user`: its id and secret.
pub fn create_access_key(
    client: &StsClient,
    iam: &Endpoint,
    caller: &BaseCredentials,
    user: &str,
) -> Result<(String, Secret), StsError> {
    let action = "CreateAccessKey";
    let params = [("Action", action), ("Version", VERSION), ("UserName", user)];
    let mut text = client.call_once(action, "iam", &iam.url, &iam.signing_region, caller, &params)?;
    let parsed = xml::parse_new_access_key(&text);
    text.zeroize();
    parsed.map_err(|detail| StsError::BadResponse { action, url: iam.url.clone(), status: 200, detail })
}

/// Deletes user `user`'s access key `access_key_id`.
pub fn delete_access_key(
    client: &StsClient,
    iam: &Endpoint,
    caller: &BaseCredentials,
    user: &str,
    access_key_id: &str,
) -> Result<(), StsError> {
    let action = "DeleteAccessKey";
    let params = [("Action", action), ("Version", VERSION), ("UserName", user), ("AccessKeyId", access_key_id)];
    client.call_once(action, "iam", &iam.url, &iam.signing_region, caller, &params).map(drop)
}

fn parse<T: for<'de> Deserialize<'de>>(action: &'static str, endpoint: &Endpoint, text: &str) -> Result<T, StsError> {
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

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_pairs(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

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
    fn the_user_name_is_the_last_part_of_a_user_arn() {
        assert_eq!(user_name("arn:aws:iam::123456789012:user/alice"), Some("alice"));
        assert_eq!(user_name("arn:aws-cn:iam::123456789012:user/team/ops/bob"), Some("bob"));
        assert_eq!(user_name("arn:aws:sts::123456789012:assumed-role/r/s"), None);
        assert_eq!(user_name("arn:aws:iam::123456789012:root"), None);
    }

    #[test]
    fn iam_is_global_per_partition_and_overridable() {
        let e = endpoint(&env(&[]), "eu-west-1");
        assert_eq!((e.url.as_str(), e.signing_region.as_str()), ("https://iam.amazonaws.com", "us-east-1"));
        assert_eq!(endpoint(&env(&[]), "cn-northwest-1").url, "https://iam.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint(&env(&[]), "us-gov-east-1").signing_region, "us-gov-west-1");
        assert_eq!(
            endpoint(&env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")]), "us-east-1").url,
            "http://127.0.0.1:5000"
        );
        let e =
            endpoint(&env(&[("AWS_ENDPOINT_URL", "http://a/"), ("AWS_ENDPOINT_URL_IAM", "http://b/")]), "eu-west-1");
        assert_eq!(e.url, "http://b");
        let ignored = [("AWS_ENDPOINT_URL_IAM", "http://b"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")];
        assert_eq!(endpoint(&env(&ignored), "eu-west-1").url, "https://iam.amazonaws.com");
    }
}
