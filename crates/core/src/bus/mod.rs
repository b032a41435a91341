//! The site bus: an MQTT 5 connection to the broker that carries the sites this client is
//! enrolled for, and the shared state it keeps up to date.
//!
//! [`Bus::start`] spawns the connection task (`mqtt.rs`); [`BusState`] is the cloneable
//! handle that the app, the CLI and tests read: the live site model, the connection status,
//! counters, and a broadcast of changes. The state can be fed without a broker
//! ([`BusState::ingest`]) so that the app's commands can be tested on their own.

mod backoff;
mod mqtt;
mod recovery;
pub mod tls;

pub use backoff::Backoff;

use crate::event::Event;
use crate::inbox::Inbox;
use crate::protocol::{self, Message};
use crate::secret::Secret;
use crate::site::{ApplyError, SiteLink, SiteSummary, SiteView, Sites};
use crate::time::now_ms;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use ts_rs::TS;

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
        let mut config = BusConfig::new(broker, &client_id, &user, sites);
        config.password = get(env::PASSWORD).map(Secret::new);
        if let Some(path) = get(env::BROKER_CA) {
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| EnvProfileError::Invalid { var: env::BROKER_CA, reason: e.to_string() })?;
            config.broker_ca = Some(pem);
        }
        Ok(Some(config))
    }
}

/// A broker address: `mqtts://host:port` (TLS, default port 8883), or plain
/// `mqtt://host:port` (default 1883) for the loopback demo and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerAddress {
    /// A plain loopback address, as the demo and the tests use.
    pub fn plain(host: &str, port: u16) -> BrokerAddress {
        BrokerAddress { host: host.to_owned(), port, tls: false }
    }

    /// On this machine: the only place a plain (unencrypted) connection is allowed.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("broker address must look like mqtt://host:port")]
    Syntax,
    #[error("unsupported broker scheme `{0}`: use mqtts:// (or mqtt:// on loopback)")]
    Scheme(String),
}

impl std::str::FromStr for BrokerAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let (scheme, rest) = s.split_once("://").ok_or(AddressError::Syntax)?;
        let (tls, default_port) = match scheme {
            "mqtts" => (true, 8883),
            "mqtt" => (false, 1883),
            _ => return Err(AddressError::Scheme(scheme.chars().take(16).collect())),
        };
        if rest.contains('@') {
            // Credentials never travel in an address.
            return Err(AddressError::Syntax);
        }
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') => (h, p.parse().map_err(|_| AddressError::Syntax)?),
            _ => (rest, default_port),
        };
        if host.is_empty() || host.contains('/') {
            return Err(AddressError::Syntax);
        }
        Ok(BrokerAddress { host: host.trim_start_matches('[').trim_end_matches(']').to_owned(), port, tls })
    }
}

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

/// How a request (a command) was answered.
#[derive(Debug)]
pub enum Reply {
    /// The site's response.
    Response(crate::control::Response),
    /// The broker refused the publish (PUBACK reason), e.g. "not authorized".
    Refused(String),
    /// The broker took a publish that expects no response (an acknowledgement).
    Accepted,
}

/// A publish on its way to the connection task.
pub(crate) struct Outgoing {
    pub topic: String,
    pub request_id: String,
    pub payload: Vec<u8>,
    /// `Some(expiry)` for a request that expects a response (Response Topic, Correlation
    /// Data, Message Expiry Interval); `None` for a plain publish answered by its PUBACK.
    pub expiry_s: Option<u32>,
}

/// What an accepted message from the bus carries besides the change to the site model.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// An event, to commit to the inbox.
    Event(String, Event),
    /// The head of a site's event stream, from its status.
    Head(String, protocol::EventsHead),
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
            return BusState::idle().connection();
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

struct Inner {
    sites: Mutex<Sites>,
    connection: Mutex<ConnectionStatus>,
    stats: Mutex<BusStats>,
    changes: broadcast::Sender<BusChange>,
    /// Requests to publish, to the connection task (None without a connection).
    outgoing: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Outgoing>>>,
    /// Requests waiting for their answer, by request id.
    pending: Mutex<std::collections::HashMap<String, tokio::sync::oneshot::Sender<Reply>>>,
    /// This client's broker user, for the command topic.
    user: Mutex<String>,
}

/// The shared, cloneable view of the bus.
#[derive(Clone)]
pub struct BusState {
    inner: Arc<Inner>,
}

