//! The conformance suite of the STS emulators: it checks that the strict stand-in
//! (`common/strict_sts/`) behaves like real STS (its answers, error codes and messages, MFA and
//! session rules, clocks, and its SigV4 verification against our signer, botocore and the Go
//! SDK), so that tests run against it mean what they would against STS; and that the moto
//! fixture does what the tests rely on.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use crate::common::moto::Moto;
use crate::common::strict_sts::{
    MSG_EXPIRED_TOKEN, MSG_INVALID_MFA_CODE, MSG_ROLE_CHAINING_LIMIT, MSG_ROLE_MAX_DURATION, MSG_SESSION_CREDENTIALS,
    MSG_UNKNOWN_MFA_DEVICE, RoleSpec, StrictSts, StsCredentials, StsResponse, form_body, post_raw, sign_and_post,
    sign_headers,
};

const ALICE_KEY: &str = "AKIAALICE00000000001";
const ALICE_SECRET: &str = "alice/secret/KEY+0000000000000000000000";
const ALICE_ARN: &str = "arn:aws:iam::111111111111:user/alice";
const MFA_SERIAL: &str = "arn:aws:iam::111111111111:mfa/alice";
const ADMIN_ROLE: &str = "arn:aws:iam::222222222222:role/admin";
const PLAIN_ROLE: &str = "arn:aws:iam::222222222222:role/path/readonly";
const PARTNER_ROLE: &str = "arn:aws:iam::333333333333:role/partner";

/// A stand-in with alice, her MFA device, an MFA role (12 h max), a plain role and a role
/// with an external ID.
fn standin() -> StrictSts {
    let sts = StrictSts::start();
    sts.add_user(ALICE_KEY, ALICE_SECRET, ALICE_ARN);
    sts.add_mfa_device(MFA_SERIAL);
    sts.add_role(RoleSpec::new(ADMIN_ROLE).requiring_mfa().with_max_session_duration(43200));
    sts.add_role(RoleSpec::new(PLAIN_ROLE));
    sts.add_role(RoleSpec::new(PARTNER_ROLE).with_external_id("ext-42"));
    sts
}

fn alice() -> StsCredentials {
    StsCredentials::long_term(ALICE_KEY, ALICE_SECRET)
}

fn session_token(sts: &StrictSts, creds: &StsCredentials, code: Option<&str>) -> StsResponse {
    let mut params = vec![("Action", "GetSessionToken"), ("DurationSeconds", "3600")];
    if let Some(code) = code {
        params.extend([("SerialNumber", MFA_SERIAL), ("TokenCode", code)]);
    }
    sign_and_post(&sts.url(), creds, &params)
}

fn assume(sts: &StrictSts, creds: &StsCredentials, role: &str, extra: &[(&str, &str)]) -> StsResponse {
    let mut params = vec![("Action", "AssumeRole"), ("RoleArn", role), ("RoleSessionName", "tester")];
    params.extend_from_slice(extra);
    sign_and_post(&sts.url(), creds, &params)
}

fn caller_arn(sts: &StrictSts, creds: &StsCredentials) -> StsResponse {
    sign_and_post(&sts.url(), creds, &[("Action", "GetCallerIdentity")])
}

#[track_caller]
fn assert_ok(response: &StsResponse) -> StsCredentials {
    assert_eq!(response.status, 200, "{}", response.body);
    response.credentials().expect("credentials in the answer")
}

#[track_caller]
fn assert_error(response: &StsResponse, status: u16, code: &str, message: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.error_code().as_deref(), Some(code), "{}", response.body);
    assert_eq!(response.error_message().as_deref(), Some(message), "{}", response.body);
    assert!(response.body.contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"));
    assert!(response.body.contains("<Type>Sender</Type>"));
}

fn not_authorized(principal: &str, role: &str) -> String {
    format!("User: {principal} is not authorized to perform: sts:AssumeRole on resource: {role}")
}

