//! Pictures for alerts (`docs/gateway.md`, Pictures): fetched over HTTP — a camera's own
//! snapshot (with its credentials, Digest or Basic over TLS only, never to another
//! address) or Frigate's picture of the object — within 3 s, or taken from Frigate's
//! snapshot topic, and shrunk to the alert picture's bounds (320 px wide, at most 32 KiB). A picture that cannot be had leaves the
//! alert without one; the alert is never held up longer.

use mimamori_core::video::Credentials;
use mimamori_core::video::snapshot::{ALERT_THUMBNAIL, shrink_within};
use std::time::Duration;

/// How long a picture may take.
pub const WITHIN: Duration = Duration::from_secs(3);

/// The picture at `url` for an alert of `what` (a camera's or an object's id, for the
/// log; the URL is never logged).
pub async fn fetch(url: &url::Url, credentials: Option<&Credentials>, what: &str) -> Option<Vec<u8>> {
    let fetched =
        tokio::time::timeout(WITHIN, mimamori_core::video::http::get(url, "image/jpeg", credentials)).await;
    let body = match fetched {
        Ok(Ok(body)) => body,
        Ok(Err(err)) => {
            tracing::warn!(%what, "no picture for the alert: {err}");
            return None;
        }
        Err(_) => {
            tracing::warn!(%what, "no picture for the alert within {} s", WITHIN.as_secs());
            return None;
        }
    };
    shrunk(&body, what)
}

/// A picture shrunk to the alert picture's bounds; None (logged, with `what`) when it
/// cannot be read or stays too large.
pub fn shrunk(body: &[u8], what: &str) -> Option<Vec<u8>> {
    match shrink_within(body, ALERT_THUMBNAIL) {
        Ok(small) if small.jpeg.len() <= mimamori_protocol::event::MAX_SNAPSHOT_BYTES => Some(small.jpeg),
        Ok(_) => {
            tracing::warn!(%what, "the picture is too large for an alert even shrunk");
            None
        }
        Err(err) => {
            tracing::warn!(%what, "the picture cannot be read: {err}");
            None
        }
    }
}

/// A camera's credentials from its secret `camera-{id}`: `user:password`.
pub fn credentials(secret: &mimamori_core::Secret<String>) -> Option<Credentials> {
    let (user, password) = secret.expose().split_once(':')?;
    Some(Credentials { username: user.to_owned(), password: mimamori_core::Secret::new(password.to_owned()) })
}
