//! Attacks on the local endpoint of `exec --server` by a process without the token: a huge
//! `Content-Length`, bodies announced and held, idle connections past the descriptor limit, a
//! huge header line, requests without the token, garbage, heads that never end.
//!
//! Each runs against a live `rolegate exec --server target -- python3 CHILD` whose child asks
//! the endpoint for credentials (with the token) every 10 ms and prints each latency. During
//! every attack, the child's requests must all be answered 200 within 100 ms; afterwards the
//! endpoint is still up, the child ends normally, and rolegate's peak resident memory (VmHWM)
//! stays under 64 MiB. Run with `--nocapture` to see the figures (docs/SECURITY.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::common::env::*;
use crate::common::strict_sts::StrictSts;

/// The child: one request every 10 ms with the token, one line each (`STATUS MILLISECONDS`),
/// until the file named by its argument appears.
const CHILD: &str = r#"
import os, sys, time, urllib.request
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
print("port", uri.split("/")[2].split(":")[1], flush=True)
while not os.path.exists(sys.argv[1]):
    start = time.perf_counter()
    try:
        req = urllib.request.Request(uri, headers={"Authorization": token})
        with urllib.request.urlopen(req, timeout=5) as r:
            ok = r.status == 200 and b'"AccessKeyId"' in r.read()
        line = f"{200 if ok else 0} {(time.perf_counter() - start) * 1000:.2f}"
    except Exception as e:
        line = f"error {(time.perf_counter() - start) * 1000:.2f} {type(e).__name__}: {e}"
    print(line, flush=True)
    time.sleep(0.01)
print("done", flush=True)
"#;

/// The most a request of the child may take during an attack.
const LATENCY_LIMIT_MS: f64 = 100.0;
/// The most rolegate's resident memory may ever reach.
const RSS_LIMIT_KIB: u64 = 64 * 1024;
/// Requests of the child measured during each attack.
const SAMPLES: usize = 40;

/// A running `rolegate exec --server` and its child.
struct Endpoint {
    _sts: StrictSts,
    _env: TestEnv,
    process: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    stop: PathBuf,
}

impl Endpoint {
    /// Starts rolegate under `ulimit -n NOFILE` and waits for the child's first line.
    fn start(nofile: u32) -> Endpoint {
        let sts = seed_sts();
        let env = TestEnv::seed(&sts);
        let stop = env.path("stop");
        let rolegate = rolegate_bin().to_str().expect("utf-8 path").to_string();
        let stop_arg = stop.to_str().expect("utf-8 path").to_string();
        let script = format!("ulimit -n {nofile} && exec \"$@\"");
        let args = [
            "-c",
            &script,
            "sh",
            &rolegate,
            "exec",
            "--server",
            "target",
            "--mfa-token",
            "123456",
            "--",
            "python3",
            "-c",
            CHILD,
            &stop_arg,
        ];
        let mut process = env.command("sh", &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = BufReader::new(process.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(60)).expect("the child starts");
        let port: u16 = first.strip_prefix("port ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{first}"));
        Endpoint { _sts: sts, _env: env, process, addr: SocketAddr::from(([127, 0, 0, 1], port)), lines, stop }
    }

    /// The latencies (ms) of the next `n` requests of the child that start from now on.
    fn latencies(&self, n: usize) -> Vec<f64> {
        while self.lines.try_recv().is_ok() {}
        // The request in flight now may have started before: skip it.
        let mut out = Vec::new();
        let mut skipped = false;
        while out.len() < n {
            let line = match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => panic!("the child printed nothing for 30 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("the child's output ended"),
            };
            if !skipped {
                skipped = true;
                continue;
            }
            let mut fields = line.split_whitespace();
            assert_eq!(fields.next(), Some("200"), "a request of the child failed: {line}");
            out.push(fields.next().and_then(|ms| ms.parse().ok()).unwrap_or_else(|| panic!("{line}")));
        }
        out
    }

    fn pid(&self) -> u32 {
        self.process.id()
    }

    /// rolegate's peak resident memory, KiB.
    fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// How many sockets rolegate has open.
    fn sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Checks rolegate is still up, stops the child and checks both ended normally.
    fn finish(&mut self) {
        assert!(self.process.try_wait().unwrap().is_none(), "rolegate ended during the attack");
        std::fs::write(&self.stop, "").unwrap();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line == "done" => break,
                Ok(_) => {}
                Err(e) => panic!("the child did not finish: {e}"),
            }
        }
        let status = self.process.wait().unwrap();
        let mut stderr = String::new();
        self.process.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(status.success(), "rolegate: {status:?}\n{stderr}");
    }
}

