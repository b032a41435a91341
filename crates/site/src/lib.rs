//! The site engine: one implementation of everything a site owes its clients on the bus
//! (`docs/site-protocol.md`), for the simulator and for real sites alike. On every
//! connection it publishes its catalog, its status, its output states and the role of
//! each user of its roles table (all retained), then a status heartbeat; its Last Will
//! marks it offline when it vanishes. Its numbered event stream is kept in SQLite
//! (`store.rs`): an event is published only once committed, the epoch survives a restart
//! and the numbers continue. It enforces its roles table on every command,
//! acknowledgement and replay request, answers each request id once (across restarts
//! too), and keeps a command log.
//!
//! The devices stay behind narrow interfaces: outputs switch through [`Outputs`]; inputs
//! (alerts, an output that moved by itself, arming at a keypad, a camera's health) are
//! reported through the [`Site`] handle.

pub mod command;
pub mod store;

use command::{Asker, Decision, arm_word, value_word};
use mimamori_protocol::command::Response;
use mimamori_protocol::event::{Alert, AlertKind, AlertUpdate, EventBody};
use mimamori_protocol::role::{Permission, Role, RoleGrant};
use mimamori_protocol::{
    self as protocol, ArmState, CameraHealth, Catalog, LinkState, OutputEntry, OutputState, OutputValue,
    Status, recovery, topics,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, LastWill, Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
pub use store::{CommandRecord, Retention, Store, StoreError};
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

/// The wall clock, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Switching an output: done, or why the hardware did not move.
pub type Switching = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The site's outputs (sirens, lights, locks, relays), as its hardware switches them.
pub trait Outputs: Send + Sync + 'static {
    /// How long switching `output` takes at most: a command is not started when it would
    /// end after its deadline.
    fn takes(&self, output: &OutputEntry) -> Duration;
    /// Switches `output` to `value`; done once the hardware has moved, or an error the
    /// user may read (it goes into the response: no addresses, no secrets).
    fn switch(&self, output: &OutputEntry, value: OutputValue) -> Switching;
    /// Arms or disarms through the site's alarm panel, where one keeps the armed state:
    /// done once the panel has taken it. `None` (the default): the engine keeps the armed
    /// state itself.
    fn arm(&self, _state: ArmState) -> Option<Switching> {
        None
    }
}

/// What a site is: its catalog and the state its outputs and arming start in.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    pub id: String,
    pub catalog: Catalog,
    pub outputs: BTreeMap<String, OutputValue>,
    pub armed: ArmState,
}

/// How a site reaches its broker and what it keeps.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub host: String,
    pub port: u16,
    /// Broker user; `None` means `site-{id}`.
    pub user: Option<String>,
    pub password: Option<Zeroizing<String>>,
    /// Interval between status heartbeats; `None` means a third of the supervision time.
    pub heartbeat: Option<Duration>,
    /// How much of the event stream is kept for replay.
    pub retention: Retention,
    /// The store's file; `None` keeps it in memory (a simulated site, which starts a new
    /// epoch each run).
    pub store: Option<PathBuf>,
    /// The site's clock against this machine's, in ms (a controller whose clock is off).
    pub clock_offset_ms: i64,
    /// Whether the site trusts its clock (say, set by NTP); without it, it sends no time
    /// in its status and executes no command that carries a deadline.
    pub clock_trusted: bool,
    /// The site's roles table: user → role here. Anyone not in it can do nothing at this
    /// site; empty, the site refuses every command.
    pub roles: BTreeMap<String, Role>,
    /// TLS to the broker (`mqtts://`), with the trust anchors it is checked against;
    /// `None`: plain MQTT.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl SiteConfig {
    pub fn new(host: &str, port: u16) -> SiteConfig {
        SiteConfig {
            host: host.to_owned(),
            port,
            user: None,
            password: None,
            heartbeat: None,
            retention: Retention::default(),
            store: None,
            clock_offset_ms: 0,
            clock_trusted: true,
            roles: BTreeMap::new(),
            tls: None,
        }
    }

    /// The site's clock (ms since the Unix epoch), if it trusts it.
    fn clock_ms(&self) -> Option<u64> {
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        self.clock_trusted.then(|| u64::try_from(now.saturating_add(self.clock_offset_ms)).unwrap_or(0))
    }
}

