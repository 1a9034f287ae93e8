//! The hot index (the shortcut of `rolegate credential-process PROFILE`): it sees an edit that
//! keeps a file's size and modification time, trusts no index of another version or format,
//! and keeps its files bounded.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::env::*;
use crate::common::strict_sts::RoleSpec;

/// The seed's role with one letter changed: same length, so the file keeps its size.
const EDITED_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/hc/hc-mastex";

fn index_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("index-"))
        .collect();
    out.sort();
    out
}

/// The one index file of the cache, as (path, first line, digest it names).
fn the_index(env: &TestEnv) -> (PathBuf, String, String) {
    let files = index_files(&env.cache_dir());
    assert_eq!(files.len(), 1, "{files:?}");
    let text = fs::read_to_string(&files[0]).unwrap();
    let (header, digest) = text.split_once('\n').unwrap_or_else(|| panic!("{text:?}"));
    (files[0].clone(), header.to_string(), digest.trim().to_string())
}

fn write_private(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

fn set_age(path: &Path, age: Duration) {
    File::options().write(true).open(path).unwrap().set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn an_edit_that_keeps_size_and_mtime_is_seen() {
    let sts = seed_sts();
    sts.add_role(RoleSpec::new(EDITED_ROLE_ARN).requiring_mfa().with_external_id(EXTERNAL_ID));
    let env = TestEnv::seed(&sts);
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let old = parse_process_json(&first.stdout);
    // The exact form Terraform runs is answered by the hot index.
    let hit = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&hit.stdout), old);
    assert_eq!(sts.calls().len(), 2);

    // `role/hc-master` -> `role/hc-mastex` in place, then the modification time put back.
    let config = env.home().join(".aws/config");
    let before = fs::metadata(&config).unwrap();
    let text = fs::read_to_string(&config).unwrap().replace(ROLE_ARN, EDITED_ROLE_ARN);
    fs::write(&config, text).unwrap();
    File::options().write(true).open(&config).unwrap().set_modified(before.modified().unwrap()).unwrap();
    let after = fs::metadata(&config).unwrap();
    let id = |m: &fs::Metadata| (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    assert_eq!(id(&before), id(&after), "device, inode, size and mtime are those of the old file");

    let edited = env.run_without_terminal(&["credential-process", "target"]);
    assert!(edited.status.success(), "{}", stderr_of(&edited));
    let new = parse_process_json(&edited.stdout);
    assert_ne!(new.access_key_id, old.access_key_id, "the old role's keys were served");
    let last = sts.calls().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.role_arn.as_deref(), last.token_code),
        ("AssumeRole", Some(EDITED_ROLE_ARN), None),
        "the new role, assumed from the cached MFA session"
    );
    // export, which never used the index, agrees.
    let export = env.rolegate(&["export", "target"]).output().unwrap();
    assert!(export.status.success(), "{}", stderr_of(&export));
    let exported = String::from_utf8_lossy(&export.stdout);
    assert!(exported.contains(&new.access_key_id) && !exported.contains(&old.access_key_id), "{exported}");
    // And the shortcut now serves the new role's keys.
    let again = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&again.stdout), new);
    assert_eq!(sts.calls().len(), 3);
}

#[test]
fn an_edit_to_a_role_sts_refuses_fails_like_export() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let old = parse_process_json(&first.stdout);
    let config = env.home().join(".aws/config");
    let before = fs::metadata(&config).unwrap();
    let text = fs::read_to_string(&config).unwrap().replace(ROLE_ARN, EDITED_ROLE_ARN);
    fs::write(&config, text).unwrap();
    File::options().write(true).open(&config).unwrap().set_modified(before.modified().unwrap()).unwrap();

    // The stand-in knows no such role: both channels fail the same way, neither prints the old keys.
    let cp = env.run_without_terminal(&["credential-process", "target"]);
    let export = env.run_without_terminal(&["export", "target"]);
    assert!(!cp.status.success(), "served: {}", String::from_utf8_lossy(&cp.stdout));
    assert_eq!(cp.status.code(), export.status.code(), "{} / {}", stderr_of(&cp), stderr_of(&export));
    assert!(cp.stdout.is_empty() && export.stdout.is_empty());
    assert!(!stderr_of(&cp).contains(&old.access_key_id));
    assert_eq!(sts.calls().iter().filter(|c| c.role_arn.as_deref() == Some(EDITED_ROLE_ARN)).count(), 2);
}

