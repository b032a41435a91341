//! Profiles: what this device is enrolled for. Each profile is one broker account with its
//! sites and roles. Its secrets (broker address, pin, credentials, camera credentials) live
//! in the vault; the settings file holds only what may be shown: ids, site names, roles.
//!
//! Enrolling writes the keychain first and the settings file second, and removing deletes
//! in the same order, so a failure never leaves a secret behind outside the keychain.

use crate::bus::{BrokerAddress, BusConfig};
use crate::enrol::{CameraCredential, CodeError, EnrolledSite, Enrolment, Sealed};
use crate::protocol::role::Role;
use crate::secret::Secret;
use crate::vault::{SecretStore, VaultError};
use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Wrong PINs allowed per code before this device refuses to try it again.
pub const MAX_PIN_ATTEMPTS: u32 = 5;
const SETTINGS_FILE: &str = "profiles.json";
/// Bound on remembered codes (used ids and attempt counters), oldest dropped first.
const MAX_REMEMBERED: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("this enrolment code was already used on this device; ask for a new one")]
    AlreadyUsed,
    #[error("too many wrong PINs for this enrolment code; ask your administrator for a new one")]
    TooManyAttempts,
    #[error("no profile `{0}`")]
    NotFound(String),
    #[error("the secrets of profile `{0}` are missing from the keychain; enrol again")]
    SecretsMissing(String),
    #[error("settings in {path}: {reason}")]
    Settings { path: PathBuf, reason: String },
    #[error("the audit log cannot be written, so nothing was enrolled: {0}")]
    Audit(#[from] crate::audit::AuditError),
    /// A site is enrolled once on a device: its alerts, streams and role belong to one
    /// broker account.
    #[error(
        "site `{site}` is already enrolled on this device through \"{label}\" (user {user}); remove that profile first, or ask for a code of that account"
    )]
    SiteTaken { site: String, label: String, user: String },
}

