//! Test support: STS emulators, the test environment builder, the pseudo-terminal driver.
#![allow(dead_code)]
pub mod audit;
pub mod env;
pub mod moto;
pub mod pty;
pub mod skip;
pub mod strict_sts;
pub mod terraform;
