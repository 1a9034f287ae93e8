//! The request reader of the local endpoint (`server::request`) turns whatever bytes reach the
//! port into a `handler::Request`, a refusal, or "read more". Any local process, or a web page
//! through DNS rebinding, chooses those bytes.
//!
//! Input: the first byte is where the bytes are split in two reads; the rest is what the
//! client sends.
//!
//! Properties:
//! - never a panic;
//! - "read more" only below the 16 KiB head limit; a refusal is one of the documented ones and
//!   its body is the `{"code", "message"}` JSON;
//! - a complete head has a blank line (`head_end` finds it), and its method, path, Host and
//!   Authorization are pieces of the input (the reader copies nothing); the path has no query;
//! - what follows a complete head changes nothing (the endpoint reads no body);
//! - any `Transfer-Encoding` header marks a body; a request without a body never names one;
//! - `head_end` finds the same end whether the bytes arrive at once or in two reads;
//! - the handler answers the reader's request with a documented status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::server::handler::{Expect, Request, handle};
use rolegate::server::request::{MAX_HEAD, Parse, head_end, parse};

/// The fields of a complete head, as owned text (to compare two parses).
fn fields(r: &Request<'_>) -> (String, String, Option<String>, Option<String>, bool) {
    (
        r.method.to_string(),
        r.path.to_string(),
        r.host.map(str::to_string),
        r.authorization.map(str::to_string),
        r.announces_body,
    )
}

/// Whether `piece` lies inside `whole` (a borrowed slice of it).
fn within(whole: &[u8], piece: &str) -> bool {
    let (start, end) = (whole.as_ptr() as usize, whole.as_ptr() as usize + whole.len());
    let p = piece.as_ptr() as usize;
    piece.is_empty() || (p >= start && p + piece.len() <= end)
}

const TOKEN: &str = "5b1a4e0c9d8f7a6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b";

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    // The listener never hands the reader more than its buffer.
    let bytes = &bytes[..bytes.len().min(MAX_HEAD)];

    // head_end: at once, or in two reads.
    let at = usize::from(split) * bytes.len() / 256;
    let whole = head_end(bytes, 0);
    let in_two = head_end(&bytes[..at], 0).or_else(|| head_end(bytes, at));
    assert_eq!(whole, in_two, "split at {at}");

    match parse(bytes) {
        Parse::Partial => assert!(bytes.len() < MAX_HEAD, "read more at the limit"),
        Parse::Refused(r) => {
            assert!(matches!(r.status, 400 | 408 | 431), "{r:?}");
            let body: serde_json::Value = serde_json::from_str(&r.response().body).expect("JSON");
            assert_eq!(body["code"], r.code);
            assert_eq!(body["message"], r.message);
        }
        Parse::Complete(req) => {
            assert!(whole.is_some(), "a complete head without a blank line: {req:?}");
            for piece in [Some(req.method), Some(req.path), req.host, req.authorization].into_iter().flatten() {
                assert!(within(bytes, piece), "{piece:?} is not a piece of the input");
            }
            assert!(!req.path.contains('?'), "{req:?}");
            let head = String::from_utf8_lossy(&bytes[..whole.unwrap_or(0)]).to_ascii_lowercase();
            // (httparse refuses a space before the colon, so a Transfer-Encoding header is this.)
            if head.contains("\ntransfer-encoding:") {
                assert!(req.announces_body, "{req:?}");
            }

            let mut longer = bytes.to_vec();
            longer.extend_from_slice(b"\r\n\r\nGET /other HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
            longer.truncate(MAX_HEAD.max(bytes.len()));
            match parse(&longer) {
                Parse::Complete(again) => assert_eq!(fields(&again), fields(&req)),
                other => panic!("bytes after the head changed the result: {other:?}"),
            }

            let hosts = vec!["127.0.0.1:41234".to_string(), "localhost:41234".to_string()];
            let expect = Expect { path: "/credentials", token: TOKEN, hosts: &hosts };
            let status = handle(&req, &expect, Err("unavailable")).status;
            assert!(matches!(status, 401 | 403 | 404 | 405 | 413 | 503), "{status} for {req:?}");
            if status == 503 {
                assert_eq!(req.authorization, Some(TOKEN));
            }
        }
    }
});
