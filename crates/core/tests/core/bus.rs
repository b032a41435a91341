//! The site bus against a real Mosquitto: permissions, Last Will, bad input, restarts.

use mimamori_core::Secret;
use mimamori_core::bus::{Bus, BusConfig, BusState, ConnectionPhase, ConnectionProblem};
use mimamori_core::site::SiteLink;
use mimamori_core::time::now_ms;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimSite, demo};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, MqttOptions};
use std::time::Duration;

fn client(broker: &Mosquitto, user: &str, sites: &[&str]) -> Bus {
    let mut config = BusConfig::new(
        broker.address(),
        &format!("test-{user}"),
        user,
        sites.iter().map(|s| (*s).to_owned()).collect(),
    );
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    config.keep_alive = Duration::from_secs(5);
    Bus::start(config)
}

fn site(broker: &Mosquitto, id: &str) -> SimSite {
    let config = mimamori_sim::mosquitto::site_config(broker.address(), id);
    SimSite::start(demo::site(id).expect("demo site"), config)
}

/// Waits until `pred` holds, polling; fails the test with `what` after `secs` seconds.
async fn until(state: &BusState, secs: u64, what: &str, pred: impl Fn(&BusState) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !pred(state) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}\nsites: {:#?}\nconnection: {:?}\nstats: {:?}",
            state.summaries(),
            state.connection(),
            state.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn link(state: &BusState, id: &str) -> SiteLink {
    state.summaries().into_iter().find(|s| s.id == id).map_or(SiteLink::Unknown, |s| s.link)
}

fn complete(state: &BusState, id: &str) -> bool {
    state.view(id).is_some_and(|v| {
        v.summary.name.is_some()
            && v.summary.link == SiteLink::Online
            && !v.outputs.is_empty()
            && v.outputs.iter().all(|o| o.state.is_some())
    })
}

#[tokio::test]
async fn a_viewer_of_one_site_never_sees_another() {
    let broker = Mosquitto::start();
    let _hq = site(&broker, "hq");
    let _shop = site(&broker, "shop");
    // The viewer's profile names both sites, but the broker's ACL grants only hq.
    let viewer = client(&broker, "viewer-hq", &["hq", "shop"]);
    let manager = client(&broker, "manager", &["hq", "shop"]);
    let (v, m) = (viewer.state().clone(), manager.state().clone());
    until(&m, 10, "manager sees both sites", |s| complete(s, "hq") && complete(s, "shop")).await;
    until(&v, 10, "viewer sees hq", |s| complete(s, "hq")).await;
    // Both sites have published everything by now (the manager has it all); give the
    // broker a moment more to prove that nothing of shop reaches the viewer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shop = v.view("shop").unwrap();
    assert_eq!(shop.summary.name, None);
    assert_eq!(shop.summary.link, SiteLink::Unknown);
    assert!(shop.cameras.is_empty() && shop.outputs.is_empty());
    let hq = v.view("hq").unwrap();
    assert_eq!(hq.summary.name.as_deref(), Some("本社"));
    assert_eq!(hq.cameras.len(), 6);
    assert_eq!(v.stats().rejected, 0);
}

#[tokio::test]
async fn a_site_that_vanishes_goes_offline_by_its_last_will() {
    let broker = Mosquitto::start();
    let hq = site(&broker, "hq");
    let shop = site(&broker, "shop");
    let bus = client(&broker, "manager", &["hq", "shop"]);
    let state = bus.state().clone();
    until(&state, 10, "both online", |s| complete(s, "hq") && complete(s, "shop")).await;
    hq.kill().await; // no DISCONNECT: the broker publishes the Last Will
    until(&state, 10, "hq offline by Last Will", |s| link(s, "hq") == SiteLink::Offline).await;
    assert_eq!(link(&state, "shop"), SiteLink::Online);
    shop.stop().await; // a clean shutdown says offline itself
    until(&state, 10, "shop offline", |s| link(s, "shop") == SiteLink::Offline).await;
    // What was known of the sites stays: only their link changed.
    assert_eq!(state.view("hq").unwrap().cameras.len(), 6);
}

#[tokio::test]
async fn bad_payloads_are_counted_and_never_replace_good_state() {
    let broker = Mosquitto::start();
    let _hq = site(&broker, "hq");
    let bus = client(&broker, "viewer-hq", &["hq"]);
    let state = bus.state().clone();
    until(&state, 10, "hq complete", |s| complete(s, "hq")).await;

    // A faulty controller (authenticated as the site) publishes garbage.
    let mut opts = MqttOptions::new("faulty-hq", "127.0.0.1", broker.port);
    opts.set_credentials("site-hq", PASSWORD);
    let (raw, mut events) = AsyncClient::new(opts, 16);
    let pump = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let bad: [(&str, Vec<u8>); 5] = [
        ("mimamori/v1/sites/hq/catalog", b"{not json".to_vec()),
        ("mimamori/v1/sites/hq/catalog", br#"{"v":1,"time_zone":"UTC"}"#.to_vec()),
        ("mimamori/v1/sites/hq/catalog", br#"{"v":7,"name":"x","time_zone":"UTC"}"#.to_vec()),
        ("mimamori/v1/sites/hq/status", br#"{"v":1,"state":"exploded"}"#.to_vec()),
        ("mimamori/v1/sites/hq/outputs/siren/state", vec![b'['; 50_000]),
    ];
    for (topic, payload) in bad {
        raw.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
    }
    until(&state, 10, "five rejections", |s| s.stats().rejected >= 5).await;
    let hq = state.view("hq").unwrap();
    assert_eq!(hq.summary.name.as_deref(), Some("本社"));
    assert_eq!(hq.summary.link, SiteLink::Online);
    assert!(hq.outputs.iter().all(|o| o.state.is_some()));
    assert!(state.stats().last_rejection.is_some());
    pump.abort();
}

#[tokio::test]
async fn the_client_rides_out_a_broker_restart_and_recovers_its_model() {
    let mut broker = Mosquitto::start();
    let hq = site(&broker, "hq");
    let _shop = site(&broker, "shop");
    let bus = client(&broker, "manager", &["hq", "shop"]);
    let state = bus.state().clone();
    until(&state, 10, "both online", |s| complete(s, "hq") && complete(s, "shop")).await;

    broker.kill();
    until(&state, 15, "client notices the broker is gone", |s| {
        s.connection().phase == ConnectionPhase::Reconnecting
    })
    .await;
    assert!(matches!(
        state.connection().problem,
        Some(ConnectionProblem::Unreachable | ConnectionProblem::Closed | ConnectionProblem::TimedOut)
    ));
    // While the broker is away the model keeps what it knew.
    assert_eq!(state.view("hq").unwrap().cameras.len(), 6);

    // Without persistence the restarted broker has forgotten everything; the sites and the
    // client reconnect, and the retained state is rebuilt.
    let restarted_ms = now_ms();
    broker.restart();
    until(&state, 40, "client connected again", |s| s.connection().phase == ConnectionPhase::Connected).await;
    // Fresh word from both sites, not just the state remembered from before.
    until(&state, 20, "both heard again", |s| {
        s.summaries().iter().all(|x| x.last_seen_ms.is_some_and(|t| t >= restarted_ms))
    })
    .await;
    until(&state, 20, "both complete again", |s| complete(s, "hq") && complete(s, "shop")).await;

    // Changes flow again after the restart.
    hq.kill().await;
    until(&state, 10, "hq offline after restart", |s| link(s, "hq") == SiteLink::Offline).await;
    assert_eq!(state.stats().rejected, 0, "{}", broker.log());
}

#[tokio::test]
async fn wrong_credentials_are_reported_as_not_authorized() {
    let broker = Mosquitto::start();
    let mut config = BusConfig::new(broker.address(), "test-intruder", "manager", vec!["hq".into()]);
    config.password = Some(Secret::new("CANARY-wrong-password".to_owned()));
    let bus = Bus::start(config);
    let state = bus.state().clone();
    until(&state, 10, "refusal reported", |s| {
        s.connection().problem == Some(ConnectionProblem::NotAuthorized)
    })
    .await;
    assert_eq!(state.connection().phase, ConnectionPhase::Stopped);
    // No retry storm: the broker sees one attempt, however long we wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = broker.log();
    let attempts = log.lines().filter(|l| l.contains("Sending CONNACK")).count();
    assert_eq!(attempts, 1, "the client kept retrying:\n{log}");
    assert!(log.contains("not authorised"), "{log}");
    assert!(!log.contains("CANARY"), "the broker logged the password");
    assert_eq!(state.connection().attempt, 1);
    bus.stop().await;
}
