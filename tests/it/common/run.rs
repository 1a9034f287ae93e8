//! Bounded runs of the real `rolegate` binary: a run that outlives its limit is killed and
//! fails the test instead of blocking it, and what it printed is checked the way every failure
//! must look (the README's exit statuses, one error, a hint, no credentials, no secret key).

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::env::{BASE_SECRET, ProcessJson, TestEnv, parse_process_json, stderr_of};
use super::pty::count;

/// Bound on one rolegate run outside a pty: a hang fails the test instead of blocking it.
pub const RUN_LIMIT: Duration = Duration::from_secs(40);
/// The exit statuses of the README.
pub const EXIT_CONFIG: i32 = 3;
pub const EXIT_AUTH: i32 = 4;
pub const EXIT_STS: i32 = 5;

/// What a bounded run gives back.
pub struct Run {
    pub out: Output,
    pub took: Duration,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    pub fn stderr(&self) -> String {
        stderr_of(&self.out)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// Succeeded with credential_process JSON (stderr may have warnings).
    pub fn assert_ok(&self) -> ProcessJson {
        assert_eq!(self.code(), Some(0), "{}", self.stderr());
        parse_process_json(&self.out.stdout)
    }

    /// Succeeded with credential_process JSON and nothing on stderr.
    pub fn assert_ok_silent(&self) -> ProcessJson {
        assert_eq!(self.code(), Some(0), "{}", self.stderr());
        assert_eq!(self.stderr(), "", "a successful call is silent");
        parse_process_json(&self.out.stdout)
    }

    /// Failed with `code`: nothing on stdout, exactly one error, no panic, no secret key.
    pub fn assert_failed(&self, code: i32) -> String {
        let err = self.stderr();
        assert_eq!(self.code(), Some(code), "{err}");
        assert!(self.out.stdout.is_empty(), "a failure prints no credentials: {}", self.stdout());
        assert_eq!(count(&err, "rolegate: error: "), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_no_base_secret(&err);
        err
    }
}

pub fn assert_no_base_secret(text: &str) {
    assert!(!text.contains(BASE_SECRET), "the base secret key leaked: {text}");
}

/// Runs `cmd` (stdout and stderr captured) and kills it if it outlives `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn rolegate");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for rolegate") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rolegate did not finish within {limit:?} (killed): a hang or far too slow");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let out = Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    };
    Run { out, took }
}

/// `rolegate ARGS` without a controlling terminal (so it can never prompt, and never reaches
/// the terminal `cargo test` runs in), bounded by [`RUN_LIMIT`]; kept for the audit.
pub fn no_tty(env: &TestEnv, args: &[&str]) -> Run {
    let run = run_bounded(env.without_terminal(args), RUN_LIMIT);
    env.record(args, &run.out);
    run
}
