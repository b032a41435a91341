//! What the app holds while it runs: its sessions (a bus connection for every enrolled
//! profile, or the demo, or a development profile; none before enrolment), the profiles in
//! the keychain, and a watch that tells the event forwarder when the sessions change.
//!
//! A site belongs to one session: its views, commands, role, camera streams and camera
//! credentials are found through it. Enrolling or removing a profile starts or stops its
//! session alone; the web view is told to re-read everything (`bus-change`
//! `{ type: "resync" }`).

use mimamori_core::Secret;
use mimamori_core::audit::{Audit, AuditError};
use mimamori_core::bus::{Bus, BusConfig, BusState, BusStats, ConnectionStatus};
use mimamori_core::control::{self, Action, Command, ControlError, Outcome, Target};
use mimamori_core::enrol::CameraCredential;
use mimamori_core::inbox::{AlertView, Inbox, InboxError, PossibleGap};
use mimamori_core::notify::policy::QuietHours;
use mimamori_core::notify::settings::{self as notify_settings, QuietHoursSetting, SettingsError};
use mimamori_core::pin::{DevicePin, PinError};
use mimamori_core::profile::{ProfileError, ProfileSummary, Profiles};
use mimamori_core::protocol::CameraEntry;
use mimamori_core::protocol::role::Role;
use mimamori_core::site::{SiteSummary, SiteView};
use mimamori_core::time::now_ms;
use mimamori_core::vault::MemoryStore;
use mimamori_core::vault::VaultError;
use mimamori_core::video::rtsp::RtspOpener;
use mimamori_core::video::snapshot::{self, Snapshot, SnapshotError, SnapshotSource};
use mimamori_core::video::stream::StreamTiming;
use mimamori_core::video::{StreamSource, Streams, Transport, Viewer};
use mimamori_sim::demo::Demo;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use ts_rs::TS;

/// One connection: to the demo, a development profile, or one enrolled profile.
struct Session {
    bus: BusState,
    profile_id: Option<String>,
    _running: Option<Bus>,
    _demo: Option<Demo>,
}

/// The profiles, or why there are none: without a keychain the app still runs (the demo,
/// a development profile), but cannot enrol, and says why.
type Keychain = Result<Arc<Profiles>, VaultError>;

pub struct AppState {
    /// In enrolment order; a site is looked up in the first session that follows it.
    sessions: Mutex<Vec<Session>>,
    current: watch::Sender<Vec<BusState>>,
    keychain: Keychain,
    /// This device's alerts, whichever session brought them.
    inbox: Option<Arc<Inbox>>,
    /// Open camera streams, shared by every player that shows them.
    streams: Streams,
    /// Streams kept open because the user is likely to look at them next.
    warm: Mutex<Vec<Viewer>>,
    /// This device's audit log, opened on the first command.
    audit: std::sync::OnceLock<Result<Arc<Audit>, AuditError>>,
    /// The app PIN, in the keychain (in memory for the demo); None without a keychain.
    pin: Option<Arc<DevicePin>>,
    pub demo: bool,
    /// Quiet hours: non-critical alerts are not notified then.
    quiet: watch::Sender<Option<QuietHours>>,
}

/// How long a command waits for the site's answer; it expires on the broker with it.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The audit log for Settings: whether the chain verifies, and its newest records (none
/// when it does not: a changed log is not shown as if it were true).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogView {
    pub verified: bool,
    pub problem: Option<String>,
    pub total: u32,
    pub records: Vec<AuditRecordView>,
}

/// One audit record (ids and words only, never a secret or an address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecordView {
    #[ts(type = "number")]
    pub time_ms: u64,
    pub user: String,
    pub what: String,
    pub site: String,
    pub target: String,
    pub action: String,
    pub outcome: String,
    pub note: Option<String>,
}

impl From<mimamori_core::audit::Record> for AuditRecordView {
    fn from(r: mimamori_core::audit::Record) -> Self {
        AuditRecordView {
            time_ms: r.time_ms,
            user: r.user,
            what: r.what,
            site: r.site,
            target: r.target,
            action: r.action,
            outcome: r.outcome,
            note: r.note,
        }
    }
}

