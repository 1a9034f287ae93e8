//! A private, real Secret Service: a D-Bus session bus (`dbus-daemon --session`) and GNOME
//! Keyring unlocked on it (`gnome-keyring-daemon --unlock --components=secrets`), its files in
//! the test's directory. Both are killed when the fixture is dropped. Tests that need it skip
//! visibly (tool name `secret-service`) where the two programs are missing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::env::TestEnv;
use super::skip::skip;

/// Bound on the daemons' start: a bound on a hang, not a synchronisation.
const START_LIMIT: Duration = Duration::from_secs(20);

pub struct SecretService {
    bus: Child,
    keyring: Option<Child>,
    /// `DBUS_SESSION_BUS_ADDRESS` of the private bus.
    pub address: String,
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

impl SecretService {
    /// Starts the bus and the keyring for `env` (its HOME holds the keyring's files), and sets
    /// `DBUS_SESSION_BUS_ADDRESS` in `env`.
    pub fn start_or_skip(test: &str, env: &mut TestEnv) -> Option<SecretService> {
        for tool in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"] {
            if !on_path(tool) {
                skip(test, "secret-service", &format!("{tool} is not installed (Debian: dbus, gnome-keyring)"));
                return None;
            }
        }
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("piped")).read_line(&mut address).expect("bus address");
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon printed no address: {address:?}");

        let runtime = env.path("run");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
        let mut service = SecretService { bus, keyring: None, address };
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", env.home())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", &service.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        // The login keyring's password, on stdin: the keyring starts unlocked.
        let mut stdin = keyring.stdin.take().expect("piped");
        stdin.write_all(b"test-keyring-password").expect("unlock password");
        drop(stdin);
        service.keyring = Some(keyring);
        service.wait_for_name();
        env.set("DBUS_SESSION_BUS_ADDRESS", &service.address);
        Some(service)
    }

    /// Waits until `org.freedesktop.secrets` has an owner on the bus.
    fn wait_for_name(&self) {
        let give_up = Instant::now() + START_LIMIT;
        loop {
            let out = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .output()
                .expect("dbus-send");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(Instant::now() < give_up, "gnome-keyring-daemon did not take org.freedesktop.secrets");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(k) = &mut self.keyring {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// Whether the kernel's key retention service answers here (a container's seccomp profile may
/// forbid it): `keyctl` (Debian: keyutils) reads the session keyring.
pub fn kernel_keyring_or_skip(test: &str) -> bool {
    let ok = Command::new("keyctl")
        .args(["show", "@s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(test, "keyutils", "keyctl is not installed or the kernel keyring is not reachable");
    }
    ok
}
