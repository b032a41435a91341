//! The alert path against a real Mosquitto: every event is in the inbox exactly once,
//! including those sent while the client was away; an event that cannot be stored is not
//! acknowledged, and the broker delivers it again.

use mimamori_core::Secret;
use mimamori_core::bus::{BrokerAddress, Bus, BusConfig};
use mimamori_core::inbox::Inbox;
use mimamori_core::protocol::event::AlertKind;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimAlert, SimSite, demo};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn site(broker: &Mosquitto) -> SimSite {
    let config = mimamori_sim::mosquitto::site_config(broker.address(), "hq");
    SimSite::start(demo::site("hq").unwrap(), config)
}

/// The same device each time: same client id (so the same broker session), same inbox.
pub(crate) fn client(broker: &Mosquitto, inbox: &Arc<Inbox>) -> Bus {
    client_at(broker.address(), inbox)
}

fn client_at(broker: BrokerAddress, inbox: &Arc<Inbox>) -> Bus {
    client_as(broker, inbox, "viewer-hq")
}

/// A device of `user`, one of [`Mosquitto::start`]'s.
pub(crate) fn client_as(broker: BrokerAddress, inbox: &Arc<Inbox>, user: &str) -> Bus {
    let mut config = BusConfig::new(broker, &format!("{user}-phone"), user, vec!["hq".into()]);
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
            snapshot: None,
        });
    }
}

