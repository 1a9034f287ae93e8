//! `add`, `import`, `remove` and `rotate`: long-term keys in a real Secret Service (GNOME
//! Keyring on a private D-Bus), in the kernel keyring (the fallback), and rotated against
//! moto's IAM. The secret is never in a file, an argument, a message or a log (the audit run
//! checks the logs too).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::audit;
use crate::common::env::*;
use crate::common::moto::Moto;
use crate::common::net::CannedServer;
use crate::common::pty::spawn_script;
use crate::common::secret_service::{SecretService, kernel_keyring_or_skip};
use crate::common::strict_sts::sign_and_post_service;

/// A key id no other test uses: the kernel keyring is shared by every process of the user.
fn unique_key_id(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("AKIA{tag}{:08X}{n:02}", std::process::id().rotate_left(16) ^ nanos)
}

/// Every file under `dir` that holds `secret`.
fn files_holding(dir: &Path, secret: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && std::fs::read(&path).is_ok_and(|b| b.windows(secret.len()).any(|w| w == secret.as_bytes()))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn add_keeps_the_secret_in_the_secret_service_and_the_cached_call_never_opens_it() {
    let test = "add_keeps_the_secret_in_the_secret_service_and_the_cached_call_never_opens_it";
    let sts = seed_sts();
    let mut env = TestEnv::new();
    env.write_config(SEED_CONFIG);
    env.set("AWS_ENDPOINT_URL", &sts.url());
    let Some(service) = SecretService::start_or_skip(test, &mut env) else { return };

    let added = env
        .rolegate(&["add", "base", "--env"])
        .env("AWS_ACCESS_KEY_ID", BASE_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr_of(&added));
    assert!(
        stdout_of(&added).contains(&format!("stored the secret of access key {BASE_KEY_ID} in the Secret Service")),
        "{}",
        stdout_of(&added)
    );
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    let expected = SEED_CONFIG.replacen(
        "region = us-west-2\n",
        &format!("region = us-west-2\nrolegate_keystore = secret-service\nrolegate_access_key_id = {BASE_KEY_ID}\n"),
        1,
    );
    assert_eq!(config, expected, "two lines added to [profile base], every other byte kept");
    assert!(!env.credentials_path().exists(), "add writes no credentials file");
    assert_eq!(files_holding(env.dir.path(), BASE_SECRET), Vec::<String>::new(), "the secret is in no file");

    // The role, with the base keys read from the store to sign GetSessionToken.
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let gst = sts.calls().into_iter().find(|c| c.action == "GetSessionToken").expect("GetSessionToken");
    assert_eq!(gst.access_key_id, BASE_KEY_ID, "signed with the stored keys");

    let doctor = env.rolegate(&["doctor", "target"]).output().unwrap();
    assert!(
        stdout_of(&doctor)
            .contains(&format!("stored keys, access key {BASE_KEY_ID}, its secret in the secret-service store")),
        "{}",
        stdout_of(&doctor)
    );
    let list = env.rolegate(&["list"]).output().unwrap();
    assert!(
        stdout_of(&list).contains(&format!("keys in the secret-service store ({BASE_KEY_ID})")),
        "{}",
        stdout_of(&list)
    );

    // No Secret Service any more: the cached call does not need it.
    drop(service);
    let cached = env.run_without_terminal(&["credential-process", "target"]);
    assert!(cached.status.success(), "{}", stderr_of(&cached));
    assert!(cached.stderr.is_empty(), "{}", stderr_of(&cached));

    // A call that needs the base keys says where they are and what to do.
    let fresh = env.path("fresh-cache");
    let failed = env
        .rolegate(&["--cache-dir", fresh.to_str().unwrap(), "credential-process", "target", "--mfa-token", "123457"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(4), "{}", stderr_of(&failed));
    let err = stderr_of(&failed);
    assert!(
        err.contains(
            "profile `base`: its keys cannot be read from the credential store: cannot open the Secret Service"
        ),
        "{err}"
    );
    assert!(err.contains("rolegate: hint: the Secret Service needs a D-Bus session"), "{err}");
}

#[test]
fn remove_deletes_the_secret_from_the_secret_service_and_the_settings_from_the_config() {
    let test = "remove_deletes_the_secret_from_the_secret_service_and_the_settings_from_the_config";
    let sts = seed_sts();
    let mut env = TestEnv::new();
    env.write_config(SEED_CONFIG);
    env.set("AWS_ENDPOINT_URL", &sts.url());
    let Some(_service) = SecretService::start_or_skip(test, &mut env) else { return };
    let add = |env: &TestEnv| {
        let out = env
            .rolegate(&["add", "base", "--env"])
            .env("AWS_ACCESS_KEY_ID", BASE_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    };
    add(&env);
    let with_keys = std::fs::read_to_string(env.config_path()).unwrap();

    let removed = env.rolegate(&["remove", "base"]).output().unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
    assert!(
        stdout_of(&removed).contains(&format!("deleted access key {BASE_KEY_ID} from the Secret Service")),
        "{}",
        stdout_of(&removed)
    );
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), SEED_CONFIG, "the config as it was");

    // The settings put back by hand find no secret: it is gone from the store.
    std::fs::write(env.config_path(), &with_keys).unwrap();
    let out = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!(
            "the Secret Service (GNOME Keyring, KWallet) has no secret for access key {BASE_KEY_ID}"
        )),
        "{err}"
    );
    assert!(err.contains("rolegate: hint: store the keys again with `rolegate add`"), "{err}");

    // remove on a profile whose keys are not stored says what to do.
    std::fs::write(env.config_path(), SEED_CONFIG).unwrap();
    let out = env.rolegate(&["remove", "base"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("profile `base` has no keys in a credential store"), "{}", stderr_of(&out));
}

