//! The MQTT 5 connection task behind [`super::Bus`], on `rumqttc`: the client's options
//! (persistent session, manual acknowledgements, bounded packets, TLS), the client as the
//! [`Broker`] of `connection.rs`, and the loop that hands each thing that happens to the
//! [`Connection`] — and waits out the backoff it asks for.

use super::connection::{After, Broker, Connection, RECEIVE_MAXIMUM, RequestProperties};
use super::{BusConfig, BusState, ConnectionPhase, ConnectionProblem, Outgoing};
use crate::inbox::Inbox;
use crate::protocol;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Filter, Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, StateError};
use rumqttc::{TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

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
    o.set_max_packet_size(Some(protocol::MAX_PACKET_BYTES));
    o.set_outgoing_inflight_upper_limit(protocol::MAX_INFLIGHT);
    o.set_connection_timeout(5);
    // PUBACK only after an event is committed to the inbox (see `connection.rs`).
    o.set_manual_acks(true);
    // No more unacknowledged messages at once than the connection holds acknowledgements
    // for.
    o.set_receive_maximum(Some(RECEIVE_MAXIMUM));
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

impl Broker for AsyncClient {
    fn subscribe(&self, filters: &[String]) -> Result<(), String> {
        let filters = filters.iter().map(|f| Filter::new(f, QoS::AtLeastOnce));
        self.try_subscribe_many(filters).map_err(|e| e.to_string())
    }

    fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        request: Option<RequestProperties>,
    ) -> Result<(), String> {
        let properties = match request {
            Some(r) => PublishProperties {
                response_topic: Some(r.response_topic),
                correlation_data: Some(r.correlation.into_bytes().into()),
                message_expiry_interval: Some(r.expiry_s),
                ..PublishProperties::default()
            },
            None => PublishProperties::default(),
        };
        self.try_publish_with_properties(topic, QoS::AtLeastOnce, false, payload, properties)
            .map_err(|e| e.to_string())
    }

    fn ack(&self, publish: &Publish) -> Result<(), String> {
        self.try_ack(publish).map_err(|e| e.to_string())
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
    // Commands from the core reach this task through `outgoing`.
    let (outgoing_tx, mut outgoing) = tokio::sync::mpsc::unbounded_channel::<Outgoing>();
    state.set_outgoing(&config.user, Some(outgoing_tx));
    let mut conn = Connection::new(&config, state, inbox);
    let mut recovery_tick = tokio::time::interval(Duration::from_secs(1));
    recovery_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let far = || Instant::now() + Duration::from_secs(3600);
    loop {
        conn.raise_troubles();
        conn.flush(&client);
        tokio::select! {
            _ = stop.changed() => break,
            // Supervision only while connected: a client that cannot hear anybody must not
            // blame the sites for the silence.
            () = sleep_until(conn.next_deadline().unwrap_or_else(far)), if conn.is_connected() => conn.on_timer(&client),
            _ = recovery_tick.tick(), if conn.is_connected() && conn.recovers() => conn.on_recovery_tick(&client),
            Some(req) = outgoing.recv() => conn.send(&client, req),
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => conn.on_connack(&client, ack.session_present),
                Ok(Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => conn.on_sent(pkid),
                Ok(Event::Outgoing(rumqttc::Outgoing::Subscribe(pkid))) => conn.on_subscribe_sent(pkid),
                Ok(Event::Incoming(Packet::PubAck(ack))) => conn.on_puback(ack.pkid, ack.reason),
                Ok(Event::Incoming(Packet::Publish(p))) => conn.on_publish(&client, &p),
                Ok(Event::Incoming(Packet::SubAck(ack))) => conn.on_suback(&client, &ack),
                Ok(Event::Incoming(Packet::Disconnect(d))) => {
                    tracing::warn!(reason = ?d.reason_code, "broker closed the session");
                }
                Ok(_) => {}
                Err(err) => {
                    let after = conn.on_error(problem(&err), &err);
                    // rumqttc keeps what was not acknowledged (and what was still queued) to
                    // send again on a resumed session, where the broker would start a
                    // command's expiry anew: a door could open minutes later. Our publishes
                    // (commands, acknowledgements, replay requests) are not sent again; the
                    // connection has already told whoever waits for them.
                    events.pending.retain(|r| !matches!(r, rumqttc::v5::Request::Publish(_)));
                    match after {
                        After::Stop => {
                            let _ = stop.changed().await;
                            return;
                        }
                        After::Retry(delay) => tokio::select! {
                            _ = stop.changed() => break,
                            () = tokio::time::sleep(delay) => {}
                        },
                    }
                }
            }
        }
    }
    // The acknowledgements still waiting go first, then a clean DISCONNECT: the broker
    // keeps our session, delivers nothing again and publishes no Last Will.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while conn.has_unsent_acks() {
            conn.flush(&client);
            if events.poll().await.is_err() {
                break;
            }
        }
        if client.try_disconnect().is_ok() {
            while let Ok(ev) = events.poll().await {
                if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        }
    })
    .await;
    conn.on_stopped();
}
