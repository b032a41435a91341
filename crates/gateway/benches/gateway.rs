//! The gateway's benchmark (`scripts/bench`): the release `mimamori-gateway` with 200
//! Zigbee2MQTT sensors and 16 cameras, between two real Mosquittos (the site's and the
//! central one). 100 device messages a second, each one an alert (a water leak at the next
//! of the 200 sensors, which is reset in between), for ten seconds; each is measured from
//! its publish on the site's broker to the arrival of the site's event on the central
//! broker. The baseline, in the same run on the same messages: a bare MQTT relay that
//! republishes each device message from the site's broker to the central one unchanged —
//! the brokers' and the network's share, with no engine, no store and no rules. Then the
//! gateway's memory: its peak resident set under that load, against its own right after
//! start.
//!
//! Prints a table (figure, baseline, ratio, target) and, with `--json FILE`, writes it.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark program: this is its output

#[path = "../../core/benches/common/mod.rs"]
mod common;

use common::{Row, ms, percentile};
use mimamori_sim::mosquitto::Mosquitto;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: usize = 100;
const SECONDS: usize = 10;
const TOTAL: usize = RATE * SECONDS;
const SENSORS: usize = 200;
const CAMERAS: usize = 16;
const PASSWORD: &str = "bench-pass";

fn client(name: &str, port: u16) -> (AsyncClient, EventLoop) {
    let mut opts = MqttOptions::new(name, "127.0.0.1", port);
    opts.set_credentials("bench", PASSWORD);
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_max_packet_size(Some(1 << 20));
    AsyncClient::new(opts, 4096)
}

/// Arrival times of publishes on `topic`.
async fn arrivals(port: u16, name: &str, topic: &str) -> (AsyncClient, Arc<Mutex<Vec<Instant>>>) {
    let (c, mut events) = client(name, port);
    c.subscribe(topic, QoS::AtLeastOnce).await.expect("subscribe");
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev
                && !p.retain
            {
                s.lock().unwrap().push(Instant::now());
            }
        }
    });
    (c, seen)
}

/// Peak and current resident set of a process, in MB.
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the gateway's status");
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
}

fn config(dir: &std::path::Path, central: u16, local: u16) -> String {
    let mut c = format!(
        "[site]\nid = \"hq\"\nname = \"Bench\"\ntime_zone = \"UTC\"\nstore = \"{}\"\n\n\
         [central]\nurl = \"mqtt://127.0.0.1:{central}\"\nuser = \"site-hq\"\n\n\
         [local]\nurl = \"mqtt://127.0.0.1:{local}\"\nuser = \"bench\"\n\n",
        dir.join("hq.db").display()
    );
    for i in 0..CAMERAS {
        let _ = write!(
            c,
            "[[camera]]\nid = \"cam{i}\"\nname = \"Camera {i}\"\nmain = \"rtsp://127.0.0.1:9/{i}\"\n\n"
        );
    }
    for i in 0..SENSORS {
        let _ = write!(c, "[[sensor]]\ndevice = \"leak{i}\"\nname = \"Sensor {i}\"\ncooldown_s = 0\n\n");
    }
    c
}

