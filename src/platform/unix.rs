//! The Unix implementation of [`crate::platform`] (Linux and macOS), over std's Unix extensions
//! and `rustix` (safe wrappers of the system calls; no `unsafe` here).

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::OFlags;

/// This process's effective user id.
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The owner's user id of a file.
pub fn owner(meta: &Metadata) -> u32 {
    meta.uid()
}

/// The permission bits of a file (`0o7777` at most).
pub fn mode(meta: &Metadata) -> u32 {
    meta.mode() & 0o7777
}

/// Owned by this user and closed to group and others.
pub fn is_private(meta: &Metadata) -> bool {
    owner(meta) == my_uid() && mode(meta) & 0o077 == 0
}

/// Whether anyone may execute the file.
pub fn is_executable(meta: &Metadata) -> bool {
    meta.permissions().mode() & 0o111 != 0
}

/// Opens a file for reading without following a final symbolic link and without blocking on a
/// FIFO or a device (the caller then checks the type with the handle's metadata; reads are
/// blocking again for a regular file, where the flag means nothing).
pub fn open_read_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32).open(path)
}

/// Whether an open failed because the path is a symbolic link (with [`open_read_nofollow`]).
pub fn is_symlink_error(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

/// Opens (creating it 0600 if needed) a lock file, never through a symbolic link.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Opens a file for appending, creating it 0600.
pub fn open_append_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).mode(0o600).open(path)
}

/// Creates one directory, mode 0700 from the start; an existing one is left as it is.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Makes a symbolic link `link` pointing at `target`.
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Opens the controlling terminal for a prompt, without making it ours if we have none.
pub fn open_terminal() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).custom_flags(OFlags::NOCTTY.bits() as i32).open("/dev/tty")
}

/// Opens the controlling terminal to give to a child as its stdin and stderr.
pub fn open_terminal_for_child() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}

/// Waits until `file` has input or `timeout` passes: `Ok(false)` on timeout. An interrupted wait
/// counts as a timeout of zero length (the caller loops on its own deadline).
pub fn wait_readable(file: &File, timeout: Duration) -> io::Result<bool> {
    let timeout = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
    let mut fds = [PollFd::new(file, PollFlags::IN)];
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Replaces this process with `command` (Unix `exec`): signals and the exit status become the
/// command's own. Returns only on failure.
pub fn replace_process(command: &mut Command) -> io::Error {
    command.exec()
}

/// The status a shell would report for a finished child: its exit code, or 128 + the signal
/// that killed it.
pub fn status_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(255),
        (None, None) => 1,
    }
}

/// Forwards SIGINT, SIGTERM and SIGHUP to a child while the parent waits for it, except a
/// signal the terminal already delivered to the child's process group (Terraform reads a second
/// SIGINT as "abort now"). Dropping it stops the forwarding.
pub struct SignalForwarder {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalForwarder {
    /// Installs the handlers; call before the child starts, then [`SignalForwarder::forward_to`].
    pub fn install() -> io::Result<CaughtSignals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let signals = signal_hook::iterator::SignalsInfo::<signal_hook::iterator::exfiltrator::WithOrigin>::new([
            SIGINT, SIGTERM, SIGHUP,
        ])?;
        Ok(CaughtSignals { signals })
    }
}

/// Handlers installed, no child yet.
pub struct CaughtSignals {
    signals: signal_hook::iterator::SignalsInfo<signal_hook::iterator::exfiltrator::WithOrigin>,
}

impl CaughtSignals {
    /// Starts forwarding to `child`.
    pub fn forward_to(self, child: &std::process::Child) -> SignalForwarder {
        use signal_hook::consts::SIGTERM;
        use signal_hook::low_level::siginfo::Cause;
        let mut signals = self.signals;
        let child_pid = rustix::process::Pid::from_child(child);
        let handle = signals.handle();
        let thread = std::thread::spawn(move || {
            for origin in signals.forever() {
                // The terminal sends SIGINT/SIGHUP to the whole foreground process group, child
                // included; forwarding it again would be a second signal.
                let from_terminal = origin.cause == Cause::Kernel;
                if from_terminal && origin.signal != SIGTERM {
                    continue;
                }
                if let Some(sig) = rustix::process::Signal::from_named_raw(origin.signal) {
                    let _ = rustix::process::kill_process(child_pid, sig);
                }
            }
        });
        SignalForwarder { handle, thread: Some(thread) }
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// This process's limit of open descriptors (`RLIMIT_NOFILE`, the soft one); `None` if unlimited.
pub fn open_files_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Which of `sockets` have input waiting (or an end) right now, without blocking and without
/// changing their flags (one `poll` with a zero timeout).
pub fn have_input<S: std::os::fd::AsFd>(sockets: &[S]) -> Vec<bool> {
    let mut fds: Vec<PollFd<'_>> = sockets.iter().map(|s| PollFd::new(s, PollFlags::IN)).collect();
    let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
    match poll(&mut fds, Some(&zero)) {
        Ok(_) => fds.iter().map(|f| !f.revents().is_empty()).collect(),
        Err(_) => vec![false; sockets.len()],
    }
}
