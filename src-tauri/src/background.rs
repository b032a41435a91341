//! Running in the background, so that alerts keep coming with the window closed: a tray
//! icon (Open, Quit), closing the window hides it while the tray is there, `--background`
//! starts with the window hidden, and starting at login is an option (an XDG autostart
//! entry on Linux).

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use tauri::menu::{MenuBuilder, MenuItemBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use ts_rs::TS;

/// The argument with which the app starts hidden (the autostart entry passes it).
pub const BACKGROUND_ARG: &str = "--background";

/// Whether the tray icon exists (then closing the window only hides it).
#[derive(Default)]
pub struct Tray(AtomicBool);

impl Tray {
    pub fn active(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How the app runs in the background, for Settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundStatus {
    /// A tray icon is shown: closing the window keeps the app running.
    pub tray: bool,
    /// This platform can start the app at login (Linux today).
    pub start_at_login_available: bool,
    pub start_at_login: bool,
}

/// Makes the tray icon. On a Linux desktop without the app-indicator library the tray
/// crate panics while loading it; that is caught, and the app runs on without a tray
/// (closing the window then quits, as without this module).
pub fn setup<R: Runtime>(app: &AppHandle<R>) -> bool {
    let build = || -> tauri::Result<()> {
        let open = MenuItemBuilder::with_id("open", "Open Mimamori / 見守りを開く").build(app)?;
        let quit = MenuItemBuilder::with_id("quit", "Quit / 終了").build(app)?;
        let menu = MenuBuilder::new(app).items(&[&open, &quit]).build()?;
        let mut tray = TrayIconBuilder::with_id("main").menu(&menu).tooltip("Mimamori 見守り").on_menu_event(
            |app, event| match event.id().as_ref() {
                "open" => show(app),
                "quit" => app.exit(0),
                _ => {}
            },
        );
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.build(app)?;
        Ok(())
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(build));
    std::panic::set_hook(hook);
    let ok = match built {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!("no tray icon: {err}");
            false
        }
        Err(_) => {
            tracing::warn!(
                "no tray icon: this desktop has no app-indicator library (libayatana-appindicator3)"
            );
            false
        }
    };
    app.state::<Tray>().0.store(ok, Ordering::Relaxed);
    if ok
        && std::env::args().any(|a| a == BACKGROUND_ARG)
        && let Some(w) = app.get_webview_window("main")
    {
        let _ = w.hide();
    }
    ok
}

/// Brings the main window back.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Where the autostart entry lives: `$XDG_CONFIG_HOME/autostart`, or `~/.config/autostart`.
pub fn autostart_dir() -> Option<PathBuf> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("autostart"))
}

const ENTRY: &str = "app.mimamori.client.desktop";

pub fn start_at_login(dir: &Path) -> bool {
    dir.join(ENTRY).is_file()
}

/// Writes or removes the autostart entry in `dir`, starting `exe` hidden.
pub fn set_start_at_login(dir: &Path, exe: &Path, on: bool) -> std::io::Result<()> {
    let path = dir.join(ENTRY);
    if !on {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(dir)?;
    // Desktop Entry quoting: the path in double quotes, with ", `, $ and \ escaped.
    let quoted: String = exe
        .to_string_lossy()
        .chars()
        .flat_map(|c| if matches!(c, '"' | '`' | '$' | '\\') { vec!['\\', c] } else { vec![c] })
        .collect();
    let entry = format!(
        "[Desktop Entry]\nType=Application\nName=Mimamori\nComment=Alerts from your sites, in the background\n\
         Exec=\"{quoted}\" {BACKGROUND_ARG}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    );
    mimamori_core::dirs::write_private(&path, entry.as_bytes())
}

pub fn status<R: Runtime>(app: &AppHandle<R>) -> BackgroundStatus {
    let dir = autostart_dir();
    BackgroundStatus {
        tray: app.state::<Tray>().active(),
        start_at_login_available: dir.is_some(),
        start_at_login: dir.as_deref().is_some_and(start_at_login),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_autostart_entry_starts_the_app_hidden_and_goes_away() {
        let dir = std::env::temp_dir().join(format!("mimamori-autostart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!start_at_login(&dir));
        set_start_at_login(&dir, Path::new("/opt/Mimamori $1/mimamori-app"), true).unwrap();
        assert!(start_at_login(&dir));
        let text = std::fs::read_to_string(dir.join(ENTRY)).unwrap();
        assert!(text.contains("Exec=\"/opt/Mimamori \\$1/mimamori-app\" --background\n"), "{text}");
        set_start_at_login(&dir, Path::new("/x"), false).unwrap();
        assert!(!start_at_login(&dir));
        set_start_at_login(&dir, Path::new("/x"), false).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