/// A site last heard online, seen from a device without a connection: unknown.
fn unvouched(summary: &mut SiteSummary) {
    if summary.link == SiteLink::Online {
        summary.link = SiteLink::Unknown;
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain data; the data is
/// still usable, and refusing service would turn one bug into an outage.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BusState {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(sites: I) -> BusState {
        let (changes, _) = broadcast::channel(1024);
        BusState {
            inner: Arc::new(Inner {
                sites: Mutex::new(Sites::new(sites)),
                connection: Mutex::new(ConnectionStatus {
                    phase: ConnectionPhase::Connecting,
                    since_ms: now_ms(),
                    attempt: 0,
                    problem: None,
                    encrypted: false,
                    cannot_store: false,
                }),
                stats: Mutex::new(BusStats::default()),
                changes,
                outgoing: Mutex::new(None),
                pending: Mutex::new(std::collections::HashMap::new()),
                user: Mutex::new(String::new()),
            }),
        }
    }

    /// A state with no sites and no connection, for a device not enrolled yet.
    pub fn idle() -> BusState {
        let state = BusState::new(Vec::<String>::new());
        lock(&state.inner.connection).phase = ConnectionPhase::Stopped;
        state
    }

    /// Decodes and applies one message from the bus; returns the event or stream head it
    /// carried, if any, for the caller to give to the inbox. A rejected message is logged
    /// with its reason, counted, and changes nothing.
    pub fn ingest(&self, topic: &str, payload: &[u8]) -> Result<Option<Ingested>, ApplyError> {
        let result = protocol::decode(topic, payload).map_err(ApplyError::from).and_then(|msg| {
            let event = match &msg {
                Message::Event { site, event } => Some(Ingested::Event(site.clone(), event.clone())),
                Message::Status { site, status } => status.events.map(|h| Ingested::Head(site.clone(), h)),
                _ => None,
            };
            lock(&self.inner.sites).apply(msg, Instant::now()).map(|site_id| (site_id, event))
        });
        let mut stats = lock(&self.inner.stats);
        stats.received += 1;
        match result {
            Ok((site_id, event)) => {
                drop(stats);
                let _ = self.inner.changes.send(BusChange::Site { site_id });
                Ok(event)
            }
            Err(err) => {
                stats.rejected += 1;
                let topic_head: String = topic.chars().take(160).collect();
                stats.last_rejection = Some(format!("{topic_head}: {err}"));
                tracing::warn!(topic, reason = %err, "rejected message from the bus");
                Err(err)
            }
        }
    }

    /// Tells listeners that a site's alerts changed: the store takes writes again.
    pub(crate) fn inbox_changed(&self, site_id: String) {
        self.set_cannot_store(false);
        let _ = self.inner.changes.send(BusChange::Inbox { site_id });
    }

    /// Counts an event that could not be committed (and so was not acknowledged), and
    /// tells the user until the store takes writes again.
    pub(crate) fn count_unstored(&self, err: &crate::inbox::InboxError) {
        {
            let mut stats = lock(&self.inner.stats);
            stats.unstored += 1;
            stats.last_rejection = Some(err.to_string());
        }
        self.set_cannot_store(true);
    }

    fn set_cannot_store(&self, cannot: bool) {
        let status = {
            let mut c = lock(&self.inner.connection);
            if c.cannot_store == cannot {
                return;
            }
            c.cannot_store = cannot;
            c.clone()
        };
        let _ = self.inner.changes.send(BusChange::Connection(status));
    }

    pub(crate) fn count_replayed(&self, n: u64) {
        lock(&self.inner.stats).replayed += n;
    }

    /// Site troubles (offline, silent, a camera gone dark) since the last call, for the
    /// device to raise its own alerts.
    pub fn take_troubles(&self) -> Vec<crate::site::Trouble> {
        lock(&self.inner.sites).take_troubles()
    }

    /// Runs supervision now; returns when it next needs to run.
    pub fn supervise(&self) -> Option<Instant> {
        let mut sites = lock(&self.inner.sites);
        for site_id in sites.supervise(Instant::now()) {
            tracing::warn!(site = %site_id, "site silent past its supervision time");
            let _ = self.inner.changes.send(BusChange::Site { site_id });
        }
        sites.next_deadline()
    }

    pub(crate) fn restart_supervision(&self) {
        lock(&self.inner.sites).restart_supervision(Instant::now());
    }

    pub(crate) fn set_connection(
        &self,
        phase: ConnectionPhase,
        attempt: u32,
        problem: Option<ConnectionProblem>,
    ) {
        let status = {
            let mut c = lock(&self.inner.connection);
            if c.phase != phase {
                c.since_ms = now_ms();
            }
            c.phase = phase;
            c.attempt = attempt;
            c.problem = problem;
            c.clone()
        };
        let _ = self.inner.changes.send(BusChange::Connection(status));
    }

    pub fn site_ids(&self) -> Vec<String> {
        lock(&self.inner.sites).ids().map(str::to_owned).collect()
    }

    /// Whether this bus follows `site`.
    pub fn has_site(&self, site: &str) -> bool {
        lock(&self.inner.sites).ids().any(|id| id == site)
    }

    /// The sites as this device can vouch for them: while it has no connection, a site
    /// last heard online is shown as unknown (it may have gone since); offline and lost
    /// stay as they were, since a bad state is never hidden.
    pub fn summaries(&self) -> Vec<SiteSummary> {
        let mut summaries = lock(&self.inner.sites).summaries();
        if !self.connection().phase.is_connected() {
            summaries.iter_mut().for_each(unvouched);
        }
        summaries
    }

    /// One site, vouched for as in [`BusState::summaries`].
    pub fn view(&self, site: &str) -> Option<SiteView> {
        let mut view = lock(&self.inner.sites).view(site)?;
        if !self.connection().phase.is_connected() {
            unvouched(&mut view.summary);
        }
        Some(view)
    }

    /// A camera's catalog entry, endpoints included: for the video pipeline, never for IPC.
    pub fn camera_entry(&self, site: &str, camera: &str) -> Option<crate::protocol::CameraEntry> {
        lock(&self.inner.sites).camera_entry(site, camera).cloned()
    }

    /// Publishes a request to `site`'s command topic for this user; the answer (the site's
    /// response or the broker's refusal) comes on the returned channel. None when there is
    /// no connection task.
    pub fn request(
        &self,
        site: &str,
        request_id: &str,
        payload: Vec<u8>,
        expiry_s: u32,
    ) -> Option<tokio::sync::oneshot::Receiver<Reply>> {
        let topic = protocol::topics::commands(site, &lock(&self.inner.user));
        self.send(topic, request_id, payload, Some(expiry_s))
    }

    /// Publishes an acknowledgement to `site`'s ack topic for this user; the broker's
    /// PUBACK (accepted or refused) comes on the returned channel.
    pub fn publish_ack(
        &self,
        site: &str,
        request_id: &str,
        payload: Vec<u8>,
    ) -> Option<tokio::sync::oneshot::Receiver<Reply>> {
        let topic = protocol::topics::ack(site, &lock(&self.inner.user));
        self.send(topic, request_id, payload, None)
    }

    fn send(
        &self,
        topic: String,
        request_id: &str,
        payload: Vec<u8>,
        expiry_s: Option<u32>,
    ) -> Option<tokio::sync::oneshot::Receiver<Reply>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock(&self.inner.pending).insert(request_id.to_owned(), tx);
        let sent = lock(&self.inner.outgoing).as_ref().is_some_and(|o| {
            o.send(Outgoing { topic, request_id: request_id.to_owned(), payload, expiry_s }).is_ok()
        });
        if !sent {
            self.forget_request(request_id);
            return None;
        }
        Some(rx)
    }

    /// This client's broker user (empty before the connection task starts).
    pub fn user(&self) -> String {
        lock(&self.inner.user).clone()
    }

    /// Drops a request that is no longer waited for.
    pub fn forget_request(&self, request_id: &str) {
        lock(&self.inner.pending).remove(request_id);
    }

    /// Hands an answer to whoever waits for `request_id`; false when nobody does.
    pub(crate) fn answer(&self, request_id: &str, reply: Reply) -> bool {
        lock(&self.inner.pending).remove(request_id).is_some_and(|tx| tx.send(reply).is_ok())
    }

    pub(crate) fn set_outgoing(&self, user: &str, tx: Option<tokio::sync::mpsc::UnboundedSender<Outgoing>>) {
        *lock(&self.inner.user) = user.to_owned();
        *lock(&self.inner.outgoing) = tx;
    }

    pub fn connection(&self) -> ConnectionStatus {
        lock(&self.inner.connection).clone()
    }

    pub fn stats(&self) -> BusStats {
        lock(&self.inner.stats).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusChange> {
        self.inner.changes.subscribe()
    }
}

