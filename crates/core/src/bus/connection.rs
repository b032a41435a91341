//! The rules of one connection to the broker, one method per thing that happens: the
//! broker's CONNACK, a PUBLISH, a PUBACK, a SUBACK, a lost connection, a request from the
//! core, the recovery tick and the supervision deadline. `mqtt.rs` drives it from the MQTT
//! client library; everything it asks of the broker goes through the narrow [`Broker`]
//! seam, so each rule has a unit test with a recording broker and paused time.
//!
//! The rules: subscribe to exactly the topics this client reads, again on every CONNACK
//! (retained state comes again, which is how the model catches up after a broker
//! restart), in batches the broker can deliver (`pacing.rs`); acknowledge an event only
//! once it is committed to the inbox, and never drop an acknowledgement; match PUBACKs
//! to requests by packet id and responses by request id; ask sites for what the inbox is
//! missing (`recovery.rs`); supervise the sites only while connected; back off with jitter
//! after a failure, and stop for good when the broker refuses the account.

use super::pacing::Pacing;
use super::recovery::{Link, Recovery};
use super::{BusConfig, BusState, ConnectionPhase, ConnectionProblem, Ingested, Outgoing, Reply};
use crate::backoff::Backoff;
use crate::inbox::{Inbox, Recorded};
use crate::lang::Lang;
use crate::protocol::{Topic, recovery, topics};
use crate::time::now_ms;
use rumqttc::v5::mqttbytes::v5::{PubAckReason, Publish, SubAck, SubscribeReasonCode};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The most QoS 1 messages the broker may have on their way to this client unacknowledged
/// (MQTT 5 Receive Maximum): what the connection holds while their acknowledgements wait
/// for room in the client's queue, at most 64 × 68 KB.
pub(super) const RECEIVE_MAXIMUM: u16 = 64;

/// The MQTT 5 properties of a request that expects a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RequestProperties {
    pub response_topic: String,
    /// The request id, as Correlation Data.
    pub correlation: String,
    /// Message Expiry Interval: relative, so a wrong clock on the phone cannot make a
    /// command fire late.
    pub expiry_s: u32,
}

/// What a connection asks of the broker. Each call only queues a packet in the client;
/// an error means it could not be queued (the client's queue is full or gone).
pub(super) trait Broker {
    /// One SUBSCRIBE packet for these filters, at QoS 1.
    fn subscribe(&self, filters: &[String]) -> Result<(), String>;
    /// One PUBLISH at QoS 1, not retained.
    fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        request: Option<RequestProperties>,
    ) -> Result<(), String>;
    /// The PUBACK of a received PUBLISH.
    fn ack(&self, publish: &Publish) -> Result<(), String>;
}

/// A publish of ours on its way: its request id, and whether it expects a response (a
/// command, a replay request) or only its PUBACK (an acknowledgement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sent {
    pub request_id: String,
    pub expects_response: bool,
}

/// What to do after a failed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// Try again after this delay.
    Retry(Duration),
    /// Retrying cannot help: stay stopped until the device is enrolled again.
    Stop,
}

/// What this client publishes as, and its publishes on their way.
pub(super) struct Own {
    pub user: String,
    /// This client's id, for its response topics (`clients/{user}/{client}/responses/{site}`).
    pub client: String,
    /// Publishes handed to the client, waiting for their packet id (assigned in order of
    /// sending).
    pub unnumbered: VecDeque<Sent>,
}

pub(super) struct Connection {
    state: BusState,
    inbox: Option<Arc<Inbox>>,
    sites: Vec<String>,
    own: Own,
    /// Publishes of ours by packet id, until their PUBACK.
    by_pkid: HashMap<u16, Sent>,
    recovery: Recovery,
    backoff: Backoff,
    ever_connected: bool,
    connected: bool,
    /// What to subscribe when (`pacing.rs`).
    pacing: Pacing,
    /// Acknowledgements the client's queue had no room for yet, in order: sent as room
    /// comes, never dropped.
    unsent_acks: VecDeque<Publish>,
    /// Whether the responses topic is subscribed on this connection.
    responses_subscribed: bool,
    /// A subscription waits for room in the client's queue.
    subscribe_blocked: bool,
    next_check: Option<Instant>,
    lang: Lang,
}

