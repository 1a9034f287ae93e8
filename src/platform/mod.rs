//! Every call that differs between operating systems, behind one door: private files and
//! directories, the terminal device, replacing or supervising a process, signals. The rest of
//! rolegate is written against these functions, so a port to another system is bounded by this
//! folder. Locks are std's `File::lock` (portable already) and are not here.
//!
//! Only Unix is implemented ([`unix`]); another system adds a sibling module with the same
//! functions.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