#[test]
fn get_session_token_with_a_valid_code_issues_fresh_credentials() {
    let sts = standin();
    let response = session_token(&sts, &alice(), Some("123456"));
    let creds = assert_ok(&response);
    assert!(response.body.starts_with("<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"));
    assert!(response.text("RequestId").is_some());

    assert_eq!(creds.access_key_id.len(), 20);
    assert!(creds.access_key_id.starts_with("ASIA"));
    assert!(creds.access_key_id[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert_eq!(creds.secret_access_key.len(), 40);
    assert!(creds.session_token.as_ref().is_some_and(|t| t.len() > 200));
    let expiration = creds.expiration.clone().unwrap();
    let parsed = time::OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 expiration");
    assert!(expiration.ends_with('Z') && expiration.len() == 20, "{expiration}");
    let lifetime = parsed - sts.now();
    assert!((3590..=3600).contains(&lifetime.whole_seconds()), "{lifetime}");

    // The session acts as alice.
    let me = caller_arn(&sts, &creds);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.text("Arn").as_deref(), Some(ALICE_ARN));
    assert_eq!(me.text("Account").as_deref(), Some("111111111111"));
    assert!(me.text("UserId").is_some_and(|id| id.starts_with("AIDA")));

    // Every issued set is new.
    let other = assert_ok(&session_token(&sts, &alice(), None));
    assert_ne!(other.access_key_id, creds.access_key_id);
    assert_ne!(other.secret_access_key, creds.secret_access_key);
    assert_ne!(other.session_token, creds.session_token);

    let calls = sts.calls();
    assert_eq!(calls[0].action, "GetSessionToken");
    assert_eq!(calls[0].access_key_id, ALICE_KEY);
    assert_eq!(calls[0].serial_number.as_deref(), Some(MFA_SERIAL));
    assert_eq!(calls[0].token_code.as_deref(), Some("123456"));
    assert_eq!(calls[0].duration_seconds, Some(3600));
    assert_eq!((calls[0].status, calls[0].error_code.clone()), (200, None));
    assert_eq!(calls[1].access_key_id, creds.access_key_id);
    assert_eq!(sts.count("GetSessionToken"), 2);
    assert_eq!(sts.count("GetCallerIdentity"), 1);
}

#[test]
fn mfa_codes_are_single_use_and_wrong_codes_are_rejected() {
    let sts = standin();
    assert_ok(&session_token(&sts, &alice(), Some("123456")));
    let reused = session_token(&sts, &alice(), Some("123456"));
    assert_error(&reused, 403, "AccessDenied", MSG_INVALID_MFA_CODE);

    sts.reject_code("654321");
    let wrong = session_token(&sts, &alice(), Some("654321"));
    assert_error(&wrong, 403, "AccessDenied", MSG_INVALID_MFA_CODE);

    // A wrong code burned nothing: a fresh code still works.
    assert_ok(&session_token(&sts, &alice(), Some("222222")));

    let unknown_device = sign_and_post(
        &sts.url(),
        &alice(),
        &[
            ("Action", "GetSessionToken"),
            ("SerialNumber", "arn:aws:iam::111111111111:mfa/mallory"),
            ("TokenCode", "333333"),
        ],
    );
    assert_error(&unknown_device, 403, "AccessDenied", MSG_UNKNOWN_MFA_DEVICE);

    let short = session_token(&sts, &alice(), Some("12345"));
    assert_eq!((short.status, short.error_code().as_deref()), (400, Some("ValidationError")));

    assert_eq!(sts.count("GetSessionToken"), 2);
    assert_eq!(sts.attempts("GetSessionToken"), 6);
    let failed: Vec<_> = sts.calls().into_iter().filter(|c| c.status != 200).collect();
    assert_eq!(failed.len(), 4);
    assert_eq!(failed[0].error_code.as_deref(), Some("AccessDenied"));
}

#[test]
fn a_skewed_clock_refuses_signatures_outside_15_minutes_and_tells_its_time() {
    let sts = standin();
    let date_of = |r: &StsResponse| {
        let date = r.date.as_deref().expect("a Date header");
        time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc2822).expect("an HTTP date")
    };
    let offset = |r: &StsResponse| (date_of(r) - time::OffsetDateTime::now_utc()).whole_seconds();

    // STS an hour ahead: a request signed by the machine's clock is an hour old.
    sts.set_skew(3600);
    let old = session_token(&sts, &alice(), Some("123456"));
    assert_eq!((old.status, old.error_code().as_deref()), (403, Some("SignatureDoesNotMatch")), "{}", old.body);
    let message = old.error_message().unwrap();
    assert!(message.starts_with("Signature expired: ") && message.ends_with(" - 15 min.)"), "{message}");
    assert!((3595..=3601).contains(&offset(&old)), "the Date header is STS's clock: {:?}", old.date);

    // An hour behind: the request is from the future.
    sts.set_skew(-3600);
    let early = session_token(&sts, &alice(), Some("123456"));
    let message = early.error_message().unwrap();
    assert!(message.starts_with("Signature not yet current: ") && message.ends_with(" + 15 min.)"), "{message}");
    assert!((-3601..=-3595).contains(&offset(&early)));

    // Within 15 minutes: accepted, and the refused attempts did not use the code up.
    sts.set_skew(14 * 60);
    let ok = session_token(&sts, &alice(), Some("123456"));
    let creds = assert_ok(&ok);
    assert!((835..=841).contains(&offset(&ok)));
    // Its credentials expire by STS's clock: an hour from STS's now.
    let expiration = ok.text("Expiration").unwrap();
    let expiration = time::OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(((expiration - date_of(&ok)).whole_seconds() - 3600).abs() <= 1, "{expiration}");
    let identity = caller_arn(&sts, &creds);
    assert_eq!(identity.status, 200, "{}", identity.body);
    assert_eq!(sts.count("GetSessionToken"), 1);
}

