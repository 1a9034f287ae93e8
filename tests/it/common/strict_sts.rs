//! A strict, in-process stand-in for AWS STS on loopback.
//!
//! moto accepts any MFA code and (unless told otherwise) any signature, so tests that are
//! about MFA and credential handling need something stricter. [`StrictSts`] is a small
//! tiny_http server on `127.0.0.1:<ephemeral>` that speaks the STS Query API
//! (`POST /` with a form body `Action=...&Version=2011-06-15&...`) the way real STS does
//! for the three actions a credential helper needs.
//!
//! What it emulates:
//! - SigV4 header authentication, verified for real with aws-sigv4 (generically from the
//!   request's `SignedHeaders`, so botocore, the Go SDK and the Rust SDK all pass);
//!   long-term user keys (`AKIA...`) and the temporary keys it issued (`ASIA...`, which must
//!   carry their `X-Amz-Security-Token`); expiry of temporary credentials against a test
//!   clock ([`StrictSts::advance`]).
//! - A wall clock that may differ from the machine's ([`StrictSts::set_skew`]): requests signed
//!   more than 15 minutes away from it are refused with real STS's `SignatureDoesNotMatch`
//!   "Signature expired" / "Signature not yet current" messages, every answer carries it in
//!   its `Date` header, and issued credentials expire by it.
//! - `GetSessionToken` (optionally with MFA), `AssumeRole` (MFA-protected roles, external
//!   IDs, `MaxSessionDuration`, the one-hour role-chaining cap) and `GetCallerIdentity`,
//!   with the real XML response shapes, error codes, HTTP statuses and messages.
//! - TOTP codes: exactly six digits, for a registered device serial, single-use per serial;
//!   a test can declare codes wrong with [`StrictSts::reject_code`].
//! - Fault injection ([`StrictSts::fail_next`], [`StrictSts::delay_next`]) and a record of
//!   every request ([`StrictSts::calls`]).
//!
//! What it does not emulate: IAM policies (any known user may assume any registered role,
//! subject only to the role's MFA and external-ID conditions), MFA devices being bound to a
//! particular user, presigned (query-string) SigV4, SigV4a, the `Date` header instead of
//! `X-Amz-Date`, session policies, tags, source identity, and every other
//! STS action (they answer `InvalidAction`).
//!
//! An MFA code is burned only when the whole call succeeds. A role session inherits "made
//! with MFA" from the credentials that assumed it (or from the code sent with the call).
//!
//! The module also has a small SigV4 client ([`sign_and_post`] and friends) for tests.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use sha2::{Digest, Sha256};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The XML namespace of every STS response.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The only STS API version.
pub const STS_VERSION: &str = "2011-06-15";

/// `Message` of a wrong, reused or rejected MFA code (403 `AccessDenied`).
pub const MSG_INVALID_MFA_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";
/// `Message` when the MFA serial is not a registered device (403 `AccessDenied`).
pub const MSG_UNKNOWN_MFA_DEVICE: &str = "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.";
/// `Message` of `GetSessionToken` called with temporary credentials (403 `AccessDenied`).
pub const MSG_SESSION_CREDENTIALS: &str = "Cannot call GetSessionToken with session credentials";
/// `Message` of an `AssumeRole` beyond one hour from temporary credentials (400 `ValidationError`).
pub const MSG_ROLE_CHAINING_LIMIT: &str =
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.";
/// `Message` of an `AssumeRole` beyond the role's maximum (400 `ValidationError`).
pub const MSG_ROLE_MAX_DURATION: &str =
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";
/// `Message` of expired temporary credentials (403 `ExpiredToken`).
pub const MSG_EXPIRED_TOKEN: &str = "The security token included in the request is expired";
/// `Message` of an unknown access key or a missing/wrong session token (403 `InvalidClientTokenId`).
pub const MSG_INVALID_TOKEN_ID: &str = "The security token included in the request is invalid.";
/// `Message` of a bad signature (403 `SignatureDoesNotMatch`).
pub const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Role-chaining cap: sessions assumed with temporary credentials last at most one hour.
const CHAINED_ROLE_MAX_SECONDS: u32 = 3600;
/// An upper bound on one injected delay, so a test cannot hang a handler for long.
const MAX_INJECTED_DELAY: Duration = Duration::from_secs(60);

