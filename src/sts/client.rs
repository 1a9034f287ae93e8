//! The HTTP side of STS: one `ureq` agent, SigV4 signing with `aws-sigv4`, bounded retries.
//!
//! Built only on the slow path: a cache hit never creates a client (no TLS setup).

use std::cell::{OnceCell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use zeroize::Zeroize;

use super::endpoint::Endpoint;
use super::{AssumeRole, GetSessionToken, Sts, StsError, xml};
use crate::config::resolve::SessionAttributes;
use crate::context::Context;
use crate::credentials::{BaseCredentials, Credentials};
use crate::env_vars;

/// Attempts for a request without an MFA code.
const MAX_ATTEMPTS: u32 = 3;
/// Bound on one HTTP exchange (Terraform kills a helper after 60 s in total).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A `Date` header further than this from the local clock is a skew to correct for (the header
/// has whole seconds, and an answer takes time to arrive).
const SKEW_TOLERANCE_SECONDS: i64 = 60;
/// A skew the user is told about: beyond it, their other tools' signatures and expiry checks
/// suffer too.
const SKEW_WARNING_SECONDS: i64 = 5 * 60;
/// What is read of the answer to the request that opens a connection ahead.
const AHEAD_BODY_LIMIT: u64 = 64 << 10;

pub struct StsClient {
    agent: ureq::Agent,
    endpoint: Endpoint,
    clock: crate::context::Clock,
    /// No request runs past it; retries stop before it.
    deadline: Option<Instant>,
    ahead: RefCell<Ahead>,
}

/// The connection opened ahead of the requests that carry a code.
enum Ahead {
    NotStarted,
    /// Under way on its own thread, which sends the outcome (an error's text) once.
    Pending {
        action: &'static str,
        outcome: mpsc::Receiver<Result<(), String>>,
    },
    /// Finished: `None` when STS answered, else the action it was for and why it failed.
    Done(Option<(&'static str, String)>),
}

/// STS's clock minus the local clock, in seconds, as the last `Date` header showed (0 when
/// within [`SKEW_TOLERANCE_SECONDS`]); one per process, as there is one STS time. Requests are
/// signed by STS's time, and expirations are converted to the local clock, which is what every
/// caller compares them with.
static SKEW: AtomicI64 = AtomicI64::new(0);
static SKEW_REPORTED: AtomicBool = AtomicBool::new(false);

impl StsClient {
    pub fn new(ctx: &Context, endpoint: Endpoint) -> Result<StsClient, StsError> {
        Ok(StsClient {
            agent: agent(ctx)?,
            endpoint,
            clock: ctx.clock,
            deadline: None,
            ahead: RefCell::new(Ahead::NotStarted),
        })
    }

    /// Bounds every request and retry of this client by `deadline`.
    pub fn with_deadline(mut self, deadline: Instant) -> StsClient {
        self.deadline = Some(deadline);
        self
    }

    /// What is left of the deadline for one request (at most the per-request bound).
    fn time_left(&self) -> Duration {
        self.deadline.map_or(REQUEST_TIMEOUT, |d| d.saturating_duration_since(Instant::now()).min(REQUEST_TIMEOUT))
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens the connection on a thread of its own with an unsigned `GET /`, read to its end so
    /// that the agent keeps the connection for the next request. A request is the only way:
    /// ureq has no stable call that opens a pooled connection without one. STS answers it
    /// without acting on it, and it carries nothing of the user's.
    pub fn connect_ahead(&self, action: &'static str) {
        let mut ahead = self.ahead.borrow_mut();
        if !matches!(*ahead, Ahead::NotStarted) {
            return;
        }
        let (sender, outcome) = mpsc::channel();
        let agent = self.agent.clone();
        let url = format!("{}/", self.endpoint.url);
        let timeout = self.time_left();
        let started = std::thread::Builder::new().name("sts-connect".into()).spawn(move || {
            let result = match agent.get(&url).config().timeout_global(Some(timeout)).build().call() {
                Ok(mut response) => {
                    // Any answer shows STS can be reached, whatever its status.
                    let _ = response.body_mut().with_config().limit(AHEAD_BODY_LIMIT).read_to_vec();
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
            let _ = sender.send(result);
        });
        *ahead = match started {
            Ok(_) => Ahead::Pending { action, outcome },
            Err(_) => Ahead::Done(None),
        };
    }

    /// The outcome of [`connect_ahead`](StsClient::connect_ahead), waiting up to `wait` for it.
    pub fn connected(&self, wait: Duration) -> Result<(), StsError> {
        let mut ahead = self.ahead.borrow_mut();
        if let Ahead::Pending { action, outcome } = &*ahead {
            let action = *action;
            *ahead = match outcome.recv_timeout(wait) {
                Ok(result) => Ahead::Done(result.err().map(|detail| (action, detail))),
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(()),
                Err(mpsc::RecvTimeoutError::Disconnected) => Ahead::Done(None),
            };
        }
        match &*ahead {
            Ahead::Done(Some((action, detail))) => {
                Err(StsError::Transport { action, url: self.endpoint.url.clone(), detail: detail.clone() })
            }
            _ => Ok(()),
        }
    }

    pub fn get_session_token(
        &self,
        caller: &BaseCredentials,
        req: &GetSessionToken<'_>,
    ) -> Result<Credentials, StsError> {
        let duration = req.duration_seconds.to_string();
        let params = [
            ("Action", "GetSessionToken"),
            ("Version", "2011-06-15"),
            ("DurationSeconds", duration.as_str()),
            ("SerialNumber", req.serial_number),
            ("TokenCode", req.token_code.expose_secret()),
        ];
        // Carries a code: exactly one attempt.
        self.call("GetSessionToken", caller, &params, 1)
    }

    /// `GetFederationToken` for a console session of an IAM user (no MFA code involved).
    pub fn get_federation_token(
        &self,
        caller: &BaseCredentials,
        name: &str,
        duration_seconds: u32,
    ) -> Result<Credentials, StsError> {
        let duration = duration_seconds.to_string();
        // Without a policy the federated session could do nothing; with this one it can do what
        // the user can (the effective permissions are the intersection).
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let params = [
            ("Action", "GetFederationToken"),
            ("Version", "2011-06-15"),
            ("Name", name),
            ("DurationSeconds", duration.as_str()),
            ("Policy", policy),
        ];
        self.call("GetFederationToken", caller, &params, MAX_ATTEMPTS)
    }

    pub fn assume_role(&self, caller: &BaseCredentials, req: &AssumeRole<'_>) -> Result<Credentials, StsError> {
        let duration = req.duration_seconds.to_string();
        let mut params = vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", req.role_arn),
            ("RoleSessionName", req.role_session_name),
            ("DurationSeconds", duration.as_str()),
        ];
        if let Some(id) = req.external_id {
            params.push(("ExternalId", id));
        }
        if let Some((serial, code)) = req.mfa {
            params.push(("SerialNumber", serial));
            params.push(("TokenCode", code.expose_secret()));
        }
        let names = attribute_names(req.attributes);
        let attributes = req.attributes;
        if let Some(id) = &attributes.source_identity {
            params.push(("SourceIdentity", id));
        }
        let values = attributes
            .tags
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .chain(attributes.transitive_tag_keys.iter().map(String::as_str));
        params.extend(names.iter().map(String::as_str).zip(values));
        let attempts = if req.mfa.is_some() { 1 } else { MAX_ATTEMPTS };
        self.call("AssumeRole", caller, &params, attempts)
    }

    fn call(
        &self,
        action: &'static str,
        caller: &BaseCredentials,
        params: &[(&str, &str)],
        attempts: u32,
    ) -> Result<Credentials, StsError> {
        let mut body = form_encode(params);
        let result = send_with_retries(
            action,
            &self.endpoint.url,
            attempts,
            &mut Request { client: self, action, caller, body: &body },
        );
        body.zeroize();
        result
    }

    /// Credentials that are already over by this machine's clock mean the clock is wrong: they
    /// would be refused at once, and SDKs would call us in a loop.
    fn check_expiry(&self, action: &'static str, mut credentials: Credentials) -> Result<Credentials, StsError> {
        let skew = SKEW.load(Ordering::Relaxed);
        credentials.expiration -= time::Duration::seconds(skew);
        if credentials.seconds_left(self.clock.now()) > 60 {
            return Ok(credentials);
        }
        Err(StsError::ExpiredOnArrival {
            action,
            expiration: crate::credentials::format_expiration(credentials.expiration),
            now: crate::credentials::format_expiration(self.clock.now()),
        })
    }

    /// Keeps STS's clock as a `Date` header tells it, and says so once if the local clock is
    /// far off.
    fn observe_date(&self, date: &str) {
        let Some(remote) = parse_http_date(date) else { return };
        let measured = (remote - self.clock.now()).whole_seconds();
        let skew = if measured.abs() > SKEW_TOLERANCE_SECONDS { measured } else { 0 };
        SKEW.store(skew, Ordering::Relaxed);
        if skew.abs() > SKEW_WARNING_SECONDS && !SKEW_REPORTED.swap(true, Ordering::Relaxed) {
            let direction = if skew > 0 { "behind" } else { "ahead of" };
            crate::diag::warn(&format!(
                "this machine's clock is {} {direction} STS's ({}'s Date header): rolegate signs with STS's time and gives expiry times by this machine's clock, but set the clock right (`timedatectl set-ntp true`, or your system's time settings): other tools will fail",
                describe_seconds(skew.abs()),
                self.endpoint.url
            ));
        }
    }

    fn send(&self, action: &'static str, caller: &BaseCredentials, body: &str) -> Result<Credentials, StsError> {
        let (url, region) = (&self.endpoint.url, &self.endpoint.signing_region);
        let (status, mut text) = self.post_signed(action, "sts", url, region, caller, body)?;
        let result = if status == 200 {
            xml::parse_credentials(&text)
                .map_err(|detail| StsError::BadResponse { action, url: url.clone(), status, detail })
                .and_then(|c| self.check_expiry(action, c))
        } else {
            Err(service_error(action, url, status, &text))
        };
        text.zeroize();
        result
    }

    /// `GetCallerIdentity` signed by `caller` (who the keys belong to; it needs no permission).
    /// One attempt.
    pub fn get_caller_identity(&self, caller: &BaseCredentials) -> Result<xml::CallerIdentity, StsError> {
        let action = "GetCallerIdentity";
        let params = [("Action", action), ("Version", "2011-06-15")];
        let (url, region) = (&self.endpoint.url, &self.endpoint.signing_region);
        let text = self.call_once(action, "sts", url, region, caller, &params)?;
        xml::parse_caller_identity(&text).map_err(|detail| StsError::BadResponse {
            action,
            url: url.clone(),
            status: 200,
            detail,
        })
    }

    /// One signed Query API request to another service of the same signing rules (IAM), by
    /// this client's agent and clock: the body of a 200 answer (the caller zeroizes it if it holds
    /// a secret), or the service's error. Never retried: such a request may not be idempotent.
    pub fn call_once(
        &self,
        action: &'static str,
        service: &str,
        url: &str,
        region: &str,
        caller: &BaseCredentials,
        params: &[(&str, &str)],
    ) -> Result<String, StsError> {
        let mut body = form_encode(params);
        let result = self.post_signed(action, service, url, region, caller, &body);
        body.zeroize();
        let (status, mut text) = result?;
        if status == 200 {
            return Ok(text);
        }
        let error = service_error(action, url, status, &text);
        text.zeroize();
        Err(error)
    }

    /// One SigV4-signed form POST of `body` to `url` for `service` in `region`, signed by STS's
    /// clock: the status and the body.
    fn post_signed(
        &self,
        action: &'static str,
        service: &str,
        url: &str,
        region: &str,
        caller: &BaseCredentials,
        body: &str,
    ) -> Result<(u16, String), StsError> {
        let endpoint_url = url;
        let url = format!("{url}/");
        let content_type = FORM_CONTENT_TYPE;
        let signed = sign_post(
            caller,
            service,
            region,
            self.clock.now() + time::Duration::seconds(SKEW.load(Ordering::Relaxed)),
            &url,
            body,
        )?;

        let left = self.time_left();
        if left.is_zero() {
            return Err(StsError::Transport {
                action,
                url: endpoint_url.into(),
                detail: "no time left before the deadline".into(),
            });
        }
        let mut request =
            self.agent.post(&url).config().timeout_global(Some(left)).build().header("content-type", content_type);
        for (name, value) in &signed {
            request = request.header(name, value);
        }
        let transport =
            |e: ureq::Error| StsError::Transport { action, url: endpoint_url.into(), detail: e.to_string() };
        let mut response = request.send(body.as_bytes()).map_err(transport)?;
        let status = response.status().as_u16();
        if let Some(date) = response.headers().get("date").and_then(|v| v.to_str().ok()) {
            self.observe_date(date);
        }
        let text = response.body_mut().with_config().limit(1 << 20).read_to_string().map_err(transport)?;
        Ok((status, text))
    }
}

/// The typed error of a non-200 answer.
fn service_error(action: &'static str, url: &str, status: u16, text: &str) -> StsError {
    match xml::parse_error(text) {
        Some((code, message)) => StsError::from_service(action, status, code, message),
        None => StsError::BadResponse { action, url: url.into(), status, detail: "no ErrorResponse".into() },
    }
}

impl Sts for StsClient {
    fn connect_ahead(&self, action: &'static str) {
        StsClient::connect_ahead(self, action);
    }

    fn connected(&self, wait: Duration) -> Result<(), StsError> {
        StsClient::connected(self, wait)
    }

    fn get_session_token(&self, caller: &BaseCredentials, req: &GetSessionToken<'_>) -> Result<Credentials, StsError> {
        StsClient::get_session_token(self, caller, req)
    }

    fn assume_role(&self, caller: &BaseCredentials, req: &AssumeRole<'_>) -> Result<Credentials, StsError> {
        StsClient::assume_role(self, caller, req)
    }
}

/// An [`StsClient`] built on its first use and then kept for every later call (one agent, so
/// one connection and one TLS handshake for the MFA session and the roles after it). A call
/// answered from the cache never builds one.
pub struct LazyClient<'a> {
    ctx: &'a Context,
    endpoint: Endpoint,
    deadline: Instant,
    client: OnceCell<StsClient>,
}

impl<'a> LazyClient<'a> {
    /// A client for `endpoint` whose requests and retries all end by `deadline`.
    pub fn new(ctx: &'a Context, endpoint: Endpoint, deadline: Instant) -> LazyClient<'a> {
        LazyClient { ctx, endpoint, deadline, client: OnceCell::new() }
    }

    fn client(&self) -> Result<&StsClient, StsError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = StsClient::new(self.ctx, self.endpoint.clone())?.with_deadline(self.deadline);
        Ok(self.client.get_or_init(|| client))
    }
}

impl Sts for LazyClient<'_> {
    fn prepare(&self) -> Result<(), StsError> {
        self.client().map(|_| ())
    }

    fn connect_ahead(&self, action: &'static str) {
        if let Ok(client) = self.client() {
            client.connect_ahead(action);
        }
    }

    fn connected(&self, wait: Duration) -> Result<(), StsError> {
        self.client.get().map_or(Ok(()), |client| client.connected(wait))
    }

    fn get_session_token(&self, caller: &BaseCredentials, req: &GetSessionToken<'_>) -> Result<Credentials, StsError> {
        self.client()?.get_session_token(caller, req)
    }

    fn assume_role(&self, caller: &BaseCredentials, req: &AssumeRole<'_>) -> Result<Credentials, StsError> {
        self.client()?.assume_role(caller, req)
    }
}

/// What sending one request needs from the world; [`Request`] is the real one, the unit tests
/// script another.
trait Exchange {
    /// Signs the request by STS's clock as last seen, and sends it once.
    fn send(&mut self) -> Result<Credentials, StsError>;
    /// STS's clock minus the local clock, in seconds, as the last answer's `Date` showed.
    fn skew(&self) -> i64;
    /// What is left of the deadline for one request.
    fn time_left(&self) -> Duration;
    /// Waits between two attempts.
    fn pause(&mut self, duration: Duration);
}

/// One request of an [`StsClient`] on the network.
struct Request<'c> {
    client: &'c StsClient,
    action: &'static str,
    caller: &'c BaseCredentials,
    body: &'c str,
}

impl Exchange for Request<'_> {
    fn send(&mut self) -> Result<Credentials, StsError> {
        self.client.send(self.action, self.caller, self.body)
    }

    fn skew(&self) -> i64 {
        SKEW.load(Ordering::Relaxed)
    }

    fn time_left(&self) -> Duration {
        self.client.time_left()
    }

    fn pause(&mut self, duration: Duration) {
        // Bounded backoff between retries of a request that carries no code.
        std::thread::sleep(duration);
    }
}

/// The retry rules of one request. Up to `attempts` sends (1 for a request with an MFA code)
/// on throttling, 5xx and connection failures, with a backoff, while the deadline allows. And
/// one more send, whatever `attempts`, when STS refused the signing time and its answer showed
/// a clock offset other than the one the request was signed with: the request is signed again
/// by STS's clock, once. That holds for a request with a code too: STS checks the signature
/// before it reads the parameters, so the code was not used.
fn send_with_retries(
    action: &'static str,
    url: &str,
    attempts: u32,
    exchange: &mut impl Exchange,
) -> Result<Credentials, StsError> {
    let mut attempt = 0;
    let mut resigned = false;
    loop {
        attempt += 1;
        let _span = tracing::debug_span!("sts_call", action, attempt, url = %url).entered();
        tracing::debug!("request");
        let signed_with_skew = exchange.skew();
        let result = exchange.send();
        if let Err(e) = &result {
            tracing::debug!(error = %e, "failed");
            let skew = exchange.skew();
            if !resigned && e.is_clock_refusal() && (skew - signed_with_skew).abs() > SKEW_TOLERANCE_SECONDS {
                resigned = true;
                attempt -= 1;
                tracing::debug!(skew, "signing again with STS's clock");
                continue;
            }
        }
        let backoff = Duration::from_millis(200 * u64::from(attempt));
        match &result {
            Err(e)
                if e.is_retryable()
                    && attempt < attempts
                    && exchange.time_left() > backoff + Duration::from_secs(1) =>
            {
                tracing::debug!(error = %e, "retrying");
                exchange.pause(backoff);
            }
            _ => return result,
        }
    }
}

/// The SigV4 headers of `POST url` with a form `body` (content type
/// [`FORM_CONTENT_TYPE`]) to `service` in `region`, signed by `caller` at `time`.
pub(super) fn sign_post(
    caller: &BaseCredentials,
    service: &str,
    region: &str,
    time: time::OffsetDateTime,
    url: &str,
    body: &str,
) -> Result<Vec<(String, String)>, StsError> {
    let host = host_of(url);
    let identity = aws_credential_types::Credentials::new(
        caller.access_key_id.clone(),
        caller.secret_access_key.expose_secret().to_string(),
        caller.session_token.as_ref().map(|t| t.expose_secret().to_string()),
        None,
        "rolegate",
    )
    .into();
    let signing_params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::from(time))
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| StsError::Signing(e.to_string()))?
        .into();
    let headers = [("content-type", FORM_CONTENT_TYPE), ("host", host.as_str())];
    let signable = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(body.as_bytes()))
        .map_err(|e| StsError::Signing(e.to_string()))?;
    let (instructions, _) = sign(signable, &signing_params).map_err(|e| StsError::Signing(e.to_string()))?.into_parts();
    Ok(instructions.headers().map(|(n, v)| (n.to_string(), v.to_string())).collect())
}

