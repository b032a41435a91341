//! One simulated site on the bus, as an alarm controller would run it: on every connection
//! it publishes its catalog, its status, its output states and the role of each user of
//! its roles table (all retained), then a status heartbeat; its Last Will marks it offline
//! when it vanishes. It enforces its roles table on every command, acknowledgement and
//! replay request.

use crate::control::{Asker, Effect, Executor};
use mimamori_core::bus::BrokerAddress;
use mimamori_core::secret::Secret;
use mimamori_core::time::now_ms;
use mimamori_protocol::event::{self, Alert, AlertKind, AlertUpdate, EventBody};
use mimamori_protocol::recovery;
use mimamori_protocol::role::{Permission, Role, RoleGrant};
use mimamori_protocol::{
    self as protocol, ArmState, Catalog, EventsHead, LinkState, OutputState, OutputValue, Status, topics,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, LastWill, Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::watch;

/// What a simulated site is: its catalog and the initial state of its outputs.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    pub id: String,
    pub catalog: Catalog,
    pub outputs: BTreeMap<String, OutputValue>,
    pub armed: ArmState,
}

/// How a simulated site reaches its broker.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub broker: BrokerAddress,
    /// Broker user; `None` means `site-{id}`.
    pub user: Option<String>,
    pub password: Option<Secret<String>>,
    /// Interval between status heartbeats; `None` means a third of the supervision time.
    pub heartbeat: Option<Duration>,
    /// Raise an example alert this often (the demo's "something happens now and then").
    pub alert_every: Option<Duration>,
    /// Outputs that fail every command, like broken hardware.
    pub broken_outputs: Vec<String>,
    /// How many recent events the site keeps for replay (the protocol asks for at least
    /// 10,000; tests make it small to show what is lost beyond it).
    pub replay_window: usize,
    /// The site's clock against this machine's, in ms (a controller whose clock is off).
    pub clock_offset_ms: i64,
    /// Whether the site trusts its clock (say, set by NTP); without it, it sends no time
    /// in its status and executes no command that carries a deadline.
    pub clock_trusted: bool,
    /// The site's roles table: user → role here (`RoleTable::roles_at`). Anyone not in it
    /// can do nothing at this site; empty, the site refuses every command.
    pub roles: BTreeMap<String, Role>,
}

impl SimConfig {
    pub fn new(broker: BrokerAddress) -> Self {
        SimConfig {
            broker,
            user: None,
            password: None,
            heartbeat: None,
            alert_every: None,
            broken_outputs: Vec::new(),
            replay_window: 10_000,
            clock_offset_ms: 0,
            clock_trusted: true,
            roles: BTreeMap::new(),
        }
    }

    /// This config, with `user` given `role` in the site's roles table.
    #[must_use]
    pub fn grant(mut self, user: &str, role: Role) -> Self {
        self.roles.insert(user.to_owned(), role);
        self
    }
}

impl SimConfig {
    /// The site's clock (ms since the Unix epoch), if it trusts it.
    fn clock_ms(&self) -> Option<u64> {
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        self.clock_trusted.then(|| u64::try_from(now.saturating_add(self.clock_offset_ms)).unwrap_or(0))
    }
}

/// The site's status; `clock` its time, when it trusts its clock.
fn status_payload(
    spec: &SiteSpec,
    state: LinkState,
    events: Option<EventsHead>,
    clock: Option<u64>,
) -> Vec<u8> {
    protocol::encode(&Status {
        v: protocol::VERSION,
        state,
        time: clock,
        armed: Some(spec.armed),
        cameras: spec.catalog.cameras.iter().map(|c| (c.id.clone(), protocol::CameraHealth::Ok)).collect(),
        events,
    })
}

/// The site's numbered event stream: a new epoch per run, numbered from 1; events wait in
/// the outbox until the client's queue takes them, and the last `window` of them are kept
/// for replay.
struct Stream {
    epoch: u64,
    seq: u64,
    window: usize,
    /// (seq, payload as published), oldest first, contiguous.
    history: VecDeque<(u64, Vec<u8>)>,
    outbox: VecDeque<Vec<u8>>,
}

