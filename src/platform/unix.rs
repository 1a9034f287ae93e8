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

/// Whether the file is a FIFO or a pipe (`AWS_CONFIG_FILE=<(COMMAND)` names a pipe).
pub fn is_fifo(meta: &Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
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

/// A child started as the leader of a process group of its own ([`spawn_in_own_group`]), so
/// that everything it starts (`sh -c 'op ... | jq'`, a `sleep` left in the background) can be
/// ended with it: [`ChildGroup::kill`] signals the whole group.
pub struct ChildGroup {
    pgid: rustix::process::Pid,
    /// The terminal handed to the group for its run, and the group to give it back to.
    terminal: Option<(File, rustix::process::Pid)>,
}

/// Starts `command` in a new process group. A program in a process group other than the
/// terminal's foreground group is stopped (SIGTTIN, SIGTTOU) when it reads the terminal or
/// changes its modes, as a password manager or `ykman` asking for a password does. So with
/// `terminal`, and when this process is itself in the foreground group, the child's group
/// becomes the terminal's foreground group for its run, as a shell does for a job, and is sent
/// SIGCONT in case it touched the terminal before; dropping the [`ChildGroup`] gives the
/// terminal back. Without `terminal` (a GUI dialog, a background renewal), with no controlling
/// terminal, or from a background group, the terminal is left alone.
pub fn spawn_in_own_group(command: &mut Command, terminal: bool) -> io::Result<(std::process::Child, ChildGroup)> {
    use rustix::process::{Pid, Signal, getpgrp, kill_process_group};
    command.process_group(0);
    let child = command.spawn()?;
    // `spawn` returns once the child runs its program: its own group exists by then.
    let pgid = Pid::from_child(&child);
    let mut group = ChildGroup { pgid, terminal: None };
    if terminal && let Ok(tty) = open_terminal() {
        let ours = getpgrp();
        if rustix::termios::tcgetpgrp(&tty) == Ok(ours) && rustix::termios::tcsetpgrp(&tty, pgid).is_ok() {
            let _ = kill_process_group(pgid, Signal::CONT);
            group.terminal = Some((tty, ours));
        }
    }
    Ok((child, group))
}

impl ChildGroup {
    /// Kills every process of the group (SIGKILL), the child and whatever it started.
    pub fn kill(&self) {
        let _ = rustix::process::kill_process_group(self.pgid, rustix::process::Signal::KILL);
    }
}

impl Drop for ChildGroup {
    /// Gives the terminal back to our group, if the child's group still has it, or no group
    /// does (macOS reports no foreground group once the group's last process is gone); not if
    /// another program has taken it since. This process is then in a background group, where
    /// `tcsetpgrp` would stop it (and its whole group) with SIGTTOU unless the signal is
    /// blocked: it is, in this thread, for that one call, as shells do.
    fn drop(&mut self) {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
        let Some((tty, ours)) = self.terminal.take() else { return };
        let ours_to_take = match rustix::termios::tcgetpgrp(&tty) {
            Ok(now) if now == self.pgid => true,
            Ok(now) if now == ours => false,
            Ok(now) => rustix::process::test_kill_process_group(now) == Err(rustix::io::Errno::SRCH),
            Err(_) => false,
        };
        if !ours_to_take {
            return;
        }
        let mut previous = SigSet::empty();
        let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::from(Signal::SIGTTOU)), Some(&mut previous));
        if blocked.is_ok() {
            let _ = rustix::termios::tcsetpgrp(&tty, ours);
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
        }
    }
}

/// Starts `command` as a child with the user's own core-size limit (this process keeps 0), as
/// [`replace_process`] gives it to the program it becomes.
pub fn spawn_with_user_limits(command: &mut Command) -> io::Result<std::process::Child> {
    restore_core_limit();
    let child = command.spawn();
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: rustix::process::getrlimit(rustix::process::Resource::Core).maximum,
        },
    );
    child
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

/// A TCP listener on `127.0.0.1`, an ephemeral port, non-blocking, whose queue of connections
/// not yet accepted holds `backlog` (the system caps it: `net.core.somaxconn` on Linux,
/// `kern.ipc.somaxconn` on macOS). std's `TcpListener::bind` fixes that queue at 128, which a
/// local connection flood fills.
pub fn listen_loopback(backlog: i32) -> io::Result<std::net::TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    #[cfg(not(target_vendor = "apple"))]
    let socket = rustix::net::socket_with(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    #[cfg(target_vendor = "apple")]
    let socket = {
        let socket = rustix::net::socket_with(AddressFamily::INET, SocketType::STREAM, SocketFlags::empty(), None)?;
        rustix::io::fcntl_setfd(&socket, rustix::io::FdFlags::CLOEXEC)?;
        socket
    };
    rustix::net::bind(&socket, &std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0))?;
    rustix::net::listen(&socket, backlog)?;
    let listener = std::net::TcpListener::from(socket);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A socket [`wait_sockets`] waits on, and for what.
pub enum SocketWait<'a> {
    /// A connection to accept.
    Accept(&'a std::net::TcpListener),
    /// Input (or the peer's end).
    Read(&'a std::net::TcpStream),
    /// Room to write.
    Write(&'a std::net::TcpStream),
}

/// Waits until one of `sockets` is ready or `timeout` passes (`None`: no timeout), and says
/// which are (an error or a hang-up counts as ready: the next call on it says what). One
/// `poll`: the endpoint waits on a few dozen sockets at most, where `poll` is as quick as
/// `epoll`/`kqueue` and the same on every Unix. An interrupted wait returns none ready.
pub fn wait_sockets(sockets: &[SocketWait<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut fds: Vec<PollFd<'_>> = sockets
        .iter()
        .map(|s| match s {
            SocketWait::Accept(l) => PollFd::new(*l, PollFlags::IN),
            SocketWait::Read(s) => PollFd::new(*s, PollFlags::IN),
            SocketWait::Write(s) => PollFd::new(*s, PollFlags::OUT),
        })
        .collect();
    let timeout = timeout.map(|t| Timespec {
        tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    match poll(&mut fds, timeout.as_ref()) {
        Ok(_) => Ok(fds.iter().map(|f| !f.revents().is_empty()).collect()),
        Err(rustix::io::Errno::INTR) => Ok(vec![false; sockets.len()]),
        Err(e) => Err(e.into()),
    }
}