/// The content type of every Query API request.
pub(super) const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The HTTP agent of every AWS call: rustls with the system trust store (or `AWS_CA_BUNDLE`),
/// bounded, no redirects, proxies from the environment.
pub fn agent(ctx: &Context) -> Result<ureq::Agent, StsError> {
    use ureq::tls::{RootCerts, TlsConfig};
    let roots = match ctx.env.get(env_vars::AWS_CA_BUNDLE) {
        // Like the AWS CLI, AWS_CA_BUNDLE replaces the default trust store.
        Some(path) => RootCerts::new_with_certs(&load_pem_bundle(path)?),
        None => RootCerts::PlatformVerifier,
    };
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .max_redirects(0)
        .user_agent(concat!("rolegate/", env!("CARGO_PKG_VERSION")))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build();
    Ok(config.into())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate).
pub fn parse_http_date(value: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc2822).ok()
}

/// `90 s`, `about 61 min`, `about 3 h`.
pub fn describe_seconds(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 3 * 3600 => format!("about {} min", (s + 30) / 60),
        s => format!("about {} h", (s + 1800) / 3600),
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or("").to_string()
}

/// The Query API names of the session tags and transitive keys, in the order their values are
/// listed: `Tags.member.1.Key`, `Tags.member.1.Value`, ..., `TransitiveTagKeys.member.1`, ...
fn attribute_names(attributes: &SessionAttributes) -> Vec<String> {
    let tags =
        (1..=attributes.tags.len()).flat_map(|n| [format!("Tags.member.{n}.Key"), format!("Tags.member.{n}.Value")]);
    let transitive = (1..=attributes.transitive_tag_keys.len()).map(|n| format!("TransitiveTagKeys.member.{n}"));
    tags.chain(transitive).collect()
}

