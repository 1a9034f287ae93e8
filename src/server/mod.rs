//! The local container-credentials endpoint of `rolegate exec --server`.
//!
//! Wire contract (what the AWS SDKs' container provider speaks):
//! - the child gets `AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:<port>/credentials` and
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN=<64 hex chars>` (32 random bytes); the fixed-key variables
//!   are removed so the SDKs reach the endpoint;
//! - request: `GET /credentials` with `Authorization: <token>` verbatim and `Host:
//!   127.0.0.1:<port>` (or `localhost:<port>`); the token is compared in constant time;
//! - `200 {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"?}`;
//! - refusals: `400/401/403/404/405/408/413/431 {"code", "message"}`; `503` while no valid
//!   credentials exist; every answer closes its connection.
//!
//! The bytes are read by [`request`] (the head, within limits, never a body) and served by
//! [`listener`] (bounded connections, deadlines, accept errors retried); docs/SECURITY.md has
//! the threat model.
//!
//! SDK clients wait 2 to 5 s at most, so a request never waits on a human: the code is asked
//! before the child starts, and a background thread ([`renewal`]) renews the role credentials
//! from the cached MFA session `margin` before they expire (20 min by default, ahead of
//! botocore's 15-minute refresh; for a short role, less: see [`renewal`]), at most once a
//! minute. If renewal needs a new code, the endpoint keeps serving the old credentials while
//! they last, says so once on stderr, and retries, waiting longer after each failure.
//!
//! rolegate stays the parent: it forwards SIGINT, SIGTERM and SIGHUP to the child (except a
//! signal the terminal already delivered to the child's process group: Terraform treats a second
//! SIGINT as "abort now") and exits with the child's status, 128 + signal if it was killed.

pub mod handler;
pub mod listener;
pub mod renewal;
pub mod request;

use std::ffi::OsString;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::credentials::Credentials;
use crate::env_vars;
use crate::exec::{ChildEnv, ExecError};
use crate::output::env::UNSET;
use crate::platform::{self, SignalForwarder};
use crate::provider::Renew;

/// The program the endpoint serves.
pub struct Child<'a> {
    pub command: &'a [OsString],
    /// Its environment before the endpoint's variables are added.
    pub env: ChildEnv,
    pub profile: &'a str,
    pub region: &'a str,
}

/// The path the endpoint serves.
pub const PATH: &str = "/credentials";
/// Renew this long before the credentials expire.
pub const DEFAULT_REFRESH_MARGIN_SECONDS: u64 = 20 * 60;

/// What the endpoint hands out now.
pub type Current = Arc<Mutex<Result<Credentials, String>>>;

/// Starts the endpoint, its renewal and the child; returns the child's exit status.
pub fn run(child: Child<'_>, credentials: Credentials, renewer: impl Renew, margin: u64) -> Result<u8, ExecError> {
    let Child { command, mut env, profile, region } = child;
    let token = random_token().map_err(|e| ExecError::Spawn { program: "getrandom".into(), source: e })?;
    let endpoint_error = |source| ExecError::Spawn { program: "the local endpoint".into(), source };
    let socket = listener::bind().map_err(endpoint_error)?;
    let port = socket.local_addr().map_err(endpoint_error)?.port();
    let current: Current = Arc::new(Mutex::new(Ok(credentials)));

    // Serve.
    let hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    listener::spawn(socket, listener::Limits::for_this_process(), responder(current.clone(), token.clone(), hosts))
        .map_err(endpoint_error)?;

    // Renew.
    {
        let current = current.clone();
        std::thread::spawn(move || renewal::run(renewer, &current, margin));
    }

    // The child: the endpoint instead of fixed keys.
    for name in [
        env_vars::AWS_ACCESS_KEY_ID,
        env_vars::AWS_SECRET_ACCESS_KEY,
        env_vars::AWS_SESSION_TOKEN,
        env_vars::AWS_CREDENTIAL_EXPIRATION,
        env_vars::AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
        env_vars::AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
    ]
    .iter()
    .chain(UNSET)
    {
        env.remove(name);
    }
    env.set(env_vars::AWS_CONTAINER_CREDENTIALS_FULL_URI, format!("http://127.0.0.1:{port}{PATH}"));
    env.set(env_vars::AWS_CONTAINER_AUTHORIZATION_TOKEN, token);
    env.set(env_vars::AWS_REGION, region);
    env.set(env_vars::AWS_DEFAULT_REGION, region);
    env.set(env_vars::ROLEGATE_PROFILE, profile);

    let (program, rest) = command.split_first().expect("a command or the shell");
    let spawn_error = |source| ExecError::Spawn { program: program.to_string_lossy().into_owned(), source };
    let signals =
        SignalForwarder::install().map_err(|e| ExecError::Spawn { program: "signal handlers".into(), source: e })?;
    let mut child = Command::new(program).args(rest).env_clear().envs(env.into_vars()).spawn().map_err(spawn_error)?;
    let forwarder = signals.forward_to(&child);
    let status = child.wait().map_err(spawn_error)?;
    drop(forwarder);
    Ok(platform::status_code(status))
}

/// The handler over the current credentials, as the listener calls it.
fn responder(current: Current, token: String, hosts: Vec<String>) -> Box<listener::Respond> {
    Box::new(move |req: &handler::Request<'_>| {
        let response = {
            let guard = current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let expect = handler::Expect { path: PATH, token: &token, hosts: &hosts };
            handler::handle(req, &expect, guard.as_ref().map_err(String::as_str))
        };
        tracing::debug!(method = req.method, path = req.path, status = response.status, "request");
        response
    })
}

/// 32 random bytes as 64 hex characters.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let token = crate::cache::key::hex(&bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(token)
}
