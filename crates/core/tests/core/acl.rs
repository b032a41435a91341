//! The broker side written from a role table (`acl.rs`), loaded into a real Mosquitto:
//! it allows and refuses exactly what the roles say, and removing a user revokes them
//! into the "enrol again" state without a retry storm.

use mimamori_core::Secret;
use mimamori_core::acl::{RoleTable, mosquitto_password_line};
use mimamori_core::bus::{Bus, BusConfig, ConnectionPhase, ConnectionProblem};
use mimamori_sim::mosquitto::Mosquitto;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::time::Duration;

const TABLE: &str = r#"{"sites": ["hq", "shop"],
  "users": {"aiko": {"hq": "operator", "shop": "viewer"}, "ken": {"shop": "admin"}}}"#;

fn password(user: &str) -> String {
    format!("pw-of-{user}")
}

fn files(table: &RoleTable) -> (String, String) {
    let users = table.users.keys().cloned().chain(table.sites.iter().map(|s| format!("site-{s}")));
    let passwd: String =
        users.map(|u| mosquitto_password_line(&u, &Secret::new(password(&u))).unwrap() + "\n").collect();
    (passwd, table.mosquitto_acl().unwrap())
}

/// Publishes once as `user` and returns whether the broker accepted it.
async fn may_publish(broker: &Mosquitto, user: &str, topic: &str) -> bool {
    let mut opts = MqttOptions::new(format!("probe-{user}-{}", topic.len()), "127.0.0.1", broker.port);
    opts.set_credentials(user, password(user));
    let (client, mut events) = AsyncClient::new(opts, 8);
    client.publish(topic, QoS::AtLeastOnce, false, b"{}".to_vec()).await.unwrap();
    let verdict = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(ack))) => return ack.reason,
                Ok(_) => {}
                Err(e) => panic!("{user} could not connect: {e}"),
            }
        }
    })
    .await
    .expect("a PUBACK");
    matches!(verdict, PubAckReason::Success | PubAckReason::NoMatchingSubscribers)
}

#[tokio::test]
async fn the_acl_from_the_role_table_is_what_the_broker_enforces() {
    let table: RoleTable = serde_json::from_str(TABLE).unwrap();
    let (passwd, acl) = files(&table);
    let broker = Mosquitto::with_files(&passwd, &acl);
    let root = "mimamori/v1/sites";
    let cases = [
        ("aiko", format!("{root}/hq/commands/siren/aiko"), true), // operator on hq
        ("aiko", format!("{root}/hq/commands/light/aiko"), true),
        ("aiko", format!("{root}/hq/commands/lock/aiko"), false), // locks, relays, arming: admins
        ("aiko", format!("{root}/hq/commands/relay/aiko"), false),
        ("aiko", format!("{root}/hq/commands/arming/aiko"), false),
        ("aiko", format!("{root}/hq/commands/aiko"), false), // the topic without a class: admins
        ("aiko", format!("{root}/hq/ack/aiko"), true),
        ("aiko", format!("{root}/hq/roles/aiko"), false), // a role is the site's to say
        ("aiko", format!("{root}/shop/commands/siren/aiko"), false), // viewer on shop
        ("aiko", format!("{root}/shop/ack/aiko"), false),
        ("aiko", format!("{root}/shop/replay/aiko"), true), // viewers may ask for replay
        ("aiko", format!("{root}/hq/commands/siren/ken"), false), // never as somebody else
        ("aiko", format!("{root}/hq/status"), false),       // never as the site
        ("ken", format!("{root}/shop/commands/lock/ken"), true), // admin on shop
        ("ken", format!("{root}/shop/commands/arming/ken"), true),
        ("ken", format!("{root}/shop/commands/ken"), true),
        ("ken", format!("{root}/hq/commands/siren/ken"), false), // no role on hq
        ("site-hq", format!("{root}/hq/status"), true),
        ("site-hq", format!("{root}/shop/status"), false),
    ];
    for (user, topic, allowed) in cases {
        assert_eq!(may_publish(&broker, user, &topic).await, allowed, "{user} → {topic}\n{acl}");
    }
}

#[tokio::test]
async fn reading_follows_the_roles_and_revocation_stops_the_client() {
    let table: RoleTable = serde_json::from_str(TABLE).unwrap();
    let (passwd, acl) = files(&table);
    let mut broker = Mosquitto::with_files(&passwd, &acl);
    let mut sim = mimamori_sim::SimConfig::new(broker.address());
    sim.password = Some(Secret::new(password("site-hq")));
    sim.roles = table.roles_at("hq");
    let _hq = mimamori_sim::SimSite::start(mimamori_sim::demo::site("hq").unwrap(), sim.clone());
    sim.password = Some(Secret::new(password("site-shop")));
    sim.roles = table.roles_at("shop");
    let _shop = mimamori_sim::SimSite::start(mimamori_sim::demo::site("shop").unwrap(), sim);

    // ken asks for both sites but has a role on shop only.
    let mut config = BusConfig::new(broker.address(), "ken-phone", "ken", vec!["hq".into(), "shop".into()]);
    config.password = Some(Secret::new(password("ken")));
    let bus = Bus::start(config);
    let state = bus.state().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.view("shop").is_none_or(|v| v.summary.name.is_none()) {
        assert!(tokio::time::Instant::now() < deadline, "ken never saw shop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state.view("hq").unwrap().summary.name, None, "ken must not read hq");

    // The manager leaves: the administrator removes ken from the table and reloads.
    let mut revoked = table.clone();
    revoked.users.remove("ken");
    let (passwd, acl) = files(&revoked);
    broker.replace_files(&passwd, &acl);
    broker.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while state.connection().phase != ConnectionPhase::Stopped {
        assert!(tokio::time::Instant::now() < deadline, "ken kept trying: {:?}", state.connection());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state.connection().problem, Some(ConnectionProblem::NotAuthorized));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let refusals = broker.log().lines().filter(|l| l.contains("not authorised")).count();
    assert_eq!(refusals, 1, "one refusal, then silence:\n{}", broker.log());
}
