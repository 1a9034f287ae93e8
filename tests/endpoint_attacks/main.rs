//! The attack suite of the local endpoint, in a test binary of its own: cargo runs test
//! binaries one after another, so these latency measurements never share the machine with the
//! rest of the suite, and the attacks run one at a time (see `endpoint_attacks::under_attack`).

// Tests are the outside world: they read the real environment and clock to set up processes.
#![allow(clippy::disallowed_methods)]
// The shared support of the main suite; this binary uses part of it.
#![allow(dead_code, unused_imports)]

#[path = "../it/common/mod.rs"]
mod common;

mod endpoint_attacks;
