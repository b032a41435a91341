//! `Secret<T>`: a value that must never be printed, logged, serialized or sent to the web
//! view. `Debug` and `Display` print `<redacted>`; there is deliberately no `Serialize`
//! impl, so a secret inside an IPC type is a compile error. The only way to the value is
//! [`Secret::expose`], which makes every use easy to find in review. Dropped, it wipes the
//! memory that held the value.

use std::fmt;
use zeroize::Zeroize;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T: Wipe>(T);

/// What a secret's value does when the secret is dropped: overwrite the memory it holds.
pub trait Wipe {
    fn wipe(&mut self);
}

impl Wipe for String {
    fn wipe(&mut self) {
        self.zeroize();
    }
}

impl Wipe for Vec<u8> {
    fn wipe(&mut self) {
        self.zeroize();
    }
}

impl Wipe for url::Url {
    /// A URL keeps its text in one buffer, which it gives up whole.
    fn wipe(&mut self) {
        if let Ok(blank) = url::Url::parse("data:,") {
            String::from(std::mem::replace(self, blank)).zeroize();
        }
    }
}

impl<T: Wipe> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

impl<T: Wipe> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that must hand it to a protocol.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Wipe> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T: Wipe> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Wipe> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::{Secret, Wipe};

    #[test]
    fn a_dropped_value_is_wiped() {
        let mut password = String::from("CANARY-0b7e");
        password.wipe();
        assert!(password.is_empty());
        let mut url = url::Url::parse("rtsp://10.0.0.5/CANARY").unwrap();
        url.wipe();
        assert_eq!(url.as_str(), "data:,");
        drop(Secret::new(String::from("CANARY")));
    }

    #[test]
    fn never_prints_its_value() {
        #[derive(Debug)]
        #[allow(dead_code)] // read only through Debug
        struct Login {
            user: String,
            password: Secret<String>,
        }
        let login = Login { user: "aiko".into(), password: Secret::new("CANARY-4f1d".into()) };
        let shown = format!("{login:?} {} {:#?}", login.password, login);
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(login.password.expose(), "CANARY-4f1d");
    }
}