/// An alert for the site to raise; the engine numbers it in its event stream.
#[derive(Debug, Clone)]
pub struct Raise {
    pub kind: AlertKind,
    pub zone: Option<String>,
    pub title: String,
    pub cameras: Vec<String>,
    /// A JPEG of the moment (at most 32 KiB, or clients refuse the event).
    pub snapshot: Option<Vec<u8>>,
}

/// What the site's devices report.
#[derive(Debug, Clone)]
pub enum Input {
    Alert(Raise),
    /// An output moved by itself (a lock opened with a key, a relay switched at the panel).
    Output {
        id: String,
        value: OutputValue,
    },
    /// Armed or disarmed at the site (a keypad).
    Armed(ArmState),
    CameraHealth {
        id: String,
        health: CameraHealth,
    },
}

/// Whether a site's engine still runs ([`Site::liveness`]).
#[derive(Debug, Clone)]
pub struct Liveness(mpsc::UnboundedSender<Input>);

impl Liveness {
    pub fn is_running(&self) -> bool {
        !self.0.is_closed()
    }
}

/// A device's line to its site ([`Site::reporter`]).
#[derive(Debug, Clone)]
pub struct Reporter(mpsc::UnboundedSender<Input>);

impl Reporter {
    /// Reports what a device did; false once the site has stopped.
    pub fn report(&self, input: Input) -> bool {
        self.0.send(input).is_ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Run,
    /// Publish "offline" and disconnect cleanly, as a controller shutting down does.
    Graceful,
}

/// A running site.
pub struct Site {
    id: String,
    armed: watch::Receiver<ArmState>,
    stop: watch::Sender<Stop>,
    inputs: mpsc::UnboundedSender<Input>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    /// Opens the site's store, then connects and starts publishing on the current Tokio
    /// runtime.
    pub fn start(spec: SiteSpec, config: SiteConfig, outputs: Arc<dyn Outputs>) -> Result<Site, StoreError> {
        let store = match &config.store {
            Some(path) => Store::open(path, config.retention, now_ms())?,
            None => Store::memory(config.retention, now_ms())?,
        };
        let (stop, stop_rx) = watch::channel(Stop::Run);
        let (inputs, inputs_rx) = mpsc::unbounded_channel();
        let id = spec.id.clone();
        let engine = Engine::new(spec, config, store, outputs);
        let armed = engine.armed.subscribe();
        let task = tokio::spawn(engine.run(stop_rx, inputs_rx));
        Ok(Site { id, armed, stop, inputs, task })
    }

    /// Raises an alert: it goes out as the next event of this site's stream.
    pub fn raise(&self, alert: Raise) {
        self.report(Input::Alert(alert));
    }

    /// Reports what a device did.
    pub fn report(&self, input: Input) {
        let _ = self.inputs.send(input);
    }

    /// The site's armed state, as it changes (by command or at the site).
    pub fn armed(&self) -> watch::Receiver<ArmState> {
        self.armed.clone()
    }

    /// Whether the engine still runs, for a watchdog.
    pub fn liveness(&self) -> Liveness {
        Liveness(self.inputs.clone())
    }

