//! The live model of the sites a client is enrolled for, built from site-protocol messages.
//!
//! `Sites` is pure: it takes decoded messages and the current instant and answers what
//! changed. The bus feeds it; the views it hands out ([`SiteSummary`], [`SiteView`]) are
//! the IPC types the web view sees, and by construction they carry no endpoint URL.
//! See `docs/site-protocol.md` for the rules applied here (retained state, supervision).

use crate::protocol::role::Role;
use crate::protocol::{
    ArmState, CameraEntry, CameraHealth, Catalog, LinkState, MAX_OUTPUTS, Message, OutputKind, OutputState,
    OutputValue, ProtocolError, Status, Topic,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use ts_rs::TS;

/// How a site's link looks from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum SiteLink {
    /// Nothing heard from the site yet.
    Unknown,
    /// The site's status says online and it was heard within its supervision time.
    Online,
    /// The site said it is offline, or the broker published its Last Will.
    Offline,
    /// The site said online but has been silent for longer than its supervision time.
    Lost,
}

/// A change of a site that the device raises an alert for itself (a site cannot report
/// its own disappearance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// An online site has been silent for longer than its supervision time.
    Lost { site: String, silent_s: u64 },
    /// An online (or lost) site said it is offline, or the broker published its Last Will.
    Offline { site: String },
    /// A camera the site reported working is now reported offline.
    CameraOffline { site: String, camera: String },
}

impl Trouble {
    pub fn site(&self) -> &str {
        match self {
            Trouble::Lost { site, .. } | Trouble::Offline { site } | Trouble::CameraOffline { site, .. } => {
                site
            }
        }
    }

    /// The alert this device raises for it, worded in `lang` with the names in `view`.
    pub fn alert(
        &self,
        view: Option<&SiteView>,
        lang: crate::lang::Lang,
        now_ms: u64,
    ) -> crate::protocol::event::Alert {
        use crate::lang::Lang::{En, Ja};
        use crate::protocol::event::AlertKind;
        let site = view.and_then(|v| v.summary.name.clone()).unwrap_or_else(|| self.site().to_owned());
        let (kind, slug, title, cameras, zone) = match self {
            Trouble::Lost { silent_s, .. } => (
                AlertKind::LinkFailure,
                "lost",
                match lang {
                    En => format!("{site}: no word for {silent_s} s"),
                    Ja => format!("{site}: {silent_s} 秒間応答がありません"),
                },
                Vec::new(),
                None,
            ),
            Trouble::Offline { .. } => (
                AlertKind::LinkFailure,
                "offline",
                match lang {
                    En => format!("{site} went offline"),
                    Ja => format!("{site} がオフラインになりました"),
                },
                Vec::new(),
                None,
            ),
            Trouble::CameraOffline { camera, .. } => {
                let cam = view.and_then(|v| v.cameras.iter().find(|c| &c.id == camera));
                let name = cam.map_or(camera.as_str(), |c| c.name.as_str());
                (
                    AlertKind::CameraOffline,
                    "camera",
                    match lang {
                        En => format!("{name} stopped delivering video"),
                        Ja => format!("{name} の映像が途絶えました"),
                    },
                    vec![camera.clone()],
                    cam.and_then(|c| c.zone.clone()),
                )
            }
        };
        crate::protocol::event::Alert {
            // Unique per site and device: raised here, never by the site.
            id: format!("local-{slug}-{now_ms}-{:04x}", fastrand::u16(..)),
            time: now_ms,
            kind,
            zone,
            title: title.chars().take(crate::protocol::MAX_NAME_LEN).collect(),
            cameras,
            snapshot: None,
        }
    }
}

/// Troubles kept until taken; older ones go first beyond this.
const MAX_TROUBLES: usize = 256;

/// One line of the site list.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SiteSummary {
    pub id: String,
    /// `None` until the site's catalog has arrived.
    pub name: Option<String>,
    pub link: SiteLink,
    pub armed: Option<ArmState>,
    pub camera_count: u32,
    pub faulty_cameras: u32,
    pub output_count: u32,
    /// When this client last heard from the site, ms since the Unix epoch (client clock).
    #[ts(type = "number | null")]
    pub last_seen_ms: Option<u64>,
    /// The user's role here, as it holds: the one the site publishes when it keeps its own
    /// roles table (`role_from_site`); for a site that keeps none, the one this device was
    /// enrolled with (the broker's ACL enforces it). None when there is none, or before the
    /// site's catalog has arrived.
    pub role: Option<Role>,
    pub role_from_site: bool,
}

