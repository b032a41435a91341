//! The broker side of enrolment, for administrators: from one role table, the Mosquitto
//! ACL and password entries that make the broker enforce exactly what the enrolment codes
//! grant, and each site's own column of the table, which the site enforces too. See
//! "Roles" in `docs/enrolment.md`.
//!
//! Mosquitto's `pattern` lines (with `%u`) apply to every user alike, but a user's role
//! differs per site, so each user gets explicit lines naming their own topics: the effect
//! `%u` would have, per site and role.

use crate::protocol::command::CommandClass;
use crate::protocol::role::{Permission, Role};
use crate::protocol::{ROOT, check_id, topics};
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

    /// `site`'s column of the table: who has which role there, for the site to enforce.
    pub fn roles_at(&self, site: &str) -> BTreeMap<String, Role> {
        self.users
            .iter()
            .filter_map(|(user, roles)| roles.get(site).map(|role| (user.clone(), *role)))
            .collect()
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
                let _ = writeln!(acl, "topic read {}", topics::role(site, user));
                // Every role may ask for a replay of what it can read.
                let _ = writeln!(acl, "topic write {}", topics::replay(site, user));
                // Commands: each class the role allows; the topic without a class only
                // for admins, whom a site lets use it.
                for class in CommandClass::ALL.into_iter().filter(|c| role.may(c.permission())) {
                    let _ = writeln!(acl, "topic write {}", topics::commands(site, class, user));
                }
                if *role == Role::Admin {
                    let _ = writeln!(acl, "topic write {}", topics::commands_unclassed(site, user));
                }
                if role.may(Permission::Acknowledge) {
                    let _ = writeln!(acl, "topic write {}", topics::ack(site, user));
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
    fn viewers_read_operators_sound_and_light_admins_do_all() {
        let acl = table().mosquitto_acl().unwrap();
        let lines = |user: &str| -> Vec<String> {
            let block = acl.split("\n\n").find(|b| b.starts_with(&format!("user {user}\n"))).unwrap();
            block.lines().filter(|l| l.starts_with("topic write")).map(str::to_owned).collect()
        };
        let w = |t: &str| format!("topic write mimamori/v1/sites/{t}");
        // aiko: operator of hq (siren and light, acknowledgements), viewer of shop.
        assert_eq!(
            lines("aiko"),
            [
                w("hq/replay/aiko"),
                w("hq/commands/siren/aiko"),
                w("hq/commands/light/aiko"),
                w("hq/ack/aiko"),
                w("shop/replay/aiko")
            ]
        );
        // ken: admin of shop: every class, and the topic without one.
        assert_eq!(
            lines("ken"),
            [
                w("shop/replay/ken"),
                w("shop/commands/siren/ken"),
                w("shop/commands/light/ken"),
                w("shop/commands/lock/ken"),
                w("shop/commands/relay/ken"),
                w("shop/commands/arming/ken"),
                w("shop/commands/ken"),
                w("shop/ack/ken"),
            ]
        );
        assert!(acl.contains("user aiko\ntopic read mimamori/v1/sites/hq/catalog"));
        assert!(acl.contains("topic read mimamori/v1/sites/hq/roles/aiko\n"));
        assert!(acl.contains("user site-hq\ntopic readwrite mimamori/v1/sites/hq/#"));
        assert!(!acl.contains("%u") && !acl.contains("sites/#"));
    }

    #[test]
    fn a_sites_column() {
        let t = table();
        assert_eq!(t.roles_at("hq"), BTreeMap::from([("aiko".to_owned(), Role::Operator)]));
        assert_eq!(
            t.roles_at("shop"),
            BTreeMap::from([("aiko".to_owned(), Role::Viewer), ("ken".to_owned(), Role::Admin)])
        );
        assert!(t.roles_at("elsewhere").is_empty());
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
