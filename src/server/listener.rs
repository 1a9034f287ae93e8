//! The connection loop of the local endpoint: accept, read one request head within limits,
//! answer, close.
//!
//! Hand-written on purpose, over std's sockets in non-blocking mode, one `poll` and `httparse`:
//! no maintained library offers an HTTP/1 server that is small, bounded in every dimension and
//! needs no async runtime (the small blocking servers read bodies and heads without limits and
//! leave their accept loop on the first error; the bounded ones bring an async runtime, threads
//! and all, into a process that otherwise only waits for its child). The endpoint answers one
//! GET per connection and reads no body, so the loop is short, and every limit is ours:
//!
//! - one thread serves every connection: it waits on the listener and all connections at once,
//!   and never blocks on any one of them, so the kernel's queue of connections not yet accepted
//!   is drained as fast as clients fill it (a connection flood cannot keep a request waiting
//!   behind a thread that reads, writes or ends); the queue itself is [`BACKLOG`] deep;
//! - a head of at most [`request::MAX_HEAD`] bytes, read as it arrives into one fixed buffer per
//!   connection (allocated at its first byte, zeroized: it holds the token), within
//!   [`Limits::head_deadline`] from the accept, however slowly it comes; a new connection is
//!   read at once, so a request already sent is answered at its accept;
//! - no body is ever read: a request that announces one is refused, then the connection lingers
//!   (its write side shut) draining at most [`Limits::linger_bytes`] for [`Limits::linger`], so
//!   the client reads the refusal instead of a reset;
//! - at most [`Limits::max_connections`] connections (128, or half of `ulimit -n`); at the cap,
//!   one is closed to make room: one that never sent a byte first (oldest first), then slow
//!   heads and lingering ones; a connection about to be closed unheard is read once more first
//!   (its request may have just arrived); a new connection is never closed unheard before
//!   [`Limits::first_byte`] (5 ms): when every place is taken by such connections, the next
//!   ones wait in the kernel's queue, so a flood of idle connections can neither fill the queue
//!   nor push a client out between its connect and its request;
//! - accept errors (out of descriptors, aborted connections, ...) are retried, with a back-off
//!   during which the connections are still served and a connection closed for a descriptor,
//!   and never end the loop;
//! - `Connection: close` on every answer; the answer's bytes are zeroized once written.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

use super::handler::{Request, Response};
use super::request::{self, Parse};
use crate::platform::{self, SocketWait};

/// The depth asked for the kernel's queue of connections not yet accepted (the system may cap
/// it lower). Deep enough that a local connection flood does not fill it between two turns of
/// the loop, which takes a few microseconds per queued connection.
pub const BACKLOG: i32 = 4096;

/// A listener for the endpoint: `127.0.0.1`, an ephemeral port, a [`BACKLOG`]-deep queue.
pub fn bind() -> io::Result<TcpListener> {
    platform::listen_loopback(BACKLOG)
}

/// The endpoint's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a new connection may stay silent before it may be closed to make room.
    pub first_byte: Duration,
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
    /// [`Limits::DEFAULT`] with at most half of the process's descriptors for connections
    /// (one each, no thread), so a low `ulimit -n` is never reached by the endpoint's own
    /// connections: the rest of rolegate needs about ten.
    pub fn for_this_process() -> Limits {
        let half =
            crate::platform::open_files_limit().map_or(usize::MAX, |n| usize::try_from(n / 2).unwrap_or(usize::MAX));
        Limits { max_connections: Limits::DEFAULT.max_connections.min(half).max(4), ..Limits::DEFAULT }
    }

    /// SDK clients send their head right after connecting, at once, and wait 1 to 5 s for the
    /// answer.
    pub const DEFAULT: Limits = Limits {
        max_connections: 128,
        first_byte: Duration::from_millis(5),
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
    listener.set_nonblocking(true)?;
    let mut server = Server {
        listener,
        limits,
        respond,
        connections: Vec::new(),
        pause: None,
        backoff: Duration::ZERO,
        scratch: vec![0u8; SCRATCH],
    };
    std::thread::Builder::new().name("endpoint".into()).spawn(move || server.run())?;
    Ok(())
}

/// Accepts in one turn of the loop at most, before the connections are looked at again.
const ACCEPTS_PER_TURN: usize = 256;
/// Bytes drained from one lingering connection in one turn at most, and the size of the buffer
/// they are drained into.
const SCRATCH: usize = 64 << 10;

