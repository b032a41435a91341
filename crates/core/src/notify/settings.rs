//! The notification settings of this device (`notifications.json` beside the other
//! settings): today the quiet hours, in the device's local time.

use super::policy::QuietHours;
use serde::{Deserialize, Serialize};
use std::path::Path;

const FILE: &str = "notifications.json";

/// Quiet hours as the UI shows and sets them: minutes of the local day, `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct QuietHoursSetting {
    pub from_minute: u16,
    pub to_minute: u16,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    quiet: Option<QuietHoursSetting>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("quiet hours run from one time of day to another (00:00 to 23:59), not to the same")]
    Invalid,
    #[error("the notification settings cannot be written: {0}")]
    Io(String),
}

impl QuietHoursSetting {
    pub fn check(self) -> Result<QuietHours, SettingsError> {
        if self.from_minute >= 24 * 60 || self.to_minute >= 24 * 60 || self.from_minute == self.to_minute {
            return Err(SettingsError::Invalid);
        }
        Ok(QuietHours { from_minute: self.from_minute, to_minute: self.to_minute })
    }
}

/// The stored quiet hours; none when unset or unreadable (a damaged file never silences).
pub fn load_quiet(dir: &Path) -> Option<QuietHoursSetting> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    let stored: Stored = serde_json::from_str(&text).ok()?;
    stored.quiet.filter(|q| q.check().is_ok())
}

pub fn save_quiet(dir: &Path, quiet: Option<QuietHoursSetting>) -> Result<(), SettingsError> {
    if let Some(q) = quiet {
        q.check()?;
    }
    crate::dirs::private_dir(dir).map_err(|e| SettingsError::Io(e.to_string()))?;
    let text =
        serde_json::to_string_pretty(&Stored { quiet }).map_err(|e| SettingsError::Io(e.to_string()))?;
    crate::dirs::write_private(&dir.join(FILE), text.as_bytes()).map_err(|e| SettingsError::Io(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_are_kept_checked_and_a_bad_file_silences_nothing() {
        let dir = std::env::temp_dir().join(format!("mimamori-notify-settings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(load_quiet(&dir), None);
        let night = QuietHoursSetting { from_minute: 22 * 60, to_minute: 6 * 60 };
        save_quiet(&dir, Some(night)).unwrap();
        assert_eq!(load_quiet(&dir), Some(night));
        assert!(save_quiet(&dir, Some(QuietHoursSetting { from_minute: 60, to_minute: 60 })).is_err());
        assert!(save_quiet(&dir, Some(QuietHoursSetting { from_minute: 1440, to_minute: 60 })).is_err());
        std::fs::write(dir.join(FILE), "{ not json").unwrap();
        assert_eq!(load_quiet(&dir), None);
        save_quiet(&dir, None).unwrap();
        assert_eq!(load_quiet(&dir), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
