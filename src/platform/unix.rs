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

/// The core-size limit this process started with, to hand back to a program it becomes.
static CORE_LIMIT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();

/// Keeps secrets out of core dumps and away from debuggers: the process becomes non-dumpable
/// (no core file, no `ptrace` attach by other processes of the same user; Linux resets this at
/// `exec`, so it is ours alone) and its soft `RLIMIT_CORE` becomes 0 (also honoured where the
/// first is not, e.g. macOS). Call first thing, before any secret is read; failures are ignored
/// (a sandbox may forbid them, and credentials must still work).
pub fn forbid_core_dumps() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
    let _ = CORE_LIMIT.set(limit.current);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit { current: Some(0), maximum: limit.maximum },
    );
}

/// Gives the user's own core-size limit back before this process becomes their program.
fn restore_core_limit() {
    if let Some(current) = CORE_LIMIT.get() {
        let maximum = rustix::process::getrlimit(rustix::process::Resource::Core).maximum;
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::Core,
            rustix::process::Rlimit { current: *current, maximum },
        );
    }
}

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

/// Opens a file for reading without blocking on a FIFO or a device and without making a
/// terminal ours (the caller checks the type with the handle's metadata). Symbolic links are
/// followed: the AWS files are often links into a dotfiles repository.
pub fn open_read_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32).open(path)
}

/// The bytes of an OS string as the system holds them (for hashing, never for display).
pub fn os_bytes(s: &std::ffi::OsStr) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(s)
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

/// Creates a new file for writing with `mode` (less the umask), failing if it exists.
pub fn create_new_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

/// Opens a file of ours for appending, creating it 0600: never through a symbolic link, never
/// a FIFO or a device, never a file another user owns (a shared `/tmp` is full of traps).
pub fn open_append_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .map_err(|e| if is_symlink_error(&e) { io::Error::other("it is a symbolic link") } else { e })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    if owner(&meta) != my_uid() {
        return Err(io::Error::other(format!("it is owned by another user (uid {})", owner(&meta))));
    }
    Ok(file)
}

/// Creates one directory, mode 0700 from the start; an existing one is left as it is.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Everything that changes when a file's contents may have: device, inode, size, and the
/// modification and status-change times to the nanosecond (the status-change time cannot be
/// set back by a user, as `touch -r` sets the modification time).
pub fn change_stamp(meta: &Metadata) -> String {
    format!(
        "{}:{}:{}:{}.{:09}:{}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// When the file's status last changed (any write, rename or mode change), as seconds since
/// the epoch.
pub fn changed_at(meta: &Metadata) -> i64 {
    meta.ctime()
}

/// The owner's group id of a file.
pub fn group(meta: &Metadata) -> u32 {
    meta.gid()
}

/// How many names the file has (hard links).
pub fn link_count(meta: &Metadata) -> u64 {
    meta.nlink()
}

/// Permissions of exactly `mode` (`0o600`, ...).
pub fn permissions(mode: u32) -> std::fs::Permissions {
    std::fs::Permissions::from_mode(mode)
}

/// Gives an open file an owner and group (possible as root, or to one's own groups).
pub fn set_owner(file: &File, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::fchown(file, Some(uid), Some(gid))
}

/// Creates a directory and its missing parents, each new one mode 0700 from the start.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Makes a symbolic link `link` pointing at `target`.
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Opens the controlling terminal for a prompt, without making it ours if we have none.
pub fn open_terminal() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).custom_flags(OFlags::NOCTTY.bits() as i32).open("/dev/tty")
}

/// Turns the terminal's echo off until the guard is dropped (a secret typed at a prompt is not
/// shown). A kill before then leaves echo off, as with `ssh` and `sudo`; `stty sane` restores it.
pub struct EchoOff<'a> {
    tty: &'a File,
    saved: Option<rustix::termios::Termios>,
}

pub fn echo_off(tty: &File) -> io::Result<EchoOff<'_>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let saved = tcgetattr(tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(tty, OptionalActions::Now, &quiet)?;
    Ok(EchoOff { tty, saved: Some(saved) })
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            let _ = rustix::termios::tcsetattr(self.tty, rustix::termios::OptionalActions::Now, &saved);
        }
    }
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

/// Replaces this process with `command` (Unix `exec`): signals, the exit status and the user's
/// core-size limit become the command's own. Returns only on failure.
pub fn replace_process(command: &mut Command) -> io::Error {
    restore_core_limit();
    let error = command.exec();
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: rustix::process::getrlimit(rustix::process::Resource::Core).maximum,
        },
    );
    error
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
