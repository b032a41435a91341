//! Notifications through a real D-Bus session bus, to a notification service that records
//! what it is asked to show and clicks like a person: an intrusion raised at a site
//! through Mosquitto becomes a notification with the site, kind, zone, title and picture;
//! a click opens its camera; what follows in the same incident updates that notification
//! instead of stacking new ones, and repeats cool down; a critical incident is shown again
//! until acknowledged, and its notification closes when someone acknowledges it.

use super::alerts::{client, connected, site, until};
use mimamori_core::Secret;
use mimamori_core::audit::Audit;
use mimamori_core::bus::{Bus, BusConfig};
use mimamori_core::control;
use mimamori_core::inbox::Inbox;
use mimamori_core::lang::Lang;
use mimamori_core::notify::dbus::DbusNotifier;
use mimamori_core::notify::{self, policy::Policy};
use mimamori_core::protocol::event::AlertKind;
use mimamori_sim::SimAlert;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::notifications::{Recorder, SessionBus};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intrusion_is_notified_with_its_picture_and_a_click_opens_its_camera() {
    let session = SessionBus::start();
    let recorder = Recorder::start(&session.address).await;
    let (notifier, mut opened) =
        DbusNotifier::connect(Some(&session.address)).await.expect("the test's notification service");
    let broker = Mosquitto::start();
    let hq = site(&broker);
    let inbox = Arc::new(Inbox::in_memory().unwrap());
    let bus = client(&broker, &inbox);
    connected(&bus).await;
    tokio::spawn(notify::run(
        tokio::sync::watch::channel(vec![bus.state().clone()]).1,
        inbox.clone(),
        Arc::new(notifier),
        Policy { repeat_ms: Some(1500), ..Policy::default() },
        Lang::En,
        notify::system_clock(),
        tokio::sync::watch::channel(None).1,
    ));
    until("the catalog (for the site's name)", 10, || {
        bus.state().view("hq").is_some_and(|v| v.summary.name.is_some())
    })
    .await;

    let picture = mimamori_sim::camera::scene::still("hq/entrance", 320, 176, 15, 0);
    hq.raise(SimAlert {
        kind: AlertKind::Intrusion,
        zone: Some("lobby".into()),
        title: "正面玄関 侵入検知 <b>".into(),
        cameras: vec!["entrance".into()],
        snapshot: Some(picture),
    });
    until("the notification", 10, || recorder.shown().len() == 1).await;
    let first = recorder.shown()[0].clone();
    assert_eq!(first.app, "Mimamori");
    assert_eq!(first.summary, "Intrusion — 本社");
    assert_eq!(first.body, "正面玄関 侵入検知 &lt;b&gt;\nZone: ロビー", "text escaped for a markup service");
    assert_eq!(first.image, Some((320, 176, 3, 320 * 176 * 3)), "the alert's picture");
    assert_eq!(first.urgency, Some(2), "critical");
    assert_eq!(first.expire, 0, "a critical notification stays until dismissed");
    assert_eq!(first.sound.as_deref(), Some("alarm-clock-elapsed"));
    assert!(first.actions.starts_with(&["default".into(), "Open camera".into()]), "{:?}", first.actions);

    recorder.click(first.id, "default").await;
    let target = tokio::time::timeout(Duration::from_secs(5), opened.recv())
        .await
        .expect("a click reported")
        .expect("open");
    assert_eq!((target.site_id.as_str(), target.camera_id.as_deref()), ("hq", Some("entrance")));
    assert_eq!(target.alert_id, inbox.alerts(1).unwrap()[0].id);

    // The same incident goes on: the notification is updated in place; a repeat of the
    // same zone and kind within the cool-down stays in the inbox only.
    for _ in 0..3 {
        hq.raise(SimAlert {
            kind: AlertKind::Door,
            zone: Some("lobby".into()),
            title: "正面玄関 扉開放".into(),
            cameras: vec!["entrance".into()],
            snapshot: None,
        });
    }
    until("4 alerts stored", 10, || inbox.alerts(10).unwrap().len() == 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown = recorder.shown();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!((shown[1].replaces, shown[1].id), (first.id, first.id), "replaced, not stacked");
    assert_eq!(shown[1].summary, "Door — 本社 (2 alerts)");
    assert_eq!(shown[1].urgency, Some(2), "the incident stays critical");

    // Nobody acknowledges: the critical incident is shown again, in place.
    until("the notification repeated", 10, || recorder.shown().len() >= 3).await;
    assert_eq!(recorder.shown()[2].id, first.id);
    // A colleague acknowledges every alert notified under it: the notification goes.
    let manager_inbox = Arc::new(Inbox::in_memory().unwrap());
    let mut config = BusConfig::new(broker.address(), "manager-desk", "manager", vec!["hq".into()]);
    config.password = Some(Secret::new(PASSWORD.to_owned()));
    let manager = Bus::start_with_inbox(config, Some(manager_inbox.clone()));
    super::alerts::role_known(&manager).await;
    let path = std::env::temp_dir().join(format!("mimamori-notify-audit-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = Audit::open(&path).unwrap();
    for alert in inbox.alerts(10).unwrap() {
        let ack = control::Ack { site: "hq".into(), alert_id: alert.id, note: None };
        let done =
            control::acknowledge(manager.state(), &audit, None, "manager", ack, Duration::from_secs(5))
                .await
                .unwrap();
        assert_eq!(done, control::Outcome::Done { state: None });
    }
    until("the notification closed", 10, || recorder.closed() == [first.id]).await;
    let _ = std::fs::remove_file(&path);
    bus.stop().await;
}
