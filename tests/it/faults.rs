//! The fault matrix: the real `rolegate` binary against a misbehaving STS (used codes, refused
//! roles, sessions expired at STS, 5xx, closed ports, TLS failures, bodies that are not XML, a
//! slow server), a damaged cache (truncated, empty, loose-mode, foreign-owned, full, from another
//! version), a hostile clock, 64 concurrent cold calls, and a data-driven set of malformed or
//! hostile configuration files.
//!
//! Every case asserts the exit code, the message (with the profile and the file where there is
//! one), the `hint:` line, and that nothing was lost or left behind: no `.tmp-*` file in the
//! cache directory, no partial entry, earlier good entries intact.
//!
//! ## The hostile configuration files
//!
//! `tests/data/hostile/NAME.ini` is a `~/.aws/config`; `NAME.credentials`, if present, is the
//! `~/.aws/credentials` beside it (else the seed's `[base]` keys are). `NAME.expect` says what
//! `rolegate credential-process PROFILE --mfa-token 123456` (no terminal, against the strict STS
//! stand-in with the seed's user, device and role) must do, one `key = value` a line:
//!
//! - `profile = NAME`: the profile asked for (default `target`);
//! - `exit = N`: the exit status (0: the SDKs accept the input, and so must rolegate);
//! - `stderr = TEXT`: a substring of stderr (repeatable); `{config}` and `{credentials}` stand
//!   for the two files' paths;
//! - `absent = TEXT`: a text stderr must not have (repeatable);
//! - `locate = config|credentials LINE`: a parse error must point at that file and line: some
//!   stderr line names `line LINE` and that file, and not the other file;
//! - `bug = TEXT`: a known bug: the main test then checks only what holds of every file (below)
//!   and the exit status; the `stderr`, `absent` and `locate` lines are checked by the
//!   `#[ignore]`d test.
//!
//! Every case must also finish within 10 s, never panic (exit 101), print nothing on stdout when
//! it fails, end a failure with a `rolegate: hint:` line, and never show the secret key.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::cache::*;
use crate::common::env::*;
use crate::common::net::{CannedServer, closed_port_url};
use crate::common::pty::{count, spawn_script};
use crate::common::run::*;
use crate::common::skip::skip;
use crate::common::strict_sts::{StrictSts, error_xml};
const HINT_BAD_RESPONSE: &str = "rolegate: hint: the endpoint is probably not STS: check AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL and the profile's endpoint_url\n";
const HINT_TRANSPORT: &str = "rolegate: hint: check the network, the proxy variables (HTTPS_PROXY, NO_PROXY) and the endpoint (AWS_ENDPOINT_URL_STS, the profile's region)\n";

// ---------------------------------------------------------------------------------------------
// Common steps
// ---------------------------------------------------------------------------------------------

/// A cold call of the seed's `target` with `code`: an MFA session and a role entry.
fn cold(env: &TestEnv, code: &str) -> ProcessJson {
    no_tty(env, &["credential-process", "target", "--mfa-token", code]).assert_ok_silent()
}

/// The seed's STS and files after a cold call of `target` with the code 123456, and what it
/// handed out.
fn warm() -> (StrictSts, TestEnv, ProcessJson) {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let first = cold(&env, "123456");
    (sts, env, first)
}

/// The seed's `target` after a cold call, with its role entry damaged by `damage`, called
/// again without a code.
struct Damaged {
    env: TestEnv,
    sts: StrictSts,
    /// What the cold call handed out.
    first: ProcessJson,
    role: PathBuf,
    session: PathBuf,
    /// The MFA session entry's bytes before the second call.
    session_bytes: Vec<u8>,
    run: Run,
}

fn call_with_damaged_role_entry(damage: impl FnOnce(&Path)) -> Damaged {
    let (sts, env, first) = warm();
    let role = entry(&env, "role-");
    let session = entry(&env, "mfa-");
    let session_bytes = std::fs::read(&session).unwrap();
    damage(&role);
    let run = no_tty(&env, &["credential-process", "target"]);
    Damaged { env, sts, first, role, session, session_bytes, run }
}

/// The status of every call of `action`, in order.
fn statuses(sts: &StrictSts, action: &str) -> Vec<u16> {
    sts.calls().into_iter().filter(|c| c.action == action).map(|c| c.status).collect()
}

// ---------------------------------------------------------------------------------------------
// STS faults
// ---------------------------------------------------------------------------------------------

#[test]
fn a_code_already_used_asks_for_the_next_one_on_the_terminal() {
    let (sts, env, first) = warm();
    let session_before = access_key_of(&entry(&env, "mfa-"));
    // A new session is forced and the code already spent is typed again (two terminals racing
    // for one code, or a user typing the code still on the screen): STS refuses it as it refuses
    // a wrong one, so rolegate must ask for the next code, not fail and not re-send it.
    let mut p = spawn_script(
        &env,
        "\"$ROLEGATE\" credential-process target --refresh-mfa > out.json 2> err.txt; echo \"exit=$?\"",
    );
    p.exp_string(&format!("Enter MFA code for {MFA_SERIAL}: ")).unwrap();
    p.send_line("123456").unwrap();
    p.exp_string("rolegate: that code was not accepted; wait for the next one.").unwrap();
    p.exp_string(&format!("Enter MFA code for {MFA_SERIAL}: ")).unwrap();
    p.send_line("654321").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("exit=0"), "{rest}");
    let json = parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    assert_ne!(json.access_key_id, first.access_key_id);
    assert_eq!(std::fs::read_to_string(env.path("err.txt")).unwrap(), "");

    let gst: Vec<_> = sts.calls().into_iter().filter(|c| c.action == "GetSessionToken").collect();
    let sent: Vec<_> = gst.iter().map(|c| (c.token_code.clone().unwrap(), c.status)).collect();
    assert_eq!(sent, [("123456".into(), 200), ("123456".into(), 403), ("654321".into(), 200)]);
    assert_eq!(gst[1].error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(sts.count("AssumeRole"), 2);
    assert_ne!(access_key_of(&entry(&env, "mfa-")), session_before, "the new session is cached");
    assert_eq!(access_key_of(&entry(&env, "role-")), json.access_key_id);
    assert_cache_clean(&env);
}

