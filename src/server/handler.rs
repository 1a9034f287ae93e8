//! The request -> response function of the local endpoint. Pure: no I/O, no clock.

use subtle::ConstantTimeEq;

use crate::credentials::Credentials;
use crate::output::credential_process::format_expiration;

/// What the listener saw of a request (the body is never read: a GET has none).
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub host: Option<&'a str>,
    pub authorization: Option<&'a str>,
    /// `Content-Length` above zero or any `Transfer-Encoding`: refused, the body never read.
    pub announces_body: bool,
}

/// Status and JSON body. The body may hold secrets: never log it.
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response").field("status", &self.status).finish_non_exhaustive()
    }
}

/// What the server is configured to accept.
pub struct Expect<'a> {
    pub path: &'a str,
    pub token: &'a str,
    /// `127.0.0.1:PORT` and `localhost:PORT`.
    pub hosts: &'a [String],
}

/// A refusal: `{"code", "message"}`, never anything about the credentials.
pub fn error(status: u16, code: &str, message: &str) -> Response {
    Response { status, body: serde_json::json!({"code": code, "message": message}).to_string() }
}

/// Checks in this order, each refusal saying nothing about the credentials: size, method,
/// Host (against DNS rebinding), path, token (constant time).
pub fn handle(req: &Request<'_>, expect: &Expect<'_>, current: Result<&Credentials, &str>) -> Response {
    if req.announces_body {
        return error(413, "RequestTooLarge", "this endpoint takes no request body");
    }
    if req.method != "GET" {
        return error(405, "MethodNotAllowed", "only GET is served");
    }
    if !req.host.is_some_and(|h| expect.hosts.iter().any(|e| e.eq_ignore_ascii_case(h))) {
        return error(403, "InvalidHost", "the Host header does not name this endpoint");
    }
    if req.path != expect.path {
        return error(404, "NotFound", "no such path");
    }
    let Some(given) = req.authorization else {
        return error(401, "MissingToken", "the Authorization header is missing");
    };
    if !bool::from(given.as_bytes().ct_eq(expect.token.as_bytes())) {
        return error(403, "InvalidToken", "the Authorization header is not this endpoint's token");
    }
    match current {
        Ok(c) => {
            let mut body = serde_json::json!({
                "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key.expose_secret(),
                "Token": c.session_token.expose_secret(),
                "Expiration": format_expiration(c.expiration),
            });
            if let Some(account) = &c.account_id {
                body["AccountId"] = serde_json::Value::String(account.clone());
            }
            Response { status: 200, body: body.to_string() }
        }
        Err(message) => error(503, "CredentialsUnavailable", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "ASIAX".into(),
            secret_access_key: Secret::new("SECRET"),
            session_token: Secret::new("TOKEN"),
            expiration: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            account_id: Some("123456789012".into()),
            arn: None,
        }
    }

    fn req<'a>(method: &'a str, path: &'a str, host: Option<&'a str>, auth: Option<&'a str>) -> Request<'a> {
        Request { method, path, host, authorization: auth, announces_body: false }
    }

    #[test]
    fn serves_the_ecs_contract_and_refuses_everything_else() {
        let hosts = vec!["127.0.0.1:4000".to_string(), "localhost:4000".to_string()];
        let expect = Expect { path: "/credentials", token: "t0ken", hosts: &hosts };
        let c = creds();
        let ok = handle(&req("GET", "/credentials", Some("127.0.0.1:4000"), Some("t0ken")), &expect, Ok(&c));
        assert_eq!(ok.status, 200);
        let v: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
        assert_eq!(v["Token"], "TOKEN");
        assert_eq!(v["Expiration"], "2026-01-02T03:04:05Z");
        assert_eq!(v["AccountId"], "123456789012");

        let cases = [
            (req("GET", "/credentials", Some("127.0.0.1:4000"), None), 401),
            (req("GET", "/credentials", Some("127.0.0.1:4000"), Some("t0keN")), 403),
            (req("GET", "/credentials", Some("evil.example:4000"), Some("t0ken")), 403),
            (req("GET", "/credentials", None, Some("t0ken")), 403),
            (req("POST", "/credentials", Some("127.0.0.1:4000"), Some("t0ken")), 405),
            (req("GET", "/other", Some("127.0.0.1:4000"), Some("t0ken")), 404),
            (
                Request { announces_body: true, ..req("GET", "/credentials", Some("127.0.0.1:4000"), Some("t0ken")) },
                413,
            ),
        ];
        for (r, status) in cases {
            let resp = handle(&r, &expect, Ok(&c));
            assert_eq!(resp.status, status, "{r:?}");
            assert!(!resp.body.contains("SECRET") && !resp.body.contains("TOKEN"), "{r:?}");
        }
        let down =
            handle(&req("GET", "/credentials", Some("localhost:4000"), Some("t0ken")), &expect, Err("renewal failed"));
        assert_eq!((down.status, down.body.contains("renewal failed")), (503, true));
    }
}
