//! OS notifications for new alerts — the core decides which and with what words and
//! picture (`mimamori_core::notify`) — and what a click on one does: the window comes to
//! the front and the web view opens the alert's camera (the `open-alert` event). While
//! the window is in front, the web view's own banner shows new alerts and the OS is not
//! asked.

use crate::state::AppState;
use mimamori_core::lang::Lang;
use mimamori_core::notify::{self, Notifier, Target, policy::Policy};
use serde::Serialize;
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use ts_rs::TS;

/// Event under which a clicked notification reaches the web view.
pub const OPEN_ALERT_EVENT: &str = "open-alert";

/// The alert a clicked notification stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OpenAlert {
    pub site_id: String,
    pub alert_id: String,
    pub camera_id: Option<String>,
}

impl From<Target> for OpenAlert {
    fn from(t: Target) -> Self {
        OpenAlert { site_id: t.site_id, alert_id: t.alert_id, camera_id: t.camera_id }
    }
}

/// Brings the window to the front and tells the web view which alert to open.
pub fn open<R: Runtime>(app: &AppHandle<R>, target: OpenAlert) {
    crate::background::show(app);
    let _ = app.emit(OPEN_ALERT_EVENT, target);
}

/// Starts notifying on the platform's notification service, following every session's
/// bus. Without a service (a headless machine) the app runs on without notifications
/// and says so once in the log.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let Some(inbox) = state.inbox() else { return };
        #[cfg(target_os = "linux")]
        let (service, mut clicks) = match notify::dbus::DbusNotifier::connect(None).await {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!("notifications are off: {err}");
                return;
            }
        };
        #[cfg(not(target_os = "linux"))]
        {
            tracing::warn!("notifications are off: no notification service for this platform yet");
            return;
        }
        let notifier: Arc<dyn Notifier> = Arc::new(service);
        let for_clicks = app.clone();
        tauri::async_runtime::spawn(async move {
            while let Some(target) = clicks.recv().await {
                open(&for_clicks, target.into());
            }
        });
        notify::run(
            state.watch_buses(),
            inbox,
            notifier,
            Policy::default(),
            Lang::from_env(),
            notify::system_clock(),
            state.watch_quiet(),
        )
        .await;
    });
}