struct Server {
    listener: TcpListener,
    limits: Limits,
    respond: Box<Respond>,
    connections: Vec<Connection>,
    /// The listener rests (the connections are still served).
    pause: Option<Pause>,
    backoff: Duration,
    scratch: Vec<u8>,
}

/// An open connection.
struct Connection {
    stream: TcpStream,
    since: Instant,
    /// Has sent something.
    heard: bool,
    state: State,
    /// Done with: closed at the end of the turn.
    closed: bool,
}

enum Pause {
    /// Every place is taken by a connection still within [`Limits::first_byte`]: until the
    /// first of them is past it, or a place is free.
    Full(Instant),
    /// An accept failed: until then.
    Error(Instant),
}

enum State {
    /// Reading the head until `deadline`: `len` bytes in `buf` (allocated at the first byte).
    Head { buf: Option<Zeroizing<Vec<u8>>>, len: usize, line_seen: bool, deadline: Instant },
    /// Writing the answer (the socket's buffer was full): `written` bytes of `out` so far.
    Answer { out: Zeroizing<Vec<u8>>, written: usize, deadline: Instant },
    /// Answered, write side shut: draining at most `left` bytes until `deadline`, then closed.
    Linger { left: usize, deadline: Instant },
}

impl State {
    fn deadline(&self) -> Instant {
        match self {
            State::Head { deadline, .. } | State::Answer { deadline, .. } | State::Linger { deadline, .. } => *deadline,
        }
    }
}