impl Drop for Endpoint {
    /// Whatever happened, the child stops and rolegate does not outlive the test.
    fn drop(&mut self) {
        let _ = std::fs::write(&self.stop, "");
        if self.process.try_wait().ok().flatten().is_none() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap()
}

/// Polls `done` every 5 ms for at most 30 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Attacker threads, each repeating its round until dropped.
struct Attack {
    stop: Arc<AtomicBool>,
    /// Rounds that reached their observable effect (an answer read, a connection accepted).
    landed: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Attack {
    /// `threads` threads each running `round(addr, landed)` until the attack is dropped.
    fn start(addr: SocketAddr, threads: usize, round: fn(SocketAddr, &AtomicUsize, &AtomicBool)) -> Attack {
        let stop = Arc::new(AtomicBool::new(false));
        let landed = Arc::new(AtomicUsize::new(0));
        let threads = (0..threads)
            .map(|_| {
                let (stop, landed) = (stop.clone(), landed.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        round(addr, &landed, &stop);
                    }
                })
            })
            .collect();
        Attack { stop, landed, threads }
    }

    fn wait_landed(&self, what: &str, n: usize) {
        wait_for(what, || self.landed.load(Ordering::Relaxed) >= n);
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(s)
}

/// Reads the status line's code of an answer (`None` if the connection ended first).
fn status_of(s: &mut TcpStream) -> Option<u16> {
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Writes `chunk` until `total` bytes are written or the endpoint closes.
fn pour(s: &mut TcpStream, chunk: &[u8], total: usize) {
    let mut sent = 0;
    while sent < total && s.write_all(chunk).is_ok() {
        sent += chunk.len();
    }
}

/// Runs `attack` against a fresh endpoint (under `ulimit -n NOFILE`), measures the child
/// during it, and checks the endpoint afterwards. Prints `name: max/median latency, VmHWM`.
#[allow(clippy::print_stderr)]
fn under_attack(name: &str, nofile: u32, attack: impl FnOnce(&Endpoint) -> Attack) {
    // One attack at a time: each measures the child's latency, which another attack's load
    // would distort.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut endpoint = Endpoint::start(nofile);
    let baseline = endpoint.latencies(5);
    let running = attack(&endpoint);
    let mut during = endpoint.latencies(SAMPLES);
    let sockets = endpoint.sockets();
    drop(running);
    let rss = endpoint.peak_rss_kib();
    during.sort_by(f64::total_cmp);
    let (median, max) = (during[during.len() / 2], during[during.len() - 1]);
    eprintln!(
        "{name}: child latency during the attack median {median:.1} ms, max {max:.1} ms (before: max {:.1} ms); rolegate VmHWM {} KiB, {sockets} sockets open",
        baseline.iter().copied().fold(0.0, f64::max),
        rss
    );
    endpoint.finish();
    assert!(max < LATENCY_LIMIT_MS, "{name}: a request of the child took {max:.1} ms: {during:?}");
    assert!(rss < RSS_LIMIT_KIB, "{name}: rolegate's peak RSS is {rss} KiB");
}

fn head(addr: SocketAddr, extra: &str) -> String {
    format!("GET /credentials HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n")
}

#[test]
fn a_huge_content_length_is_refused_without_reading_the_body() {
    under_attack("huge Content-Length", 256, |e| {
        let attack = Attack::start(e.addr, 2, |addr, landed, _| {
            let Some(mut s) = connect(addr) else { return };
            if s.write_all(head(addr, "Content-Length: 1099511627776\r\n").as_bytes()).is_err() {
                return;
            }
            if status_of(&mut s) == Some(413) {
                landed.fetch_add(1, Ordering::Relaxed);
            }
            // Then the body, until the endpoint stops listening (it drains 2 MiB at most).
            pour(&mut s, &[b'x'; 64 << 10], 64 << 20);
        });
        attack.wait_landed("a 413", 4);
        attack
    });
}

#[test]
fn bodies_announced_and_held_tie_up_nothing() {
    under_attack("held bodies", 256, |e| {
        // Eight sockets announce 100 MB, send 1 KiB of it and hold; again when closed.
        let attack = Attack::start(e.addr, 8, |addr, landed, _| {
            let Some(mut s) = connect(addr) else { return };
            let mut bytes = head(addr, "Content-Length: 100000000\r\n").into_bytes();
            bytes.extend_from_slice(&[b'x'; 1024]);
            if s.write_all(&bytes).is_err() {
                return;
            }
            if status_of(&mut s) == Some(413) {
                landed.fetch_add(1, Ordering::Relaxed);
            }
            // Hold until the endpoint closes (after its linger).
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
        attack.wait_landed("eight 413s", 8);
        attack
    });
}

/// Keeps `count` idle connections open to `addr`, opening a new one for each the endpoint shuts.
fn idle_connections(addr: SocketAddr, count: usize, landed: &AtomicUsize, stop: &AtomicBool) {
    let mut open: Vec<TcpStream> = Vec::new();
    let mut shut = 0;
    while !stop.load(Ordering::Relaxed) {
        while open.len() < count {
            match connect(addr) {
                Some(s) => {
                    s.set_nonblocking(true).unwrap();
                    open.push(s);
                }
                None => break,
            }
        }
        let mut byte = [0u8; 1];
        open.retain(|mut s| match s.read(&mut byte) {
            Ok(0) => {
                shut += 1;
                false
            }
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        });
        landed.store(shut, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn idle_connections_past_the_descriptor_limit_keep_no_request_out() {
    // 300 idle connections against `ulimit -n 256`: the endpoint keeps 128 at most, shutting the
    // oldest for each new one, and never runs out of descriptors. The attacker reopens each
    // shut connection at once: a connection flood, which must not fill the kernel's queue of
    // connections not yet accepted (the child's connection would wait for a handshake retry).
    under_attack("300 idle connections, ulimit -n 256", 256, |e| {
        let attack = Attack::start(e.addr, 1, |addr, landed, stop| idle_connections(addr, 300, landed, stop));
        attack.wait_landed("the endpoint shutting idle connections", 300);
        attack
    });
    // Under `ulimit -n 64` the cap is 32 connections (half of the descriptors): the attacker's
    // other 118 wait in the kernel's queue, ahead of the child's connection.
    under_attack("150 idle connections, ulimit -n 64", 64, |e| {
        let attack = Attack::start(e.addr, 1, |addr, landed, stop| idle_connections(addr, 150, landed, stop));
        attack.wait_landed("the endpoint shutting idle connections", 150);
        attack
    });
}

#[test]
fn a_huge_header_line_is_cut_at_16_kib() {
    under_attack("300 MB header line", 256, |e| {
        let attack = Attack::start(e.addr, 2, |addr, landed, _| {
            let Some(mut s) = connect(addr) else { return };
            let Ok(mut reader) = s.try_clone() else { return };
            // The answer comes while the line is still being sent: read it on the side.
            let answer = std::thread::spawn(move || status_of(&mut reader));
            let _ = s.write_all(format!("GET /credentials HTTP/1.1\r\nHost: {addr}\r\nX-Long: ").as_bytes());
            // 300 MB of one header line, or until the endpoint refuses and closes.
            pour(&mut s, &[b'a'; 64 << 10], 300 << 20);
            if answer.join().ok().flatten() == Some(431) {
                landed.fetch_add(1, Ordering::Relaxed);
            }
        });
        attack.wait_landed("a 431", 4);
        attack
    });
}

#[test]
fn requests_without_the_token_are_refused_quickly() {
    under_attack("requests without the token", 256, |e| {
        let attack = Attack::start(e.addr, 2, |addr, landed, _| {
            let Some(mut s) = connect(addr) else { return };
            if s.write_all(head(addr, "").as_bytes()).is_ok() && status_of(&mut s) == Some(401) {
                landed.fetch_add(1, Ordering::Relaxed);
            }
        });
        attack.wait_landed("a 401", 50);
        attack
    });
}

#[test]
fn garbage_is_refused() {
    under_attack("garbage bytes", 256, |e| {
        let attack = Attack::start(e.addr, 2, |addr, landed, _| {
            let Some(mut s) = connect(addr) else { return };
            // Bytes of every value, newlines among them, and a TLS ClientHello's start.
            let mut bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
            bytes.splice(0..0, *b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n");
            let _ = s.write_all(&bytes);
            if status_of(&mut s) == Some(400) {
                landed.fetch_add(1, Ordering::Relaxed);
            }
        });
        attack.wait_landed("a 400", 50);
        attack
    });
}

#[test]
fn heads_that_never_end_time_out() {
    under_attack("heads that never end", 256, |e| {
        // 48 connections send most of a head, one byte more now and then, never the blank line;
        // the endpoint answers 408 after 3 s and each starts again.
        let attack = Attack::start(e.addr, 48, |addr, landed, stop| {
            let Some(mut s) = connect(addr) else { return };
            if s.write_all(format!("GET /credentials HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes()).is_err() {
                return;
            }
            landed.fetch_add(1, Ordering::Relaxed);
            s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::Relaxed) && s.write_all(b"a").is_ok() {
                match s.read(&mut byte) {
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    _ => break,
                }
            }
        });
        attack.wait_landed("48 slow heads", 48);
        // Observable on the endpoint's side: the connections were accepted.
        wait_for("48 accepted connections", || e.sockets() >= 48);
        attack
    });
}
