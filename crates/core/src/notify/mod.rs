//! Notifications: an alert stored in the inbox becomes an OS notification with the site,
//! the kind, the zone and the alert's picture, grouped into incidents and held back by
//! cool-downs and quiet hours (`policy.rs`); clicking it opens the alert's camera. The
//! platform's notification service sits behind the narrow [`Notifier`] trait: on Linux
//! the freedesktop service over D-Bus (`dbus.rs`), which, unlike the Tauri notification
//! plugin on desktop, reports which notification was clicked.

#[cfg(target_os = "linux")]
pub mod dbus;
pub mod policy;
pub mod settings;

use crate::bus::{BusChange, BusState};
use crate::inbox::{AlertView, Inbox};
use crate::lang::Lang;
use crate::protocol::event::AlertKind;
use policy::{Decision, Notices, Policy};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// A picture for a notification: 8-bit RGB, row after row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// One notification to show: an incident's latest alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The incident: a notification shown for the same incident is replaced.
    pub incident: u64,
    pub summary: String,
    pub body: String,
    pub picture: Option<Picture>,
    pub critical: bool,
    /// What a click opens.
    pub target: Target,
}

/// An alert and its camera: what opens when a notification is clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub site_id: String,
    pub alert_id: String,
    pub camera_id: Option<String>,
}

/// The platform's notification service.
pub trait Notifier: Send + Sync + 'static {
    /// Shows `notice`, replacing the notification of the same incident if one is shown.
    /// Never blocks; a failure is logged by the implementation (the alert is in the inbox
    /// whatever happens here).
    fn show(&self, notice: Notice);

    /// Takes an incident's notification away (its alerts were acknowledged).
    fn close(&self, incident: u64);
}

fn kind_words(kind: AlertKind, lang: Lang) -> &'static str {
    match (lang, kind) {
        (Lang::En, AlertKind::Intrusion) => "Intrusion",
        (Lang::En, AlertKind::Door) => "Door",
        (Lang::En, AlertKind::Tamper) => "Tamper",
        (Lang::En, AlertKind::Fire) => "Fire",
        (Lang::En, AlertKind::Panic) => "Panic",
        (Lang::En, AlertKind::Sensor) => "Sensor",
        (Lang::En, AlertKind::CameraOffline) => "Camera offline",
        (Lang::En, AlertKind::System) => "System",
        (Lang::En, AlertKind::LinkFailure) => "Link failure",
        (Lang::Ja, AlertKind::Intrusion) => "侵入",
        (Lang::Ja, AlertKind::Door) => "扉",
        (Lang::Ja, AlertKind::Tamper) => "いたずら",
        (Lang::Ja, AlertKind::Fire) => "火災",
        (Lang::Ja, AlertKind::Panic) => "非常通報",
        (Lang::Ja, AlertKind::Sensor) => "センサー",
        (Lang::Ja, AlertKind::CameraOffline) => "カメラ停止",
        (Lang::Ja, AlertKind::System) => "システム",
        (Lang::Ja, AlertKind::LinkFailure) => "通信断",
    }
}

/// The notice for `alert`, the `count`-th of its incident. Titles and names are plain
/// text: the D-Bus implementation escapes them for services that read markup.
pub fn notice(
    alert: &AlertView,
    site_name: &str,
    zone_name: Option<&str>,
    (incident, count, critical): (u64, u32, bool),
    picture: Option<Picture>,
    lang: Lang,
) -> Notice {
    let kind = kind_words(alert.kind, lang);
    let summary = match (lang, count) {
        (_, 1) => format!("{kind} — {site_name}"),
        (Lang::En, n) => format!("{kind} — {site_name} ({n} alerts)"),
        (Lang::Ja, n) => format!("{kind} — {site_name}（{n} 件）"),
    };
    let mut body = alert.title.clone();
    if let Some(zone) = zone_name.or(alert.zone.as_deref()) {
        body.push('\n');
        body.push_str(&match lang {
            Lang::En => format!("Zone: {zone}"),
            Lang::Ja => format!("ゾーン: {zone}"),
        });
    }
    Notice {
        incident,
        summary,
        body,
        picture,
        critical,
        target: Target {
            site_id: alert.site_id.clone(),
            alert_id: alert.id.clone(),
            camera_id: alert.cameras.first().cloned(),
        },
    }
}