/// Everything the UI may know of one site: no endpoints, no credentials.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SiteView {
    #[serde(flatten)]
    pub summary: SiteSummary,
    pub time_zone: Option<String>,
    pub supervision_s: u32,
    pub armable: bool,
    pub cameras: Vec<CameraView>,
    pub outputs: Vec<OutputView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CameraView {
    pub id: String,
    pub name: String,
    pub zone: Option<String>,
    pub zone_name: Option<String>,
    pub health: Option<CameraHealth>,
    pub has_sub_stream: bool,
    pub has_snapshot: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutputView {
    pub id: String,
    pub kind: OutputKind,
    pub name: String,
    pub state: Option<OutputValue>,
    #[ts(type = "number | null")]
    pub since_ms: Option<u64>,
    pub by: Option<String>,
}

#[derive(Debug, Default)]
struct SiteEntry {
    catalog: Option<Catalog>,
    status: Option<Status>,
    outputs: BTreeMap<String, OutputState>,
    link: Option<SiteLink>,
    last_heard: Option<Instant>,
    /// The role the site publishes for this user (`…/roles/{user}`).
    site_role: Option<Role>,
    /// The role this device was enrolled with for the site.
    enrolled_role: Option<Role>,
    last_seen_ms: Option<u64>,
    /// The site's clock minus this device's, from its last live heartbeat (ms).
    clock_offset_ms: Option<i64>,
}

impl SiteEntry {
    fn supervision(&self) -> Duration {
        let s = self.catalog.as_ref().map_or(crate::protocol::DEFAULT_SUPERVISION_S, |c| c.supervision_s);
        Duration::from_secs(u64::from(s))
    }
}

/// The sites this client is enrolled for and what it knows of each.
#[derive(Debug, Default)]
pub struct Sites {
    entries: BTreeMap<String, SiteEntry>,
    order: Vec<String>,
    troubles: Vec<Trouble>,
}

/// Why a message was not applied although it decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("message for site `{0}`, which this client is not enrolled for")]
    NotEnrolled(String),
    #[error("a role for another user, which this client does not take")]
    NotOurs,
    #[error("site `{site}` sent state for more than {MAX_OUTPUTS} outputs")]
    TooManyOutputs { site: String },
}