#[test]
fn mfa_role_needs_an_mfa_session_or_a_code() {
    let sts = standin();
    let mfa_session = assert_ok(&session_token(&sts, &alice(), Some("100001")));
    let plain_session = assert_ok(&session_token(&sts, &alice(), None));

    let response = assume(&sts, &mfa_session, ADMIN_ROLE, &[]);
    let role = assert_ok(&response);
    assert!(response.body.starts_with("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"));
    let assumed_arn = "arn:aws:sts::222222222222:assumed-role/admin/tester";
    assert_eq!(response.text("Arn").as_deref(), Some(assumed_arn));
    let role_id = response.text("AssumedRoleId").unwrap();
    assert!(role_id.starts_with("AROA") && role_id.ends_with(":tester"), "{role_id}");

    let me = caller_arn(&sts, &role);
    assert_eq!(me.text("Arn").as_deref(), Some(assumed_arn));
    assert_eq!(me.text("UserId"), Some(role_id));
    assert_eq!(me.text("Account").as_deref(), Some("222222222222"));

    // Without MFA: denied, from a plain session and from the long-term keys.
    let denied = assume(&sts, &plain_session, ADMIN_ROLE, &[]);
    assert_error(&denied, 403, "AccessDenied", &not_authorized(ALICE_ARN, ADMIN_ROLE));
    let denied = assume(&sts, &alice(), ADMIN_ROLE, &[]);
    assert_error(&denied, 403, "AccessDenied", &not_authorized(ALICE_ARN, ADMIN_ROLE));

    // With a code on the AssumeRole call itself: allowed, and the code is then spent.
    let with_code = [("SerialNumber", MFA_SERIAL), ("TokenCode", "100002")];
    assert_ok(&assume(&sts, &alice(), ADMIN_ROLE, &with_code));
    let again = assume(&sts, &alice(), ADMIN_ROLE, &with_code);
    assert_error(&again, 403, "AccessDenied", MSG_INVALID_MFA_CODE);

    // A role without conditions is open to a plain session; its name is the last path segment.
    let readonly = assume(&sts, &plain_session, PLAIN_ROLE, &[]);
    assert_eq!(readonly.text("Arn").as_deref(), Some("arn:aws:sts::222222222222:assumed-role/readonly/tester"));

    // Unknown role.
    let ghost = "arn:aws:iam::222222222222:role/ghost";
    assert_error(&assume(&sts, &alice(), ghost, &[]), 403, "AccessDenied", &not_authorized(ALICE_ARN, ghost));

    let calls = sts.calls();
    let first_assume = calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(first_assume.role_arn.as_deref(), Some(ADMIN_ROLE));
    assert_eq!(first_assume.role_session_name.as_deref(), Some("tester"));
    assert_eq!(first_assume.access_key_id, mfa_session.access_key_id);
}

#[test]
fn external_id_must_match() {
    let sts = standin();
    let denied = not_authorized(ALICE_ARN, PARTNER_ROLE);
    assert_error(&assume(&sts, &alice(), PARTNER_ROLE, &[]), 403, "AccessDenied", &denied);
    let wrong = assume(&sts, &alice(), PARTNER_ROLE, &[("ExternalId", "ext-41")]);
    assert_error(&wrong, 403, "AccessDenied", &denied);
    assert_ok(&assume(&sts, &alice(), PARTNER_ROLE, &[("ExternalId", "ext-42")]));
    assert_eq!(sts.calls()[2].external_id.as_deref(), Some("ext-42"));
}

