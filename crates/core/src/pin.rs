//! The app PIN: a fresh proof that the person holding the device is its owner, asked
//! before a command that lowers protection (unlock, disarm, silence the siren) — by the
//! core itself (`control::send` takes the proof), so neither the app nor the CLI can send
//! such a command without it. Set on first use, 6 to 12 digits; kept in the OS keychain
//! only as an Argon2id hash with its salt. A proof is good for one such command within
//! two minutes. Five wrong PINs lock it for five minutes, and each further five for twice
//! as long (up to a day); the count and the lock-out are kept in the keychain, so a
//! restart does not reset them, and a missing count counts as a lock-out. See
//! `docs/control.md`.

use crate::Secret;
use crate::vault::{SecretStore, VaultError};
use base64::Engine;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a proof waits for its command.
pub const FRESH_FOR: Duration = Duration::from_secs(120);
/// Digits of a PIN chosen now (an older, shorter one is still accepted).
pub const MIN_DIGITS: usize = 6;
const MAX_DIGITS: usize = 12;
/// Wrong PINs before a lock-out, and how long the first one lasts.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(300);
const LONGEST_LOCKOUT: Duration = Duration::from_secs(24 * 3600);
const ENTRY: &str = "device-pin";
/// `{wrong tries}:{locked until, ms since the Unix epoch}`.
const FAILURES: &str = "device-pin-failures";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("the app PIN is {MIN_DIGITS} to {MAX_DIGITS} digits")]
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
    /// A proof given and not used yet: it expires at this instant.
    proof: Mutex<Option<Instant>>,
    /// The wall clock (ms since the Unix epoch): a lock-out outlives the process.
    clock: fn() -> u64,
}

fn hash(pin: &str, salt: &[u8]) -> Result<[u8; 32], PinError> {
    // Interactive strength: the hash sits in the keychain, and tries are limited here.
    let params = argon2::Params::new(19 * 1024, 2, 1, Some(32)).map_err(|_| PinError::Damaged)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon.hash_password_into(pin.as_bytes(), salt, &mut out).map_err(|_| PinError::Damaged)?;
    Ok(out)
}

fn digits(pin: &str, min: usize) -> Result<(), PinError> {
    if (min..=MAX_DIGITS).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::Format)
    }
}

/// How long the lock-out after `count` wrong tries in a row lasts: [`LOCKOUT`], doubled for
/// each further [`MAX_FAILURES`], at most a day.
fn lockout_after(count: u32) -> Duration {
    let rounds = (count / MAX_FAILURES).saturating_sub(1).min(16);
    LOCKOUT.saturating_mul(1 << rounds).min(LONGEST_LOCKOUT)
}

impl DevicePin {
    pub fn new(store: Arc<dyn SecretStore>) -> DevicePin {
        DevicePin::with_clock(store, crate::time::now_ms)
    }

    /// With another wall clock (tests).
    pub fn with_clock(store: Arc<dyn SecretStore>, clock: fn() -> u64) -> DevicePin {
        DevicePin { store, proof: Mutex::new(None), clock }
    }

    pub fn is_set(&self) -> Result<bool, PinError> {
        Ok(self.store.get(ENTRY)?.is_some())
    }

    /// Sets the PIN on first use (it is then proven).
    pub fn set(&self, pin: &str) -> Result<(), PinError> {
        digits(pin, MIN_DIGITS)?;
        if self.is_set()? {
            return Err(PinError::AlreadySet);
        }
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let stored = format!("argon2id:{}:{}", b64.encode(salt), b64.encode(hash(pin, &salt)?));
        self.save_failures(0, 0)?;
        self.store.set(ENTRY, &Secret::new(stored))?;
        self.proven();
        Ok(())
    }

    /// Wrong tries in a row and the end of the lock-out (ms). None kept while a PIN is set
    /// means the count was removed: that is a lock-out, not a fresh start.
    fn failures(&self, now_ms: u64) -> Result<(u32, u64), PinError> {
        let kept = self.store.get(FAILURES)?;
        let parsed = kept.as_ref().and_then(|k| {
            let (count, until) = k.expose().split_once(':')?;
            Some((count.parse().ok()?, until.parse().ok()?))
        });
        match parsed {
            Some(f) => Ok(f),
            None => {
                let until = now_ms.saturating_add(LOCKOUT.as_millis() as u64);
                self.save_failures(MAX_FAILURES, until)?;
                Ok((MAX_FAILURES, until))
            }
        }
    }

    fn save_failures(&self, count: u32, until_ms: u64) -> Result<(), PinError> {
        Ok(self.store.set(FAILURES, &Secret::new(format!("{count}:{until_ms}")))?)
    }

