//! The local container-credentials endpoint of `rolegate exec --server`.
//!
//! Wire contract (what the AWS SDKs' container provider speaks):
//! - the child gets `AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:<port>/credentials` and
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN=<64 hex chars>` (32 random bytes); the fixed-key variables
//!   are removed so the SDKs reach the endpoint;
//! - request: `GET /credentials` with `Authorization: <token>` verbatim and `Host:
//!   127.0.0.1:<port>` (or `localhost:<port>`); the token is compared in constant time;
//! - `200 {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"?}`;
//! - refusals: `401/403/404/405/413 {"code", "message"}`; `503` while no valid credentials exist.
//!
//! SDK clients wait 2 to 5 s at most, so a request never waits on a human: the code is asked
//! before the child starts, and a background thread renews the role credentials from the cached
//! MFA session `margin` before they expire (20 min by default, ahead of botocore's 15-minute
//! refresh). If renewal needs a new code, the endpoint keeps serving the old credentials while
//! they last, says so once on stderr, and retries.
//!
//! rolegate stays the parent: it forwards SIGINT, SIGTERM and SIGHUP to the child (except a
//! signal the terminal already delivered to the child's process group: Terraform treats a second
//! SIGINT as "abort now") and exits with the child's status, 128 + signal if it was killed.

pub mod handler;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use crate::cache::Cache;
use crate::cli::{Cli, ExecArgs};
use crate::commands;
use crate::config::{ConfigPaths, Profiles};
use crate::context::Context;
use crate::credentials::Credentials;
use crate::diag;
use crate::env_vars;
use crate::error::Error;
use crate::exec::ExecError;
use crate::mfa::NoPrompt;
use crate::output::env::UNSET;
use crate::plan::Plan;
use crate::provider;

/// The path the endpoint serves.
pub const PATH: &str = "/credentials";
/// Renew this long before the credentials expire.
pub const DEFAULT_REFRESH_MARGIN_SECONDS: u64 = 20 * 60;

/// What the endpoint hands out now.
type Current = Arc<Mutex<Result<Credentials, String>>>;

/// Starts the endpoint and the child; returns the child's exit status.
pub fn exec_with_server(
    ctx: &Context,
    cli: &Cli,
    args: &ExecArgs,
    plan: &Plan,
    credentials: Credentials,
    mut env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
) -> Result<u8, Error> {
    let token = random_token().map_err(|e| ExecError::Spawn { program: "getrandom".into(), source: e })?;
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| ExecError::Spawn { program: "the local endpoint".into(), source: std::io::Error::other(e) })?;
    let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or_default();
    let server = Arc::new(server);
    let current: Current = Arc::new(Mutex::new(Ok(credentials)));

    // Serve.
    let hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    for _ in 0..2 {
        let (server, current, token, hosts) = (server.clone(), current.clone(), token.clone(), hosts.clone());
        std::thread::spawn(move || serve(&server, &current, &token, &hosts));
    }

    // Renew.
    let margin = args.refresh_margin.unwrap_or(DEFAULT_REFRESH_MARGIN_SECONDS);
    {
        let (ctx, plan, current) = (ctx.clone(), plan.clone(), current.clone());
        let cache_dir = commands::cache_dir(&ctx, cli)?;
        let paths = ConfigPaths::locate(&ctx)?;
        let profiles = Profiles::load(&paths)?;
        let prompt_timeout = args.session.with_env(&ctx.env).prompt_timeout_seconds();
        std::thread::spawn(move || {
            renew(&ctx, &plan, &Cache::new(cache_dir), &profiles, &current, margin, prompt_timeout)
        });
    }

    // The child: the endpoint instead of fixed keys.
    let remove = [
        env_vars::AWS_ACCESS_KEY_ID,
        env_vars::AWS_SECRET_ACCESS_KEY,
        env_vars::AWS_SESSION_TOKEN,
        env_vars::AWS_CREDENTIAL_EXPIRATION,
        env_vars::AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
        env_vars::AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
        env_vars::AWS_CONTAINER_CREDENTIALS_FULL_URI,
        env_vars::AWS_CONTAINER_AUTHORIZATION_TOKEN,
        env_vars::AWS_REGION,
        env_vars::AWS_DEFAULT_REGION,
        env_vars::ROLEGATE_PROFILE,
    ];
    env.retain(|(k, _)| !remove.iter().chain(UNSET).any(|r| k == r));
    env.push((env_vars::AWS_CONTAINER_CREDENTIALS_FULL_URI.into(), format!("http://127.0.0.1:{port}{PATH}").into()));
    env.push((env_vars::AWS_CONTAINER_AUTHORIZATION_TOKEN.into(), token.into()));
    env.push((env_vars::AWS_REGION.into(), plan.region.clone().into()));
    env.push((env_vars::AWS_DEFAULT_REGION.into(), plan.region.clone().into()));
    env.push((env_vars::ROLEGATE_PROFILE.into(), args.profile.clone().into()));

    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| ExecError::Spawn { program: "signal handlers".into(), source: e })?;
    let mut child = Command::new(program)
        .args(rest)
        .env_clear()
        .envs(env)
        .spawn()
        .map_err(|source| ExecError::Spawn { program: program.to_string_lossy().into_owned(), source })?;
    let child_pid = rustix::process::Pid::from_child(&child);
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            // The terminal sends SIGINT/SIGHUP to the whole foreground process group, child
            // included; forwarding it again would be a second signal.
            let from_terminal = origin.cause == Cause::Kernel;
            if from_terminal && origin.signal != SIGTERM {
                continue;
            }
            if let Some(sig) = rustix::process::Signal::from_named_raw(origin.signal) {
                let _ = rustix::process::kill_process(child_pid, sig);
            }
        }
    });
    let status =
        child.wait().map_err(|source| ExecError::Spawn { program: program.to_string_lossy().into_owned(), source })?;
    handle.close();
    let _ = forwarder.join();
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(255),
        (None, None) => 1,
    })
}