/// What the UI and the CLI may show of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSummary {
    pub id: String,
    pub label: String,
    pub user: String,
    pub sites: Vec<ProfileSite>,
    #[ts(type = "number")]
    pub enrolled_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSite {
    pub id: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Settings {
    /// Random id of this installation: part of the MQTT client id, so that two devices of
    /// one user keep separate broker sessions.
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    profiles: Vec<ProfileSummary>,
    /// Code ids already used here, oldest first.
    #[serde(default)]
    used_codes: Vec<String>,
    /// Wrong-PIN counts by code fingerprint, oldest first.
    #[serde(default)]
    attempts: Vec<(String, u32)>,
}

/// The secrets of one profile, stored as one keychain entry.
#[derive(Serialize, Deserialize)]
struct StoredSecrets {
    broker: String,
    #[serde(default)]
    broker_ca: Option<String>,
    password: String,
    #[serde(default)]
    cameras: Vec<StoredCamera>,
}

#[derive(Serialize, Deserialize)]
struct StoredCamera {
    site: String,
    camera: String,
    username: String,
    password: String,
    /// Where the credentials may go; none (a profile stored before they were bound)
    /// means nowhere.
    #[serde(default)]
    origins: Vec<String>,
}

/// The profiles of this device.
pub struct Profiles {
    dir: PathBuf,
    vault: Arc<dyn SecretStore>,
}

/// Records an enrolment (`what` = `enrol`) or a removal (`remove`) of a profile: one
/// record per site, with the role (`role:operator`). Ids only, never a secret.
fn record_change(
    audit: &crate::audit::Audit,
    what: &str,
    profile: &ProfileSummary,
    time_ms: u64,
) -> Result<(), crate::audit::AuditError> {
    for site in &profile.sites {
        audit.append(crate::audit::Record {
            time_ms,
            user: profile.user.clone(),
            what: what.to_owned(),
            site: site.id.clone(),
            target: format!("profile:{}", profile.id),
            action: format!("role:{}", site.role.as_str()),
            request_id: profile.id.clone(),
            outcome: "done".to_owned(),
            note: None,
        })?;
    }
    Ok(())
}

/// A profile is one broker account: enrolling the same account again replaces it, which is
/// how credentials are rotated.
fn profile_id(broker: &str, user: &str) -> String {
    let digest = Blake2s256::digest(format!("{broker}\n{user}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn vault_name(id: &str) -> String {
    format!("profile/{id}")
}

impl Profiles {
    /// The keychain these profiles live in (the app PIN lives there too).
    pub fn vault(&self) -> Arc<dyn SecretStore> {
        self.vault.clone()
    }

    pub fn new(dir: impl Into<PathBuf>, vault: Arc<dyn SecretStore>) -> Profiles {
        Profiles { dir: dir.into(), vault }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self) -> PathBuf {
        self.dir.join(SETTINGS_FILE)
    }

    fn settings_error(&self, reason: impl ToString) -> ProfileError {
        ProfileError::Settings { path: self.path(), reason: reason.to_string() }
    }

    fn load(&self) -> Result<Settings, ProfileError> {
        match std::fs::read(self.path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.settings_error(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(self.settings_error(e)),
        }
    }

    /// Writes atomically, for this user only: a crash leaves the old file or the new one,
    /// never half of one.
    fn save(&self, settings: &Settings) -> Result<(), ProfileError> {
        crate::dirs::private_dir(&self.dir).map_err(|e| self.settings_error(e))?;
        let bytes = serde_json::to_vec_pretty(settings).map_err(|e| self.settings_error(e))?;
        crate::dirs::write_private(&self.path(), &bytes).map_err(|e| self.settings_error(e))
    }

    pub fn list(&self) -> Result<Vec<ProfileSummary>, ProfileError> {
        Ok(self.load()?.profiles)
    }

    /// Opens a code with its PIN and stores the profile: secrets in the vault, the rest in
    /// the settings file. Counts wrong PINs and refuses a code used before.
    pub fn enrol(&self, code: &str, pin: &str, now_ms: u64) -> Result<ProfileSummary, ProfileError> {
        let sealed = Sealed::parse(code)?;
        // Every enrolment is in the audit log: no log, no enrolment.
        let audit = self.audit()?;
        let fingerprint = sealed.fingerprint();
        let mut settings = self.load()?;
        let tried = settings.attempts.iter().find(|(f, _)| *f == fingerprint).map_or(0, |(_, n)| *n);
        if tried >= MAX_PIN_ATTEMPTS {
            return Err(ProfileError::TooManyAttempts);
        }
        let enrolment = match sealed.open(pin, now_ms) {
            Ok(e) => e,
            Err(CodeError::WrongPin) => {
                settings.attempts.retain(|(f, _)| *f != fingerprint);
                settings.attempts.push((fingerprint, tried + 1));
                if settings.attempts.len() > MAX_REMEMBERED {
                    settings.attempts.remove(0);
                }
                self.save(&settings)?;
                return Err(CodeError::WrongPin.into());
            }
            Err(e) => return Err(e.into()),
        };
        if settings.used_codes.contains(&enrolment.code_id) {
            return Err(ProfileError::AlreadyUsed);
        }
        // Every enrolled profile is connected at once, and the inbox, the streams and the
        // roles know a site by its id: another account may not bring the same id.
        let id = profile_id(enrolment.broker.expose(), &enrolment.user);
        for other in settings.profiles.iter().filter(|p| p.id != id) {
            if let Some(site) = other.sites.iter().find(|s| enrolment.sites.iter().any(|e| e.id == s.id)) {
                return Err(ProfileError::SiteTaken {
                    site: site.id.clone(),
                    label: other.label.clone(),
                    user: other.user.clone(),
                });
            }
        }
        let summary = self.store(&enrolment, now_ms)?;
        settings.profiles.retain(|p| p.id != summary.id);
        settings.profiles.push(summary.clone());
        settings.used_codes.push(enrolment.code_id.clone());
        if settings.used_codes.len() > MAX_REMEMBERED {
            let excess = settings.used_codes.len() - MAX_REMEMBERED;
            settings.used_codes.drain(..excess);
        }
        settings.attempts.retain(|(f, _)| *f != fingerprint);
        self.save(&settings)?;
        record_change(&audit, "enrol", &summary, now_ms)?;
        Ok(summary)
    }

    /// The audit log beside the settings (`audit.log`), as commands use it. Opening it
    /// verifies it and creates nothing.
    fn audit(&self) -> Result<crate::audit::Audit, ProfileError> {
        crate::audit::Audit::open_anchored(self.dir.join("audit.log"), self.vault.clone()).map_err(
            |e| match e {
                crate::audit::AuditError::Vault(v) => ProfileError::Vault(v),
                other => ProfileError::Audit(other),
            },
        )
    }

    fn store(&self, e: &Enrolment, now_ms: u64) -> Result<ProfileSummary, ProfileError> {
        let id = profile_id(e.broker.expose(), &e.user);
        let secrets = StoredSecrets {
            broker: e.broker.expose().clone(),
            broker_ca: e.broker_ca.clone(),
            password: e.password.expose().clone(),
            cameras: e
                .cameras
                .iter()
                .map(|c| StoredCamera {
                    site: c.site.clone(),
                    camera: c.camera.clone(),
                    username: c.username.clone(),
                    password: c.password.expose().clone(),
                    origins: c.origins.clone(),
                })
                .collect(),
        };
        let json = serde_json::to_string(&secrets).map_err(|e| self.settings_error(e))?;
        self.vault.set(&vault_name(&id), &Secret::new(json))?;
        Ok(ProfileSummary {
            id,
            label: e.label.clone(),
            user: e.user.clone(),
            sites: e
                .sites
                .iter()
                .map(|EnrolledSite { id, name, role }| ProfileSite {
                    id: id.clone(),
                    name: name.clone(),
                    role: *role,
                })
                .collect(),
            enrolled_ms: now_ms,
        })
    }

    /// Removes a profile: its secrets from the keychain first, then its settings. The
    /// removal is audited; a log that cannot be written does not keep the secrets (it is
    /// said in the application log instead).
    pub fn remove(&self, id: &str) -> Result<(), ProfileError> {
        let mut settings = self.load()?;
        let Some(profile) = settings.profiles.iter().find(|p| p.id == id).cloned() else {
            return Err(ProfileError::NotFound(id.to_owned()));
        };
        self.vault.delete(&vault_name(id))?;
        settings.profiles.retain(|p| p.id != id);
        self.save(&settings)?;
        if let Err(e) =
            self.audit().and_then(|a| Ok(record_change(&a, "remove", &profile, crate::time::now_ms())?))
        {
            tracing::error!("the removal of profile {id} could not be written to the audit log: {e}");
        }
        Ok(())
    }

    fn secrets(&self, id: &str) -> Result<StoredSecrets, ProfileError> {
        let secret =
            self.vault.get(&vault_name(id))?.ok_or_else(|| ProfileError::SecretsMissing(id.to_owned()))?;
        serde_json::from_str(secret.expose()).map_err(|_| ProfileError::SecretsMissing(id.to_owned()))
    }

    /// This installation's id, made on first use.
    pub fn device_id(&self) -> Result<String, ProfileError> {
        let mut settings = self.load()?;
        if let Some(id) = &settings.device_id {
            return Ok(id.clone());
        }
        let id = crate::enrol::new_code_id()[..12].to_owned();
        settings.device_id = Some(id.clone());
        self.save(&settings)?;
        Ok(id)
    }

    /// What the bus needs to connect as this profile.
    pub fn bus_config(&self, id: &str, client_id: &str) -> Result<BusConfig, ProfileError> {
        let summary = self
            .list()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ProfileError::NotFound(id.to_owned()))?;
        let secrets = self.secrets(id)?;
        let broker: BrokerAddress = secrets.broker.parse().map_err(|e: crate::bus::AddressError| {
            ProfileError::Settings { path: self.path(), reason: format!("profile `{id}`: {e}") }
        })?;
        let sites = summary.sites.iter().map(|s| s.id.clone()).collect();
        let mut config = BusConfig::new(broker, client_id, &summary.user, sites);
        config.roles = summary.sites.iter().map(|s| (s.id.clone(), s.role)).collect();
        config.password = Some(Secret::new(secrets.password));
        config.broker_ca = secrets.broker_ca;
        Ok(config)
    }

    /// A camera's credentials, for the video pipeline.
    pub fn camera_credential(
        &self,
        id: &str,
        site: &str,
        camera: &str,
    ) -> Result<Option<CameraCredential>, ProfileError> {
        Ok(self.secrets(id)?.cameras.into_iter().find(|c| c.site == site && c.camera == camera).map(|c| {
            CameraCredential {
                site: c.site,
                camera: c.camera,
                username: c.username,
                password: Secret::new(c.password),
                origins: c.origins,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrol::{Kdf, seal};
    use crate::vault::MemoryStore;

    const FAST: Kdf = Kdf { m_kib: 8 * 1024, t: 1, p: 1 };
    const NOW: u64 = 1_800_000_000_000;

    fn enrolment(password: &str) -> Enrolment {
        Enrolment {
            code_id: crate::enrol::new_code_id(),
            issued_ms: NOW,
            expires_ms: NOW + 60_000,
            label: "Example".into(),
            broker: Secret::new("mqtt://127.0.0.1:1883".into()),
            broker_ca: None,
            user: "aiko".into(),
            password: Secret::new(password.into()),
            sites: vec![EnrolledSite { id: "hq".into(), name: "本社".into(), role: Role::Viewer }],
            cameras: vec![CameraCredential {
                site: "hq".into(),
                camera: "entrance".into(),
                username: "cam".into(),
                password: Secret::new("CANARY-cam".into()),
                origins: vec!["rtsp://127.0.0.1:554".into()],
            }],
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mimamori-profile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn enrol_use_remove_and_nothing_secret_on_disk() {
        let dir = temp_dir("cycle");
        let vault = MemoryStore::new();
        let profiles = Profiles::new(&dir, vault.clone());
        let code = seal(&enrolment("CANARY-pw-1"), "PIN-12345", FAST).unwrap();
        let summary = profiles.enrol(&code, "pin12345", NOW).unwrap();
        assert_eq!(summary.sites[0].name, "本社");
        let on_disk = std::fs::read_to_string(dir.join(SETTINGS_FILE)).unwrap();
        assert!(!on_disk.contains("CANARY") && !on_disk.contains("127.0.0.1"), "{on_disk}");
        let config = profiles.bus_config(&summary.id, "dev-1").unwrap();
        assert_eq!(config.password.unwrap().expose(), "CANARY-pw-1");
        assert_eq!(config.sites, vec!["hq".to_owned()]);
        assert_eq!(config.roles.get("hq"), Some(&summary.sites[0].role));
        let cam = profiles.camera_credential(&summary.id, "hq", "entrance").unwrap().unwrap();
        assert_eq!(cam.password.expose(), "CANARY-cam");
        // The same code again is refused; a new code for the same account rotates it.
        assert!(matches!(profiles.enrol(&code, "PIN12345", NOW), Err(ProfileError::AlreadyUsed)));
        let rotated = seal(&enrolment("CANARY-pw-2"), "PIN-12345", FAST).unwrap();
        let again = profiles.enrol(&rotated, "PIN12345", NOW).unwrap();
        assert_eq!(again.id, summary.id);
        assert_eq!(profiles.list().unwrap().len(), 1);
        assert_eq!(profiles.bus_config(&again.id, "d").unwrap().password.unwrap().expose(), "CANARY-pw-2");
        profiles.remove(&again.id).unwrap();
        assert!(profiles.list().unwrap().is_empty());
        assert!(vault.get(&vault_name(&again.id)).unwrap().is_none());
        assert!(matches!(profiles.remove(&again.id), Err(ProfileError::NotFound(_))));
        // Both enrolments and the removal are in the audit log, with ids and roles only.
        let log = dir.join("audit.log");
        let records = crate::audit::Audit::records(&log).unwrap();
        let seen: Vec<(&str, &str, &str)> =
            records.iter().map(|r| (r.what.as_str(), r.site.as_str(), r.action.as_str())).collect();
        assert_eq!(
            seen,
            [("enrol", "hq", "role:viewer"), ("enrol", "hq", "role:viewer"), ("remove", "hq", "role:viewer")]
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains("CANARY") && !text.contains("127.0.0.1"), "{text}");
        // A log that cannot be written refuses the enrolment.
        std::fs::write(&log, "not a log line\n").unwrap();
        let third = seal(&enrolment("CANARY-pw-3"), "PIN-12345", FAST).unwrap();
        assert!(matches!(profiles.enrol(&third, "PIN12345", NOW), Err(ProfileError::Audit(_))));
        assert!(profiles.list().unwrap().is_empty());
        let device = profiles.device_id().unwrap();
        assert_eq!(device.len(), 12);
        assert_eq!(profiles.device_id().unwrap(), device);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn several_accounts_enrol_side_by_side_but_never_the_same_site() {
        let dir = temp_dir("several");
        let profiles = Profiles::new(&dir, MemoryStore::new());
        let first =
            profiles.enrol(&seal(&enrolment("pw-1"), "PIN-12345", FAST).unwrap(), "PIN-12345", NOW).unwrap();
        // Another account (another user) for another site: both kept.
        let mut shop = enrolment("pw-2");
        shop.user = "kenji".into();
        shop.label = "Shop Co.".into();
        shop.sites = vec![EnrolledSite { id: "shop".into(), name: "店舗".into(), role: Role::Admin }];
        shop.cameras.clear();
        let second = profiles.enrol(&seal(&shop, "PIN-12345", FAST).unwrap(), "PIN-12345", NOW).unwrap();
        assert_ne!(first.id, second.id);
        assert_eq!(profiles.list().unwrap().len(), 2);
        // A third account naming a site the first holds is refused, and nothing changes.
        let mut clash = enrolment("pw-3");
        clash.user = "yui".into();
        let err = profiles.enrol(&seal(&clash, "PIN-12345", FAST).unwrap(), "PIN-12345", NOW).unwrap_err();
        assert!(matches!(&err, ProfileError::SiteTaken { site, .. } if site == "hq"), "{err}");
        assert!(err.to_string().contains("Example") && !err.to_string().contains("pw-"), "{err}");
        assert_eq!(profiles.list().unwrap().len(), 2);
        // The first account itself may widen its sites (a new code rotates it).
        let mut wider = enrolment("pw-4");
        wider.sites.push(EnrolledSite { id: "depot".into(), name: "倉庫".into(), role: Role::Operator });
        profiles.enrol(&seal(&wider, "PIN-12345", FAST).unwrap(), "PIN-12345", NOW).unwrap();
        assert_eq!(profiles.list().unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn wrong_pins_are_limited() {
        let dir = temp_dir("attempts");
        let profiles = Profiles::new(&dir, MemoryStore::new());
        let code = seal(&enrolment("pw"), "PIN-12345", FAST).unwrap();
        for _ in 0..MAX_PIN_ATTEMPTS {
            assert!(matches!(
                profiles.enrol(&code, "WRONG-1234", NOW),
                Err(ProfileError::Code(CodeError::WrongPin))
            ));
        }
        // Even the right PIN is refused now: the code must be replaced.
        assert!(matches!(profiles.enrol(&code, "PIN-12345", NOW), Err(ProfileError::TooManyAttempts)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    struct BrokenVault;
    impl SecretStore for BrokenVault {
        fn get(&self, _: &str) -> Result<Option<Secret<String>>, VaultError> {
            Err(VaultError::Locked)
        }
        fn set(&self, _: &str, _: &Secret<String>) -> Result<(), VaultError> {
            Err(VaultError::Locked)
        }
        fn delete(&self, _: &str) -> Result<(), VaultError> {
            Err(VaultError::Locked)
        }
        fn is_persistent(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_locked_keychain_stores_nothing_anywhere() {
        let dir = temp_dir("locked");
        let profiles = Profiles::new(&dir, Arc::new(BrokenVault));
        let code = seal(&enrolment("CANARY-pw"), "PIN-12345", FAST).unwrap();
        let err = profiles.enrol(&code, "PIN-12345", NOW).unwrap_err();
        assert!(matches!(err, ProfileError::Vault(VaultError::Locked)));
        assert!(err.to_string().contains("unlock"));
        assert!(profiles.list().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