/// `application/x-www-form-urlencoded`, written out because it is six lines: unreserved
/// characters pass, everything else is `%XX` (SigV4 canonicalises the body as bytes, so any
/// correct encoding signs fine).
pub(super) fn form_encode(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [k, v].into_iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

fn load_pem_bundle(path: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, StsError> {
    let err = |detail: String| StsError::CaBundle { path: path.into(), detail };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| err(e.to_string()))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(err("no certificate in it".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers from a script; each answer may move STS's clock offset, as a `Date` header does.
    struct Scripted {
        answers: std::collections::VecDeque<(Result<Credentials, StsError>, i64)>,
        skew: i64,
        sends: u32,
        pauses: Vec<Duration>,
        left: Duration,
    }

    impl Scripted {
        fn new(answers: Vec<(Result<Credentials, StsError>, i64)>) -> Scripted {
            Scripted { answers: answers.into(), skew: 0, sends: 0, pauses: Vec::new(), left: REQUEST_TIMEOUT }
        }

        fn run(&mut self, attempts: u32) -> Result<Credentials, StsError> {
            send_with_retries("GetSessionToken", "https://sts.example", attempts, self)
        }
    }

    impl Exchange for Scripted {
        fn send(&mut self) -> Result<Credentials, StsError> {
            self.sends += 1;
            let (answer, skew) = self.answers.pop_front().expect("a send beyond the script");
            self.skew = skew;
            answer
        }
        fn skew(&self) -> i64 {
            self.skew
        }
        fn time_left(&self) -> Duration {
            self.left
        }
        fn pause(&mut self, duration: Duration) {
            self.pauses.push(duration);
        }
    }

    fn issued() -> Result<Credentials, StsError> {
        Ok(Credentials {
            access_key_id: "ASIAISSUED".into(),
            secret_access_key: crate::credentials::Secret::new("s"),
            session_token: crate::credentials::Secret::new("t"),
            expiration: time::OffsetDateTime::UNIX_EPOCH,
            account_id: None,
            arn: None,
        })
    }

    fn signature_expired() -> Result<Credentials, StsError> {
        Err(StsError::from_service(
            "GetSessionToken",
            403,
            "SignatureDoesNotMatch".into(),
            "Signature expired: 20260101T000000Z is now earlier than 20260101T010000Z (20260101T011500Z - 15 min.)"
                .into(),
        ))
    }

    fn transport() -> Result<Credentials, StsError> {
        Err(StsError::Transport { action: "AssumeRole", url: "https://sts.example".into(), detail: "reset".into() })
    }

    #[test]
    fn a_clock_refusal_is_signed_again_by_stss_clock_once_even_with_a_code() {
        // One attempt: the request carries a code. STS's answer shows its clock an hour ahead.
        let mut sts = Scripted::new(vec![(signature_expired(), 3600), (issued(), 3600)]);
        assert!(sts.run(1).is_ok());
        assert_eq!(sts.sends, 2);
        assert!(sts.pauses.is_empty(), "no backoff: the request was refused for its time, not failed");
    }

    #[test]
    fn a_second_clock_refusal_is_not_signed_again() {
        let mut sts = Scripted::new(vec![(signature_expired(), 3600), (signature_expired(), 7200)]);
        assert!(matches!(sts.run(3), Err(StsError::SignatureDoesNotMatch { .. })));
        assert_eq!(sts.sends, 2);
    }

    #[test]
    fn a_clock_refusal_that_shows_no_other_clock_is_not_signed_again() {
        // Signed by STS's clock already (or the answer had no usable Date): signing again by
        // the same clock would be refused the same way.
        let mut sts = Scripted::new(vec![(signature_expired(), 0)]);
        sts.skew = 0;
        assert!(sts.run(1).is_err());
        assert_eq!(sts.sends, 1);
        let mut sts = Scripted::new(vec![(signature_expired(), 3630)]);
        sts.skew = 3600;
        assert!(sts.run(1).is_err());
        assert_eq!(sts.sends, 1, "within the tolerance of the offset it was signed with");
    }

    #[test]
    fn request_time_too_skewed_is_a_clock_refusal_too() {
        let skewed = StsError::from_service("AssumeRole", 400, "RequestTimeTooSkewed".into(), "too skewed".into());
        let mut sts = Scripted::new(vec![(Err(skewed), -7200), (issued(), -7200)]);
        assert!(sts.run(1).is_ok());
        assert_eq!(sts.sends, 2);
    }

    #[test]
    fn a_request_with_a_code_is_sent_once_whatever_the_failure() {
        let throttled = || Err(StsError::from_service("GetSessionToken", 400, "Throttling".into(), "Rate".into()));
        let server = || Err(StsError::from_service("GetSessionToken", 500, "InternalFailure".into(), "x".into()));
        for failure in [transport(), throttled(), server()] {
            let mut sts = Scripted::new(vec![(failure, 0)]);
            assert!(sts.run(1).is_err());
            assert_eq!((sts.sends, sts.pauses.len()), (1, 0));
        }
    }

    #[test]
    fn a_request_without_a_code_is_retried_with_a_growing_backoff() {
        let mut sts = Scripted::new(vec![(transport(), 0), (transport(), 0), (issued(), 0)]);
        assert!(sts.run(MAX_ATTEMPTS).is_ok());
        assert_eq!(sts.sends, 3);
        assert_eq!(sts.pauses, [Duration::from_millis(200), Duration::from_millis(400)]);

        let mut sts = Scripted::new(vec![(transport(), 0), (transport(), 0), (transport(), 0)]);
        assert!(matches!(sts.run(MAX_ATTEMPTS), Err(StsError::Transport { .. })));
        assert_eq!(sts.sends, MAX_ATTEMPTS);
    }

    #[test]
    fn no_retry_for_a_refusal_or_past_the_deadline() {
        let denied = StsError::from_service("AssumeRole", 403, "AccessDenied".into(), "not allowed".into());
        let mut sts = Scripted::new(vec![(Err(denied), 0)]);
        assert!(sts.run(MAX_ATTEMPTS).is_err());
        assert_eq!(sts.sends, 1);

        let mut sts = Scripted::new(vec![(transport(), 0)]);
        sts.left = Duration::from_millis(1100);
        assert!(sts.run(MAX_ATTEMPTS).is_err());
        assert_eq!(
            (sts.sends, sts.pauses.len()),
            (1, 0),
            "the backoff and a second try do not fit before the deadline"
        );
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(&[("Action", "AssumeRole"), ("RoleArn", "arn:aws:iam::1:role/a b")]),
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b"
        );
    }

    #[test]
    fn session_tag_parameter_names() {
        let attributes = SessionAttributes {
            source_identity: Some("alice".into()),
            tags: vec![("team".into(), "a".into()), ("cost".into(), "b".into())],
            transitive_tag_keys: vec!["team".into()],
        };
        assert_eq!(
            attribute_names(&attributes),
            [
                "Tags.member.1.Key",
                "Tags.member.1.Value",
                "Tags.member.2.Key",
                "Tags.member.2.Value",
                "TransitiveTagKeys.member.1"
            ]
        );
        assert!(attribute_names(&SessionAttributes::default()).is_empty());
    }

    #[test]
    fn host_extraction() {
        assert_eq!(host_of("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(host_of("https://sts.us-west-2.amazonaws.com/"), "sts.us-west-2.amazonaws.com");
    }
}