impl Connection {
    pub fn new(config: &BusConfig, state: BusState, inbox: Option<Arc<Inbox>>) -> Connection {
        Connection {
            state,
            inbox,
            sites: config.sites.clone(),
            own: Own {
                user: config.user.clone(),
                client: config.client_id.clone(),
                unnumbered: VecDeque::new(),
            },
            by_pkid: HashMap::new(),
            recovery: Recovery::default(),
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(30)),
            ever_connected: false,
            connected: false,
            pacing: Pacing::default(),
            unsent_acks: VecDeque::new(),
            responses_subscribed: false,
            subscribe_blocked: false,
            next_check: None,
            lang: Lang::from_env(),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether this connection fills gaps (only with an inbox to find them in).
    pub fn recovers(&self) -> bool {
        self.inbox.is_some()
    }

    /// When [`Connection::on_timer`] next needs to run: supervision, or pacing.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.next_check, self.pacing.next_deadline(!self.subscribe_blocked)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What the sites cannot report themselves (offline, silent, a camera gone dark)
    /// becomes this device's own alert.
    pub fn raise_troubles(&self) {
        for trouble in self.state.take_troubles() {
            let Some(inbox) = &self.inbox else { continue };
            let site = trouble.site().to_owned();
            let alert = trouble.alert(self.state.view(&site).as_ref(), self.lang, now_ms());
            match inbox.record_local(&site, &alert, now_ms()) {
                Ok(_) => self.state.inbox_changed(site),
                Err(err) => tracing::error!(%site, "the device's own alert was not stored: {err}"),
            }
        }
    }

    /// The broker accepted the connection.
    pub fn on_connack(&mut self, broker: &impl Broker, session_present: bool) {
        tracing::info!(session_present, "connected to the broker");
        self.ever_connected = true;
        self.connected = true;
        self.backoff.reset();
        self.state.set_subscribed(false);
        self.unsent_acks.clear();
        // Subscribing again even with a resumed session re-delivers retained state, which
        // is how the model catches up after a broker restart. Only the topics this client
        // reads: a site-wide `#` would also bring every user's commands and
        // acknowledgements, which are none of this client's business.
        self.pacing.restart(&self.sites, session_present);
        self.responses_subscribed = false;
        self.pace(broker);
        self.state.restart_supervision();
        self.next_check = self.state.supervise();
        // Gaps left from before (an app killed mid-replay, a broker that lost the session)
        // are looked at once the backlog had its chance.
        for site in &self.sites {
            self.recovery.check_soon(site);
        }
        self.state.set_connection(ConnectionPhase::Connected, 0, None);
    }

    /// The broker answered a SUBSCRIBE.
    pub fn on_suback(&mut self, broker: &impl Broker, ack: &SubAck) {
        let refused =
            ack.return_codes.iter().filter(|c| !matches!(c, SubscribeReasonCode::Success(_))).count();
        if refused > 0 {
            tracing::warn!(refused, "broker refused some site subscriptions");
        }
        self.pacing.acked(ack.pkid, Instant::now());
        self.pace(broker);
    }

    /// Subscribes to the batches that may go now, and tells whoever waits once every site
    /// is subscribed.
    fn pace(&mut self, broker: &impl Broker) {
        let now = Instant::now();
        self.pacing.settle(now);
        self.subscribe_blocked = !self.subscribe_what_may_go(broker, now);
        if self.connected && self.pacing.all_subscribed() {
            self.state.set_subscribed(true);
        }
    }

    /// Queues the responses topic's SUBSCRIBE if it is not yet, then the batches that may
    /// go; false when the client's queue had no room for one.
    fn subscribe_what_may_go(&mut self, broker: &impl Broker, now: Instant) -> bool {
        if !self.responses_subscribed {
            if let Err(err) = broker.subscribe(&[topics::responses_filter(&self.own.user, &self.own.client)])
            {
                tracing::debug!(%err, "the responses subscription waits for room in the client's queue");
                return false;
            }
            self.pacing.queued_responses();
            self.responses_subscribed = true;
        }
        while let Some(sites) = self.pacing.next(now) {
            let filters: Vec<String> =
                sites.iter().flat_map(|s| topics::client_filters(s, &self.own.user)).collect();
            if let Err(err) = broker.subscribe(&filters) {
                tracing::debug!(%err, "a subscription waits for room in the client's queue");
                self.pacing.not_queued(sites);
                return false;
            }
            self.pacing.queued(sites);
        }
        true
    }

    /// The client sent a SUBSCRIBE with this packet id.
    pub fn on_subscribe_sent(&mut self, pkid: u16) {
        self.pacing.numbered(pkid);
    }

    /// A request from the core (a command or an acknowledgement) to publish. Only while
    /// connected: one queued meanwhile would go out whenever the link came back.
    pub fn send(&mut self, broker: &impl Broker, req: Outgoing) {
        if !self.connected {
            tracing::warn!(site = %req.site, "not connected: a request was not sent");
            self.state.forget_request(&req.request_id);
            return;
        }
        let properties = req.expiry_s.map(|expiry_s| RequestProperties {
            response_topic: topics::responses(&self.own.user, &self.own.client, &req.site),
            correlation: req.request_id.clone(),
            expiry_s,
        });
        match broker.publish(req.topic, req.payload, properties) {
            Ok(()) => self
                .own
                .unnumbered
                .push_back(Sent { request_id: req.request_id, expects_response: req.expiry_s.is_some() }),
            Err(err) => {
                tracing::warn!("could not queue a command: {err}");
                self.state.forget_request(&req.request_id);
            }
        }
    }

    /// The client sent a PUBLISH of ours with this packet id.
    pub fn on_sent(&mut self, pkid: u16) {
        if let Some(sent) = self.own.unnumbered.pop_front() {
            self.by_pkid.insert(pkid, sent);
        }
    }

    /// The broker acknowledged (or refused) a PUBLISH of ours.
    pub fn on_puback(&mut self, pkid: u16, reason: PubAckReason) {
        let Some(sent) = self.by_pkid.remove(&pkid) else { return };
        if !matches!(reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) {
            let reason = match reason {
                PubAckReason::NotAuthorized => {
                    "the broker does not allow this user to do this at this site".to_owned()
                }
                other => format!("the broker refused it ({other:?})"),
            };
            self.state.answer(&sent.request_id, Reply::Refused(reason));
        } else if !sent.expects_response {
            self.state.answer(&sent.request_id, Reply::Accepted);
        }
    }

    /// A PUBLISH from the broker: a site's answer on one of our response topics, or a
    /// site's message.
    pub fn on_publish(&mut self, broker: &impl Broker, p: &Publish) {
        let topic = String::from_utf8_lossy(&p.topic).into_owned();
        let stored = if let Some(site) = topics::response_site(&topic, &self.own.user, &self.own.client) {
            let site = site.to_owned();
            self.on_response(broker, &site, &p.payload);
            true
        } else {
            let stored = self.on_site_message(broker, &topic, &p.payload);
            if !p.retain && topic.ends_with("/status") {
                self.note_clock(&topic, &p.payload);
            }
            self.next_check = self.state.supervise();
            stored
        };
        // Rejected messages are acknowledged, since a redelivery would be rejected again;
        // an event is acknowledged only once it is in the inbox.
        if stored {
            // Only what the acknowledgement needs: the packet id and the QoS.
            let mut ack = Publish::new("", p.qos, Vec::new(), None);
            ack.pkid = p.pkid;
            self.unsent_acks.push_back(ack);
            self.flush_acks(broker);
        }
        // After the acknowledgement, so that a subscription never takes its room.
        if let Ok(topic) = Topic::parse(&topic) {
            let now = Instant::now();
            if self.pacing.heard(&topic, now) {
                self.pace(broker);
            }
        }
    }

    /// Queues what waits for room in the client's queue: the acknowledgements first, then a
    /// batch of subscriptions. The task calls this each time round, as the client sends
    /// and makes room; the broker sends no more than [`RECEIVE_MAXIMUM`] unacknowledged
    /// messages, so what waits here is bounded.
    pub fn flush(&mut self, broker: &impl Broker) {
        if !self.flush_acks(broker) {
            return;
        }
        if self.subscribe_blocked && self.connected {
            self.pace(broker);
        }
    }

    /// Whether acknowledgements wait for room in the client's queue.
    pub fn has_unsent_acks(&self) -> bool {
        !self.unsent_acks.is_empty()
    }

    /// Queues the acknowledgements that wait; whether all of them went.
    fn flush_acks(&mut self, broker: &impl Broker) -> bool {
        while let Some(ack) = self.unsent_acks.front() {
            if let Err(err) = broker.ack(ack) {
                tracing::debug!(waiting = self.unsent_acks.len(), "acknowledgements wait for room: {err}");
                return false;
            }
            self.unsent_acks.pop_front();
        }
        true
    }

    /// A response: to one of our replay requests, or to a command.
    /// `site`'s response (the topic's site level, which only that site may write): to
    /// one of our replay requests to it, or to a command sent to it.
    fn on_response(&mut self, broker: &impl Broker, site: &str, payload: &[u8]) {
        let replayed = recovery::request_id_of(payload).is_some_and(|id| self.recovery.answered(site, &id));
        let (true, Some(inbox)) = (replayed, &self.inbox) else {
            answer_command(&self.state, site, payload);
            return;
        };
        let mut link = Link { broker, inbox, own: &mut self.own };
        match recovery::decode_response(payload) {
            Ok(replayed) => self.recovery.apply(&mut link, &self.state, site, replayed),
            Err(err) => {
                tracing::warn!(%site, "a malformed replay response was ignored: {err}");
                self.recovery.check_soon(site);
            }
        }
    }

    /// A site's message: into the model, and an event into the inbox. False when an event
    /// could not be stored, so must not be acknowledged.
    fn on_site_message(&mut self, broker: &impl Broker, topic: &str, payload: &[u8]) -> bool {
        let Ok(Some(ingested)) = self.state.ingest(topic, payload) else { return true };
        let Some(inbox) = &self.inbox else { return true };
        match ingested {
            Ingested::Event(site, event) => match inbox.record(&site, &event, now_ms()) {
                Ok(Recorded::New) => {
                    // A number skipped within the stream: the broker delivers a topic in
                    // order, so what is missing before it is lost.
                    let mut link = Link { broker, inbox, own: &mut self.own };
                    self.recovery.ask(&mut link, &site);
                    self.state.inbox_changed(site);
                    true
                }
                Ok(Recorded::Duplicate) => true,
                Err(err) => {
                    tracing::error!(%site, seq = event.seq, "event not stored, so not acknowledged: {err}");
                    self.state.count_unstored(&err);
                    false
                }
            },
            Ingested::Head(site, head) => {
                match inbox.note_head(&site, head.epoch, head.last_seq) {
                    Ok(true) => self.recovery.check_soon(&site),
                    Ok(false) => {}
                    Err(err) => tracing::error!(%site, "the stream head was not stored: {err}"),
                }
                true
            }
        }
    }

    /// A live status (not a retained copy, which may be old) carries the site's clock.
    fn note_clock(&self, topic: &str, payload: &[u8]) {
        if let Ok(crate::protocol::Message::Status { site, status }) = crate::protocol::decode(topic, payload)
            && let Some(time) = status.time
        {
            self.state.note_site_clock(&site, time);
        }
    }

    /// Once a second while connected: ask the sites that are due for their gaps.
    pub fn on_recovery_tick(&mut self, broker: &impl Broker) {
        if let Some(inbox) = &self.inbox {
            let mut link = Link { broker, inbox, own: &mut self.own };
            self.recovery.tick(&mut link);
        }
    }

    /// [`Connection::next_deadline`] passed: supervise the sites, and subscribe what is due.
    pub fn on_timer(&mut self, broker: &impl Broker) {
        self.next_check = self.state.supervise();
        self.pace(broker);
    }

    /// The connection failed or dropped.
    pub fn on_error(&mut self, problem: ConnectionProblem, err: &dyn std::fmt::Display) -> After {
        self.connected = false;
        self.state.set_subscribed(false);
        // The broker delivers again what this connection did not acknowledge.
        self.unsent_acks.clear();
        // Our publishes still on their way are not sent again on the next connection
        // (`mqtt.rs` takes them out of the client's resend queue): a command must never
        // fire late. Whoever waits for them is told at once: unconfirmed.
        for sent in self.own.unnumbered.drain(..).chain(self.by_pkid.drain().map(|(_, s)| s)) {
            self.state.forget_request(&sent.request_id);
        }
        self.subscribe_blocked = false;
        self.pacing.lost();
        let attempt = self.backoff.attempt() + 1;
        tracing::warn!(?problem, attempt, "broker connection failed: {err}");
        if problem == ConnectionProblem::NotAuthorized {
            // Revoked or wrong credentials: retrying cannot help and would hammer the
            // broker.
            tracing::error!("the broker refused this account; enrol this device again");
            self.state.set_connection(ConnectionPhase::Stopped, attempt, Some(problem));
            return After::Stop;
        }
        let phase =
            if self.ever_connected { ConnectionPhase::Reconnecting } else { ConnectionPhase::Connecting };
        self.state.set_connection(phase, attempt, Some(problem));
        After::Retry(self.backoff.next_delay())
    }

    /// The connection task ends (a clean stop).
    pub fn on_stopped(&mut self) {
        self.connected = false;
        self.state.set_subscribed(false);
        self.state.set_outgoing(&self.own.user, None);
        self.state.set_connection(ConnectionPhase::Stopped, 0, None);
    }
}

/// Hands `site`'s response to a command to whoever waits for it, if the command went to
/// `site`.
fn answer_command(state: &BusState, site: &str, payload: &[u8]) {
    match crate::protocol::command::decode_response(payload) {
        Ok(r) => {
            let id = r.request_id.clone();
            if !state.answer_from(site, &id, Reply::Response(r)) {
                tracing::debug!(%site, request = %id, "a response nobody waits for from this site (late, duplicate or not asked)");
            }
        }
        Err(err) => tracing::warn!(%site, "a malformed command response was ignored: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BrokerAddress;
    use crate::protocol::command::CommandClass;
    use crate::protocol::event;
    use rumqttc::v5::mqttbytes::QoS;
    use std::cell::{Cell, RefCell};

    type Published = (String, Vec<u8>, Option<RequestProperties>);

    /// A broker that records what it is asked, and can refuse to queue anything.
    #[derive(Default)]
    struct Recorder {
        subscriptions: RefCell<Vec<Vec<String>>>,
        published: RefCell<Vec<Published>>,
        acked: RefCell<Vec<u16>>,
        full: Cell<bool>,
        /// SUBSCRIBEs the client has sent (and numbered 1, 2, …).
        sent_subscriptions: Cell<usize>,
    }

    impl Recorder {
        fn refuse_if_full(&self) -> Result<(), String> {
            if self.full.get() { Err("the request queue is full".into()) } else { Ok(()) }
        }
        fn published_on(&self, topic: &str) -> Vec<Published> {
            self.published.borrow().iter().filter(|p| p.0 == topic).cloned().collect()
        }
    }

    impl Broker for Recorder {
        fn subscribe(&self, filters: &[String]) -> Result<(), String> {
            self.refuse_if_full()?;
            self.subscriptions.borrow_mut().push(filters.to_vec());
            Ok(())
        }
        fn publish(
            &self,
            topic: String,
            payload: Vec<u8>,
            request: Option<RequestProperties>,
        ) -> Result<(), String> {
            self.refuse_if_full()?;
            self.published.borrow_mut().push((topic, payload, request));
            Ok(())
        }
        fn ack(&self, publish: &Publish) -> Result<(), String> {
            self.refuse_if_full()?;
            self.acked.borrow_mut().push(publish.pkid);
            Ok(())
        }
    }

    /// The client sends what is queued: each SUBSCRIBE gets the next packet id.
    fn send_subscriptions(conn: &mut Connection, broker: &Recorder) {
        while broker.sent_subscriptions.get() < broker.subscriptions.borrow().len() {
            broker.sent_subscriptions.set(broker.sent_subscriptions.get() + 1);
            conn.on_subscribe_sent(u16::try_from(broker.sent_subscriptions.get()).unwrap());
        }
    }

    /// What the client subscribes to for its answers, and hq's level of it.
    const RESPONSES: &str = "mimamori/v1/clients/aiko/phone/responses/+";
    const HQ_ANSWERS: &str = "mimamori/v1/clients/aiko/phone/responses/hq";
    const EVENTS: &str = "mimamori/v1/sites/hq/events";
    const REPLAY: &str = "mimamori/v1/sites/hq/replay/aiko";

    fn connection(sites: &[&str], inbox: Option<Arc<Inbox>>) -> (Connection, BusState) {
        let sites: Vec<String> = sites.iter().map(|s| (*s).to_owned()).collect();
        let config = BusConfig::new(BrokerAddress::plain("127.0.0.1", 1883), "phone", "aiko", sites.clone());
        let state = BusState::new(sites);
        (Connection::new(&config, state.clone(), inbox), state)
    }

    /// A connection to `hq` with an inbox, connected.
    fn connected_to_hq() -> (Connection, BusState, Recorder, Arc<Inbox>) {
        let inbox = Arc::new(Inbox::in_memory().unwrap());
        let (mut conn, state) = connection(&["hq"], Some(inbox.clone()));
        let broker = Recorder::default();
        conn.on_connack(&broker, false);
        (conn, state, broker, inbox)
    }

    /// A connection to `hq` without an inbox, and the queue on which the core's requests
    /// reach it (handed on with `conn.send`, as the task does).
    fn with_requests() -> (Connection, BusState, Recorder, tokio::sync::mpsc::UnboundedReceiver<Outgoing>) {
        let (conn, state) = connection(&["hq"], None);
        let (tx, queued) = tokio::sync::mpsc::unbounded_channel();
        state.set_outgoing("aiko", Some(tx));
        (conn, state, Recorder::default(), queued)
    }

    fn delivery(pkid: u16, topic: &str, payload: Vec<u8>) -> Publish {
        let mut p = Publish::new(topic, QoS::AtLeastOnce, payload, None);
        p.pkid = pkid;
        p
    }

    fn door(seq: u64) -> Vec<u8> {
        event::encode(&event::example_door(7, seq))
    }

    fn suback(pkid: u16) -> SubAck {
        SubAck { pkid, return_codes: vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)], properties: None }
    }

    /// A site's retained state, as the broker delivers it on a SUBSCRIBE.
    fn report(conn: &mut Connection, broker: &Recorder, site: &str) {
        let catalog = br#"{"v":1,"name":"Site","time_zone":"UTC"}"#.to_vec();
        conn.on_publish(broker, &delivery(1, &topics::catalog(site), catalog));
        conn.on_publish(broker, &delivery(2, &topics::status(site), br#"{"v":1,"state":"online"}"#.to_vec()));
    }

    #[tokio::test(start_paused = true)]
    async fn sites_are_subscribed_in_batches_the_broker_can_deliver() {
        let sites: Vec<String> = (0..60).map(|i| format!("site-{i:02}")).collect();
        let names: Vec<&str> = sites.iter().map(String::as_str).collect();
        let (mut conn, state) = connection(&names, None);
        let broker = Recorder::default();
        conn.on_connack(&broker, false);
        assert!(conn.is_connected());
        assert_eq!(state.connection().phase, ConnectionPhase::Connected);
        let packets = || broker.subscriptions.borrow().iter().map(Vec::len).collect::<Vec<_>>();
        // The responses topic, then two batches of 25 sites × 5 filters; no more at once.
        assert_eq!(packets(), [1, 125, 125]);
        assert_eq!(broker.subscriptions.borrow()[0], [RESPONSES]);
        assert!(
            broker.subscriptions.borrow().concat().iter().all(|f| !f.ends_with('#')),
            "only what it reads"
        );
        send_subscriptions(&mut conn, &broker);
        for pkid in 1..=3 {
            conn.on_suback(&broker, &suback(pkid));
        }
        assert_eq!(packets(), [1, 125, 125], "the first batches' retained state is still coming");
        // The first batch's sites report: the last ten sites may go.
        for site in &sites[..25] {
            report(&mut conn, &broker, site);
        }
        assert_eq!(packets(), [1, 125, 125, 50]);
        send_subscriptions(&mut conn, &broker);
        assert!(!state.is_subscribed());
        let waiter = tokio::spawn({
            let state = state.clone();
            async move { state.subscribed().await }
        });
        conn.on_suback(&broker, &suback(4));
        assert!(state.is_subscribed(), "every site subscribed once, every SUBACK in");
        tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap();
        // The second batch never reports (its sites have no retained state on this broker):
        // after a quiet moment it is given up for now, and asked again later.
        tokio::time::advance(super::super::pacing::QUIET).await;
        conn.on_timer(&broker);
        tokio::time::advance(super::super::pacing::ASK_AGAIN_FIRST).await;
        conn.on_timer(&broker);
        assert_eq!(packets(), [1, 125, 125, 50, 125, 50], "the 35 silent sites asked again");
        // A lost connection is no longer subscribed, and the next one starts over.
        assert!(matches!(conn.on_error(ConnectionProblem::Closed, &"reset"), After::Retry(_)));
        assert!(!state.is_subscribed());
        conn.on_connack(&broker, true);
        assert!(!state.is_subscribed());
        assert_eq!(packets().len(), 9);
    }

    #[tokio::test(start_paused = true)]
    async fn subscriptions_wait_for_room_in_the_queue() {
        let (mut conn, state) = connection(&["hq", "shop"], None);
        let broker = Recorder::default();
        broker.full.set(true);
        conn.on_connack(&broker, false);
        assert!(broker.subscriptions.borrow().is_empty());
        conn.flush(&broker);
        assert!(broker.subscriptions.borrow().is_empty(), "still no room");
        broker.full.set(false);
        conn.flush(&broker);
        assert_eq!(broker.subscriptions.borrow().iter().map(Vec::len).collect::<Vec<_>>(), [1, 10]);
        send_subscriptions(&mut conn, &broker);
        conn.on_suback(&broker, &suback(1));
        conn.on_suback(&broker, &suback(2));
        assert!(state.is_subscribed());
    }

    #[tokio::test(start_paused = true)]
    async fn no_acknowledgement_is_dropped_when_the_queue_is_full() {
        let (mut conn, _state, broker, inbox) = connected_to_hq();
        broker.full.set(true);
        for seq in 1..=200 {
            conn.on_publish(&broker, &delivery(seq as u16, EVENTS, door(seq)));
        }
        assert_eq!(inbox.event_count("hq").unwrap(), 200);
        assert!(broker.acked.borrow().is_empty());
        // Room again: every acknowledgement goes, in order.
        broker.full.set(false);
        conn.flush(&broker);
        assert_eq!(*broker.acked.borrow(), (1..=200).collect::<Vec<u16>>());
        // Those of a lost connection are not sent on the next: the broker sends again.
        broker.full.set(true);
        conn.on_publish(&broker, &delivery(201, EVENTS, door(201)));
        conn.on_error(ConnectionProblem::Closed, &"reset");
        broker.full.set(false);
        conn.flush(&broker);
        assert_eq!(broker.acked.borrow().len(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_is_acknowledged_only_once_it_is_stored() {
        let (mut conn, _state, broker, inbox) = connected_to_hq();
        conn.on_publish(&broker, &delivery(11, EVENTS, door(1)));
        assert_eq!(inbox.event_count("hq").unwrap(), 1);
        assert_eq!(*broker.acked.borrow(), [11]);
        // A redelivery is a duplicate: acknowledged again, stored once.
        conn.on_publish(&broker, &delivery(12, EVENTS, door(1)));
        assert_eq!(inbox.event_count("hq").unwrap(), 1);
        // A message that is rejected is acknowledged too: a redelivery would be rejected again.
        conn.on_publish(&broker, &delivery(13, EVENTS, b"{not json".to_vec()));
        assert_eq!(*broker.acked.borrow(), [11, 12, 13]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_that_cannot_be_stored_is_not_acknowledged() {
        let (mut conn, state, broker, inbox) = connected_to_hq();
        inbox.set_read_only(true).unwrap();
        conn.on_publish(&broker, &delivery(21, EVENTS, door(1)));
        assert!(broker.acked.borrow().is_empty(), "the broker must deliver it again");
        assert_eq!(state.stats().unstored, 1);
        assert!(state.connection().cannot_store);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_within_the_stream_is_asked_for_at_once_and_again_after_the_timeout() {
        let (mut conn, _state, broker, _inbox) = connected_to_hq();
        conn.on_publish(&broker, &delivery(1, EVENTS, door(1)));
        conn.on_publish(&broker, &delivery(2, EVENTS, door(5)));
        let asked = broker.published_on(REPLAY);
        assert_eq!(asked.len(), 1, "one request for 2–4");
        let request = crate::protocol::recovery::decode_request(&asked[0].1).unwrap();
        assert_eq!((request.epoch, request.from_seq, request.to_seq), (7, 2, Some(4)));
        let properties = asked[0].2.clone().unwrap();
        assert_eq!(
            (properties.response_topic.as_str(), properties.correlation),
            (HQ_ANSWERS, request.request_id)
        );
        // Unanswered: asked again once the replay timeout has passed, not before.
        tokio::time::advance(Duration::from_secs(5)).await;
        conn.on_recovery_tick(&broker);
        assert_eq!(broker.published_on(REPLAY).len(), 1);
        tokio::time::advance(crate::protocol::recovery::REPLAY_TIMEOUT).await;
        conn.on_recovery_tick(&broker);
        assert_eq!(broker.published_on(REPLAY).len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_at_the_end_of_the_stream_waits_for_the_broker_to_settle() {
        let (mut conn, _state, broker, _inbox) = connected_to_hq();
        conn.on_publish(&broker, &delivery(1, EVENTS, door(1)));
        let head = br#"{"v":1,"state":"online","events":{"epoch":7,"last_seq":3}}"#.to_vec();
        conn.on_publish(&broker, &delivery(2, "mimamori/v1/sites/hq/status", head));
        conn.on_recovery_tick(&broker);
        assert!(broker.published_on(REPLAY).is_empty(), "the backlog may still come");
        tokio::time::advance(super::super::recovery::SETTLE).await;
        conn.on_recovery_tick(&broker);
        assert_eq!(broker.published_on(REPLAY).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn pubacks_and_responses_answer_their_requests() {
        let (mut conn, state, broker, mut queued) = with_requests();
        conn.on_connack(&broker, false);
        // A command refused by the broker.
        let refused = state.request("hq", CommandClass::Siren, "r-1", b"{}".to_vec(), 10).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        let (topic, _, properties) = broker.published.borrow()[0].clone();
        assert_eq!(topic, "mimamori/v1/sites/hq/commands/siren/aiko");
        assert_eq!(
            properties,
            Some(RequestProperties {
                response_topic: HQ_ANSWERS.into(),
                correlation: "r-1".into(),
                expiry_s: 10
            })
        );
        // An acknowledgement, taken by the broker.
        let accepted = state.publish_ack("hq", "k-1", b"{}".to_vec()).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        assert_eq!(broker.published.borrow()[1].2, None);
        // A command the site answers.
        let answered = state.request("hq", CommandClass::Siren, "r-2", b"{}".to_vec(), 10).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        // Packet ids come in the order of sending.
        conn.on_sent(7);
        conn.on_sent(8);
        conn.on_sent(9);
        conn.on_puback(7, PubAckReason::NotAuthorized);
        conn.on_puback(8, PubAckReason::Success);
        conn.on_puback(9, PubAckReason::Success);
        assert!(matches!(refused.await, Ok(Reply::Refused(r)) if r.contains("does not allow")));
        assert!(matches!(accepted.await, Ok(Reply::Accepted)));
        let response = br#"{"v":1,"request_id":"r-2","outcome":"done","state":"on"}"#.to_vec();
        // Another site cannot answer for hq: its level of the topic names it.
        conn.on_publish(
            &broker,
            &delivery(29, "mimamori/v1/clients/aiko/phone/responses/shop", response.clone()),
        );
        let mut answered = answered;
        assert!(answered.try_recv().is_err(), "a response from a site not asked is ignored");
        conn.on_publish(&broker, &delivery(30, HQ_ANSWERS, response));
        assert!(matches!(answered.await, Ok(Reply::Response(r)) if r.outcome == "done"));
        assert_eq!(*broker.acked.borrow(), [29, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_connection_never_sends_a_command_later_and_says_so_at_once() {
        let (mut conn, state, broker, mut queued) = with_requests();
        conn.on_connack(&broker, false);
        let sent = state.request("hq", CommandClass::Siren, "r-1", b"{}".to_vec(), 10).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        conn.on_sent(3);
        let queued_only = state.request("hq", CommandClass::Siren, "r-2", b"{}".to_vec(), 10).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        conn.on_error(ConnectionProblem::TimedOut, &"no answer to a ping");
        // Both are unconfirmed now, not after their timeout.
        assert!(sent.await.is_err());
        assert!(queued_only.await.is_err());
        // Asked while there is no connection: not queued for whenever it comes back.
        let offline = state.request("hq", CommandClass::Siren, "r-3", b"{}".to_vec(), 10).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        assert!(offline.await.is_err());
        assert_eq!(broker.published.borrow().len(), 2);
        // A PUBACK of the old connection's packet id answers nothing of the new one.
        conn.on_connack(&broker, true);
        let next = state.request("hq", CommandClass::Siren, "r-4", b"{}".to_vec(), 10).unwrap();
        conn.send(&broker, queued.try_recv().unwrap());
        conn.on_sent(1);
        conn.on_puback(3, PubAckReason::NotAuthorized);
        let mut next = next;
        assert!(next.try_recv().is_err());
        conn.on_puback(1, PubAckReason::NotAuthorized);
        assert!(matches!(next.await, Ok(Reply::Refused(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_cannot_be_queued_is_forgotten() {
        let (mut conn, state, broker, mut queued) = with_requests();
        let reply = state.request("hq", CommandClass::Siren, "r-1", b"{}".to_vec(), 10).unwrap();
        broker.full.set(true);
        conn.send(&broker, queued.try_recv().unwrap());
        assert!(reply.await.is_err(), "nobody waits for an answer that cannot come");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_and_a_refused_account_stops() {
        let (mut conn, state) = connection(&["hq"], None);
        let broker = Recorder::default();
        let mut delays = Vec::new();
        for _ in 0..10 {
            let After::Retry(delay) = conn.on_error(ConnectionProblem::Unreachable, &"refused") else {
                panic!("an unreachable broker is tried again");
            };
            delays.push(delay);
        }
        assert_eq!(state.connection().phase, ConnectionPhase::Connecting, "never connected yet");
        assert_eq!(state.connection().attempt, 10);
        assert!(
            delays[0] <= Duration::from_millis(250) && delays[9] >= Duration::from_secs(15),
            "{delays:?}"
        );
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        // A connection resets the backoff; losing it is reconnecting.
        conn.on_connack(&broker, false);
        let After::Retry(first) = conn.on_error(ConnectionProblem::Closed, &"reset") else { panic!() };
        assert!(first <= Duration::from_millis(250));
        assert_eq!(state.connection().phase, ConnectionPhase::Reconnecting);
        assert!(!conn.is_connected(), "no supervision without a connection");
        assert_eq!(conn.on_error(ConnectionProblem::NotAuthorized, &"not authorized"), After::Stop);
        let status = state.connection();
        assert_eq!(
            (status.phase, status.problem),
            (ConnectionPhase::Stopped, Some(ConnectionProblem::NotAuthorized))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_site_is_lost_at_its_supervision_deadline() {
        let (mut conn, state) = connection(&["hq"], None);
        let broker = Recorder::default();
        conn.on_connack(&broker, false);
        let catalog = br#"{"v":1,"name":"HQ","time_zone":"UTC","supervision_s":30}"#.to_vec();
        conn.on_publish(&broker, &delivery(1, "mimamori/v1/sites/hq/catalog", catalog));
        conn.on_publish(
            &broker,
            &delivery(2, "mimamori/v1/sites/hq/status", br#"{"v":1,"state":"online"}"#.to_vec()),
        );
        assert_eq!(state.summaries()[0].link, crate::site::SiteLink::Online);
        let deadline = conn.next_deadline().expect("a deadline for the online site");
        assert_eq!(deadline - Instant::now(), Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(29)).await;
        conn.on_timer(&broker);
        assert_eq!(state.summaries()[0].link, crate::site::SiteLink::Online);
        tokio::time::advance(Duration::from_millis(1_001)).await;
        conn.on_timer(&broker);
        assert_eq!(state.summaries()[0].link, crate::site::SiteLink::Lost);
    }
}
