//! The gateway as an installer and a manager meet it: `mimamori-gateway run` and `check`
//! as programs, a real Mosquitto at the centre (password file, ACL from a roles table) and
//! another as the site's broker, device messages from `testdata/` (written from
//! Zigbee2MQTT's published device documentation) published with `mosquitto_pub`, and the
//! client core watching as a manager's phone would.

use mimamori_core::Secret;
use mimamori_core::acl::{RoleTable, mosquitto_password_line};
use mimamori_core::audit::Audit;
use mimamori_core::bus::{Bus, BusConfig, BusState};
use mimamori_core::control::{self, Action, Command, Outcome, Target};
use mimamori_core::inbox::Inbox;
use mimamori_core::protocol::event::AlertKind;
use mimamori_core::protocol::{ArmState, CameraHealth, OutputValue};
use mimamori_sim::mosquitto::Mosquitto;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::Duration;

const GATEWAY: &str = env!("CARGO_BIN_EXE_mimamori-gateway");
/// The site user's password: a canary that must never be seen outside the secrets.
const CANARY: &str = "canary-5be1-site-password";
/// The entrance camera's password, planted likewise.
const CAMERA_CANARY: &str = "canary-3e77-camera-password";
const ROLES: &str = r#"{"sites": ["hq"], "users": {"mari": {"hq": "admin"}}}"#;
const MARI: &str = "pw-of-mari";
const Z2M: (&str, &str) = ("z2m", "pw-of-z2m");
const TIMEOUT: Duration = Duration::from_secs(5);

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

/// The central broker: mari, an admin of hq, and the site's user; the ACL from the roles
/// table.
fn central() -> Mosquitto {
    let table: RoleTable = serde_json::from_str(ROLES).unwrap();
    let passwd = [("mari", MARI), ("site-hq", CANARY)]
        .iter()
        .map(|(u, p)| mosquitto_password_line(u, &Secret::new((*p).to_owned())).unwrap() + "\n")
        .collect::<String>();
    Mosquitto::with_files(&passwd, &table.mosquitto_acl().unwrap())
}

/// The site's broker: the gateway and Zigbee2MQTT.
fn site_broker() -> Mosquitto {
    Mosquitto::with_users(
        &[("gateway", "pw-of-gateway"), Z2M],
        "user gateway\ntopic readwrite #\nuser z2m\ntopic readwrite #\n",
    )
}

/// What every configuration here starts with: the site, the two brokers, mari an admin.
fn head(central: &Mosquitto, local: &Mosquitto, dir: &Path) -> String {
    format!(
        r#"# The head office.
[site]
id = "hq"
name = "Head office"
time_zone = "Asia/Tokyo"
store = "{store}"

[central]
url = "mqtt://127.0.0.1:{central}"

[roles]
mari = "admin"

[local]
url = "mqtt://127.0.0.1:{local}"
user = "gateway"
"#,
        store = dir.join("hq.db").display(),
        central = central.plain_port,
        local = local.plain_port,
    )
}

fn config(central: &Mosquitto, local: &Mosquitto, dir: &Path) -> String {
    head(central, local, dir)
        + r#"
[[zone]]
id = "lobby"
name = "Lobby"
armed_in = ["armed"]

[[camera]]
id = "entrance"
name = "Entrance"
zone = "lobby"
main = "rtsp://127.0.0.1:9/nothing-listens-here"

[[sensor]]
device = "front_door"
name = "Front door"
zone = "lobby"
camera = "entrance"
held_open_s = 2

[[sensor]]
device = "hall_smoke"
name = "Hall"

[[output]]
id = "siren"
kind = "siren"
name = "Siren"
zigbee2mqtt = "hall_siren"

[[output]]
id = "light"
kind = "light"
name = "Porch light"
confirm_s = 1
[output.mqtt]
command_topic = "porch/light/set"
state_topic = "porch/light/state"
on = "ON"
off = "OFF"
state_on = "ON"
state_off = "OFF"
"#
}