async fn run() -> Vec<Row> {
    let acl = "user bench\ntopic readwrite #\nuser site-hq\ntopic readwrite #\n";
    let users = [("bench", PASSWORD), ("site-hq", PASSWORD)];
    let central = Mosquitto::with_users(&users, acl);
    let local = Mosquitto::with_users(&users, acl);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("gateway.toml"), config(dir.path(), central.plain_port, local.plain_port))
        .expect("config");
    let secrets = dir.path().join("secrets");
    std::fs::write(&secrets, format!("central-password = \"{PASSWORD}\"\nlocal-password = \"{PASSWORD}\"\n"))
        .expect("secrets");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let (_events_sub, events) =
        arrivals(central.plain_port, "bench-events", "mimamori/v1/sites/hq/events").await;
    let (_relay_sub, relayed) = arrivals(central.plain_port, "bench-relayed", "relay/#").await;
    // The bare relay: device messages from the site's broker to the central one, unchanged.
    let (up, mut up_events) = client("bench-relay-out", central.plain_port);
    let (down, mut down_events) = client("bench-relay-in", local.plain_port);
    down.subscribe("zigbee2mqtt/+", QoS::AtLeastOnce).await.expect("subscribe");
    tokio::spawn(async move { while up_events.poll().await.is_ok() {} });
    tokio::spawn(async move {
        while let Ok(ev) = down_events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev
                && p.payload.starts_with(br#"{"water_leak":true"#)
            {
                let topic = format!("relay/{}", String::from_utf8_lossy(&p.topic));
                let _ = up.publish(topic, QoS::AtLeastOnce, false, p.payload).await;
            }
        }
    });

    let mut gateway = std::process::Command::new(env!("CARGO_BIN_EXE_mimamori-gateway"))
        .arg("run")
        .arg(dir.path().join("gateway.toml"))
        .arg("--secrets")
        .arg(&secrets)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the gateway");
    // Online: its retained status on the central broker.
    let (_status, status) =
        arrivals(central.plain_port, "bench-status", "mimamori/v1/sites/hq/catalog").await;
    let started = Instant::now();
    while status.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, idle_rss) = rss_mb(gateway.id());

    let (device, mut device_events) = client("bench-device", local.plain_port);
    tokio::spawn(async move { while device_events.poll().await.is_ok() {} });
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!("{TOTAL} device messages at {RATE}/s to {SENSORS} sensors, {CAMERAS} cameras…");
    let mut sent = Vec::with_capacity(TOTAL);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE as u64));
    for i in 0..TOTAL {
        tick.tick().await;
        let topic = format!("zigbee2mqtt/leak{}", i % SENSORS);
        sent.push(Instant::now());
        device
            .publish(&topic, QoS::AtLeastOnce, false, r#"{"water_leak":true,"battery":97}"#)
            .await
            .expect("publish");
        // Dry again, long before the sensor's next turn (not measured: no alert).
        device
            .publish(&topic, QoS::AtLeastOnce, false, r#"{"water_leak":false,"battery":97}"#)
            .await
            .expect("publish");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (events.lock().unwrap().len() < TOTAL || relayed.lock().unwrap().len() < TOTAL)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (peak_rss, _) = rss_mb(gateway.id());
    let _ = gateway.kill();
    let _ = gateway.wait();
    let events = events.lock().unwrap().clone();
    let relayed = relayed.lock().unwrap().clone();
    assert_eq!(events.len(), TOTAL, "every device message became an event");
    assert_eq!(relayed.len(), TOTAL, "every device message relayed");
    let mut gw: Vec<f64> = events.iter().zip(&sent).map(|(a, s)| ms(*a - *s)).collect();
    let mut bare: Vec<f64> = relayed.iter().zip(&sent).map(|(a, s)| ms(*a - *s)).collect();
    let (p50, p99) = (percentile(&mut gw, 0.5), percentile(&mut gw, 0.99));
    let (b50, b99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
    let row = |p: &str, value: f64, baseline: f64| Row {
        name: format!("device message → site event, {p} ({RATE}/s)"),
        value,
        baseline_name: format!("bare MQTT relay {p}"),
        baseline,
        unit: "ms",
        target: "—".into(),
        met: true,
    };
    vec![
        row("p50", p50, b50),
        row("p99", p99, b99),
        Row {
            name: format!("gateway peak RSS, {SENSORS} sensors + {CAMERAS} cameras"),
            value: peak_rss,
            baseline_name: "the gateway idle, after start".into(),
            baseline: idle_rss,
            unit: "MB",
            target: "≤ 30 MB".into(),
            met: peak_rss <= 30.0,
        },
    ]
}

fn main() {
    let json = common::json_path();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rows = rt.block_on(run());
    common::report(&rows, json);
}
