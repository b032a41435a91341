//! Cameras by their RTSP URLs (`docs/gateway.md`, Cameras): the gateway asks each one
//! `OPTIONS` every minute and reports its health in the site's status: `ok` when it
//! answers as an RTSP server, `fault` when something answers but not RTSP (or refuses),
//! `offline` when nothing answers. A camera that hangs costs only its own check.

use mimamori_protocol::CameraHealth;
use mimamori_site::{Input, Reporter};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often each camera is asked.
pub const EVERY: Duration = Duration::from_secs(60);
/// How long a camera has to answer.
const WITHIN: Duration = Duration::from_secs(5);

/// A camera's health, and why (for `check`).
pub async fn probe(url: &str) -> (CameraHealth, String) {
    let Ok(parsed) = url::Url::parse(url) else { return (CameraHealth::Fault, "not a URL".into()) };
    if parsed.scheme() != "rtsp" {
        return (CameraHealth::Fault, format!("{}:// is not checked (rtsp:// only)", parsed.scheme()));
    }
    let Some(host) = parsed.host_str().map(str::to_owned) else {
        return (CameraHealth::Fault, "no host".into());
    };
    let port = parsed.port().unwrap_or(554);
    let attempt = async {
        let mut s = match tokio::net::TcpStream::connect((host.as_str(), port)).await {
            Ok(s) => s,
            Err(e) => return (CameraHealth::Offline, format!("no connection ({})", e.kind())),
        };
        // The URL without credentials: they never leave for a check.
        let mut bare = parsed.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        let asked = s.write_all(format!("OPTIONS {bare} RTSP/1.0\r\nCSeq: 1\r\n\r\n").as_bytes()).await;
        let mut buf = [0u8; 64];
        match asked.and(s.read(&mut buf).await) {
            Ok(n) if buf[..n].starts_with(b"RTSP/1.0 200") => (CameraHealth::Ok, "answers RTSP".into()),
            // 401: it is there and wants its credentials, which clients have.
            Ok(n) if buf[..n].starts_with(b"RTSP/1.0 401") => {
                (CameraHealth::Ok, "answers RTSP (asks for credentials)".into())
            }
            Ok(n) if buf[..n].starts_with(b"RTSP/1.0") => {
                (CameraHealth::Fault, "answers RTSP with an error".into())
            }
            Ok(_) => (CameraHealth::Fault, "answers, but not RTSP".into()),
            Err(e) => (CameraHealth::Fault, format!("connection broken ({})", e.kind())),
        }
    };
    tokio::time::timeout(WITHIN, attempt)
        .await
        .unwrap_or_else(|_| (CameraHealth::Offline, format!("no answer within {} s", WITHIN.as_secs())))
}

/// Checks `camera` at `url` every [`EVERY`] and reports a change of its health.
pub async fn watch(camera: String, url: String, site: Reporter, every: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut last = None;
    loop {
        tick.tick().await;
        let (health, why) = probe(&url).await;
        if last != Some(health) {
            if health != CameraHealth::Ok {
                tracing::warn!(%camera, "camera {health:?}: {why}");
            }
            last = Some(health);
            if !site.report(Input::CameraHealth { id: camera.clone(), health }) {
                return;
            }
        }
    }
}
