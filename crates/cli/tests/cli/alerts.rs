//! `mimamori watch` stores and prints alerts as they arrive; `mimamori alerts` lists what
//! is stored on this device, from any earlier run.

use mimamori_core::protocol::event::AlertKind;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::{SimAlert, SimSite, demo};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mimamori");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_stores_and_prints_alerts_and_alerts_lists_them_later() {
    let broker = Mosquitto::start();
    let sim = mimamori_sim::mosquitto::site_config(broker.address(), "hq");
    let hq = SimSite::start(demo::site("hq").unwrap(), sim);
    let config = std::env::temp_dir().join(format!("mimamori-cli-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config);
    let env = [
        ("MIMAMORI_CONFIG_DIR", config.display().to_string()),
        ("MIMAMORI_BROKER", format!("mqtt://127.0.0.1:{}", broker.port)),
        ("MIMAMORI_USER", "viewer-hq".into()),
        ("MIMAMORI_PASSWORD", PASSWORD.into()),
        ("MIMAMORI_SITES", "hq".into()),
        ("MIMAMORI_CLIENT_ID", "cli-alerts-test".into()),
    ];
    let mut watch = Command::new(BIN).arg("watch").envs(env.clone()).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str, pred: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    };
    // The site's retained catalog arrives only once the subscription is in place.
    wait_for("the subscription", &|l| l.starts_with("site    hq"));
    for title in ["正面玄関 扉開放", "<b>not bold</b>", "サーバー室 侵入"] {
        hq.raise(SimAlert {
            kind: AlertKind::Intrusion,
            zone: None,
            title: title.into(),
            cameras: vec![],
            snapshot: None,
        });
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(wait_for("an alert line", &|l| l.starts_with("alert   hq intrusion")));
    }
    assert!(seen[0].contains("正面玄関 扉開放") && seen[1].contains("<b>not bold</b>"), "{seen:?}");
    let _ = watch.kill();
    let _ = watch.wait();

    let listed = Command::new(BIN).arg("alerts").envs(env.clone()).output().unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().next().unwrap().contains("サーバー室 侵入"), "newest first: {text}");

    // A viewer may not acknowledge; an operator on another device may, and this device
    // learns who did when it next connects.
    let id = text.lines().next().unwrap().split_whitespace().last().unwrap().to_owned();
    let refused = Command::new(BIN).args(["ack", "hq", &id]).envs(env.clone()).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not allow"), "{refused:?}");
    let other = config.join("other-device");
    let manager = Command::new(BIN)
        .args(["ack", "hq", &id, "--note", "警備員が確認"])
        .envs(env.clone())
        .envs([
            ("MIMAMORI_CONFIG_DIR", other.display().to_string()),
            ("MIMAMORI_USER", "manager".into()),
            ("MIMAMORI_CLIENT_ID", "cli-manager-test".into()),
        ])
        .output()
        .unwrap();
    assert!(manager.status.success(), "{manager:?}");
    assert_eq!(String::from_utf8_lossy(&manager.stdout).trim(), "done");
    // `alerts --follow` reconnects this device's session, gets the site's update and says so.
    let mut follow = Command::new(BIN)
        .args(["alerts", "--follow"])
        .envs(env.clone())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(15)).expect("a line from alerts --follow");
    assert_eq!(line, format!("ack     hq {id}  by manager  警備員が確認"));
    let _ = follow.kill();
    let _ = follow.wait();
    let listed = Command::new(BIN).arg("alerts").envs(env.clone()).output().unwrap();
    let acked = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(acked.lines().next().unwrap().ends_with("acknowledged by manager"), "{acked}");
    let _ = std::fs::remove_dir_all(&config);
}