#[test]
fn import_moves_the_keys_into_the_kernel_keyring_keeping_every_other_byte_and_no_copy() {
    let test = "import_moves_the_keys_into_the_kernel_keyring_keeping_every_other_byte_and_no_copy";
    if !kernel_keyring_or_skip(test) {
        return;
    }
    let key_id = unique_key_id("IMPORT");
    let secret = format!("{BASE_SECRET}import");
    audit::note_secret(&secret);
    let sts = seed_sts();
    sts.add_user(&key_id, &secret, USER_ARN);
    let mut env = TestEnv::new();
    env.set("AWS_ENDPOINT_URL", &sts.url());
    env.write_config(SEED_CONFIG);
    let before = format!(
        "# my keys\r\n[other]\r\naws_access_key_id = AKIAOTHEROTHEROTHER1\r\n\r\n[base]\r\naws_access_key_id = {key_id}\r\n; rotated in May\r\naws_secret_access_key = {secret}\r\nregion = eu-west-1\r\n"
    );
    env.write_credentials(&before);
    let links_before = std::fs::read_dir(env.home().join(".aws")).unwrap().count();

    let out = env.rolegate(&["import", "base", "--keystore", "kernel-keyring"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains(&format!("stored the secret of access key {key_id} in the kernel keyring")), "{stdout}");
    assert!(stdout.contains("removed 2 key line(s) of `base`"), "{stdout}");

    let after = std::fs::read_to_string(env.credentials_path()).unwrap();
    assert_eq!(
        after,
        "# my keys\r\n[other]\r\naws_access_key_id = AKIAOTHEROTHEROTHER1\r\n\r\n[base]\r\n; rotated in May\r\nregion = eu-west-1\r\n"
    );
    assert_eq!(files_holding(env.dir.path(), &secret), Vec::<String>::new(), "no copy of the secret anywhere");
    let aws_files: Vec<_> =
        std::fs::read_dir(env.home().join(".aws")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(aws_files.len(), links_before + 1, "only the config's backup was added: {aws_files:?}");
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(
        config.contains(&format!("rolegate_keystore = kernel-keyring\nrolegate_access_key_id = {key_id}\n")),
        "{config}"
    );

    // The keys work from the store.
    let role = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(role.status.success(), "{}", stderr_of(&role));
    assert_eq!(sts.calls()[0].access_key_id, key_id);

    // Importing again finds nothing to move.
    let again = env.rolegate(&["import", "base", "--keystore", "kernel-keyring"]).output().unwrap();
    assert_eq!(again.status.code(), Some(3), "{}", stderr_of(&again));
    assert!(stderr_of(&again).contains("profile `base` has no keys in"), "{}", stderr_of(&again));

    let removed = env.rolegate(&["remove", "base"]).output().unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
}

#[test]
fn import_refuses_a_credentials_file_with_another_name_and_changes_nothing() {
    let test = "import_refuses_a_credentials_file_with_another_name_and_changes_nothing";
    if !kernel_keyring_or_skip(test) {
        return;
    }
    let mut env = TestEnv::new();
    env.write_config(SEED_CONFIG);
    env.write_credentials(&seed_credentials());
    let other = env.path("elsewhere.credentials");
    std::fs::hard_link(env.credentials_path(), &other).unwrap();
    let config_before = std::fs::read(env.config_path()).unwrap();

    let out = env.rolegate(&["import", "base", "--keystore", "kernel-keyring"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("has 2 hard links: the other names would keep the keys"), "{err}");
    assert_eq!(std::fs::read_to_string(env.credentials_path()).unwrap(), seed_credentials());
    assert_eq!(std::fs::read(env.config_path()).unwrap(), config_before);
}

#[test]
fn add_on_a_terminal_asks_for_the_secret_without_echo() {
    let test = "add_on_a_terminal_asks_for_the_secret_without_echo";
    if !kernel_keyring_or_skip(test) {
        return;
    }
    let key_id = unique_key_id("TTY");
    let secret = format!("{BASE_SECRET}typed");
    audit::note_secret(&secret);
    let env = TestEnv::new();
    let mut p = spawn_script(&env, "\"$ROLEGATE\" add base --keystore kernel-keyring; echo \"exit=$?\"");
    p.exp_string("Access key id for profile `base`: ").unwrap();
    p.send_line(&key_id).unwrap();
    p.exp_string("Secret access key (not shown): ").unwrap();
    p.send_line(&secret).unwrap();
    let shown = p.exp_string("exit=").unwrap();
    let code = p.exp_eof().unwrap();
    assert!(code.trim().starts_with('0'), "exit={code}\n{shown}");
    assert!(shown.contains(&format!("stored the secret of access key {key_id} in the kernel keyring")), "{shown}");
    assert!(!shown.contains(&secret), "the secret was echoed: {shown}");
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert_eq!(
        config,
        format!("[profile base]\nrolegate_keystore = kernel-keyring\nrolegate_access_key_id = {key_id}\n")
    );
    assert_eq!(files_holding(env.dir.path(), &secret), Vec::<String>::new());

    let removed = env.rolegate(&["remove", "base"]).output().unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
}

#[test]
fn the_setup_wizard_offers_to_store_the_keys_of_the_profile_it_wrote() {
    let test = "the_setup_wizard_offers_to_store_the_keys_of_the_profile_it_wrote";
    if !kernel_keyring_or_skip(test) {
        return;
    }
    let key_id = unique_key_id("WIZ");
    let secret = format!("{BASE_SECRET}wizard");
    audit::note_secret(&secret);
    let mut env = TestEnv::new();
    env.set("ROLEGATE_KEYSTORE", "kernel-keyring");
    let mut p = spawn_script(&env, "\"$ROLEGATE\" setup > out.txt; echo \"exit=$?\"");
    for (question, answer) in [
        ("Role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME): ", "arn:aws:iam::123456789012:role/hc-master"),
        ("Name of the profile that will hold your access keys [default]: ", "base"),
        ("MFA device ARN (arn:aws:iam::ACCOUNT_ID:mfa/NAME): ", "arn:aws:iam::123456789012:mfa/username"),
        ("External ID (Enter for none): ", ""),
        ("Name of the new profile [hc-master]: ", "target"),
        ("Region [us-east-1]: ", "us-west-2"),
        ("Store the access keys of `base` in the OS credential store now? (y/n) [y]: ", ""),
        ("Access key id for profile `base`: ", key_id.as_str()),
        ("Secret access key (not shown): ", secret.as_str()),
    ] {
        p.exp_string(question).unwrap();
        p.send_line(answer).unwrap();
    }
    let shown = p.exp_string("exit=").unwrap();
    let code = p.exp_eof().unwrap();
    assert!(code.trim().starts_with('0'), "exit={code}\n{shown}");
    let report = std::fs::read_to_string(env.path("out.txt")).unwrap();
    let said = format!("{shown}{report}");
    assert!(said.contains(&format!("stored the secret of access key {key_id} in the kernel keyring")), "{said}");
    assert!(!said.contains(&secret), "the secret was echoed: {said}");
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(
        config
            .contains("[profile target]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/hc-master\n"),
        "{config}"
    );
    assert!(
        config.contains(&format!("rolegate_keystore = kernel-keyring\nrolegate_access_key_id = {key_id}\n")),
        "{config}"
    );
    assert_eq!(files_holding(env.dir.path(), &secret), Vec::<String>::new());

    let removed = env.rolegate(&["remove", "base"]).output().unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
}

/// `aws`-style `GetCallerIdentity` signed by `creds` against moto: its HTTP status.
fn who_am_i(moto: &Moto, creds: &crate::common::strict_sts::StsCredentials) -> u16 {
    let params = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")];
    sign_and_post_service(&moto.url(), creds, "sts", "us-east-1", &params).status
}

#[test]
fn rotate_against_moto_stores_a_new_key_and_deletes_the_old_one() {
    let test = "rotate_against_moto_stores_a_new_key_and_deletes_the_old_one";
    if !kernel_keyring_or_skip(test) {
        return;
    }
    let Some(moto) = Moto::start_or_skip(test) else { return };
    let old = moto.create_admin_key("rotator");
    audit::note_secret(&old.secret_access_key);
    moto.enable_auth();
    let mut env = TestEnv::new();
    env.write_config("[profile base]\nregion = us-east-1\n");
    env.set("AWS_ENDPOINT_URL", &moto.url());
    let added = env
        .rolegate(&["add", "base", "--env", "--keystore", "kernel-keyring"])
        .env("AWS_ACCESS_KEY_ID", &old.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &old.secret_access_key)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr_of(&added));
    assert_eq!(who_am_i(&moto, &old), 200);

    // A step that fails (STS accepts the current key, then refuses the new one) leaves the old
    // key working and says so.
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&answered);
    let sts_stub = CannedServer::start(move || {
        let body = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/rotator</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
        } else {
            "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not this key</Message></Error></ErrorResponse>"
        };
        let status = if body.starts_with("<Error") { "403 Forbidden" } else { "200 OK" };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    let failed = env.rolegate(&["rotate", "base"]).env("AWS_ENDPOINT_URL_STS", sts_stub.url()).output().unwrap();
    assert_eq!(failed.status.code(), Some(4), "{}", stderr_of(&failed));
    assert_eq!(answered.load(Ordering::SeqCst), 2, "checked the current key, then the new one");
    let err = stderr_of(&failed);
    assert!(
        err.contains("rotate, step 4 of 6, GetCallerIdentity with the new key: STS did not accept it; the new key"),
        "{err}"
    );
    assert!(err.contains(&format!("was deleted again and {} stays in use", old.access_key_id)), "{err}");
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(config.contains(&format!("rolegate_access_key_id = {}\n", old.access_key_id)), "{config}");
    assert_eq!(who_am_i(&moto, &old), 200, "the old key still works");

    let rotated = env.rolegate(&["rotate", "base"]).output().unwrap();
    assert!(rotated.status.success(), "{}", stderr_of(&rotated));
    let stdout = stdout_of(&rotated);
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    let new_id = config
        .lines()
        .find_map(|l| l.strip_prefix("rolegate_access_key_id = "))
        .expect("the key id setting")
        .to_string();
    assert_ne!(new_id, old.access_key_id);
    assert!(stdout.contains(&format!("created access key {new_id}")), "{stdout}");
    assert!(
        stdout.contains(&format!("checked: STS accepts {new_id} as arn:aws:iam::123456789012:user/rotator")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("deleted the old access key {} in IAM", old.access_key_id)), "{stdout}");
    assert_ne!(who_am_i(&moto, &old), 200, "the old key is deleted in IAM");

    // The stored new key is the one in use: rotating again signs with it.
    let again = env.rolegate(&["rotate", "base"]).output().unwrap();
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert!(
        stdout_of(&again).contains(&format!("deleted the old access key {new_id} in IAM")),
        "{}",
        stdout_of(&again)
    );

    let removed = env.rolegate(&["remove", "base"]).output().unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
}

#[test]
fn rotate_with_mfa_serial_signs_with_the_mfa_session_and_names_the_user() {
    let test = "rotate_with_mfa_serial_signs_with_the_mfa_session_and_names_the_user";
    if !kernel_keyring_or_skip(test) {
        return;
    }
    let (old_id, old_secret) = (unique_key_id("OLDMFA"), format!("{BASE_SECRET}old"));
    let (new_id, new_secret) = (unique_key_id("NEWMFA"), format!("{BASE_SECRET}new"));
    audit::note_secret(&old_secret);
    audit::note_secret(&new_secret);
    let sts = seed_sts();
    sts.add_user(&old_id, &old_secret, USER_ARN);
    sts.add_user(&new_id, &new_secret, USER_ARN);
    // IAM: every request gets CreateAccessKey's answer (DeleteAccessKey's body is not read).
    let iam_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&iam_requests);
    let answer = format!(
        "<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>username</UserName><AccessKeyId>{new_id}</AccessKeyId><Status>Active</Status><SecretAccessKey>{new_secret}</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"
    );
    let iam = CannedServer::start(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )
        .into_bytes()
    });
    let mut env = TestEnv::new();
    env.write_config(&format!("[profile base]\nregion = us-west-2\nmfa_serial = {MFA_SERIAL}\n"));
    env.set("AWS_ENDPOINT_URL_STS", &sts.url());
    env.set("AWS_ENDPOINT_URL_IAM", &iam.url());
    let added = env
        .rolegate(&["add", "base", "--env", "--keystore", "kernel-keyring"])
        .env("AWS_ACCESS_KEY_ID", &old_id)
        .env("AWS_SECRET_ACCESS_KEY", &old_secret)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr_of(&added));

    let rotated = env.rolegate(&["rotate", "base", "--mfa-token", "123456"]).output().unwrap();
    assert!(rotated.status.success(), "{}", stderr_of(&rotated));
    let calls = sts.calls();
    let actions: Vec<&str> = calls.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(actions, ["GetSessionToken", "GetCallerIdentity", "GetCallerIdentity"]);
    assert_eq!((calls[0].access_key_id.as_str(), calls[0].token_code.as_deref()), (old_id.as_str(), Some("123456")));
    assert!(
        calls[1].access_key_id.starts_with("ASIA"),
        "the IAM calls' signer is the MFA session: {}",
        calls[1].access_key_id
    );
    assert_eq!(calls[2].access_key_id, new_id, "the new key is checked with itself");
    assert_eq!(iam_requests.load(Ordering::SeqCst), 2, "CreateAccessKey, then DeleteAccessKey of the old key");
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(config.contains(&format!("rolegate_access_key_id = {new_id}\n")), "{config}");
    assert!(
        stdout_of(&rotated).contains(&format!("checked: STS accepts {new_id} as {USER_ARN}")),
        "{}",
        stdout_of(&rotated)
    );

    let removed = env.rolegate(&["remove", "base"]).output().unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
}
