//! [`BusState`]: the shared, cloneable handle that the app, the CLI and tests read — the
//! live site model, the connection status, counters, the requests waiting for answers and
//! a broadcast of changes. The connection task (`connection.rs`) writes it; it can also be
//! fed without a broker ([`BusState::ingest`]) so that the app's commands can be tested on
//! their own.

use super::request::{Outgoing, Reply, Requests};
use super::status::{BusChange, BusStats, ConnectionPhase, ConnectionProblem, ConnectionStatus};
use crate::protocol::event::Event;
use crate::protocol::role::Role;
use crate::protocol::{self, Message};
use crate::site::{ApplyError, SiteLink, SiteSummary, SiteView, Sites};
use crate::time::now_ms;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// What an accepted message from the bus carries besides the change to the site model.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// An event, to commit to the inbox.
    Event(String, Event),
    /// The head of a site's event stream, from its status.
    Head(String, protocol::EventsHead),
}

struct Inner {
    sites: Mutex<Sites>,
    connection: Mutex<ConnectionStatus>,
    stats: Mutex<BusStats>,
    changes: broadcast::Sender<BusChange>,
    requests: Requests,
    /// Whether the broker acknowledged every subscription of the current connection.
    subscribed: watch::Sender<bool>,
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
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BusState {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(sites: I) -> BusState {
        let (changes, _) = broadcast::channel(1024);
        BusState {
            inner: Arc::new(Inner {
                sites: Mutex::new(Sites::new(sites)),
                connection: Mutex::new(ConnectionStatus::new(ConnectionPhase::Connecting)),
                stats: Mutex::new(BusStats::default()),
                changes,
                requests: Requests::default(),
                subscribed: watch::Sender::new(false),
            }),
        }
    }

    /// The roles this device was enrolled with, per site: what holds at a site that keeps
    /// no roles table of its own.
    pub fn set_enrolled_roles(&self, roles: &std::collections::BTreeMap<String, Role>) {
        let mut sites = lock(&self.inner.sites);
        for (site, role) in roles {
            sites.set_enrolled_role(site, *role);
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
            if let Message::Role { user, .. } = &msg
                && *user != self.user()
            {
                return Err(ApplyError::NotOurs);
            }
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

    /// Notes the clock of `site` from a live heartbeat that said `site_ms`.
    pub(crate) fn note_site_clock(&self, site: &str, site_ms: u64) {
        lock(&self.inner.sites).note_clock(site, site_ms, now_ms());
    }

    /// `site`'s clock now, as its last live heartbeat lets this device estimate it (early
    /// rather than late); None without one.
    pub fn site_clock_ms(&self, site: &str) -> Option<u64> {
        lock(&self.inner.sites).site_clock_ms(site, now_ms())
    }

    /// Whether `site` has sent its catalog and its status.
    pub fn has_reported(&self, site: &str) -> bool {
        lock(&self.inner.sites).has_reported(site)
    }

    /// A camera's catalog entry, endpoints included: for the video pipeline, never for IPC.
    pub fn camera_entry(&self, site: &str, camera: &str) -> Option<crate::protocol::CameraEntry> {
        lock(&self.inner.sites).camera_entry(site, camera).cloned()
    }

    /// Publishes a request to `site`'s command topic of `class` for this user; the answer (the
    /// site's response or the broker's refusal) comes on the returned channel. None when
    /// there is no connection task.
    pub fn request(
        &self,
        site: &str,
        class: protocol::command::CommandClass,
        request_id: &str,
        payload: Vec<u8>,
        expiry_s: u32,
    ) -> Option<tokio::sync::oneshot::Receiver<Reply>> {
        let topic = protocol::topics::commands(site, class, &self.user());
        let (site, request_id) = (site.to_owned(), request_id.to_owned());
        self.inner.requests.send(Outgoing { site, topic, request_id, payload, expiry_s: Some(expiry_s) })
    }

    /// Publishes an acknowledgement to `site`'s ack topic for this user; the broker's
    /// PUBACK (accepted or refused) comes on the returned channel.
    pub fn publish_ack(
        &self,
        site: &str,
        request_id: &str,
        payload: Vec<u8>,
    ) -> Option<tokio::sync::oneshot::Receiver<Reply>> {
        let topic = protocol::topics::ack(site, &self.user());
        let (site, request_id) = (site.to_owned(), request_id.to_owned());
        self.inner.requests.send(Outgoing { site, topic, request_id, payload, expiry_s: None })
    }

    /// This client's broker user (empty before the connection task starts).
    pub fn user(&self) -> String {
        self.inner.requests.user()
    }

    /// Drops a request that is no longer waited for.
    pub fn forget_request(&self, request_id: &str) {
        self.inner.requests.forget(request_id);
    }

    /// Hands the broker's answer to whoever waits for `request_id`; false when nobody does.
    pub(crate) fn answer(&self, request_id: &str, reply: Reply) -> bool {
        self.inner.requests.answer(request_id, reply)
    }

    /// Hands `site`'s response to whoever waits for `request_id`, if it went to `site`.
    pub(crate) fn answer_from(&self, site: &str, request_id: &str, reply: Reply) -> bool {
        self.inner.requests.answer_from(site, request_id, reply)
    }

    pub(crate) fn set_outgoing(&self, user: &str, tx: Option<tokio::sync::mpsc::UnboundedSender<Outgoing>>) {
        self.inner.requests.set_outgoing(user, tx);
    }

    /// Whether the broker has acknowledged every subscription of the current connection
    /// (SUBACK): from then on, what the sites publish reaches this client.
    pub fn is_subscribed(&self) -> bool {
        *self.inner.subscribed.borrow()
    }

    /// Waits until [`BusState::is_subscribed`]: the signal to wait on instead of sleeping
    /// after a connect.
    pub async fn subscribed(&self) {
        let mut rx = self.inner.subscribed.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    pub(crate) fn set_subscribed(&self, subscribed: bool) {
        self.inner.subscribed.send_if_modified(|s| std::mem::replace(s, subscribed) != subscribed);
    }

    /// Whether connections of this bus are encrypted (TLS to the broker).
    pub(crate) fn set_encrypted(&self, encrypted: bool) {
        lock(&self.inner.connection).encrypted = encrypted;
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

#[cfg(test)]
mod tests {
    use super::*;

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
