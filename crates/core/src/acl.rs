//! The broker side of enrolment, for administrators: from one role table, the Mosquitto
//! ACL and password entries that make the broker enforce exactly what the enrolment codes
//! grant. See "Roles" in `docs/enrolment.md`.
//!
//! Mosquitto's `pattern` lines (with `%u`) apply to every user alike, but a user's role
//! differs per site, so each user gets explicit lines naming their own topics: the effect
//! `%u` would have, per site and role.

use crate::protocol::role::Role;
use crate::protocol::{ROOT, check_id};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Who may do what where: user → site → role, plus the sites whose controllers connect.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleTable {
    pub sites: Vec<String>,
    pub users: BTreeMap<String, BTreeMap<String, Role>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleTableError {
    #[error("{0}")]
    Invalid(String),
    #[error("user `{user}` has a role on site `{site}`, which is not in the table's sites")]
    UnknownSite { user: String, site: String },
}

impl RoleTable {
    pub fn validate(&self) -> Result<(), RoleTableError> {
        let invalid = |e: crate::protocol::ProtocolError| RoleTableError::Invalid(e.to_string());
        for site in &self.sites {
            check_id("site id", site).map_err(invalid)?;
        }
        for (user, roles) in &self.users {
            check_id("user", user).map_err(invalid)?;
            if user.starts_with("site-") {
                return Err(RoleTableError::Invalid(format!(
                    "user `{user}`: `site-` names are for controllers"
                )));
            }
            for site in roles.keys() {
                if !self.sites.contains(site) {
                    return Err(RoleTableError::UnknownSite { user: user.clone(), site: site.clone() });
                }
            }
        }
        Ok(())
    }

    /// The Mosquitto ACL file for this table.
    pub fn mosquitto_acl(&self) -> Result<String, RoleTableError> {
        self.validate()?;
        let mut acl = String::from(
            "# Made by `mimamori broker acl` from the role table; edit the table, not this file.\n\n",
        );
        for site in &self.sites {
            // A controller writes its own site's tree (catalog, status, state, events,
            // responses) and reads what users send it.
            let _ = writeln!(
                acl,
                "user site-{site}\ntopic readwrite {ROOT}/sites/{site}/#\ntopic write {ROOT}/clients/+/+/responses/{site}\n"
            );
        }
        for (user, roles) in &self.users {
            let _ = writeln!(acl, "user {user}");
            for (site, role) in roles {
                let base = format!("{ROOT}/sites/{site}");
                for topic in ["catalog", "status", "outputs/+/state", "events"] {
                    let _ = writeln!(acl, "topic read {base}/{topic}");
                }
                // Every role may ask for a replay of what it can read.
                let _ = writeln!(acl, "topic write {base}/replay/{user}");
                if *role != Role::Viewer {
                    let _ = writeln!(acl, "topic write {base}/commands/{user}");
                    let _ = writeln!(acl, "topic write {base}/ack/{user}");
                }
            }
            // Answers to this user's requests.
            let _ = writeln!(acl, "topic read {ROOT}/clients/{user}/#\n");
        }
        Ok(acl)
    }
}

/// One line of a Mosquitto 2 password file (`user:$7$…`: PBKDF2-HMAC-SHA512, 101 rounds,
/// 12-byte salt), as `mosquitto_passwd` writes it.
pub fn mosquitto_password_line(
    user: &str,
    password: &crate::Secret<String>,
) -> Result<String, RoleTableError> {
    check_id("user", user).map_err(|e| RoleTableError::Invalid(e.to_string()))?;
    const ROUNDS: u32 = 101;
    let mut salt = [0u8; 12];
    OsRng.fill_bytes(&mut salt);
    let mut hash = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.expose().as_bytes(), &salt, ROUNDS, &mut hash);
    Ok(format!("{user}:$7${ROUNDS}${}${}", STANDARD.encode(salt), STANDARD.encode(hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RoleTable {
        serde_json::from_str(
            r#"{"sites": ["hq", "shop"],
                "users": {"aiko": {"hq": "operator", "shop": "viewer"}, "ken": {"shop": "admin"}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn viewers_read_operators_also_command() {
        let acl = table().mosquitto_acl().unwrap();
        assert!(acl.contains("user aiko\ntopic read mimamori/v1/sites/hq/catalog"));
        assert!(acl.contains("topic write mimamori/v1/sites/hq/commands/aiko"));
        assert!(!acl.contains("topic write mimamori/v1/sites/shop/commands/aiko"));
        assert!(acl.contains("topic write mimamori/v1/sites/shop/replay/aiko"));
        assert!(acl.contains("topic write mimamori/v1/sites/shop/commands/ken"));
        assert!(acl.contains("user site-hq\ntopic readwrite mimamori/v1/sites/hq/#"));
        assert!(!acl.contains("%u") && !acl.contains("sites/#"));
    }

    #[test]
    fn bad_tables_are_refused() {
        let mut t = table();
        t.users.get_mut("ken").unwrap().insert("elsewhere".into(), Role::Admin);
        assert!(matches!(t.mosquitto_acl(), Err(RoleTableError::UnknownSite { .. })));
        let mut t = table();
        t.users.insert("site-x".into(), BTreeMap::new());
        assert!(t.mosquitto_acl().is_err());
        let mut t = table();
        t.sites.push("a/#".into());
        assert!(t.mosquitto_acl().is_err());
    }

    #[test]
    fn password_lines_are_salted() {
        let pw = crate::Secret::new("CANARY".to_owned());
        let a = mosquitto_password_line("aiko", &pw).unwrap();
        let b = mosquitto_password_line("aiko", &pw).unwrap();
        assert!(a.starts_with("aiko:$7$101$") && a != b && !a.contains("CANARY"));
        assert_eq!(a.split('$').count(), 5);
    }
}
