//! Commands against a real Mosquitto with ACLs written from a role table, and simulated
//! sites that execute them: the core refuses what the role does not allow, the broker
//! refuses what the ACL does not allow, the audit log comes first, and nothing is ever
//! shown as done unless the site said so.

use mimamori_core::Secret;
use mimamori_core::acl::{RoleTable, mosquitto_password_line};
use mimamori_core::audit::Audit;
use mimamori_core::bus::{Bus, BusConfig, BusState, Reply};
use mimamori_core::control::{self, Action, Command, ControlError, Outcome, Target};
use mimamori_core::pin::DevicePin;
use mimamori_core::protocol::OutputValue;
use mimamori_core::protocol::command::CommandClass;
use mimamori_core::protocol::role::Role;
use mimamori_core::vault::MemoryStore;
use mimamori_sim::mosquitto::Mosquitto;
use mimamori_sim::{SimConfig, SimSite, demo};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const TABLE: &str = r#"{"sites": ["hq", "shop"],
  "users": {"ken": {"hq": "operator"}, "mari": {"hq": "admin", "shop": "admin"}}}"#;
const TIMEOUT: Duration = Duration::from_secs(3);

fn password(user: &str) -> String {
    format!("pw-of-{user}")
}

fn broker() -> Mosquitto {
    let table = table();
    let users = table.users.keys().cloned().chain(table.sites.iter().map(|s| format!("site-{s}")));
    let passwd: String =
        users.map(|u| mosquitto_password_line(&u, &Secret::new(password(&u))).unwrap() + "\n").collect();
    Mosquitto::with_files(&passwd, &table.mosquitto_acl().unwrap())
}

fn table() -> RoleTable {
    serde_json::from_str(TABLE).unwrap()
}

/// A site of the test broker, with its column of the roles table.
fn site_config(broker: &Mosquitto, id: &str) -> SimConfig {
    let mut config = SimConfig::new(broker.address());
    config.password = Some(Secret::new(password(&format!("site-{id}"))));
    config.roles = table().roles_at(id);
    config
}

fn site(broker: &Mosquitto, id: &str, broken: &[&str]) -> SimSite {
    let mut config = site_config(broker, id);
    config.broken_outputs = broken.iter().map(|s| (*s).to_owned()).collect();
    SimSite::start(demo::site(id).unwrap(), config)
}

fn client(broker: &Mosquitto, user: &str, sites: &[&str]) -> Bus {
    let mut config = BusConfig::new(
        broker.address(),
        &format!("test-{user}"),
        user,
        sites.iter().map(|s| (*s).to_owned()).collect(),
    );
    config.password = Some(Secret::new(password(user)));
    Bus::start(config)
}

