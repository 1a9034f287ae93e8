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

/// The processes of process group `pgid` that still run (zombies count as ended), from /proc.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid pgrp ...`; comm may hold anything but the last `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            members.push(pid);
        }
    }
    members
}

/// Waits (bounded) until no process of group `pgid` runs; returns those still running.
fn group_ends(pgid: u32) -> Vec<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = group_members(pgid);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A program that writes its process group to `group_file`, starts a `sleep` in the background
/// and waits on another: it never exits by itself.
fn never_exiting_program(env: &TestEnv, name: &str, group_file: &Path) -> String {
    let path = env.path(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nread -r _ _ _ _ pgrp _ < /proc/$$/stat\necho \"$pgrp\" > '{}'\nsleep 1000 &\nsleep 1000\n",
            group_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The group a [`never_exiting_program`] ran in: not the test's own, and empty once rolegate
/// has given up on it.
fn assert_group_ended(group_file: &Path, what: &str) {
    let pgid: u32 = std::fs::read_to_string(group_file)
        .unwrap_or_else(|e| panic!("{what} ran and wrote its group: {e}"))
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pgid, rustix::process::getpgrp().as_raw_nonzero().get() as u32, "{what} has a group of its own");
    assert_eq!(group_ends(pgid), Vec::<u32>::new(), "{what}: processes of its group still run after rolegate gave up");
}

/// A base `credential_process` that never exits is given up at the deadline, and everything it
/// started (here a `sleep` in the background) ends with it: its process group is killed.
#[test]
fn a_base_credential_process_that_never_exits_is_ended_with_all_it_started() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let group_file = env.path("base-group");
    let program = never_exiting_program(&env, "base-keys.sh", &group_file);
    env.write_config(
        &crate::common::env::SEED_CONFIG
            .replace("[profile base]\n", &format!("[profile base]\ncredential_process = {program}\n")),
    );
    env.write_credentials("");
    // The deadline is the prompt timeout plus 25 s.
    let out =
        env.run_without_terminal(&["credential-process", "target", "--mfa-token", "123456", "--prompt-timeout", "1"]);
    let err = stderr_of(&out);
    assert!(err.contains("profile `base`: its credential_process did not finish in time"), "{err}");
    assert_group_ended(&group_file, "the base credential_process");
    assert!(sts.calls().is_empty());
}

/// The same for a `rolegate_mfa_process` and a GUI dialog, given up at the prompt deadline.
#[test]
fn an_mfa_program_or_dialog_that_never_exits_is_ended_with_all_it_started() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let group_file = env.path("mfa-group");
    let program = never_exiting_program(&env, "otp", &group_file);
    env.write_config(&crate::common::env::SEED_CONFIG.replace(
        "external_id = 123456789069\n",
        &format!("external_id = 123456789069\nrolegate_mfa_process = {program}\n"),
    ));
    let out = env.run_without_terminal(&["credential-process", "target", "--prompt-timeout", "1"]);
    let err = stderr_of(&out);
    assert!(err.contains("did not print a code within 1 s"), "{err}");
    assert_group_ended(&group_file, "rolegate_mfa_process");

    // One that closes its stdout first (its end of output is not its end).
    let closed_group = env.path("closed-group");
    let program = never_exiting_program(&env, "otp-closed", &closed_group);
    let text = std::fs::read_to_string(&program).unwrap().replacen("#!/bin/sh\n", "#!/bin/sh\nexec >&-\n", 1);
    std::fs::write(&program, text).unwrap();
    env.write_config(&crate::common::env::SEED_CONFIG.replace(
        "external_id = 123456789069\n",
        &format!("external_id = 123456789069\nrolegate_mfa_process = {program}\n"),
    ));
    let run = crate::common::run::run_bounded(
        env.without_terminal(&["credential-process", "target", "--prompt-timeout", "1"]),
        std::time::Duration::from_secs(20),
    );
    assert!(run.stderr().contains("did not print a code within 1 s"), "{}", run.stderr());
    assert_group_ended(&closed_group, "rolegate_mfa_process with its stdout closed");

    // A dialog, when there is neither a program nor a terminal.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let dialog_group = env.path("dialog-group");
    let zenity = never_exiting_program(&env, "zenity-program", &dialog_group);
    std::fs::rename(&zenity, bin.join("zenity")).unwrap();
    env.write_config(crate::common::env::SEED_CONFIG);
    env.set("PATH", &format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
    env.set("DISPLAY", ":99");
    let out = env.run_without_terminal(&["credential-process", "target", "--prompt-timeout", "1"]);
    let err = stderr_of(&out);
    assert!(err.contains("no MFA code for arn:aws:iam::123456789012:mfa/username was entered within 1 s"), "{err}");
    assert_group_ended(&dialog_group, "the GUI dialog");
    assert!(sts.calls().is_empty());
}

/// A program rolegate starts in its own process group still reads the terminal and changes its
/// modes (a password manager's passphrase prompt, `stty -echo`): its group has the terminal for
/// its run, and the shell has it back afterwards. A program outside the terminal's foreground
/// group would be stopped by SIGTTOU/SIGTTIN here and never answer.
#[test]
fn programs_that_ask_on_the_terminal_still_can() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    let asks = |name: &str, prompt: &str, answer: &str, print: &str| {
        let path = env.path(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf '{prompt}: ' > /dev/tty\nstty -echo < /dev/tty\nread -r answer < /dev/tty\nstty echo < /dev/tty\nprintf '\\n' > /dev/tty\n[ \"$answer\" = '{answer}' ] || exit 1\n{print}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let base = asks(
        "base-keys.sh",
        "Passphrase",
        "open-sesame",
        "printf '{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}\\n' \"$TEST_BASE_KEY_ID\" \"$TEST_BASE_SECRET\"",
    );
    let otp = asks("otp", "Vault PIN", "4321", "echo 246810");
    env.set("TEST_BASE_KEY_ID", crate::common::env::BASE_KEY_ID);
    env.set("TEST_BASE_SECRET", crate::common::env::BASE_SECRET);
    env.write_config(
        &crate::common::env::SEED_CONFIG
            .replace("[profile base]\n", &format!("[profile base]\ncredential_process = {base}\n"))
            .replace(
                "external_id = 123456789069\n",
                &format!("external_id = 123456789069\nrolegate_mfa_process = {otp}\n"),
            ),
    );
    env.write_credentials("");
    let mut p = spawn_script(
        &env,
        "\"$ROLEGATE\" credential-process target > out.json; echo \"status=$?.\"; read -r again; echo \"after:$again.\"",
    );
    p.exp_string("Passphrase: ").expect("the base credential_process asks on the terminal");
    p.send_line("open-sesame").unwrap();
    p.exp_string("Vault PIN: ").expect("the MFA program asks on the terminal");
    p.send_line("4321").unwrap();
    p.exp_string("status=0.").expect("rolegate succeeds with what they printed");
    p.send_line("back").unwrap();
    p.exp_string("after:back.").expect("the shell reads the terminal again");
    assert_eq!(sts.count("GetSessionToken"), 1);
    let calls = sts.calls();
    assert_eq!(calls.iter().find(|c| c.action == "GetSessionToken").unwrap().token_code.as_deref(), Some("246810"));
}
