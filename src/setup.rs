//! `rolegate setup PROFILE [--as NAME]`: adds the Terraform-facing profile to the user's config.

use crate::cli::{Cli, SetupArgs};
use crate::context::Context;
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {}

impl SetupError {
    pub fn hint(&self) -> Option<String> {
        None
    }

    pub fn exit_code(&self) -> u8 {
        crate::error::EXIT_CONFIG
    }
}

pub fn run(_ctx: &Context, _cli: &Cli, _args: &SetupArgs) -> Result<u8, Error> {
    Ok(0)
}
