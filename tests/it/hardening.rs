//! The process itself as an attacker's target: a crash must not leave the secrets it held in a
//! core file.

use std::path::Path;

use rexpect::session::PtySession;

use crate::common::env::{TestEnv, seed_sts};
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