impl Server {
    /// The loop: wait for the listener or any connection, serve what is ready, close what is
    /// late, accept what is queued. Never returns.
    fn run(&mut self) {
        loop {
            // Over the cap after an accept that found no room: room may be made now.
            if self.connections.len() > self.limits.max_connections
                && let Err(until) = self.make_room(self.limits.max_connections)
            {
                self.pause = Some(Pause::Full(until));
            }
            let now = Instant::now();
            let resume = match self.pause {
                Some(Pause::Full(_)) if self.connections.len() < self.limits.max_connections => Some(now),
                Some(Pause::Full(t) | Pause::Error(t)) => Some(t),
                None => None,
            };
            if resume.is_some_and(|t| t <= now) {
                self.pause = None;
            }
            let accepting = self.pause.is_none();
            let resume = if accepting { None } else { resume };
            let next = self.connections.iter().map(|c| c.state.deadline()).chain(resume).min();
            let timeout = next.map(|t| t.saturating_duration_since(now));
            let ready = {
                let mut sockets = Vec::with_capacity(self.connections.len() + 1);
                if accepting {
                    sockets.push(SocketWait::Accept(&self.listener));
                }
                sockets.extend(self.connections.iter().map(|c| match c.state {
                    State::Answer { .. } => SocketWait::Write(&c.stream),
                    _ => SocketWait::Read(&c.stream),
                }));
                match platform::wait_sockets(&sockets, timeout) {
                    Ok(ready) => ready,
                    Err(e) => {
                        // Out of memory for the poll set, say: rest a moment, never leave.
                        tracing::debug!(error = %e, "poll failed; retrying");
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                }
            };
            let (listener_ready, connections_ready) =
                if accepting { (ready[0], &ready[1..]) } else { (false, &ready[..]) };

            // The connections first: their bytes may complete requests.
            let now = Instant::now();
            for (i, ready) in connections_ready.iter().enumerate() {
                if *ready {
                    self.advance(i, now);
                }
            }
            for i in 0..self.connections.len() {
                if !self.connections[i].closed && self.connections[i].state.deadline() <= now {
                    self.expire(i, now);
                }
            }
            self.connections.retain(|c| !c.closed);

            if listener_ready {
                self.accept_queued();
            }
        }
    }

    /// Accepts what the kernel has queued (up to [`ACCEPTS_PER_TURN`]), making room for each
    /// (the cap may be passed by one for a moment). When every place is taken by a new
    /// connection that has not spoken yet, the rest waits in the kernel's queue until the first
    /// of them has had [`Limits::first_byte`]: a new connection always has that long to send its
    /// request, and a client whose request is queued has sent it already, so it is answered at
    /// its accept.
    fn accept_queued(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    self.backoff = Duration::ZERO;
                    self.admit(stream);
                    if let Err(until) = self.make_room(self.limits.max_connections) {
                        self.pause = Some(Pause::Full(until));
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The client gave up before the accept, or a signal: nothing of ours is wrong.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
                    ) => {}
                // Out of descriptors (EMFILE, ENFILE), of memory or buffers, or anything else:
                // free a descriptor, rest the listener a little longer each time (at most
                // 10 ms), and go on.
                Err(e) => {
                    let freed = self.make_room(self.connections.len().saturating_sub(1));
                    self.backoff = (self.backoff * 2).clamp(Duration::from_millis(1), Duration::from_millis(10));
                    tracing::debug!(error = %e, backoff = ?self.backoff, "accept failed; retrying");
                    let until = Instant::now() + self.backoff;
                    self.pause = Some(Pause::Error(freed.err().map_or(until, |t| t.max(until))));
                    return;
                }
            }
        }
    }

    /// A new connection: read at once (a client sends its request right after connecting, so
    /// it has usually arrived while the connection waited in the queue), then make room.
    fn admit(&mut self, stream: TcpStream) {
        // (No TCP_NODELAY: each answer is one write followed by the end of the stream, which
        // Nagle's algorithm never holds back.)
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let now = Instant::now();
        self.connections.push(Connection {
            stream,
            since: now,
            heard: false,
            state: State::Head { buf: None, len: 0, line_seen: false, deadline: now + self.limits.head_deadline },
            closed: false,
        });
        let i = self.connections.len() - 1;
        self.advance(i, now);
        if self.connections[i].closed {
            self.connections.swap_remove(i);
        }
    }

    /// Closes connections until at most `keep` are open, in the order of [`rank`]; a new one
    /// that has not spoken yet is never closed: `Err(when)` the first of them may be. One that
    /// never sent a byte is read first, in case its request has just arrived.
    fn make_room(&mut self, keep: usize) -> Result<(), Instant> {
        while self.connections.len() > keep {
            let now = Instant::now();
            let first_byte = self.limits.first_byte;
            let Some(i) = (0..self.connections.len()).min_by_key(|&i| rank(&self.connections[i], now, first_byte))
            else {
                return Ok(());
            };
            if !self.connections[i].heard {
                self.advance(i, now);
                if self.connections[i].closed {
                    self.connections.swap_remove(i);
                    continue;
                }
                if self.connections[i].heard {
                    // It spoke (and may have been answered): choose again.
                    continue;
                }
                let since = self.connections[i].since;
                if now.duration_since(since) < first_byte {
                    return Err(since + first_byte);
                }
            }
            // Closed as it is dropped.
            self.connections.swap_remove(i);
            tracing::debug!("closed a connection to make room");
        }
        Ok(())
    }

    /// Moves connection `i` on with what its socket has (input, room to write, its end).
    fn advance(&mut self, i: usize, now: Instant) {
        let limits = self.limits;
        let connection = &mut self.connections[i];
        match &mut connection.state {
            State::Head { .. } => {
                if let Some(response) = read_head(connection, &mut self.scratch, &*self.respond) {
                    connection.answer(response, &limits, now);
                }
            }
            State::Answer { .. } => connection.write_answer(&limits, now),
            State::Linger { left, .. } => {
                let mut budget = self.scratch.len();
                loop {
                    let want = (*left).min(budget).min(self.scratch.len());
                    if want == 0 {
                        connection.closed |= *left == 0;
                        return;
                    }
                    match (&connection.stream).read(&mut self.scratch[..want]) {
                        Ok(0) => {
                            connection.closed = true;
                            return;
                        }
                        Ok(n) => {
                            *left -= n;
                            budget -= n;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                        Err(_) => {
                            connection.closed = true;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Connection `i` is past its deadline: a late head gets 408, anything else is closed.
    fn expire(&mut self, i: usize, now: Instant) {
        let limits = self.limits;
        let connection = &mut self.connections[i];
        match connection.state {
            State::Head { .. } => connection.answer(request::TIMEOUT.response(), &limits, now),
            State::Answer { .. } | State::Linger { .. } => connection.closed = true,
        }
    }
}

/// The order in which connections are closed to make room: never heard from (past
/// [`Limits::first_byte`]), then slow heads and lingering ones, then answers still being
/// written, then new connections that have not spoken yet (which are not closed: see
/// [`Server::make_room`]); within each, one accepted within `first_byte` after the others,
/// and the oldest first.
fn rank(c: &Connection, now: Instant, first_byte: Duration) -> (u8, bool, Instant) {
    let new = now.duration_since(c.since) < first_byte;
    let class = match c.state {
        State::Head { .. } if !c.heard => {
            if new {
                3
            } else {
                0
            }
        }
        State::Head { .. } | State::Linger { .. } => 1,
        State::Answer { .. } => 2,
    };
    (class, new, c.since)
}

/// Reads what has arrived of the head; the answer once it is complete, refused or the client
/// is gone (then the connection is marked closed and `None` returned). Until its first byte a
/// connection has no buffer of its own: it is read into `scratch` (then moved into a new buffer
/// and wiped), so idle connections cost no allocation.
fn read_head(connection: &mut Connection, scratch: &mut [u8], respond: &Respond) -> Option<Response> {
    let State::Head { buf, len, line_seen, .. } = &mut connection.state else { return None };
    loop {
        let read = match buf {
            Some(buf) => (&connection.stream).read(&mut buf[*len..]),
            None => (&connection.stream).read(&mut scratch[..request::MAX_HEAD]),
        };
        let n = match read {
            Ok(0) => {
                connection.closed = true;
                return None;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(_) => {
                connection.closed = true;
                return None;
            }
        };
        connection.heard = true;
        let buf = buf.get_or_insert_with(|| {
            let mut own = Zeroizing::new(vec![0u8; request::MAX_HEAD]);
            own[..n].copy_from_slice(&scratch[..n]);
            scratch[..n].zeroize();
            own
        });
        let from = *len;
        *len += n;
        // Parse when the head may be complete, when the buffer is full, and once at the end of
        // the request line (garbage is refused without waiting for a blank line).
        let first_line = !*line_seen && buf[from..*len].contains(&b'\n');
        *line_seen |= first_line;
        if first_line || *len == buf.len() || request::head_end(&buf[..*len], from).is_some() {
            match request::parse(&buf[..*len]) {
                Parse::Partial => {}
                Parse::Refused(refusal) => return Some(refusal.response()),
                Parse::Complete(req) => return Some(respond(&req)),
            }
        }
    }
}

impl Connection {
    /// Starts writing `response` (the head buffer, which held the token, is zeroized as it is
    /// dropped).
    fn answer(&mut self, response: Response, limits: &Limits, now: Instant) {
        let out = encode(response);
        self.state = State::Answer { out, written: 0, deadline: now + limits.write_timeout };
        self.write_answer(limits, now);
    }

    /// Writes what the socket takes of the answer; once all is written, shuts the write side
    /// (the client sees the end of the answer) and lingers.
    fn write_answer(&mut self, limits: &Limits, now: Instant) {
        let State::Answer { out, written, .. } = &mut self.state else { return };
        while *written < out.len() {
            match (&self.stream).write(&out[*written..]) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        self.state = State::Linger { left: limits.linger_bytes, deadline: now + limits.linger };
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

/// The answer's bytes in one piece; every copy of its body is zeroized.
fn encode(response: Response) -> Zeroizing<Vec<u8>> {
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
    out
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

        // (Idle connections may make room at once.)
        let limits = Limits {
            max_connections: 2,
            head_deadline: Duration::from_secs(60),
            first_byte: Duration::ZERO,
            ..Limits::DEFAULT
        };
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

    #[test]
    fn a_new_connection_has_its_first_byte_time_before_it_makes_room() {
        let limits = Limits { max_connections: 2, first_byte: Duration::from_millis(300), ..Limits::DEFAULT };
        let addr = serve(limits);
        // A client slow to send its request (100 ms after connecting), then an idle connection
        // and a request: with no time of its own, the slow one, the oldest without a byte,
        // would be closed to make room for them.
        let mut slow = TcpStream::connect(addr).unwrap();
        let _idle = TcpStream::connect(addr).unwrap();
        let third = exchange(addr, b"GET /third HTTP/1.1\r\n\r\n");
        assert!(third.starts_with("HTTP/1.1 200 OK\r\n"), "{third}");
        std::thread::sleep(Duration::from_millis(100));
        slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        slow.write_all(b"GET /slow HTTP/1.1\r\n\r\n").unwrap();
        let mut answer = String::new();
        slow.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }
}
