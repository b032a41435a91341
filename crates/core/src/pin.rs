//! The app PIN: a fresh proof that the person holding the device is its owner, asked
//! before a command that lowers protection (unlock, disarm, silence the siren). Set on
//! first use; kept in the OS keychain only as an Argon2id hash with its salt; a proof
//! stays fresh for two minutes; five wrong PINs lock it for five minutes. See
//! `docs/control.md`.

use crate::Secret;
use crate::vault::{SecretStore, VaultError};
use base64::Engine;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a proof lasts.
pub const FRESH_FOR: Duration = Duration::from_secs(120);
/// Wrong PINs before the lock-out, and how long it lasts.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(300);
const ENTRY: &str = "device-pin";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("the app PIN is 4 to 12 digits")]
    Format,
    #[error("no app PIN is set yet")]
    NotSet,
    #[error("an app PIN is already set")]
    AlreadySet,
    #[error("wrong app PIN ({0} tries left)")]
    Wrong(u32),
    #[error("too many wrong PINs: try again in {0} s")]
    LockedOut(u64),
    #[error("the stored app PIN is damaged; remove and enrol this device again")]
    Damaged,
    #[error(transparent)]
    Vault(#[from] VaultError),
}

pub struct DevicePin {
    store: Arc<dyn SecretStore>,
    fresh_until: Mutex<Option<Instant>>,
    /// Wrong tries in a row, and the end of the current lock-out.
    failures: Mutex<(u32, Option<Instant>)>,
}

fn hash(pin: &str, salt: &[u8]) -> Result<[u8; 32], PinError> {
    // Interactive strength: the hash sits in the keychain, and tries are limited here.
    let params = argon2::Params::new(19 * 1024, 2, 1, Some(32)).map_err(|_| PinError::Damaged)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon.hash_password_into(pin.as_bytes(), salt, &mut out).map_err(|_| PinError::Damaged)?;
    Ok(out)
}

fn check_format(pin: &str) -> Result<(), PinError> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::Format)
    }
}

impl DevicePin {
    pub fn new(store: Arc<dyn SecretStore>) -> DevicePin {
        DevicePin { store, fresh_until: Mutex::new(None), failures: Mutex::new((0, None)) }
    }

    pub fn is_set(&self) -> Result<bool, PinError> {
        Ok(self.store.get(ENTRY)?.is_some())
    }

    /// Sets the PIN on first use (it is then fresh).
    pub fn set(&self, pin: &str) -> Result<(), PinError> {
        check_format(pin)?;
        if self.is_set()? {
            return Err(PinError::AlreadySet);
        }
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let stored = format!("argon2id:{}:{}", b64.encode(salt), b64.encode(hash(pin, &salt)?));
        self.store.set(ENTRY, &Secret::new(stored))?;
        *self.fresh_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + FRESH_FOR);
        Ok(())
    }

    /// Checks a PIN; right, the proof is fresh for [`FRESH_FOR`].
    pub fn prove(&self, pin: &str) -> Result<(), PinError> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = failures.1 {
            if until > now {
                return Err(PinError::LockedOut((until - now).as_secs().max(1)));
            }
            *failures = (0, None);
        }
        let stored = self.store.get(ENTRY)?.ok_or(PinError::NotSet)?;
        let parts: Vec<&str> = stored.expose().split(':').collect();
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let [_, salt, expected] = parts.as_slice() else { return Err(PinError::Damaged) };
        let salt = b64.decode(salt).map_err(|_| PinError::Damaged)?;
        let expected = b64.decode(expected).map_err(|_| PinError::Damaged)?;
        let right = check_format(pin).is_ok() && {
            let got = hash(pin, &salt)?;
            // Constant time: no early exit on the first differing byte.
            got.len() == expected.len()
                && got.iter().zip(&expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        };
        if !right {
            failures.0 += 1;
            if failures.0 >= MAX_FAILURES {
                failures.1 = Some(now + LOCKOUT);
                return Err(PinError::LockedOut(LOCKOUT.as_secs()));
            }
            return Err(PinError::Wrong(MAX_FAILURES - failures.0));
        }
        *failures = (0, None);
        *self.fresh_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(now + FRESH_FOR);
        Ok(())
    }

    /// Whether a proof was given within [`FRESH_FOR`].
    pub fn is_fresh(&self) -> bool {
        self.fresh_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| t > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MemoryStore;

    fn pin() -> DevicePin {
        DevicePin::new(Arc::new(MemoryStore::default()))
    }

    #[tokio::test(start_paused = true)]
    async fn set_once_then_prove_and_stay_fresh_for_a_while() {
        let p = pin();
        assert!(!p.is_set().unwrap());
        assert_eq!(p.prove("1234"), Err(PinError::NotSet));
        assert_eq!(p.set("12a4"), Err(PinError::Format));
        assert_eq!(p.set("123"), Err(PinError::Format));
        p.set("482913").unwrap();
        assert!(p.is_fresh());
        assert_eq!(p.set("111111"), Err(PinError::AlreadySet));
        tokio::time::advance(FRESH_FOR + Duration::from_secs(1)).await;
        assert!(!p.is_fresh());
        p.prove("482913").unwrap();
        assert!(p.is_fresh());
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_pins_count_down_then_lock_out() {
        let p = pin();
        p.set("482913").unwrap();
        tokio::time::advance(FRESH_FOR * 2).await;
        for left in (1..MAX_FAILURES).rev() {
            assert_eq!(p.prove("000000"), Err(PinError::Wrong(left)));
        }
        assert!(matches!(p.prove("000000"), Err(PinError::LockedOut(_))));
        // Even the right PIN waits out the lock-out.
        assert!(matches!(p.prove("482913"), Err(PinError::LockedOut(_))));
        assert!(!p.is_fresh());
        tokio::time::advance(LOCKOUT).await;
        p.prove("482913").unwrap();
    }

    #[test]
    fn only_a_salted_hash_is_stored() {
        let store = Arc::new(MemoryStore::default());
        DevicePin::new(store.clone()).set("482913").unwrap();
        let stored = store.get(ENTRY).unwrap().unwrap();
        assert!(stored.expose().starts_with("argon2id:"));
        assert!(!stored.expose().contains("482913"));
    }
}
