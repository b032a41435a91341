//! The alert path against a real Mosquitto: every event is in the inbox exactly once,
//! including those sent while the client was away; an event that cannot be stored is not
//! acknowledged, and the broker delivers it again.

use mimamori_core::Secret;
use mimamori_core::bus::{Bus, BusConfig, ConnectionPhase};
use mimamori_core::event::AlertKind;
use mimamori_core::inbox::Inbox;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimAlert, SimConfig, SimSite, demo};
use std::sync::Arc;
use std::time::Duration;

fn site(broker: &Mosquitto) -> SimSite {
    let mut config = SimConfig::new(broker.address());
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    SimSite::start(demo::site("hq").unwrap(), config)
}

/// The same device each time: same client id (so the same broker session), same inbox.
fn client(broker: &Mosquitto, inbox: &Arc<Inbox>) -> Bus {
    let mut config = BusConfig::new(broker.address(), "alert-phone", "viewer-hq", vec!["hq".into()]);
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    config.keep_alive = Duration::from_secs(5);
    Bus::start_with_inbox(config, Some(inbox.clone()))
}

fn raise(site: &SimSite, n: usize) {
    for i in 0..n {
        site.raise(SimAlert {
            kind: AlertKind::Door,
            zone: Some("lobby".into()),
            title: format!("正面玄関 扉開放 {i}"),
            cameras: vec!["entrance".into()],
        });
    }
}

async fn until(what: &str, secs: u64, pred: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !pred() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn connected(bus: &Bus) {
    let state = bus.state().clone();
    until("the client to connect", 10, move || state.connection().phase == ConnectionPhase::Connected).await;
    // The subscription follows the CONNACK; give it a moment to be in place.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn every_alert_arrives_once_also_those_sent_while_the_client_was_away() {
    let broker = Mosquitto::start();
    let hq = site(&broker);
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = client(&broker, &inbox);
    connected(&bus).await;
    raise(&hq, 100);
    until("100 alerts", 20, || inbox.event_count("hq").unwrap() == 100).await;

    // The phone goes away (a clean disconnect keeps its session on the broker)…
    bus.stop().await;
    raise(&hq, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox.event_count("hq").unwrap(), 100);
    // …and comes back: the broker delivers what it queued meanwhile.
    let bus = client(&broker, &inbox);
    until("300 alerts", 20, || inbox.event_count("hq").unwrap() == 300).await;
    assert!(inbox.gaps("hq").unwrap().is_empty(), "{:?}", inbox.gaps("hq"));
    assert_eq!(inbox.alerts(1000).unwrap().len(), 300);
    assert_eq!(bus.state().stats().rejected, 0);
}

#[tokio::test]
async fn an_alert_that_cannot_be_stored_is_not_acknowledged_and_comes_again() {
    let broker = Mosquitto::start();
    let hq = site(&broker);
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = client(&broker, &inbox);
    connected(&bus).await;
    inbox.set_read_only(true).unwrap(); // as if the disk were full
    raise(&hq, 5);
    let state = bus.state().clone();
    until("5 unstored", 10, || state.stats().unstored == 5).await;
    assert_eq!(inbox.event_count("hq").unwrap(), 0);

    // Space again; the next connection gets the unacknowledged alerts redelivered.
    inbox.set_read_only(false).unwrap();
    bus.stop().await;
    let _bus = client(&broker, &inbox);
    until("the 5 alerts, redelivered", 20, || inbox.event_count("hq").unwrap() == 5).await;
    assert!(inbox.gaps("hq").unwrap().is_empty());
}
