//! The MQTT 5 connection task behind [`super::Bus`]: connect with a persistent session,
//! subscribe to the enrolled sites, feed every publish to the model, supervise the sites,
//! and reconnect with backoff and jitter when the link drops.

use super::recovery::{Link, Recovery};
use super::{Backoff, BusConfig, BusState, ConnectionPhase, ConnectionProblem, Ingested, Outgoing, Reply};
use crate::inbox::{Inbox, Recorded};
use crate::protocol::{self, topics};
use crate::replay;
use crate::time::now_ms;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode, Filter, Packet, PubAckReason, PublishProperties, SubscribeReasonCode,
};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, StateError};
use rumqttc::{TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// Filters per SUBSCRIBE packet: large enrolments go out in several packets, since brokers
/// cap the size of one.
const FILTERS_PER_SUBSCRIBE: usize = 100;
/// Room for the topic and properties around the largest payload we accept.
const PACKET_OVERHEAD: usize = 4096;

fn options(config: &BusConfig) -> Result<MqttOptions, super::tls::TlsSetupError> {
    let mut o = MqttOptions::new(&config.client_id, &config.broker.host, config.broker.port);
    if config.broker.tls {
        let tls = super::tls::client_config(config.broker_ca.as_deref())?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    // rumqttc asserts a keep-alive of at least 5 s; clamp rather than panic.
    o.set_keep_alive(config.keep_alive.max(Duration::from_secs(5)));
    // Persistent session: the broker queues QoS 1 messages while we are away.
    o.set_clean_start(false);
    o.set_session_expiry_interval(Some(
        u32::try_from(config.session_expiry.as_secs()).unwrap_or(u32::MAX).max(1),
    ));
    // Tells the broker not to send us anything larger: bounded memory per message.
    o.set_max_packet_size(Some(
        u32::try_from(protocol::MAX_PAYLOAD_BYTES + PACKET_OVERHEAD).unwrap_or(u32::MAX),
    ));
    o.set_connection_timeout(5);
    // PUBACK only after an event is committed to the inbox (see `run`).
    o.set_manual_acks(true);
    if let Some(password) = &config.password {
        o.set_credentials(&config.user, password.expose());
    } else {
        o.set_credentials(&config.user, "");
    }
    Ok(o)
}

fn problem(err: &ConnectionError) -> ConnectionProblem {
    match err {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::NotAuthorized
            | ConnectReturnCode::BadUserNamePassword
            | ConnectReturnCode::Banned,
        ) => ConnectionProblem::NotAuthorized,
        ConnectionError::ConnectionRefused(_) => ConnectionProblem::Refused,
        ConnectionError::Timeout(_) => ConnectionProblem::TimedOut,
        // A handshake that rustls refused: the certificate is not the enrolled CA's, expired
        // or for another host. Anything else on the TLS layer is a dropped connection.
        ConnectionError::Tls(rumqttc::TlsError::TLS(_)) => ConnectionProblem::Certificate,
        ConnectionError::Tls(rumqttc::TlsError::Io(e))
            if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            ConnectionProblem::Certificate
        }
        ConnectionError::Tls(_) => ConnectionProblem::Closed,
        ConnectionError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ConnectionProblem::Unreachable
        }
        ConnectionError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => ConnectionProblem::TimedOut,
        ConnectionError::Io(_)
        | ConnectionError::MqttState(
            StateError::Io(_) | StateError::ConnectionAborted | StateError::ServerDisconnect { .. },
        ) => ConnectionProblem::Closed,
        // A TLS stream that ends without close_notify (the broker died) surfaces as a
        // read error inside the packet decoder: the link dropped, nothing malformed.
        ConnectionError::MqttState(StateError::Deserialization(rumqttc::v5::mqttbytes::Error::Io(_))) => {
            ConnectionProblem::Closed
        }
        // No answer to our ping within the keep-alive: the link is dead or black-holed.
        ConnectionError::MqttState(StateError::AwaitPingResp) => ConnectionProblem::TimedOut,
        _ => ConnectionProblem::Protocol,
    }
}

/// Hands a command's response to whoever waits for it.
fn answer_command(state: &BusState, payload: &[u8]) {
    match crate::control::decode_response(payload) {
        Ok(r) => {
            let id = r.request_id.clone();
            if !state.answer(&id, Reply::Response(r)) {
                tracing::debug!(request = %id, "a response nobody waits for (late or duplicate)");
            }
        }
        Err(err) => tracing::warn!("a malformed command response was ignored: {err}"),
    }
}

