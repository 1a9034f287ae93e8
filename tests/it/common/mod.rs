//! Test support: STS emulators, the test environment builder, bounded runs of the binary, the
//! cache directory as tests inspect it, loopback stand-ins that are not STS, the
//! pseudo-terminal driver.
#![allow(dead_code)]
pub mod audit;
pub mod cache;
pub mod env;
pub mod moto;
pub mod net;
pub mod pty;
pub mod run;
pub mod secret_service;
pub mod skip;
pub mod strict_sts;
pub mod terraform;