impl Sites {
    /// A model for these site ids, in this order (the enrolment order).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Sites {
        let mut sites = Sites::default();
        for id in ids {
            let id = id.into();
            if !sites.entries.contains_key(&id) {
                sites.entries.insert(id.clone(), SiteEntry::default());
                sites.order.push(id);
            }
        }
        sites
    }

    /// The role this device was enrolled with for `site`: what holds there unless the site
    /// keeps its own roles table.
    pub fn set_enrolled_role(&mut self, site: &str, role: Role) {
        if let Some(entry) = self.entries.get_mut(site) {
            entry.enrolled_role = Some(role);
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Applies a decoded message; returns the id of the site it changed. A message that
    /// would not change anything visible still counts as a sign of life.
    pub fn apply(&mut self, msg: Message, now: Instant) -> Result<String, ApplyError> {
        let site_id = match &msg {
            Message::Catalog { site, .. }
            | Message::Status { site, .. }
            | Message::OutputState { site, .. }
            | Message::Event { site, .. }
            | Message::Role { site, .. } => site.clone(),
            Message::Cleared { topic } => topic.site().to_owned(),
        };
        let entry = self.entries.get_mut(&site_id).ok_or_else(|| ApplyError::NotEnrolled(site_id.clone()))?;
        match msg {
            Message::Catalog { catalog, .. } => entry.catalog = Some(catalog),
            Message::Status { status, .. } => {
                let was_up = matches!(entry.link, Some(SiteLink::Online | SiteLink::Lost));
                if was_up && status.state == LinkState::Offline {
                    self.troubles.push(Trouble::Offline { site: site_id.clone() });
                }
                let before = entry.status.as_ref().map(|s| &s.cameras);
                for (camera, health) in &status.cameras {
                    let was_working = before
                        .and_then(|b| b.get(camera))
                        .is_some_and(|h| matches!(h, CameraHealth::Ok | CameraHealth::Fault));
                    if *health == CameraHealth::Offline && was_working {
                        self.troubles
                            .push(Trouble::CameraOffline { site: site_id.clone(), camera: camera.clone() });
                    }
                }
                let excess = self.troubles.len().saturating_sub(MAX_TROUBLES);
                self.troubles.drain(..excess);
                entry.link = Some(match status.state {
                    LinkState::Online => SiteLink::Online,
                    LinkState::Offline => SiteLink::Offline,
                });
                entry.status = Some(status);
            }
            Message::OutputState { output, state, .. } => {
                if !entry.outputs.contains_key(&output) && entry.outputs.len() >= MAX_OUTPUTS {
                    return Err(ApplyError::TooManyOutputs { site: site_id });
                }
                entry.outputs.insert(output, state);
            }
            Message::Cleared { topic } => match topic {
                Topic::Catalog { .. } => entry.catalog = None,
                Topic::Status { .. } => {
                    entry.status = None;
                    entry.link = None;
                }
                Topic::OutputState { output, .. } => {
                    entry.outputs.remove(&output);
                }
                Topic::Events { .. } => {}
                Topic::Role { .. } => entry.site_role = None,
            },
            Message::Event { .. } => {}
            Message::Role { grant, .. } => entry.site_role = Some(grant.role),
        }
        entry.last_heard = Some(now);
        entry.last_seen_ms = Some(crate::time::now_ms());
        // A site heard again after being declared lost is online again only if its last
        // status said so.
        if entry.link == Some(SiteLink::Lost)
            && entry.status.as_ref().map(|s| s.state) == Some(LinkState::Online)
        {
            entry.link = Some(SiteLink::Online);
        }
        Ok(site_id)
    }

    /// Declares lost every online site silent for longer than its supervision time;
    /// returns the ids of the sites that changed.
    pub fn supervise(&mut self, now: Instant) -> Vec<String> {
        let mut changed = Vec::new();
        for (id, entry) in &mut self.entries {
            if entry.link != Some(SiteLink::Online) {
                continue;
            }
            let silent = entry.last_heard.map_or(Duration::MAX, |t| now.saturating_duration_since(t));
            if silent > entry.supervision() {
                entry.link = Some(SiteLink::Lost);
                changed.push(id.clone());
                self.troubles
                    .push(Trouble::Lost { site: id.clone(), silent_s: entry.supervision().as_secs() });
            }
        }
        let excess = self.troubles.len().saturating_sub(MAX_TROUBLES);
        self.troubles.drain(..excess);
        changed
    }

    /// The troubles since the last call, oldest first.
    pub fn take_troubles(&mut self) -> Vec<Trouble> {
        std::mem::take(&mut self.troubles)
    }

    /// The earliest instant at which [`Sites::supervise`] could change something.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| e.link == Some(SiteLink::Online))
            .filter_map(|e| e.last_heard.map(|t| t + e.supervision()))
            .min()
    }

    /// Restarts every site's supervision clock, e.g. after this client reconnects: while it
    /// was disconnected it could not hear anybody, which is not the sites' fault.
    pub fn restart_supervision(&mut self, now: Instant) {
        for entry in self.entries.values_mut() {
            if entry.last_heard.is_some() {
                entry.last_heard = Some(now);
            }
        }
    }

    pub fn summaries(&self) -> Vec<SiteSummary> {
        self.order.iter().filter_map(|id| self.entries.get(id).map(|e| summary(id, e))).collect()
    }

    pub fn view(&self, id: &str) -> Option<SiteView> {
        let entry = self.entries.get(id)?;
        let catalog = entry.catalog.as_ref();
        let zone_name = |zone: &Option<String>| {
            let zone = zone.as_deref()?;
            catalog?.zones.iter().find(|z| z.id == zone).map(|z| z.name.clone())
        };
        let cameras = catalog.map_or_else(Vec::new, |c| {
            c.cameras
                .iter()
                .map(|cam| CameraView {
                    id: cam.id.clone(),
                    name: cam.name.clone(),
                    zone: cam.zone.clone(),
                    zone_name: zone_name(&cam.zone),
                    health: entry.status.as_ref().and_then(|s| s.cameras.get(&cam.id).copied()),
                    has_sub_stream: cam.sub.is_some(),
                    has_snapshot: cam.snapshot.is_some(),
                })
                .collect()
        });
        let outputs = catalog.map_or_else(Vec::new, |c| {
            c.outputs
                .iter()
                .map(|o| {
                    let state = entry.outputs.get(&o.id);
                    OutputView {
                        id: o.id.clone(),
                        kind: o.kind,
                        name: o.name.clone(),
                        state: state.map(|s| s.state),
                        since_ms: state.and_then(|s| s.since),
                        by: state.and_then(|s| s.by.clone()),
                    }
                })
                .collect()
        });
        Some(SiteView {
            summary: summary(id, entry),
            time_zone: catalog.map(|c| c.time_zone.clone()),
            supervision_s: entry.supervision().as_secs().try_into().unwrap_or(u32::MAX),
            armable: catalog.is_some_and(|c| c.armable),
            cameras,
            outputs,
        })
    }

    /// A live heartbeat of `site` (not a retained copy, which may be old) said its clock
    /// read `site_ms` when this device's read `local_ms` on receipt. The delivery's delay
    /// makes the estimate early, never late: a deadline worked out from it is reached on
    /// the site's clock no later than meant.
    pub fn note_clock(&mut self, site: &str, site_ms: u64, local_ms: u64) {
        if let Some(entry) = self.entries.get_mut(site) {
            let as_ms = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
            entry.clock_offset_ms = Some(as_ms(site_ms).saturating_sub(as_ms(local_ms)));
        }
    }

    /// `site`'s clock now (ms since the Unix epoch), estimated from its last live
    /// heartbeat; None before one, or when the site sends no time (it does not trust its
    /// clock).
    pub fn site_clock_ms(&self, site: &str, local_ms: u64) -> Option<u64> {
        let offset = self.entries.get(site)?.clock_offset_ms?;
        u64::try_from(i64::try_from(local_ms).ok()?.saturating_add(offset)).ok()
    }

    /// Whether `site` has reported: its catalog and its status, the retained state every
    /// site keeps on the broker. Until then the broker may still be delivering it — or has
    /// dropped it (`bus/pacing.rs`).
    pub fn has_reported(&self, site: &str) -> bool {
        self.entries.get(site).is_some_and(|e| e.catalog.is_some() && e.status.is_some())
    }

    /// A camera's catalog entry, endpoints included: for the video pipeline, never for IPC.
    pub fn camera_entry(&self, site: &str, camera: &str) -> Option<&CameraEntry> {
        self.entries.get(site)?.catalog.as_ref()?.cameras.iter().find(|c| c.id == camera)
    }
}