#[test]
fn session_tags_and_source_identity_are_checked_and_recorded() {
    let sts = standin();
    const TAGGED_ROLE: &str = "arn:aws:iam::222222222222:role/tagged";
    sts.add_role(RoleSpec::new(TAGGED_ROLE).allowing_session_tags_and_source_identity());
    let tags = [
        ("SourceIdentity", "alice"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "blue"),
        ("Tags.member.2.Key", "cost center"),
        ("Tags.member.2.Value", "a=b"),
        ("TransitiveTagKeys.member.1", "team"),
    ];
    assert_ok(&assume(&sts, &alice(), TAGGED_ROLE, &tags));
    let call = sts.calls().last().cloned().unwrap();
    assert_eq!(call.source_identity.as_deref(), Some("alice"));
    assert_eq!(call.session_tags, [("team".to_string(), "blue".to_string()), ("cost center".into(), "a=b".into())]);
    assert_eq!(call.transitive_tag_keys, ["team"]);

    // A trust policy without sts:TagSession / sts:SetSourceIdentity refuses them.
    let tag_denied =
        format!("User: {ALICE_ARN} is not authorized to perform: sts:TagSession on resource: {PLAIN_ROLE}");
    assert_error(&assume(&sts, &alice(), PLAIN_ROLE, &tags[1..3]), 403, "AccessDenied", &tag_denied);
    let id_denied =
        format!("User: {ALICE_ARN} is not authorized to perform: sts:SetSourceIdentity on resource: {PLAIN_ROLE}");
    assert_error(&assume(&sts, &alice(), PLAIN_ROLE, &tags[..1]), 403, "AccessDenied", &id_denied);

    // Formats.
    let refused = |extra: &[(&str, &str)]| {
        let r = assume(&sts, &alice(), TAGGED_ROLE, extra);
        assert_eq!(r.status, 400, "{extra:?}: {}", r.body);
        r.error_code().unwrap()
    };
    assert_eq!(refused(&[("SourceIdentity", "a")]), "ValidationError");
    assert_eq!(refused(&[("SourceIdentity", "aws:me")]), "ValidationError", "`:` is not in the pattern");
    assert_eq!(refused(&[("Tags.member.1.Key", "k")]), "ValidationError", "a key without a value");
    assert_eq!(refused(&[("Tags.member.2.Key", "k"), ("Tags.member.2.Value", "v")]), "InvalidParameterValue");
    assert_eq!(refused(&[("Tags.member.1.Key", "k*"), ("Tags.member.1.Value", "v")]), "ValidationError");
    assert_eq!(refused(&[("Tags.member.1.Key", "aws:k"), ("Tags.member.1.Value", "v")]), "InvalidParameterValue");
    assert_eq!(
        refused(&[
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "a"),
            ("Tags.member.2.Key", "team"),
            ("Tags.member.2.Value", "b")
        ]),
        "InvalidParameterValue",
        "keys are case-insensitive"
    );
    assert_eq!(refused(&[("TransitiveTagKeys.member.1", "")]), "ValidationError");
    let long_value = "v".repeat(257);
    assert_eq!(refused(&[("Tags.member.1.Key", "k"), ("Tags.member.1.Value", &long_value)]), "ValidationError");
}

