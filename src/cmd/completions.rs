//! `rolegate completions SHELL` and `rolegate man [SUBCOMMAND]`: generated from the clap
//! definitions; and [`complete`], the answer to a shell asking for completions at TAB.
//!
//! Completion is dynamic (clap_complete's `CompleteEnv`): the script `rolegate completions
//! SHELL` prints registers a function that, at each TAB, runs
//! `ROLEGATE_COMPLETE=SHELL rolegate -- rolegate WORDS...`; rolegate answers with the
//! subcommands, flags or values that fit, and for a profile argument with the profile names of
//! the user's files as they are at that moment (headers only, [`crate::config::profile_names`]).
//! The script calls `rolegate` by name, so it keeps working after an upgrade or a move along
//! `PATH`. clap_complete writes the answer to stdout itself.
//!
//! The main man page lists its subcommands as `rolegate-exec(1)`, ...; each of those pages is
//! `rolegate man exec`, and `rolegate man --dir DIR` writes them all as files.

use clap::CommandFactory;
use clap_complete::env::{CompleteEnv, Shells};

use crate::cli::{Cli, ManArgs};
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

/// The command line as the man pages show it: built (so each subcommand's display name is
/// `rolegate-exec`), without clap's `help` subcommand, which has no page.
fn pages_root() -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    command.build();
    command
}

/// `rolegate man [SUBCOMMAND...] [--dir DIR]`
pub fn man(args: &ManArgs) -> Result<(), Error> {
    let root = pages_root();
    if let Some(dir) = &args.dir {
        clap_mangen::generate_to(root, dir).map_err(|source| Error::ManPages { dir: dir.clone(), source })?;
        return Ok(());
    }
    let page = find_page(&root, &args.page)?;
    let mut buf = Vec::new();
    clap_mangen::Man::new(page.clone()).render(&mut buf).map_err(Error::Stdout)?;
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
}

/// The subcommand named by `words` (`exec`; `shim install`; `rolegate-shim-install`), or the
/// root for none.
fn find_page<'a>(root: &'a clap::Command, words: &[String]) -> Result<&'a clap::Command, Error> {
    let mut path: Vec<String> = Vec::new();
    for word in words {
        let word = word.strip_suffix("(1)").unwrap_or(word);
        let word = word.strip_prefix("rolegate-").unwrap_or(word);
        path.extend(word.split(['-', ' ']).filter(|w| !w.is_empty()).map(str::to_string));
    }
    let mut page = root;
    let mut i = 0;
    while i < path.len() {
        // Subcommand names may themselves hold a dash (`credential-process`): the longest
        // name that matches the next words wins.
        let found = (i + 1..=path.len()).rev().find_map(|end| {
            let name = path[i..end].join("-");
            page.get_subcommands().filter(|s| !s.is_hide_set()).find(|s| s.get_name() == name).map(|s| (s, end))
        });
        match found {
            Some((sub, end)) => {
                page = sub;
                i = end;
            }
            None => {
                let known: Vec<String> = all_pages(root).into_iter().skip(1).collect();
                return Err(Error::NoManPage { name: words.join(" "), known });
            }
        }
    }
    Ok(page)
}

/// Every page's name, the root's first: `rolegate`, `rolegate-exec`, `rolegate-shim-install`, ...
fn all_pages(command: &clap::Command) -> Vec<String> {
    let mut out = vec![command.get_display_name().unwrap_or_else(|| command.get_name()).to_string()];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.extend(all_pages(sub));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(words: &[&str]) -> Option<String> {
        let root = pages_root();
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        find_page(&root, &words).ok().map(|c| c.get_display_name().unwrap_or(c.get_name()).to_string())
    }

    #[test]
    fn pages_are_found_by_subcommand_or_page_name() {
        assert_eq!(page(&[]).as_deref(), Some("rolegate"));
        assert_eq!(page(&["exec"]).as_deref(), Some("rolegate-exec"));
        assert_eq!(page(&["credential-process"]).as_deref(), Some("rolegate-credential-process"));
        assert_eq!(page(&["shim", "install"]).as_deref(), Some("rolegate-shim-install"));
        assert_eq!(page(&["rolegate-shim-install"]).as_deref(), Some("rolegate-shim-install"));
        assert_eq!(page(&["rolegate-exec(1)"]).as_deref(), Some("rolegate-exec"));
        assert_eq!(page(&["nope"]), None);
        assert_eq!(page(&["help"]), None, "clap's help subcommand has no page");
    }

    #[test]
    fn every_page_the_main_page_refers_to_exists() {
        let root = pages_root();
        let names = all_pages(&root);
        assert!(names.contains(&"rolegate-exec".to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with("-help")), "{names:?}");
        for name in &names[1..] {
            assert_eq!(page(&[name.as_str()]).as_deref(), Some(name.as_str()));
        }
    }
}
