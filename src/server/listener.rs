//! The connection loop of the local endpoint: accept, read one request head within limits,
//! answer, close.
//!
//! Hand-written on purpose, over std's blocking `TcpListener` and `httparse`: no maintained
//! library offers a blocking HTTP/1 server that is small, bounded in every dimension and needs
//! no async runtime (the small blocking servers read bodies and heads without limits and leave
//! their accept loop on the first error; the bounded ones bring an async runtime, threads and
//! all, into a process that otherwise only waits for its child). The endpoint answers one GET
//! per connection and reads no body, so the loop is short, and every limit is ours:
//!
//! - a head of at most [`request::MAX_HEAD`] bytes, read into one fixed buffer (zeroized: it
//!   holds the token), within [`Limits::head_deadline`] from the accept, however slowly it comes;
//! - no body is ever read: a request that announces one is refused, then the connection lingers
//!   (its write side shut) draining at most [`Limits::linger_bytes`] for [`Limits::linger`], so
//!   the client reads the refusal instead of a reset;
//! - at most [`Limits::max_connections`] connections (64, or a quarter of `ulimit -n`), one
//!   thread each; at the cap, the oldest connection that is still reading (or lingering) is
//!   shut to make room, idle ones first and new ones last, so idle or slow connections never
//!   keep a fresh request out;
//! - a flood of connections is accepted no faster than the threads of those shut end, so the
//!   descriptors in use stay within twice the cap;
//! - accept errors (out of descriptors, aborted connections, ...) are retried, with a back-off
//!   and a connection shut for a descriptor, and never end the loop;
//! - `Connection: close` on every answer; the answer's bytes are zeroized once written.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

use super::handler::{Request, Response};
use super::request::{self, Parse};

/// The endpoint's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once (one thread each).
    pub max_connections: usize,
    /// From the accept to the end of the request head.
    pub head_deadline: Duration,
    /// Writing the answer.
    pub write_timeout: Duration,
    /// Draining what a client still sends after the answer (a refused body), at most this long
    /// and this many bytes.
    pub linger: Duration,
    pub linger_bytes: usize,
}

impl Limits {
    /// [`Limits::DEFAULT`] with at most a quarter of the process's descriptors for connections,
    /// so a low `ulimit -n` is never reached by the endpoint's own connections.
    pub fn for_this_process() -> Limits {
        let quarter =
            crate::platform::open_files_limit().map_or(usize::MAX, |n| usize::try_from(n / 4).unwrap_or(usize::MAX));
        Limits { max_connections: Limits::DEFAULT.max_connections.min(quarter).max(4), ..Limits::DEFAULT }
    }

    /// SDK clients send their head at once and wait 1 to 5 s for the answer.
    pub const DEFAULT: Limits = Limits {
        max_connections: 64,
        head_deadline: Duration::from_secs(3),
        write_timeout: Duration::from_secs(2),
        linger: Duration::from_secs(1),
        linger_bytes: 2 << 20,
    };
}

