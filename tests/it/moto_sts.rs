//! rolegate against moto, a third-party STS implementation: its XML shapes, and (auth on) its
//! own SigV4 checks of rolegate's requests.

use crate::common::env::*;
use crate::common::moto::Moto;
use crate::common::strict_sts::sign_and_post_service;

#[test]
fn moto_checks_rolegate_signatures() {
    let Some(moto) = Moto::start_or_skip("moto_checks_rolegate_signatures") else { return };
    let admin = moto.create_admin_key("deployer");
    // moto matches the trust policy's principal literally (it does not expand `:root`).
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/deployer"},"Action":"sts:AssumeRole"}]}"#;
    let created = sign_and_post_service(
        &moto.url(),
        &admin,
        "iam",
        "us-east-1",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "deploy"),
            ("AssumeRolePolicyDocument", trust),
        ],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    moto.enable_auth();

    let mut env = TestEnv::new();
    env.write_config(
        "[profile base]\nregion = us-east-1\n[profile deploy]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/deploy\n[profile forged]\nsource_profile = forged-keys\nrole_arn = arn:aws:iam::123456789012:role/deploy\n",
    );
    env.write_credentials(&format!(
        "[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n[forged-keys]\naws_access_key_id = {}\naws_secret_access_key = not-the-secret\n",
        admin.access_key_id, admin.secret_access_key, admin.access_key_id
    ));
    env.set("AWS_ENDPOINT_URL", &moto.url());

    let ok = env.run_without_terminal(&["credential-process", "deploy"]);
    assert!(ok.status.success(), "{}", stderr_of(&ok));
    parse_process_json(&ok.stdout);

    // Same access key id, same role: the cache would serve the result, so use a fresh cache.
    let fresh_cache = env.path("fresh-cache");
    let forged =
        env.run_without_terminal(&["--cache-dir", fresh_cache.to_str().unwrap(), "credential-process", "forged"]);
    assert_eq!(forged.status.code(), Some(4), "{}", stderr_of(&forged));
    let err = stderr_of(&forged);
    assert!(err.starts_with("rolegate: error: profile `forged` ("), "{err}");
    assert!(err.contains("AssumeRole: the request signature was refused"), "{err}");
    assert!(err.contains("rolegate: hint: the secret access key does not match"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
}

#[test]
fn moto_mfa_session_then_role() {
    let Some(moto) = Moto::start_or_skip("moto_mfa_session_then_role") else { return };
    let mut env = TestEnv::new();
    env.write_config(SEED_CONFIG);
    env.write_credentials(&seed_credentials());
    env.set("AWS_ENDPOINT_URL", &moto.url());
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json = parse_process_json(&out.stdout);
    assert_eq!(json.account_id.as_deref(), Some(ACCOUNT));
}
