//! The site engine as clients meet it through a real Mosquitto: its event stream outlives
//! the site's process (`kill -9`) and the broker's memory, and its command log outlives a
//! restart and agrees with the client's audit log. The engine runs here as the simulator's
//! sites do: in the `mimamori-sim` program, or in process (`SimSite`).

use crate::alerts::{client, connected, until};
use mimamori_core::audit::Audit;
use mimamori_core::bus::Bus;
use mimamori_core::control::{self, Action, Command, Outcome, Target};
use mimamori_core::inbox::Inbox;
use mimamori_core::site::SiteLink;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimSite, demo};
use mimamori_site::{Retention, Store};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The roles of the standard test broker (`mimamori_sim::mosquitto`), as a file for
/// `mimamori-sim --roles`.
const ROLES: &str = r#"{"sites": ["hq", "shop"],
    "users": {"viewer-hq": {"hq": "viewer"}, "manager": {"hq": "operator", "shop": "operator"}}}"#;

/// The `mimamori-sim` program beside this test's binary (`cargo build --workspace`, as
/// `scripts/test` does first).
fn sim_program() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("mimamori-sim");
    assert!(path.exists(), "{} is missing: cargo build --workspace first", path.display());
    path
}

/// The site `hq` as its own process, its store in `dir`, its log in `dir/site.log`, alerts
/// fed on its standard input.
fn site_process(broker: &Mosquitto, dir: &Path) -> Child {
    std::fs::write(dir.join("roles.json"), ROLES).unwrap();
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("site.log")).unwrap();
    Process::new(sim_program())
        .args([
            "--broker",
            &format!("mqtt://127.0.0.1:{}", broker.plain_port),
            "--site",
            "hq",
            "--heartbeat",
            "1",
        ])
        .arg("--store")
        .arg(dir.join("store"))
        .arg("--roles")
        .arg(dir.join("roles.json"))
        .env("MIMAMORI_SIM_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn alerts(site: &mut Child, n: usize) {
    let stdin = site.stdin.as_mut().unwrap();
    for _ in 0..n {
        stdin.write_all(b"alert hq door entrance\n").unwrap();
    }
    stdin.flush().unwrap();
}

/// The site's stream head as its store has it (the store is shared safely: WAL).
fn head(dir: &Path) -> mimamori_core::protocol::EventsHead {
    Store::open(&dir.join("store/hq.db"), Retention::default(), 0).unwrap().head()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_killed_mid_burst_continues_its_epoch_and_the_client_fills_the_gap_by_replay() {
    let mut broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut site = site_process(&broker, dir.path());
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = client(&broker, &inbox);
    connected(&bus).await;
    alerts(&mut site, 100);
    until("the first 100 alerts", 20, || inbox.event_count("hq").unwrap() == 100).await;
    let epoch = head(dir.path()).epoch;

    // The broker goes away: what the site commits now, it cannot publish. Mid-burst, the
    // site's process is killed (SIGKILL: no goodbye, no flush).
    broker.kill();
    alerts(&mut site, 400);
    let path = dir.path().to_owned();
    until("a part of the burst committed", 20, || head(&path).last_seq > 150).await;
    site.kill().unwrap();
    site.wait().unwrap();
    let committed = head(dir.path());
    assert_eq!(committed.epoch, epoch);
    assert!(committed.last_seq > 150, "{committed:?}");

    // Broker and site come back (the broker without persistence: nothing retained); the
    // site continues its epoch where it stopped.
    broker.restart();
    let mut site = site_process(&broker, dir.path());
    alerts(&mut site, 50);
    let total = committed.last_seq + 50;
    until("the site's whole stream at the client", 60, || {
        inbox.event_count("hq").unwrap() == total && inbox.gaps("hq").unwrap().is_empty()
    })
    .await;
    assert_eq!(head(dir.path()), mimamori_core::protocol::EventsHead { epoch, last_seq: total });
    // The site's alerts; the silence may also have made this device raise its own
    // link-failure alert, which is no event of the site's stream.
    let ids: Vec<String> = inbox
        .alerts(10_000)
        .unwrap()
        .into_iter()
        .filter(|a| !inbox.is_local("hq", &a.id).unwrap())
        .map(|a| a.id)
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        (ids.len(), unique.len()),
        (usize::try_from(total).unwrap(), ids.len()),
        "each alert exactly once"
    );
    assert!(ids.iter().all(|id| id.starts_with(&format!("hq-{epoch}-"))), "one epoch throughout");
    // What the site committed while the broker was away came by replay only.
    let replayed = bus.state().stats().replayed;
    assert!(replayed >= committed.last_seq - 100, "replayed {replayed} of {}", committed.last_seq - 100);
    assert!(inbox.possible_gaps().unwrap().is_empty());
    site.kill().unwrap();
    site.wait().unwrap();
    bus.stop().await;
}

