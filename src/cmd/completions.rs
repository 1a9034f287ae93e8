//! `rolegate completions SHELL` and `rolegate man [SUBCOMMAND]`: generated from the clap
//! definitions. The main page lists its subcommands as `rolegate-exec(1)`, ...; each of those
//! pages is `rolegate man exec`, and `rolegate man --dir DIR` writes them all as files.

use crate::cli::{Cli, ManArgs};
use crate::error::Error;
use crate::output;

/// `rolegate completions SHELL`
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut command, "rolegate", &mut buf);
    output::write_stdout(&String::from_utf8_lossy(&buf)).map_err(Error::Stdout)
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
