//! A strict, in-process stand-in for AWS STS on loopback.
//!
//! moto accepts any MFA code and (unless told otherwise) any signature, so tests that are
//! about MFA and credential handling need something stricter. [`StrictSts`] is a small
//! tiny_http server on `127.0.0.1:<ephemeral>` that speaks the STS Query API
//! (`POST /` with a form body `Action=...&Version=2011-06-15&...`) the way real STS does
//! for the three actions a credential helper needs.
//!
//! This module owns the public API the tests use (starting the server, registering users,
//! devices and roles, moving the clocks, injecting faults, reading the record of calls) and
//! the server loop: one thread per request, each answer with STS's `Content-Type` and a `Date`
//! header by STS's wall clock. The rest is split by concern:
//!
//! - [`sigv4`]: SigV4 header authentication, verified for real with aws-sigv4 (generically
//!   from the request's `SignedHeaders`, so botocore, the Go SDK and the Rust SDK all pass);
//!   long-term user keys (`AKIA...`) and the temporary keys it issued (`ASIA...`, which must
//!   carry their `X-Amz-Security-Token`); expiry of temporary credentials; requests signed more
//!   than 15 minutes away from STS's clock refused with real STS's `SignatureDoesNotMatch`
//!   "Signature expired" / "Signature not yet current" messages.
//! - [`actions`]: `GetSessionToken` (optionally with MFA), `AssumeRole` (MFA-protected roles,
//!   external IDs, `MaxSessionDuration`, the one-hour role-chaining cap) and
//!   `GetCallerIdentity`, with STS's validation errors.
//! - [`state`]: users, MFA devices, single-use TOTP codes (exactly six digits, for a
//!   registered device serial, single-use per serial; a test can declare codes wrong with
//!   [`StrictSts::reject_code`]), issued sessions and whether they were made with MFA, roles,
//!   the clock credentials expire by ([`StrictSts::advance`]) and STS's wall clock
//!   ([`StrictSts::set_skew`]).
//! - [`xml`]: the XML response shapes, error codes, HTTP statuses and messages.
//! - [`client`]: a small SigV4 client ([`sign_and_post`] and friends) for tests.
//!
//! Fault injection ([`StrictSts::fail_next`], [`StrictSts::delay_next`]) and a record of every
//! request ([`StrictSts::calls`]) live here.
//!
//! What it does not emulate: IAM policies (any known user may assume any registered role,
//! subject only to the role's MFA and external-ID conditions), MFA devices being bound to a
//! particular user, presigned (query-string) SigV4, SigV4a, the `Date` header instead of
//! `X-Amz-Date`, session policies, tags, source identity, and every other
//! STS action (they answer `InvalidAction`).

mod actions;
mod client;
mod sigv4;
mod state;
mod xml;

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::macros::format_description;

pub use client::{
    StsCredentials, StsResponse, form_body, post_raw, sign_and_post, sign_and_post_service, sign_headers,
};
pub use state::RoleSpec;
pub use xml::{
    MSG_EXPIRED_TOKEN, MSG_INVALID_MFA_CODE, MSG_ROLE_CHAINING_LIMIT, MSG_ROLE_MAX_DURATION, MSG_SESSION_CREDENTIALS,
    MSG_UNKNOWN_MFA_DEVICE, error_xml, throttling_xml, xml_text,
};
// Part of the API like the others, though no test compares against them yet.
#[allow(unused_imports)]
pub use xml::{MSG_INVALID_TOKEN_ID, MSG_SIGNATURE_MISMATCH};

use sigv4::{access_key_of, signing_region_of};
use state::{InjectedFailure, State, User, lock, new_seed, now_with_offset};

/// The XML namespace of every STS response.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The only STS API version.
pub const STS_VERSION: &str = "2011-06-15";

/// An upper bound on one injected delay, so a test cannot hang a handler for long.
const MAX_INJECTED_DELAY: Duration = Duration::from_secs(60);

/// One request as the stand-in saw it (recorded whether it succeeded or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The `Action` parameter (empty if missing).
    pub action: String,
    /// The access key from the `Authorization` header's credential scope (empty if none).
    pub access_key_id: String,
    /// The region of that credential scope (empty if none): the region the client signed for.
    pub signing_region: String,
    pub serial_number: Option<String>,
    pub token_code: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// `DurationSeconds`, if sent and a valid `u32`.
    pub duration_seconds: Option<u32>,
    pub role_session_name: Option<String>,
    pub source_identity: Option<String>,
    /// `Tags.member.N.Key` / `.Value`, by N.
    pub session_tags: Vec<(String, String)>,
    /// `TransitiveTagKeys.member.N`, by N.
    pub transitive_tag_keys: Vec<String>,
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

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    /// How many connection-opening `GET /` requests came (never in [`calls`](Self::calls)).
    pub fn probes(&self) -> usize {
        self.state().probes
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
        // An unsigned `GET /` without an action: a client opening its connection before it has
        // a request to send. Not a call; answered as a Query API answers a missing action (any
        // answer would do for rolegate, which only needs the connection).
        if req.method == "GET" && !req.params().iter().any(|(k, _)| k == "Action") {
            lock(&self.state).probes += 1;
            return (
                400,
                "<ErrorResponse><Error><Type>Sender</Type><Code>MissingAction</Code><Message>Missing Action</Message></Error><RequestId>probe</RequestId></ErrorResponse>".into(),
            );
        }
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
            signing_region: signing_region_of(req),
            serial_number: param(&params, "SerialNumber").map(str::to_owned),
            token_code: param(&params, "TokenCode").map(str::to_owned),
            role_arn: param(&params, "RoleArn").map(str::to_owned),
            external_id: param(&params, "ExternalId").map(str::to_owned),
            duration_seconds: param(&params, "DurationSeconds").and_then(|d| d.parse().ok()),
            role_session_name: param(&params, "RoleSessionName").map(str::to_owned),
            source_identity: param(&params, "SourceIdentity").map(str::to_owned),
            session_tags: actions::session_tags(&params).unwrap_or_default(),
            transitive_tag_keys: actions::transitive_tag_keys(&params).unwrap_or_default(),
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
