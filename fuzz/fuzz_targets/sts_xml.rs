//! STS response bodies come from the network (or from whatever answers on a custom endpoint).
//!
//! Properties:
//! - `parse_credentials` and `parse_error` never panic;
//! - the error of `parse_credentials` never quotes the body (it may hold secrets): the target
//!   plants a marker in the body and asserts that no part of it (6 characters or more) shows
//!   up in the error. To let the fuzzer place the marker cheaply anywhere (a tag name, an
//!   attribute, text, an entity name), every `$` in the input is replaced by the marker;
//! - credentials that parse are complete (no empty key, secret or token) and their expiration
//!   is in UTC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::sts::xml::{parse_credentials, parse_error};

const MARK: &str = "SECRETMARK";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let body = text.replace('$', MARK);

    match parse_credentials(&body) {
        Ok(c) => {
            assert!(!c.access_key_id.is_empty());
            assert!(!c.secret_access_key.expose_secret().is_empty());
            assert!(!c.session_token.expose_secret().is_empty());
            assert!(c.expiration.offset().is_utc());
            if let Some(account) = &c.account_id {
                assert_eq!(account.len(), 12);
            }
        }
        Err(e) => {
            // Any 6-character piece of the marker would be a (partial) echo of the body.
            for start in 0..=MARK.len() - 6 {
                let piece = &MARK[start..start + 6];
                assert!(!e.contains(piece), "the error quotes the body: {e:?}");
            }
            assert!(e.chars().count() <= 80, "the error is short: {e:?}");
        }
    }

    // The code and message of an ErrorResponse are shown to the user (documented): only
    // "no panic" here.
    let _ = parse_error(&body);
});