#[test]
fn durations_are_capped_by_role_chaining_and_role_maximum() {
    let sts = standin();
    let session = assert_ok(&session_token(&sts, &alice(), Some("200001")));

    // Temporary credentials: at most one hour, whatever the role allows.
    let chained = assume(&sts, &session, ADMIN_ROLE, &[("DurationSeconds", "7200")]);
    assert_error(&chained, 400, "ValidationError", MSG_ROLE_CHAINING_LIMIT);
    let role = assert_ok(&assume(&sts, &session, ADMIN_ROLE, &[("DurationSeconds", "3600")]));
    let from_role = assume(&sts, &role, PLAIN_ROLE, &[("DurationSeconds", "3601")]);
    assert_error(&from_role, 400, "ValidationError", MSG_ROLE_CHAINING_LIMIT);
    assert_ok(&assume(&sts, &role, PLAIN_ROLE, &[]));

    // Long-term keys: up to the role's maximum.
    let code = [("SerialNumber", MFA_SERIAL), ("TokenCode", "200002"), ("DurationSeconds", "43200")];
    assert_ok(&assume(&sts, &alice(), ADMIN_ROLE, &code));
    let too_long = assume(&sts, &alice(), PLAIN_ROLE, &[("DurationSeconds", "7200")]);
    assert_error(&too_long, 400, "ValidationError", MSG_ROLE_MAX_DURATION);

    // Range checks.
    let short = assume(&sts, &alice(), PLAIN_ROLE, &[("DurationSeconds", "899")]);
    assert_eq!((short.status, short.error_code().as_deref()), (400, Some("ValidationError")));
    let gst = sign_and_post(&sts.url(), &alice(), &[("Action", "GetSessionToken"), ("DurationSeconds", "129601")]);
    assert_eq!((gst.status, gst.error_code().as_deref()), (400, Some("ValidationError")));
    let bad_name = sign_and_post(
        &sts.url(),
        &alice(),
        &[("Action", "AssumeRole"), ("RoleArn", PLAIN_ROLE), ("RoleSessionName", "has space")],
    );
    assert_eq!((bad_name.status, bad_name.error_code().as_deref()), (400, Some("ValidationError")));

    // GetSessionToken is for long-term keys only.
    assert_error(&session_token(&sts, &session, None), 403, "AccessDenied", MSG_SESSION_CREDENTIALS);
    assert_error(&session_token(&sts, &role, None), 403, "AccessDenied", MSG_SESSION_CREDENTIALS);
}

#[test]
fn bad_signatures_and_unknown_keys_are_rejected() {
    let sts = standin();
    let identity = [("Action", "GetCallerIdentity")];

    let wrong_secret = StsCredentials::long_term(ALICE_KEY, "not-the-secret");
    let response = sign_and_post(&sts.url(), &wrong_secret, &identity);
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.error_code().as_deref(), Some("SignatureDoesNotMatch"));

    let unknown = StsCredentials::long_term("AKIAUNKNOWN000000000", ALICE_SECRET);
    let response = sign_and_post(&sts.url(), &unknown, &identity);
    assert_eq!((response.status, response.error_code().as_deref()), (403, Some("InvalidClientTokenId")));

    // A body changed after signing.
    let signed_body = form_body(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let headers = sign_headers(&sts.url(), &alice(), "sts", "us-east-1", signed_body.as_bytes(), SystemTime::now());
    let tampered = post_raw(&sts.url(), &headers, b"Action=GetSessionToken&Version=2011-06-15");
    assert_eq!((tampered.status, tampered.error_code().as_deref()), (403, Some("SignatureDoesNotMatch")));
    // The same headers with the body they signed are fine, also signed 10 minutes ago; three
    // days ago is too old.
    let recent = SystemTime::now() - Duration::from_secs(600);
    let headers = sign_headers(&sts.url(), &alice(), "sts", "eu-west-1", signed_body.as_bytes(), recent);
    assert_eq!(post_raw(&sts.url(), &headers, signed_body.as_bytes()).status, 200);
    let past = SystemTime::now() - Duration::from_secs(86_400 * 3);
    let headers = sign_headers(&sts.url(), &alice(), "sts", "eu-west-1", signed_body.as_bytes(), past);
    let old = post_raw(&sts.url(), &headers, signed_body.as_bytes());
    assert_eq!((old.status, old.error_code().as_deref()), (403, Some("SignatureDoesNotMatch")));
    assert!(old.error_message().unwrap().starts_with("Signature expired: "), "{}", old.body);

    // Scoped to another service.
    let headers = sign_headers(&sts.url(), &alice(), "iam", "us-east-1", signed_body.as_bytes(), SystemTime::now());
    let response = post_raw(&sts.url(), &headers, signed_body.as_bytes());
    assert_eq!((response.status, response.error_code().as_deref()), (403, Some("SignatureDoesNotMatch")));

    // Unsigned.
    let response = post_raw(
        &sts.url(),
        &[("content-type".into(), "application/x-www-form-urlencoded".into())],
        signed_body.as_bytes(),
    );
    assert_eq!((response.status, response.error_code().as_deref()), (403, Some("MissingAuthenticationToken")));

    // Temporary keys without, or with the wrong, session token.
    let session = assert_ok(&session_token(&sts, &alice(), None));
    let no_token = StsCredentials { session_token: None, ..session.clone() };
    let response = sign_and_post(&sts.url(), &no_token, &identity);
    assert_eq!((response.status, response.error_code().as_deref()), (403, Some("InvalidClientTokenId")));
    let wrong_token = StsCredentials { session_token: Some("forged".into()), ..session.clone() };
    let response = sign_and_post(&sts.url(), &wrong_token, &identity);
    assert_eq!((response.status, response.error_code().as_deref()), (403, Some("InvalidClientTokenId")));
    let wrong_secret = StsCredentials { secret_access_key: ALICE_SECRET.into(), ..session.clone() };
    let response = sign_and_post(&sts.url(), &wrong_secret, &identity);
    assert_eq!((response.status, response.error_code().as_deref()), (403, Some("SignatureDoesNotMatch")));
    assert_eq!(caller_arn(&sts, &session).status, 200);

    assert_eq!(sts.count("GetCallerIdentity"), 2);
    assert_eq!(sts.attempts("GetCallerIdentity"), 10);
}

