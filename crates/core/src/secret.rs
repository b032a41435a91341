//! `Secret<T>`: a value that must never be printed, logged, serialized or sent to the web
//! view. `Debug` and `Display` print `<redacted>`; there is deliberately no `Serialize`
//! impl, so a secret inside an IPC type is a compile error. The only way to the value is
//! [`Secret::expose`], which makes every use easy to find in review.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that must hand it to a protocol.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

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