/// A role the stand-in lets callers assume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    /// `arn:aws:iam::ACCOUNT:role/[path/]NAME`.
    pub arn: String,
    /// Assumable only from an MFA session, or with `SerialNumber` + a valid `TokenCode`.
    pub requires_mfa: bool,
    /// When set, `AssumeRole` must send exactly this `ExternalId`.
    pub external_id: Option<String>,
    /// The role's `MaxSessionDuration` (3600..=43200 in real IAM).
    pub max_session_duration: u32,
}

impl Default for RoleSpec {
    fn default() -> Self {
        Self { arn: String::new(), requires_mfa: false, external_id: None, max_session_duration: 3600 }
    }
}

impl RoleSpec {
    /// A role without conditions and the default one-hour maximum.
    pub fn new(arn: &str) -> Self {
        Self { arn: arn.to_owned(), ..Self::default() }
    }

    /// The same role, assumable only with MFA.
    pub fn requiring_mfa(mut self) -> Self {
        self.requires_mfa = true;
        self
    }

    /// The same role, with an external-ID condition.
    pub fn with_external_id(mut self, external_id: &str) -> Self {
        self.external_id = Some(external_id.to_owned());
        self
    }

    /// The same role, with another `MaxSessionDuration`.
    pub fn with_max_session_duration(mut self, seconds: u32) -> Self {
        self.max_session_duration = seconds;
        self
    }
}

/// One request as the stand-in saw it (recorded whether it succeeded or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The `Action` parameter (empty if missing).
    pub action: String,
    /// The access key from the `Authorization` header's credential scope (empty if none).
    pub access_key_id: String,
    pub serial_number: Option<String>,
    pub token_code: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// `DurationSeconds`, if sent and a valid `u32`.
    pub duration_seconds: Option<u32>,
    pub role_session_name: Option<String>,
    /// The HTTP status the stand-in answered with.
    pub status: u16,
    /// The error `Code` of a failed call (for injected faults: the `<Code>` of the body, if any).
    pub error_code: Option<String>,
}

/// The stand-in server; stops (closes its port) when dropped.
pub struct StrictSts {
    /// Shared only with the acceptor thread, so that dropping it really closes the port even
    /// while request threads (holding `inner`) are still busy.
    server: Option<Arc<tiny_http::Server>>,
    inner: Arc<Inner>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

/// What request threads share.
struct Inner {
    seed: [u8; 32],
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Long-term keys: access key id -> user.
    users: HashMap<String, User>,
    mfa_devices: HashSet<String>,
    /// (serial, code) pairs already accepted once.
    used_codes: HashSet<(String, String)>,
    rejected_codes: HashSet<String>,
    roles: HashMap<String, RoleSpec>,
    /// Issued temporary credentials: access key id -> credential.
    temporary: HashMap<String, TempCredential>,
    /// Seconds added to the credentials' clock by [`StrictSts::advance`].
    clock_offset: i64,
    /// Seconds STS's wall clock is ahead of the machine's ([`StrictSts::set_skew`]).
    wall_skew: i64,
    counter: u64,
    fail: Option<InjectedFailure>,
    delay: Option<(usize, u64)>,
    delayed_in_flight: usize,
    calls: Vec<Call>,
}

struct User {
    secret: String,
    arn: String,
}

struct InjectedFailure {
    remaining: usize,
    status: u16,
    body: String,
}

struct TempCredential {
    secret: String,
    session_token: String,
    principal: Principal,
    with_mfa: bool,
    expires: OffsetDateTime,
}

/// Who a set of credentials belongs to.
#[derive(Clone, Debug)]
enum Principal {
    User { arn: String },
    AssumedRole { role_arn: String, role_id: String, session_name: String },
}

impl Principal {
    fn arn(&self) -> String {
        match self {
            Principal::User { arn } => arn.clone(),
            Principal::AssumedRole { role_arn, session_name, .. } => {
                format!("arn:aws:sts::{}:assumed-role/{}/{session_name}", arn_account(role_arn), role_name(role_arn))
            }
        }
    }

