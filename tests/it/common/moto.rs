//! A `moto_server` fixture: a real (Python) AWS emulator on `127.0.0.1:<free port>`.
//!
//! moto speaks STS, IAM and the rest with realistic shapes, but it is lenient: it accepts any
//! MFA code, ignores role trust conditions unless auth is on, and its `GetSessionToken`
//! always returns the same fixed `AKIA...EXAMPLE` credentials. Use it for broad compatibility,
//! and [`super::strict_sts::StrictSts`] where MFA and credential handling matter.
//!
//! Signature checking is off by default. [`Moto::enable_auth`] turns it on (moto's
//! `POST /moto-api/reset-auth`, whose body is the number of requests still let through
//! unauthenticated: `0`); from then on only access keys created in moto's IAM (see
//! [`Moto::create_admin_key`], to be called before) are accepted, and their signatures are
//! verified.
//!
//! If `moto_server` is not on `PATH`, [`Moto::start`] returns `Err`; tests then call
//! [`Moto::start_or_skip`], which prints a visible `SKIP:` line.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::strict_sts::{StsCredentials, sign_and_post_service, xml_text};

/// How long moto gets to start accepting connections.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How many ports to try when moto cannot bind the one picked.
const PORT_ATTEMPTS: usize = 5;

/// A running `moto_server`; killed and reaped on drop.
pub struct Moto {
    child: Child,
    port: u16,
    log: File,
}

/// `moto_server`'s path, if it is on `PATH`.
fn moto_server_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("moto_server")).find(|p| p.is_file())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn read_log(log: &mut File) -> String {
    let mut text = String::new();
    let _ = log.seek(SeekFrom::Start(0));
    let _ = log.read_to_string(&mut text);
    text
}

fn direct_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

enum Launch {
    Ready(Moto),
    /// moto exited before accepting connections (e.g. the port was taken); its log.
    Exited(String),
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p PORT` on a free port and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        let program = moto_server_path().ok_or("moto_server is not on PATH")?;
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::launch(&program, free_port()?)? {
                Launch::Ready(moto) => return Ok(moto),
                Launch::Exited(log) => last_log = log,
            }
        }
        Err(format!("moto_server exited before listening, {PORT_ATTEMPTS} times; last output:\n{last_log}"))
    }

    /// [`Moto::start`], or `None` after printing `SKIP: <test>: <reason>` to stderr.
    #[allow(clippy::print_stderr)]
    pub fn start_or_skip(test: &str) -> Option<Moto> {
        match Self::start() {
            Ok(moto) => Some(moto),
            Err(reason) => {
                super::skip::skip(test, "moto", &reason);
                None
            }
        }
    }

    fn launch(program: &PathBuf, port: u16) -> Result<Launch, String> {
        // moto logs every request; a file (not a pipe nobody drains) keeps it from blocking.
        let log = tempfile::tempfile().map_err(|e| format!("log file: {e}"))?;
        let clone = || log.try_clone().map_err(|e| format!("log file: {e}"));
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(clone()?)
            .stderr(clone()?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let mut moto = Moto { child, port, log };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(_)) = moto.child.try_wait() {
                return Ok(Launch::Exited(read_log(&mut moto.log)));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() && moto.is_moto() {
                return Ok(Launch::Ready(moto));
            }
            if Instant::now() > deadline {
                let log = read_log(&mut moto.log);
                return Err(format!(
                    "moto_server did not accept connections on {addr} within {START_DEADLINE:?}; output:\n{log}"
                ));
            }
            // Polling interval while waiting for the port, not a synchronisation sleep.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether our child (still running) answers moto's own API on the port.
    fn is_moto(&mut self) -> bool {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return false;
        }
        direct_agent().get(format!("{}/moto-api/data.json", self.url())).call().is_ok_and(|r| r.status() == 200)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Turns signature and IAM checks on for every following request.
    pub fn enable_auth(&self) {
        self.reset_auth(0);
    }

    /// Lets the next `n` requests through unauthenticated, then checks every request.
    pub fn enable_auth_after(&self, n: u32) {
        self.reset_auth(n);
    }

    fn reset_auth(&self, unauthenticated: u32) {
        let url = format!("{}/moto-api/reset-auth", self.url());
        let mut response =
            direct_agent().post(&url).send(unauthenticated.to_string()).unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let body = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status(), 200, "POST {url}: {body}");
    }

    /// Forgets all of moto's state (auth settings are kept).
    pub fn reset(&self) {
        let url = format!("{}/moto-api/reset", self.url());
        let response = direct_agent().post(&url).send("").unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert_eq!(response.status(), 200, "POST {url}");
    }

    /// Creates IAM user `user_name` with an allow-everything inline policy and returns a new
    /// access key for it. Call before [`enable_auth`](Self::enable_auth) (these IAM calls are
    /// signed with throw-away keys moto does not check while auth is off).
    pub fn create_admin_key(&self, user_name: &str) -> StsCredentials {
        let bootstrap = StsCredentials::long_term("AKIAIOSFODNN7EXAMPLE", "bootstrap");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let iam = |params: &[(&str, &str)]| {
            let mut all = params.to_vec();
            all.push(("Version", "2010-05-08"));
            let response = sign_and_post_service(&self.url(), &bootstrap, "iam", "us-east-1", &all);
            assert_eq!(response.status, 200, "moto IAM {params:?}: {}", response.body);
            response
        };
        iam(&[("Action", "CreateUser"), ("UserName", user_name)]);
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", user_name),
            ("PolicyName", "allow-all"),
            ("PolicyDocument", policy),
        ]);
        let created = iam(&[("Action", "CreateAccessKey"), ("UserName", user_name)]);
        StsCredentials::long_term(
            &xml_text(&created.body, "AccessKeyId").expect("AccessKeyId"),
            &xml_text(&created.body, "SecretAccessKey").expect("SecretAccessKey"),
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