/// The request -> response function the loop calls for every complete head.
pub type Respond = dyn Fn(&Request<'_>) -> Response + Send + Sync;

/// Serves `listener` on a background thread for the rest of the process.
pub fn spawn(listener: TcpListener, limits: Limits, respond: Box<Respond>) -> io::Result<()> {
    let shared = Arc::new(Shared {
        limits,
        respond,
        slots: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(0),
        threads: Mutex::new(0),
        finished: Condvar::new(),
    });
    std::thread::Builder::new().name("endpoint-accept".into()).spawn(move || accept_loop(&listener, &shared))?;
    Ok(())
}

struct Shared {
    limits: Limits,
    respond: Box<Respond>,
    slots: Mutex<Vec<Slot>>,
    next_id: AtomicU64,
    /// Connection threads running, those shut to make room and not yet finished included
    /// (each still holds its descriptor).
    threads: Mutex<usize>,
    finished: Condvar,
}

/// An open connection, as the accept loop sees it.
struct Slot {
    id: u64,
    since: Instant,
    stream: Arc<TcpStream>,
    /// Still reading its head, or lingering: may be shut to make room.
    evictable: bool,
    /// Has sent something.
    heard: bool,
}

/// How long a connection counts as new when choosing which one makes room.
const GRACE: Duration = Duration::from_millis(20);

impl Shared {
    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Shuts one connection to make room (its thread sees the end of its stream and finishes)
    /// and returns its id; `None` when every connection is being answered. The order: those
    /// that never sent a byte, oldest first; then slow heads and lingering ones; a connection
    /// that has sent something within [`GRACE`] of its accept (a request about to be read)
    /// last of all.
    fn make_room(slots: &mut Vec<Slot>) -> Option<u64> {
        // A request may have arrived since its thread last read: look, all at once.
        let unheard: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].evictable && !slots[i].heard).collect();
        let streams: Vec<&TcpStream> = unheard.iter().map(|&i| &*slots[i].stream).collect();
        let ready = crate::platform::have_input(&streams);
        for (i, ready) in unheard.into_iter().zip(ready) {
            slots[i].heard |= ready;
        }
        let now = Instant::now();
        let rank = |s: &Slot| match (s.heard, now.duration_since(s.since) < GRACE) {
            (false, false) => 0,
            (false, true) => 1,
            (true, false) => 2,
            (true, true) => 3,
        };
        let i = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.evictable)
            .min_by_key(|(_, s)| (rank(s), s.since))
            .map(|(i, _)| i)?;
        let slot = slots.swap_remove(i);
        let _ = slot.stream.shutdown(Shutdown::Both);
        tracing::debug!(connection = slot.id, "shut a connection to make room");
        Some(slot.id)
    }

    fn heard(&self, id: u64) {
        if let Some(slot) = self.slots().iter_mut().find(|s| s.id == id) {
            slot.heard = true;
        }
    }

    fn set_evictable(&self, id: u64, evictable: bool) {
        if let Some(slot) = self.slots().iter_mut().find(|s| s.id == id) {
            slot.evictable = evictable;
        }
    }

    fn release(&self, id: u64) {
        self.slots().retain(|s| s.id != id);
    }

    /// Waits while connection threads number twice the cap (open connections are within the
    /// cap, so the others were shut to make room and are ending): a flood of connections is
    /// accepted no faster than their threads end, and the descriptors in use stay within twice
    /// the cap.
    fn throttle(&self) {
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        while *threads >= 2 * self.limits.max_connections {
            threads =
                self.finished.wait_timeout(threads, Duration::from_millis(5)).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    fn thread_started(&self) {
        *self.threads.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn thread_finished(&self) {
        *self.threads.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        self.finished.notify_one();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut backoff = Duration::ZERO;
    loop {
        shared.throttle();
        match listener.accept() {
            Ok((stream, _)) => {
                backoff = Duration::ZERO;
                admit(stream, shared);
            }
            // The client gave up before the accept, or a signal: nothing of ours is wrong.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
                ) => {}
            // Out of descriptors (EMFILE, ENFILE), of memory or buffers, or anything else: free a
            // descriptor, wait a little longer each time (at most 10 ms), and go on.
            Err(e) => {
                Shared::make_room(&mut shared.slots());
                backoff = (backoff * 2).clamp(Duration::from_millis(1), Duration::from_millis(10));
                tracing::debug!(error = %e, ?backoff, "accept failed; retrying");
                std::thread::sleep(backoff);
            }
        }
    }
}

fn admit(stream: TcpStream, shared: &Arc<Shared>) {
    let stream = Arc::new(stream);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut slots = shared.slots();
        let full = slots.len() >= shared.limits.max_connections;
        slots.push(Slot { id, since: Instant::now(), stream: stream.clone(), evictable: true, heard: false });
        // At the cap, the new connection is a candidate too: an idle one ranks below the slow
        // ones it would replace.
        if full && Shared::make_room(&mut slots) == Some(id) {
            return;
        }
    }
    let worker = shared.clone();
    shared.thread_started();
    let spawned = std::thread::Builder::new().name("endpoint-conn".into()).stack_size(256 << 10).spawn(move || {
        connection(&stream, id, &worker);
        worker.release(id);
        drop(stream);
        worker.thread_finished();
    });
    if spawned.is_err() {
        shared.release(id);
        shared.thread_finished();
    }
}

/// One connection: its head, its answer, the linger, the close (when `stream` is dropped).
fn connection(stream: &TcpStream, id: u64, shared: &Shared) {
    let limits = &shared.limits;
    let deadline = Instant::now() + limits.head_deadline;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let mut buf = Zeroizing::new(vec![0u8; request::MAX_HEAD]);
    let Some(response) = answer(
        stream,
        &mut buf,
        deadline,
        || shared.heard(id),
        |req| {
            shared.set_evictable(id, false);
            (shared.respond)(req)
        },
    ) else {
        return;
    };
    write_response(stream, response);
    shared.set_evictable(id, true);
    linger(stream, limits);
}

/// Reads the head into `buf` until it is complete, refused or late; `None` when the client
/// closed (or the connection was shut to make room) first.
fn answer(
    mut stream: &TcpStream,
    buf: &mut [u8],
    deadline: Instant,
    heard: impl FnOnce(),
    respond: impl FnOnce(&Request<'_>) -> Response,
) -> Option<Response> {
    let mut heard = Some(heard);
    let mut len = 0;
    let mut line_seen = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(request::TIMEOUT.response());
        }
        let _ = stream.set_read_timeout(Some(left));
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Some(request::TIMEOUT.response());
            }
            Err(_) => return None,
        };
        if let Some(heard) = heard.take() {
            heard();
        }
        let from = len;
        len += n;
        // Parse when the head may be complete, when the buffer is full, and once at the end of
        // the request line (garbage is refused without waiting for a blank line).
        let first_line = !line_seen && buf[from..len].contains(&b'\n');
        line_seen |= first_line;
        if first_line || len == buf.len() || request::head_end(&buf[..len], from).is_some() {
            match request::parse(&buf[..len]) {
                Parse::Partial => {}
                Parse::Refused(refusal) => return Some(refusal.response()),
                Parse::Complete(req) => return Some(respond(&req)),
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Writes the answer in one piece and zeroizes every copy of its body.
fn write_response(mut stream: &TcpStream, response: Response) {
    let Response { status, mut body } = response;
    let mut out = Zeroizing::new(Vec::with_capacity(256 + body.len()));
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    out.extend_from_slice(body.as_bytes());
    body.zeroize();
    let _ = stream.write_all(&out);
}

/// Shuts the write side (the client sees the end of the answer) and drains what the client
/// still sends, bounded, so that closing does not reset the connection under its reader.
fn linger(mut stream: &TcpStream, limits: &Limits) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + limits.linger;
    let mut left = limits.linger_bytes;
    let mut scratch = [0u8; 4096];
    while left > 0 {
        let time = deadline.saturating_duration_since(Instant::now());
        if time.is_zero() {
            return;
        }
        let _ = stream.set_read_timeout(Some(time));
        match stream.read(&mut scratch) {
            Ok(0) => return,
            Ok(n) => left = left.saturating_sub(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::handler;

    fn serve(limits: Limits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let respond = Box::new(|req: &Request<'_>| {
            if req.announces_body {
                handler::error(413, "RequestTooLarge", "no body")
            } else {
                Response { status: 200, body: format!("{{\"path\":\"{}\"}}", req.path) }
            }
        });
        spawn(listener, limits, respond).unwrap();
        addr
    }

    fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(bytes).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn answers_refuses_and_closes() {
        let addr = serve(Limits::DEFAULT);
        let ok = exchange(addr, b"GET /credentials HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("\r\nConnection: close\r\n") && ok.ends_with("\r\n\r\n{\"path\":\"/credentials\"}"),
            "{ok}"
        );
        let body = exchange(addr, b"GET / HTTP/1.1\r\nContent-Length: 1099511627776\r\n\r\nxxxx");
        assert!(body.starts_with("HTTP/1.1 413 Content Too Large\r\n") && body.contains("\"code\""), "{body}");
        let garbage = exchange(addr, b"\x00\x01\x02 garbage\r\n");
        assert!(garbage.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{garbage}");
    }

    #[test]
    fn a_slow_head_times_out_and_the_oldest_idle_connection_makes_room() {
        let limits = Limits { max_connections: 2, head_deadline: Duration::from_millis(300), ..Limits::DEFAULT };
        let addr = serve(limits);
        // A head that never ends gets 408 at the deadline.
        let late = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n");
        assert!(late.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{late}");

        let limits = Limits { max_connections: 2, head_deadline: Duration::from_secs(60), ..Limits::DEFAULT };
        let addr = serve(limits);
        let mut idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // Both idle connections hold the two places; a third request is still answered, and
        // the first idle one was shut for it.
        let ok = exchange(addr, b"GET /x HTTP/1.1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        idle[0].set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        assert_eq!(idle[0].read_to_end(&mut rest).unwrap(), 0, "the oldest was shut");
    }
}