    fn account(&self) -> String {
        match self {
            Principal::User { arn } => arn_account(arn).to_owned(),
            Principal::AssumedRole { role_arn, .. } => arn_account(role_arn).to_owned(),
        }
    }
}

/// The authenticated sender of a request.
struct Caller {
    principal: Principal,
    temporary: bool,
    with_mfa: bool,
}

/// An STS error answer.
#[derive(Debug)]
struct StsError {
    status: u16,
    code: &'static str,
    message: String,
}

impl StsError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    fn not_authorized(caller: &Caller, role_arn: &str) -> Self {
        Self::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.principal.arn()
        ))
    }
}

/// The parts of an HTTP request the stand-in looks at.
struct HttpRequest {
    method: String,
    /// Path and query, as sent.
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Query parameters plus, for a form body, the body's parameters.
    fn params(&self) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = match self.url.split_once('?') {
            Some((_, query)) => form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
            None => Vec::new(),
        };
        let is_form = self.header("content-type").is_some_and(|ct| ct.contains("application/x-www-form-urlencoded"));
        if is_form {
            params.extend(form_urlencoded::parse(&self.body).into_owned());
        }
        params
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct AuthHeader {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(value: &str) -> Result<AuthHeader, StsError> {
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
fn access_key_of(req: &HttpRequest) -> String {
    req.header("authorization").and_then(|v| parse_authorization(v).ok()).map(|a| a.access_key_id).unwrap_or_default()
}

fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format).ok().map(PrimitiveDateTime::assume_utc)
}

/// The signature aws-sigv4 computes for `req` with `secret`, rebuilt from the headers the
/// client says it signed. aws-sigv4 adds `x-amz-date` (from the signing time) and
/// `x-amz-security-token` (from the credentials) itself, and `host` from the URI when the
/// headers lack it, so the first two are left out of the headers handed to it.
fn expected_signature(
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
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

/// The last path segment of a role ARN (`arn:aws:iam::1:role/path/NAME` -> `NAME`).
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn format_expiration(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).expect("a UTC time formats")
}

/// The XML body of an STS error.
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{STS_NAMESPACE}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

/// The body real STS sends with HTTP 400 when throttling (for [`StrictSts::fail_next`]).
pub fn throttling_xml() -> String {
    error_xml("Throttling", "Rate exceeded", "c0ffee00-0000-4000-8000-000000000000")
}

fn success_xml(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{STS_NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    )
}

fn credentials_xml(c: &IssuedCredentials) -> String {
    format!(
        "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        c.access_key_id,
        xml_escape(&c.secret),
        xml_escape(&c.session_token),
        format_expiration(c.expires)
    )
}

struct IssuedCredentials {
    access_key_id: String,
    secret: String,
    session_token: String,
    expires: OffsetDateTime,
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn new_seed() -> [u8; 32] {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    let a = hasher.finish();
    hasher.write_u64(a);
    let b = hasher.finish();
    let mut h = Sha256::new();
    h.update(a.to_le_bytes());
    h.update(b.to_le_bytes());
    h.update(nanos.to_le_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(h.finalize().as_slice());
    seed
}

/// `len` characters of `alphabet`, derived from the seed and `label` with SHA-256.
fn derived_string(seed: &[u8; 32], label: &str, alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut block = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(label.as_bytes());
        h.update(block.to_le_bytes());
        for byte in h.finalize().iter() {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[usize::from(*byte) % alphabet.len()]));
        }
        block += 1;
    }
    out
}

