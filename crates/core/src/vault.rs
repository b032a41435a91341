//! The vault: where every secret of an enrolment lives (broker address and certificate pin,
//! broker credentials, camera credentials). It is the OS keychain — Secret Service on
//! Linux, Keychain on Apple platforms, Credential Manager on Windows — behind the narrow
//! [`SecretStore`] trait, with an in-memory store for unit tests and the demo.
//!
//! There is no plaintext fallback: a locked or missing keychain is an error that says what
//! to do. Values cross this module only as [`Secret`]. See `docs/enrolment.md`.

use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The keychain service name every Mimamori entry is filed under.
pub const SERVICE: &str = "app.mimamori.client";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the keychain is locked or refuses access; unlock it (log in to the desktop session, \
         or unlock the \"login\" keyring) and try again"
    )]
    Locked,
    #[error(
        "no keychain is available ({0}); Mimamori keeps credentials only in the OS keychain \
         and will not store them anywhere else"
    )]
    Unavailable(String),
    #[error("the keychain entry `{0}` is damaged; remove the profile and enrol again")]
    Damaged(String),
    #[error("the keychain failed: {0}")]
    Failed(String),
}

/// A narrow store of named secrets. Implementations must never log values.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Secret<String>>, VaultError>;
    fn set(&self, name: &str, value: &Secret<String>) -> Result<(), VaultError>;
    /// Removes the entry; removing an absent entry is not an error.
    fn delete(&self, name: &str) -> Result<(), VaultError>;
    /// Whether secrets survive the process (false for the demo's memory store).
    fn is_persistent(&self) -> bool;
}

/// Secrets in this process's memory only: for unit tests and the demo, which is visibly
/// marked as such. Never a fallback for a missing keychain.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Secret<String>>>,
}

impl MemoryStore {
    pub fn new() -> Arc<MemoryStore> {
        Arc::new(MemoryStore::default())
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Secret<String>>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Secret<String>>, VaultError> {
        Ok(self.entries().get(name).cloned())
    }
    fn set(&self, name: &str, value: &Secret<String>) -> Result<(), VaultError> {
        self.entries().insert(name.to_owned(), value.clone());
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<(), VaultError> {
        self.entries().remove(name);
        Ok(())
    }
    fn is_persistent(&self) -> bool {
        false
    }
}

/// The OS keychain through `keyring-core` and the platform's credential store.
pub struct KeychainStore {
    store: Arc<keyring_core::CredentialStore>,
}

fn map_error(name: &str, err: keyring_core::Error) -> VaultError {
    use keyring_core::Error as E;
    match err {
        E::NoStorageAccess(_) => VaultError::Locked,
        E::NoDefaultStore | E::NotSupportedByStore(_) => VaultError::Unavailable(err.to_string()),
        E::BadEncoding(_) | E::BadDataFormat(..) | E::Ambiguous(_) => VaultError::Damaged(name.to_owned()),
        // The platform's message says what failed, never the value.
        other => VaultError::Failed(other.to_string()),
    }
}

impl KeychainStore {
    /// Opens the platform keychain. On Linux this needs a Secret Service on the session
    /// bus (GNOME Keyring, KWallet, KeePassXC).
    pub fn open() -> Result<KeychainStore, VaultError> {
        #[cfg(target_os = "linux")]
        {
            let store = zbus_secret_service_keyring_store::Store::new()
                .map_err(|e| VaultError::Unavailable(format!("Secret Service: {e}")))?;
            Ok(KeychainStore { store })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(VaultError::Unavailable("this build has a keychain store for Linux only so far".to_owned()))
        }
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry, VaultError> {
        keyring_core::Entry::new_in_store(&self.store, SERVICE, name).map_err(|e| map_error(name, e))
    }
}

impl SecretStore for KeychainStore {
    fn get(&self, name: &str) -> Result<Option<Secret<String>>, VaultError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(name, e)),
        }
    }
    fn set(&self, name: &str, value: &Secret<String>) -> Result<(), VaultError> {
        self.entry(name)?.set_password(value.expose()).map_err(|e| map_error(name, e))
    }
    fn delete(&self, name: &str) -> Result<(), VaultError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(name, e)),
        }
    }
    fn is_persistent(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trip() {
        let store = MemoryStore::new();
        assert_eq!(store.get("a").unwrap(), None);
        store.set("a", &Secret::new("CANARY".into())).unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().expose(), "CANARY");
        store.delete("a").unwrap();
        store.delete("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        assert!(!store.is_persistent());
    }

    #[test]
    fn errors_say_what_to_do() {
        assert!(VaultError::Locked.to_string().contains("unlock"));
        assert!(
            VaultError::Unavailable("x".into()).to_string().contains("will not store them anywhere else")
        );
    }
}
