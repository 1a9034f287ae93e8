//! Visible skips. libtest swallows `eprintln!` from passing tests, so the line is written to the
//! process's stderr directly and shows in every run. A tool named in `ROLEGATE_TEST_REQUIRE`
//! (comma-separated, e.g. `terraform,aws,moto`; CI sets it) must be present: there a skip fails.

use std::io::Write;

/// Environment variable listing the tools whose absence fails a test instead of skipping it.
pub const REQUIRE_VAR: &str = "ROLEGATE_TEST_REQUIRE";

/// Reports that `test` cannot run for want of `tool`.
pub fn skip(test: &str, tool: &str, reason: &str) {
    let required = std::env::var(REQUIRE_VAR).unwrap_or_default();
    if required.split(',').any(|t| t.trim() == tool) {
        panic!("{test} cannot run ({reason}), and {REQUIRE_VAR} requires {tool}");
    }
    let _ = writeln!(std::io::stderr(), "SKIP: {test} ({reason})");
}