pub(crate) async fn until(what: &str, secs: u64, pred: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !pred() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the client is connected and the broker has acknowledged its subscriptions.
pub(crate) async fn connected(bus: &Bus) {
    let state = bus.state().clone();
    if tokio::time::timeout(Duration::from_secs(10), state.subscribed()).await.is_err() {
        panic!("timed out waiting for the client to subscribe: {:?}", state.connection());
    }
}

/// Waits until hq has said what this device's user may do there.
pub(crate) async fn role_known(bus: &Bus) {
    let state = bus.state().clone();
    until("hq's role for this user", 10, move || state.view("hq").is_some_and(|v| v.summary.role.is_some()))
        .await;
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

/// A site that beats every second, so that its stream head arrives quickly.
fn beating_site(broker: &Mosquitto, window: usize) -> SimSite {
    let mut config = mimamori_sim::mosquitto::site_config(broker.address(), "hq");
    config.heartbeat = Some(Duration::from_secs(1));
    config.replay_window = window;
    SimSite::start(demo::site("hq").unwrap(), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_alerts_arrive_exactly_once_through_broker_and_client_kills() {
    let mut broker = Mosquitto::persistent();
    let hq = beating_site(&broker, 10_000);
    let dir = std::env::temp_dir().join(format!("mimamori-kill-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("alerts.db");
    let _ = std::fs::remove_file(&db);
    // The app as it restarts: a fresh inbox on the same file, the same client id.
    let address = broker.address();
    let start = || {
        let inbox = Arc::new(Inbox::open(&db).unwrap());
        (client_at(address.clone(), &inbox), inbox)
    };
    let (mut bus, mut inbox) = start();
    connected(&bus).await;
    let mut raised = 0;
    let mut replayed = 0;
    for round in 0..5 {
        raise(&hq, 1_000);
        raised += 1_000;
        tokio::time::sleep(Duration::from_millis(150)).await;
        // The broker dies mid-burst, losing what it had not saved (its sessions included)…
        broker.kill();
        raise(&hq, 500);
        raised += 500;
        tokio::time::sleep(Duration::from_millis(300)).await;
        broker.restart();
        raise(&hq, 250);
        raised += 250;
        // …and the app is killed while alerts arrive, then started again.
        tokio::time::sleep(Duration::from_millis(100 * round)).await;
        replayed += bus.state().stats().replayed;
        bus.kill().await;
        drop(inbox);
        raise(&hq, 250);
        raised += 250;
        (bus, inbox) = start();
    }
    assert_eq!(raised, 10_000);
    let check = inbox.clone();
    until("10,000 alerts in the store", 180, move || {
        check.event_count("hq").unwrap() == 10_000 && check.gaps("hq").unwrap().is_empty()
    })
    .await;
    // The site's alerts; a kill may also have made this device raise its own link-failure
    // alert (the site did go quiet), which is no event of the site's stream.
    let alerts: Vec<_> =
        inbox.alerts(20_000).unwrap().into_iter().filter(|a| !inbox.is_local("hq", &a.id).unwrap()).collect();
    assert_eq!(alerts.len(), 10_000);
    let ids: std::collections::HashSet<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 10_000, "each alert exactly once");
    assert!(inbox.possible_gaps().unwrap().is_empty(), "the site still had everything: no possible gap");
    // The broker's kills lost events it had acknowledged; the site's replay brought them.
    replayed += bus.state().stats().replayed;
    tracing::info!("recovered by replay: {replayed} of {raised}");
    assert!(replayed > 0, "the kills should have cost the broker some events");
    bus.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn what_the_site_no_longer_has_after_a_long_outage_is_a_possible_gap() {
    let broker = Mosquitto::start();
    // The site keeps only its last 50 events.
    let hq = beating_site(&broker, 50);
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let short = |inbox: &Arc<Inbox>| {
        let mut config = BusConfig::new(broker.address(), "gap-phone", "viewer-hq", vec!["hq".into()]);
        config.password = Some(Secret::new(PASSWORD.to_owned()));
        // The broker forgets this device one second after it leaves.
        config.session_expiry = Duration::from_secs(1);
        Bus::start_with_inbox(config, Some(inbox.clone()))
    };
    let bus = short(&inbox);
    connected(&bus).await;
    raise(&hq, 10);
    until("10 alerts", 10, || inbox.event_count("hq").unwrap() == 10).await;
    bus.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A long outage: 100 alerts, none queued for the expired session.
    raise(&hq, 100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _bus = short(&inbox);
    until("the replay of what the site still has", 30, || {
        inbox.event_count("hq").unwrap() == 60 && inbox.gaps("hq").unwrap().is_empty()
    })
    .await;
    let gaps = inbox.possible_gaps().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!((gaps[0].site_id.as_str(), gaps[0].from_seq, gaps[0].to_seq), ("hq", 11, Some(60)));
}

#[tokio::test]
async fn an_acknowledgement_reaches_every_device_with_who_and_the_note() {
    use mimamori_core::audit::Audit;
    use mimamori_core::bus::Reply;
    use mimamori_core::control::{self, ControlError, Outcome};
    let broker = Mosquitto::start();
    let hq = site(&broker);
    let viewer_inbox = Arc::new(Inbox::in_memory().unwrap());
    let viewer = client(&broker, &viewer_inbox);
    let manager_inbox = Arc::new(Inbox::in_memory().unwrap());
    let mut config = BusConfig::new(broker.address(), "manager-phone", "manager", vec!["hq".into()]);
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    let manager = Bus::start_with_inbox(config, Some(manager_inbox.clone()));
    role_known(&viewer).await;
    role_known(&manager).await;
    raise(&hq, 1);
    until("the alert on both devices", 10, || {
        viewer_inbox.alerts(1).unwrap().len() == 1 && manager_inbox.alerts(1).unwrap().len() == 1
    })
    .await;
    let id = viewer_inbox.alerts(1).unwrap()[0].id.clone();
    let path = std::env::temp_dir().join(format!("mimamori-ack-audit-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = Audit::open(&path).unwrap();
    let timeout = Duration::from_secs(5);

    // A viewer may not acknowledge: refused in the core, and by the broker when the core is
    // bypassed (an acknowledgement published on the viewer's connection all the same).
    let ack = |note: Option<&str>| control::Ack {
        site: "hq".into(),
        alert_id: id.clone(),
        note: note.map(str::to_owned),
    };
    let refused = control::acknowledge(viewer.state(), &audit, None, "viewer-hq", ack(None), timeout).await;
    assert!(matches!(refused, Err(ControlError::NotPermitted { .. })), "{refused:?}");
    let payload = serde_json::to_vec(&serde_json::json!({"v": 1, "alert_id": id})).unwrap();
    let bypass = viewer.state().publish_ack("hq", "k-bypass", payload).unwrap();
    match tokio::time::timeout(timeout, bypass).await {
        Ok(Ok(Reply::Refused(reason))) => assert!(reason.contains("not allow"), "{reason}"),
        other => panic!("the broker should refuse: {other:?}"),
    }

    let note = "警備員が確認に向かいます <b>";
    let done = control::acknowledge(
        manager.state(),
        &audit,
        Some(&manager_inbox),
        "manager",
        ack(Some(note)),
        timeout,
    )
    .await;
    assert!(matches!(done, Ok(Outcome::Done { .. })), "{done:?}");
    for inbox in [&viewer_inbox, &manager_inbox] {
        until("the acknowledgement on every device", 10, || {
            inbox.alerts(1).unwrap()[0].acknowledged_by.as_deref() == Some("manager")
        })
        .await;
        assert_eq!(inbox.alerts(1).unwrap()[0].note.as_deref(), Some(note));
    }
    let records = Audit::records(&path).unwrap();
    let acks: Vec<(&str, &str)> = records.iter().map(|r| (r.what.as_str(), r.outcome.as_str())).collect();
    assert_eq!(acks, [("ack", "refused"), ("ack", "sent"), ("outcome", "done")]);
    assert!(records.iter().all(|r| r.target == format!("alert:{id}")));
    Audit::verify(&path).unwrap();
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_site_that_vanishes_is_a_link_failure_alert_of_this_device_acknowledged_here() {
    use mimamori_core::audit::Audit;
    use mimamori_core::control::{self, Outcome};
    let broker = Mosquitto::start();
    let hq = site(&broker);
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    // An operator's device: acknowledging is for operators and admins.
    let bus = client_as(broker.address(), &inbox, "manager");
    role_known(&bus).await;
    let state = bus.state().clone();
    until("hq online", 10, || state.view("hq").is_some_and(|v| v.summary.name.is_some())).await;
    // Power cut: the broker publishes the site's Last Will.
    hq.kill().await;
    until("the link failure alert", 15, || {
        inbox.alerts(10).unwrap().iter().any(|a| a.kind == AlertKind::LinkFailure)
    })
    .await;
    let alert = inbox.alerts(10).unwrap().into_iter().find(|a| a.kind == AlertKind::LinkFailure).unwrap();
    assert!(alert.title.contains("本社"), "{}", alert.title);
    assert!(inbox.is_local("hq", &alert.id).unwrap());
    // No site knows it, so it is acknowledged on this device (and audited).
    let path = std::env::temp_dir().join(format!("mimamori-local-ack-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = Audit::open(&path).unwrap();
    let ack =
        control::Ack { site: "hq".into(), alert_id: alert.id.clone(), note: Some("電源を確認".into()) };
    let outcome = control::acknowledge(&state, &audit, Some(&inbox), "manager", ack, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Done { state: None });
    let acked = inbox.alerts(10).unwrap().into_iter().find(|a| a.id == alert.id).unwrap();
    assert_eq!(
        (acked.acknowledged_by.as_deref(), acked.note.as_deref()),
        (Some("manager"), Some("電源を確認"))
    );
    assert_eq!(Audit::records(&path).unwrap().len(), 2);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn hostile_events_are_refused_or_neutralised_counted_and_never_break_the_inbox() {
    use base64::Engine;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{AsyncClient, MqttOptions};
    let broker = Mosquitto::start();
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = client(&broker, &inbox);
    connected(&bus).await;
    // A rogue controller with the site's own credentials.
    let mut opts = MqttOptions::new("rogue-hq", "127.0.0.1", broker.plain_port);
    opts.set_credentials("site-hq", PASSWORD);
    opts.set_max_packet_size(Some(16 << 20));
    let (rogue, mut events) = AsyncClient::new(opts, 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let topic = "mimamori/v1/sites/hq/events";
    let event = |seq: u64, alert: serde_json::Value| {
        serde_json::to_vec(
            &serde_json::json!({"v": 1, "epoch": 5, "seq": seq, "type": "alert", "alert": alert}),
        )
        .unwrap()
    };
    // A JPEG header claiming 65535 × 65535 pixels: a decompression bomb in 23 bytes.
    let mut bomb = vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 8, 0xff, 0xff, 0xff, 0xff, 3];
    bomb.extend_from_slice(&[1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9]);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let payloads: Vec<Vec<u8>> = vec![
        // Accepted, neutralised: markup in the title is text; the bomb costs only the picture.
        event(
            1,
            serde_json::json!({"id": "a1", "time": 1, "kind": "intrusion", "title": "<img src=x onerror=alert(1)>", "snapshot": b64(&bomb)}),
        ),
        // Refused: wrong types, unknown kind, deep JSON, not JSON, a 10 MB snapshot.
        event(2, serde_json::json!({"id": 7, "time": "now", "kind": "door", "title": "x"})),
        event(3, serde_json::json!({"id": "a3", "time": 1, "kind": "alien", "title": "x"})),
        format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)).into_bytes(),
        b"\xff\xfe not json".to_vec(),
        event(
            4,
            serde_json::json!({"id": "a4", "time": 1, "kind": "door", "title": "x", "snapshot": b64(&vec![0u8; 10 << 20])}),
        ),
        // And life goes on.
        event(5, serde_json::json!({"id": "a5", "time": 2, "kind": "door", "title": "正面玄関 扉開放"})),
    ];
    for p in payloads {
        rogue.publish(topic, QoS::AtLeastOnce, false, p).await.unwrap();
    }
    until("the good alerts", 10, || inbox.alerts(10).unwrap().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts = inbox.alerts(10).unwrap();
    let a1 = alerts.iter().find(|a| a.id == "a1").unwrap();
    assert_eq!(a1.title, "<img src=x onerror=alert(1)>", "kept as text, never parsed here");
    assert!(!a1.has_snapshot && a1.picture_problem.is_some());
    assert!(alerts.iter().any(|a| a.id == "a5"));
    let stats = bus.state().stats();
    // The 10 MB one never reaches the client (the broker honours its maximum packet size);
    // the other four are refused and counted.
    assert_eq!(stats.rejected, 4, "{stats:?}");
    assert_eq!(stats.unstored, 0);
}