/// The version line of an index decides: the same index pointing at a planted entry is followed
/// with this version's line, and ignored with another version's line or in the first format
/// (the bare digest).
#[test]
fn an_index_of_another_version_or_format_is_not_trusted() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let real = parse_process_json(&first.stdout);
    let (index, header, digest) = the_index(&env);
    assert!(header.contains(env!("CARGO_PKG_VERSION")), "{header}");

    // A planted entry: the real one with other keys, under another name.
    let dir = env.cache_dir();
    let mut entry: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(format!("{digest}.json"))).unwrap()).unwrap();
    entry["credentials"]["access_key_id"] = "ASIAPLANTEDPLANTED00".into();
    write_private(&dir.join("role-planted.json"), &serde_json::to_vec(&entry).unwrap());
    let served = |index_text: String| {
        write_private(&index, index_text.as_bytes());
        let out = env.run_without_terminal(&["credential-process", "target"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        parse_process_json(&out.stdout).access_key_id
    };

    let other_version = header.replace(env!("CARGO_PKG_VERSION"), "0.0.1-other");
    assert_ne!(other_version, header);
    assert_eq!(served(format!("{other_version}\nrole-planted\n")), real.access_key_id, "another version's index");
    assert_eq!(served("role-planted\n".to_string()), real.access_key_id, "an index in the first format");
    assert_eq!(served("role-planted".to_string()), real.access_key_id, "an index in the first format");
    // Each miss went the ordinary way (from the cache, no STS call) and rewrote the index.
    assert_eq!(sts.calls().len(), 2);
    assert_eq!(the_index(&env).1, header);
    // The control: this version's line makes the same index followed (by the fast path, which
    // a log file turns off: the audit run's logging is left out of this one call).
    write_private(&index, format!("{header}\nrole-planted\n").as_bytes());
    let mut fast = env.without_terminal(&["credential-process", "target"]);
    fast.env_remove("ROLEGATE_LOG").env_remove("ROLEGATE_LOG_FILE");
    let out = fast.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(parse_process_json(&out.stdout).access_key_id, "ASIAPLANTEDPLANTED00");
}

#[test]
fn old_index_files_are_pruned_when_one_is_written() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let dir = env.cache_dir();
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    // Three days old: two in the first format, one in this one; and 70 recent ones.
    for (name, text) in [
        ("index-00000000000000000000000000000001", "role-0123\n"),
        ("index-00000000000000000000000000000002", "role-0123"),
        ("index-00000000000000000000000000000003", "rolegate 0.1.0 entry 1 index 2\nrole-0123\n"),
    ] {
        write_private(&dir.join(name), text.as_bytes());
        set_age(&dir.join(name), Duration::from_secs(3 * 24 * 3600));
    }
    for i in 0..70u64 {
        let path = dir.join(format!("index-recent{i:02}"));
        write_private(&path, b"role-0123\n");
        set_age(&path, Duration::from_secs(60 + i));
    }
    write_private(&dir.join("unrelated"), b"kept");
    set_age(&dir.join("unrelated"), Duration::from_secs(30 * 24 * 3600));

    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let files = index_files(&dir);
    let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_string()).collect();
    assert_eq!(files.len(), 64, "at most 64 index files: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("index-0000")), "the old ones are gone: {names:?}");
    assert!(names.contains(&"index-recent00".to_string()) && !names.contains(&"index-recent69".to_string()));
    assert!(dir.join("unrelated").exists(), "only index files are pruned");
    // The one just written is there and answers.
    let hit = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&hit.stdout), parse_process_json(&first.stdout));
    assert_eq!(sts.calls().len(), 2);
    // `clear --all` still removes every one.
    assert!(env.rolegate(&["clear", "--all"]).output().unwrap().status.success());
    assert!(index_files(&dir).is_empty());
}

#[test]
fn a_fifo_as_an_aws_file_neither_hangs_nor_loses_its_contents() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let warm = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(warm.status.success(), "{}", stderr_of(&warm));
    // A blocking open would wait for a writer for ever, and a non-blocking one would release
    // the writer below and lose what it writes. The hot path leaves it alone, and the ordinary
    // path reads it as the SDKs do.
    let fifo = env.path("config.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    env.set("AWS_SHARED_CREDENTIALS_FILE", fifo.to_str().unwrap());
    let child = env
        .rolegate(&["credential-process", "target"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The ordinary path opens it for reading and waits for a writer: this one.
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::write(fifo, seed_credentials()))
    };
    let out = child.wait_with_output().unwrap();
    // Had rolegate never opened it, the writer would still wait for a reader: be that reader.
    let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let _unblock = OpenOptions::new().read(true).custom_flags(nonblock).open(&fifo).unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(parse_process_json(&out.stdout), parse_process_json(&warm.stdout));
}