async fn ready(bus: &BusState, site: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(bus.connection().phase.is_connected()
        && bus.view(site).is_some_and(|v| v.summary.name.is_some() && !v.outputs.is_empty()))
    {
        assert!(tokio::time::Instant::now() < deadline, "site {site} never ready: {:?}", bus.connection());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn output_becomes(bus: &BusState, site: &str, output: &str, value: OutputValue) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let o = bus.view(site).and_then(|v| v.outputs.into_iter().find(|o| o.id == output));
        if let Some(o) = o.filter(|o| o.state == Some(value)) {
            return o.by;
        }
        assert!(tokio::time::Instant::now() < deadline, "{site}/{output} never became {value:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audit() -> (Audit, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("mimamori-control-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.log");
    (Audit::open(&path).unwrap(), path)
}

fn command(site: &str, target: Target, action: Action) -> Command {
    Command { site: site.into(), target, action, note: Some("試験".into()) }
}

#[tokio::test]
async fn an_operator_sounds_the_siren_but_cannot_unlock_nor_touch_another_site() {
    let broker = broker();
    let _hq = site(&broker, "hq", &[]);
    let _shop = site(&broker, "shop", &[]);
    let ken = client(&broker, "ken", &["hq"]);
    ready(ken.state(), "hq").await;
    let (audit, path) = audit();

    let siren = command("hq", Target::Output("siren".into()), Action::On);
    let outcome = control::send(ken.state(), &audit, "ken", siren, None, TIMEOUT).await.unwrap();
    assert_eq!(outcome, Outcome::Done { state: Some("on".into()) });
    // The retained state says who did it.
    assert_eq!(output_becomes(ken.state(), "hq", "siren", OutputValue::On).await.as_deref(), Some("ken"));

    // Unlocking is beyond an operator: the core refuses and nothing is sent.
    let unlock = command("hq", Target::Output("door".into()), Action::Unlock);
    let err = control::send(ken.state(), &audit, "ken", unlock, None, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, ControlError::NotPermitted { .. }), "{err}");
    // Arming too.
    let arm = command("hq", Target::Site, Action::Arm);
    assert!(matches!(
        control::send(ken.state(), &audit, "ken", arm, None, TIMEOUT).await,
        Err(ControlError::NotPermitted { .. })
    ));

    // Site B is not ken's: the core does not know it, and the broker refuses a command sent
    // around the core.
    let shop = command("shop", Target::Output("siren".into()), Action::On);
    assert!(matches!(
        control::send(ken.state(), &audit, "ken", shop, None, TIMEOUT).await,
        Err(ControlError::UnknownSite(_))
    ));
    let raw = br#"{"v":1,"request_id":"r-bypass","target":{"output":"siren"},"action":"on"}"#.to_vec();
    let reply = ken.state().request("shop", CommandClass::Siren, "r-bypass", raw, 3).unwrap();
    match tokio::time::timeout(TIMEOUT, reply).await {
        Ok(Ok(Reply::Refused(reason))) => assert!(reason.contains("not allow"), "{reason}"),
        other => panic!("the broker should refuse: {other:?}"),
    }

    // The log holds every attempt, in order, and verifies.
    let records = Audit::records(&path).unwrap();
    let summary: Vec<(String, String, String)> =
        records.iter().map(|r| (r.target.clone(), r.action.clone(), r.outcome.clone())).collect();
    assert_eq!(
        summary,
        [
            ("output:siren".into(), "on".into(), "sent".into()),
            ("output:siren".into(), "on".into(), "done".into()),
            ("output:door".into(), "unlock".into(), "refused".into()),
            ("site".into(), "arm".into(), "refused".into()),
            ("output:siren".into(), "on".into(), "refused".into()),
        ]
    );
    assert!(records.iter().all(|r| r.user == "ken" && r.note.as_deref() == Some("試験")));
}

#[tokio::test]
async fn an_admin_unlocks_a_door_that_takes_its_time_and_arms_the_site() {
    let broker = broker();
    let _hq = site(&broker, "hq", &["light"]);
    let mari = client(&broker, "mari", &["hq"]);
    ready(mari.state(), "hq").await;
    let (audit, _) = audit();
    // Unlocking lowers protection: the core sends it only with a proof of the app PIN, and
    // one proof is good for one such command.
    let pin = DevicePin::new(Arc::new(MemoryStore::default()));
    let unlock = || command("hq", Target::Output("door".into()), Action::Pulse { seconds: 1 });
    let send_proven = |cmd| control::send(mari.state(), &audit, "mari", cmd, Some(&pin), TIMEOUT);
    assert!(matches!(send_proven(unlock()).await, Err(ControlError::ProofNeeded)));
    pin.set("482913").unwrap();
    assert_eq!(send_proven(unlock()).await.unwrap(), Outcome::Done { state: Some("unlocked".into()) });
    assert!(matches!(send_proven(unlock()).await, Err(ControlError::ProofNeeded)), "a proof is used up");
    let send = |cmd| control::send(mari.state(), &audit, "mari", cmd, None, TIMEOUT);
    output_becomes(mari.state(), "hq", "door", OutputValue::Unlocked).await;
    // The pulse ends by itself: locked again.
    output_becomes(mari.state(), "hq", "door", OutputValue::Locked).await;

    // A broken output fails, and says so.
    let light = command("hq", Target::Output("light".into()), Action::On);
    assert!(matches!(send(light).await.unwrap(), Outcome::Failed { .. }));

    let arm = command("hq", Target::Site, Action::Arm);
    assert_eq!(send(arm).await.unwrap(), Outcome::Done { state: Some("armed".into()) });
}

#[tokio::test]
async fn a_site_that_does_not_answer_leaves_the_command_unconfirmed() {
    let broker = broker();
    let hq = site(&broker, "hq", &[]);
    let mari = client(&broker, "mari", &["hq"]);
    ready(mari.state(), "hq").await;
    hq.kill().await;
    let (audit, path) = audit();
    let siren = command("hq", Target::Output("siren".into()), Action::On);
    let outcome =
        control::send(mari.state(), &audit, "mari", siren, None, Duration::from_secs(2)).await.unwrap();
    assert_eq!(outcome, Outcome::Unconfirmed);
    assert_eq!(Audit::records(&path).unwrap().last().unwrap().outcome, "unconfirmed");
}

#[tokio::test]
async fn no_audit_log_no_command() {
    let broker = broker();
    let _hq = site(&broker, "hq", &[]);
    let mari = client(&broker, "mari", &["hq"]);
    ready(mari.state(), "hq").await;
    let (audit, path) = audit();
    // The disk goes away under the log.
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let siren = command("hq", Target::Output("siren".into()), Action::On);
    let err = control::send(mari.state(), &audit, "mari", siren, None, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, ControlError::Audit(_)), "{err}");
    // Nothing was sent: the siren stays off.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let siren = mari.state().view("hq").unwrap().outputs.into_iter().find(|o| o.id == "siren").unwrap();
    assert_eq!(siren.state, Some(OutputValue::Off));
}