#[test]
fn an_external_id_the_role_refuses_is_access_denied_and_the_mfa_session_is_kept() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_config(&SEED_CONFIG.replace("external_id = 123456789069", "external_id = not-the-agreed-id"));
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "918273"]);
    let err = run.assert_failed(EXIT_AUTH);
    assert_eq!(
        err,
        format!(
            "rolegate: error: profile `target` ({}): AssumeRole: access denied: User: {USER_ARN} is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN}\n\
             rolegate: hint: check the role's trust policy (the principal, aws:MultiFactorAuthPresent, the external id) and your user's sts:AssumeRole permission\n",
            env.config_path().display()
        )
    );
    assert!(!err.contains("918273"), "{err}");
    // The code was spent on a good MFA session: it is cached, so fixing the external id needs no
    // new code.
    let session = entry(&env, "mfa-");
    assert_eq!(entries(&env), std::slice::from_ref(&session), "no role entry for a refused role");
    assert_cache_clean(&env);

    env.write_config(SEED_CONFIG);
    no_tty(&env, &["credential-process", "target"]).assert_ok_silent();
    assert_eq!(sts.count("GetSessionToken"), 1);
    let ids: Vec<_> = sts.calls().into_iter().filter(|c| c.action == "AssumeRole").map(|c| c.external_id).collect();
    assert_eq!(ids, [Some("not-the-agreed-id".to_string()), Some(EXTERNAL_ID.to_string())]);
    assert_cache_clean(&env);
}

#[test]
fn an_mfa_session_expired_at_sts_but_not_in_the_cache_asks_for_a_new_code() {
    let (sts, env, _) = warm();
    let old_session = access_key_of(&entry(&env, "mfa-"));
    // The role entry is gone, so AssumeRole must use the cached session; STS's clock is past the
    // session's end while the cache still thinks it has hours left.
    std::fs::remove_file(entry(&env, "role-")).unwrap();
    sts.advance(12 * 3600 + 60);

    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target > out.json 2> err.txt; echo \"exit=$?\"");
    p.exp_string(&format!("Enter MFA code for {MFA_SERIAL}: ")).unwrap();
    p.send_line("654321").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("exit=0"), "{rest}");
    assert_eq!(count(&rest, "Enter MFA code"), 0, "one prompt only: {rest}");
    let json = parse_process_json(&std::fs::read(env.path("out.json")).unwrap());
    assert_eq!(
        std::fs::read_to_string(env.path("err.txt")).unwrap(),
        "rolegate: the cached MFA session is no longer valid; starting a new one\n"
    );

    assert_eq!(sts.count("GetSessionToken"), 2);
    let ars: Vec<_> = sts.calls().into_iter().filter(|c| c.action == "AssumeRole").collect();
    assert_eq!(ars.iter().map(|c| c.status).collect::<Vec<_>>(), [200, 403, 200]);
    assert_eq!(ars[1].error_code.as_deref(), Some("ExpiredToken"));
    assert_eq!(ars[1].access_key_id, old_session, "the expired session was tried once");
    let new_session = access_key_of(&entry(&env, "mfa-"));
    assert_ne!(new_session, old_session, "the new session replaced the dead one in the cache");
    assert_eq!(ars[2].access_key_id, new_session);
    assert_eq!(access_key_of(&entry(&env, "role-")), json.access_key_id);
    assert_cache_clean(&env);
}

#[test]
fn a_5xx_on_assume_role_without_a_code_is_retried() {
    let (sts, env, _) = warm();
    let session = access_key_of(&entry(&env, "mfa-"));

    // 500 with an STS ErrorResponse, once.
    std::fs::remove_file(entry(&env, "role-")).unwrap();
    sts.fail_next(1, 500, error_xml("InternalFailure", "An internal error occurred.", "r-500"));
    let a = no_tty(&env, &["credential-process", "target"]).assert_ok_silent();
    // 503 with a load balancer's plain-text body, twice: the third attempt is the last.
    std::fs::remove_file(entry(&env, "role-")).unwrap();
    sts.fail_next(2, 503, "Service Unavailable".into());
    let b = no_tty(&env, &["credential-process", "target"]).assert_ok_silent();

    assert_ne!(a.access_key_id, b.access_key_id);
    assert_eq!(statuses(&sts, "AssumeRole"), [200, 500, 200, 503, 503, 200]);
    assert_eq!(sts.count("GetSessionToken"), 1, "no new code for a server error");
    assert_eq!(access_key_of(&entry(&env, "mfa-")), session);
    assert_eq!(access_key_of(&entry(&env, "role-")), b.access_key_id);
    assert_cache_clean(&env);
}

#[test]
fn a_5xx_on_assume_role_three_times_fails_with_exit_5() {
    let sts = seed_sts();
    let env = TestEnv::seed_with_plain(&sts);
    sts.fail_next(3, 503, error_xml("ServiceUnavailable", "Service is unavailable.", "r-503"));
    let run = no_tty(&env, &["credential-process", "plain"]);
    let err = run.assert_failed(EXIT_STS);
    assert!(
        err.starts_with(&format!(
            "rolegate: error: profile `plain` ({}): AssumeRole: STS error ServiceUnavailable (HTTP 503): Service is unavailable.\n",
            env.config_path().display()
        )),
        "{err}"
    );
    assert_eq!(statuses(&sts, "AssumeRole"), [503, 503, 503]);
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    assert_cache_clean(&env);
}

#[test]
fn a_5xx_on_get_session_token_with_a_code_is_not_retried() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let config = env.config_path().display().to_string();

    sts.fail_next(1, 500, error_xml("InternalFailure", "An internal error occurred.", "r-500"));
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "918273"]);
    let err = run.assert_failed(EXIT_STS);
    assert!(
        err.starts_with(&format!(
            "rolegate: error: profile `base` ({config}): GetSessionToken: STS error InternalFailure (HTTP 500): An internal error occurred.\n"
        )),
        "{err}"
    );
    assert!(!err.contains("918273"), "{err}");

    sts.fail_next(1, 503, "<html><body>503 Service Temporarily Unavailable</body></html>".into());
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "234567"]);
    let err = run.assert_failed(EXIT_STS);
    assert!(
        err.starts_with(&format!(
            "rolegate: error: profile `base` ({config}): GetSessionToken: STS at {} answered HTTP 503 with a body that is not an STS response: ",
            sts.url()
        )),
        "{err}"
    );
    assert!(err.lines().last().is_some_and(|l| l.starts_with("rolegate: hint: ")), "{err}");

    // One attempt per code: a code that may have reached STS is never sent again.
    let codes: Vec<_> =
        sts.calls().into_iter().filter(|c| c.action == "GetSessionToken").map(|c| c.token_code.unwrap()).collect();
    assert_eq!(codes, ["918273", "234567"]);
    assert_eq!(sts.attempts("AssumeRole"), 0);
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    assert_cache_clean(&env);
}

