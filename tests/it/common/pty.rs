//! Driving rolegate through a real pseudo-terminal (rexpect): the child gets a controlling
//! terminal, so `/dev/tty` is the pty and what rolegate writes there is what we read.

use std::process::Command;

use rexpect::session::{PtySession, spawn_command};

use super::env::TestEnv;

/// Upper bound for any single expectation: a bound on a hang, not a synchronisation.
pub const EXPECT_TIMEOUT_MS: u64 = 30_000;

/// Runs `sh -c SCRIPT` on a new pty, with the test environment (`$ROLEGATE` is the binary).
pub fn spawn_script(env: &TestEnv, script: &str) -> PtySession {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env_clear()
        .envs(env.envs())
        .env("ROLEGATE", super::env::rolegate_bin())
        .current_dir(env.dir.path());
    spawn_command(cmd, Some(EXPECT_TIMEOUT_MS)).expect("spawn on a pty")
}

/// Counts non-overlapping occurrences.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}