/// What a user may do at one site, for the UI to offer (the core checks again).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SiteControls {
    /// The user's role there; None when this device has none.
    pub role: Option<Role>,
    pub outputs: Vec<OutputControl>,
    /// `arm`, `arm_partial`, `disarm`, as allowed.
    pub arming: Vec<String>,
    /// Those of `arming` that need the app PIN (`disarm`).
    pub arming_guarded: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutputControl {
    pub id: String,
    /// `on`, `off`, `lock`, `unlock`, as allowed.
    pub actions: Vec<String>,
    /// Those of `actions` that lower protection and need the app PIN (unlock, silence).
    pub guarded: Vec<String>,
}

/// Whether the app PIN is set, and whether a proof is fresh.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PinStatus {
    /// Whether this device can keep a PIN at all (it needs the keychain).
    pub available: bool,
    pub set: bool,
    pub fresh: bool,
}

/// Most streams kept warm at once (the budget for likely-next cameras).
pub const MAX_WARM: usize = 4;

/// Which of a camera's streams to show: the main one (full screen) or the sub stream
/// (grid tiles; the main one when the camera has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum StreamQuality {
    Main,
    Sub,
}

/// Why a camera cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("no camera `{camera}` at site `{site}`")]
    NotFound { site: String, camera: String },
    #[error("camera `{0}` has an invalid stream address in its site's catalog")]
    BadEndpoint(String),
    #[error("camera `{0}` has no snapshot address")]
    NoSnapshot(String),
    #[error("snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// The alert inbox beside the settings. Without it alerts still arrive but are not kept,
/// and the broker is told at once, so the log says so loudly.
fn inbox_on_disk() -> Option<Arc<Inbox>> {
    match Inbox::open_default() {
        Ok(inbox) => Some(Arc::new(inbox)),
        Err(err) => {
            tracing::error!("the alert store cannot be opened; alerts will not be kept: {err}");
            None
        }
    }
}

