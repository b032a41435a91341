//! The IPC commands: each converts its arguments, asks the core, converts the error.

use crate::background::{self, BackgroundStatus};
use crate::clips::Recordings;
use crate::error::{ErrorKind, IpcError};
use crate::links::PendingLink;
use crate::player::Players;
use crate::state::{AppState, AuditLogView, MAX_WARM, PinStatus, SiteControls, StreamQuality};
use mimamori_core::bus::{BusStats, ConnectionStatus};
use mimamori_core::control::{self, Action, Command, Outcome, Target};
use mimamori_core::inbox::{AlertView, PossibleGap};
use mimamori_core::notify::settings::{QuietHoursSetting, SettingsError};
use mimamori_core::profile::ProfileSummary;
use mimamori_core::protocol::check_id;
use mimamori_core::site::{SiteSummary, SiteView};
use mimamori_core::video::clip::{ClipInfo, ClipSubject};
use serde::Serialize;
use tauri::State;
use tauri::ipc::{Channel, InvokeResponseBody};
use ts_rs::TS;

#[tauri::command]
pub fn list_sites(state: State<'_, AppState>) -> Vec<SiteSummary> {
    state.summaries()
}

#[tauri::command]
pub fn get_site(state: State<'_, AppState>, site_id: String) -> Result<SiteView, IpcError> {
    check_id("site id", &site_id)?;
    state.view(&site_id).ok_or_else(|| IpcError::new(ErrorKind::NotFound, format!("no site `{site_id}`")))
}

#[tauri::command]
pub fn connection_status(state: State<'_, AppState>) -> ConnectionStatus {
    state.connection()
}

#[tauri::command]
pub fn bus_stats(state: State<'_, AppState>) -> BusStats {
    state.stats()
}

/// What the UI needs to know about how the app runs.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    /// Running on the built-in demo sites (shown as such).
    pub demo: bool,
    /// The enrolled profiles connected now, in enrolment order, each with its own
    /// connection (the bar shows them combined); none before enrolment (and in the demo).
    pub connections: Vec<ProfileConnection>,
}

/// One enrolled profile's connection, so that the app can say which account the broker
/// refused.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileConnection {
    pub profile_id: String,
    pub status: ConnectionStatus,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo: state.demo,
        connections: state.profile_connections(),
    }
}

#[tauri::command]
pub fn list_profiles(state: State<'_, AppState>) -> Result<Vec<ProfileSummary>, IpcError> {
    Ok(state.list_profiles()?)
}

/// Enrols this device from a code and its PIN; answers only with what was enrolled.
#[tauri::command]
pub async fn enrol(
    state: State<'_, AppState>,
    code: String,
    pin: String,
) -> Result<ProfileSummary, IpcError> {
    Ok(state.enrol(code, pin).await?)
}

#[tauri::command]
pub async fn remove_profile(state: State<'_, AppState>, profile_id: String) -> Result<(), IpcError> {
    Ok(state.remove_profile(profile_id).await?)
}

/// The newest alerts stored on this device (at most 500).
#[tauri::command]
pub fn list_alerts(state: State<'_, AppState>, limit: u32) -> Result<Vec<AlertView>, IpcError> {
    let limit = usize::try_from(limit.clamp(1, 500)).unwrap_or(500);
    state.alerts(limit).map_err(|e| IpcError::new(ErrorKind::Unavailable, e.to_string()))
}

/// How the app runs in the background: tray icon, start at login.
#[tauri::command]
pub fn background_status<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> BackgroundStatus {
    background::status(&app)
}

/// Starts the app (hidden) at login, or not.
#[tauri::command]
pub fn set_start_at_login<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    enabled: bool,
) -> Result<BackgroundStatus, IpcError> {
    let dir = background::autostart_dir()
        .ok_or_else(|| IpcError::new(ErrorKind::Unavailable, "starting at login is not available here"))?;
    let exe = std::env::current_exe().map_err(|e| IpcError::new(ErrorKind::Internal, e.to_string()))?;
    background::set_start_at_login(&dir, &exe, enabled)
        .map_err(|e| IpcError::new(ErrorKind::Unavailable, format!("the autostart entry: {e}")))?;
    Ok(background::status(&app))
}

/// This device's audit log: whether its chain holds, and its newest records (at most 200).
#[tauri::command]
pub fn audit_log(state: State<'_, AppState>, limit: u32) -> AuditLogView {
    state.audit_log(usize::try_from(limit.clamp(1, 200)).unwrap_or(200))
}

/// The quiet hours (minutes of the local day), if set.
#[tauri::command]
pub fn quiet_hours(state: State<'_, AppState>) -> Option<QuietHoursSetting> {
    state.quiet_hours()
}

