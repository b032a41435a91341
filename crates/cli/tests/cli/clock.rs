//! A phone whose clock is an hour off (`faketime`, on the `mimamori` process only): alerts
//! it stores are still listed in the site's order, and its commands still work, because a
//! command's validity is relative (MQTT message expiry), never a time stamp.

use mimamori_core::Secret;
use mimamori_core::acl::{RoleTable, mosquitto_password_line};
use mimamori_core::protocol::event::AlertKind;
use mimamori_sim::mosquitto::Mosquitto;
use mimamori_sim::{SimAlert, SimConfig, SimSite, demo};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mimamori");
const TABLE: &str = r#"{"sites": ["hq"], "users": {"ken": {"hq": "operator"}}}"#;

fn password(user: &str) -> String {
    format!("pw-of-{user}")
}

/// `mimamori` under a clock `offset` off (e.g. "+1h"), with this device's settings.
fn mimamori(offset: &str, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new("faketime");
    cmd.args(["-f", offset, BIN]).envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Runs `watch` under `offset` until the `n` alerts of `raise` were printed; then stops
/// reading, and `one_more` alert ends it: a reader that left ends the program quietly.
fn watch_for(offset: &str, env: &[(&str, String)], raise: impl FnOnce(), n: usize, one_more: impl FnOnce()) {
    let mut watch = mimamori(offset, env)
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faketime");
    let lines = BufReader::new(watch.stdout.take().unwrap()).lines().map_while(Result::ok);
    let mut raise = Some(raise);
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    for line in lines {
        assert!(Instant::now() < deadline, "timed out");
        // The site's retained catalog arrives only once the subscription is in place.
        if line.starts_with("site    hq")
            && let Some(raise) = raise.take()
        {
            raise();
        }
        if line.starts_with("alert   hq") {
            seen += 1;
            if seen == n {
                break;
            }
        }
    }
    assert_eq!(seen, n, "alerts printed under {offset}");
    one_more();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = watch.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "watch went on writing to nobody");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut watch.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success() && !stderr.contains("panicked"), "{status}: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_an_hour_off_keeps_the_sites_order_and_its_commands_work() {
    let table: RoleTable = serde_json::from_str(TABLE).unwrap();
    let passwd: String = ["ken", "site-hq"]
        .iter()
        .map(|u| mosquitto_password_line(u, &Secret::new(password(u))).unwrap() + "\n")
        .collect();
    let broker = Mosquitto::with_files(&passwd, &table.mosquitto_acl().unwrap());
    let mut sim = SimConfig::new(broker.address());
    sim.password = Some(Secret::new(password("site-hq")));
    sim.roles = table.roles_at("hq");
    let hq = SimSite::start(demo::site("hq").unwrap(), sim);
    let config = std::env::temp_dir().join(format!("mimamori-cli-clock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config);
    let env = [
        ("MIMAMORI_CONFIG_DIR", config.display().to_string()),
        ("MIMAMORI_BROKER", format!("mqtt://127.0.0.1:{}", broker.port)),
        ("MIMAMORI_USER", "ken".into()),
        ("MIMAMORI_PASSWORD", password("ken")),
        ("MIMAMORI_SITES", "hq".into()),
        ("MIMAMORI_CLIENT_ID", "cli-clock-test".into()),
    ];
    let raise = |from: usize, count: usize| {
        for i in from..from + count {
            hq.raise(SimAlert {
                kind: AlertKind::Door,
                zone: None,
                title: format!("扉 {i}"),
                cameras: vec![],
                snapshot: None,
            });
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // The phone an hour ahead, then an hour behind (its clock "corrected" the wrong way).
    watch_for("+1h", &env, || raise(0, 3), 3, || raise(3, 1));
    watch_for("-1h", &env, || raise(4, 3), 3, || raise(7, 1));

    let listed = Command::new(BIN).arg("alerts").envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let text = String::from_utf8_lossy(&listed.stdout);
    let numbers: Vec<u32> =
        text.lines().filter_map(|l| l.split("扉 ").nth(1)?.split_whitespace().next()?.parse().ok()).collect();
    // Newest first in the site's order, whatever the phone's clock said when each arrived.
    // (The alert that ended each watch may have been stored before its line failed, or not:
    // then the broker still holds it for the next run.)
    assert!(numbers.windows(2).all(|w| w[0] > w[1]), "newest first in the site's order:\n{text}");
    for n in [0, 1, 2, 4, 5, 6] {
        assert!(numbers.contains(&n), "alert {n} stored:\n{text}");
    }

    // A command from the phone an hour ahead: done, since its expiry is relative.
    let out = mimamori("+1h", &env).args(["output", "hq", "siren", "on", "--timeout", "5"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // (The light: silencing the siren would ask for the app PIN, which lives in a keychain
    // this test has none of.)
    let out = mimamori("-1h", &env).args(["output", "hq", "light", "on", "--timeout", "5"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&config);
}