#[tokio::test]
async fn a_denied_by_the_site_is_never_shown_as_done() {
    let broker = broker();
    let _hq = site(&broker, "hq", &[]);
    let mari = client(&broker, "mari", &["hq"]);
    ready(mari.state(), "hq").await;
    // Bypassing the core's catalog check, an action that does not fit: the site denies it.
    let raw = br#"{"v":1,"request_id":"r-misfit","target":{"output":"door"},"action":"on"}"#.to_vec();
    let reply = mari.state().request("hq", CommandClass::Lock, "r-misfit", raw, 3).unwrap();
    match tokio::time::timeout(TIMEOUT, reply).await {
        Ok(Ok(Reply::Response(r))) => assert_eq!(r.outcome, "denied"),
        other => panic!("the site should deny: {other:?}"),
    }
}

/// A raw MQTT 5 client as `user`, as anybody with the user's password could write one:
/// its events, to read PUBACKs and what arrives on its subscriptions.
async fn raw(broker: &Mosquitto, user: &str) -> (rumqttc::v5::AsyncClient, rumqttc::v5::EventLoop) {
    let address = broker.address();
    let mut options = rumqttc::v5::MqttOptions::new(format!("raw-{user}"), address.host, address.port);
    options.set_credentials(user, password(user));
    let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 16);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.poll()).await.unwrap().unwrap();
        if matches!(event, rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::ConnAck(_))) {
            return (client, events);
        }
    }
}

/// The PUBACK reason of the next PUBACK, and every PUBLISH that arrived meanwhile.
async fn next_puback(
    events: &mut rumqttc::v5::EventLoop,
) -> (rumqttc::v5::mqttbytes::v5::PubAckReason, Vec<String>) {
    use rumqttc::v5::mqttbytes::v5::Packet;
    let mut arrived = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.poll()).await.unwrap().unwrap() {
            rumqttc::v5::Event::Incoming(Packet::PubAck(ack)) => return (ack.reason, arrived),
            rumqttc::v5::Event::Incoming(Packet::Publish(p)) => {
                arrived.push(String::from_utf8_lossy(&p.topic).into_owned())
            }
            _ => {}
        }
    }
}

/// What arrives on the raw client's subscriptions within `wait`: topic and payload.
async fn arrivals(events: &mut rumqttc::v5::EventLoop, wait: Duration) -> Vec<(String, String)> {
    use rumqttc::v5::mqttbytes::v5::Packet;
    let mut arrived = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        while let Ok(event) = events.poll().await {
            if let rumqttc::v5::Event::Incoming(Packet::Publish(p)) = event {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                arrived.push((text(&p.topic), text(&p.payload)));
            }
        }
    })
    .await;
    arrived
}