/// Sets or clears the quiet hours: non-critical alerts are not notified then.
#[tauri::command]
pub fn set_quiet_hours(
    state: State<'_, AppState>,
    quiet: Option<QuietHoursSetting>,
) -> Result<Option<QuietHoursSetting>, IpcError> {
    state.set_quiet_hours(quiet).map_err(|e| match e {
        SettingsError::Invalid => IpcError::new(ErrorKind::InvalidInput, e.to_string()),
        SettingsError::Io(_) => IpcError::new(ErrorKind::Unavailable, e.to_string()),
    })?;
    Ok(state.quiet_hours())
}

/// What sites reported they no longer have, newest first: the inbox's possible gaps.
#[tauri::command]
pub fn possible_gaps(state: State<'_, AppState>) -> Result<Vec<PossibleGap>, IpcError> {
    state.possible_gaps().map_err(|e| IpcError::new(ErrorKind::Unavailable, e.to_string()))
}

/// The thumbnail (JPEG bytes, an `ArrayBuffer` in the web view) of the picture an alert
/// came with.
#[tauri::command]
pub fn alert_picture(
    state: State<'_, AppState>,
    site_id: String,
    alert_id: String,
) -> Result<tauri::ipc::Response, IpcError> {
    check_id("site id", &site_id)?;
    check_id("alert id", &alert_id)?;
    match state.alert_picture(&site_id, &alert_id) {
        Ok(Some(jpeg)) => Ok(tauri::ipc::Response::new(jpeg)),
        Ok(None) => Err(IpcError::new(ErrorKind::NotFound, "this alert has no picture")),
        Err(e) => Err(IpcError::new(ErrorKind::Unavailable, e.to_string())),
    }
}

/// Acknowledges an alert, with an optional note that every user of the site sees.
#[tauri::command]
pub async fn acknowledge_alert(
    state: State<'_, AppState>,
    site_id: String,
    alert_id: String,
    note: Option<String>,
) -> Result<Outcome, IpcError> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    Ok(state.acknowledge(control::Ack { site: site_id, alert_id, note }).await?)
}

/// Starts sending a camera's video to `channel` (see `player.rs` for the messages): live,
/// or from its memory at `from_ms` (wall clock) on. Answers with the player id for
/// `close_stream`.
#[tauri::command]
pub async fn open_stream(
    state: State<'_, AppState>,
    players: State<'_, Players>,
    site_id: String,
    camera_id: String,
    quality: StreamQuality,
    channel: Channel<InvokeResponseBody>,
    from_ms: Option<u64>,
) -> Result<u32, IpcError> {
    check_id("site id", &site_id)?;
    check_id("camera id", &camera_id)?;
    let viewer = state.watch_camera(&site_id, &camera_id, quality).await?;
    Ok(players.start(viewer, channel, from_ms))
}

/// Starts saving a clip of a camera's main stream: from `from_ms` (wall clock; as far back
/// as the camera's memory reaches) until `stop_clip` or the clip limit. Returns its id.
#[tauri::command]
pub async fn start_clip(
    state: State<'_, AppState>,
    recordings: State<'_, Recordings>,
    site_id: String,
    camera_id: String,
    from_ms: u64,
) -> Result<String, IpcError> {
    check_id("site id", &site_id)?;
    check_id("camera id", &camera_id)?;
    let camera_name = state.camera_entry(&site_id, &camera_id).map(|c| c.name).unwrap_or_default();
    let viewer = state.watch_camera(&site_id, &camera_id, StreamQuality::Main).await?;
    let subject = ClipSubject { site_id, camera_id, camera_name };
    Ok(recordings.start(subject, viewer, from_ms)?)
}

/// Stops a recording; answers with the saved clip once its file is complete.
#[tauri::command]
pub async fn stop_clip(
    state: State<'_, AppState>,
    recordings: State<'_, Recordings>,
    clip_id: String,
) -> Result<ClipInfo, IpcError> {
    let clip = recordings.stop(&clip_id).await?;
    state.audit_clip(&clip.site_id, &clip.camera_id, "save", &clip.id);
    Ok(clip)
}

/// The saved clips, newest first.
#[tauri::command(async)]
pub fn list_clips(recordings: State<'_, Recordings>) -> Result<Vec<ClipInfo>, IpcError> {
    Ok(recordings.list()?)
}

/// The enrolment link the app was opened with, once (see `links.rs`).
#[tauri::command]
pub fn take_enrol_link(links: State<'_, PendingLink>) -> Option<String> {
    links.take()
}

