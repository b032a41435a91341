//! What the bus tells whoever shows it: where the connection stands
//! ([`ConnectionStatus`], one per connection, [`ConnectionStatus::combined`] for several),
//! the counters ([`BusStats`]) and the changes it broadcasts ([`BusChange`]). All of them
//! cross to the web view (generated TypeScript in `ui/bindings/`).

use serde::Serialize;
use ts_rs::TS;

/// Where the connection to the broker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionPhase {
    /// First attempt, nothing known yet.
    Connecting,
    Connected,
    /// Was connected (or tried), lost it, trying again.
    Reconnecting,
    Stopped,
}

impl ConnectionPhase {
    pub fn is_connected(self) -> bool {
        self == ConnectionPhase::Connected
    }
}

/// Why the last attempt failed, in words that never include an address or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionProblem {
    Unreachable,
    NotAuthorized,
    Refused,
    TimedOut,
    Closed,
    Protocol,
    /// The broker's certificate is not signed by the enrolled CA, expired, or for another
    /// host — or the enrolled CA is unusable. Never bypassed.
    Certificate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    pub phase: ConnectionPhase,
    /// When this phase began, ms since the Unix epoch.
    #[ts(type = "number")]
    pub since_ms: u64,
    /// Failed attempts since the last successful connection.
    pub attempt: u32,
    pub problem: Option<ConnectionProblem>,
    /// TLS to the broker. Plain connections exist only on loopback (demo, tests) and are
    /// shown as such.
    pub encrypted: bool,
    /// The last event that arrived could not be saved on this device (storage full or not
    /// writable): it waits on the broker, unacknowledged, until the device can save it.
    pub cannot_store: bool,
}

impl ConnectionStatus {
    /// A connection in `phase` since now, with nothing else known.
    pub fn new(phase: ConnectionPhase) -> ConnectionStatus {
        ConnectionStatus {
            phase,
            since_ms: crate::time::now_ms(),
            attempt: 0,
            problem: None,
            encrypted: false,
            cannot_store: false,
        }
    }

    /// Several connections (one per enrolled profile) as one status, as a single bar shows
    /// them: the one furthest from working (a refusal that needs the user, then
    /// reconnecting, then connecting); encrypted only if all are; unable to store if any
    /// is. No connection at all is stopped, with no problem.
    pub fn combined(statuses: &[ConnectionStatus]) -> ConnectionStatus {
        let rank = |c: &ConnectionStatus| match (c.phase, c.problem) {
            (ConnectionPhase::Stopped, Some(_)) => 0,
            (ConnectionPhase::Reconnecting, _) => 1,
            (ConnectionPhase::Connecting, _) => 2,
            (ConnectionPhase::Connected, _) => 3,
            (ConnectionPhase::Stopped, None) => 4,
        };
        let Some(worst) = statuses.iter().min_by_key(|c| rank(c)) else {
            return ConnectionStatus::new(ConnectionPhase::Stopped);
        };
        ConnectionStatus {
            encrypted: statuses.iter().all(|c| c.encrypted),
            cannot_store: statuses.iter().any(|c| c.cannot_store),
            ..worst.clone()
        }
    }
}

/// Counters for diagnostics: what arrived and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BusStats {
    #[ts(type = "number")]
    pub received: u64,
    #[ts(type = "number")]
    pub rejected: u64,
    /// Events that arrived but could not be stored, so were not acknowledged: the broker
    /// delivers them again.
    #[ts(type = "number")]
    pub unstored: u64,
    /// Events recovered by asking their site to replay them (the broker had lost them).
    #[ts(type = "number")]
    pub replayed: u64,
    pub last_rejection: Option<String>,
}

/// What changed, broadcast to whoever shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum BusChange {
    #[serde(rename_all = "camelCase")]
    Site {
        site_id: String,
    },
    Connection(ConnectionStatus),
    /// New or updated alerts of a site are in the inbox.
    #[serde(rename_all = "camelCase")]
    Inbox {
        site_id: String,
    },
    /// Changes were missed (a slow reader): read everything again.
    Resync,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_connections_show_as_the_one_furthest_from_working() {
        let combined = ConnectionStatus::combined;
        let status = |phase, problem, encrypted| ConnectionStatus {
            phase,
            since_ms: 0,
            attempt: 0,
            problem,
            encrypted,
            cannot_store: false,
        };
        let connected = status(ConnectionPhase::Connected, None, true);
        let retrying = status(ConnectionPhase::Reconnecting, Some(ConnectionProblem::Unreachable), true);
        let revoked = status(ConnectionPhase::Stopped, Some(ConnectionProblem::NotAuthorized), true);
        assert_eq!(combined(&[]).phase, ConnectionPhase::Stopped);
        assert_eq!(combined(&[]).problem, None);
        assert_eq!(combined(std::slice::from_ref(&connected)), connected);
        assert_eq!(combined(&[connected.clone(), retrying.clone()]), retrying);
        assert_eq!(combined(&[retrying.clone(), revoked.clone(), connected.clone()]), revoked);
        // Plain on any connection is not shown as encrypted; storage trouble on any is shown.
        let plain = status(ConnectionPhase::Connected, None, false);
        assert!(!combined(&[connected.clone(), plain]).encrypted);
        let full = ConnectionStatus { cannot_store: true, ..connected.clone() };
        assert!(combined(&[full, connected]).cannot_store);
    }
}