fn is_valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StrictSts {
    /// Starts the stand-in on `127.0.0.1:<ephemeral port>`.
    pub fn start() -> StrictSts {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = server.server_addr().to_ip().expect("an IP listener");
        let server = Arc::new(server);
        let inner = Arc::new(Inner { seed: new_seed(), state: Mutex::new(State::default()) });
        let acceptor = {
            let server = Arc::clone(&server);
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("strict-sts-accept".into())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        let inner = Arc::clone(&inner);
                        // One thread per request: a delayed request never holds up others.
                        let spawned = std::thread::Builder::new()
                            .name("strict-sts-request".into())
                            .spawn(move || inner.serve(request));
                        if spawned.is_err() {
                            break;
                        }
                    }
                })
                .expect("spawn the acceptor thread")
        };
        StrictSts { server: Some(server), inner, addr, acceptor: Some(acceptor) }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Registers an IAM user's long-term access key (`arn` like `arn:aws:iam::111111111111:user/alice`).
    pub fn add_user(&self, access_key_id: &str, secret: &str, arn: &str) {
        self.state().users.insert(access_key_id.to_owned(), User { secret: secret.to_owned(), arn: arn.to_owned() });
    }

    /// Registers a virtual MFA device by its serial ARN.
    pub fn add_mfa_device(&self, serial: &str) {
        self.state().mfa_devices.insert(serial.to_owned());
    }

    /// Registers a role (replacing one with the same ARN).
    pub fn add_role(&self, role: RoleSpec) {
        self.state().roles.insert(role.arn.clone(), role);
    }

    /// From now on, `code` is a wrong MFA code for every device.
    pub fn reject_code(&self, code: &str) {
        self.state().rejected_codes.insert(code.to_owned());
    }

    /// Moves the clock that issued credentials expire by forward by `secs` seconds (negative
    /// moves it back), as if that much time had passed for them; signing and `Date` keep the
    /// wall clock.
    pub fn advance(&self, secs: i64) {
        self.state().clock_offset += secs;
    }

    /// Sets STS's wall clock `secs` seconds ahead of the machine's (negative: behind), as when
    /// the machine's clock is wrong.
    pub fn set_skew(&self, secs: i64) {
        self.state().wall_skew = secs;
    }

    /// The stand-in's notion of now (whole seconds).
    pub fn now(&self) -> OffsetDateTime {
        now_with_offset(self.state().clock_offset)
    }

    /// Answers the next `n` requests with `status` and the raw `body`, without processing them.
    pub fn fail_next(&self, n: usize, status: u16, body: String) {
        self.state().fail = Some(InjectedFailure { remaining: n, status, body });
    }

    /// Answers the next `n` requests with HTTP 400 `Throttling` "Rate exceeded".
    pub fn throttle_next(&self, n: usize) {
        self.fail_next(n, 400, throttling_xml());
    }

    /// Holds each of the next `n` requests for `ms` milliseconds (at most 60 s) before handling
    /// it. Other requests are served meanwhile.
    pub fn delay_next(&self, n: usize, ms: u64) {
        self.state().delay = Some((n, ms));
    }

    /// How many requests are being held by [`delay_next`](Self::delay_next) right now.
    pub fn delayed_in_flight(&self) -> usize {
        self.state().delayed_in_flight
    }

    /// Every request so far, in the order they were answered.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// How many calls of `action` succeeded (HTTP 200).
    pub fn count(&self, action: &str) -> usize {
        self.state().calls.iter().filter(|c| c.action == action && c.status == 200).count()
    }

    /// How many calls of `action` were made, whatever the outcome.
    pub fn attempts(&self, action: &str) -> usize {
        self.state().calls.iter().filter(|c| c.action == action).count()
    }
}

