//! The device's language, for the words the core itself writes: notifications and the
//! alerts this device raises about a site it cannot hear. The UI has its own messages
//! (`ui/www/js/i18n.js`); this is only what is worded in Rust.

/// The language of the words the core writes, from the device's locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// From `LANG` / `LC_ALL` / `LC_MESSAGES`: Japanese when they say so, else English.
    pub fn from_env() -> Lang {
        let ja = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .is_some_and(|v| v.starts_with("ja"));
        if ja { Lang::Ja } else { Lang::En }
    }
}
