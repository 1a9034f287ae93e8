//! The request reader of the local endpoint: the bytes of a request head -> a
//! [`handler::Request`], a refusal, or "not complete yet". Pure: no I/O, no clock; the
//! connection loop ([`super::listener`]) feeds it what it has read so far.
//!
//! Parsing is `httparse`'s (zero-copy, no allocation); this module adds the endpoint's limits:
//! a head of at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] headers, one `Host`, one
//! `Authorization`, one `Content-Length` value, all header values the endpoint reads in UTF-8.
//! A request that announces a body (`Content-Length` above zero, or any `Transfer-Encoding`) is
//! marked so and refused by the handler: the body is never read.

use super::handler;

/// The largest request head accepted, request line and headers together.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most headers accepted in one request.
pub const MAX_HEADERS: usize = 32;

/// A request the reader refuses before the handler sees it. The connection is closed after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
}

impl Refusal {
    /// The JSON response of the wire contract: `{"code", "message"}`.
    pub fn response(&self) -> handler::Response {
        handler::error(self.status, self.code, self.message)
    }
}

pub const BAD_REQUEST: Refusal =
    Refusal { status: 400, code: "BadRequest", message: "the request is not valid HTTP/1" };
pub const HEAD_TOO_LARGE: Refusal = Refusal {
    status: 431,
    code: "RequestHeaderFieldsTooLarge",
    message: "the request head is larger than 16 KiB or has more than 32 headers",
};
pub const DUPLICATE_HEADER: Refusal =
    Refusal { status: 400, code: "BadRequest", message: "Host, Authorization and Content-Length may appear once each" };
pub const BAD_CONTENT_LENGTH: Refusal =
    Refusal { status: 400, code: "BadRequest", message: "the Content-Length header is not a number" };
pub const TIMEOUT: Refusal =
    Refusal { status: 408, code: "RequestTimeout", message: "the request head did not arrive in time" };

/// What the bytes read so far amount to.
#[derive(Debug)]
pub enum Parse<'a> {
    /// A complete head; any bytes after it are ignored (the endpoint reads no body).
    Complete(handler::Request<'a>),
    /// Refused: answer with the refusal and close.
    Refused(Refusal),
    /// Well-formed so far: read more (the caller stops at [`MAX_HEAD`] bytes or its deadline).
    Partial,
}

/// Reads a request head from the start of `buf`.
pub fn parse(buf: &[u8]) -> Parse<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let end = match req.parse(buf) {
        Ok(httparse::Status::Complete(end)) => end,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Parse::Refused(HEAD_TOO_LARGE),
        Ok(httparse::Status::Partial) => return Parse::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parse::Refused(HEAD_TOO_LARGE),
        Err(_) => return Parse::Refused(BAD_REQUEST),
    };
    if end > MAX_HEAD {
        return Parse::Refused(HEAD_TOO_LARGE);
    }
    let (Some(method), Some(target)) = (req.method, req.path) else { return Parse::Refused(BAD_REQUEST) };

    let mut host = None;
    let mut authorization = None;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("Transfer-Encoding") {
            transfer_encoding = true;
            continue;
        }
        let slot = if name.eq_ignore_ascii_case("Host") {
            &mut host
        } else if name.eq_ignore_ascii_case("Authorization") {
            &mut authorization
        } else if name.eq_ignore_ascii_case("Content-Length") {
            let Some(n) = decimal(h.value) else { return Parse::Refused(BAD_CONTENT_LENGTH) };
            // Repeated with the same value is allowed (RFC 9110 8.6); different values are not.
            if content_length.is_some_and(|m| m != n) {
                return Parse::Refused(DUPLICATE_HEADER);
            }
            content_length = Some(n);
            continue;
        } else {
            continue;
        };
        if slot.is_some() {
            return Parse::Refused(DUPLICATE_HEADER);
        }
        let Ok(value) = std::str::from_utf8(h.value) else { return Parse::Refused(BAD_REQUEST) };
        *slot = Some(value);
    }
    let path = target.split('?').next().unwrap_or("");
    Parse::Complete(handler::Request {
        method,
        path,
        host,
        authorization,
        announces_body: transfer_encoding || content_length.is_some_and(|n| n > 0),
    })
}

/// Where the head ends in `buf` (just after its blank line), looking only at the bytes from
/// `new_from` on (and the three before them): the caller calls it after each read, so the whole
/// head is scanned once however it arrives.
pub fn head_end(buf: &[u8], new_from: usize) -> Option<usize> {
    let start = new_from.saturating_sub(3).min(buf.len());
    let window = &buf[start..];
    (0..window.len()).find_map(|i| {
        let rest = &window[i..];
        if rest.starts_with(b"\n\n") {
            Some(start + i + 2)
        } else if rest.starts_with(b"\n\r\n") {
            Some(start + i + 3)
        } else {
            None
        }
    })
}

/// A Content-Length value: ASCII digits only (no sign, no spaces inside), within `u64`.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(text: &[u8]) -> handler::Request<'_> {
        match parse(text) {
            Parse::Complete(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_what_the_sdks_send() {
        let r = complete(b"GET /credentials?x=1 HTTP/1.1\r\nHost: 127.0.0.1:4000\r\nAuthorization: t0ken\r\nAccept-Encoding: identity\r\nUser-Agent: Botocore/1.35\r\n\r\n");
        assert_eq!(
            (r.method, r.path, r.host, r.authorization, r.announces_body),
            ("GET", "/credentials", Some("127.0.0.1:4000"), Some("t0ken"), false)
        );
        let r = complete(b"GET / HTTP/1.0\nhost: localhost:1\nContent-Length: 0\n\nbody ignored");
        assert_eq!((r.host, r.authorization, r.announces_body), (Some("localhost:1"), None, false));
    }

    #[test]
    fn marks_a_body_and_refuses_what_is_ambiguous() {
        assert!(complete(b"GET / HTTP/1.1\r\nContent-Length: 1099511627776\r\n\r\n").announces_body);
        assert!(complete(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").announces_body);
        assert!(complete(b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").announces_body);
        let refused = |text: &[u8]| match parse(text) {
            Parse::Refused(r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"), BAD_CONTENT_LENGTH);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"), BAD_CONTENT_LENGTH);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), DUPLICATE_HEADER);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), DUPLICATE_HEADER);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: a\r\n\r\n"), DUPLICATE_HEADER);
        assert_eq!(refused(b"GET / HTTP/1.1\r\nAuthorization: \xff\r\n\r\n"), BAD_REQUEST);
        assert_eq!(refused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), BAD_REQUEST);
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(refused(many.as_bytes()), HEAD_TOO_LARGE);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "y".repeat(MAX_HEAD));
        assert_eq!(refused(long.as_bytes()), HEAD_TOO_LARGE);
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(MAX_HEAD));
        assert_eq!(refused(long.as_bytes()), HEAD_TOO_LARGE);
        assert!(matches!(parse(b"GET /credentials HTTP/1.1\r\nHost: x"), Parse::Partial));
    }

    #[test]
    fn finds_the_end_of_the_head_however_it_arrives() {
        let text = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
        let end = text.len() - 4;
        for split in 0..text.len() {
            // Bytes up to `split` were scanned already; the rest arrives now.
            let first = head_end(&text[..split], 0);
            let found = first.or_else(|| head_end(text, split));
            assert_eq!(found, Some(end), "split at {split}");
        }
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n\n", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
    }
}