fn serve(server: &tiny_http::Server, current: &Current, token: &str, hosts: &[String]) {
    for request in server.incoming_requests() {
        let header = |name: &str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_string())
        };
        let (host, authorization) = (header("Host"), header("Authorization"));
        let method = request.method().as_str().to_string();
        let url = request.url().to_string();
        let path = url.split('?').next().unwrap_or("");
        let response = {
            let guard = current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let req = handler::Request {
                method: &method,
                path,
                host: host.as_deref(),
                authorization: authorization.as_deref(),
                content_length: request.body_length().map(|n| n as u64),
            };
            let expect = handler::Expect { path: PATH, token, hosts };
            handler::handle(&req, &expect, guard.as_ref().map_err(String::as_str))
        };
        tracing::debug!(%method, path, status = response.status, "request");
        let content_type = tiny_http::Header::from_bytes("Content-Type", "application/json").expect("static header");
        let mut body = response.body;
        let reply =
            tiny_http::Response::from_string(body.clone()).with_status_code(response.status).with_header(content_type);
        zeroize::Zeroize::zeroize(&mut body);
        let _ = request.respond(reply);
    }
}

/// Renews the credentials `margin` before they expire, forever (the process ends with the child).
fn renew(
    ctx: &Context,
    plan: &Plan,
    cache: &Cache,
    profiles: &Profiles,
    current: &Current,
    margin: u64,
    prompt_timeout: u64,
) {
    let margin = i64::try_from(margin).unwrap_or(i64::MAX);
    let mut warned = false;
    loop {
        let expiration = match &*current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Ok(c) => Some(c.expiration),
            Err(_) => None,
        };
        let wait = match expiration {
            Some(exp) => (exp - ctx.now()).whole_seconds() - margin,
            None => 0,
        };
        if wait > 0 {
            std::thread::sleep(Duration::from_secs(wait.unsigned_abs()));
        }
        let file_of =
            |p: &str| profiles.origin(p).map_or_else(|| profiles.describe_files(), |f| f.display().to_string());
        let mut no_prompt = NoPrompt;
        let mut opts = provider::Options {
            code_source: &mut no_prompt,
            refresh: false,
            deadline: Instant::now() + Duration::from_secs(60),
            prompt_timeout_seconds: prompt_timeout,
            min_remaining_seconds: margin.max(60),
            file_of: &file_of,
        };
        let _span = tracing::debug_span!("renew").entered();
        match provider::credentials(ctx, plan, cache, &mut opts) {
            Ok(c) => {
                tracing::debug!(expiration = %c.expiration, "renewed");
                *current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Ok(c);
                warned = false;
            }
            Err(e) => {
                let message = crate::error::chain_message(&e);
                if !warned {
                    diag::warn(&format!("cannot renew the credentials of the local endpoint: {message}"));
                    if let Some(hint) = e.hint() {
                        diag::notice(&format!("hint: {hint}"));
                    }
                    warned = true;
                }
                let mut guard = current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let expired = guard.as_ref().is_ok_and(|c| c.seconds_left(ctx.now()) <= 0);
                if expired {
                    *guard = Err(message);
                }
                drop(guard);
                std::thread::sleep(Duration::from_secs(30));
            }
        }
    }
}

/// 32 random bytes as 64 hex characters.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
