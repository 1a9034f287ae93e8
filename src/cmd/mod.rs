//! The subcommands: one file each, each a short story over a [`Session`](crate::session::Session)
//! and the engines. Nothing below `cmd` imports it.

pub mod clear;
pub mod completions;
pub mod credential_process;
pub mod doctor;
pub mod exec;
pub mod export;
pub mod keys;
pub mod list;
pub mod login;
pub mod setup;
pub mod shim;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::Error;

/// Runs a parsed command line; the exit status on success (a child's, for `exec`).
pub fn run(ctx: Context, cli: &Cli) -> Result<u8, Error> {
    let ok = |()| 0;
    match &cli.command {
        Command::CredentialProcess(args) => credential_process::run(ctx, cli, args).map(ok),
        Command::Exec(args) => exec::run(ctx, cli, args),
        Command::Export(args) => export::run(ctx, cli, args).map(ok),
        Command::Shim(args) => shim::manage(&ctx, args),
        Command::Login(args) => login::run(ctx, cli, args),
        Command::Completions { shell } => completions::completions(*shell).map(ok),
        Command::Man(args) => completions::man(args).map(ok),
        Command::List => list::run(ctx, cli).map(ok),
        Command::Clear(args) => clear::run(ctx, cli, args).map(ok),
        Command::Setup(args) => match setup::run(&ctx, cli, args)? {
            setup::Outcome::Done(status) => Ok(status),
            setup::Outcome::StoreKeys { base } => {
                keys::add(&ctx, &crate::cli::AddArgs { profile: base, env: false, keystore: None })
            }
        },
        Command::Doctor(args) => doctor::run(&ctx, cli, args),
        Command::Add(args) => keys::add(&ctx, args),
        Command::Import(args) => keys::import(&ctx, args),
        Command::Rotate(args) => keys::rotate(ctx, cli, args),
        Command::Remove(args) => keys::remove(&ctx, &args.profile),
    }
}