    /// A way for devices to report to this site from tasks of their own.
    pub fn reporter(&self) -> Reporter {
        Reporter(self.inputs.clone())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Shuts down like a controller that is switched off properly: status "offline", then
    /// a clean disconnect.
    pub async fn stop(self) {
        let _ = self.stop.send(Stop::Graceful);
        let _ = self.task.await;
    }

    /// Vanishes like a controller that lost power: the connection drops without a
    /// DISCONNECT, so the broker publishes the Last Will.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A site's status: `head`, the event stream's head and the site's clock when it trusts
/// it (none in the Last Will, which is written at connection time).
fn status_payload(
    spec: &SiteSpec,
    cameras: &BTreeMap<String, CameraHealth>,
    state: LinkState,
    head: Option<(protocol::EventsHead, Option<u64>)>,
) -> Vec<u8> {
    protocol::encode(&Status {
        v: protocol::VERSION,
        state,
        time: head.and_then(|(_, clock)| clock),
        armed: Some(spec.armed),
        cameras: cameras.clone(),
        events: head.map(|(h, _)| h),
    })
}

/// A response to a request, to its response topic with its correlation data.
struct Reply {
    topic: String,
    correlation: Option<bytes::Bytes>,
}

/// What the engine's own tasks report back: an output that has moved (or not).
struct Switched {
    user: String,
    request_id: Option<String>,
    output: OutputEntry,
    value: OutputValue,
    result: Result<(), String>,
    reply: Option<Reply>,
    revert_after: Option<(Duration, OutputValue)>,
}

/// What the alarm panel did with an arming command.
struct Armed {
    user: String,
    request_id: String,
    state: ArmState,
    result: Result<(), String>,
    reply: Reply,
}

/// An event waiting to be numbered and committed.
#[derive(Clone)]
enum Pending {
    Alert(Raise, u64),
    Update(AlertUpdate),
}

struct Engine {
    spec: SiteSpec,
    config: SiteConfig,
    store: Store,
    outputs: Arc<dyn Outputs>,
    cameras: BTreeMap<String, CameraHealth>,
    client: AsyncClient,
    mqtt: rumqttc::v5::EventLoop,
    connected: bool,
    pending: Vec<Pending>,
    /// Committed events the broker has not taken yet, oldest first.
    outbox: std::collections::VecDeque<Vec<u8>>,
    switched: (mpsc::UnboundedSender<Switched>, mpsc::UnboundedReceiver<Switched>),
    panel: (mpsc::UnboundedSender<Armed>, mpsc::UnboundedReceiver<Armed>),
    armed: watch::Sender<ArmState>,
}

impl Engine {
    fn new(spec: SiteSpec, config: SiteConfig, store: Store, outputs: Arc<dyn Outputs>) -> Engine {
        let mut spec = spec;
        // The engine keeps the site's own roles table, and says so.
        spec.catalog.role_table = true;
        // Armed as it was when the site stopped, if it has been running before.
        match store.armed() {
            Ok(Some(armed)) => spec.armed = armed,
            Ok(None) => {}
            Err(err) => tracing::error!(site = %spec.id, "the stored armed state cannot be read: {err}"),
        }
        let armed = watch::Sender::new(spec.armed);
        let cameras = spec.catalog.cameras.iter().map(|c| (c.id.clone(), CameraHealth::Ok)).collect();
        let user = config.user.clone().unwrap_or_else(|| format!("site-{}", spec.id));
        let mut opts = MqttOptions::new(format!("site-{}", spec.id), &config.host, config.port);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_clean_start(true);
        // A larger message is dropped by the broker, not sent to break the connection.
        opts.set_max_packet_size(Some(protocol::MAX_PACKET_BYTES));
        opts.set_outgoing_inflight_upper_limit(protocol::MAX_INFLIGHT);
        opts.set_credentials(user, config.password.as_ref().map_or("", |p| p.as_str()));
        if let Some(tls) = &config.tls {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::clone(tls))));
        }
        let offline = status_payload(&spec, &cameras, LinkState::Offline, None);
        opts.set_last_will(LastWill::new(topics::status(&spec.id), offline, QoS::AtLeastOnce, true, None));
        let (client, mqtt) = AsyncClient::new(opts, 256);
        Engine {
            spec,
            config,
            store,
            outputs,
            cameras,
            client,
            mqtt,
            connected: false,
            pending: Vec::new(),
            outbox: std::collections::VecDeque::new(),
            switched: mpsc::unbounded_channel(),
            panel: mpsc::unbounded_channel(),
            armed,
        }
    }

    /// Arms or disarms: stored first, then said.
    fn set_armed(&mut self, state: ArmState) {
        if let Err(err) = self.store.set_armed(state) {
            tracing::error!(site = %self.spec.id, "the armed state could not be stored: {err}");
        }
        self.spec.armed = state;
        self.armed.send_replace(state);
        self.publish_status();
    }