#[tokio::test]
async fn a_broker_restarted_without_persistence_gets_every_retained_topic_again() {
    let mut broker = Mosquitto::start();
    let _hq = SimSite::start(
        demo::site("hq").unwrap(),
        mimamori_sim::mosquitto::site_config(broker.address(), "hq"),
    );
    let manager =
        crate::alerts::client_as(broker.address(), &Arc::new(Inbox::in_memory().unwrap()), "manager");
    crate::alerts::role_known(&manager).await;
    let siren =
        Command { site: "hq".into(), target: Target::Output("siren".into()), action: Action::On, note: None };
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::open(dir.path().join("audit.log")).unwrap();
    let done =
        control::send(manager.state(), &audit, "manager", siren, None, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done, Outcome::Done { state: Some("on".into()) });
    manager.stop().await;

    // Mosquitto as it comes, without persistence: a restart forgets every retained message.
    broker.restart();
    // A device that never saw the site before learns all of it from retained messages.
    let viewer =
        crate::alerts::client_as(broker.address(), &Arc::new(Inbox::in_memory().unwrap()), "viewer-hq");
    crate::alerts::role_known(&viewer).await;
    let state = viewer.state().clone();
    until("catalog, status and every output's state", 15, || {
        state.view("hq").is_some_and(|v| {
            v.summary.name.is_some() && !v.outputs.is_empty() && v.outputs.iter().all(|o| o.state.is_some())
        })
    })
    .await;
    let view = state.view("hq").unwrap();
    assert_eq!(view.summary.role, Some(mimamori_core::protocol::role::Role::Viewer));
    assert!(view.summary.armed.is_some(), "the status, with the armed state");
    let siren = view.outputs.iter().find(|o| o.id == "siren").unwrap();
    assert_eq!(siren.state, Some(mimamori_core::protocol::OutputValue::On), "the state as it is now");
    viewer.stop().await;
}

