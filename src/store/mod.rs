//! The OS credential store: a base profile's long-term secret access key kept out of the AWS
//! files (`rolegate add` / `import` / `rotate` / `remove`).
//!
//! What is where:
//! - the config profile says which store holds its keys and the access key id, neither secret:
//!   ```ini
//!   [profile base]
//!   rolegate_keystore = secret-service
//!   rolegate_access_key_id = AKIA...
//!   ```
//!   The SDKs ignore both keys. Because the key id sits in the config file, the plan's cache key
//!   and the hot index's fingerprint cover it exactly as they cover `aws_access_key_id`: the
//!   cached path never opens the store.
//! - the store holds one item per access key id: service `rolegate`, account the access key id,
//!   secret the secret access key. Keying by the key id (not the profile) lets `rotate` write the
//!   new key beside the old one and switch the profile only once the new key is proven.
//!
//! The stores are the keyring ecosystem's (`keyring-core` and one crate per platform): the
//! macOS Keychain, the Windows Credential Manager, the Secret Service on Linux (GNOME Keyring,
//! KWallet, KeePassXC), and the Linux kernel's keyring as the fallback for a machine without a
//! Secret Service (docs/SECURITY.md says why that one, and what it costs).
//!
//! A store is opened only when a command needs it: the base source reads it when an STS call
//! is about to be signed with the base keys, and `add`/`import`/`rotate`/`remove` write it.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroize;

use crate::credentials::Secret;

/// Profile key: the store that holds the profile's secret access key ([`Backend::name`]).
pub const KEY_KEYSTORE: &str = "rolegate_keystore";
/// Profile key: the access key id whose secret the store holds.
pub const KEY_ACCESS_KEY_ID: &str = "rolegate_access_key_id";
/// The service name of every item rolegate writes.
pub const SERVICE: &str = "rolegate";

/// A credential store rolegate can keep keys in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The freedesktop Secret Service over D-Bus (GNOME Keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel's key retention service: the user's persistent keyring.
    KernelKeyring,
    /// The macOS login keychain.
    Keychain,
    /// The Windows Credential Manager.
    CredentialManager,
}

impl Backend {
    pub const ALL: [Backend; 4] =
        [Backend::SecretService, Backend::KernelKeyring, Backend::Keychain, Backend::CredentialManager];

    /// The value of `rolegate_keystore` and `--keystore`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::KernelKeyring => "kernel-keyring",
            Backend::Keychain => "keychain",
            Backend::CredentialManager => "credential-manager",
        }
    }

    pub fn parse(value: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == value)
    }

    /// For messages: where the keys live.
    pub fn describe(self) -> &'static str {
        match self {
            Backend::SecretService => "the Secret Service (GNOME Keyring, KWallet)",
            Backend::KernelKeyring => "the kernel keyring (until the next reboot)",
            Backend::Keychain => "the macOS keychain",
            Backend::CredentialManager => "the Windows Credential Manager",
        }
    }

    /// The platform's own store, the one `add` uses when none is named.
    pub fn native() -> Backend {
        if cfg!(target_os = "macos") {
            Backend::Keychain
        } else if cfg!(target_os = "windows") {
            Backend::CredentialManager
        } else {
            Backend::SecretService
        }
    }

    /// The fallback of the platform when its own store cannot be reached.
    pub fn fallback() -> Option<Backend> {
        cfg!(target_os = "linux").then_some(Backend::KernelKeyring)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{} cannot be used on this system", backend.describe())]
    Unsupported { backend: Backend },
    #[error("cannot open {}: {detail}", backend.describe())]
    Unavailable { backend: Backend, detail: String },
    #[error("{} has no secret for access key {access_key_id}", backend.describe())]
    NotFound { backend: Backend, access_key_id: String },
    #[error("{} refused access to the secret of access key {access_key_id}: {detail}", backend.describe())]
    Denied { backend: Backend, access_key_id: String, detail: String },
    #[error("{} failed on the secret of access key {access_key_id}: {detail}", backend.describe())]
    Failed { backend: Backend, access_key_id: String, detail: String },
}

impl StoreError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StoreError::Unsupported { .. } => {
                "choose another store with --keystore (secret-service or kernel-keyring on Linux)".into()
            }
            StoreError::Unavailable { backend: Backend::SecretService, .. } => "the Secret Service needs a D-Bus session and a running keyring (GNOME Keyring, KWallet, KeePassXC); without one, use --keystore kernel-keyring".into(),
            StoreError::Unavailable { .. } => "check that the store is running and unlocked".into(),
            StoreError::NotFound { backend: Backend::KernelKeyring, .. } => "the kernel keyring is emptied at every reboot (and after days unused): store the keys again with `rolegate add`".into(),
            StoreError::NotFound { .. } => "store the keys again with `rolegate add`".into(),
            StoreError::Denied { .. } => "unlock the keyring (log in to the desktop session, or unlock it in its manager) and try again".into(),
            StoreError::Failed { .. } => "try again; `rolegate doctor` shows where each profile's keys live".into(),
        })
    }
}

