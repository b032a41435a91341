//! Tests of the shell: the commands through Tauri's mock runtime, and the freshness of the
//! generated TypeScript bindings.

use crate::commands::AppInfo;
use crate::error::{ErrorKind, IpcError};
use crate::state::{AppState, StreamQuality};
use mimamori_core::bus::{
    BusChange, BusState, BusStats, ConnectionPhase, ConnectionProblem, ConnectionStatus,
};
use mimamori_core::inbox::{AlertView, Inbox};
use mimamori_core::profile::{ProfileSite, ProfileSummary, Profiles};
use mimamori_core::protocol::event::{Alert, AlertKind, Event, EventBody};
use mimamori_core::protocol::role::Role;
use mimamori_core::protocol::{ArmState, CameraHealth, OutputKind, OutputValue};
use mimamori_core::site::{CameraView, OutputView, SiteLink, SiteSummary, SiteView};
use mimamori_core::vault::MemoryStore;
use mimamori_core::video::StreamProblem;
use mimamori_core::video::stream::{StreamPhase, StreamStatus};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};
use ts_rs::TS;

fn fed_state() -> BusState {
    let bus = BusState::new(["hq", "shop"]);
    let catalog = json!({
        "v": 1, "name": "本社", "time_zone": "Asia/Tokyo",
        "cameras": [{"id": "entrance", "name": "正面玄関", "main": "rtsp://10.1.2.3/CANARY-main"}],
        "outputs": [{"id": "siren", "kind": "siren", "name": "サイレン"}]
    });
    bus.ingest("mimamori/v1/sites/hq/catalog", catalog.to_string().as_bytes()).unwrap();
    bus.ingest("mimamori/v1/sites/hq/status", br#"{"v":1,"state":"online"}"#).unwrap();
    bus.ingest("mimamori/v1/sites/hq/outputs/siren/state", br#"{"v":1,"state":"off"}"#).unwrap();
    bus
}

fn window(state: AppState) -> WebviewWindow<tauri::test::MockRuntime> {
    let app = crate::build_app(mock_builder(), crate::Startup::Ready(Box::new(state)))
        .build(mock_context(noop_assets()))
        .expect("mock app");
    WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("mock window")
}

fn invoke(w: &WebviewWindow<tauri::test::MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(w, request).map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn list_sites_returns_every_enrolled_site_in_order() {
    let w = window(AppState::detached(fed_state(), None, None));
    let sites = invoke(&w, "list_sites", json!({})).unwrap();
    assert_eq!(sites[0]["id"], "hq");
    assert_eq!(sites[0]["name"], "本社");
    // Said online, but this state has no connection (it is still connecting): not vouched for.
    assert_eq!(sites[0]["link"], "unknown");
    assert_eq!(sites[0]["cameraCount"], 1);
    assert_eq!(sites[1]["id"], "shop");
    assert_eq!(sites[1]["link"], "unknown");
    assert_eq!(sites[1]["name"], Value::Null);
}

#[test]
fn get_site_has_cameras_and_outputs_but_no_endpoint() {
    let w = window(AppState::detached(fed_state(), None, None));
    let site = invoke(&w, "get_site", json!({"siteId": "hq"})).unwrap();
    assert_eq!(site["cameras"][0]["name"], "正面玄関");
    assert_eq!(site["outputs"][0]["state"], "off");
    let text = site.to_string();
    assert!(!text.contains("CANARY") && !text.contains("rtsp"), "{text}");
}

#[test]
fn get_site_errors_have_a_kind() {
    let w = window(AppState::detached(fed_state(), None, None));
    let err = invoke(&w, "get_site", json!({"siteId": "nowhere"})).unwrap_err();
    assert_eq!(err["kind"], "NotFound");
    let err = invoke(&w, "get_site", json!({"siteId": "../../etc"})).unwrap_err();
    assert_eq!(err["kind"], "InvalidInput");
    // A wrongly typed argument is refused by Tauri before the command runs.
    assert!(invoke(&w, "get_site", json!({"siteId": 5})).is_err());
    assert!(invoke(&w, "get_site", json!({})).is_err());
}

#[test]
fn connection_and_info_commands() {
    let w = window(AppState::detached(fed_state(), None, None));
    let c = invoke(&w, "connection_status", json!({})).unwrap();
    assert_eq!(c["phase"], "connecting");
    let stats = invoke(&w, "bus_stats", json!({})).unwrap();
    assert_eq!(stats["received"], 3);
    let info = invoke(&w, "app_info", json!({})).unwrap();
    assert_eq!(info["demo"], false);
}

/// A code for a broker where nothing listens: the app tries to connect in the background,
/// harmlessly.
fn code(password: &str) -> (String, String) {
    mimamori_sim::testing::enrolment_code("mqtt://127.0.0.1:9", password)
}

/// The profiles `app_info` says are connected.
fn connected(w: &WebviewWindow<tauri::test::MockRuntime>) -> Vec<String> {
    let info = invoke(w, "app_info", json!({})).unwrap();
    info["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["profileId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn enrolled_profiles_connect_side_by_side_and_removing_them_goes_idle() {
    let dir = std::env::temp_dir().join(format!("mimamori-app-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let profiles = Arc::new(Profiles::new(&dir, MemoryStore::new()));
    let w = window(AppState::detached(BusState::idle(), Some(profiles), None));
    assert_eq!(invoke(&w, "list_profiles", json!({})).unwrap(), json!([]));
    assert_eq!(connected(&w), Vec::<String>::new());

    let (code, pin) = code("CANARY-app-pw");
    let err = invoke(&w, "enrol", json!({"code": code, "pin": "WRONG-00000"})).unwrap_err();
    assert_eq!(err["kind"], "Unauthenticated");
    let err = invoke(&w, "enrol", json!({"code": "garbage", "pin": pin})).unwrap_err();
    assert_eq!(err["kind"], "InvalidInput");
    let enrolled = invoke(&w, "enrol", json!({"code": code, "pin": pin})).unwrap();
    assert_eq!(enrolled["sites"], json!([{"id": "hq", "name": "本社", "role": "operator"}]));
    let id = enrolled["id"].as_str().unwrap().to_owned();
    assert_eq!(connected(&w), [id.as_str()]);
    let err = invoke(&w, "enrol", json!({"code": code, "pin": pin})).unwrap_err();
    assert_eq!(err["kind"], "PermissionDenied");

    // A second account, for another site: connected beside the first.
    let (second, pin2) = mimamori_sim::testing::enrolment_code_as(
        "mqtt://127.0.0.1:9",
        "kenji",
        "CANARY-app-pw-2",
        &[("shop", "店舗", Role::Admin)],
    );
    let enrolled2 = invoke(&w, "enrol", json!({"code": second, "pin": pin2})).unwrap();
    let id2 = enrolled2["id"].as_str().unwrap().to_owned();
    assert_eq!(connected(&w), [id.as_str(), id2.as_str()]);
    let sites = invoke(&w, "list_sites", json!({})).unwrap();
    let ids: Vec<&str> = sites.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["hq", "shop"], "every profile's sites");
    assert!(invoke(&w, "get_site", json!({"siteId": "shop"})).is_ok());
    // A third account naming a site the first holds is refused, and says through which.
    let (clash, pin3) = mimamori_sim::testing::enrolment_code_as(
        "mqtt://127.0.0.1:9",
        "yui",
        "CANARY-app-pw-3",
        &[("hq", "本社", Role::Admin)],
    );
    let err = invoke(&w, "enrol", json!({"code": clash, "pin": pin3})).unwrap_err();
    assert_eq!(err["kind"], "InvalidInput");
    assert!(err["message"].as_str().unwrap().contains("already enrolled"), "{err}");

    // Nothing any command answered carries the secret or the broker address.
    let answers = [
        invoke(&w, "list_profiles", json!({})).unwrap(),
        invoke(&w, "app_info", json!({})).unwrap(),
        invoke(&w, "connection_status", json!({})).unwrap(),
        invoke(&w, "bus_stats", json!({})).unwrap(),
        sites,
        enrolled,
        enrolled2,
        err,
    ];
    for a in answers {
        let text = a.to_string();
        assert!(!text.contains("CANARY") && !text.contains("127.0.0.1"), "{text}");
    }

    // Removing one leaves the other connected.
    invoke(&w, "remove_profile", json!({"profileId": id})).unwrap();
    assert_eq!(connected(&w), [id2.as_str()]);
    assert_eq!(invoke(&w, "list_sites", json!({})).unwrap()[0]["id"], "shop");
    assert_eq!(invoke(&w, "list_sites", json!({})).unwrap().as_array().unwrap().len(), 1);
    invoke(&w, "remove_profile", json!({"profileId": id2})).unwrap();
    assert_eq!(invoke(&w, "list_profiles", json!({})).unwrap(), json!([]));
    assert_eq!(invoke(&w, "list_sites", json!({})).unwrap(), json!([]));
    assert_eq!(invoke(&w, "connection_status", json!({})).unwrap()["phase"], "stopped");
    let err = invoke(&w, "remove_profile", json!({"profileId": id})).unwrap_err();
    assert_eq!(err["kind"], "NotFound");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_keychain_enrolment_says_why() {
    let w = window(AppState::detached(BusState::idle(), None, None));
    let (code, pin) = code("pw");
    let err = invoke(&w, "enrol", json!({"code": code, "pin": pin})).unwrap_err();
    assert_eq!(err["kind"], "Unavailable");
    assert!(err["message"].as_str().unwrap().contains("keychain"), "{err}");
}

#[test]
fn list_alerts_newest_first_with_bounded_limits() {
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    for seq in 1..=3 {
        let alert = Alert {
            id: format!("a-{seq}"),
            time: 1000 + seq,
            kind: AlertKind::Intrusion,
            zone: None,
            title: format!("<img src=x onerror=alert({seq})>"),
            cameras: vec!["entrance".into()],
            snapshot: None,
        };
        inbox.record("hq", &Event { epoch: 1, seq, body: EventBody::Alert(alert) }, 0).unwrap();
    }
    let w = window(AppState::detached(fed_state(), None, Some(inbox)));
    let alerts = invoke(&w, "list_alerts", json!({"limit": 2})).unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 2);
    assert_eq!(alerts[0]["id"], "a-3");
    assert_eq!(alerts[0]["kind"], "intrusion");
    assert_eq!(alerts[0]["siteId"], "hq");
    assert!(invoke(&w, "list_alerts", json!({"limit": -1})).is_err());
    let none = window(AppState::detached(fed_state(), None, None));
    assert_eq!(invoke(&none, "list_alerts", json!({"limit": 10})).unwrap(), json!([]));
}

/// Every IPC type, and where its TypeScript declaration lives.
fn bindings() -> Vec<(String, String)> {
    fn one<T: TS + 'static>() -> (String, String) {
        let cfg = ts_rs::Config::new();
        let path = T::output_path().expect("exportable").to_string_lossy().into_owned();
        (path, T::export_to_string(&cfg).expect("renders"))
    }
    vec![
        one::<SiteSummary>(),
        one::<SiteView>(),
        one::<SiteLink>(),
        one::<CameraView>(),
        one::<OutputView>(),
        one::<ArmState>(),
        one::<CameraHealth>(),
        one::<OutputKind>(),
        one::<OutputValue>(),
        one::<ConnectionStatus>(),
        one::<ConnectionPhase>(),
        one::<ConnectionProblem>(),
        one::<BusStats>(),
        one::<BusChange>(),
        one::<IpcError>(),
        one::<ErrorKind>(),
        one::<AppInfo>(),
        one::<crate::commands::ProfileConnection>(),
        one::<ProfileSummary>(),
        one::<ProfileSite>(),
        one::<Role>(),
        one::<AlertView>(),
        one::<mimamori_core::inbox::PossibleGap>(),
        one::<crate::notifications::OpenAlert>(),
        one::<crate::background::BackgroundStatus>(),
        one::<mimamori_core::notify::settings::QuietHoursSetting>(),
        one::<crate::state::AuditLogView>(),
        one::<crate::state::AuditRecordView>(),
        one::<AlertKind>(),
        one::<StreamStatus>(),
        one::<StreamPhase>(),
        one::<StreamProblem>(),
        one::<StreamQuality>(),
        one::<crate::commands::CameraStream>(),
        one::<crate::state::SiteControls>(),
        one::<crate::state::OutputControl>(),
        one::<crate::state::PinStatus>(),
        one::<mimamori_core::control::Outcome>(),
        one::<mimamori_core::control::DeniedBy>(),
        one::<mimamori_core::video::clip::ClipInfo>(),
    ]
}

/// Fails when `ui/bindings/` differs from what the Rust types generate. To refresh:
/// `UPDATE_BINDINGS=1 cargo test -p mimamori-app bindings`.
#[test]
fn bindings_are_fresh() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/bindings");
    let update = std::env::var("UPDATE_BINDINGS").is_ok_and(|v| v == "1");
    let expected = bindings();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ts") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    let mut stale = Vec::new();
    for (file, text) in &expected {
        let path = dir.join(file);
        if update {
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(file.clone());
        }
    }
    let known: Vec<&str> = expected.iter().map(|(f, _)| f.as_str()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") && !known.contains(&name.as_str()) {
            stale.push(format!("{name} (no longer generated)"));
        }
    }
    assert!(
        stale.is_empty(),
        "ui/bindings is stale: {stale:?}; run UPDATE_BINDINGS=1 cargo test -p mimamori-app bindings"
    );
}

#[test]
fn errors_serialize_as_kind_and_message() {
    let e = IpcError::new(ErrorKind::Unavailable, "broker unreachable");
    assert_eq!(
        serde_json::to_value(e).unwrap(),
        json!({"kind": "Unavailable", "message": "broker unreachable"})
    );
    let _ = ConnectionProblem::Closed;
}

#[test]
fn warm_streams_checks_its_arguments_and_skips_unknown_cameras() {
    let w = window(AppState::detached(fed_state(), None, None));
    let one = |site: &str, camera: &str| json!({"siteId": site, "cameraId": camera, "quality": "main"});
    let five: Vec<Value> = (0..5).map(|i| one("hq", &format!("cam-{i}"))).collect();
    let err = invoke(&w, "warm_streams", json!({"streams": five})).unwrap_err();
    assert_eq!(err["kind"], "InvalidInput");
    let err = invoke(&w, "warm_streams", json!({"streams": [one("hq", "../x")]})).unwrap_err();
    assert_eq!(err["kind"], "InvalidInput");
    assert_eq!(invoke(&w, "warm_streams", json!({"streams": [one("hq", "nowhere")]})).unwrap(), Value::Null);
    assert_eq!(invoke(&w, "warm_streams", json!({"streams": []})).unwrap(), Value::Null);
}

#[test]
fn alert_pictures_and_acknowledgements_check_their_arguments() {
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let alert = Alert {
        id: "a-1".into(),
        time: 1000,
        kind: AlertKind::Intrusion,
        zone: None,
        title: "ロビー 侵入検知".into(),
        cameras: vec![],
        snapshot: None,
    };
    inbox.record("hq", &Event { epoch: 1, seq: 1, body: EventBody::Alert(alert) }, 0).unwrap();
    let w = window(AppState::detached(fed_state(), None, Some(inbox)));
    let none = invoke(&w, "alert_picture", json!({"siteId": "hq", "alertId": "a-1"})).unwrap_err();
    assert_eq!(none["kind"], "NotFound");
    let bad = invoke(&w, "alert_picture", json!({"siteId": "hq", "alertId": "../../x"})).unwrap_err();
    assert_eq!(bad["kind"], "InvalidInput");
    assert!(invoke(&w, "possible_gaps", json!({})).unwrap().as_array().unwrap().is_empty());
    // A development profile without MIMAMORI_ROLE is a viewer: nothing is sent.
    let viewer = invoke(&w, "acknowledge_alert", json!({"siteId": "hq", "alertId": "a-1", "note": "x"}));
    assert_eq!(viewer.unwrap_err()["kind"], "PermissionDenied");
    let bad = invoke(&w, "acknowledge_alert", json!({"siteId": "hq", "alertId": "a 1"}));
    assert_eq!(bad.unwrap_err()["kind"], "InvalidInput");
}

#[test]
fn quiet_hours_are_checked_before_anything_is_kept() {
    let w = window(AppState::detached(fed_state(), None, None));
    let same =
        invoke(&w, "set_quiet_hours", json!({"quiet": {"fromMinute": 60, "toMinute": 60}})).unwrap_err();
    assert_eq!(same["kind"], "InvalidInput");
    let late =
        invoke(&w, "set_quiet_hours", json!({"quiet": {"fromMinute": 1440, "toMinute": 60}})).unwrap_err();
    assert_eq!(late["kind"], "InvalidInput");
    assert!(invoke(&w, "set_quiet_hours", json!({"quiet": {"fromMinute": -1, "toMinute": 60}})).is_err());
}

/// Every command the app registers is declared in build.rs and granted to the window:
/// a command missing from either is refused at run time, and the web view only sees an
/// error it may well ignore. The table of IPC commands in `docs/architecture.md` names
/// exactly the registered ones, the benchmark probe's included.
#[test]
fn every_registered_command_is_declared_and_granted() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(dir.join(path)).unwrap();
    let (lib, build, capability) = (read("src/lib.rs"), read("build.rs"), read("capabilities/main.json"));
    let handler = lib.split("generate_handler![").nth(1).and_then(|s| s.split("])").next()).unwrap();
    let registered: Vec<&str> =
        handler.split(',').filter_map(|c| c.trim().strip_prefix("commands::")).collect();
    assert!(registered.len() > 20, "read the handler list: {registered:?}");
    for command in &registered {
        assert!(build.contains(&format!("\"{command}\"")), "{command} is not declared in build.rs");
        let permission = format!("\"allow-{}\"", command.replace('_', "-"));
        assert!(capability.contains(&permission), "{command} is not granted in capabilities/main.json");
    }
    let probe: Vec<&str> =
        handler.split(',').filter_map(|c| c.split("probe::").nth(1).map(str::trim)).collect();
    assert_eq!(probe.len(), 2, "read the probe's commands: {probe:?}");
    let architecture = read("../docs/architecture.md");
    let section = architecture.split("### IPC commands").nth(1).and_then(|s| s.split("\n#").next()).unwrap();
    // The second column of the table's rows.
    let mut documented: Vec<&str> = section
        .lines()
        .filter_map(|row| row.strip_prefix('|')?.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .collect();
    let mut expected: Vec<&str> = registered.iter().chain(&probe).copied().collect();
    documented.sort_unstable();
    expected.sort_unstable();
    assert_eq!(documented, expected, "the IPC commands of docs/architecture.md are not the registered ones");
}
