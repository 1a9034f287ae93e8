//! `rolegate completions SHELL` and `rolegate man`: generated from the clap definitions.

use crate::cli::Cli;
use crate::error::Error;
use crate::output;

/// `rolegate completions SHELL`
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut command, "rolegate", &mut buf);
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}

/// `rolegate man`
pub fn man() -> Result<(), Error> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(command).render(&mut buf).map_err(Error::Stdout)?;
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}