#[test]
fn a_5xx_error_ends_with_a_hint() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    sts.fail_next(1, 500, error_xml("InternalFailure", "An internal error occurred.", "r-500"));
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.assert_failed(EXIT_STS);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("rolegate: hint: "), "every error ends with a hint: {err}");
}

#[test]
fn a_closed_port_is_reported_with_its_url_at_once() {
    let sts = seed_sts();
    let mut env = TestEnv::seed_with_plain(&sts);
    let url = closed_port_url();
    env.set("AWS_ENDPOINT_URL", &url);
    let config = env.config_path().display().to_string();

    // With a code: one attempt.
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.assert_failed(EXIT_STS);
    let expected = format!("rolegate: error: profile `base` ({config}): GetSessionToken: cannot reach STS at {url}: ");
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.ends_with(HINT_TRANSPORT), "{err}");
    assert!(run.took < Duration::from_secs(5), "{:?}", run.took);

    // Without a code: retried, still quick, same message.
    let run = no_tty(&env, &["credential-process", "plain"]);
    let err = run.assert_failed(EXIT_STS);
    let expected = format!("rolegate: error: profile `plain` ({config}): AssumeRole: cannot reach STS at {url}: ");
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.ends_with(HINT_TRANSPORT), "{err}");
    assert!(run.took < Duration::from_secs(5), "{:?}", run.took);
    assert!(entries(&env).is_empty());
    assert_cache_clean(&env);
}

#[test]
fn tls_to_a_server_that_speaks_plain_http_fails_fast_and_clearly() {
    let sts = seed_sts();
    let mut env = TestEnv::seed_with_plain(&sts);
    // Plain HTTP, whatever it is sent (a TLS client hello, here).
    let listener =
        CannedServer::start(|| b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec());
    let url = format!("https://127.0.0.1:{}", listener.port);
    env.set("AWS_ENDPOINT_URL", &url);
    for (profile, args, action) in [
        ("base", &["credential-process", "target", "--mfa-token", "123456"][..], "GetSessionToken"),
        ("plain", &["credential-process", "plain"][..], "AssumeRole"),
    ] {
        let run = no_tty(&env, args);
        let err = run.assert_failed(EXIT_STS);
        let expected = format!(
            "rolegate: error: profile `{profile}` ({}): {action}: cannot reach STS at {url}: ",
            env.config_path().display()
        );
        assert!(err.starts_with(&expected), "{err}");
        assert!(err.ends_with(HINT_TRANSPORT), "{err}");
        assert!(run.took < Duration::from_secs(5), "no hang: {:?}", run.took);
    }
    assert_eq!(sts.calls().len(), 0);
    assert!(entries(&env).is_empty());
    assert_cache_clean(&env);
}

/// `openssl s_server` with a fresh self-signed certificate for 127.0.0.1, answering each line
/// reversed (not HTTP, but at once); killed when dropped.
struct SelfSignedServer {
    child: std::process::Child,
    port: u16,
    cert: PathBuf,
}

