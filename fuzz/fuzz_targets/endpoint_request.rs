//! The local credentials endpoint of `exec --server` answers whatever reaches its port (any
//! local process, or a web page through DNS rebinding). `server::handler::handle` is the pure
//! request -> response function behind it.
//!
//! Each request field is the right value, a near miss of it (case changed, one byte more or
//! less, a prefix, a suffix) or any string, so the fuzzer reaches every check.
//!
//! Properties:
//! - never a panic;
//! - the status is exactly the documented one, checks in order: 413 (a body), 405 (not
//!   `GET`), 403 (Host not one of ours, ASCII case ignored), 404 (path not exact), 401 (no
//!   Authorization), 403 (token not exact), then 200, or 503 when the credentials are
//!   unavailable. So a 200 happens only when method, Host, path and token are exactly right;
//! - only a 200 carries the credentials, and it carries exactly them.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rolegate::credentials::{Credentials, Secret};
use rolegate::server::handler::{Expect, Request, handle};
use time::macros::datetime;

#[derive(Arbitrary, Debug)]
enum Field {
    Right,
    /// The right value with the ASCII case of byte `n` flipped.
    FlipCase(u8),
    /// The right value without its byte `n` (when that is a char boundary).
    Drop(u8),
    /// The right value with `s` inserted at byte `n` (when that is a char boundary).
    Insert(u8, String),
    Prefix(u8),
    Suffix(String),
    Any(String),
}

impl Field {
    fn make(&self, right: &str) -> String {
        let at = |n: &u8| if right.is_empty() { 0 } else { *n as usize % (right.len() + 1) };
        match self {
            Field::Right => right.to_string(),
            Field::FlipCase(n) => {
                let mut bytes = right.as_bytes().to_vec();
                if let Some(b) = bytes.get_mut(at(n)) {
                    if b.is_ascii_lowercase() {
                        *b = b.to_ascii_uppercase();
                    } else {
                        *b = b.to_ascii_lowercase();
                    }
                }
                String::from_utf8(bytes).unwrap_or_else(|_| right.to_string())
            }
            Field::Drop(n) => {
                let i = at(n);
                let mut s = right.to_string();
                if i < s.len() && s.is_char_boundary(i) && s.is_char_boundary(i + 1) {
                    s.remove(i);
                }
                s
            }
            Field::Insert(n, extra) => {
                let i = at(n);
                let mut s = right.to_string();
                if s.is_char_boundary(i) {
                    s.insert_str(i, extra);
                }
                s
            }
            Field::Prefix(n) => {
                let i = at(n);
                if right.is_char_boundary(i) { right[..i].to_string() } else { String::new() }
            }
            Field::Suffix(extra) => format!("{right}{extra}"),
            Field::Any(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: Field,
    path: Field,
    /// `None`: no Host header.
    host: Option<(bool, Field)>,
    /// `None`: no Authorization header.
    authorization: Option<Field>,
    /// A body is announced when this is above zero (the reader also marks any
    /// Transfer-Encoding so; `endpoint_reader` checks that side).
    content_length: Option<u64>,
    port: u16,
    /// The server's token: 64 hex characters as `exec --server` makes it, or any string.
    token: Option<String>,
    available: bool,
}

const TOKEN: &str = "5b1a4e0c9d8f7a6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b";
const PATH: &str = "/credentials";

fuzz_target!(|input: Input| {
    let hosts = vec![format!("127.0.0.1:{}", input.port), format!("localhost:{}", input.port)];
    let token = input.token.clone().unwrap_or_else(|| TOKEN.to_string());
    let expect = Expect { path: PATH, token: &token, hosts: &hosts };

    let method = input.method.make("GET");
    let path = input.path.make(PATH);
    let host = input.host.as_ref().map(|(localhost, f)| f.make(&hosts[usize::from(*localhost)]));
    let authorization = input.authorization.as_ref().map(|f| f.make(&token));
    let request = Request {
        method: &method,
        path: &path,
        host: host.as_deref(),
        authorization: authorization.as_deref(),
        announces_body: input.content_length.is_some_and(|n| n > 0),
    };

    let creds = Credentials {
        access_key_id: "ASIAFUZZACCESSKEYID0".into(),
        secret_access_key: Secret::new("FuzzSecretAccessKey/abcdefghijklmnopqrstuv"),
        session_token: Secret::new("FuzzSessionTokenIQoJb3JpZ2luX2VjEXAMPLE"),
        expiration: datetime!(2026-11-28 13:00:00 UTC),
        account_id: Some("123456789012".into()),
        arn: None,
    };
    let current = if input.available { Ok(&creds) } else { Err("renewal failed") };
    let response = handle(&request, &expect, current);

    let expected = if input.content_length.is_some_and(|n| n > 0) {
        413
    } else if method != "GET" {
        405
    } else if !host.as_deref().is_some_and(|h| hosts.iter().any(|e| e.eq_ignore_ascii_case(h))) {
        403
    } else if path != PATH {
        404
    } else if authorization.is_none() {
        401
    } else if authorization.as_deref() != Some(token.as_str()) {
        403
    } else if input.available {
        200
    } else {
        503
    };
    assert_eq!(response.status, expected, "{request:?}");

    let body: serde_json::Value = serde_json::from_str(&response.body).expect("the body is JSON");
    let leaks = [creds.secret_access_key.expose_secret(), creds.session_token.expose_secret(), "ASIAFUZZ"];
    if response.status == 200 {
        assert_eq!(body["AccessKeyId"], creds.access_key_id);
        assert_eq!(body["SecretAccessKey"], creds.secret_access_key.expose_secret());
        assert_eq!(body["Token"], creds.session_token.expose_secret());
        assert_eq!(body["Expiration"], "2026-11-28T13:00:00Z");
        assert_eq!(body["AccountId"], "123456789012");
    } else {
        for secret in leaks {
            assert!(!response.body.contains(secret), "a refusal carries credentials: {request:?}");
        }
        assert!(body["code"].is_string() && body["message"].is_string());
    }
});