fn lock(m: &Mutex<Vec<Session>>) -> MutexGuard<'_, Vec<Session>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    fn with(sessions: Vec<Session>, keychain: Keychain, inbox: Option<Arc<Inbox>>, demo: bool) -> AppState {
        let (current, _) = watch::channel(sessions.iter().map(|s| s.bus.clone()).collect());
        let streams = Streams::new(Arc::new(RtspOpener), StreamTiming::default());
        let pin = match (&keychain, demo) {
            (_, true) => Some(Arc::new(DevicePin::new(Arc::new(MemoryStore::default())))),
            (Ok(profiles), false) => Some(Arc::new(DevicePin::new(profiles.vault()))),
            (Err(_), false) => None,
        };
        AppState {
            sessions: Mutex::new(sessions),
            current,
            keychain,
            inbox,
            streams,
            warm: Mutex::new(Vec::new()),
            audit: std::sync::OnceLock::new(),
            pin,
            demo,
            quiet: watch::channel(
                notify_settings::load_quiet(&mimamori_core::dirs::settings()).and_then(|q| q.check().ok()),
            )
            .0,
        }
    }

    /// State fed by the caller, without a connection (tests).
    pub fn detached(bus: BusState, profiles: Option<Arc<Profiles>>, inbox: Option<Arc<Inbox>>) -> AppState {
        let session = Session { bus, profile_id: None, _running: None, _demo: None };
        let keychain = profiles.ok_or_else(|| VaultError::Unavailable("none in this test".into()));
        AppState::with(vec![session], keychain, inbox, false)
    }

    /// A development profile from the environment. Must run inside the Tokio runtime.
    pub fn development(config: BusConfig, keychain: Keychain) -> AppState {
        let inbox = inbox_on_disk();
        let bus = Bus::start_with_inbox(config, inbox.clone());
        let session =
            Session { bus: bus.state().clone(), profile_id: None, _running: Some(bus), _demo: None };
        AppState::with(vec![session], keychain, inbox, false)
    }

    /// The embedded demo broker and sites. Must run inside the Tokio runtime.
    pub fn demo() -> anyhow::Result<AppState> {
        let demo = Demo::start(0)?;
        let config = BusConfig::new(
            demo.broker.clone(),
            "mimamori-app-demo",
            mimamori_sim::demo::DEMO_USER,
            demo.site_ids(),
        );
        // The demo keeps its alerts in memory, like its secrets.
        let inbox = Some(Arc::new(Inbox::in_memory()?));
        let bus = Bus::start_with_inbox(config, inbox.clone());
        let session =
            Session { bus: bus.state().clone(), profile_id: None, _running: Some(bus), _demo: Some(demo) };
        let keychain = Err(VaultError::Unavailable("the demo uses no keychain".into()));
        Ok(AppState::with(vec![session], keychain, inbox, true))
    }

    /// Every enrolled profile, each on its own connection; with none, idle, waiting for an
    /// enrolment. Must run inside the Tokio runtime.
    pub fn enrolled(keychain: Keychain) -> AppState {
        let state = AppState::with(Vec::new(), keychain, inbox_on_disk(), false);
        match state.profiles().and_then(|p| p.list()) {
            Ok(list) => {
                for p in list {
                    // One profile that cannot connect keeps none of the others offline.
                    if let Err(err) = state.connect_profile(&p.id) {
                        tracing::error!(profile = %p.id, "cannot connect the enrolled profile: {err}");
                    }
                }
            }
            Err(err) => tracing::error!("cannot read the enrolled profiles: {err}"),
        }
        state
    }

    /// The newest alerts of this device; none without an inbox.
    pub fn alerts(&self, limit: usize) -> Result<Vec<AlertView>, InboxError> {
        self.inbox.as_ref().map_or(Ok(Vec::new()), |inbox| inbox.alerts(limit))
    }

    /// The quiet hours as they change (for the notifier).
    pub fn watch_quiet(&self) -> watch::Receiver<Option<QuietHours>> {
        self.quiet.subscribe()
    }

    pub fn quiet_hours(&self) -> Option<QuietHoursSetting> {
        self.quiet.borrow().map(|q| QuietHoursSetting { from_minute: q.from_minute, to_minute: q.to_minute })
    }

    /// Sets (or clears) the quiet hours: kept on this device, applied from the next alert.
    pub fn set_quiet_hours(&self, quiet: Option<QuietHoursSetting>) -> Result<(), SettingsError> {
        let checked = quiet.map(QuietHoursSetting::check).transpose()?;
        notify_settings::save_quiet(&mimamori_core::dirs::settings(), quiet)?;
        self.quiet.send_replace(checked);
        Ok(())
    }

    /// This device's alert store, if it could be opened.
    pub fn inbox(&self) -> Option<Arc<Inbox>> {
        self.inbox.clone()
    }

    /// What sites reported they no longer have: shown as possible gaps.
    pub fn possible_gaps(&self) -> Result<Vec<PossibleGap>, InboxError> {
        self.inbox.as_ref().map_or(Ok(Vec::new()), |inbox| inbox.possible_gaps())
    }

    /// The thumbnail of an alert's picture.
    pub fn alert_picture(&self, site: &str, alert: &str) -> Result<Option<Vec<u8>>, InboxError> {
        self.inbox.as_ref().map_or(Ok(None), |inbox| inbox.picture(site, alert))
    }

    /// Watches a camera of the current session. Its worker starts if nobody watches it
    /// yet, with the endpoint from the site's catalog and the credentials from the
    /// keychain; neither leaves Rust.
    pub async fn watch_camera(
        &self,
        site: &str,
        camera: &str,
        quality: StreamQuality,
    ) -> Result<Viewer, CameraError> {
        let entry = self.camera_entry(site, camera)?;
        let endpoint = match quality {
            StreamQuality::Sub => entry.sub.as_deref().unwrap_or(&entry.main),
            StreamQuality::Main => &entry.main,
        };
        let url: url::Url = endpoint.parse().map_err(|_| CameraError::BadEndpoint(camera.to_owned()))?;
        // Streams of different sessions never mix, even for equal site and camera ids.
        let session =
            self.profile_of(site).unwrap_or_else(|| if self.demo { "demo".into() } else { "local".into() });
        let key = format!("{session}/{site}/{camera}/{quality:?}");
        let credentials = if self.streams.get(&key).is_none() {
            self.camera_credential(site, camera).await?.and_then(|c| c.for_endpoint(&url))
        } else {
            None
        };
        Ok(self.streams.watch(&key, move || StreamSource {
            url: Secret::new(url),
            credentials,
            transport: Transport::Tcp,
        }))
    }

    /// Keeps these streams open (and their GOP cached) so that switching to them is
    /// instant; replaces the previous set, whose streams then close after the idle time.
    /// Cameras that cannot be opened are left out.
    pub async fn keep_warm(&self, cameras: &[(String, String, StreamQuality)]) {
        let mut viewers = Vec::with_capacity(cameras.len());
        for (site, camera, quality) in cameras.iter().take(MAX_WARM) {
            match self.watch_camera(site, camera, *quality).await {
                Ok(v) => viewers.push(v),
                Err(e) => tracing::debug!(site, camera, error = %e, "not kept warm"),
            }
        }
        *self.warm.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = viewers;
    }

    /// What this user may do at `site`, with the role that holds there (the one the site
    /// publishes, or for a site that keeps no roles table the enrolled one: the core's
    /// `SiteSummary::role`): for each output the actions that fit it and the role allows,
    /// and the arming actions (the core decides; the UI only shows them).
    pub fn controls(&self, site: &str) -> SiteControls {
        let Some(view) = self.view(site) else {
            return SiteControls {
                role: None,
                outputs: Vec::new(),
                arming: Vec::new(),
                arming_guarded: Vec::new(),
            };
        };
        let role = view.summary.role;
        // (allowed, needing the app PIN) of each candidate action on a target.
        let allowed = |target: Target, actions: &[Action]| -> (Vec<String>, Vec<String>) {
            let mut ok = Vec::new();
            let mut guarded = Vec::new();
            for a in actions {
                let cmd = Command { site: site.to_owned(), target: target.clone(), action: *a, note: None };
                if let Ok(kind) = control::check_in(&view, &cmd) {
                    ok.push(a.word().to_owned());
                    if control::needs_proof(kind, *a) {
                        guarded.push(a.word().to_owned());
                    }
                }
            }
            (ok, guarded)
        };
        let candidates = [Action::On, Action::Off, Action::Lock, Action::Unlock];
        let outputs = view
            .outputs
            .iter()
            .map(|o| {
                let (actions, guarded) = allowed(Target::Output(o.id.clone()), &candidates);
                OutputControl { id: o.id.clone(), actions, guarded }
            })
            .collect();
        let (arming, arming_guarded) =
            allowed(Target::Site, &[Action::Arm, Action::ArmPartial, Action::Disarm]);
        SiteControls { role, outputs, arming, arming_guarded }
    }

    /// Sends a command as this device's user, after the core's checks, through the audit
    /// log.
    pub async fn command(&self, cmd: Command) -> Result<Outcome, ControlError> {
        let bus = self.bus_of(&cmd.site).ok_or_else(|| ControlError::UnknownSite(cmd.site.clone()))?;
        control::send(&bus, &*self.audit()?, &bus.user(), cmd, self.pin.as_deref(), COMMAND_TIMEOUT).await
    }

    /// Acknowledges an alert for every user of its site (operators and admins).
    pub async fn acknowledge(&self, ack: control::Ack) -> Result<Outcome, ControlError> {
        let bus = self.bus_of(&ack.site).ok_or_else(|| ControlError::UnknownSite(ack.site.clone()))?;
        control::acknowledge(&bus, &*self.audit()?, self.inbox.as_deref(), &bus.user(), ack, COMMAND_TIMEOUT)
            .await
    }

    /// This device's audit log, opened on first use.
    fn audit(&self) -> Result<Arc<Audit>, AuditError> {
        self.audit
            .get_or_init(|| {
                mimamori_core::dirs::private_dir(&mimamori_core::dirs::settings())
                    .map_err(|e| AuditError::Io(e.to_string()))?;
                // Anchored in the keychain, where there is one (not for the demo).
                match (&self.keychain, self.demo) {
                    (Ok(profiles), false) => Audit::open_anchored(self.audit_path(), profiles.vault()),
                    _ => Audit::open(self.audit_path()),
                }
                .map(Arc::new)
            })
            .clone()
    }

    /// Notes in the audit log that this user saved (`save`) or deleted (`delete`) a clip.
    /// A clip is not undone for want of a log: a failure to write it is logged loudly.
    pub fn audit_clip(&self, site: &str, camera: &str, action: &str, clip_id: &str) {
        let user = self.bus_of(site).map(|bus| bus.user()).unwrap_or_default();
        let written = self.audit().and_then(|a| a.clip(&user, site, camera, action, clip_id, now_ms()));
        if let Err(e) = written {
            tracing::error!(site, camera, action, "the clip could not be written to the audit log: {e}");
        }
    }

    /// Where this device's audit log is (the demo keeps its own).
    pub fn audit_path(&self) -> std::path::PathBuf {
        let name = if self.demo { "demo-audit.log" } else { "audit.log" };
        mimamori_core::dirs::settings().join(name)
    }

    /// The audit log as Settings shows it: whether its chain holds, and its newest records.
    pub fn audit_log(&self, limit: usize) -> AuditLogView {
        let path = self.audit_path();
        // A log gone or cut short is reported from the head the keychain keeps.
        let vault = match (&self.keychain, self.demo) {
            (Ok(profiles), false) => Some(profiles.vault()),
            _ => None,
        };
        match Audit::records_anchored(&path, vault.as_deref()) {
            Ok(all) => AuditLogView {
                verified: true,
                problem: None,
                total: u32::try_from(all.len()).unwrap_or(u32::MAX),
                records: all.into_iter().rev().take(limit).map(AuditRecordView::from).collect(),
            },
            Err(e) => {
                AuditLogView { verified: false, problem: Some(e.to_string()), total: 0, records: Vec::new() }
            }
        }
    }

    pub fn pin_status(&self) -> Result<PinStatus, PinError> {
        Ok(match &self.pin {
            None => PinStatus { available: false, set: false, fresh: false },
            Some(p) => PinStatus { available: true, set: p.is_set()?, fresh: p.is_fresh() },
        })
    }

    /// Sets the app PIN (first use) or proves it; either way it is then fresh.
    pub async fn confirm_pin(&self, pin: String, first: bool) -> Result<(), PinError> {
        let Some(p) = self.pin.clone() else {
            return Err(PinError::Vault(VaultError::Unavailable("no keychain to keep an app PIN".into())));
        };
        // Argon2 and the keychain are slow and blocking: off the async workers.
        tokio::task::spawn_blocking(move || if first { p.set(&pin) } else { p.prove(&pin) })
            .await
            .map_err(|e| PinError::Vault(VaultError::Failed(e.to_string())))?
    }

    /// A camera's snapshot at tile size, from its HTTP snapshot endpoint.
    pub async fn snapshot(&self, site: &str, camera: &str) -> Result<Snapshot, CameraError> {
        let entry = self.camera_entry(site, camera)?;
        let endpoint = entry.snapshot.ok_or_else(|| CameraError::NoSnapshot(camera.to_owned()))?;
        let url: url::Url = endpoint.parse().map_err(|_| CameraError::BadEndpoint(camera.to_owned()))?;
        let credentials = self.camera_credential(site, camera).await?.and_then(|c| c.for_endpoint(&url));
        Ok(snapshot::fetch(&SnapshotSource { url: Secret::new(url), credentials }).await?)
    }

    /// A camera's catalog entry, endpoints included: for the video pipeline, never for IPC.
    pub fn camera_entry(&self, site: &str, camera: &str) -> Result<CameraEntry, CameraError> {
        self.bus_of(site)
            .and_then(|bus| bus.camera_entry(site, camera))
            .ok_or_else(|| CameraError::NotFound { site: site.to_owned(), camera: camera.to_owned() })
    }

    /// The camera's credentials from the enrolled profile the site belongs to (none in the
    /// demo or a development profile), bound to the camera's enrolled addresses
    /// (`CameraCredential::for_endpoint`). The keychain blocks, so it runs off the async
    /// workers.
    async fn camera_credential(
        &self,
        site: &str,
        camera: &str,
    ) -> Result<Option<CameraCredential>, CameraError> {
        let (Some(id), Ok(profiles)) = (self.profile_of(site), &self.keychain) else {
            return Ok(None);
        };
        let (profiles, site, camera) = (profiles.clone(), site.to_owned(), camera.to_owned());
        let credential = tokio::task::spawn_blocking(move || profiles.camera_credential(&id, &site, &camera))
            .await
            .map_err(|e| ProfileError::Vault(VaultError::Failed(e.to_string())))??;
        Ok(credential)
    }

    /// The session that follows `site`: its bus, and its enrolled profile (None for the
    /// demo or a development profile).
    fn session_of(&self, site: &str) -> Option<(BusState, Option<String>)> {
        lock(&self.sessions)
            .iter()
            .find(|s| s.bus.has_site(site))
            .map(|s| (s.bus.clone(), s.profile_id.clone()))
    }

    /// The bus that carries `site`'s state, commands and acknowledgements.
    pub fn bus_of(&self, site: &str) -> Option<BusState> {
        self.session_of(site).map(|(bus, _)| bus)
    }

    fn profile_of(&self, site: &str) -> Option<String> {
        self.session_of(site).and_then(|(_, profile)| profile)
    }

    fn buses(&self) -> Vec<BusState> {
        lock(&self.sessions).iter().map(|s| s.bus.clone()).collect()
    }

    /// Every site of every session, in enrolment order; a site two sessions follow is
    /// listed once, from the first.
    pub fn summaries(&self) -> Vec<SiteSummary> {
        let mut seen = std::collections::HashSet::new();
        self.buses().iter().flat_map(BusState::summaries).filter(|s| seen.insert(s.id.clone())).collect()
    }

    pub fn view(&self, site: &str) -> Option<SiteView> {
        self.bus_of(site)?.view(site)
    }

    /// The connection as the app shows it: see [`ConnectionStatus::combined`].
    pub fn connection(&self) -> ConnectionStatus {
        ConnectionStatus::combined(&self.buses().iter().map(BusState::connection).collect::<Vec<_>>())
    }

    /// The counters of every session, added up; the last rejection of any.
    pub fn stats(&self) -> BusStats {
        self.buses().iter().map(BusState::stats).fold(BusStats::default(), |sum, s| BusStats {
            received: sum.received + s.received,
            rejected: sum.rejected + s.rejected,
            unstored: sum.unstored + s.unstored,
            replayed: sum.replayed + s.replayed,
            last_rejection: s.last_rejection.or(sum.last_rejection),
        })
    }

    /// The enrolled profiles connected now, in enrolment order, with their connections.
    pub fn profile_connections(&self) -> Vec<crate::commands::ProfileConnection> {
        lock(&self.sessions)
            .iter()
            .filter_map(|s| {
                let profile_id = s.profile_id.clone()?;
                Some(crate::commands::ProfileConnection { profile_id, status: s.bus.connection() })
            })
            .collect()
    }

    /// Follows the sessions as they change (for the event forwarder and the notifier).
    pub fn watch_buses(&self) -> watch::Receiver<Vec<BusState>> {
        self.current.subscribe()
    }

    fn profiles(&self) -> Result<Arc<Profiles>, ProfileError> {
        self.keychain.clone().map_err(ProfileError::Vault)
    }

    pub fn list_profiles(&self) -> Result<Vec<ProfileSummary>, ProfileError> {
        match &self.keychain {
            Ok(profiles) => profiles.list(),
            // No keychain, so nothing can have been enrolled.
            Err(_) => Ok(Vec::new()),
        }
    }

    /// Starts profile `id`'s session, in place of the one it had (a rotated credential
    /// reconnects); the other sessions go on undisturbed.
    fn connect_profile(&self, id: &str) -> Result<(), ProfileError> {
        let profiles = self.profiles()?;
        let client_id = format!("app-{}-{id}", profiles.device_id()?);
        let bus = Bus::start_with_inbox(profiles.bus_config(id, &client_id)?, self.inbox.clone());
        let session = Session {
            bus: bus.state().clone(),
            profile_id: Some(id.to_owned()),
            _running: Some(bus),
            _demo: None,
        };
        self.change_sessions(|sessions| {
            sessions.retain(|s| s.profile_id.as_deref() != Some(id));
            sessions.push(session);
        });
        Ok(())
    }

    /// Changes the sessions and tells whoever follows them. A session dropped here
    /// disconnects.
    fn change_sessions(&self, change: impl FnOnce(&mut Vec<Session>)) {
        let buses = {
            let mut sessions = lock(&self.sessions);
            change(&mut sessions);
            sessions.iter().map(|s| s.bus.clone()).collect()
        };
        self.current.send_replace(buses);
    }

    /// Enrols from a code and connects the new profile beside the others (a profile enrolled
    /// again reconnects with its new credentials). The keychain is slow and blocking, so it
    /// runs off the async workers.
    pub async fn enrol(&self, code: String, pin: String) -> Result<ProfileSummary, ProfileError> {
        let profiles = self.profiles()?;
        let summary = tokio::task::spawn_blocking(move || profiles.enrol(&code, &pin, now_ms()))
            .await
            .map_err(|e| ProfileError::Vault(VaultError::Failed(e.to_string())))??;
        if !self.demo {
            self.connect_profile(&summary.id)?;
        }
        Ok(summary)
    }

    /// Removes a profile and its secrets, and disconnects its session.
    pub async fn remove_profile(&self, id: String) -> Result<(), ProfileError> {
        let profiles = self.profiles()?;
        let removed = id.clone();
        tokio::task::spawn_blocking(move || profiles.remove(&removed))
            .await
            .map_err(|e| ProfileError::Vault(VaultError::Failed(e.to_string())))??;
        self.change_sessions(|sessions| sessions.retain(|s| s.profile_id.as_deref() != Some(id.as_str())));
        Ok(())
    }
}