impl SelfSignedServer {
    fn start(dir: &Path) -> Result<SelfSignedServer, String> {
        let cert = dir.join("self-signed.pem");
        let key = dir.join("self-signed.key");
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
            .args([
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if !made.status.success() {
            return Err(format!("openssl req failed: {}", String::from_utf8_lossy(&made.stderr)));
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-rev", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("openssl s_server: {e}"))?;
        let server = SelfSignedServer { child, port, cert };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("openssl s_server did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn self_signed_or_skip(test: &str, dir: &Path) -> Option<SelfSignedServer> {
    match SelfSignedServer::start(dir) {
        Ok(s) => Some(s),
        Err(why) => {
            skip(test, "openssl", &why);
            None
        }
    }
}

#[test]
fn a_self_signed_certificate_is_refused_clearly() {
    let test = "a_self_signed_certificate_is_refused_clearly";
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let Some(server) = self_signed_or_skip(test, env.dir.path()) else { return };
    let url = format!("https://127.0.0.1:{}", server.port);
    env.set("AWS_ENDPOINT_URL", &url);
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.assert_failed(EXIT_STS);
    let expected = format!(
        "rolegate: error: profile `base` ({}): GetSessionToken: cannot reach STS at {url}: ",
        env.config_path().display()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "the message says what failed: {err}");
    assert!(run.took < Duration::from_secs(5), "no hang: {:?}", run.took);

    // Trusting it through AWS_CA_BUNDLE gets past TLS (to a server that does not speak HTTP).
    env.set("AWS_CA_BUNDLE", server.cert.to_str().unwrap());
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "234567"]);
    let err = run.assert_failed(EXIT_STS);
    assert!(err.starts_with(&expected), "{err}");
    assert!(!err.to_lowercase().contains("certificate"), "AWS_CA_BUNDLE is honoured: {err}");
    assert!(run.took < Duration::from_secs(5), "no hang: {:?}", run.took);
    assert!(entries(&env).is_empty());
    assert_cache_clean(&env);
}

#[test]
fn a_certificate_failure_hints_at_aws_ca_bundle() {
    let test = "a_certificate_failure_hints_at_aws_ca_bundle";
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let Some(server) = self_signed_or_skip(test, env.dir.path()) else { return };
    env.set("AWS_ENDPOINT_URL", &format!("https://127.0.0.1:{}", server.port));
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.assert_failed(EXIT_STS);
    let hint = err.lines().find(|l| l.starts_with("rolegate: hint: ")).unwrap_or_default();
    assert!(hint.contains("AWS_CA_BUNDLE"), "{err}");
}

#[test]
fn an_untrusted_certificate_is_reported_before_the_prompt() {
    let test = "an_untrusted_certificate_is_reported_before_the_prompt";
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let Some(server) = self_signed_or_skip(test, env.dir.path()) else { return };
    env.set("AWS_ENDPOINT_URL", &format!("https://127.0.0.1:{}", server.port));
    let mut p = spawn_script(&env, "\"$ROLEGATE\" credential-process target; echo \"exit=$?\"");
    let out = p.exp_eof().unwrap();
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    assert!(out.contains("AWS_CA_BUNDLE"), "the hint: {out}");
    assert!(!out.contains("Enter MFA code"), "no code is typed in vain: {out}");
    assert!(out.contains(&format!("exit={EXIT_STS}")), "{out}");
}

#[test]
fn a_response_that_is_not_xml_is_an_sts_error_and_is_not_echoed() {
    let sts = seed_sts();
    let env = TestEnv::seed_with_plain(&sts);
    let config = env.config_path().display().to_string();
    let marker = "CAPTIVE-PORTAL-7f3a9c";

    // A captive portal's HTML page with HTTP 200, for the call that carries the code.
    sts.fail_next(
        1,
        200,
        format!("<!DOCTYPE html><html><head><title>Wi-Fi</title></head><body><p>Sign in {marker}</p></body></html>"),
    );
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.assert_failed(EXIT_STS);
    let expected = format!(
        "rolegate: error: profile `base` ({config}): GetSessionToken: STS at {} answered HTTP 200 with a body that is not an STS response: ",
        sts.url()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.ends_with(HINT_BAD_RESPONSE), "{err}");
    assert!(!err.contains(marker) && !err.contains("Sign in"), "the body is not echoed: {err}");

    // Plain text that is not XML at all, for a call without a code: a 200 is not retried either.
    sts.fail_next(1, 200, format!("{marker} <<< & not xml at all"));
    let run = no_tty(&env, &["credential-process", "plain"]);
    let err = run.assert_failed(EXIT_STS);
    assert!(
        err.contains(&format!("profile `plain` ({config}): AssumeRole: STS at {} answered HTTP 200", sts.url())),
        "{err}"
    );
    assert!(err.ends_with(HINT_BAD_RESPONSE), "{err}");
    assert!(!err.contains(marker) && !err.contains("not xml at all"), "the body is not echoed: {err}");

    assert_eq!(statuses(&sts, "GetSessionToken"), [200]);
    assert_eq!(statuses(&sts, "AssumeRole"), [200]);
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    assert_cache_clean(&env);
}

#[test]
fn a_slow_answer_is_abandoned_after_the_request_bound_and_retried() {
    let sts = seed_sts();
    let env = TestEnv::seed_with_plain(&sts);
    // The first AssumeRole is held 20 s; rolegate's bound on one request is 10 s. A call without
    // a code is then retried, and the retry is answered at once.
    sts.delay_next(1, 20_000);
    let run = no_tty(&env, &["credential-process", "plain"]);
    let json = run.assert_ok_silent();
    assert!(run.took >= Duration::from_secs(9), "the first request was waited for: {:?}", run.took);
    assert!(run.took < Duration::from_secs(15), "abandoned long before the server answered: {:?}", run.took);
    assert_eq!(access_key_of(&entry(&env, "role-")), json.access_key_id);
    assert_cache_clean(&env);
}

#[test]
fn a_server_that_never_answers_in_time_is_given_up_by_the_deadline() {
    let sts = seed_sts();
    let env = TestEnv::seed_with_plain(&sts);
    // Every attempt is held past the 10 s request bound. With --prompt-timeout 1 the whole call
    // must be over by its deadline, 1 + 25 s (under Terraform's 60 s kill with the default 30 s:
    // 30 + 25 = 55 s); three attempts of 10 s plus backoff take longer.
    sts.delay_next(3, 15_000);
    let run = no_tty(&env, &["credential-process", "plain", "--prompt-timeout", "1"]);
    let err = run.assert_failed(EXIT_STS);
    assert!(err.contains("AssumeRole: cannot reach STS at "), "{err}");
    assert!(run.took <= Duration::from_secs(27), "took {:?}, past the 26 s deadline", run.took);
}

// ---------------------------------------------------------------------------------------------
// Cache faults
// ---------------------------------------------------------------------------------------------

#[test]
fn a_truncated_role_entry_costs_an_assume_role_and_not_a_code() {
    let Damaged { env, sts, first, role, session, session_bytes, run } = call_with_damaged_role_entry(|role| {
        // A write cut short (as by a crash of another tool): half the bytes.
        let bytes = std::fs::read(role).unwrap();
        std::fs::write(role, &bytes[..bytes.len() / 2]).unwrap();
    });
    let json = run.assert_ok();
    let warning = format!(
        "rolegate: warning: ignoring the unreadable cache entry {} (corrupt or from another version)\n",
        role.display()
    );
    assert!(run.stderr().contains(&warning), "{}", run.stderr());
    assert_ne!(json.access_key_id, first.access_key_id);
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 2));
    assert_eq!(access_key_of(&role), json.access_key_id, "the entry was rewritten whole");
    assert_eq!(std::fs::read(&session).unwrap(), session_bytes, "the MFA session is untouched");
    assert_cache_clean(&env);
}

#[test]
fn a_bad_entry_is_warned_about_once() {
    // Three ways an entry is bad: corrupt, readable by others, issued in the future.
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("corrupt", |p| std::fs::write(p, b"{\"version\":1,").unwrap()),
        ("mode 644", |p| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap()),
        ("issued tomorrow", |p| {
            let mut e = read_json(p);
            e["issued_at"] = rfc3339(OffsetDateTime::now_utc() + time::Duration::days(1));
            write_json(p, &e);
        }),
    ];
    let mut failures = Vec::new();
    for (what, damage) in damages {
        let damaged = call_with_damaged_role_entry(damage);
        let Damaged { env, run, .. } = &damaged;
        assert_eq!(run.code(), Some(0), "{what}: {}", run.stderr());
        let warnings = count(&run.stderr(), "rolegate: warning: ");
        if warnings != 1 || !run.stderr().contains(&entry(env, "role-").display().to_string()) {
            failures.push(format!("{what}: {warnings} warnings, one naming the entry expected:\n{}", run.stderr()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_empty_mfa_session_entry_is_a_miss_with_a_warning() {
    let (sts, env, first) = warm();
    let session = entry(&env, "mfa-");
    std::fs::write(&session, b"").unwrap();
    std::fs::remove_file(entry(&env, "role-")).unwrap();

    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "654321"]);
    let json = run.assert_ok();
    assert_ne!(json.access_key_id, first.access_key_id);
    let warning = format!(
        "rolegate: warning: ignoring the unreadable cache entry {} (corrupt or from another version)\n",
        session.display()
    );
    assert!(run.stderr().contains(&warning), "{}", run.stderr());
    assert_eq!(sts.count("GetSessionToken"), 2);
    assert!(std::fs::metadata(&session).unwrap().len() > 0, "a whole session was stored again");
    assert_cache_clean(&env);
}

#[test]
fn an_entry_readable_by_others_is_ignored_with_a_warning_naming_the_mode() {
    let Damaged { env, sts, first, role, run, .. } = call_with_damaged_role_entry(|role| {
        std::fs::set_permissions(role, std::fs::Permissions::from_mode(0o644)).unwrap();
    });
    let json = run.assert_ok();
    let warning = format!("rolegate: warning: ignoring the cache entry {}: its mode is 644, not 600\n", role.display());
    assert!(run.stderr().contains(&warning), "{}", run.stderr());
    assert_ne!(json.access_key_id, first.access_key_id, "credentials others could read are not served");
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 2));
    assert_eq!(std::fs::metadata(&role).unwrap().permissions().mode() & 0o777, 0o600);
    assert_cache_clean(&env);
}

#[test]
fn an_entry_owned_by_another_user_is_ignored_with_a_warning() {
    let test = "an_entry_owned_by_another_user_is_ignored_with_a_warning";
    if rustix::process::geteuid().as_raw() != 0 {
        skip(test, "root", "needs root to chown an entry");
        return;
    }
    let Damaged { env, sts, first, role, run, .. } = call_with_damaged_role_entry(|role| {
        std::os::unix::fs::chown(role, Some(65534), Some(65534)).unwrap();
    });
    let json = run.assert_ok();
    let warning = format!("rolegate: warning: ignoring the cache entry {}: owned by another user\n", role.display());
    assert!(run.stderr().contains(&warning), "{}", run.stderr());
    assert_ne!(json.access_key_id, first.access_key_id);
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 2));
    assert_cache_clean(&env);
}