#[test]
fn temporary_credentials_expire_on_the_test_clock() {
    let sts = standin();
    let session =
        assert_ok(&sign_and_post(&sts.url(), &alice(), &[("Action", "GetSessionToken"), ("DurationSeconds", "900")]));
    let role = assert_ok(&assume(&sts, &session, PLAIN_ROLE, &[("DurationSeconds", "1800")]));
    // To the last second of the session by its own Expiration (the clock has whole seconds, and
    // a second boundary may have passed since it was issued).
    let expiration = time::OffsetDateTime::parse(
        session.expiration.as_deref().expect("an expiration"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    sts.advance((expiration - sts.now()).whole_seconds() - 1);
    assert_eq!(caller_arn(&sts, &session).status, 200);
    sts.advance(1);
    let expired = caller_arn(&sts, &session);
    assert_error(&expired, 403, "ExpiredToken", MSG_EXPIRED_TOKEN);
    assert_error(&assume(&sts, &session, PLAIN_ROLE, &[]), 403, "ExpiredToken", MSG_EXPIRED_TOKEN);
    // The role session outlives the session that made it, until its own expiry (again by its own
    // Expiration: a second boundary may have passed between the two calls).
    assert_eq!(caller_arn(&sts, &role).status, 200);
    let role_expiration = time::OffsetDateTime::parse(
        role.expiration.as_deref().expect("an expiration"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    sts.advance((role_expiration - sts.now()).whole_seconds() - 1);
    assert_eq!(caller_arn(&sts, &role).status, 200);
    sts.advance(1);
    assert_error(&caller_arn(&sts, &role), 403, "ExpiredToken", MSG_EXPIRED_TOKEN);
    // Long-term keys never expire, and new credentials expire relative to the test clock.
    let fresh = assert_ok(&session_token(&sts, &alice(), None));
    let expiration = time::OffsetDateTime::parse(
        fresh.expiration.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((expiration - sts.now()).whole_seconds(), 3600);
}

#[test]
fn injected_faults_and_unknown_actions() {
    let sts = standin();
    sts.throttle_next(2);
    for _ in 0..2 {
        let response = caller_arn(&sts, &alice());
        assert_error(&response, 400, "Throttling", "Rate exceeded");
    }
    assert_eq!(caller_arn(&sts, &alice()).status, 200);

    sts.fail_next(1, 503, "upstream unavailable".to_owned());
    let response = session_token(&sts, &alice(), Some("300001"));
    assert_eq!((response.status, response.body.as_str()), (503, "upstream unavailable"));
    // The failed request did not reach STS logic: the code is still good.
    assert_ok(&session_token(&sts, &alice(), Some("300001")));

    let calls = sts.calls();
    assert_eq!(calls[0].error_code.as_deref(), Some("Throttling"));
    assert_eq!((calls[3].status, calls[3].error_code.clone()), (503, None));
    assert_eq!(sts.attempts("GetCallerIdentity"), 3);
    assert_eq!(sts.count("GetCallerIdentity"), 1);

    let unknown = sign_and_post(&sts.url(), &alice(), &[("Action", "GetFederationToken")]);
    assert_eq!((unknown.status, unknown.error_code().as_deref()), (400, Some("InvalidAction")));
}

#[test]
fn delayed_requests_do_not_hold_up_others() {
    let sts = standin();
    sts.delay_next(1, 2_000);
    let url = sts.url();
    let slow = std::thread::spawn(move || sign_and_post(&url, &alice(), &[("Action", "GetCallerIdentity")]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while sts.delayed_in_flight() == 0 {
        assert!(Instant::now() < deadline, "the delayed request never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    // While the first request is held, another is answered.
    assert_eq!(caller_arn(&sts, &alice()).status, 200);
    assert!(!slow.is_finished());
    assert_eq!(sts.delayed_in_flight(), 1);
    assert_eq!(slow.join().unwrap().status, 200);
    assert_eq!(sts.count("GetCallerIdentity"), 2);
}

#[test]
fn concurrent_requests_are_all_served() {
    let sts = standin();
    let url = sts.url();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || sign_and_post(&url, &alice(), &[("Action", "GetSessionToken")]))
        })
        .collect();
    let mut keys: Vec<String> = handles.into_iter().map(|h| assert_ok(&h.join().unwrap()).access_key_id).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 16);
}

#[test]
fn the_server_stops_when_dropped() {
    let sts = standin();
    let addr = sts.url().trim_start_matches("http://").to_owned();
    assert!(std::net::TcpStream::connect(&addr).is_ok());
    drop(sts);
    assert!(std::net::TcpStream::connect(&addr).is_err());
}

// ---------------------------------------------------------------------------------------------
// Third-party signers: botocore (the AWS CLI) and the Go SDK (Terraform's AWS provider).
// ---------------------------------------------------------------------------------------------

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn skip(test: &str, tool: &str, reason: &str) {
    crate::common::skip::skip(test, tool, reason);
}

/// A command with no AWS settings from the outside world, and any non-loopback HTTP(S)
/// traffic sent to a closed loopback port instead of the internet.
fn isolated(program: &str, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("AWS_") || name.starts_with("TF_") || name.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(&name);
        }
    }
    cmd.env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

fn aws_cli(sts: &StrictSts, home: &Path, creds: &StsCredentials, args: &[&str]) -> serde_json::Value {
    let mut cmd = isolated("aws", home);
    cmd.env("AWS_ENDPOINT_URL", sts.url())
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .args(args)
        .args(["--output", "json"]);
    if let Some(token) = &creds.session_token {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    let output = cmd.output().expect("run aws");
    assert_success("aws", args, &output);
    serde_json::from_slice(&output.stdout).expect("aws printed JSON")
}

#[track_caller]
fn assert_success(program: &str, args: &[&str], output: &Output) {
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn json_creds(value: &serde_json::Value) -> StsCredentials {
    let c = &value["Credentials"];
    StsCredentials {
        access_key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: c["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: Some(c["SessionToken"].as_str().unwrap().to_owned()),
        expiration: c["Expiration"].as_str().map(str::to_owned),
    }
}

#[test]
fn aws_cli_requests_are_accepted() {
    if !on_path("aws") {
        return skip("aws_cli_requests_are_accepted", "aws", "`aws` is not on PATH");
    }
    let sts = standin();
    let home = tempfile::tempdir().unwrap();

    let me = aws_cli(&sts, home.path(), &alice(), &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], ALICE_ARN);
    assert_eq!(me["Account"], "111111111111");

    let session = aws_cli(
        &sts,
        home.path(),
        &alice(),
        &[
            "sts",
            "get-session-token",
            "--serial-number",
            MFA_SERIAL,
            "--token-code",
            "400001",
            "--duration-seconds",
            "900",
        ],
    );
    let session = json_creds(&session);
    let role = aws_cli(
        &sts,
        home.path(),
        &session,
        &["sts", "assume-role", "--role-arn", ADMIN_ROLE, "--role-session-name", "cli"],
    );
    assert_eq!(role["AssumedRoleUser"]["Arn"], "arn:aws:sts::222222222222:assumed-role/admin/cli");
    let me = aws_cli(&sts, home.path(), &json_creds(&role), &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], "arn:aws:sts::222222222222:assumed-role/admin/cli");

    let calls = sts.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(calls.iter().all(|c| c.status == 200), "{calls:?}");

    // And a botocore signature made with the wrong secret is refused.
    let mut cmd = isolated("aws", home.path());
    let output = cmd
        .env("AWS_ENDPOINT_URL", sts.url())
        .env("AWS_ACCESS_KEY_ID", ALICE_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .args(["sts", "get-caller-identity"])
        .output()
        .expect("run aws");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SignatureDoesNotMatch"), "{stderr}");
    assert_eq!(sts.calls().last().unwrap().error_code.as_deref(), Some("SignatureDoesNotMatch"));
}

#[test]
fn terraform_go_sdk_requests_are_accepted() {
    let test = "terraform_go_sdk_requests_are_accepted";
    if !on_path("terraform") {
        return skip(test, "terraform", "`terraform` is not on PATH");
    }
    if !crate::common::terraform::has_provider_mirror() {
        return skip(test, "tf-plugins", "no local mirror of hashicorp/aws at /opt/tf-plugins (no downloads in tests)");
    }
    let sts = standin();
    let session = assert_ok(&session_token(&sts, &alice(), Some("500001")));
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("terraformrc");
    crate::common::terraform::write_mirror_config(&rc);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let settings = format!(
        "  region                      = \"us-east-1\"\n  access_key                  = \"{key}\"\n  secret_key                  = \"{secret}\"\n  token                       = \"{token}\"\n  skip_metadata_api_check     = true\n  skip_region_validation      = true\n  endpoints {{\n    sts = \"{url}\"\n    iam = \"{url}\"\n  }}\n  assume_role {{\n    role_arn     = \"{role}\"\n    session_name = \"terraform\"\n  }}\n",
        key = session.access_key_id,
        secret = session.secret_access_key,
        token = session.session_token.as_deref().unwrap(),
        url = sts.url(),
        role = ADMIN_ROLE,
    );
    std::fs::write(work.join("main.tf"), crate::common::terraform::aws_provider_module(&settings)).unwrap();

    let terraform = |args: &[&str]| {
        let output = isolated("terraform", dir.path())
            .env("TF_CLI_CONFIG_FILE", &rc)
            .env("TF_IN_AUTOMATION", "1")
            .current_dir(&work)
            .args(args)
            .output()
            .expect("run terraform");
        assert_success("terraform", args, &output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    terraform(&["init", "-input=false", "-no-color"]);
    terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let arn = terraform(&["output", "-raw", "arn"]);
    assert_eq!(arn.trim(), "arn:aws:sts::222222222222:assumed-role/admin/terraform");

    let calls = sts.calls();
    assert!(calls.iter().all(|c| c.status == 200), "{calls:?}");
    assert!(sts.count("AssumeRole") >= 1, "{calls:?}");
    assert!(sts.count("GetCallerIdentity") >= 1, "{calls:?}");
}

// ---------------------------------------------------------------------------------------------
// moto
// ---------------------------------------------------------------------------------------------

#[test]
fn moto_answers_get_caller_identity() {
    let Some(moto) = Moto::start_or_skip("moto_answers_get_caller_identity") else {
        return;
    };
    let creds = StsCredentials::long_term("AKIAIOSFODNN7EXAMPLE", "anything");
    let me = sign_and_post(&moto.url(), &creds, &[("Action", "GetCallerIdentity")]);
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.text("Arn").is_some_and(|arn| arn.starts_with("arn:aws:")), "{}", me.body);
    assert!(me.text("Account").is_some(), "{}", me.body);
}

#[test]
fn moto_checks_signatures_once_auth_is_enabled() {
    let Some(moto) = Moto::start_or_skip("moto_checks_signatures_once_auth_is_enabled") else {
        return;
    };
    let admin = moto.create_admin_key("admin");
    moto.enable_auth();
    let identity = [("Action", "GetCallerIdentity")];

    let me = sign_and_post(&moto.url(), &admin, &identity);
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.text("Arn").is_some_and(|arn| arn.ends_with(":user/admin")), "{}", me.body);

    let forged = StsCredentials { secret_access_key: "wrong".into(), ..admin.clone() };
    let response = sign_and_post(&moto.url(), &forged, &identity);
    assert_eq!(
        (response.status, response.error_code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        response.body
    );

    let unknown = StsCredentials::long_term("AKIAUNKNOWN000000000", "x");
    let response = sign_and_post(&moto.url(), &unknown, &identity);
    assert_eq!(
        (response.status, response.error_code().as_deref()),
        (403, Some("InvalidClientTokenId")),
        "{}",
        response.body
    );
}