    /// The site's status, with the event stream's head and the site's clock.
    fn status(&self, state: LinkState) -> Vec<u8> {
        let head = (self.store.head(), self.config.clock_ms());
        status_payload(&self.spec, &self.cameras, state, Some(head))
    }

    fn publish(&self, topic: String, payload: Vec<u8>) {
        if let Err(err) = self.client.try_publish(topic, QoS::AtLeastOnce, true, payload) {
            tracing::warn!(site = %self.spec.id, "could not queue a publish: {err}");
        }
    }

    fn publish_status(&self) {
        if self.connected {
            self.publish(topics::status(&self.spec.id), self.status(LinkState::Online));
        }
    }

    /// Sends `payload` to a request's response topic, with its correlation data.
    fn respond(&self, reply: Reply, payload: Vec<u8>) {
        let props = PublishProperties { correlation_data: reply.correlation, ..PublishProperties::default() };
        if let Err(err) =
            self.client.try_publish_with_properties(reply.topic, QoS::AtLeastOnce, false, payload, props)
        {
            tracing::warn!(site = %self.spec.id, "could not queue a response: {err}");
        }
    }

    fn answer(&self, reply: Reply, answer: &Response) {
        self.respond(reply, protocol::encode(answer));
    }

    /// Everything retained, as on every connection.
    fn publish_all(&self) {
        let id = &self.spec.id;
        self.publish(topics::catalog(id), protocol::encode(&self.spec.catalog));
        self.publish(topics::status(id), self.status(LinkState::Online));
        let since = now_ms();
        for (output, value) in &self.spec.outputs {
            let state = OutputState { v: protocol::VERSION, state: *value, since: Some(since), by: None };
            self.publish(topics::output_state(id, output), protocol::encode(&state));
        }
        for (user, role) in &self.config.roles {
            self.publish(
                topics::role(id, user),
                protocol::encode(&RoleGrant { v: protocol::VERSION, role: *role }),
            );
        }
    }