/// Opens `backend`'s store (a D-Bus connection for the Secret Service: opened only here).
fn open(backend: Backend) -> Result<Arc<CredentialStore>, StoreError> {
    let _span = tracing::debug_span!("open store", store = backend.name()).entered();
    let unavailable = |e: keyring_core::Error| StoreError::Unavailable { backend, detail: e.to_string() };
    match backend {
        #[cfg(target_os = "linux")]
        Backend::SecretService => {
            zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>).map_err(unavailable)
        }
        #[cfg(target_os = "linux")]
        Backend::KernelKeyring => {
            // A process outside a login session (ssh without pam_keyinit, a container, CI) has
            // no session keyring: the kernel lends it the user's default one, through which the
            // persistent keyring cannot be written. Asking for the session keyring with
            // `create` gives such a process an anonymous one of its own instead (one that
            // exists already is kept); the keys live in the persistent keyring either way.
            linux_keyutils::KeyRing::from_special_id(linux_keyutils::KeyRingIdentifier::Session, true)
                .map_err(|e| StoreError::Unavailable { backend, detail: e.to_string() })?;
            linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>).map_err(unavailable)
        }
        #[cfg(target_os = "macos")]
        Backend::Keychain => {
            apple_native_keyring_store::keychain::Store::new().map(|s| s as Arc<CredentialStore>).map_err(unavailable)
        }
        #[cfg(target_os = "windows")]
        Backend::CredentialManager => {
            windows_native_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>).map_err(unavailable)
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = unavailable;
            Err(StoreError::Unsupported { backend })
        }
    }
}

/// One opened store.
pub struct Store {
    backend: Backend,
    inner: Arc<CredentialStore>,
}

impl Store {
    pub fn open(backend: Backend) -> Result<Store, StoreError> {
        Ok(Store { backend, inner: open(backend)? })
    }

    /// The platform's own store, else its fallback (and a note of why, for the user).
    pub fn open_default() -> Result<(Store, Option<StoreError>), StoreError> {
        match Store::open(Backend::native()) {
            Ok(store) => Ok((store, None)),
            Err(e) => match Backend::fallback() {
                Some(fallback) => Ok((Store::open(fallback)?, Some(e))),
                None => Err(e),
            },
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn entry(&self, access_key_id: &str) -> Result<Entry, StoreError> {
        Entry::new_in_store(&self.inner, SERVICE, access_key_id).map_err(|e| self.error(access_key_id, e))
    }

    fn error(&self, access_key_id: &str, e: keyring_core::Error) -> StoreError {
        let backend = self.backend;
        let access_key_id = access_key_id.to_string();
        match e {
            keyring_core::Error::NoEntry => StoreError::NotFound { backend, access_key_id },
            keyring_core::Error::NoStorageAccess(e) => {
                StoreError::Denied { backend, access_key_id, detail: e.to_string() }
            }
            // These two carry the bytes read: never shown.
            keyring_core::Error::BadEncoding(mut bytes) | keyring_core::Error::BadDataFormat(mut bytes, _) => {
                bytes.zeroize();
                StoreError::Failed { backend, access_key_id, detail: "the stored secret is not text".into() }
            }
            other => StoreError::Failed { backend, access_key_id, detail: other.to_string() },
        }
    }

    /// Stores `secret` as the secret of `access_key_id` (replacing one stored before).
    pub fn put(&self, access_key_id: &str, secret: &Secret) -> Result<(), StoreError> {
        let _span = tracing::debug_span!("store put", store = self.backend.name(), access_key_id).entered();
        let entry = self.entry(access_key_id)?;
        entry.set_secret(secret.expose_secret().as_bytes()).map_err(|e| self.error(access_key_id, e))
    }

    /// The secret of `access_key_id`.
    pub fn get(&self, access_key_id: &str) -> Result<Secret, StoreError> {
        let _span = tracing::debug_span!("store get", store = self.backend.name(), access_key_id).entered();
        let entry = self.entry(access_key_id)?;
        let mut bytes = entry.get_secret().map_err(|e| self.error(access_key_id, e))?;
        let text = std::str::from_utf8(&bytes).map(Secret::new);
        bytes.zeroize();
        text.map_err(|_| StoreError::Failed {
            backend: self.backend,
            access_key_id: access_key_id.into(),
            detail: "the stored secret is not text".into(),
        })
    }

    /// Deletes the secret of `access_key_id`; `Ok(false)` when there was none.
    pub fn delete(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let _span = tracing::debug_span!("store delete", store = self.backend.name(), access_key_id).entered();
        let entry = self.entry(access_key_id)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.error(access_key_id, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_name_reads_back() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
        assert_eq!(Backend::parse("Secret-Service"), None);
    }

    #[test]
    fn an_unreadable_secret_is_not_in_the_error() {
        let store = Store { backend: Backend::KernelKeyring, inner: keyring_core::mock::Store::new().expect("mock") };
        let e = store.error("AKIAEXAMPLE", keyring_core::Error::BadEncoding(b"wJalrXUtnFEMI".to_vec()));
        assert!(!format!("{e} {e:?}").contains("wJalrXUtnFEMI"), "{e:?}");
    }
}
