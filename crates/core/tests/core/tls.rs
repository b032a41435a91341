//! TLS to a real Mosquitto listener with certificates made here: the enrolled CA's
//! certificate for the right host connects; another CA's, an expired one and one for
//! another host are refused, every time, with no way around it.

use mimamori_core::Secret;
use mimamori_core::bus::{Bus, BusConfig, BusState, ConnectionPhase, ConnectionProblem};
use mimamori_sim::mosquitto::Mosquitto;
use mimamori_sim::testing::TestCa;
use std::time::Duration;

const ACL: &str = "user aiko\ntopic read mimamori/v1/sites/hq/#\n";
const PASSWORD: &str = "CANARY-tls-pw";

fn connect(broker: &Mosquitto, ca_pem: &str) -> Bus {
    let address = format!("mqtts://localhost:{}", broker.port).parse().unwrap();
    let mut config = BusConfig::new(address, "test-tls", "aiko", vec!["hq".into()]);
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    config.broker_ca = Some(ca_pem.to_owned());
    Bus::start(config)
}

async fn outcome(state: &BusState) -> (ConnectionPhase, Option<ConnectionProblem>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = state.connection();
        if c.phase == ConnectionPhase::Connected
            || c.problem.is_some()
            || tokio::time::Instant::now() > deadline
        {
            return (c.phase, c.problem);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn broker_with(cert: &(String, String)) -> Mosquitto {
    Mosquitto::with_tls(&[("aiko", PASSWORD)], ACL, &cert.0, &cert.1)
}

#[tokio::test]
async fn the_enrolled_ca_connects_encrypted() {
    let ours = TestCa::new("Example Co. broker CA");
    let broker = broker_with(&ours.server("localhost", (2024, 2099)));
    let bus = connect(&broker, &ours.pem);
    assert_eq!(outcome(bus.state()).await, (ConnectionPhase::Connected, None), "{}", broker.log());
    assert!(bus.state().connection().encrypted);
}

#[tokio::test]
async fn another_cas_certificate_is_refused() {
    let ours = TestCa::new("Example Co. broker CA");
    let theirs = TestCa::new("Intercepting proxy CA");
    let broker = broker_with(&theirs.server("localhost", (2024, 2099)));
    let bus = connect(&broker, &ours.pem);
    assert_eq!(outcome(bus.state()).await.1, Some(ConnectionProblem::Certificate));
    assert!(!broker.log().contains("aiko"), "credentials were sent to an untrusted server");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let ours = TestCa::new("Example Co. broker CA");
    let broker = broker_with(&ours.server("localhost", (2020, 2021)));
    let bus = connect(&broker, &ours.pem);
    assert_eq!(outcome(bus.state()).await.1, Some(ConnectionProblem::Certificate));
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    let ours = TestCa::new("Example Co. broker CA");
    let broker = broker_with(&ours.server("broker.elsewhere.example", (2024, 2099)));
    let bus = connect(&broker, &ours.pem);
    assert_eq!(outcome(bus.state()).await.1, Some(ConnectionProblem::Certificate));
    // It stays refused: a retry meets the same certificate and the same answer.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let c = bus.state().connection();
    assert_ne!(c.phase, ConnectionPhase::Connected);
    assert_eq!(c.problem, Some(ConnectionProblem::Certificate));
}

#[tokio::test]
async fn an_unusable_enrolled_ca_stops_before_connecting() {
    let ours = TestCa::new("Example Co. broker CA");
    let broker = broker_with(&ours.server("localhost", (2024, 2099)));
    let bus = connect(&broker, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_eq!(outcome(bus.state()).await, (ConnectionPhase::Stopped, Some(ConnectionProblem::Certificate)));
}
