//! A thousand sites on a broker as it comes: Mosquitto 2 with its default limits (20
//! messages in flight per client, 1,000 queued, the rest dropped without a word). Every
//! site's retained state arrives, and every message the broker sends the client is
//! acknowledged — counted in the broker's own log — through a burst of 1,000 alerts and a
//! reconnect after which nothing is delivered again.

use mimamori_core::Secret;
use mimamori_core::bus::{Bus, BusConfig, BusState};
use mimamori_core::inbox::Inbox;
use mimamori_core::protocol::event::AlertKind;
use mimamori_core::protocol::topics;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimAlert, SimConfig, SimSite, demo};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::sync::Arc;
use std::time::Duration;

const SITES: usize = 1000;
const ALERTS: usize = 1000;
const CLIENT_ID: &str = "fleet-phone";

/// A fleet manager reading every site; an installer who published the sites' retained
/// state; the one live site, hq.
const ACL: &str = "\
user fleet
topic read mimamori/v1/sites/#
topic write mimamori/v1/sites/+/replay/fleet
topic read mimamori/v1/clients/fleet/#

user installer
topic readwrite mimamori/v1/sites/#

user site-hq
topic readwrite mimamori/v1/sites/hq/#
topic write mimamori/v1/clients/+/+/responses/hq
";

fn site_id(i: usize) -> String {
    format!("site-{i:04}")
}

/// The retained state of `n` sites that are still (catalog with one output, status,
/// output state), as they left it on the broker: three retained messages each.
async fn publish_retained(broker: &Mosquitto, n: usize) {
    let address = broker.address();
    let mut options = MqttOptions::new("installer", address.host, address.port);
    options.set_credentials("installer", PASSWORD);
    let (client, mut events) = AsyncClient::new(options, 4 * n);
    for i in 0..n {
        let site = site_id(i);
        let catalog = format!(
            r#"{{"v":1,"name":"拠点 {i}","time_zone":"Asia/Tokyo","outputs":[{{"id":"siren","kind":"siren","name":"Siren"}}]}}"#
        );
        let state = r#"{"v":1,"state":"off","since":1700000000000}"#;
        for (topic, payload) in [
            (topics::catalog(&site), catalog),
            (topics::status(&site), r#"{"v":1,"state":"online"}"#.to_owned()),
            (topics::output_state(&site, "siren"), state.to_owned()),
        ] {
            client.publish(topic, QoS::AtLeastOnce, true, payload).await.unwrap();
        }
    }
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked < 3 * n {
        match tokio::time::timeout_at(deadline, events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            Ok(Err(err)) => panic!("the installer's connection failed: {err}"),
            Err(_) => panic!("only {acked} of {} retained messages taken", 3 * n),
        }
    }
    client.disconnect().await.unwrap();
}

/// How many QoS 1 PUBLISHes the broker sent the client, and how many PUBACKs it got back.
fn counted_at_broker(broker: &Mosquitto) -> (usize, usize) {
    let log = broker.log();
    let sent = log
        .lines()
        .filter(|l| l.contains(&format!("Sending PUBLISH to {CLIENT_ID} (")) && l.contains(", q1,"))
        .count();
    let acked = log.lines().filter(|l| l.contains(&format!("Received PUBACK from {CLIENT_ID} ("))).count();
    (sent, acked)
}

/// Waits for `pred`; on a timeout, fails with `what` and what `state` says.
async fn until(what: &str, secs: u64, state: &BusState, pred: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !pred() {
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "timed out waiting for {what}: {} of {SITES} sites reported; {:?}; {:?}",
                reported(state),
                state.connection(),
                state.stats()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn reported(state: &BusState) -> usize {
    state.site_ids().iter().filter(|s| state.has_reported(s)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sites_on_a_default_broker_arrive_whole_and_every_message_is_acknowledged() {
    let users = [("fleet", PASSWORD), ("installer", PASSWORD), ("site-hq", PASSWORD)];
    let broker = Mosquitto::with_users(&users, ACL);
    publish_retained(&broker, SITES - 1).await;
    let mut sim =
        SimConfig::new(broker.address()).grant("fleet", mimamori_core::protocol::role::Role::Viewer);
    sim.password = Some(Secret::new(PASSWORD.to_owned()));
    let hq = SimSite::start(demo::site("hq").unwrap(), sim);

    let mut sites: Vec<String> = (0..SITES - 1).map(site_id).collect();
    sites.push("hq".into());
    let mut config = BusConfig::new(broker.address(), CLIENT_ID, "fleet", sites);
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = Bus::start_with_inbox(config.clone(), Some(inbox.clone()));
    let state = bus.state().clone();
    until("every site's retained state", 60, &state, || reported(&state) == SITES).await;

    // A burst of alerts from the live site.
    for i in 0..ALERTS {
        hq.raise(SimAlert {
            kind: AlertKind::Intrusion,
            zone: Some("lobby".into()),
            title: format!("侵入検知 {i}"),
            cameras: vec![],
            snapshot: None,
        });
    }
    until("every alert stored", 60, &state, || inbox.event_count("hq").unwrap() == ALERTS as u64).await;
    until("every message acknowledged at the broker", 10, &state, || {
        let (sent, acked) = counted_at_broker(&broker);
        sent == acked
    })
    .await;
    let (sent, acked) = counted_at_broker(&broker);
    assert!(sent >= 3 * (SITES - 1) + ALERTS, "the broker's log counts what it sent: {sent}");
    assert_eq!(acked, sent);
    assert!(!broker.log().contains("are being dropped"), "the broker dropped messages for a client");
    assert!(inbox.gaps("hq").unwrap().is_empty());

    // A reconnect (a clean stop keeps the session): the sites' state comes again, no event.
    bus.stop().await;
    let delivered = |log: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("Sending PUBLISH to {CLIENT_ID} (")) && l.contains("/hq/events'"))
            .count()
    };
    let events_before = delivered(&broker.log());
    let bus = Bus::start_with_inbox(config, Some(inbox.clone()));
    let state = bus.state().clone();
    until("every site again", 60, &state, || reported(&state) == SITES).await;
    tokio::time::timeout(Duration::from_secs(10), state.subscribed()).await.unwrap();
    until("every message acknowledged after the reconnect", 10, &state, || {
        let (sent, acked) = counted_at_broker(&broker);
        sent == acked
    })
    .await;
    assert_eq!(delivered(&broker.log()), events_before, "an event was delivered again");
    assert_eq!(inbox.event_count("hq").unwrap(), ALERTS as u64);
    assert_eq!(state.stats().rejected, 0);
    bus.stop().await;
}