/// A running connection to the broker. Dropping it stops the connection task.
pub struct Bus {
    state: BusState,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Bus {
    /// Starts connecting in the background (on the current Tokio runtime); progress shows in
    /// [`BusState::connection`]. Events are acknowledged as they arrive.
    pub fn start(config: BusConfig) -> Bus {
        Bus::start_with_inbox(config, None)
    }

    /// Like [`Bus::start`], but every event is committed to `inbox` before the broker is
    /// told it arrived; one that cannot be stored is not acknowledged and comes again.
    pub fn start_with_inbox(config: BusConfig, inbox: Option<Arc<Inbox>>) -> Bus {
        let state = BusState::new(config.sites.clone());
        lock(&state.inner.connection).encrypted = config.broker.tls;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(mqtt::run(config, state.clone(), stop_rx, inbox));
        Bus { state, stop, task: Some(task) }
    }

    pub fn state(&self) -> &BusState {
        &self.state
    }

    /// Drops the connection without a word, as a killed app does: no DISCONNECT, and the
    /// events not yet acknowledged are the broker's to deliver again.
    pub async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Disconnects cleanly (no Last Will; the session stays on the broker) and waits for
    /// the task to end.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
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

    #[test]
    fn without_a_connection_no_site_is_vouched_for_as_online() {
        let state = BusState::new(["hq", "shop"]);
        state.ingest("mimamori/v1/sites/hq/status", br#"{"v":1,"state":"online"}"#).unwrap();
        state.ingest("mimamori/v1/sites/shop/status", br#"{"v":1,"state":"offline"}"#).unwrap();
        let links = |s: &BusState| s.summaries().iter().map(|x| x.link).collect::<Vec<_>>();
        state.set_connection(ConnectionPhase::Connected, 0, None);
        assert_eq!(links(&state), [SiteLink::Online, SiteLink::Offline]);
        // The link drops: hq may have gone meanwhile; shop's bad state stays shown.
        state.set_connection(ConnectionPhase::Reconnecting, 1, Some(ConnectionProblem::Unreachable));
        assert_eq!(links(&state), [SiteLink::Unknown, SiteLink::Offline]);
        assert_eq!(state.view("hq").unwrap().summary.link, SiteLink::Unknown);
        state.set_connection(ConnectionPhase::Connected, 0, None);
        assert_eq!(state.view("hq").unwrap().summary.link, SiteLink::Online);
    }

    #[test]
    fn broker_addresses() {
        let a: BrokerAddress = "mqtt://127.0.0.1:1884".parse().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 1884));
        let a: BrokerAddress = "mqtt://[::1]:1".parse().unwrap();
        assert_eq!(a.host, "::1");
        assert_eq!("mqtt://h".parse::<BrokerAddress>().unwrap().port, 1883);
        let a: BrokerAddress = "mqtts://broker.example.com".parse().unwrap();
        assert_eq!((a.port, a.tls), (8883, true));
        assert!(matches!("ws://h".parse::<BrokerAddress>(), Err(AddressError::Scheme(_))));
        for bad in ["h:1", "mqtt://", "mqtt://u:p@h:1", "mqtt://h:99999", "mqtt://h/x:1"] {
            assert!(bad.parse::<BrokerAddress>().is_err(), "{bad}");
        }
    }

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

    #[tokio::test]
    async fn rejected_messages_are_counted_and_change_nothing() {
        let state = BusState::new(["hq"]);
        let mut changes = state.subscribe();
        let good = br#"{"v":1,"name":"HQ","time_zone":"UTC"}"#;
        state.ingest("mimamori/v1/sites/hq/catalog", good).unwrap();
        assert!(matches!(changes.try_recv(), Ok(BusChange::Site { .. })));
        assert!(state.ingest("mimamori/v1/sites/hq/catalog", b"{\"v\":1}").is_err());
        assert!(state.ingest("mimamori/v1/sites/other/catalog", good).is_err());
        assert!(changes.try_recv().is_err());
        assert_eq!(state.summaries()[0].name.as_deref(), Some("HQ"));
        let stats = state.stats();
        assert_eq!((stats.received, stats.rejected), (3, 2));
        assert!(stats.last_rejection.unwrap().contains("not enrolled"));
    }
}
