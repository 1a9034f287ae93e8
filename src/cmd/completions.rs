//! `rolegate completions SHELL` and `rolegate man`: generated from the clap definitions; and
//! [`complete`], the answer to a shell asking for completions at TAB.
//!
//! Completion is dynamic (clap_complete's `CompleteEnv`): the script `rolegate completions
//! SHELL` prints registers a function that, at each TAB, runs
//! `ROLEGATE_COMPLETE=SHELL rolegate -- rolegate WORDS...`; rolegate answers with the
//! subcommands, flags or values that fit, and for a profile argument with the profile names of
//! the user's files as they are at that moment (headers only, [`crate::config::profile_names`]).
//! The script calls `rolegate` by name, so it keeps working after an upgrade or a move along
//! `PATH`. clap_complete writes the answer to stdout itself.

use clap::CommandFactory;
use clap_complete::env::{CompleteEnv, Shells};

use crate::cli::Cli;
use crate::env_vars;
use crate::error::Error;
use crate::output;

/// The name the registration scripts complete, and the program they run to ask.
const BIN: &str = "rolegate";

/// `rolegate completions SHELL`: the script that registers the completion function.
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        // Every `clap_complete::Shell` has a completer; a new one would land here.
        return Err(Error::Stdout(std::io::Error::other(format!("no completion script for {name}"))));
    };
    let mut buf = Vec::new();
    completer.write_registration(env_vars::ROLEGATE_COMPLETE, BIN, BIN, BIN, &mut buf).map_err(Error::Stdout)?;
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}

/// A shell asking for completions (`ROLEGATE_COMPLETE` set): answered, and `Some(status)`.
/// Otherwise `None` at the cost of one environment lookup; tried after the fast path, so a
/// cached `credential-process` call never gets here.
pub fn complete(args: &[std::ffi::OsString]) -> Option<u8> {
    let current_dir = std::env::current_dir().ok();
    match CompleteEnv::with_factory(Cli::command)
        .var(env_vars::ROLEGATE_COMPLETE)
        .bin(BIN)
        .completer(BIN)
        .try_complete(args.iter().cloned(), current_dir.as_deref())
    {
        Ok(false) => None,
        Ok(true) => Some(0),
        Err(e) => {
            let _ = e.print();
            Some(crate::error::EXIT_USAGE)
        }
    }
}

/// `rolegate man`
pub fn man() -> Result<(), Error> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(command).render(&mut buf).map_err(Error::Stdout)?;
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}