#[tokio::test]
async fn the_command_log_outlives_a_restart_and_agrees_with_the_clients_audit_log() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut config = mimamori_sim::mosquitto::site_config(broker.address(), "hq");
        config.store = Some(dir.path().join("hq.db"));
        config.broken_outputs = vec!["light".into()];
        SimSite::open(demo::site("hq").unwrap(), config).unwrap()
    };
    let audit_path = dir.path().join("audit.log");
    let audit = Audit::open(&audit_path).unwrap();
    let hq = start();
    let manager =
        crate::alerts::client_as(broker.address(), &Arc::new(Inbox::in_memory().unwrap()), "manager");
    crate::alerts::role_known(&manager).await;
    let send = |target: &str, action: Action| {
        let cmd = Command { site: "hq".into(), target: Target::Output(target.into()), action, note: None };
        control::send(manager.state(), &audit, "manager", cmd, None, Duration::from_secs(5))
    };
    link_is(&manager, SiteLink::Online).await;
    assert_eq!(send("siren", Action::On).await.unwrap(), Outcome::Done { state: Some("on".into()) });
    assert!(matches!(send("light", Action::On).await.unwrap(), Outcome::Failed { .. }));
    hq.stop().await;
    link_is(&manager, SiteLink::Offline).await;
    let hq = start();
    link_is(&manager, SiteLink::Online).await;
    assert_eq!(
        send("siren", Action::Pulse { seconds: 1 }).await.unwrap(),
        Outcome::Done { state: Some("on".into()) }
    );
    hq.stop().await;
    manager.stop().await;

    let site_log =
        Store::open(&dir.path().join("hq.db"), Retention::default(), 0).unwrap().commands().unwrap();
    let audit_log = Audit::records(&audit_path).unwrap();
    let sent: Vec<_> = audit_log.iter().filter(|r| r.what == "command" && r.outcome == "sent").collect();
    assert_eq!(site_log.len(), 3, "{site_log:?}");
    assert_eq!(sent.len(), 3);
    for (site, sent) in site_log.iter().zip(&sent) {
        assert_eq!((site.user.as_str(), site.request_id.as_str()), ("manager", sent.request_id.as_str()));
        assert_eq!(format!("output:{}", sent.target.trim_start_matches("output:")), site.target);
        let outcome =
            audit_log.iter().find(|r| r.what == "outcome" && r.request_id == site.request_id).unwrap();
        assert_eq!(site.outcome.as_deref(), Some(outcome.outcome.as_str()), "{site:?} against {outcome:?}");
    }
    assert_eq!(site_log[1].message.as_deref(), Some("the output did not respond"));
}