/// The gateway's credentials directory, as systemd would hand it over (made on first
/// use).
fn credentials(dir: &Path) -> PathBuf {
    let creds = dir.join("credentials");
    if !creds.exists() {
        std::fs::create_dir_all(&creds).unwrap();
        std::fs::write(creds.join("central-password"), CANARY).unwrap();
        std::fs::write(creds.join("local-password"), "pw-of-gateway").unwrap();
    }
    creds
}

fn gateway(dir: &Path, args: &[&str]) -> Process {
    let mut p = Process::new(GATEWAY);
    p.args(args)
        .arg(dir.join("gateway.toml"))
        .env("CREDENTIALS_DIRECTORY", credentials(dir))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    p
}

fn run(dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("gateway.log")).unwrap();
    gateway(dir, &["run"]).stdout(Stdio::null()).stderr(log).spawn().unwrap()
}

/// A camera's HTTP snapshot endpoint (`crates/sim/testdata/snapshot-server.py`, user
/// `admin`, password [`CAMERA_CANARY`]): the process and its port.
fn snapshot_server(dir: &Path) -> (Child, u16) {
    use std::io::{BufRead, BufReader};
    let jpeg = dir.join("entrance.jpg");
    std::fs::write(&jpeg, mimamori_sim::camera::scene::still("hq/entrance", 640, 352, 15, 0)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/testdata/snapshot-server.py");
    let mut child = Process::new("python3")
        .arg(script)
        .arg("--jpeg")
        .arg(&jpeg)
        .args(["--user", "admin"])
        .env("SNAPSHOT_PASSWORD", CAMERA_CANARY)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("READY <port>");
    (child, port)
}

/// `mosquitto_pub` to `topic` on the site's broker, as Zigbee2MQTT's user, QoS 1.
fn mosquitto_pub(local: &Mosquitto, topic: &str) -> Process {
    let mut p = Process::new("mosquitto_pub");
    let port = local.plain_port.to_string();
    p.args(["-h", "127.0.0.1", "-p", &port, "-u", Z2M.0, "-P", Z2M.1, "-q", "1", "-t", topic]);
    p
}

/// Publishes like a device would: a file of `testdata/`, a message, or nothing.
fn device_says(local: &Mosquitto, topic: &str, file: Option<&str>, message: Option<&str>) {
    let mut p = mosquitto_pub(local, topic);
    match (file, message) {
        (Some(f), _) => p.arg("-f").arg(testdata(f)),
        (None, Some(m)) => p.args(["-m", m]),
        (None, None) => p.arg("-n"),
    };
    assert!(p.status().unwrap().success(), "mosquitto_pub to {topic}");
}

/// Zigbee2MQTT's side of a switch: a command on `…/set` is carried out and the new state
/// reported on the device's topic.
async fn zigbee_siren(local: &Mosquitto) {
    let mut opts = MqttOptions::new("z2m-emulated", "127.0.0.1", local.plain_port);
    opts.set_credentials(Z2M.0, Z2M.1);
    let (client, mut events) = AsyncClient::new(opts, 16);
    client.subscribe("zigbee2mqtt/hall_siren/set", QoS::AtLeastOnce).await.unwrap();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let set: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                let state = serde_json::json!({"state": set["state"], "linkquality": 120});
                let _ = client
                    .publish("zigbee2mqtt/hall_siren", QoS::AtLeastOnce, false, state.to_string())
                    .await;
            }
        }
    });
}

fn phone(central: &Mosquitto, inbox: &Arc<Inbox>) -> Bus {
    let mut config = BusConfig::new(central.address(), "mari-phone", "mari", vec!["hq".into()]);
    config.password = Some(Secret::new(MARI.to_owned()));
    Bus::start_with_inbox(config, Some(inbox.clone()))
}