#[tokio::test]
async fn a_site_answers_only_on_its_own_level_of_the_asking_users_tree() {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::{PubAckReason, PublishProperties};
    let broker = broker();
    let _hq = site(&broker, "hq", &[]);
    let _shop = site(&broker, "shop", &[]);
    let watcher = client(&broker, "ken", &["hq"]);
    ready(watcher.state(), "hq").await;
    let (mari, mut events) = raw(&broker, "mari").await;
    mari.subscribe("mimamori/v1/clients/mari/#", QoS::AtLeastOnce).await.unwrap();
    let command =
        |id: &str| format!(r#"{{"v":1,"request_id":"{id}","target":{{"output":"siren"}},"action":"on"}}"#);
    let ask = |response_topic: &str, id: &str| {
        let properties = PublishProperties {
            response_topic: Some(response_topic.to_owned()),
            correlation_data: Some(id.as_bytes().to_vec().into()),
            message_expiry_interval: Some(10),
            ..PublishProperties::default()
        };
        mari.publish_with_properties(
            "mimamori/v1/sites/hq/commands/siren/mari",
            QoS::AtLeastOnce,
            false,
            command(id),
            properties,
        )
    };
    // Requests naming a topic that is not hq's level of mari's own tree: the broker takes
    // them (mari may command hq), the site drops them — the siren stays off.
    for (i, foreign) in [
        "mimamori/v1/sites/hq/status",
        "mimamori/v1/clients/ken/test-ken/responses/hq",
        "mimamori/v1/clients/mari/raw-mari/responses/shop",
        "mimamori/v1/clients/mari/raw-mari/responses",
    ]
    .iter()
    .enumerate()
    {
        ask(foreign, &format!("r-foreign-{i}")).await.unwrap();
        assert_eq!(next_puback(&mut events).await.0, PubAckReason::Success);
    }
    let arrived = arrivals(&mut events, Duration::from_secs(2)).await;
    assert!(arrived.is_empty(), "the site answered a foreign response topic: {arrived:?}");
    let siren = watcher.state().view("hq").unwrap().outputs.into_iter().find(|o| o.id == "siren").unwrap();
    assert_eq!(siren.state, Some(OutputValue::Off), "a dropped request was executed");
    // The same request naming hq's level of mari's tree: executed and answered there.
    ask("mimamori/v1/clients/mari/raw-mari/responses/hq", "r-own").await.unwrap();
    let arrived = arrivals(&mut events, Duration::from_secs(2)).await;
    let topics: Vec<&str> = arrived.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(topics, ["mimamori/v1/clients/mari/raw-mari/responses/hq"]);
    output_becomes(watcher.state(), "hq", "siren", OutputValue::On).await;

    // Another site cannot answer for hq: the broker refuses shop's write to hq's level.
    let (shop, mut shop_events) = raw(&broker, "site-shop").await;
    let forged = r#"{"v":1,"request_id":"r-own","outcome":"done","state":"unlocked"}"#;
    shop.publish("mimamori/v1/clients/mari/raw-mari/responses/hq", QoS::AtLeastOnce, false, forged)
        .await
        .unwrap();
    assert_eq!(next_puback(&mut shop_events).await.0, PubAckReason::NotAuthorized);
    shop.publish("mimamori/v1/clients/mari/raw-mari/responses/shop", QoS::AtLeastOnce, false, forged)
        .await
        .unwrap();
    assert_eq!(next_puback(&mut shop_events).await.0, PubAckReason::Success, "its own level it may write");
}

/// One PUBLISH as `mosquitto_pub` sends it, as `user` with its own password, asking for an
/// answer on its own tree at `site`'s level: the PUBACK's reason code (135: not authorised).
fn mosquitto_pub(broker: &Mosquitto, user: &str, topic: &str, body: &str, id: &str) -> u8 {
    let address = broker.address();
    let out = std::process::Command::new("mosquitto_pub")
        .args(["-V", "5", "-h", &address.host, "-p", &address.port.to_string(), "-u", user])
        .args(["-P", &password(user), "-i", &format!("pub-{user}"), "-q", "1", "-d", "-t", topic, "-m", body])
        .args([
            "-D",
            "publish",
            "response-topic",
            &format!("mimamori/v1/clients/{user}/pub-{user}/responses/hq"),
        ])
        .args(["-D", "publish", "correlation-data", id, "-D", "publish", "message-expiry-interval", "10"])
        .output()
        .expect("mosquitto_pub (scripts/install-deps --test)");
    let text = String::from_utf8_lossy(&out.stdout);
    let code = text.split("received PUBACK").nth(1).and_then(|r| r.split("RC:").nth(1));
    code.and_then(|c| c.split(')').next()?.parse().ok()).unwrap_or_else(|| panic!("no PUBACK: {text}"))
}

/// An operator whose device claims to be an admin (an edited profile, `MIMAMORI_ROLE=admin`)
/// is shown the role the site enforces and is refused by the core; writing to every
/// commands topic with its own password (`mosquitto_pub`), it is refused by the broker or
/// by the site. The door stays locked and the site stays armed.
#[tokio::test]
async fn an_operator_claiming_to_be_admin_cannot_unlock_pulse_a_lock_or_disarm() {
    let broker = broker();
    let _hq = site(&broker, "hq", &[]);
    let mut config = BusConfig::new(broker.address(), "test-ken", "ken", vec!["hq".into()]);
    config.password = Some(Secret::new(password("ken")));
    config.roles = std::collections::BTreeMap::from([("hq".to_owned(), Role::Admin)]);
    let ken = Bus::start(config);
    let bus = ken.state();
    ready(bus, "hq").await;
    let before = bus.view("hq").unwrap();
    assert_eq!((before.summary.role, before.summary.role_from_site), (Some(Role::Operator), true));
    let (audit, _) = audit();
    for (target, action) in [
        (Target::Output("door".into()), Action::Unlock),
        (Target::Output("door".into()), Action::Pulse { seconds: 5 }),
        (Target::Site, Action::Disarm),
    ] {
        let refused = control::send(bus, &audit, "ken", command("hq", target, action), None, TIMEOUT).await;
        assert!(matches!(refused, Err(ControlError::NotPermitted { role: "operator", .. })), "{refused:?}");
    }

    let (watch, mut events) = raw(&broker, "ken").await;
    watch.subscribe("mimamori/v1/clients/ken/#", rumqttc::v5::mqttbytes::QoS::AtLeastOnce).await.unwrap();
    let bodies = [
        r#""target":{"output":"door"},"action":"unlock""#,
        r#""target":{"output":"door"},"action":"pulse","seconds":5"#,
        r#""target":{"site":true},"action":"disarm""#,
    ];
    let mut let_through = Vec::new();
    for level in ["siren/", "light/", "lock/", "relay/", "arming/", ""] {
        for (n, body) in bodies.iter().enumerate() {
            let id = format!("r-claim-{}{n}", level.trim_end_matches('/'));
            let topic = format!("mimamori/v1/sites/hq/commands/{level}ken");
            let code = mosquitto_pub(
                &broker,
                "ken",
                &topic,
                &format!(r#"{{"v":1,"request_id":"{id}",{body}}}"#),
                &id,
            );
            if code != 135 {
                let_through.push(id);
            }
        }
    }
    // The broker lets an operator write only the siren and light topics ...
    assert_eq!(let_through.len(), 6, "{let_through:?}");
    assert!(let_through.iter().all(|id| id.starts_with("r-claim-siren") || id.starts_with("r-claim-light")));
    // ... where the site refuses a lock or the arming: it checks the class and the role.
    let answers = arrivals(&mut events, Duration::from_secs(3)).await;
    assert_eq!(answers.len(), 6, "{answers:?}");
    assert!(answers.iter().all(|(_, a)| a.contains(r#""outcome":"denied""#)), "{answers:?}");
    let after = bus.view("hq").unwrap();
    let door = after.outputs.iter().find(|o| o.id == "door").unwrap();
    assert_eq!((door.state, door.by.as_deref()), (Some(OutputValue::Locked), None));
    assert_eq!(after.summary.armed, before.summary.armed);
}

/// An older client, sending on the commands topic without a class: its admins go on
/// working, its operators are refused by the broker (and would be by the site).
#[tokio::test]
async fn the_commands_topic_without_a_class_serves_admins_only() {
    let broker = broker();
    let hq = site(&broker, "hq", &[]);
    let watcher = client(&broker, "mari", &["hq"]);
    ready(watcher.state(), "hq").await;
    let (mari, mut events) = raw(&broker, "mari").await;
    mari.subscribe("mimamori/v1/clients/mari/#", rumqttc::v5::mqttbytes::QoS::AtLeastOnce).await.unwrap();
    let siren = r#"{"v":1,"request_id":"r-old-1","target":{"output":"siren"},"action":"on"}"#;
    assert_eq!(mosquitto_pub(&broker, "ken", "mimamori/v1/sites/hq/commands/ken", siren, "r-old-1"), 135);
    assert_ne!(mosquitto_pub(&broker, "mari", "mimamori/v1/sites/hq/commands/mari", siren, "r-old-1"), 135);
    let answers = arrivals(&mut events, Duration::from_secs(2)).await;
    assert!(
        answers.iter().any(|(_, a)| a.contains("r-old-1") && a.contains(r#""outcome":"done""#)),
        "{answers:?}"
    );
    assert_eq!(
        output_becomes(watcher.state(), "hq", "siren", OutputValue::On).await.as_deref(),
        Some("mari")
    );
    drop(hq);
}

/// A site with its own clock, beating every 3 s or so.
fn site_with_clock(broker: &Mosquitto, id: &str, offset_ms: i64, trusted: bool) -> SimSite {
    let mut spec = demo::site(id).unwrap();
    spec.catalog.supervision_s = 10;
    let mut config = site_config(broker, id);
    config.clock_offset_ms = offset_ms;
    config.clock_trusted = trusted;
    SimSite::start(spec, config)
}

#[tokio::test]
async fn a_site_whose_clock_is_hours_off_executes_fresh_commands_and_refuses_stale_ones() {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::PublishProperties;
    const HOURS: i64 = 3 * 3600 * 1000;
    let broker = broker();
    let _hq = site_with_clock(&broker, "hq", HOURS, true);
    let _shop = site_with_clock(&broker, "shop", 0, false);
    let mari = client(&broker, "mari", &["hq", "shop"]);
    let bus = mari.state();
    ready(bus, "hq").await;
    ready(bus, "shop").await;
    // The client learns hq's clock from a live heartbeat: three hours ahead, and early.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while bus.site_clock_ms("hq").is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no live heartbeat with a time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let local = i64::try_from(mimamori_core::time::now_ms()).unwrap();
    let estimate = i64::try_from(bus.site_clock_ms("hq").unwrap()).unwrap();
    assert!((HOURS - 2_000..=HOURS).contains(&(estimate - local)), "estimated {} ms ahead", estimate - local);
    assert_eq!(bus.site_clock_ms("shop"), None, "a site without a trusted clock sends no time");

    // A fresh command carries a deadline on hq's clock and is executed.
    let (audit, _path) = audit();
    let siren =
        |action| Command { site: "hq".into(), target: Target::Output("siren".into()), action, note: None };
    let done = control::send(bus, &audit, "mari", siren(Action::On), None, TIMEOUT).await.unwrap();
    assert!(matches!(done, Outcome::Done { .. }), "{done:?}");

    // A command whose deadline on hq's clock has passed, though its relative expiry has
    // not (held back, replayed): expired, and the siren stays on.
    let (raw_mari, mut events) = raw(&broker, "mari").await;
    raw_mari.subscribe("mimamori/v1/clients/mari/#", QoS::AtLeastOnce).await.unwrap();
    let stale_deadline = bus.site_clock_ms("hq").unwrap() - 60_000;
    let ask = |site: &str, id: &str, deadline: u64| {
        let properties = PublishProperties {
            response_topic: Some(format!("mimamori/v1/clients/mari/raw-mari/responses/{site}")),
            correlation_data: Some(id.as_bytes().to_vec().into()),
            message_expiry_interval: Some(10),
            ..PublishProperties::default()
        };
        let body = format!(
            r#"{{"v":1,"request_id":"{id}","target":{{"output":"siren"}},"action":"off","deadline_ms":{deadline}}}"#
        );
        raw_mari.publish_with_properties(
            format!("mimamori/v1/sites/{site}/commands/siren/mari"),
            QoS::AtLeastOnce,
            false,
            body,
            properties,
        )
    };
    ask("hq", "r-stale", stale_deadline).await.unwrap();
    let heard = arrivals(&mut events, Duration::from_secs(2)).await;
    assert!(heard.iter().any(|(_, a)| a.contains("r-stale") && a.contains("expired")), "{heard:?}");
    let siren_state = bus.view("hq").unwrap().outputs.into_iter().find(|o| o.id == "siren").unwrap().state;
    assert_eq!(siren_state, Some(OutputValue::On), "a stale command was executed");

    // A site without a trustworthy clock cannot check a deadline, so does not act on one;
    // the client, which knows no clock of it, sends none, and its commands go through.
    ask("shop", "r-unsure", u64::MAX / 2).await.unwrap();
    let heard = arrivals(&mut events, Duration::from_secs(2)).await;
    assert!(
        heard.iter().any(|(_, a)| a.contains("r-unsure") && a.contains("no trustworthy clock")),
        "{heard:?}"
    );
    let shop_siren = Command {
        site: "shop".into(),
        target: Target::Output("siren".into()),
        action: Action::On,
        note: None,
    };
    let done = control::send(bus, &audit, "mari", shop_siren, None, TIMEOUT).await.unwrap();
    assert!(matches!(done, Outcome::Done { .. }), "{done:?}");
}