    fn proven(&self) {
        *self.proof.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + FRESH_FOR);
    }

    /// Checks a PIN; right, it gives a proof for one command within [`FRESH_FOR`].
    pub fn prove(&self, pin: &str) -> Result<(), PinError> {
        let now_ms = (self.clock)();
        let stored = self.store.get(ENTRY)?.ok_or(PinError::NotSet)?;
        let (count, until) = self.failures(now_ms)?;
        if until > now_ms {
            return Err(PinError::LockedOut((until - now_ms).div_ceil(1000)));
        }
        let parts: Vec<&str> = stored.expose().split(':').collect();
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let [_, salt, expected] = parts.as_slice() else { return Err(PinError::Damaged) };
        let salt = b64.decode(salt).map_err(|_| PinError::Damaged)?;
        let expected = b64.decode(expected).map_err(|_| PinError::Damaged)?;
        // A PIN set before PINs had six digits is still accepted.
        let right = digits(pin, 4).is_ok() && {
            let got = hash(pin, &salt)?;
            // Constant time: no early exit on the first differing byte.
            got.len() == expected.len()
                && got.iter().zip(&expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        };
        if !right {
            let count = count.saturating_add(1);
            if count % MAX_FAILURES == 0 {
                let lockout = lockout_after(count);
                self.save_failures(count, now_ms.saturating_add(lockout.as_millis() as u64))?;
                return Err(PinError::LockedOut(lockout.as_secs()));
            }
            self.save_failures(count, 0)?;
            return Err(PinError::Wrong(MAX_FAILURES - count % MAX_FAILURES));
        }
        self.save_failures(0, 0)?;
        self.proven();
        Ok(())
    }

    /// Whether a proof waits for its command.
    pub fn is_fresh(&self) -> bool {
        self.proof.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| t > Instant::now())
    }

    /// Uses the waiting proof for one command: true once per proof, within [`FRESH_FOR`].
    pub fn take_proof(&self) -> bool {
        self.proof.lock().unwrap_or_else(|p| p.into_inner()).take().is_some_and(|t| t > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MemoryStore;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A wall clock the test moves (one per test binary: tests that use it hold `CLOCK_USE`).
    static WALL: AtomicU64 = AtomicU64::new(1_764_000_000_000);
    static CLOCK_USE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn wall() -> u64 {
        WALL.load(Ordering::SeqCst)
    }

    fn later(d: Duration) {
        WALL.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }

    fn pin(store: &Arc<MemoryStore>) -> DevicePin {
        DevicePin::with_clock(store.clone(), wall)
    }

    #[tokio::test(start_paused = true)]
    async fn set_once_then_one_proof_per_command() {
        let store = Arc::new(MemoryStore::default());
        let p = pin(&store);
        assert!(!p.is_set().unwrap());
        assert_eq!(p.prove("123456"), Err(PinError::NotSet));
        assert_eq!(p.set("12a456"), Err(PinError::Format));
        assert_eq!(p.set("12345"), Err(PinError::Format), "six digits at least");
        p.set("482913").unwrap();
        assert_eq!(p.set("111111"), Err(PinError::AlreadySet));
        // One proof, one command.
        assert!(p.take_proof());
        assert!(!p.take_proof());
        p.prove("482913").unwrap();
        tokio::time::advance(FRESH_FOR + Duration::from_secs(1)).await;
        assert!(!p.take_proof(), "a proof waits two minutes at most");
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_pins_lock_out_longer_each_time_across_restarts() {
        let _wall = CLOCK_USE.lock().unwrap_or_else(|p| p.into_inner());
        let store = Arc::new(MemoryStore::default());
        pin(&store).set("482913").unwrap();
        for round in 0..2u32 {
            // Each try by a new process, as the CLI makes them.
            for left in (1..MAX_FAILURES).rev() {
                assert_eq!(pin(&store).prove("000000"), Err(PinError::Wrong(left)));
            }
            let lockout = LOCKOUT * (1 << round);
            assert_eq!(pin(&store).prove("000000"), Err(PinError::LockedOut(lockout.as_secs())));
            // Even the right PIN waits it out.
            assert!(matches!(pin(&store).prove("482913"), Err(PinError::LockedOut(_))));
            later(lockout);
        }
        pin(&store).prove("482913").unwrap();
        // Right, the count starts again.
        assert_eq!(pin(&store).prove("000000"), Err(PinError::Wrong(MAX_FAILURES - 1)));
    }

    #[test]
    fn a_removed_count_is_a_lock_out_not_a_fresh_start() {
        let _wall = CLOCK_USE.lock().unwrap_or_else(|p| p.into_inner());
        let store = Arc::new(MemoryStore::default());
        pin(&store).set("482913").unwrap();
        store.delete(FAILURES).unwrap();
        assert_eq!(pin(&store).prove("482913"), Err(PinError::LockedOut(LOCKOUT.as_secs())));
        later(LOCKOUT);
        pin(&store).prove("482913").unwrap();
    }

    #[test]
    fn lock_outs_double_up_to_a_day() {
        assert_eq!(lockout_after(5), LOCKOUT);
        assert_eq!(lockout_after(10), LOCKOUT * 2);
        assert_eq!(lockout_after(15), LOCKOUT * 4);
        assert_eq!(lockout_after(500), LONGEST_LOCKOUT);
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