    /// Numbers and commits what is pending; it goes out once committed. A store that
    /// fails keeps it pending, to be tried again.
    fn commit_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let site = self.spec.id.clone();
        let items = self.pending.iter().cloned().map(|p| {
            let site = site.clone();
            move |epoch: u64, seq: u64| match p {
                Pending::Alert(a, time) => EventBody::Alert(Alert {
                    id: format!("{site}-{epoch}-{seq}"),
                    time,
                    kind: a.kind,
                    zone: a.zone,
                    title: a.title,
                    cameras: a.cameras,
                    snapshot: a.snapshot,
                }),
                Pending::Update(u) => EventBody::AlertUpdate(u),
            }
        });
        match self.store.append(items, now_ms()) {
            Ok(payloads) => {
                self.pending.clear();
                self.outbox.extend(payloads);
            }
            Err(err) => tracing::error!(site = %site, "events wait, not yet stored: {err}"),
        }
    }

    fn flush_outbox(&mut self) {
        while self.connected
            && let Some(payload) = self.outbox.front()
        {
            if self
                .client
                .try_publish(topics::events(&self.spec.id), QoS::AtLeastOnce, false, payload.clone())
                .is_err()
            {
                break;
            }
            self.outbox.pop_front();
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<Stop>, mut inputs: mpsc::UnboundedReceiver<Input>) {
        let heartbeat = self
            .config
            .heartbeat
            .unwrap_or_else(|| Duration::from_secs(u64::from(self.spec.catalog.supervision_s) / 3));
        let mut beat = tokio::time::interval(heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.commit_pending();
            self.flush_outbox();
            tokio::select! {
                _ = stop.changed() => break,
                Some(input) = inputs.recv() => {
                    self.on_input(input);
                    // Whatever else has come: committed together.
                    while let Ok(input) = inputs.try_recv() {
                        self.on_input(input);
                    }
                }
                _ = beat.tick(), if self.connected => self.publish_status(),
                Some(s) = self.switched.1.recv() => self.on_switched(s),
                Some(a) = self.panel.1.recv() => self.on_armed(a),
                event = self.mqtt.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!(site = %self.spec.id, "site connected");
                        self.connected = true;
                        self.publish_all();
                        let inputs = topics::site_inputs(&self.spec.id).into_iter().chain([topics::role(&self.spec.id, "+")]);
                        if let Err(err) = self.client.try_subscribe_many(inputs.map(|t| Filter::new(t, QoS::AtLeastOnce))) {
                            tracing::warn!(site = %self.spec.id, "could not subscribe to its users' topics: {err}");
                        }
                        beat.reset();
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => self.on_publish(&p),
                    Ok(_) => {}
                    Err(err) => {
                        self.connected = false;
                        tracing::debug!(site = %self.spec.id, "site connection: {err}");
                        tokio::select! {
                            _ = stop.changed() => break,
                            () = tokio::time::sleep(Duration::from_millis(500)) => {}
                        }
                    }
                }
            }
        }
        self.commit_pending();
        if self.connected {
            self.flush_outbox();
            self.publish(topics::status(&self.spec.id), self.status(LinkState::Offline));
            let _ = self.client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(ev) = self.mqtt.poll().await {
                    if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Alert(alert) => self.pending.push(Pending::Alert(alert, now_ms())),
            Input::Output { id, value } => {
                if !self.spec.catalog.outputs.iter().any(|o| o.id == id) {
                    tracing::warn!(site = %self.spec.id, output = %id, "a device reported an output the catalog does not list");
                    return;
                }
                self.spec.outputs.insert(id.clone(), value);
                let state =
                    OutputState { v: protocol::VERSION, state: value, since: Some(now_ms()), by: None };
                self.publish(topics::output_state(&self.spec.id, &id), protocol::encode(&state));
            }
            Input::Armed(state) => self.set_armed(state),
            Input::CameraHealth { id, health } => {
                if let Some(h) = self.cameras.get_mut(&id) {
                    *h = health;
                    self.publish_status();
                } else {
                    tracing::warn!(site = %self.spec.id, camera = %id, "a device reported a camera the catalog does not list");
                }
            }
        }
    }

    fn role_of(&self, user: &str) -> Option<Role> {
        self.config.roles.get(user).copied()
    }

    fn on_publish(&mut self, p: &Publish) {
        let site = self.spec.id.clone();
        let topic = String::from_utf8_lossy(&p.topic).into_owned();
        if p.payload.len() > protocol::MAX_PAYLOAD_BYTES {
            tracing::warn!(site = %site, "ignored a message of {} bytes, over the payload limit", p.payload.len());
            return;
        }
        if let Some(user) = topic.strip_prefix(&topics::role(&site, "")) {
            // A retained role the table does not give: put it right.
            let held = match protocol::decode(&topic, &p.payload) {
                Ok(protocol::Message::Role { grant, .. }) => Some(grant.role),
                _ => None,
            };
            let wanted = self.role_of(user);
            if held != wanted && !(held.is_none() && p.payload.is_empty()) {
                let payload = wanted.map_or_else(Vec::new, |role| {
                    protocol::encode(&RoleGrant { v: protocol::VERSION, role })
                });
                self.publish(topic.clone(), payload);
            }
            return;
        }
        if let Some(user) = topic.strip_prefix(&topics::ack(&site, "")) {
            self.on_ack(user, &p.payload);
            return;
        }
        let props = p.properties.clone().unwrap_or_default();
        // A response goes only to the asking user's own tree, at this site's level: never
        // to another user or site, never into this site's topics.
        let asker = topic.rsplit('/').next().unwrap_or_default().to_owned();
        let Some(response_topic) = props.response_topic.clone() else {
            tracing::warn!(site = %site, user = %asker, "ignored a request without a response topic");
            return;
        };
        if !topics::is_response_topic_of(&response_topic, &asker, &site) {
            tracing::warn!(site = %site, user = %asker, "dropped a request that names a response topic not its own");
            return;
        }
        let reply = Reply { topic: response_topic, correlation: props.correlation_data.clone() };
        if topic.starts_with(&topics::replay(&site, "")) {
            self.on_replay(&asker, &p.payload, reply);
            return;
        }
        let Some((class, user)) = topics::command_topic(&topic, &site) else {
            tracing::warn!(site = %site, "ignored a message on a topic it does not serve");
            return;
        };
        let (class, user) = (class.map(str::to_owned), user.to_owned());
        self.on_command(&user, class.as_deref(), &p.payload, props.message_expiry_interval == Some(0), reply);
    }

    fn on_ack(&mut self, user: &str, payload: &[u8]) {
        let site = &self.spec.id;
        if !self.role_of(user).is_some_and(|r| r.may(Permission::Acknowledge)) {
            tracing::warn!(site = %site, %user, "ignored an acknowledgement from a user whose role here does not allow it");
            return;
        }
        // An acknowledgement becomes an alert update in the stream, for every client to
        // see who handled it.
        match protocol::command::decode_ack(payload) {
            Ok(ack) if self.store.holds_alert(&ack.alert_id) => {
                self.pending.push(Pending::Update(AlertUpdate {
                    alert_id: ack.alert_id,
                    by: user.to_owned(),
                    at: now_ms(),
                    note: ack.note,
                }))
            }
            Ok(_) => {
                tracing::warn!(site = %site, %user, "ignored an acknowledgement of no alert this site holds")
            }
            Err(err) => tracing::warn!(site = %site, %user, "ignored a bad acknowledgement: {err}"),
        }
    }

    fn on_replay(&self, user: &str, payload: &[u8], reply: Reply) {
        let site = &self.spec.id;
        if self.role_of(user).is_none() {
            tracing::warn!(site = %site, %user, "ignored a replay request from a user with no role here");
            return;
        }
        let req = match recovery::decode_request(payload) {
            Ok(req) => req,
            Err(err) => {
                tracing::warn!(site = %site, %user, "ignored a bad replay request: {err}");
                return;
            }
        };
        match self.store.replay(&req) {
            Ok(answer) => self.respond(reply, protocol::encode(&answer)),
            Err(err) => tracing::error!(site = %site, "could not read the events to replay: {err}"),
        }
    }

    /// Settles a request: its outcome in the command log and among the remembered
    /// answers, then the answer to the asker.
    fn settle(&mut self, user: &str, reply: Reply, answer: &Response) {
        if let Err(err) = self.store.settle(user, &answer.request_id, answer) {
            tracing::error!(site = %self.spec.id, "the command log could not record an outcome: {err}");
        }
        self.answer(reply, answer);
    }

    fn on_command(&mut self, user: &str, class: Option<&str>, payload: &[u8], expired: bool, reply: Reply) {
        let site = self.spec.id.clone();
        let req = match protocol::command::decode_request(payload) {
            Ok(req) => req,
            Err(err) => {
                tracing::warn!(site = %site, %user, "ignored a bad command: {err}");
                return;
            }
        };
        let id = req.request_id.clone();
        match self.store.answered(user, &id, now_ms()) {
            Ok(Some(Some(answer))) => {
                // A redelivery: the same answer, nothing done again.
                if let Ok(answer) = protocol::command::decode_response(&answer) {
                    self.answer(reply, &answer);
                }
                return;
            }
            // Still being carried out: its answer follows.
            Ok(Some(None)) => return,
            Ok(None) => {}
            Err(err) => {
                // Unable to tell a redelivery from a new request: do nothing rather than
                // twice.
                tracing::error!(site = %site, "could not check a request against those answered: {err}");
                return;
            }
        }
        let target = match (&req.target.site, &req.target.output) {
            (Some(true), _) => "site".to_owned(),
            (_, Some(o)) => format!("output:{o}"),
            _ => "none".to_owned(),
        };
        let record = CommandRecord {
            at_ms: now_ms(),
            user: user.to_owned(),
            class: class.map(str::to_owned),
            request_id: id.clone(),
            target,
            action: req.action.clone(),
            outcome: None,
            message: None,
        };
        if let Err(err) = self.store.receive(&record) {
            // A command that cannot be recorded is not carried out.
            tracing::error!(site = %site, "the command log could not record a command: {err}");
            self.answer(
                reply,
                &Response::new(&id, "failed", None, Some("the site could not record the command")),
            );
            return;
        }
        if expired {
            // Too late to act on: say so, do nothing.
            self.settle(user, reply, &Response::new(&id, "expired", None, None));
            return;
        }
        let asker = Asker { user, class, role: self.role_of(user) };
        match command::decide(&asker, &req, &self.spec.catalog) {
            Decision::Deny(why) => {
                tracing::info!(site = %site, %user, request = %id, "denied: {why}");
                self.settle(user, reply, &Response::new(&id, "denied", None, Some(&why)));
            }
            Decision::Arm(state) => {
                if let Some(why) = command::too_late(&req, self.config.clock_ms(), Duration::ZERO) {
                    self.settle(user, reply, &Response::new(&id, "expired", None, Some(why)));
                    return;
                }
                let Some(arming) = self.outputs.arm(state) else {
                    self.set_armed(state);
                    self.settle(user, reply, &Response::new(&id, "done", Some(arm_word(state)), None));
                    return;
                };
                let tx = self.panel.0.clone();
                let user = user.to_owned();
                tokio::spawn(async move {
                    let result = arming.await;
                    let _ = tx.send(Armed { user, request_id: id, state, result, reply });
                });
            }
            Decision::Output { output, value, revert_after } => {
                let takes = self.outputs.takes(&output);
                if let Some(why) = command::too_late(&req, self.config.clock_ms(), takes) {
                    self.settle(user, reply, &Response::new(&id, "expired", None, Some(why)));
                    return;
                }
                self.switch(Switched {
                    user: user.to_owned(),
                    request_id: Some(id),
                    output,
                    value,
                    result: Ok(()),
                    reply: Some(reply),
                    revert_after,
                });
            }
        }
    }

    /// Has the hardware switch, and reports back when it has.
    fn switch(&self, mut s: Switched) {
        let doing = self.outputs.switch(&s.output, s.value);
        let tx = self.switched.0.clone();
        tokio::spawn(async move {
            s.result = doing.await;
            let _ = tx.send(s);
        });
    }

    fn on_armed(&mut self, a: Armed) {
        match a.result {
            Ok(()) => {
                self.set_armed(a.state);
                self.settle(
                    &a.user,
                    a.reply,
                    &Response::new(&a.request_id, "done", Some(arm_word(a.state)), None),
                );
            }
            Err(why) => {
                tracing::warn!(site = %self.spec.id, "the alarm panel did not take {}: {why}", arm_word(a.state));
                let now = arm_word(self.spec.armed);
                self.settle(&a.user, a.reply, &Response::new(&a.request_id, "failed", Some(now), Some(&why)));
            }
        }
    }

    fn on_switched(&mut self, s: Switched) {
        let site = self.spec.id.clone();
        let Switched { user, request_id, output, value, result, reply, revert_after } = s;
        match result {
            Ok(()) => {
                self.spec.outputs.insert(output.id.clone(), value);
                let state = OutputState {
                    v: protocol::VERSION,
                    state: value,
                    since: Some(now_ms()),
                    by: Some(user.clone()),
                };
                self.publish(topics::output_state(&site, &output.id), protocol::encode(&state));
                if let (Some(id), Some(reply)) = (&request_id, reply) {
                    self.settle(&user, reply, &Response::new(id, "done", Some(value_word(value)), None));
                }
                if let Some((after, back)) = revert_after {
                    // A pulse: switch back by itself, in the same user's name.
                    let tx = self.switched.0.clone();
                    let outputs = Arc::clone(&self.outputs);
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let result = outputs.switch(&output, back).await;
                        let s = Switched {
                            user,
                            request_id: None,
                            output,
                            value: back,
                            result,
                            reply: None,
                            revert_after: None,
                        };
                        let _ = tx.send(s);
                    });
                }
            }
            Err(why) => {
                tracing::warn!(site = %site, output = %output.id, "an output did not switch: {why}");
                if let (Some(id), Some(reply)) = (&request_id, reply) {
                    let now = self.spec.outputs.get(&output.id).map(|v| value_word(*v));
                    self.settle(&user, reply, &Response::new(id, "failed", now, Some(&why)));
                }
            }
        }
    }
}