async fn link_is(bus: &Bus, link: SiteLink) {
    let state = bus.state().clone();
    until(&format!("hq {link:?}"), 15, move || state.view("hq").is_some_and(|v| v.summary.link == link))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_topic_the_site_reads_is_logged_and_harms_nothing() {
    use mimamori_core::protocol::topics;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};

    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("site.log");
    let mut site = site_process(&broker, dir.path());
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let viewer = client(&broker, &inbox);
    connected(&viewer).await;
    crate::alerts::role_known(&viewer).await;
    alerts(&mut site, 3);
    until("3 alerts", 20, || inbox.event_count("hq").unwrap() == 3).await;
    let epoch = head(dir.path()).epoch;

    // An operator's own raw client, within what the broker's ACL lets it publish.
    let mut opts = MqttOptions::new("manager-raw", "127.0.0.1", broker.plain_port);
    opts.set_credentials("manager", PASSWORD);
    let (raw, mut events) = AsyncClient::new(opts, 64);
    let (answers_tx, mut answers) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let _ = answers_tx.send(String::from_utf8_lossy(&p.payload).into_owned());
            }
        }
    });
    let mine = topics::responses("manager", "raw", "hq");
    raw.subscribe(topics::responses_filter("manager", "raw"), QoS::AtLeastOnce).await.unwrap();
    let send = |topic: String, payload: Vec<u8>, response: &str| {
        let props = PublishProperties { response_topic: Some(response.to_owned()), ..Default::default() };
        raw.publish_with_properties(topic, QoS::AtLeastOnce, false, payload, props)
    };
    let siren = topics::commands("hq", mimamori_core::protocol::command::CommandClass::Siren, "manager");
    let replay = topics::replay("hq", "manager");
    let ack = topics::ack("hq", "manager");
    let on =
        |id: &str| format!(r#"{{"v":1,"request_id":"{id}","target":{{"output":"siren"}},"action":"on"}}"#);
    send(siren.clone(), b"{not json".to_vec(), &mine).await.unwrap();
    // Over the payload limit: read and refused by the site; far over it: dropped by the
    // broker (the site said its largest packet when it connected), never a reason for the
    // site to lose its connection.
    send(siren.clone(), vec![b' '; 66 * 1024], &mine).await.unwrap();
    send(siren.clone(), vec![b' '; 1024 * 1024], &mine).await.unwrap();
    send(
        siren.clone(),
        br#"{"v":9,"request_id":"r-v9","target":{"output":"siren"},"action":"on"}"#.to_vec(),
        &mine,
    )
    .await
    .unwrap();
    // Answers sent to another user's tree, or to the site's own topics.
    send(siren.clone(), on("r-foreign").into_bytes(), &topics::responses("viewer-hq", "phone", "hq"))
        .await
        .unwrap();
    send(siren.clone(), on("r-site").into_bytes(), &topics::status("hq")).await.unwrap();
    // Replay ranges out of bounds: past the head, another epoch, backwards, beyond the
    // protocol's numbers.
    let range = |id: &str, e: u64, from: u64, to: &str| {
        format!(r#"{{"v":1,"request_id":"{id}","epoch":{e},"from_seq":{from},"to_seq":{to}}}"#).into_bytes()
    };
    send(replay.clone(), range("p-past", epoch, 1_000, "2000"), &mine).await.unwrap();
    send(replay.clone(), range("p-epoch", epoch + 1, 1, "null"), &mine).await.unwrap();
    send(replay.clone(), range("p-back", epoch, 3, "1"), &mine).await.unwrap();
    send(replay.clone(), range("p-huge", epoch, u64::MAX, "null"), &mine).await.unwrap();
    send(replay.clone(), b"[]".to_vec(), &mine).await.unwrap();
    // Acknowledgements: malformed, and of an alert the site never raised.
    raw.publish(ack.clone(), QoS::AtLeastOnce, false, b"{".to_vec()).await.unwrap();
    raw.publish(ack.clone(), QoS::AtLeastOnce, false, br#"{"v":1,"alert_id":"nope"}"#.to_vec())
        .await
        .unwrap();
    // Then a good command: it is carried out as if nothing had happened.
    send(siren.clone(), on("r-good").into_bytes(), &mine).await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|a: &String| a.contains("r-good")) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(Some(answer)) = tokio::time::timeout(left, answers.recv()).await else {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "no answer to the good command; answers: {seen:?}\nthe site's log:\n{log}\nthe broker's:\n{}",
                broker.log()
            );
        };
        seen.push(answer);
    }
    assert!(seen.iter().any(|a| a.contains("r-good") && a.contains(r#""outcome":"done""#)), "{seen:?}");
    // In-bounds parts of replay requests are answered; nothing else got an answer.
    for id in ["p-past", "p-epoch"] {
        assert!(seen.iter().any(|a| a.contains(id)), "no answer to {id}: {seen:?}");
    }
    for id in ["r-v9", "r-foreign", "r-site", "p-back", "p-huge"] {
        assert!(!seen.iter().any(|a| a.contains(id)), "{id} answered: {seen:?}");
    }
    // The stream goes on, numbered on from where it was; nothing was lost or added.
    alerts(&mut site, 1);
    until("the 4th alert", 20, || inbox.event_count("hq").unwrap() == 4).await;
    assert!(inbox.gaps("hq").unwrap().is_empty());
    assert_eq!(head(dir.path()).last_seq, 4);
    assert!(site.try_wait().unwrap().is_none(), "the site process is still running");
    site.kill().unwrap();
    site.wait().unwrap();
    // Each bad message has its line in the site's log, saying what was wrong.
    let text = std::fs::read_to_string(&log).unwrap();
    for line in [
        "ignored a bad command: malformed request",
        "over the payload limit",
        "request version 9 is not 1",
        "names a response topic not its own",
        "ignored a bad replay request",
        "ignored a bad acknowledgement",
        "ignored an acknowledgement of no alert this site holds",
    ] {
        assert!(text.contains(line), "no `{line}` in the site's log:\n{text}");
    }
    assert!(!text.contains("panicked"), "{text}");
    assert!(!broker.log().contains("Client site-hq disconnected"), "the site kept its connection");
    viewer.stop().await;
}