/// The alert's stored thumbnail as RGB pixels, if it has one that decodes.
fn picture(inbox: &Inbox, alert: &AlertView) -> Option<Picture> {
    let jpeg = inbox.picture(&alert.site_id, &alert.id).ok().flatten()?;
    // The thumbnail was made by the core itself (320 px wide); the bounds still apply.
    let rgb =
        crate::video::snapshot::decode_within(&jpeg, crate::video::snapshot::ALERT_THUMBNAIL).ok()?.to_rgb8();
    Some(Picture { width: rgb.width(), height: rgb.height(), rgb: rgb.into_raw() })
}

/// (ms since the Unix epoch, minute of the day that quiet hours are given in).
pub type Clock = Box<dyn Fn() -> (u64, u16) + Send>;

/// The system clock, with the minute of the day in the device's own time zone (the one
/// quiet hours are set in; daylight saving time included). UTC when the zone is unknown.
pub fn system_clock() -> Clock {
    Box::new(|| {
        let now = crate::time::now_ms();
        let minute = jiff::Zoned::now().time();
        (now, u16::try_from(minute.hour()).unwrap_or(0) * 60 + u16::try_from(minute.minute()).unwrap_or(0))
    })
}

/// The next change on any of `changes`; a bus that went away is dropped from them (and
/// reported as closed). Never ready while there is none.
async fn next_change(
    changes: &mut Vec<tokio::sync::broadcast::Receiver<BusChange>>,
) -> Result<BusChange, RecvError> {
    if changes.is_empty() {
        return std::future::pending().await;
    }
    let (change, i) = {
        let (change, i, _others) =
            futures_util::future::select_all(changes.iter_mut().map(|c| Box::pin(c.recv()))).await;
        (change, i)
    };
    if matches!(change, Err(RecvError::Closed)) {
        changes.swap_remove(i);
    }
    change
}

/// Incidents whose notification is followed (to repeat it, to close it), newest kept.
const FOLLOWED: usize = 16;

/// An incident whose notification is shown.
struct Shown {
    /// The alerts notified under it.
    alerts: Vec<(String, String)>,
    notice: Notice,
    at: tokio::time::Instant,
}

