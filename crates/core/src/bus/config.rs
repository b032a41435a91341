//! Where and as whom a bus connects ([`BusConfig`]), and the development profile read
//! from the environment (`MIMAMORI_BROKER` …) until enrolment replaces it.

use super::address::{AddressError, BrokerAddress};
use crate::protocol::role::Role;
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct BusConfig {
    pub broker: BrokerAddress,
    /// Stable per device, so the broker keeps this client's session across reconnects.
    pub client_id: String,
    pub user: String,
    pub password: Option<Secret<String>>,
    /// The broker's CA (PEM), the only trust anchor for `mqtts`.
    pub broker_ca: Option<String>,
    pub sites: Vec<String>,
    /// The role this device was enrolled with, per site. It holds only at a site that
    /// keeps no roles table of its own; one that does publishes the role that holds.
    pub roles: BTreeMap<String, Role>,
    pub keep_alive: Duration,
    /// How long the broker keeps the session (and queues QoS 1 messages) while we are away.
    pub session_expiry: Duration,
}

impl BusConfig {
    pub fn new(broker: BrokerAddress, client_id: &str, user: &str, sites: Vec<String>) -> Self {
        BusConfig {
            broker,
            client_id: client_id.to_owned(),
            user: user.to_owned(),
            password: None,
            broker_ca: None,
            sites,
            roles: BTreeMap::new(),
            keep_alive: Duration::from_secs(10),
            session_expiry: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The environment variables a development or test profile is read from, until
/// enrolment (keychain-backed) replaces them.
pub mod env {
    pub const BROKER: &str = "MIMAMORI_BROKER";
    pub const USER: &str = "MIMAMORI_USER";
    pub const PASSWORD: &str = "MIMAMORI_PASSWORD";
    pub const SITES: &str = "MIMAMORI_SITES";
    pub const CLIENT_ID: &str = "MIMAMORI_CLIENT_ID";
    /// Path of the broker's CA certificate (PEM), for an `mqtts` development profile.
    pub const BROKER_CA: &str = "MIMAMORI_BROKER_CA";
    /// The development profile's role at every site (viewer when unset), for a site that
    /// keeps no roles table of its own.
    pub const ROLE: &str = "MIMAMORI_ROLE";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvProfileError {
    #[error("{var} is not set")]
    Missing { var: &'static str },
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl BusConfig {
    /// Reads a profile from `MIMAMORI_BROKER`, `MIMAMORI_USER`, `MIMAMORI_PASSWORD`,
    /// `MIMAMORI_SITES` (comma-separated site ids) and optionally `MIMAMORI_CLIENT_ID`.
    /// Returns `Ok(None)` when `MIMAMORI_BROKER` is unset.
    pub fn from_env() -> Result<Option<BusConfig>, EnvProfileError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<BusConfig>, EnvProfileError> {
        let Some(broker) = get(env::BROKER) else {
            return Ok(None);
        };
        let broker: BrokerAddress = broker.parse().map_err(|e: AddressError| EnvProfileError::Invalid {
            var: env::BROKER,
            reason: e.to_string(),
        })?;
        if !broker.tls && !broker.is_loopback() {
            return Err(EnvProfileError::Invalid {
                var: env::BROKER,
                reason: "plain mqtt:// only on loopback; use mqtts:// with MIMAMORI_BROKER_CA".into(),
            });
        }
        let user = get(env::USER).ok_or(EnvProfileError::Missing { var: env::USER })?;
        crate::protocol::check_id("user", &user)
            .map_err(|e| EnvProfileError::Invalid { var: env::USER, reason: e.to_string() })?;
        let sites: Vec<String> = get(env::SITES)
            .ok_or(EnvProfileError::Missing { var: env::SITES })?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        for site in &sites {
            crate::protocol::check_id("site id", site)
                .map_err(|e| EnvProfileError::Invalid { var: env::SITES, reason: e.to_string() })?;
        }
        // One id per user until enrolment gives each device its own; two devices of one
        // user must set MIMAMORI_CLIENT_ID, or the broker will keep switching between them.
        let client_id = get(env::CLIENT_ID).unwrap_or_else(|| format!("mimamori-{user}"));
        crate::protocol::check_id("client id", &client_id)
            .map_err(|e| EnvProfileError::Invalid { var: env::CLIENT_ID, reason: e.to_string() })?;
        let role: Role = get(env::ROLE)
            .map_or(Ok(Role::Viewer), |r| r.parse())
            .map_err(|reason| EnvProfileError::Invalid { var: env::ROLE, reason })?;
        let mut config = BusConfig::new(broker, &client_id, &user, sites);
        config.roles = config.sites.iter().map(|s| (s.clone(), role)).collect();
        config.password = get(env::PASSWORD).map(Secret::new);
        if let Some(path) = get(env::BROKER_CA) {
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| EnvProfileError::Invalid { var: env::BROKER_CA, reason: e.to_string() })?;
            config.broker_ca = Some(pem);
        }
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_from_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(BusConfig::from_lookup(vars(&[])).unwrap().map(|c| c.user), None);
        let c = BusConfig::from_lookup(vars(&[
            (env::BROKER, "mqtt://127.0.0.1:1"),
            (env::USER, "aiko"),
            (env::PASSWORD, "CANARY-pw"),
            (env::SITES, "hq, shop,"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((c.client_id.as_str(), c.sites.len()), ("mimamori-aiko", 2));
        assert_eq!(c.roles.get("shop"), Some(&Role::Viewer));
        let operator = BusConfig::from_lookup(vars(&[
            (env::BROKER, "mqtt://127.0.0.1:1"),
            (env::USER, "aiko"),
            (env::SITES, "hq"),
            (env::ROLE, "operator"),
        ]));
        assert_eq!(operator.unwrap().unwrap().roles.get("hq"), Some(&Role::Operator));
        let unknown = BusConfig::from_lookup(vars(&[
            (env::BROKER, "mqtt://127.0.0.1:1"),
            (env::USER, "aiko"),
            (env::SITES, "hq"),
            (env::ROLE, "owner"),
        ]));
        assert!(matches!(unknown, Err(EnvProfileError::Invalid { var: env::ROLE, .. })));
        assert!(!format!("{c:?}").contains("CANARY"));
        let missing = BusConfig::from_lookup(vars(&[(env::BROKER, "mqtt://localhost:1"), (env::USER, "a")]));
        assert_eq!(missing.unwrap_err(), EnvProfileError::Missing { var: env::SITES });
        let bad = BusConfig::from_lookup(vars(&[
            (env::BROKER, "mqtt://localhost:1"),
            (env::USER, "a"),
            (env::SITES, "a/#"),
        ]));
        assert!(matches!(bad, Err(EnvProfileError::Invalid { .. })));
        // Plain MQTT leaves this machine only over TLS.
        let plain = BusConfig::from_lookup(vars(&[(env::BROKER, "mqtt://broker.example.com:1883")]));
        assert!(matches!(plain, Err(EnvProfileError::Invalid { var: env::BROKER, .. })));
    }
}
