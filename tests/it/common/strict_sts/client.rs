//! A small SigV4 client for tests: signs Query API calls as the SDKs do and posts them, to the
//! stand-in (its conformance tests) or to moto.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::STS_VERSION;
use super::xml::xml_text;

/// AWS credentials as a test holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `Expiration` as STS sent it (temporary credentials only).
    pub expiration: Option<String>,
}

impl StsCredentials {
    /// Long-term keys (no session token).
    pub fn long_term(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
            expiration: None,
        }
    }
}

/// An HTTP answer: status and body text.
#[derive(Clone, Debug)]
pub struct StsResponse {
    pub status: u16,
    pub body: String,
    /// The `Date` header.
    pub date: Option<String>,
}

impl StsResponse {
    /// The text of the first `<tag>` in the body, unescaped.
    pub fn text(&self, tag: &str) -> Option<String> {
        xml_text(&self.body, tag)
    }

    /// The error `<Code>`, if this is an error response.
    pub fn error_code(&self) -> Option<String> {
        self.text("Code")
    }

    /// The error `<Message>`, if this is an error response.
    pub fn error_message(&self) -> Option<String> {
        self.text("Message")
    }

    /// The `<Credentials>` of a `GetSessionToken` / `AssumeRole` answer.
    pub fn credentials(&self) -> Option<StsCredentials> {
        Some(StsCredentials {
            access_key_id: self.text("AccessKeyId")?,
            secret_access_key: self.text("SecretAccessKey")?,
            session_token: Some(self.text("SessionToken")?),
            expiration: Some(self.text("Expiration")?),
        })
    }
}

/// Signs an STS Query API call with SigV4 (region `us-east-1`, service `sts`) and POSTs it to
/// `url`. `params` must include `Action`; `Version=2011-06-15` is added when absent.
pub fn sign_and_post(url: &str, creds: &StsCredentials, params: &[(&str, &str)]) -> StsResponse {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if !all.iter().any(|(k, _)| *k == "Version") {
        all.push(("Version", STS_VERSION));
    }
    sign_and_post_service(url, creds, "sts", "us-east-1", &all)
}

/// Signs a Query API call for any `service` and `region` and POSTs it to `url` (for moto's IAM).
pub fn sign_and_post_service(
    url: &str,
    creds: &StsCredentials,
    service: &str,
    region: &str,
    params: &[(&str, &str)],
) -> StsResponse {
    let body = form_body(params);
    let headers = sign_headers(url, creds, service, region, body.as_bytes(), SystemTime::now());
    post_raw(url, &headers, body.as_bytes())
}

/// `application/x-www-form-urlencoded` encoding of `params`.
pub fn form_body(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

/// The headers of a SigV4-signed form POST of `body` to `url` at `time`: `content-type`,
/// `x-amz-date`, `authorization` and, for temporary credentials, `x-amz-security-token`.
/// `host` is signed too (taken from `url`); the HTTP client sends it.
pub fn sign_headers(
    url: &str,
    creds: &StsCredentials,
    service: &str,
    region: &str,
    body: &[u8],
    time: SystemTime,
) -> Vec<(String, String)> {
    const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
    let signable =
        SignableRequest::new("POST", url, [("content-type", CONTENT_TYPE)].into_iter(), SignableBody::Bytes(body))
            .expect("a valid URL");
    let identity: Identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("complete signing params")
        .into();
    let (instructions, _) = sign(signable, &params).expect("signing").into_parts();
    let (headers, _) = instructions.into_parts();
    let mut out = vec![("content-type".to_owned(), CONTENT_TYPE.to_owned())];
    out.extend(headers.iter().map(|h| (h.name().to_owned(), h.value().to_owned())));
    out
}

/// POSTs `body` with exactly `headers` (plus what the HTTP client adds: host, length, ...)
/// over a direct connection (no proxy). HTTP errors are returned, not raised.
pub fn post_raw(url: &str, headers: &[(String, String)], body: &[u8]) -> StsResponse {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut request = agent.post(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut response = request.send(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    StsResponse {
        status: response.status().as_u16(),
        date: response.headers().get("date").and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: response.body_mut().read_to_string().unwrap_or_else(|e| panic!("reading the answer from {url}: {e}")),
    }
}