/// Only the topics this client reads: a site-wide `#` would also bring every user's
/// commands and acknowledgements, which are none of this client's business.
fn subscribe_all(client: &AsyncClient, sites: &[String]) {
    let filters: Vec<String> = sites.iter().flat_map(|s| topics::client_filters(s)).collect();
    for chunk in filters.chunks(FILTERS_PER_SUBSCRIBE) {
        let filters = chunk.iter().map(|f| Filter::new(f, QoS::AtLeastOnce));
        if let Err(err) = client.try_subscribe_many(filters) {
            tracing::error!(%err, "could not queue a subscription");
        }
    }
}

pub(super) async fn run(
    config: BusConfig,
    state: BusState,
    mut stop: watch::Receiver<bool>,
    inbox: Option<Arc<Inbox>>,
) {
    let options = match options(&config) {
        Ok(options) => options,
        Err(err) => {
            tracing::error!("cannot connect securely: {err}");
            state.set_connection(ConnectionPhase::Stopped, 0, Some(ConnectionProblem::Certificate));
            let _ = stop.changed().await;
            return;
        }
    };
    let (client, mut events): (AsyncClient, EventLoop) = AsyncClient::new(options, 64);
    // Commands from the core reach this task through `outgoing`; their PUBACKs are matched
    // by packet id (assigned in order of sending), their responses by request id.
    let (outgoing_tx, mut outgoing) = tokio::sync::mpsc::unbounded_channel::<Outgoing>();
    state.set_outgoing(&config.user, Some(outgoing_tx));
    let responses = topics::responses(&config.user, &config.client_id);
    // (request id, expects a response) of publishes waiting for their packet id, then by id.
    let unnumbered: std::cell::RefCell<std::collections::VecDeque<(String, bool)>> = Default::default();
    let mut by_pkid: std::collections::HashMap<u16, (String, bool)> = std::collections::HashMap::new();
    let mut recovery = Recovery::default();
    let mut recovery_tick = tokio::time::interval(Duration::from_secs(1));
    recovery_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
    let mut ever_connected = false;
    let mut connected = false;
    let mut next_check: Option<Instant> = None;
    let far = || Instant::now() + Duration::from_secs(3600);
    let lang = crate::notify::Lang::from_env();
    loop {
        // What the sites cannot report themselves (offline, silent, a camera gone dark)
        // becomes this device's own alert.
        for trouble in state.take_troubles() {
            let Some(inbox) = &inbox else { continue };
            let site = trouble.site().to_owned();
            let alert = trouble.alert(state.view(&site).as_ref(), lang, now_ms());
            match inbox.record_local(&site, &alert, now_ms()) {
                Ok(_) => state.inbox_changed(site),
                Err(err) => tracing::error!(%site, "the device's own alert was not stored: {err}"),
            }
        }
        tokio::select! {
            _ = stop.changed() => break,
            // Supervision only while connected: a client that cannot hear anybody must not
            // blame the sites for the silence.
            () = sleep_until(next_check.unwrap_or_else(far)), if connected => {
                next_check = state.supervise();
            }
            _ = recovery_tick.tick(), if connected && inbox.is_some() => {
                if let Some(inbox) = &inbox {
                    recovery.tick(&Link { client: &client, inbox, user: &config.user, responses: &responses, sent: &unnumbered });
                }
            }
            Some(req) = outgoing.recv() => {
                let properties = match req.expiry_s {
                    Some(expiry_s) => PublishProperties {
                        response_topic: Some(responses.clone()),
                        correlation_data: Some(req.request_id.clone().into_bytes().into()),
                        // Relative: a wrong clock on the phone cannot make a command fire late.
                        message_expiry_interval: Some(expiry_s),
                        ..PublishProperties::default()
                    },
                    None => PublishProperties::default(),
                };
                match client.try_publish_with_properties(req.topic, QoS::AtLeastOnce, false, req.payload, properties) {
                    Ok(()) => unnumbered.borrow_mut().push_back((req.request_id, req.expiry_s.is_some())),
                    Err(err) => {
                        tracing::warn!("could not queue a command: {err}");
                        state.forget_request(&req.request_id);
                    }
                }
            }
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    tracing::info!(session_present = ack.session_present, "connected to the broker");
                    ever_connected = true;
                    connected = true;
                    backoff.reset();
                    // Subscribing again even with a resumed session re-delivers retained
                    // state, which is how the model catches up after a broker restart.
                    subscribe_all(&client, &config.sites);
                    if let Err(err) = client.try_subscribe(responses.clone(), QoS::AtLeastOnce) {
                        tracing::error!(%err, "could not queue the responses subscription");
                    }
                    state.restart_supervision();
                    next_check = state.supervise();
                    // Gaps left from before (an app killed mid-replay, a broker that lost
                    // the session) are looked at once the backlog had its chance.
                    for site in &config.sites {
                        recovery.check_soon(site);
                    }
                    state.set_connection(ConnectionPhase::Connected, 0, None);
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                    if let Some(entry) = unnumbered.borrow_mut().pop_front() {
                        by_pkid.insert(pkid, entry);
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    if let Some((id, expects_response)) = by_pkid.remove(&ack.pkid) {
                        if !matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) {
                            let reason = match ack.reason {
                                PubAckReason::NotAuthorized => "the broker does not allow this user to do this at this site".to_owned(),
                                other => format!("the broker refused it ({other:?})"),
                            };
                            state.answer(&id, Reply::Refused(reason));
                        } else if !expects_response {
                            state.answer(&id, Reply::Accepted);
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == responses.as_bytes() => {
                    let replay_site = replay::request_id_of(&p.payload).and_then(|id| recovery.answered(&id));
                    match (replay_site, &inbox) {
                        (Some(site), Some(inbox)) => {
                            let link = Link { client: &client, inbox, user: &config.user, responses: &responses, sent: &unnumbered };
                            match replay::decode_response(&p.payload) {
                                Ok(replayed) => recovery.apply(&link, &state, &site, replayed),
                                Err(err) => {
                                    tracing::warn!(%site, "a malformed replay response was ignored: {err}");
                                    recovery.check_soon(&site);
                                }
                            }
                        }
                        _ => answer_command(&state, &p.payload),
                    }
                    if let Err(err) = client.try_ack(&p) {
                        tracing::warn!("could not queue an acknowledgement: {err}");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let topic = String::from_utf8_lossy(&p.topic);
                    // Rejections are logged and counted inside ingest; they are acknowledged,
                    // since a redelivery would be rejected again. An event is acknowledged
                    // only once it is in the inbox.
                    let stored = match (state.ingest(&topic, &p.payload), &inbox) {
                        (Ok(Some(Ingested::Event(site, event))), Some(inbox)) => match inbox.record(&site, &event, now_ms()) {
                            Ok(Recorded::New) => {
                                // A number skipped within the stream: the broker delivers a
                                // topic in order, so what is missing before it is lost.
                                let link = Link { client: &client, inbox, user: &config.user, responses: &responses, sent: &unnumbered };
                                recovery.ask(&link, &site);
                                state.inbox_changed(site);
                                true
                            }
                            Ok(Recorded::Duplicate) => true,
                            Err(err) => {
                                tracing::error!(%site, seq = event.seq, "event not stored, so not acknowledged: {err}");
                                state.count_unstored(&err);
                                false
                            }
                        },
                        (Ok(Some(Ingested::Head(site, head))), Some(inbox)) => {
                            match inbox.note_head(&site, head.epoch, head.last_seq) {
                                Ok(true) => recovery.check_soon(&site),
                                Ok(false) => {}
                                Err(err) => tracing::error!(%site, "the stream head was not stored: {err}"),
                            }
                            true
                        }
                        _ => true,
                    };
                    if stored && let Err(err) = client.try_ack(&p) {
                        tracing::warn!("could not queue an acknowledgement: {err}");
                    }
                    next_check = state.supervise();
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack
                        .return_codes
                        .iter()
                        .filter(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                        .count();
                    if refused > 0 {
                        tracing::warn!(refused, "broker refused some site subscriptions");
                    }
                }
                Ok(Event::Incoming(Packet::Disconnect(d))) => {
                    tracing::warn!(reason = ?d.reason_code, "broker closed the session");
                }
                Ok(_) => {}
                Err(err) => {
                    connected = false;
                    let problem = problem(&err);
                    let attempt = backoff.attempt() + 1;
                    tracing::warn!(?problem, attempt, "broker connection failed: {err}");
                    if problem == ConnectionProblem::NotAuthorized {
                        // Revoked or wrong credentials: retrying cannot help and would hammer
                        // the broker. Stay stopped until the device is enrolled again.
                        tracing::error!("the broker refused this account; enrol this device again");
                        state.set_connection(ConnectionPhase::Stopped, attempt, Some(problem));
                        let _ = stop.changed().await;
                        return;
                    }
                    let phase = if ever_connected { ConnectionPhase::Reconnecting } else { ConnectionPhase::Connecting };
                    state.set_connection(phase, attempt, Some(problem));
                    let wake = Instant::now() + backoff.next_delay();
                    tokio::select! {
                        _ = stop.changed() => break,
                        () = sleep_until(wake) => {}
                    }
                }
            }
        }
    }
    // A clean DISCONNECT: the broker keeps our session and publishes no Last Will.
    if client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Ok(ev) = events.poll().await {
                if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
    state.set_outgoing(&config.user, None);
    state.set_connection(ConnectionPhase::Stopped, 0, None);
}
