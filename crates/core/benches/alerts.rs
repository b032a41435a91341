//! Alert latency (`scripts/bench`): a site raises 1,000 alerts a second for ten seconds
//! through a real Mosquitto; each is measured from the moment it is raised to the moment
//! the core has committed it to the inbox on disk (SQLite, synchronous) and announced it
//! (`BusChange::Inbox`, what wakes the UI), and to the moment the notifier has worded it
//! and handed it to the platform's notification service ("notification requested"; the
//! policy set to notify every alert). The baseline, in the same run and on the same
//! alerts: a bare MQTT 5 subscriber that only receives them — the broker's own delivery
//! latency, with nothing stored.
//!
//! Prints a table (figure, baseline, ratio, target) and, with `--json FILE`, writes it.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark program: this is its output

mod common;

use common::{Row, ms, percentile};
use mimamori_core::Secret;
use mimamori_core::bus::{Bus, BusChange, BusConfig, ConnectionPhase};
use mimamori_core::inbox::Inbox;
use mimamori_core::lang::Lang;
use mimamori_core::notify::{self, Notice, Notifier, policy::Policy};
use mimamori_core::protocol::event::AlertKind;
use mimamori_core::protocol::topics;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimAlert, SimSite, demo};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: usize = 1000;
const SECONDS: usize = 10;
const TOTAL: usize = RATE * SECONDS;

/// Stands for the platform's service: notes when each notification is requested.
struct Timing(Arc<Mutex<Vec<Instant>>>);

impl Notifier for Timing {
    fn show(&self, _notice: Notice) {
        self.0.lock().unwrap().push(Instant::now());
    }

    fn close(&self, _incident: u64) {}
}

async fn run() -> Vec<Row> {
    let broker = Mosquitto::start();
    let sim = mimamori_sim::mosquitto::site_config(broker.address(), "hq");
    let hq = SimSite::start(demo::site("hq").expect("demo site"), sim);
    let dir = std::env::temp_dir().join(format!("mimamori-bench-alerts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let inbox = Arc::new(Inbox::open(&dir.join("alerts.db")).expect("inbox"));
    let mut config = BusConfig::new(broker.address(), "bench-core", "manager", vec!["hq".into()]);
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    let bus = Bus::start_with_inbox(config, Some(inbox.clone()));

    // Arrival times: the core's announcements, and the bare subscriber's publishes.
    let announced: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let requested: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let bare: Arc<Mutex<Vec<Instant>>> = Arc::default();
    // Every alert notified: no incidents merged, no cool-down.
    let every = Policy { incident_window_ms: 0, cooldown_ms: 0, quiet: None, repeat_ms: None };
    tokio::spawn(notify::run(
        tokio::sync::watch::channel(vec![bus.state().clone()]).1,
        inbox.clone(),
        Arc::new(Timing(requested.clone())),
        every,
        Lang::En,
        notify::system_clock(),
        tokio::sync::watch::channel(None).1,
    ));
    let mut changes = bus.state().subscribe();
    let a = announced.clone();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(BusChange::Inbox { .. }) => a.lock().unwrap().push(Instant::now()),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    panic!("the bench fell {n} behind")
                }
                Err(_) => break,
            }
        }
    });
    let mut opts = MqttOptions::new("bench-bare", "127.0.0.1", broker.port);
    opts.set_credentials("manager", PASSWORD);
    opts.set_keep_alive(Duration::from_secs(10));
    let (client, mut events) = AsyncClient::new(opts, 1024);
    client.subscribe(topics::events("hq"), QoS::AtLeastOnce).await.expect("subscribe");
    let b = bare.clone();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(_)) = ev {
                b.lock().unwrap().push(Instant::now());
            }
        }
    });
    let state = bus.state().clone();
    while state.connection().phase != ConnectionPhase::Connected {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    eprintln!("{TOTAL} alerts at {RATE}/s…");
    let mut raised = Vec::with_capacity(TOTAL);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..TOTAL {
        if i % (RATE / 100) == 0 {
            tick.tick().await;
        }
        raised.push(Instant::now());
        hq.raise(SimAlert {
            kind: AlertKind::Door,
            zone: Some("lobby".into()),
            title: format!("正面玄関 扉開放 #{i}"),
            cameras: vec!["entrance".into()],
            snapshot: None,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = || {
        announced.lock().unwrap().len() >= TOTAL
            && requested.lock().unwrap().len() >= TOTAL
            && bare.lock().unwrap().len() >= TOTAL
    };
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let announced = announced.lock().unwrap().clone();
    let requested = requested.lock().unwrap().clone();
    let bare = bare.lock().unwrap().clone();
    assert_eq!(announced.len(), TOTAL, "every alert stored and announced");
    assert_eq!(requested.len(), TOTAL, "every alert notified");
    assert_eq!(bare.len(), TOTAL, "every alert delivered to the bare subscriber");
    assert_eq!(inbox.event_count("hq").expect("count"), TOTAL as u64);
    assert_eq!(bus.state().stats().replayed, 0, "events in order, nothing replayed");
    let mut core: Vec<f64> = announced.iter().zip(&raised).map(|(a, r)| ms(*a - *r)).collect();
    let mut notified: Vec<f64> = requested.iter().zip(&raised).map(|(n, r)| ms(*n - *r)).collect();
    let mut base: Vec<f64> = bare.iter().zip(&raised).map(|(b, r)| ms(*b - *r)).collect();
    bus.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let (p50, p99) = (percentile(&mut core, 0.5), percentile(&mut core, 0.99));
    let (n50, n99) = (percentile(&mut notified, 0.5), percentile(&mut notified, 0.99));
    let (b50, b99) = (percentile(&mut base, 0.5), percentile(&mut base, 0.99));
    // Each figure beside the bare subscriber's at the same percentile; p99 has the target.
    let row = |what: &str, p: &str, value: f64, baseline: f64| Row {
        name: format!("alert raised → {what}, {p} ({RATE}/s)"),
        value,
        baseline_name: format!("bare MQTT delivery {p}"),
        baseline,
        unit: "ms",
        target: if p == "p99" { "≤ 50 ms".into() } else { "—".into() },
        met: p != "p99" || value <= 50.0,
    };
    vec![
        row("stored + announced", "p50", p50, b50),
        row("stored + announced", "p99", p99, b99),
        row("notification requested", "p50", n50, b50),
        row("notification requested", "p99", n99, b99),
    ]
}

fn main() {
    let json = common::json_path();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rows = rt.block_on(run());
    common::report(&rows, json);
}
