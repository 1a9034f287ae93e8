//! IAM's access-key actions for `rotate`: `CreateAccessKey` and `DeleteAccessKey`, over the
//! same signed Query API client as STS ([`StsClient::call_once`]: one agent, STS's clock), never
//! retried (a second `CreateAccessKey` would make a second key; IAM allows two per user).
//!
//! IAM is a global service: one endpoint per partition, signed for that partition's region.
//! `AWS_ENDPOINT_URL_IAM`, else `AWS_ENDPOINT_URL`, overrides it as in the AWS SDKs (unless
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true).

use zeroize::Zeroize;

use super::client::StsClient;
use super::endpoint::{self, Endpoint};
use super::{StsError, xml};
use crate::context::Env;
use crate::credentials::{BaseCredentials, Secret};
use crate::env_vars;

const VERSION: &str = "2010-05-08";

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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_pairs(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
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
        let e =
            endpoint(&env(&[("AWS_ENDPOINT_URL", "http://a/"), ("AWS_ENDPOINT_URL_IAM", "http://b/")]), "eu-west-1");
        assert_eq!(e.url, "http://b");
        let ignored = [("AWS_ENDPOINT_URL_IAM", "http://b"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")];
        assert_eq!(endpoint(&env(&ignored), "eu-west-1").url, "https://iam.amazonaws.com");
    }
}