impl Drop for StrictSts {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.unblock();
            if let Some(acceptor) = self.acceptor.take() {
                let _ = acceptor.join();
            }
            // The last reference: tiny_http flags its own accept thread to stop and wakes it.
            drop(server);
        }
        // That thread owns the listening socket; wait (bounded) until the port is closed, so
        // that a test can rely on "dropped" meaning "connection refused".
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`, the HTTP `Date` format.
fn http_date(t: OffsetDateTime) -> String {
    let format =
        format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    t.format(format).expect("a formattable date")
}

fn now_with_offset(offset: i64) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now + time::Duration::seconds(offset)
}

impl Inner {
    /// Handles one HTTP request on its own thread.
    fn serve(&self, mut request: tiny_http::Request) {
        let mut body = Vec::new();
        if request.as_reader().read_to_end(&mut body).is_err() {
            let _ = request.respond(tiny_http::Response::empty(400));
            return;
        }
        let req = HttpRequest {
            method: request.method().as_str().to_owned(),
            url: request.url().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|h| (h.field.as_str().as_str().to_owned(), h.value.as_str().to_owned()))
                .collect(),
            body,
        };
        let (status, body) = self.handle(&req);
        let content_type = if body.starts_with('<') { "text/xml" } else { "text/plain" };
        let date = http_date(lock(&self.state).wall_now());
        let response = tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(tiny_http::Header::from_bytes("Content-Type", content_type).expect("a valid header"))
            .with_header(tiny_http::Header::from_bytes("Date", date).expect("a valid header"));
        // The client may have given up (e.g. after a delay); nothing to do about that.
        let _ = request.respond(response);
    }

    fn handle(&self, req: &HttpRequest) -> (u16, String) {
        let delay = {
            let mut state = lock(&self.state);
            match state.delay.as_mut() {
                Some((remaining, ms)) if *remaining > 0 => {
                    *remaining -= 1;
                    let ms = *ms;
                    state.delayed_in_flight += 1;
                    Some(Duration::from_millis(ms).min(MAX_INJECTED_DELAY))
                }
                _ => None,
            }
        };
        if let Some(delay) = delay {
            std::thread::sleep(delay);
            lock(&self.state).delayed_in_flight -= 1;
        }

        let params = req.params();
        let mut state = lock(&self.state);
        let mut call = Call {
            action: param(&params, "Action").unwrap_or_default().to_owned(),
            access_key_id: access_key_of(req),
            serial_number: param(&params, "SerialNumber").map(str::to_owned),
            token_code: param(&params, "TokenCode").map(str::to_owned),
            role_arn: param(&params, "RoleArn").map(str::to_owned),
            external_id: param(&params, "ExternalId").map(str::to_owned),
            duration_seconds: param(&params, "DurationSeconds").and_then(|d| d.parse().ok()),
            role_session_name: param(&params, "RoleSessionName").map(str::to_owned),
            status: 200,
            error_code: None,
        };

        if let Some(code) = &call.token_code {
            super::audit::note_code(code);
        }
        if let Some(fail) = state.fail.as_mut().filter(|f| f.remaining > 0) {
            fail.remaining -= 1;
            let (status, body) = (fail.status, fail.body.clone());
            call.status = status;
            call.error_code = xml_text(&body, "Code");
            state.calls.push(call);
            return (status, body);
        }

        let request_id = state.request_id(&self.seed);
        let (status, body) = match state.process(&self.seed, req, &params, &request_id) {
            Ok(body) => (200, body),
            Err(e) => {
                call.error_code = Some(e.code.to_owned());
                (e.status, error_xml(e.code, &e.message, &request_id))
            }
        };
        call.status = status;
        state.calls.push(call);
        (status, body)
    }
}

impl State {
    /// The clock issued credentials expire by.
    fn now(&self) -> OffsetDateTime {
        now_with_offset(self.clock_offset + self.wall_skew)
    }

    /// STS's wall clock: signatures are checked against it and `Date` tells it.
    fn wall_now(&self) -> OffsetDateTime {
        now_with_offset(self.wall_skew)
    }

    fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn request_id(&mut self, seed: &[u8; 32]) -> String {
        let n = self.next_counter();
        let hex = derived_string(seed, &format!("request-{n}"), b"0123456789abcdef", 32);
        format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
    }

    fn process(
        &mut self,
        seed: &[u8; 32],
        req: &HttpRequest,
        params: &[(String, String)],
        request_id: &str,
    ) -> Result<String, StsError> {
        let caller = self.authenticate(req)?;
        let action = param(params, "Action").unwrap_or_default();
        let version = param(params, "Version").unwrap_or("NO_VERSION_SPECIFIED");
        if version != STS_VERSION {
            return Err(StsError::new(
                400,
                "InvalidAction",
                format!("Could not find operation {action} for version {version}"),
            ));
        }
        let result = match action {
            "GetSessionToken" => self.get_session_token(seed, &caller, params)?,
            "AssumeRole" => self.assume_role(seed, &caller, params)?,
            "GetCallerIdentity" => self.get_caller_identity(seed, &caller),
            "" => return Err(StsError::new(400, "MissingAction", "Missing Action")),
            other => {
                return Err(StsError::new(
                    400,
                    "InvalidAction",
                    format!("Could not find operation {other} for version {version}"),
                ));
            }
        };
        Ok(success_xml(action, &result, request_id))
    }

    /// Checks the access key, session token, expiry and SigV4 signature.
    fn authenticate(&self, req: &HttpRequest) -> Result<Caller, StsError> {
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
    fn check_signing_time(&self, req: &HttpRequest) -> Result<(), StsError> {
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

    /// Validates an optional `SerialNumber` + `TokenCode` pair. `Ok(Some(..))` is a valid code,
    /// to be burned if the call succeeds; `Ok(None)` means no MFA was sent.
    fn check_mfa(&self, params: &[(String, String)]) -> Result<Option<(String, String)>, StsError> {
        let serial = param(params, "SerialNumber");
        let code = param(params, "TokenCode");
        if let Some(code) = code {
            if code.len() != 6 {
                return Err(StsError::validation(
                    "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must have length equal to 6",
                ));
            }
            if !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StsError::validation(
                    "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*",
                ));
            }
        }
        match (serial, code) {
            (None, None) => Ok(None),
            (Some(serial), Some(code)) => {
                if !self.mfa_devices.contains(serial) {
                    return Err(StsError::access_denied(MSG_UNKNOWN_MFA_DEVICE));
                }
                let key = (serial.to_owned(), code.to_owned());
                if self.rejected_codes.contains(code) || self.used_codes.contains(&key) {
                    return Err(StsError::access_denied(MSG_INVALID_MFA_CODE));
                }
                Ok(Some(key))
            }
            _ => Err(StsError::access_denied(MSG_INVALID_MFA_CODE)),
        }
    }

    fn issue(&mut self, seed: &[u8; 32], principal: Principal, with_mfa: bool, duration: u32) -> IssuedCredentials {
        let access_key_id = loop {
            let n = self.next_counter();
            let id = format!("ASIA{}", derived_string(seed, &format!("akid-{n}"), UPPER_ALNUM, 16));
            if !self.temporary.contains_key(&id) && !self.users.contains_key(&id) {
                break id;
            }
        };
        let n = self.next_counter();
        let secret = derived_string(seed, &format!("secret-{n}"), BASE64, 40);
        let session_token = format!("IQoJb3JpZ2luX2VjE{}", derived_string(seed, &format!("token-{n}"), BASE64, 600));
        let expires = self.now() + time::Duration::seconds(i64::from(duration));
        self.temporary.insert(
            access_key_id.clone(),
            TempCredential {
                secret: secret.clone(),
                session_token: session_token.clone(),
                principal,
                with_mfa,
                expires,
            },
        );
        IssuedCredentials { access_key_id, secret, session_token, expires }
    }

    fn get_session_token(
        &mut self,
        seed: &[u8; 32],
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<String, StsError> {
        if caller.temporary {
            return Err(StsError::access_denied(MSG_SESSION_CREDENTIALS));
        }
        let duration = duration_param(params, 43200, 129600)?;
        let mfa = self.check_mfa(params)?;
        let with_mfa = mfa.is_some();
        if let Some(key) = mfa {
            self.used_codes.insert(key);
        }
        let issued = self.issue(seed, caller.principal.clone(), with_mfa, duration);
        Ok(credentials_xml(&issued))
    }

    fn assume_role(
        &mut self,
        seed: &[u8; 32],
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<String, StsError> {
        let role_arn = param(params, "RoleArn").ok_or_else(|| {
            StsError::validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
        })?;
        let session_name = param(params, "RoleSessionName").ok_or_else(|| {
            StsError::validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
        })?;
        if !is_valid_session_name(session_name) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
            )));
        }
        let duration = duration_param(params, 3600, 43200)?;
        let role = self.roles.get(role_arn).cloned().ok_or_else(|| StsError::not_authorized(caller, role_arn))?;
        if let Some(expected) = &role.external_id
            && param(params, "ExternalId") != Some(expected.as_str())
        {
            return Err(StsError::not_authorized(caller, role_arn));
        }
        let mfa = self.check_mfa(params)?;
        let with_mfa = caller.with_mfa || mfa.is_some();
        if role.requires_mfa && !with_mfa {
            return Err(StsError::not_authorized(caller, role_arn));
        }
        if caller.temporary && duration > CHAINED_ROLE_MAX_SECONDS {
            return Err(StsError::validation(MSG_ROLE_CHAINING_LIMIT));
        }
        if duration > role.max_session_duration {
            return Err(StsError::validation(MSG_ROLE_MAX_DURATION));
        }
        if let Some(key) = mfa {
            self.used_codes.insert(key);
        }
        let role_id = format!("AROA{}", derived_string(seed, &format!("role-{role_arn}"), UPPER_ALNUM, 17));
        let principal = Principal::AssumedRole {
            role_arn: role_arn.to_owned(),
            role_id: role_id.clone(),
            session_name: session_name.to_owned(),
        };
        let assumed_arn = principal.arn();
        let issued = self.issue(seed, principal, with_mfa, duration);
        Ok(format!(
            "{}    <AssumedRoleUser>\n      <AssumedRoleId>{}:{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n",
            credentials_xml(&issued),
            role_id,
            xml_escape(session_name),
            xml_escape(&assumed_arn)
        ))
    }

    fn get_caller_identity(&self, seed: &[u8; 32], caller: &Caller) -> String {
        let user_id = match &caller.principal {
            Principal::User { arn } => format!("AIDA{}", derived_string(seed, &format!("user-{arn}"), UPPER_ALNUM, 17)),
            Principal::AssumedRole { role_id, session_name, .. } => format!("{role_id}:{session_name}"),
        };
        format!(
            "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
            xml_escape(&caller.principal.arn()),
            xml_escape(&user_id),
            caller.principal.account()
        )
    }
}

/// `DurationSeconds`: `default` when absent, else an integer in `900..=max`.
fn duration_param(params: &[(String, String)], default: u32, max: u32) -> Result<u32, StsError> {
    let Some(raw) = param(params, "DurationSeconds") else {
        return Ok(default);
    };
    let value: i64 = raw.parse().map_err(|_| {
        StsError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be an integer"
        ))
    })?;
    if value < 900 {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    if value > i64::from(max) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(u32::try_from(value).expect("checked range"))
}

// ---------------------------------------------------------------------------------------------
// A small SigV4 client for tests.
// ---------------------------------------------------------------------------------------------

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

/// The unescaped text of the first `<tag>...</tag>` in `xml` (no attributes on that tag).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    let raw = &xml[start..start + len];
    Some(quick_xml::escape::unescape(raw).map(|s| s.into_owned()).unwrap_or_else(|_| raw.to_owned()))
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