/// A small tmpfs mounted on a directory; unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { dir: dir.to_path_buf() })
    }

    /// Fills the file system: every later write gets ENOSPC.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.dir.join("filler")).expect("create filler");
        let block = [0u8; 512];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[test]
fn a_full_cache_disk_still_hands_out_the_credentials_and_keeps_the_old_entries() {
    let test = "a_full_cache_disk_still_hands_out_the_credentials_and_keeps_the_old_entries";
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let tmpfs = match Tmpfs::mount(&env.cache_dir(), "64k") {
        Ok(t) => t,
        Err(why) => {
            skip(test, "tmpfs", &why);
            return;
        }
    };
    let first = cold(&env, "123456");
    let role = entry(&env, "role-");
    let session = entry(&env, "mfa-");
    // The role has 10 minutes left (below the floor, 11 minutes at least): the next call must re-assume it.
    let mut aged = read_json(&role);
    aged["credentials"]["expiration"] = rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(10));
    write_json(&role, &aged);
    let role_bytes = std::fs::read(&role).unwrap();
    let session_bytes = std::fs::read(&session).unwrap();
    tmpfs.fill();

    // The role call succeeds but cannot be stored.
    let run = no_tty(&env, &["credential-process", "target"]);
    assert_eq!(run.code(), Some(0), "the credentials are handed out: {}", run.stderr());
    let json = parse_process_json(&run.out.stdout);
    assert_ne!(json.access_key_id, first.access_key_id);
    let err = run.stderr();
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("the credentials are used but not cached"), "{err}");
    assert!(!err.contains(&json.secret_access_key) && !err.contains(&json.session_token), "{err}");

    // A new MFA session (the code is spent) that cannot be stored is not lost either.
    let run = no_tty(&env, &["credential-process", "target", "--refresh-mfa", "--mfa-token", "654321"]);
    run.assert_ok();
    assert_eq!(count(&run.stderr(), "the credentials are used but not cached"), 2, "{}", run.stderr());
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (2, 3));

    // What was there before is intact, and no temporary file is left on the full disk.
    assert_eq!(std::fs::read(&role).unwrap(), role_bytes);
    assert_eq!(std::fs::read(&session).unwrap(), session_bytes);
    assert_cache_clean(&env);
    drop(tmpfs);
}

#[test]
fn an_entry_of_a_newer_version_is_ignored_with_a_warning_and_kept() {
    let damaged = call_with_damaged_role_entry(|role| {
        // A newer rolegate sharing the cache wrote this entry: same shape, plus fields it knows of.
        let mut v2 = read_json(role);
        v2["version"] = 2.into();
        v2["credentials"]["access_key_id"] = "ASIAWRITTENBYVERSION2".into();
        v2["credentials"]["source_identity"] = "written-by-v2".into();
        v2["binding"] = serde_json::json!({"kind": "device-bound", "key": "opaque"});
        write_json(role, &v2);
    });
    // Borrowed: the test directory lives as long as `damaged`.
    let Damaged { role, run, .. } = &damaged;
    let json = run.assert_ok();
    assert_ne!(json.access_key_id, "ASIAWRITTENBYVERSION2", "an entry of another version is not served");
    let err = run.stderr();
    assert!(err.contains("rolegate: warning: ") && err.contains(&role.display().to_string()), "{err}");
    assert!(err.contains("version 2") || err.contains("another version"), "{err}");
    assert_eq!(read_json(role)["version"], 2, "the other version's entry is not deleted");
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn sixty_four_concurrent_cold_calls_prompt_once() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let script = "for i in $(seq 1 64); do \"$ROLEGATE\" credential-process target > out.$i.json 2> err.$i.txt & done; wait; echo all-done";
    let mut p = spawn_script(&env, script);
    let before = p.exp_string(&format!("Enter MFA code for {MFA_SERIAL}: ")).unwrap();
    p.send_line("123456").unwrap();
    let after = p.exp_string("all-done").unwrap();
    assert_eq!(count(&before, "Enter MFA code") + count(&after, "Enter MFA code"), 0, "one prompt only");
    let first = parse_process_json(&std::fs::read(env.path("out.1.json")).unwrap());
    for i in 1..=64 {
        let err = std::fs::read_to_string(env.path(&format!("err.{i}.txt"))).unwrap();
        let out = std::fs::read(env.path(&format!("out.{i}.json"))).unwrap();
        assert_eq!(parse_process_json(&out), first, "call {i} differs; stderr: {err}");
        assert_eq!(err, "", "call {i}");
    }
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole"), sts.calls().len()), (1, 1, 2));
    assert_eq!(entries(&env).len(), 2);
    assert_cache_clean(&env);
}

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