impl Stream {
    fn new(window: usize) -> Stream {
        Stream {
            epoch: now_ms(),
            seq: 0,
            window: window.max(1),
            history: VecDeque::new(),
            outbox: VecDeque::new(),
        }
    }

    fn head(&self) -> EventsHead {
        EventsHead { epoch: self.epoch, last_seq: self.seq }
    }

    /// Numbers and publishes an event; one that clients would refuse (a note with control
    /// characters, say) is not published at all, since it would leave a gap nobody fills.
    fn push(&mut self, body: EventBody) -> bool {
        let payload = event::encode(&event::Event { epoch: self.epoch, seq: self.seq + 1, body });
        if let Err(err) = event::decode(&payload) {
            tracing::warn!("the simulated site refused to publish an invalid event: {err}");
            return false;
        }
        self.seq += 1;
        if self.history.len() == self.window {
            self.history.pop_front();
        }
        self.history.push_back((self.seq, payload.clone()));
        self.outbox.push_back(payload);
        true
    }

    /// Whether an alert id is one of the events still held.
    fn holds_alert(&self, id: &str) -> bool {
        self.history.iter().any(|(_, p)| {
            event::decode(p).is_ok_and(|e| matches!(&e.body, EventBody::Alert(a) if a.id == id))
        })
    }

    /// The answer to a replay request: what is still held of the range, what is gone, and
    /// where to ask again when the answer had to be cut to fit the payload limit.
    fn replay(&self, req: &recovery::Request) -> recovery::Response {
        let mut r = recovery::Response {
            v: protocol::VERSION,
            request_id: req.request_id.clone(),
            outcome: "done".into(),
            epoch: req.epoch,
            events: Vec::new(),
            gone: None,
            next_seq: None,
        };
        if req.epoch != self.epoch {
            // A run this controller no longer knows anything of.
            r.gone = Some(recovery::Gone { from_seq: req.from_seq, to_seq: None });
            return r;
        }
        let to = req.to_seq.unwrap_or(self.seq).min(self.seq);
        let oldest = self.history.front().map_or(self.seq + 1, |(s, _)| *s);
        if req.from_seq < oldest && req.from_seq <= to {
            r.gone = Some(recovery::Gone { from_seq: req.from_seq, to_seq: Some(to.min(oldest - 1)) });
        }
        let from = req.from_seq.max(oldest);
        let mut size = 1024; // the envelope, generously
        for seq in from..=to {
            let Some((_, payload)) = usize::try_from(seq - oldest).ok().and_then(|i| self.history.get(i))
            else {
                break;
            };
            if size + payload.len() + 1 > protocol::MAX_PAYLOAD_BYTES {
                r.next_seq = Some(seq);
                break;
            }
            size += payload.len() + 1;
            r.events.push(serde_json::from_slice(payload).unwrap_or_default());
        }
        r
    }
}

/// A running simulated site.
pub struct SimSite {
    id: String,
    stop: watch::Sender<Stop>,
    alerts: mpsc::UnboundedSender<SimAlert>,
    task: tokio::task::JoinHandle<()>,
}

/// An alert for a simulated site to raise; the site numbers it in its event stream.
#[derive(Debug, Clone)]
pub struct SimAlert {
    pub kind: AlertKind,
    pub zone: Option<String>,
    pub title: String,
    pub cameras: Vec<String>,
    /// A JPEG of the moment (at most 32 KiB, or clients refuse the event).
    pub snapshot: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Run,
    /// Publish "offline" and disconnect cleanly, as a controller shutting down does.
    Graceful,
}

