//! Where the device keeps its files: the settings directory, shared by the app and the
//! CLI (`profiles.json`, `alerts.db`, `audit.log`, notification settings). Lowest layer:
//! every module that stores something finds its place here.

use std::path::PathBuf;

/// The settings directory: `$MIMAMORI_CONFIG_DIR`, else `$XDG_CONFIG_HOME/mimamori`, else
/// `~/.config/mimamori`.
pub fn settings() -> PathBuf {
    if let Some(dir) = std::env::var_os("MIMAMORI_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".config")
    });
    base.join("mimamori")
}
