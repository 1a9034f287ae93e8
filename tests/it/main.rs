//! The one integration-test binary: the real `rolegate` binary against real STS emulators.

// Tests are the outside world: they read the real environment and clock to set up processes.
#![allow(clippy::disallowed_methods)]

mod aws_vault_config;
mod common;
mod completion;
mod credential_process;
mod doctor;
mod environment;
mod exec;
mod export_shells;
mod faults;
mod hardening;
mod hot_index;
mod keys;
mod leaks;
mod list_clear;
mod login;
mod mfa_sources;
mod moto_sts;
mod setup;
mod shim;
mod sts_standin;
mod terraform;
mod terraform_channels;