#[test]
fn an_entry_issued_in_the_future_is_ignored_with_the_clock_warning() {
    let Damaged { env, sts, first, role, run, .. } = call_with_damaged_role_entry(|role| {
        let mut future = read_json(role);
        future["issued_at"] = rfc3339(OffsetDateTime::now_utc() + time::Duration::days(1));
        write_json(role, &future);
    });
    let json = run.assert_ok();
    assert_ne!(json.access_key_id, first.access_key_id);
    assert!(
        run.stderr().contains(&format!(
            "rolegate: warning: ignoring the cache entry {}: it was issued in the future (was the clock changed?)\n",
            role.display()
        )),
        "{}",
        run.stderr()
    );
    assert_eq!((sts.count("GetSessionToken"), sts.count("AssumeRole")), (1, 2));
    let issued = OffsetDateTime::parse(read_json(&role)["issued_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(issued <= OffsetDateTime::now_utc(), "the entry was replaced with a sane one");
    assert_cache_clean(&env);

    // Served silently from now on.
    let again = no_tty(&env, &["credential-process", "target"]).assert_ok_silent();
    assert_eq!(again, json);
}

#[test]
fn entries_that_have_expired_are_never_served() {
    let (sts, env, _) = warm();
    let now = OffsetDateTime::now_utc();
    // A clock that jumped forward since (or entries written by a machine whose clock was
    // behind): both entries ended an hour ago.
    for path in [entry(&env, "role-"), entry(&env, "mfa-")] {
        let mut e = read_json(&path);
        e["issued_at"] = rfc3339(now - time::Duration::hours(13));
        e["credentials"]["expiration"] = rfc3339(now - time::Duration::hours(1));
        write_json(&path, &e);
    }
    let run = no_tty(&env, &["credential-process", "target"]);
    let err = run.assert_failed(EXIT_AUTH);
    assert!(err.starts_with(&format!("rolegate: error: profile `target` needs an MFA code for {MFA_SERIAL}")), "{err}");
    assert_eq!(sts.calls().len(), 2, "only the cold call reached STS");
    let exported = no_tty(&env, &["export", "--format", "json", "target"]);
    assert_eq!(exported.code(), Some(EXIT_AUTH), "{}", exported.stderr());
    assert!(exported.out.stdout.is_empty());
}

#[test]
fn credentials_already_expired_by_the_local_clock_are_reported_not_served() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    // STS issues credentials by a clock 2 h behind ours while its Date header agrees with ours
    // (nothing to correct by): the role's one hour ends, by our clock, an hour ago.
    sts.advance(-2 * 3600);
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.stderr();
    let printed = serde_json::from_slice::<serde_json::Value>(&run.out.stdout).ok();
    let expiration = printed.as_ref().map(|j| j["Expiration"].to_string());
    assert_ne!(run.code(), Some(0), "credentials that expired at {expiration:?} must not be handed out");
    assert!(run.out.stdout.is_empty(), "stdout has credentials that expired at {expiration:?}");
    assert!(err.contains("clock"), "the message points at the clock: {err}");
    assert!(err.contains("rolegate: hint: "), "{err}");
    assert!(!entries(&env).iter().any(|p| p.file_name().unwrap().to_str().unwrap().starts_with("role-")));
}

/// The seconds from now to `json`'s `Expiration`.
fn seconds_to_expiry(json: &ProcessJson) -> i64 {
    let expiration = OffsetDateTime::parse(&json.expiration, &Rfc3339).unwrap();
    (expiration - OffsetDateTime::now_utc()).whole_seconds()
}

/// STS refuses a request signed by a clock more than 15 minutes off; its answer's Date header
/// tells its time, rolegate signs again by it (with the same code, which the refusal did not
/// use up), says once that the clock is wrong, and reports expiry by the local clock.
fn clock_off_by(skew: i64, direction: &str) {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    sts.set_skew(skew);
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let json = run.assert_ok();
    let err = run.stderr();
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [format!(
            "rolegate: warning: this machine's clock is about 60 min {direction} STS's ({}'s Date header): rolegate signs with STS's time and gives expiry times by this machine's clock, but set the clock right (`timedatectl set-ntp true`, or your system's time settings): other tools will fail",
            sts.url()
        )],
        "one warning, nothing else"
    );
    let gst: Vec<_> = sts.calls().into_iter().filter(|c| c.action == "GetSessionToken").collect();
    assert_eq!(
        gst.iter().map(|c| (c.status, c.error_code.clone(), c.token_code.clone())).collect::<Vec<_>>(),
        [(403, Some("SignatureDoesNotMatch".into()), Some("123456".into())), (200, None, Some("123456".into()))],
        "refused for the clock, then accepted with the same code"
    );
    assert_eq!(statuses(&sts, "AssumeRole"), [200], "signed by STS's time from the start");
    // The role's hour, by this machine's clock (not an hour more or less).
    let left = seconds_to_expiry(&json);
    assert!((3480..=3600).contains(&left), "expires in {left} s by the local clock");
    // The entries say the same: the next call is served silently from the cache.
    let again = no_tty(&env, &["credential-process", "target"]).assert_ok_silent();
    assert_eq!(again, json);
    assert_eq!(sts.calls().len(), 3);
}

#[test]
fn a_local_clock_an_hour_behind_sts_is_corrected_without_a_second_code() {
    clock_off_by(3600, "behind");
}

#[test]
fn a_local_clock_an_hour_ahead_of_sts_is_corrected_without_a_second_code() {
    clock_off_by(-3600, "ahead of");
}

#[test]
fn a_small_skew_is_not_refused_and_expiry_is_still_told_by_the_local_clock() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    // Three minutes: inside STS's window and below the warning, but cached credentials would
    // otherwise be thought to last three minutes longer than they do.
    sts.set_skew(180);
    let json = cold(&env, "123456");
    let left = seconds_to_expiry(&json);
    assert!((3540..=3600).contains(&left), "expires in {left} s by the local clock, not {}", left + 180);
    assert!(sts.calls().iter().all(|c| c.status == 200));
}

#[test]
fn a_wrong_secret_is_not_signed_again() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.write_credentials(&format!(
        "[base]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = wrongSECRETwrongSECRETwrong000000000000\n"
    ));
    let run = no_tty(&env, &["credential-process", "target", "--mfa-token", "123456"]);
    let err = run.assert_failed(EXIT_AUTH);
    assert!(err.contains("the request signature was refused"), "{err}");
    assert!(!err.contains("warning"), "the clock is fine: {err}");
    assert_eq!(statuses(&sts, "GetSessionToken"), [403], "one attempt");
}

