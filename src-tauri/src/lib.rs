//! Mimamori's Tauri shell. It holds no business logic: commands (`commands.rs`) ask
//! `mimamori-core`, changes are forwarded to the web view as `bus-change` events, and the
//! IPC types are generated into `ui/bindings/` (checked by `tests.rs`).

pub mod background;
pub mod clips;
pub mod commands;
pub mod error;
pub mod links;
pub mod notifications;
pub mod player;
#[cfg(feature = "transport-probe")]
mod probe;
pub mod state;

#[cfg(test)]
mod tests;

use mimamori_core::bus::{BusChange, BusConfig};
use mimamori_core::profile::Profiles;
use mimamori_core::vault::KeychainStore;
use mimamori_core::video::clip::{self, ClipLibrary};
use state::AppState;
use std::sync::Arc;
use tauri::{Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// Forwards one session's changes to the web view. A connection change is sent as the
/// connection of all sessions together, which is what the page shows.
async fn forward<R: Runtime>(
    handle: tauri::AppHandle<R>,
    mut changes: tokio::sync::broadcast::Receiver<BusChange>,
) {
    loop {
        let change = match changes.recv().await {
            Ok(BusChange::Connection(_)) => BusChange::Connection(handle.state::<AppState>().connection()),
            Ok(change) => change,
            // The UI re-reads everything on a resync, so skipped changes are harmless.
            Err(RecvError::Lagged(_)) => BusChange::Resync,
            Err(RecvError::Closed) => return,
        };
        let _ = handle.emit(BUS_CHANGE_EVENT, change);
    }
}

/// Event name under which every [`mimamori_core::bus::BusChange`] reaches the web view.
pub const BUS_CHANGE_EVENT: &str = "bus-change";

/// The app's state: ready (tests), or made at setup, after the plugins have started, so
/// that a second instance hands its arguments to the first (links.rs) before it opens the
/// inbox or connects to the broker.
pub enum Startup {
    Ready(Box<AppState>),
    AtSetup(Box<dyn FnOnce() -> anyhow::Result<AppState> + Send>),
}

/// Registers the commands and the state on a builder; tests pass `tauri::test::mock_builder()`.
pub fn build_app<R: Runtime>(builder: tauri::Builder<R>, startup: Startup) -> tauri::Builder<R> {
    let (builder, mut make_state) = match startup {
        Startup::Ready(state) => (builder.manage(*state), None),
        Startup::AtSetup(make) => (builder, Some(make)),
    };
    builder
        .invoke_handler(tauri::generate_handler![
            commands::list_sites,
            commands::get_site,
            commands::connection_status,
            commands::bus_stats,
            commands::app_info,
            commands::list_profiles,
            commands::enrol,
            commands::remove_profile,
            commands::list_alerts,
            commands::possible_gaps,
            commands::alert_picture,
            commands::acknowledge_alert,
            commands::open_stream,
            commands::close_stream,
            commands::suspend_stream,
            commands::get_snapshot,
            commands::warm_streams,
            commands::site_controls,
            commands::set_output,
            commands::set_arming,
            commands::pin_status,
            commands::confirm_pin,
            commands::background_status,
            commands::set_start_at_login,
            commands::quiet_hours,
            commands::set_quiet_hours,
            commands::audit_log,
            commands::start_clip,
            commands::stop_clip,
            commands::list_clips,
            commands::delete_clip,
            commands::take_enrol_link,
            #[cfg(feature = "transport-probe")]
            probe::transport_channel,
            #[cfg(feature = "transport-probe")]
            probe::transport_fetch,
        ])
        .setup(move |app| {
            if let Some(make) = make_state.take() {
                app.manage(make()?);
            }
            #[cfg(feature = "transport-probe")]
            probe::grant(app.handle())?;
            background::setup(app.handle());
            notifications::start(app.handle());
            links::setup(app.handle());
            let handle = app.handle().clone();
            let mut current = app.state::<AppState>().watch_buses();
            tauri::async_runtime::spawn(async move {
                // Forward every session's changes; when the sessions change (enrolment,
                // removal), tell the web view to re-read everything and follow the new set.
                loop {
                    let forwarders: Vec<_> = current
                        .borrow_and_update()
                        .iter()
                        .map(|bus| tauri::async_runtime::spawn(forward(handle.clone(), bus.subscribe())))
                        .collect();
                    let switched = current.changed().await;
                    for f in forwarders {
                        f.abort();
                    }
                    let _ = handle.emit(BUS_CHANGE_EVENT, BusChange::Resync);
                    if switched.is_err() {
                        return;
                    }
                }
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // With a tray icon, closing the window keeps the app (and its alerts) running.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && window.app_handle().state::<background::Tray>().active()
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .manage(player::Players::default())
        .manage(links::PendingLink::default())
        .manage(clips::Recordings::new(ClipLibrary::new(clip::default_dir())))
        .manage(background::Tray::default())
}

/// Chooses how to run: the demo (`--demo`), a development profile in `MIMAMORI_*`, or
/// the enrolled profile from the keychain (idle until there is one).
fn choose_state() -> anyhow::Result<AppState> {
    let demo_flag =
        std::env::args().any(|a| a == "--demo") || std::env::var("MIMAMORI_DEMO").is_ok_and(|v| v == "1");
    if demo_flag {
        return AppState::demo();
    }
    let keychain = KeychainStore::open()
        .map(|vault| Arc::new(Profiles::new(mimamori_core::dirs::settings(), Arc::new(vault))));
    if let Err(err) = &keychain {
        tracing::warn!("{err}");
    }
    Ok(match BusConfig::from_env()? {
        Some(config) => AppState::development(config, keychain),
        None => AppState::enrolled(keychain),
    })
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            mimamori_core::LOG_DIRECTIVES.iter().fold(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info,rumqttd=off".into()),
                |filter, d| filter.add_directive(d.parse().expect("a valid log directive")),
            ),
        )
        .with_writer(std::io::stderr)
        .init();
    // Files this process creates are its user's alone; no core dump of its secrets.
    mimamori_core::dirs::harden_process();
    // The bus and the demo spawn onto Tauri's Tokio runtime.
    let _runtime = tauri::async_runtime::handle().inner().enter();
    let make_state = || {
        choose_state().map_err(|err| {
            tracing::error!("cannot start: {err:#}");
            std::process::exit(2)
        })
    };
    // A second instance (an enrolment link opened while the app runs) hands its arguments
    // to this one and exits; then the deep-link plugin reads them (links.rs).
    let builder = tauri::Builder::default();
    #[cfg(desktop)]
    let builder =
        builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| background::show(app)));
    let builder = builder.plugin(tauri_plugin_deep_link::init());
    build_app(builder, Startup::AtSetup(Box::new(make_state)))
        .run(tauri::generate_context!())
        .unwrap_or_else(|err| {
            tracing::error!("the app stopped with an error: {err}");
            std::process::exit(1);
        });
}