/// Follows the inbox and notifies: one notifier for all of a device's buses (one per
/// enrolled profile), since they share the inbox, following `buses` as profiles come and go
/// without losing its incidents, cool-downs and repeats. Runs until no bus is left and
/// `buses` can change no more. Starts after the newest alert already stored: what arrived
/// while the app was closed is in the inbox, not re-notified.
/// A critical incident's notification is shown again every `policy.repeat_ms` until its
/// alerts are acknowledged; any incident's notification is closed once they all are.
pub async fn run(
    mut buses: tokio::sync::watch::Receiver<Vec<BusState>>,
    inbox: Arc<Inbox>,
    notifier: Arc<dyn Notifier>,
    policy: Policy,
    lang: Lang,
    clock: Clock,
    quiet: tokio::sync::watch::Receiver<Option<policy::QuietHours>>,
) {
    let mut current = buses.borrow_and_update().clone();
    let mut changes: Vec<_> = current.iter().map(BusState::subscribe).collect();
    let mut watching = true;
    let repeat = policy.repeat_ms.map(std::time::Duration::from_millis);
    let mut notices = Notices::new(policy);
    let mut mark = inbox.alert_mark().unwrap_or(0);
    let mut shown: std::collections::BTreeMap<u64, Shown> = std::collections::BTreeMap::new();
    // Acknowledgements and repeats are looked at once a second, not on every alert.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if !watching && changes.is_empty() {
            return;
        }
        tokio::select! {
            changed = buses.changed(), if watching => {
                if changed.is_err() {
                    watching = false;
                } else {
                    current = buses.borrow_and_update().clone();
                    changes = current.iter().map(BusState::subscribe).collect();
                }
                continue;
            }
            change = next_change(&mut changes) => match change {
                Ok(BusChange::Inbox { .. } | BusChange::Resync) | Err(RecvError::Lagged(_)) => {}
                Ok(_) | Err(RecvError::Closed) => continue,
            },
            _ = tick.tick() => {
                shown.retain(|incident, s| {
                    let handled = s.alerts.iter().all(|(site, id)| inbox.is_acknowledged(site, id).unwrap_or(false));
                    if handled {
                        notifier.close(*incident);
                    }
                    !handled
                });
                if let Some(every) = repeat {
                    for s in shown.values_mut().filter(|s| s.notice.critical && s.at.elapsed() >= every) {
                        notifier.show(s.notice.clone());
                        s.at = tokio::time::Instant::now();
                    }
                }
                continue;
            }
        }
        loop {
            let fresh = match inbox.alerts_after(mark, 256) {
                Ok(fresh) => fresh,
                Err(err) => {
                    tracing::error!("the notifier cannot read the inbox: {err}");
                    break;
                }
            };
            let Some((last, _)) = fresh.last() else { break };
            mark = *last;
            for (_, alert) in fresh {
                if alert.acknowledged_by.is_some() {
                    continue;
                }
                let (now, minute) = clock();
                notices.set_quiet(*quiet.borrow());
                let decision = notices.decide(&alert.site_id, alert.zone.as_deref(), alert.kind, now, minute);
                let Decision::Show { incident, count, critical } = decision else {
                    tracing::debug!(site = %alert.site_id, alert = %alert.id, ?decision, "not notified");
                    continue;
                };
                let view = current.iter().find_map(|bus| bus.view(&alert.site_id));
                let site_name = view
                    .as_ref()
                    .and_then(|v| v.summary.name.clone())
                    .unwrap_or_else(|| alert.site_id.clone());
                let zone_name = view.as_ref().and_then(|v| {
                    v.cameras
                        .iter()
                        .find(|c| c.zone.is_some() && c.zone == alert.zone)
                        .and_then(|c| c.zone_name.clone())
                });
                let n = notice(
                    &alert,
                    &site_name,
                    zone_name.as_deref(),
                    (incident, count, critical),
                    picture(&inbox, &alert),
                    lang,
                );
                notifier.show(n.clone());
                let entry = shown.entry(incident).or_insert_with(|| Shown {
                    alerts: Vec::new(),
                    notice: n.clone(),
                    at: tokio::time::Instant::now(),
                });
                entry.alerts.push((alert.site_id.clone(), alert.id.clone()));
                entry.notice = n;
                entry.at = tokio::time::Instant::now();
                while shown.len() > FOLLOWED {
                    shown.pop_first();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> AlertView {
        AlertView {
            site_id: "hq".into(),
            id: "a-1".into(),
            time_ms: 0,
            kind: AlertKind::Intrusion,
            zone: Some("lobby".into()),
            title: "ロビー 侵入検知 <b>".into(),
            cameras: vec!["entrance".into(), "lobby".into()],
            has_snapshot: false,
            picture_problem: None,
            acknowledged_by: None,
            acknowledged_ms: None,
            note: None,
        }
    }

    #[test]
    fn a_notice_names_kind_site_zone_and_opens_the_first_camera() {
        let n = notice(&alert(), "本社", Some("ロビー"), (4, 1, true), None, Lang::Ja);
        assert_eq!(n.summary, "侵入 — 本社");
        assert_eq!(n.body, "ロビー 侵入検知 <b>\nゾーン: ロビー");
        assert_eq!(n.target.camera_id.as_deref(), Some("entrance"));
        let n = notice(&alert(), "HQ", None, (4, 3, true), None, Lang::En);
        assert_eq!(n.summary, "Intrusion — HQ (3 alerts)");
        assert_eq!(n.body, "ロビー 侵入検知 <b>\nZone: lobby", "the zone id when its name is unknown");
        assert!(n.critical);
    }
}
