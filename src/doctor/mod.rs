//! `rolegate doctor [PROFILE] [--terraform DIR] [--json]`: explains a profile and finds what is wrong.

use crate::cli::{Cli, DoctorArgs};
use crate::context::Context;
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum DoctorError {}

impl DoctorError {
    pub fn hint(&self) -> Option<String> {
        None
    }

    pub fn exit_code(&self) -> u8 {
        crate::error::EXIT_CONFIG
    }
}

/// Exit status 0 when nothing is wrong, 1 when there are findings.
pub fn run(_ctx: &Context, _cli: &Cli, _args: &DoctorArgs) -> Result<u8, Error> {
    Ok(0)
}
