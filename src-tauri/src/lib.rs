//! Mimamori's Tauri shell. It holds no business logic: commands (`commands.rs`) ask
//! `mimamori-core`, changes are forwarded to the web view as `bus-change` events, and the
//! IPC types are generated into `ui/bindings/` (checked by `tests.rs`).

pub mod commands;
pub mod error;
pub mod state;

#[cfg(test)]
mod tests;

use mimamori_core::bus::{BusChange, BusConfig};
use state::AppState;
use tauri::{Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// Event name under which every [`mimamori_core::bus::BusChange`] reaches the web view.
pub const BUS_CHANGE_EVENT: &str = "bus-change";

/// Registers the commands and the state on a builder; tests pass `tauri::test::mock_builder()`.
pub fn build_app<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .invoke_handler(tauri::generate_handler![
            commands::list_sites,
            commands::get_site,
            commands::connection_status,
            commands::bus_stats,
            commands::app_info,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            let mut changes = app.state::<AppState>().bus.subscribe();
            tauri::async_runtime::spawn(async move {
                loop {
                    match changes.recv().await {
                        Ok(change) => {
                            let _ = handle.emit(BUS_CHANGE_EVENT, change);
                        }
                        // The UI re-reads everything on a resync, so skipped changes are harmless.
                        Err(RecvError::Lagged(_)) => {
                            let _ = handle.emit(BUS_CHANGE_EVENT, BusChange::Resync);
                        }
                        Err(RecvError::Closed) => break,
                    }
                }
            });
            Ok(())
        })
        .manage(state)
}

/// Chooses the bus from the environment: a profile in `MIMAMORI_*`, or the demo.
fn choose_state() -> anyhow::Result<AppState> {
    let demo_flag =
        std::env::args().any(|a| a == "--demo") || std::env::var("MIMAMORI_DEMO").is_ok_and(|v| v == "1");
    match BusConfig::from_env()? {
        Some(config) if !demo_flag => Ok(AppState::connect(config)),
        _ => AppState::demo(),
    }
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rumqttd=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // The bus and the demo spawn onto Tauri's Tokio runtime.
    let _runtime = tauri::async_runtime::handle().inner().enter();
    let state = match choose_state() {
        Ok(state) => state,
        Err(err) => {
            tracing::error!("cannot start: {err:#}");
            std::process::exit(2);
        }
    };
    build_app(tauri::Builder::default(), state).run(tauri::generate_context!()).unwrap_or_else(|err| {
        tracing::error!("the app stopped with an error: {err}");
        std::process::exit(1);
    });
}