// ---------------------------------------------------------------------------------------------
// Hostile configuration files
// ---------------------------------------------------------------------------------------------

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile")
}

/// One `.expect` file.
#[derive(Debug, Default)]
struct Expect {
    profile: String,
    exit: i32,
    stderr: Vec<String>,
    absent: Vec<String>,
    locate: Option<(String, u32)>,
    bug: Option<String>,
}

fn parse_expect(name: &str, text: &str) -> Expect {
    let mut e = Expect { profile: "target".into(), exit: -1, ..Expect::default() };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("{name}.expect: no `=` in {line:?}"));
        let value = value.trim().to_string();
        match key.trim() {
            "profile" => e.profile = value,
            "exit" => e.exit = value.parse().unwrap_or_else(|_| panic!("{name}.expect: bad exit {value:?}")),
            "stderr" => e.stderr.push(value),
            "absent" => e.absent.push(value),
            "locate" => {
                let (file, line) = value.split_once(' ').unwrap_or_else(|| panic!("{name}.expect: locate {value:?}"));
                e.locate = Some((file.to_string(), line.trim().parse().expect("locate line")));
            }
            "bug" => e.bug = Some(value),
            other => panic!("{name}.expect: unknown key {other:?}"),
        }
    }
    assert!(e.exit >= 0, "{name}.expect has no exit");
    e
}

/// Runs one case: `config` and `credentials` bytes, checked against `expect`. `Err` says why it
/// failed (so that one run reports every failing case).
fn check_case(
    name: &str,
    config: &[u8],
    credentials: &[u8],
    expect: &Expect,
    limit: Duration,
    specifics: bool,
) -> Result<(), String> {
    let sts = seed_sts();
    let env = TestEnv::with_files(&sts, config, credentials);
    let config_path = env.config_path().display().to_string();
    let credentials_path = env.credentials_path().display().to_string();
    let fill = |s: &str| s.replace("{config}", &config_path).replace("{credentials}", &credentials_path);

    let args = ["credential-process", &expect.profile, "--mfa-token", "123456"];
    let run = run_bounded(env.without_terminal(&args), limit + Duration::from_secs(2));
    let err = run.stderr();
    let mut problems = Vec::new();
    if run.took > limit {
        problems.push(format!("took {:?} (limit {limit:?})", run.took));
    }
    if run.code() != Some(expect.exit) {
        problems.push(format!("exit {:?}, expected {}", run.code(), expect.exit));
    }
    if run.code() == Some(101) || err.contains("panicked") {
        problems.push("panicked".into());
    }
    for want in expect.stderr.iter().filter(|_| specifics) {
        if !err.contains(&fill(want)) {
            problems.push(format!("stderr lacks {:?}", fill(want)));
        }
    }
    for unwanted in expect.absent.iter().filter(|_| specifics) {
        if err.contains(&fill(unwanted)) {
            problems.push(format!("stderr has {:?}", fill(unwanted)));
        }
    }
    if let Some((file, line)) = expect.locate.as_ref().filter(|_| specifics) {
        let (this, other) = match file.as_str() {
            "config" => (&config_path, &credentials_path),
            "credentials" => (&credentials_path, &config_path),
            f => panic!("{name}.expect: locate names {f:?}"),
        };
        let at = format!("line {line}");
        if !err.lines().any(|l| l.contains(&at) && l.contains(this.as_str()) && !l.contains(other.as_str())) {
            problems.push(format!("no stderr line names {this} and {at} (and not {other})"));
        }
    }
    if err.contains(BASE_SECRET) {
        problems.push("the base secret key is on stderr".into());
    }
    if run.code() == Some(0) {
        let text = String::from_utf8_lossy(&run.out.stdout);
        match serde_json::from_str::<ProcessJson>(text.trim()) {
            Ok(json) if json.version == 1 && json.access_key_id.starts_with("ASIA") => {}
            _ => problems.push(format!("no credential_process JSON on stdout: {text:?}")),
        }
    } else {
        if !run.out.stdout.is_empty() {
            problems.push(format!("stdout is not empty: {:?}", run.stdout()));
        }
        if count(&err, "rolegate: error: ") != 1 {
            problems.push("not exactly one `rolegate: error:` line".into());
        }
        if !err.lines().last().is_some_and(|l| l.starts_with("rolegate: hint: ")) {
            problems.push("no `rolegate: hint:` line last".into());
        }
    }
    for p in temporary_files(&env) {
        problems.push(format!("left {}", p.display()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}\n  stderr: {}", problems.join("; "), err.trim_end().replace('\n', "\n          ")))
    }
}

/// Every fixture (`bugs`: only those with a `bug =` line, checked in full).
fn run_hostile_fixtures(bugs: bool) {
    let dir = hostile_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/data/hostile")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ini"))
        .map(|p| p.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "at least 30 hostile files: {}", names.len());
    let seed_creds = seed_credentials();
    let mut failures = Vec::new();
    let mut ran = 0;
    for name in &names {
        let expect_path = dir.join(format!("{name}.expect"));
        let text = std::fs::read_to_string(&expect_path).unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
        let expect = parse_expect(name, &text);
        if bugs && expect.bug.is_none() {
            continue;
        }
        let config = std::fs::read(dir.join(format!("{name}.ini"))).expect("read .ini");
        let credentials =
            std::fs::read(dir.join(format!("{name}.credentials"))).unwrap_or_else(|_| seed_creds.clone().into_bytes());
        ran += 1;
        // A known bug's case still runs in the main test for what holds of every file (exit
        // status, bounded, no panic, a hint); its specific expectations run in the ignored one.
        let specifics = bugs || expect.bug.is_none();
        if let Err(why) = check_case(name, &config, &credentials, &expect, Duration::from_secs(10), specifics) {
            failures.push(why);
        }
    }
    assert!(ran > 0);
    assert!(failures.is_empty(), "{} of {ran} hostile files failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn hostile_config_files_give_clear_errors_or_work() {
    run_hostile_fixtures(false);
}

