//! The process itself as an attacker's target: a crash must not leave the secrets it held in a
//! core file.

use std::path::Path;

use rexpect::session::PtySession;

use crate::common::env::{TestEnv, seed_sts, stderr_of};
use crate::common::pty::spawn_script;
use crate::common::skip::skip;

/// Core files the kernel wrote into `dir` (`core` or `core.PID`, as `core_pattern` names them).
fn core_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n == "core" || n.starts_with("core."))
        .collect()
}

/// Starts `program` in the background of a shell with `ulimit -c unlimited` in `dir`, on a pty;
/// returns the session and the program's pid.
fn start_in(env: &TestEnv, dir: &Path, program: &str, wait_for: &str) -> (PtySession, String) {
    let script = format!(
        "ulimit -c unlimited || exit 9; cd '{}' || exit 9; {program} & echo \"pid=$!.\"; wait $!; echo \"status=$?.\"",
        dir.display()
    );
    let mut p = spawn_script(env, &script);
    let (_, pid) = p.exp_regex(r"pid=(\d+)\.").expect("the shell prints the pid");
    let pid = pid.trim_start_matches("pid=").trim_end_matches('.').to_string();
    if !wait_for.is_empty() {
        p.exp_string(wait_for).expect("the program is waiting");
    }
    (p, pid)
}

fn abort(pid: &str) {
    let status = std::process::Command::new("kill").args(["-ABRT", pid]).status().expect("kill");
    assert!(status.success(), "kill -ABRT {pid}");
}

#[test]
fn a_crash_at_the_prompt_leaves_no_core_file() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);

    // Control: this machine writes core files where a crashing program stands.
    let control = env.path("control");
    std::fs::create_dir_all(&control).unwrap();
    let (mut p, pid) = start_in(&env, &control, "sleep 60", "");
    abort(&pid);
    p.exp_string("status=134.").expect("sleep died of SIGABRT");
    if core_files(&control).is_empty() {
        skip(
            "hardening::a_crash_at_the_prompt_leaves_no_core_file",
            "core-files",
            "this kernel writes no core file in the working directory (see /proc/sys/kernel/core_pattern)",
        );
        return;
    }

    // rolegate, cold, waiting at the MFA prompt with the base keys in memory.
    let crash = env.path("crash");
    std::fs::create_dir_all(&crash).unwrap();
    let (mut p, pid) = start_in(&env, &crash, "\"$ROLEGATE\" credential-process target", "Enter MFA code for");
    abort(&pid);
    p.exp_string("status=134.").expect("rolegate died of SIGABRT");
    assert_eq!(core_files(&crash), Vec::<String>::new(), "rolegate left a core file");
    assert_eq!(sts.count("GetSessionToken"), 0);
}

/// `ROLEGATE_LOG_FILE` in a shared directory: rolegate never appends through a link, to a file
/// of another user, or to a FIFO; it warns, logs nothing there, and still serves credentials.
#[test]
fn the_log_file_is_never_a_link_a_fifo_or_another_users_file() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let victim = env.path("victim");
    std::fs::write(&victim, "").unwrap();
    let link = env.path("link.log");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = env.path("fifo.log");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut cases = vec![(link, "symbolic link"), (fifo, "")];
    if rustix::process::geteuid().as_raw() == 0 {
        let foreign = env.path("foreign.log");
        std::fs::write(&foreign, "").unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        cases.push((foreign, "owned by another user"));
    } else {
        skip("hardening::the_log_file_is_never_a_link_a_fifo_or_another_users_file", "root", "needs root to chown");
    }
    let mut code = 100_000;
    for (path, why) in cases {
        env.set("ROLEGATE_LOG_FILE", path.to_str().unwrap());
        code += 1;
        let out = env.rolegate(&["credential-process", "target", "--mfa-token", &code.to_string()]).output().unwrap();
        let err = stderr_of(&out);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("cannot open the log file") && err.contains(why), "{}: {err}", path.display());
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"", "nothing was written through the link");
    let foreign = env.path("foreign.log");
    if foreign.exists() {
        assert_eq!(std::fs::read(&foreign).unwrap(), b"", "nothing was appended to another user's file");
    }
}

/// FIFOs planted where cache files belong (the role entry, the MFA session, the hot index)
/// must not hang any command: they are opened without blocking, refused as not regular files,
/// and replaced when a new entry is stored.
#[test]
fn fifos_in_the_cache_never_hang_a_command() {
    use std::time::Duration;

    use crate::common::run::run_bounded;

    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let warm = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    assert!(warm.status.success(), "{}", stderr_of(&warm));
    let mut planted = 0;
    for entry in std::fs::read_dir(env.cache_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".json") || name.starts_with("index-") {
            std::fs::remove_file(&path).unwrap();
            assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
            planted += 1;
        }
    }
    assert!(planted >= 3, "the role entry, the MFA session and the index: {planted}");

    let limit = Duration::from_secs(10);
    let fast = env.without_terminal(&["credential-process", "target"]);
    let run = run_bounded(fast, limit);
    assert!(run.took < limit && run.code() != Some(0), "the FIFOs are not served: {}", run.stderr());
    let again = run_bounded(env.without_terminal(&["credential-process", "target", "--mfa-token", "654321"]), limit);
    assert_eq!(again.code(), Some(0), "{}", again.stderr());
    assert!(again.stderr().contains("not a regular file"), "{}", again.stderr());
    let list = run_bounded(env.without_terminal(&["list"]), limit);
    assert_eq!(list.code(), Some(0), "{}", list.stderr());
    let clear = run_bounded(env.without_terminal(&["clear", "--all"]), limit);
    assert_eq!(clear.code(), Some(0), "{}", clear.stderr());
}