async fn until(what: &str, secs: u64, pred: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !pred() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ready(bus: &BusState) {
    let b = bus.clone();
    until("hq ready, with mari's role", 20, move || {
        b.connection().phase.is_connected()
            && b.view("hq").is_some_and(|v| v.summary.name.is_some() && v.summary.role.is_some())
    })
    .await;
}

async fn send(bus: &BusState, audit: &Audit, target: Target, action: Action) -> Outcome {
    let cmd = Command { site: "hq".into(), target, action, note: None };
    control::send(bus, audit, "mari", cmd, None, TIMEOUT).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zigbee_sensors_and_switches_become_one_site_that_a_manager_arms_and_commands() {
    let central = central();
    let local = site_broker();
    let dir = tempfile::tempdir().unwrap();
    // The entrance camera's snapshot: an HTTP server with Digest authentication, written
    // apart from Mimamori (crates/sim/testdata/snapshot-server.py), its password a secret.
    let (mut camera, camera_port) = snapshot_server(dir.path());
    let with_snapshot = config(&central, &local, dir.path()).replace(
        "main = \"rtsp://127.0.0.1:9/nothing-listens-here\"",
        &format!("main = \"rtsp://127.0.0.1:9/nothing-listens-here\"\nsnapshot = \"http://127.0.0.1:{camera_port}/digest/snapshot.jpg\""),
    );
    std::fs::write(dir.path().join("gateway.toml"), with_snapshot).unwrap();
    std::fs::write(credentials(dir.path()).join("camera-entrance"), format!("admin:{CAMERA_CANARY}"))
        .unwrap();
    zigbee_siren(&local).await;
    let mut gw = run(dir.path());
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = phone(&central, &inbox);
    let state = bus.state().clone();
    ready(&state).await;
    let view = state.view("hq").unwrap();
    assert_eq!(view.summary.name.as_deref(), Some("Head office"));
    assert_eq!(view.outputs.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["siren", "light"]);
    // The camera nobody answers for is offline in the site's status.
    let s = state.clone();
    until("the camera's health", 20, move || {
        s.view("hq").is_some_and(|v| {
            v.cameras.iter().any(|c| c.id == "entrance" && c.health == Some(CameraHealth::Offline))
        })
    })
    .await;

    // Disarmed: the door opening is no alert; smoke is one at any time.
    device_says(&local, "zigbee2mqtt/front_door", Some("zigbee2mqtt/contact-closed.json"), None);
    device_says(&local, "zigbee2mqtt/front_door", Some("zigbee2mqtt/contact-open.json"), None);
    device_says(&local, "zigbee2mqtt/front_door", Some("zigbee2mqtt/contact-closed.json"), None);
    // Nonsense from one device costs nothing else.
    device_says(&local, "zigbee2mqtt/hall_smoke", None, Some("{not json"));
    device_says(&local, "zigbee2mqtt/hall_smoke", Some("zigbee2mqtt/smoke.json"), None);
    until("the fire alert", 10, || inbox.alerts(10).unwrap().iter().any(|a| a.kind == AlertKind::Fire)).await;
    let (audit, _audit_dir) = {
        let d = tempfile::tempdir().unwrap();
        (Audit::open(d.path().join("audit.log")).unwrap(), d)
    };

    // Armed from the phone: the door opening is an intrusion of the lobby, at its camera.
    assert_eq!(
        send(&state, &audit, Target::Site, Action::Arm).await,
        Outcome::Done { state: Some("armed".into()) }
    );
    device_says(&local, "zigbee2mqtt/front_door", Some("zigbee2mqtt/contact-open.json"), None);
    until("the door alert", 10, || inbox.alerts(10).unwrap().iter().any(|a| a.kind == AlertKind::Door)).await;
    let door: Vec<_> = inbox.alerts(10).unwrap().into_iter().filter(|a| a.kind == AlertKind::Door).collect();
    assert_eq!(door[0].title, "Front door: opened");
    assert_eq!(door[0].cameras, ["entrance"]);
    assert_eq!(door[0].zone.as_deref(), Some("lobby"));
    assert!(door[0].has_snapshot, "the entrance camera's picture of the moment");
    // Left open: "held open" after its two seconds.
    until("the held-open alert", 10, || {
        inbox.alerts(10).unwrap().iter().any(|a| a.title == "Front door: held open")
    })
    .await;

    // The siren: done once Zigbee2MQTT reports it on. The light never answers: failed.
    assert_eq!(
        send(&state, &audit, Target::Output("siren".into()), Action::On).await,
        Outcome::Done { state: Some("on".into()) }
    );
    let light = send(&state, &audit, Target::Output("light".into()), Action::On).await;
    match light {
        Outcome::Failed { message } => {
            assert_eq!(message.as_deref(), Some("the device did not confirm within 1 s"))
        }
        other => panic!("a light that never confirms is not done: {other:?}"),
    }
    // Switched by hand at the site: the state follows.
    device_says(&local, "porch/light/state", None, Some("ON"));
    let s = state.clone();
    until("the light on", 10, move || {
        s.view("hq")
            .is_some_and(|v| v.outputs.iter().any(|o| o.id == "light" && o.state == Some(OutputValue::On)))
    })
    .await;

    // Restarted, the gateway is still armed, in the same epoch.
    let alerts_before = inbox.alerts(100).unwrap().len();
    gw.kill().unwrap();
    gw.wait().unwrap();
    let mut gw = run(dir.path());
    let s = state.clone();
    until("hq back", 20, move || {
        s.view("hq").is_some_and(|v| v.summary.link == mimamori_core::site::SiteLink::Online)
    })
    .await;
    assert_eq!(state.view("hq").unwrap().summary.armed, Some(ArmState::Armed));
    device_says(&local, "zigbee2mqtt/front_door", Some("zigbee2mqtt/contact-closed.json"), None);
    device_says(&local, "zigbee2mqtt/front_door", Some("zigbee2mqtt/occupancy.json"), None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(inbox.gaps("hq").unwrap().is_empty(), "one stream across the restart");
    assert!(inbox.alerts(100).unwrap().len() >= alerts_before);

    gw.kill().unwrap();
    gw.wait().unwrap();
    bus.stop().await;
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap();
    assert!(log.contains("ignored a message from the device: not JSON"), "{log}");
    assert!(!log.contains(CANARY) && !log.contains(CAMERA_CANARY), "a secret in the log");
    let _ = camera.kill();
    let _ = camera.wait();
    // The site's command log has every command, with its outcome.
    let out = gateway(dir.path(), &["export-commands"]).output().unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcomes: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["target"].as_str().unwrap(), l["outcome"].as_str().unwrap())).collect();
    assert_eq!(outcomes, [("site", "done"), ("output:siren", "done"), ("output:light", "failed")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_what_works_and_what_does_not_and_config_mistakes_name_their_line() {
    let central = central();
    let local = site_broker();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gateway.toml"), config(&central, &local, dir.path())).unwrap();
    // Zigbee2MQTT's retained device list knows the door and the smoke alarm, not the siren.
    let mut p = mosquitto_pub(&local, "zigbee2mqtt/bridge/devices");
    assert!(
        p.arg("-r").arg("-f").arg(testdata("zigbee2mqtt/bridge-devices.json")).status().unwrap().success()
    );
    let out = gateway(dir.path(), &["check"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` in\n{text}"))
            .to_owned()
    };
    assert!(line("central broker").contains("ok"), "{text}");
    assert!(line("site broker").contains("ok"), "{text}");
    assert!(line("sensor front_door").contains("ok"), "{text}");
    assert!(line("output hall_siren").contains("FAIL"), "{text}");
    assert!(line("camera entrance").contains("FAIL"), "{text}");
    assert!(!text.contains(CANARY) && !String::from_utf8_lossy(&out.stderr).contains(CANARY));

    // A wrong password is a failure of the central broker's line, and not quoted.
    std::fs::write(dir.path().join("credentials/central-password"), "wrong").unwrap();
    let out = gateway(dir.path(), &["check"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("central broker") && l.contains("FAIL")), "{text}");

    // Mistakes: each named with its line and field.
    let good = config(&central, &local, dir.path());
    for (wrong, expect) in [
        (
            good.replace("zone = \"lobby\"\ncamera", "zone = \"attic\"\ncamera"),
            "line 32, sensor.zone: no zone `attic`",
        ),
        (good.replace("kind = \"siren\"", "kind = \"foghorn\""), "line 42"),
        (
            good.replace("url = \"mqtt://127.0.0.1", "url = \"mqtt://192.0.2.1"),
            "central.url: plain mqtt:// only to a broker on this machine",
        ),
        (good.replace("held_open_s = 2", "held_open_s = 2\nheld_open = 3"), "unknown field `held_open`"),
        (
            good.replace("rtsp://127.0.0.1:9", "rtsps://127.0.0.1:9"),
            "line 27, camera.main: rtsps:// is not supported yet",
        ),
        (
            good.replace("main = \"rtsp://127.0.0.1:9/nothing-listens-here\"", "main = \"/dev/video0\""),
            "camera.main: must be an rtsp:// address",
        ),
    ] {
        std::fs::write(dir.path().join("gateway.toml"), &wrong).unwrap();
        let out = gateway(dir.path(), &["check"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expect), "expected `{expect}` in:\n{err}");
    }
}

/// A Home Assistant MQTT alarm panel with remote code validation, as the panel's side
/// would behave: a command with the right code arms (through `arming`, the exit delay) or
/// disarms and the state is published retained; a wrong code changes nothing.
async fn alarm_panel(local: &Mosquitto, code: &'static str) {
    let mut opts = MqttOptions::new("panel-emulated", "127.0.0.1", local.plain_port);
    opts.set_credentials(Z2M.0, Z2M.1);
    let (client, mut events) = AsyncClient::new(opts, 16);
    client.subscribe("home/alarm/set", QoS::AtLeastOnce).await.unwrap();
    client.publish("home/alarm", QoS::AtLeastOnce, true, "disarmed").await.unwrap();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            let Event::Incoming(Packet::Publish(p)) = ev else { continue };
            let cmd: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
            if cmd["code"] != code {
                continue;
            }
            let states: &[&str] = match cmd["action"].as_str() {
                Some("ARM_AWAY") => &["arming", "armed_away"],
                Some("ARM_HOME") => &["armed_home"],
                Some("DISARM") => &["disarmed"],
                _ => &[],
            };
            for s in states {
                let _ = client.publish("home/alarm", QoS::AtLeastOnce, true, *s).await;
            }
        }
    });
}

/// Frigate's HTTP API as far as the gateway uses it: a static server with the snapshot
/// of the documented review's first tracked object at Frigate's path (a stand-in: Frigate
/// itself cannot run here).
fn frigate_api(dir: &Path) -> (Child, u16) {
    let review: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata("frigate/reviews-update.json")).unwrap()).unwrap();
    let first = review["after"]["data"]["detections"][0].as_str().unwrap();
    let object = dir.join("frigate/api/events").join(first);
    std::fs::create_dir_all(&object).unwrap();
    std::fs::write(
        object.join("snapshot.jpg"),
        mimamori_sim::camera::scene::still("front_cam", 640, 352, 15, 0),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Process::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory"])
        .arg(dir.join("frigate"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the Frigate stand-in did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frigate_sightings_and_a_home_assistant_alarm_panel_drive_the_site() {
    const PANEL_CODE: &str = "canary-0a9c-panel-code";
    let central = central();
    let local = site_broker();
    let dir = tempfile::tempdir().unwrap();
    let (mut api, api_port) = frigate_api(dir.path());
    let config = head(&central, &local, dir.path())
        + &format!(
            r#"
[frigate]
api = "http://127.0.0.1:{api_port}"

[alarm_panel]
state_topic = "home/alarm"
command_topic = "home/alarm/set"
command_template = '{{ "action": "{{action}}", "code": "{{code}}" }}'

[[zone]]
id = "lobby"
name = "Lobby"

[[camera]]
id = "entrance"
name = "Entrance"
zone = "lobby"
main = "rtsp://127.0.0.1:9/x"
frigate = "front_cam"

[[camera]]
id = "yard"
name = "Yard"
zone = "lobby"
main = "rtsp://127.0.0.1:9/y"
frigate = "back_cam"
"#
        );
    std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
    std::fs::write(credentials(dir.path()).join("panel-code"), PANEL_CODE).unwrap();
    // Frigate's pictures on its snapshot topic (raw JPEG, retained): one from before the
    // gateway listened is old news.
    let jpeg = dir.path().join("back_cam.jpg");
    std::fs::write(&jpeg, mimamori_sim::camera::scene::still("back_cam", 640, 352, 15, 0)).unwrap();
    let picture = |label: &str, retained: bool| {
        let mut p = mosquitto_pub(&local, &format!("frigate/back_cam/{label}/snapshot"));
        p.arg("-f").arg(&jpeg);
        if retained {
            p.arg("-r");
        }
        assert!(p.status().unwrap().success());
    };
    picture("car", true);
    alarm_panel(&local, PANEL_CODE).await;
    let mut gw = run(dir.path());
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = phone(&central, &inbox);
    let state = bus.state().clone();
    ready(&state).await;
    let audit_dir = tempfile::tempdir().unwrap();
    let audit = Audit::open(audit_dir.path().join("audit.log")).unwrap();

    // Disarmed: Frigate's person at the entrance is no alert.
    device_says(&local, "frigate/reviews", Some("frigate/reviews-update.json"), None);
    // Armed from the phone, through the panel, which takes the code.
    assert_eq!(
        send(&state, &audit, Target::Site, Action::Arm).await,
        Outcome::Done { state: Some("armed".into()) }
    );
    let s = state.clone();
    until("armed", 10, move || s.view("hq").is_some_and(|v| v.summary.armed == Some(ArmState::Armed))).await;
    // Armed: the documented review (a detection become an alert) is an intrusion at the
    // entrance with Frigate's picture; its next update is no second alert.
    let mut renewed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata("frigate/reviews-update.json")).unwrap()).unwrap();
    renewed["after"]["id"] = "1718987200.000000-newone".into();
    device_says(&local, "frigate/reviews", None, Some(&renewed.to_string()));
    device_says(&local, "frigate/reviews", None, Some(&renewed.to_string()));
    until("the intrusion", 10, || inbox.alerts(10).unwrap().iter().any(|a| a.kind == AlertKind::Intrusion))
        .await;
    let seen: Vec<_> =
        inbox.alerts(10).unwrap().into_iter().filter(|a| a.kind == AlertKind::Intrusion).collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].title.as_str(), seen[0].cameras.clone()),
        ("Entrance: person", vec!["entrance".to_owned()])
    );
    assert!(seen[0].has_snapshot, "with Frigate's picture: {seen:?}");
    // At the yard, whose object Frigate's API does not have: the picture Frigate published
    // on its snapshot topic instead, but never the old one found there retained.
    picture("person", false);
    let mut at_yard = |id: &str, label: &str| {
        renewed["after"]["id"] = id.into();
        renewed["after"]["camera"] = "back_cam".into();
        renewed["after"]["data"]["objects"] = serde_json::json!([label]);
        renewed["after"]["data"]["detections"] = serde_json::json!([format!("{id}-object")]);
        device_says(&local, "frigate/reviews", None, Some(&renewed.to_string()));
    };
    at_yard("1718987300.000000-yard1", "person");
    at_yard("1718987300.000000-yard2", "car");
    let yard = |title: &str| inbox.alerts(10).unwrap().into_iter().find(|a| a.title == title);
    until("both sightings at the yard", 10, || yard("Yard: person").is_some() && yard("Yard: car").is_some())
        .await;
    assert!(yard("Yard: person").unwrap().has_snapshot, "with the picture from the snapshot topic");
    assert!(!yard("Yard: car").unwrap().has_snapshot, "not with the retained picture");
    // Nonsense from Frigate costs nothing.
    device_says(&local, "frigate/reviews", None, Some("{\"type\":"));

    // The panel sounds: an alert. Disarmed at the keypad: the site follows.
    device_says(&local, "home/alarm", None, Some("triggered"));
    until("the panel's alarm", 10, || {
        inbox.alerts(10).unwrap().iter().any(|a| a.title == "Head office: alarm triggered")
    })
    .await;
    device_says(&local, "home/alarm", None, Some("disarmed"));
    let s = state.clone();
    until("disarmed at the keypad", 10, move || {
        s.view("hq").is_some_and(|v| v.summary.armed == Some(ArmState::Disarmed))
    })
    .await;

    gw.kill().unwrap();
    gw.wait().unwrap();
    api.kill().unwrap();
    api.wait().unwrap();
    bus.stop().await;
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap();
    assert!(log.contains("ignored a message from Frigate"), "{log}");
    assert!(!log.contains(PANEL_CODE) && !log.contains(CANARY), "a secret in the log");
}

/// Whether this process runs as root (switching users needs it).
fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // the reason the user part did not run belongs in the output
async fn the_service_unit_verifies_and_its_command_runs_as_its_user_telling_systemd_it_lives() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd/mimamori-gateway.service"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // systemd's own check, with the binary where the package puts it replaced by this build.
    let here = dir.path().join("mimamori-gateway.service");
    std::fs::write(&here, unit.replace("/usr/bin/mimamori-gateway", GATEWAY)).unwrap();
    let verify = Process::new("systemd-analyze").arg("verify").arg(&here).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    assert_eq!(exec, "/usr/bin/mimamori-gateway run /etc/mimamori-gateway/gateway.toml");
    let user = unit.lines().find_map(|l| l.strip_prefix("User=")).unwrap();
    if !root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: the unit's user must be tried");
        eprintln!("running the gateway as its own user needs root; not run here");
        return;
    }
    // The user the package makes (sysusers), if this machine has none yet.
    if !Process::new("id").arg(user).output().unwrap().status.success() {
        let made = Process::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ])
            .status()
            .unwrap();
        assert!(made.success());
    }
    // What systemd sets up: the state directory and the credentials, the user's alone;
    // the configuration readable.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let central = central();
    let local = site_broker();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let config = config(&central, &local, &state);
    std::fs::write(dir.path().join("gateway.toml"), &config).unwrap();
    let creds = credentials(dir.path());
    let chown = |p: &Path| {
        assert!(
            Process::new("chown").args(["-R", &format!("{user}:{user}")]).arg(p).status().unwrap().success()
        )
    };
    chown(&state);
    chown(&creds);
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o777)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();

    let mut gw = Process::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--clear-groups",
            "--",
            GATEWAY,
            "run",
        ])
        .arg(dir.path().join("gateway.toml"))
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("gateway.log")).unwrap())
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    let mut buf = [0u8; 256];
    while said.iter().filter(|s: &&String| s.as_str() == "WATCHDOG=1").count() < 3 {
        let n = socket.recv(&mut buf).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default();
            panic!("the service manager was told {said:?}, then nothing ({e}); log:\n{log}")
        });
        said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(said[0], "READY=1");
    let uid = std::fs::read_to_string(format!("/proc/{}/status", gw.id())).unwrap();
    assert!(!uid.lines().any(|l| l.starts_with("Uid:") && l.contains("\t0\t")), "{uid}");
    // It is the site.
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = phone(&central, &inbox);
    ready(bus.state()).await;
    let store = std::fs::metadata(state.join("hq.db")).unwrap();
    assert_eq!(store.mode() & 0o777, 0o600);
    assert_ne!(store.uid(), 0, "the store belongs to the service's user");
    // Stopped as systemd stops it.
    assert!(Process::new("kill").args(["-TERM", &gw.id().to_string()]).status().unwrap().success());
    assert!(gw.wait().unwrap().success());
    while let Ok(n) = socket.recv(&mut buf) {
        said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if said.last().is_some_and(|s| s == "STOPPING=1") {
            break;
        }
    }
    assert_eq!(said.last().map(String::as_str), Some("STOPPING=1"));
    bus.stop().await;
}