#[test]
fn a_config_file_that_is_not_utf8_is_named() {
    let mut config = SEED_CONFIG.as_bytes().to_vec();
    // Latin-1 "é" and a lone continuation byte in a comment, as an old editor saves them.
    config.extend_from_slice(b"\n# r\xe9gion \x80\xff\n");
    let expect = Expect {
        profile: "target".into(),
        exit: EXIT_CONFIG,
        stderr: vec![
            "rolegate: error: {config} is not valid UTF-8 text".into(),
            "rolegate: hint: save the file as UTF-8 text".into(),
        ],
        ..Expect::default()
    };
    check_case("not-utf8-config", &config, seed_credentials().as_bytes(), &expect, Duration::from_secs(10), true)
        .unwrap();

    let mut credentials = seed_credentials().into_bytes();
    credentials.extend_from_slice(b"[other]\naws_access_key_id = \xc3\x28\n");
    let expect = Expect { stderr: vec!["rolegate: error: {credentials} is not valid UTF-8 text".into()], ..expect };
    check_case("not-utf8-credentials", SEED_CONFIG.as_bytes(), &credentials, &expect, Duration::from_secs(10), true)
        .unwrap();
}

/// The seed's config followed by `filler` lines up to 50 MiB.
fn fifty_megabytes(filler: impl Fn(usize) -> String) -> Vec<u8> {
    const SIZE: usize = 50 << 20;
    let mut out = Vec::with_capacity(SIZE + 4096);
    out.extend_from_slice(format!("{SEED_CONFIG}\n").as_bytes());
    let mut i = 0;
    while out.len() < SIZE {
        out.extend_from_slice(filler(i).as_bytes());
        i += 1;
    }
    out
}

#[test]
fn a_50_mb_config_is_refused_at_once_naming_the_file() {
    let config = fifty_megabytes(|i| format!("# {i:08} {}\n", "pasted notes ".repeat(7)));
    // Real configuration files are kilobytes: a 50 MB one is refused at once, naming the file.
    let expect = Expect {
        profile: "target".into(),
        exit: EXIT_CONFIG,
        stderr: vec!["rolegate: error: {config} is ".into(), " bytes: too large for an AWS configuration file".into()],
        ..Expect::default()
    };
    check_case("50-mb-of-comments", &config, seed_credentials().as_bytes(), &expect, Duration::from_secs(10), true)
        .unwrap();
}

#[test]
fn a_device_as_the_config_is_refused_by_the_bytes_read_not_by_its_size() {
    // `/dev/zero` says it is 0 bytes long and never ends: the cap counts what was read.
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.set("AWS_CONFIG_FILE", "/dev/zero");
    for args in [&["credential-process", "target"][..], &["list"][..], &["exec", "target", "--", "true"][..]] {
        let run = run_bounded(env.without_terminal(args), Duration::from_secs(10));
        let err = run.assert_failed(EXIT_CONFIG);
        assert!(err.contains("/dev/zero is ") && err.contains("too large for an AWS configuration file"), "{err}");
    }
}

/// Each kind of file that is not a regular file, as `AWS_CONFIG_FILE` or
/// `AWS_SHARED_CREDENTIALS_FILE`: a named FIFO that no program writes to is a clear error in
/// under a second (a blocking open would wait for a writer for ever); `/dev/null` is an empty
/// file, as the SDKs read it; a pipe with a writer (bash's `<(COMMAND)`, which the SDKs read) is
/// read to its end, however slowly it comes. (`/dev/zero`: the test above.)
#[test]
fn fifos_devices_and_pipes_as_aws_files_are_clear_or_read() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let fifo = env.path("config.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for var in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        env.set(var, fifo.to_str().unwrap());
        for args in [&["credential-process", "target"][..], &["list"][..], &["exec", "target", "--", "true"][..]] {
            let run = run_bounded(env.without_terminal(args), Duration::from_secs(10));
            let err = run.assert_failed(EXIT_CONFIG);
            assert!(run.took < Duration::from_secs(1), "{var} {args:?}: took {:?}", run.took);
            assert!(
                err.contains(&format!(
                    "rolegate: error: {} is a FIFO (named pipe) that no program writes to\n",
                    fifo.display()
                )),
                "{var} {args:?}: {err}"
            );
            assert!(err.contains("rolegate: hint: start the program that writes it first"), "{err}");
        }
        env.unset(var);
    }
    assert!(sts.calls().is_empty());

    // /dev/null: an empty file.
    env.set("AWS_CONFIG_FILE", "/dev/null");
    let run = run_bounded(env.without_terminal(&["credential-process", "target"]), Duration::from_secs(10));
    let err = run.assert_failed(EXIT_CONFIG);
    assert!(err.contains("profile `target` not found in /dev/null or "), "{err}");
    let list = run_bounded(env.without_terminal(&["list"]), Duration::from_secs(10));
    assert_eq!(list.code(), Some(0), "{}", list.stderr());
    assert!(String::from_utf8_lossy(&list.out.stdout).starts_with("Profiles that need MFA (/dev/null):\n  none\n"));
    env.unset("AWS_CONFIG_FILE");

    // A pipe whose writer takes a second: read to its end, as the SDKs read it.
    let Some(bash) = ["/bin/bash", "/usr/bin/bash"].into_iter().find(|b| Path::new(b).exists()) else {
        crate::common::skip::skip(
            "faults::fifos_devices_and_pipes_as_aws_files_are_clear_or_read",
            "bash",
            "no bash for `<(COMMAND)`",
        );
        return;
    };
    let script =
        "AWS_CONFIG_FILE=<(sleep 1; cat \"$CONFIG\") \"$ROLEGATE\" credential-process target --mfa-token 123456";
    let out = env
        .command(bash, &["-c", script])
        .env("CONFIG", env.config_path())
        .env("ROLEGATE", rolegate_bin())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    parse_process_json(&out.stdout);
    assert_eq!(sts.count("GetSessionToken"), 1);
}

#[test]
fn a_50_mb_config_of_many_profiles_finishes_quickly_with_a_clear_result() {
    let config = fifty_megabytes(|i| {
        format!("[profile generated-{i}]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/r{i}\n\n")
    });
    let sts = seed_sts();
    let env = TestEnv::with_files(&sts, &config, seed_credentials());
    let args = ["credential-process", "target", "--mfa-token", "918273"];
    // Killed (and failed) at 12 s: the bound is 10 s.
    let run = run_bounded(env.without_terminal(&args), Duration::from_secs(12));
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    match run.code() {
        Some(0) => {
            parse_process_json(&run.out.stdout);
        }
        _ => {
            let err = run.assert_failed(EXIT_CONFIG);
            assert!(err.contains(&env.config_path().display().to_string()), "the error names the file: {err}");
            assert!(err.contains("rolegate: hint: "), "{err}");
        }
    }
}