impl SimSite {
    /// Connects and starts publishing on the current Tokio runtime.
    pub fn start(spec: SiteSpec, config: SimConfig) -> SimSite {
        let (stop, stop_rx) = watch::channel(Stop::Run);
        let (alerts, alerts_rx) = mpsc::unbounded_channel();
        let id = spec.id.clone();
        let task = tokio::spawn(run(spec, config, stop_rx, (alerts.clone(), alerts_rx)));
        SimSite { id, stop, alerts, task }
    }

    /// Raises an alert: it goes out as the next event of this site's stream.
    pub fn raise(&self, alert: SimAlert) {
        let _ = self.alerts.send(alert);
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

async fn run(
    spec: SiteSpec,
    config: SimConfig,
    mut stop: watch::Receiver<Stop>,
    (alerts_tx_for_examples, mut alerts): (
        mpsc::UnboundedSender<SimAlert>,
        mpsc::UnboundedReceiver<SimAlert>,
    ),
) {
    let user = config.user.clone().unwrap_or_else(|| format!("site-{}", spec.id));
    let mut opts = MqttOptions::new(format!("site-{}", spec.id), &config.broker.host, config.broker.port);
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_clean_start(true);
    let password = config.password.as_ref().map_or("", |p| p.expose().as_str());
    opts.set_credentials(user, password);
    opts.set_last_will(LastWill::new(
        topics::status(&spec.id),
        status_payload(&spec, LinkState::Offline, None, None),
        QoS::AtLeastOnce,
        true,
        None,
    ));
    let (client, mut events) = AsyncClient::new(opts, 256);
    let heartbeat =
        config.heartbeat.unwrap_or_else(|| Duration::from_secs(u64::from(spec.catalog.supervision_s) / 3));
    let mut beat = tokio::time::interval(heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connected = false;
    let mut stream = Stream::new(config.replay_window);
    let mut examples = tokio::time::interval(config.alert_every.unwrap_or(Duration::from_secs(3600)));
    examples.reset(); // the first one after a full period, not at start
    let mut example_count = 0;
    // Commands change the site: its outputs and armed state live in `spec` from here on.
    // It keeps its own roles table, and says so.
    let mut spec = spec;
    spec.catalog.role_table = true;
    let mut executor = Executor::default();
    executor.broken.clone_from(&config.broken_outputs);
    let (done_tx, mut done) = mpsc::unbounded_channel::<Done>();
    // Every user's inputs, and the retained roles (to clear any the table no longer has).
    let inputs: Vec<String> =
        topics::site_inputs(&spec.id).into_iter().chain([topics::role(&spec.id, "+")]).collect();
    let [acks, replays, roles] =
        [topics::ack(&spec.id, ""), topics::replay(&spec.id, ""), topics::role(&spec.id, "")];
    loop {
        while connected && let Some(payload) = stream.outbox.front() {
            if client.try_publish(topics::events(&spec.id), QoS::AtLeastOnce, false, payload.clone()).is_err()
            {
                break;
            }
            stream.outbox.pop_front();
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = examples.tick(), if config.alert_every.is_some() => {
                example_count += 1;
                let _ = alerts_tx_for_examples.send(example_alert(&spec, example_count));
            }
            Some(alert) = alerts.recv() => {
                let id = format!("{}-{}-{}", spec.id, stream.epoch, stream.seq + 1);
                stream.push(EventBody::Alert(Alert {
                    id,
                    time: now_ms(),
                    kind: alert.kind,
                    zone: alert.zone,
                    title: alert.title,
                    cameras: alert.cameras,
                    snapshot: alert.snapshot,
                }));
            }
            _ = beat.tick(), if connected => {
                publish(&client, topics::status(&spec.id), status_payload(&spec, LinkState::Online, Some(stream.head()), config.clock_ms()));
            }
            Some(d) = done.recv() => {
                // A command's effect, now that the hardware has moved.
                spec.outputs.insert(d.output.clone(), d.value);
                let state = OutputState { v: protocol::VERSION, state: d.value, since: Some(now_ms()), by: Some(d.by.clone()) };
                publish(&client, topics::output_state(&spec.id, &d.output), protocol::encode(&state));
                if let Some(reply) = d.reply {
                    answer(&client, reply);
                }
            }
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(site = %spec.id, "simulated site connected");
                    connected = true;
                    publish_all(&client, &spec, stream.head(), config.clock_ms());
                    for (user, role) in &config.roles {
                        publish(&client, topics::role(&spec.id, user), protocol::encode(&RoleGrant { v: protocol::VERSION, role: *role }));
                    }
                    let filters = inputs.iter().map(|t| Filter::new(t, QoS::AtLeastOnce));
                    if let Err(err) = client.try_subscribe_many(filters) {
                        tracing::warn!("simulated site could not subscribe to its users' topics: {err}");
                    }
                    beat.reset();
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let topic = String::from_utf8_lossy(&p.topic).into_owned();
                    if let Some(user) = topic.strip_prefix(&roles) {
                        // A retained role the table does not give: put it right.
                        let held = protocol::decode(&topic, &p.payload).ok().and_then(|m| match m {
                            protocol::Message::Role { grant, .. } => Some(grant.role),
                            _ => None,
                        });
                        let wanted = config.roles.get(user).copied();
                        if held != wanted && !(held.is_none() && p.payload.is_empty()) {
                            let payload = wanted.map_or_else(Vec::new, |role| protocol::encode(&RoleGrant { v: protocol::VERSION, role }));
                            publish(&client, topic.clone(), payload);
                        }
                        continue;
                    }
                    let role_of = |user: &str| config.roles.get(user).copied();
                    if let Some(user) = topic.strip_prefix(&acks) {
                        if !role_of(user).is_some_and(|r| r.may(Permission::Acknowledge)) {
                            tracing::warn!(site = %spec.id, %user, "ignored an acknowledgement from a user whose role here does not allow it");
                            continue;
                        }
                        // An acknowledgement becomes an alert update in the stream, for
                        // every client to see who handled it.
                        match decode_ack(&p.payload) {
                            Some((alert_id, note)) if stream.holds_alert(&alert_id) => {
                                stream.push(EventBody::AlertUpdate(AlertUpdate { alert_id, by: user.to_owned(), at: now_ms(), note }));
                            }
                            _ => tracing::warn!(site = %spec.id, "ignored an acknowledgement of no known alert"),
                        }
                        continue;
                    }
                    let props = p.properties.clone().unwrap_or_default();
                    // A response goes only to the asking user's own tree, at this site's
                    // level: never to another user or site, never into this site's topics.
                    let asker = topic.rsplit('/').next().unwrap_or_default();
                    let answerable = props.response_topic.clone().filter(|t| topics::is_response_topic_of(t, asker, &spec.id));
                    if props.response_topic.is_some() && answerable.is_none() {
                        tracing::warn!(site = %spec.id, user = %asker, "dropped a request that names a response topic not its own");
                        continue;
                    }
                    if topic.starts_with(&replays) {
                        let Some(response_topic) = answerable else { continue };
                        if role_of(asker).is_none() {
                            tracing::warn!(site = %spec.id, user = %asker, "ignored a replay request from a user with no role here");
                            continue;
                        }
                        match recovery::decode_request(&p.payload) {
                            Ok(req) => {
                                let r = Reply { topic: response_topic, correlation: props.correlation_data.clone(), answer: protocol::encode(&stream.replay(&req)) };
                                answer(&client, r);
                            }
                            Err(err) => tracing::warn!(site = %spec.id, "ignored a bad replay request: {err}"),
                        }
                        continue;
                    }
                    let Some((class, user)) = topics::command_topic(&topic, &spec.id) else { continue };
                    let Some(response_topic) = answerable else { continue };
                    let reply = |answer: Vec<u8>| Reply { topic: response_topic.clone(), correlation: props.correlation_data.clone(), answer };
                    if props.message_expiry_interval == Some(0) {
                        // Too late to act on: say so, do nothing.
                        let id = serde_json::from_slice::<serde_json::Value>(&p.payload).ok().and_then(|v| v["request_id"].as_str().map(str::to_owned)).unwrap_or_default();
                        answer(&client, reply(crate::control::response(&id, "expired", None, None)));
                        continue;
                    }
                    let who = Asker { user, class, role: role_of(user) };
                    match executor.execute(&who, &p.payload, &spec.catalog, &spec.outputs, config.clock_ms()) {
                        Effect::Ignore => {}
                        Effect::Answer(a) => answer(&client, reply(a)),
                        Effect::Arm { state, answer: a } => {
                            spec.armed = state;
                            publish(&client, topics::status(&spec.id), status_payload(&spec, LinkState::Online, Some(stream.head()), config.clock_ms()));
                            answer(&client, reply(a));
                        }
                        Effect::Output { output, value, delay, revert_after, answer: a } => {
                            let tx = done_tx.clone();
                            let by = user.to_owned();
                            let r = reply(a);
                            tokio::spawn(async move {
                                tokio::time::sleep(delay).await;
                                let _ = tx.send(Done { output: output.clone(), value, by: by.clone(), reply: Some(r) });
                                if let Some((after, back)) = revert_after {
                                    tokio::time::sleep(after).await;
                                    let _ = tx.send(Done { output, value: back, by, reply: None });
                                }
                            });
                        }
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    connected = false;
                    tracing::debug!(site = %spec.id, "simulated site connection: {err}");
                    tokio::select! {
                        _ = stop.changed() => break,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }
    if connected {
        publish(
            &client,
            topics::status(&spec.id),
            status_payload(&spec, LinkState::Offline, Some(stream.head()), config.clock_ms()),
        );
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(ev) = events.poll().await {
                if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// An output change that is due, and the answer to send with it.
struct Done {
    output: String,
    value: OutputValue,
    by: String,
    reply: Option<Reply>,
}

/// A response to a command, to its response topic with its correlation data.
struct Reply {
    topic: String,
    correlation: Option<bytes::Bytes>,
    answer: Vec<u8>,
}

fn answer(client: &AsyncClient, reply: Reply) {
    let props = PublishProperties { correlation_data: reply.correlation, ..PublishProperties::default() };
    if let Err(err) =
        client.try_publish_with_properties(reply.topic, QoS::AtLeastOnce, false, reply.answer, props)
    {
        tracing::warn!("simulated site could not queue a response: {err}");
    }
}

fn publish(client: &AsyncClient, topic: String, payload: Vec<u8>) {
    if let Err(err) = client.try_publish(topic, QoS::AtLeastOnce, true, payload) {
        tracing::warn!("simulated site could not queue a publish: {err}");
    }
}

/// An acknowledgement's alert id and note, if it is well formed.
fn decode_ack(payload: &[u8]) -> Option<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Ack {
        v: u32,
        alert_id: String,
        #[serde(default)]
        note: Option<String>,
    }
    let ack: Ack = serde_json::from_slice(payload).ok()?;
    (ack.v == protocol::VERSION && payload.len() <= protocol::MAX_PAYLOAD_BYTES)
        .then_some((ack.alert_id, ack.note))
}

fn publish_all(client: &AsyncClient, spec: &SiteSpec, head: EventsHead, clock: Option<u64>) {
    publish(client, topics::catalog(&spec.id), protocol::encode(&spec.catalog));
    publish(client, topics::status(&spec.id), status_payload(spec, LinkState::Online, Some(head), clock));
    let since = now_ms();
    for (output, value) in &spec.outputs {
        let state = OutputState { v: protocol::VERSION, state: *value, since: Some(since), by: None };
        publish(client, topics::output_state(&spec.id, output), protocol::encode(&state));
    }
}

/// An alert such a site would raise: door, intrusion, tamper and sensor in turn, at one of
/// its cameras (and that camera's zone). An intrusion carries the camera's picture of the
/// moment, as a controller with a camera link would send it.
pub fn example_alert(spec: &SiteSpec, n: u64) -> SimAlert {
    let cameras = &spec.catalog.cameras;
    let camera = usize::try_from(n)
        .ok()
        .filter(|_| !cameras.is_empty())
        .map(|n| cameras[n % cameras.len()].id.clone());
    let kind = match n % 4 {
        0 => AlertKind::Door,
        1 => AlertKind::Intrusion,
        2 => AlertKind::Tamper,
        _ => AlertKind::Sensor,
    };
    alert_at(spec, kind, camera.as_deref()).unwrap_or_else(|_| SimAlert {
        kind,
        zone: None,
        title: spec.catalog.name.clone(),
        cameras: Vec::new(),
        snapshot: None,
    })
}

/// An alert of `kind` at `camera` of the site (or the site as a whole): titled with the
/// camera's name, in its zone; an intrusion with the camera's picture of the moment.
pub fn alert_at(spec: &SiteSpec, kind: AlertKind, camera: Option<&str>) -> Result<SimAlert, String> {
    let camera = match camera {
        None => None,
        Some(id) => Some(
            spec.catalog
                .cameras
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| format!("no camera `{id}` at {}", spec.id))?,
        ),
    };
    let place = camera.map_or(spec.catalog.name.as_str(), |c| c.name.as_str());
    let what = match kind {
        AlertKind::Door => "扉開放",
        AlertKind::Intrusion => "侵入検知",
        AlertKind::Tamper => "いたずら検知",
        AlertKind::Sensor => "センサー電池残量低下",
        AlertKind::Fire => "火災検知",
        AlertKind::Panic => "非常ボタン",
        AlertKind::CameraOffline => "映像断",
        AlertKind::System => "電源異常",
        AlertKind::LinkFailure => return Err("link_failure is raised by clients, not sites".into()),
    };
    let snapshot = camera
        .filter(|_| kind == AlertKind::Intrusion)
        .map(|c| crate::camera::scene::still(&format!("{}/{}", spec.id, c.id), 320, 176, 15, now_ms()));
    Ok(SimAlert {
        kind,
        zone: camera.and_then(|c| c.zone.clone()),
        title: format!("{place} {what}"),
        cameras: camera.map(|c| vec![c.id.clone()]).unwrap_or_default(),
        snapshot: snapshot.filter(|s| s.len() <= event::MAX_SNAPSHOT_BYTES),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_alerts_take_turns_and_name_a_real_camera() {
        let spec = crate::demo::site("warehouse").unwrap();
        let kinds: Vec<AlertKind> = (1..=4).map(|n| example_alert(&spec, n).kind).collect();
        assert_eq!(kinds, [AlertKind::Intrusion, AlertKind::Tamper, AlertKind::Sensor, AlertKind::Door]);
        let a = example_alert(&spec, 5);
        let camera = spec.catalog.cameras.iter().find(|c| c.id == a.cameras[0]).unwrap();
        assert_eq!(a.zone, camera.zone);
        assert!(a.title.starts_with(&camera.name));
        assert!(
            a.snapshot.is_some_and(|s| s.starts_with(&[0xff, 0xd8])),
            "an intrusion comes with a picture"
        );
    }

    #[test]
    fn alerts_on_demand_name_their_camera_or_say_what_is_wrong() {
        let spec = crate::demo::site("hq").unwrap();
        let fire = alert_at(&spec, AlertKind::Fire, Some("entrance")).unwrap();
        assert_eq!((fire.title.as_str(), fire.zone.as_deref()), ("正面玄関 火災検知", Some("lobby")));
        assert!(fire.snapshot.is_none());
        assert_eq!(alert_at(&spec, AlertKind::System, None).unwrap().title, "本社 電源異常");
        assert!(alert_at(&spec, AlertKind::Door, Some("nowhere")).is_err());
        assert!(alert_at(&spec, AlertKind::LinkFailure, None).is_err());
    }
}
