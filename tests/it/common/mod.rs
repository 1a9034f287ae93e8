//! Test support: STS emulators, the test environment builder, the pseudo-terminal driver.
#![allow(dead_code)]
pub mod moto;
pub mod strict_sts;
pub mod env;
pub mod pty;
pub mod terraform;