fn summary(id: &str, e: &SiteEntry) -> SiteSummary {
    let catalog = e.catalog.as_ref();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    SiteSummary {
        id: id.to_owned(),
        name: catalog.map(|c| c.name.clone()),
        link: e.link.unwrap_or(SiteLink::Unknown),
        armed: e.status.as_ref().and_then(|s| s.armed),
        camera_count: count(catalog.map_or(0, |c| c.cameras.len())),
        faulty_cameras: count(
            e.status.as_ref().map_or(0, |s| s.cameras.values().filter(|h| **h != CameraHealth::Ok).count()),
        ),
        output_count: count(catalog.map_or(0, |c| c.outputs.len())),
        last_seen_ms: e.last_seen_ms,
        role: match catalog {
            Some(c) if c.role_table => e.site_role,
            Some(_) => e.enrolled_role,
            None => None,
        },
        role_from_site: catalog.is_some_and(|c| c.role_table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode;

    fn msg(topic: &str, json: serde_json::Value) -> Message {
        decode(topic, &serde_json::to_vec(&json).unwrap()).unwrap()
    }

    fn catalog() -> Message {
        msg(
            "mimamori/v1/sites/hq/catalog",
            serde_json::json!({"v":1,"name":"本社","time_zone":"Asia/Tokyo","supervision_s":30,
                "zones":[{"id":"z","name":"Lobby"}],
                "cameras":[{"id":"c1","name":"Door","zone":"z","main":"rtsp://h/main","sub":"rtsp://h/sub"}],
                "outputs":[{"id":"siren","kind":"siren","name":"Siren"}]}),
        )
    }

    fn status(state: &str) -> Message {
        msg(
            "mimamori/v1/sites/hq/status",
            serde_json::json!({"v":1,"state":state,"armed":"armed","cameras":{"c1":"fault"}}),
        )
    }

    #[test]
    fn going_offline_going_silent_and_a_camera_going_dark_are_troubles_once() {
        let t = Instant::now();
        let mut s = Sites::new(["hq"]);
        s.apply(catalog(), t).unwrap();
        // A first status is where things stand, not news.
        s.apply(status("offline"), t).unwrap();
        assert!(s.take_troubles().is_empty());
        s.apply(status("online"), t).unwrap();
        s.apply(status("offline"), t).unwrap();
        s.apply(status("offline"), t).unwrap();
        assert_eq!(s.take_troubles(), vec![Trouble::Offline { site: "hq".into() }]);
        s.apply(status("online"), t).unwrap();
        let dark = msg(
            "mimamori/v1/sites/hq/status",
            serde_json::json!({"v":1,"state":"online","cameras":{"c1":"offline"}}),
        );
        s.apply(dark.clone(), t).unwrap();
        s.apply(dark, t).unwrap();
        assert_eq!(
            s.take_troubles(),
            vec![Trouble::CameraOffline { site: "hq".into(), camera: "c1".into() }]
        );
        s.supervise(t + Duration::from_secs(31));
        s.supervise(t + Duration::from_secs(32));
        assert_eq!(s.take_troubles(), vec![Trouble::Lost { site: "hq".into(), silent_s: 30 }]);
    }

    #[test]
    fn builds_views_without_endpoints() {
        let t = Instant::now();
        let mut s = Sites::new(["hq", "shop"]);
        s.apply(catalog(), t).unwrap();
        s.apply(status("online"), t).unwrap();
        s.apply(
            msg(
                "mimamori/v1/sites/hq/outputs/siren/state",
                serde_json::json!({"v":1,"state":"on","by":"aiko"}),
            ),
            t,
        )
        .unwrap();
        let list = s.summaries();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name.as_deref(), Some("本社"));
        assert_eq!((list[0].link, list[0].camera_count, list[0].faulty_cameras), (SiteLink::Online, 1, 1));
        assert_eq!(list[1].link, SiteLink::Unknown);
        let view = s.view("hq").unwrap();
        assert_eq!(view.cameras[0].zone_name.as_deref(), Some("Lobby"));
        assert_eq!(view.outputs[0].state, Some(OutputValue::On));
        assert_eq!(view.outputs[0].by.as_deref(), Some("aiko"));
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("rtsp://"), "{json}");
        assert!(s.camera_entry("hq", "c1").unwrap().main.starts_with("rtsp://"));
    }

    #[test]
    fn messages_for_other_sites_are_refused() {
        let mut s = Sites::new(["shop"]);
        assert_eq!(s.apply(catalog(), Instant::now()), Err(ApplyError::NotEnrolled("hq".into())));
        assert!(s.view("hq").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn silence_past_supervision_is_lost_and_a_heartbeat_restores() {
        let mut s = Sites::new(["hq"]);
        s.apply(catalog(), Instant::now()).unwrap();
        s.apply(status("online"), Instant::now()).unwrap();
        assert_eq!(s.next_deadline(), Some(Instant::now() + Duration::from_secs(30)));
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(s.supervise(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(s.supervise(Instant::now()), vec!["hq".to_owned()]);
        assert_eq!(s.summaries()[0].link, SiteLink::Lost);
        assert!(s.next_deadline().is_none());
        s.apply(status("online"), Instant::now()).unwrap();
        assert_eq!(s.summaries()[0].link, SiteLink::Online);
    }

    #[test]
    fn last_will_marks_offline_and_cleared_status_is_unknown() {
        let t = Instant::now();
        let mut s = Sites::new(["hq"]);
        s.apply(status("online"), t).unwrap();
        s.apply(status("offline"), t).unwrap();
        assert_eq!(s.summaries()[0].link, SiteLink::Offline);
        assert!(s.supervise(t + Duration::from_secs(3600)).is_empty());
        s.apply(decode("mimamori/v1/sites/hq/status", b"").unwrap(), t).unwrap();
        assert_eq!(s.summaries()[0].link, SiteLink::Unknown);
    }

    #[test]
    fn output_states_are_bounded() {
        let t = Instant::now();
        let mut s = Sites::new(["hq"]);
        for i in 0..MAX_OUTPUTS {
            let topic = format!("mimamori/v1/sites/hq/outputs/o{i}/state");
            s.apply(msg(&topic, serde_json::json!({"v":1,"state":"off"})), t).unwrap();
        }
        let topic = "mimamori/v1/sites/hq/outputs/extra/state";
        let err = s.apply(msg(topic, serde_json::json!({"v":1,"state":"off"})), t).unwrap_err();
        assert!(matches!(err, ApplyError::TooManyOutputs { .. }));
    }
}