/// Deletes a saved clip.
#[tauri::command(async)]
pub fn delete_clip(
    state: State<'_, AppState>,
    recordings: State<'_, Recordings>,
    clip_id: String,
) -> Result<(), IpcError> {
    if let Some(c) = recordings.delete(&clip_id)? {
        state.audit_clip(&c.site_id, &c.camera_id, "delete", &c.id);
    }
    Ok(())
}

/// What this device's user may do at a site (outputs and arming), for the UI to offer.
#[tauri::command]
pub fn site_controls(state: State<'_, AppState>, site_id: String) -> Result<SiteControls, IpcError> {
    check_id("site id", &site_id)?;
    Ok(state.controls(&site_id))
}

/// Whether the app PIN is set and freshly proven. It asks the keychain: not on the window's
/// thread.
#[tauri::command(async)]
pub fn pin_status(state: State<'_, AppState>) -> Result<PinStatus, IpcError> {
    Ok(state.pin_status()?)
}

/// Sets the app PIN on first use (`first`), or proves it: commands that lower protection
/// need a proof of the last two minutes.
#[tauri::command]
pub async fn confirm_pin(state: State<'_, AppState>, pin: String, first: bool) -> Result<(), IpcError> {
    Ok(state.confirm_pin(pin, first).await?)
}

/// Switches an output: `on`, `off`, `lock`, `unlock`, or `pulse` with `seconds`.
#[tauri::command]
pub async fn set_output(
    state: State<'_, AppState>,
    site_id: String,
    output_id: String,
    action: String,
    seconds: Option<u32>,
    note: Option<String>,
) -> Result<Outcome, IpcError> {
    let action = parse_action(&action, seconds)?;
    let cmd = Command { site: site_id, target: Target::Output(output_id), action, note };
    Ok(state.command(cmd).await?)
}

/// Arms or disarms a site: `arm`, `arm_partial`, `disarm`.
#[tauri::command]
pub async fn set_arming(
    state: State<'_, AppState>,
    site_id: String,
    action: String,
    note: Option<String>,
) -> Result<Outcome, IpcError> {
    let action = parse_action(&action, None)?;
    Ok(state.command(Command { site: site_id, target: Target::Site, action, note }).await?)
}

fn parse_action(word: &str, seconds: Option<u32>) -> Result<Action, IpcError> {
    match (word, seconds) {
        ("pulse", Some(s)) => Ok(Action::Pulse { seconds: s }),
        ("pulse", None) => Err(IpcError::new(ErrorKind::InvalidInput, "a pulse needs its seconds")),
        (w, _) => w.parse().map_err(|e: String| IpcError::new(ErrorKind::InvalidInput, e)),
    }
}

/// A camera's stream, named by ids.
#[derive(Debug, Clone, serde::Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CameraStream {
    pub site_id: String,
    pub camera_id: String,
    pub quality: StreamQuality,
}

/// Keeps the streams the user is likely to open next warm (at most four); replaces the
/// previous set.
#[tauri::command]
pub async fn warm_streams(state: State<'_, AppState>, streams: Vec<CameraStream>) -> Result<(), IpcError> {
    if streams.len() > MAX_WARM {
        return Err(IpcError::new(
            ErrorKind::InvalidInput,
            format!("at most {MAX_WARM} streams can be kept warm"),
        ));
    }
    for s in &streams {
        check_id("site id", &s.site_id)?;
        check_id("camera id", &s.camera_id)?;
    }
    let wanted: Vec<_> = streams.into_iter().map(|s| (s.site_id, s.camera_id, s.quality)).collect();
    state.keep_warm(&wanted).await;
    Ok(())
}

/// Ends a player. Off the main thread (`async`): letting go of the player's hold on its
/// stream starts the stream's idle timer, which needs the async runtime, and nothing here
/// may hold up the window.
#[tauri::command(async)]
pub fn close_stream(players: State<'_, Players>, player_id: u32) -> bool {
    players.stop(player_id)
}

/// Stops sending a player's stream while the web view hides it; the stream stays open until
/// `close_stream`, so that the player shows it again at once.
#[tauri::command(async)]
pub fn suspend_stream(players: State<'_, Players>, player_id: u32) -> bool {
    players.suspend(player_id)
}

/// A camera's snapshot as JPEG bytes (an `ArrayBuffer` in the web view), at tile size.
#[tauri::command]
pub async fn get_snapshot(
    state: State<'_, AppState>,
    site_id: String,
    camera_id: String,
) -> Result<tauri::ipc::Response, IpcError> {
    check_id("site id", &site_id)?;
    check_id("camera id", &camera_id)?;
    Ok(tauri::ipc::Response::new(state.snapshot(&site_id, &camera_id).await?.jpeg))
}
