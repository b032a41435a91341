//! The embedded MQTT 5 broker that the demo runs on, so that a user needs no broker of
//! their own to see Mimamori working. It is `rumqttd` in-process on a loopback port.
//!
//! Why this and not a private Mosquitto: see `docs/demo.md`. In short, rumqttd speaks
//! MQTT 5 with retained messages and Last Will, which is all the demo's sites and client
//! use, and it needs nothing installed. It keeps sessions in memory only and has no ACLs,
//! so every test that claims a real broker runs Mosquitto instead.

use anyhow::Context;
use mimamori_core::bus::BrokerAddress;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A broker running on its own threads for the rest of the process.
pub struct EmbeddedBroker {
    pub address: BrokerAddress,
}

/// Starts the broker on `127.0.0.1:port` (0 picks a free port) and waits until it accepts
/// connections.
pub fn start(port: u16) -> anyhow::Result<EmbeddedBroker> {
    // Ask the kernel for a free port (or check that the chosen one is free), then hand it
    // to the broker. Without the check, another broker already on the port would pass the
    // readiness probe below and the demo would silently talk to it.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .and_then(|l| l.local_addr())
        .with_context(|| format!("port {port} on 127.0.0.1 is not free for the demo broker"))?
        .port();
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let config: rumqttd::Config = serde_json::from_value(serde_json::json!({
        "id": 0,
        "router": {
            "id": 0,
            "max_connections": 1000,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 10_485_760,
            "max_segment_count": 10
        },
        "v5": {
            "1": {
                "name": "demo-v5",
                "listen": listen.to_string(),
                "next_connection_delay_ms": 1,
                "connections": {
                    "connection_timeout_ms": 60000,
                    "max_payload_size": mimamori_protocol::MAX_PAYLOAD_BYTES + 4096,
                    "max_inflight_count": 100,
                    "dynamic_filters": true
                }
            }
        }
    }))
    .context("embedded broker configuration")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("demo-broker".into())
        .spawn(move || {
            if let Err(err) = broker.start() {
                tracing::error!("embedded broker stopped: {err}");
            }
        })
        .context("starting the embedded broker")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "embedded broker did not start on {listen}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(EmbeddedBroker { address: BrokerAddress::plain(&Ipv4Addr::LOCALHOST.to_string(), port) })
}
