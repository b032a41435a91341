//! `mimamori probe`: what a camera stream is (codec, size, GOP) and how fast its first
//! picture comes. A camera of the demo or of the enrolled profile is named SITE/CAMERA; an
//! administrator checking a camera before enrolment gives its URL. No URL or password is
//! ever printed.

use crate::Source;
use anyhow::Context;
use mimamori_core::Secret;
use mimamori_core::enrol::CameraCredential;
use mimamori_core::protocol::CameraEntry;
use mimamori_core::video::probe::{ProbeReport, probe};
use mimamori_core::video::rtsp::RtspOpener;
use mimamori_core::video::{Credentials, StreamSource, Transport};
use std::io::BufRead;
use std::time::Duration;

/// Where a password for `--url --user` may come from; otherwise one line of standard input.
pub const CAMERA_PASSWORD_VAR: &str = "MIMAMORI_CAMERA_PASSWORD";

#[derive(clap::Args)]
pub struct ProbeArgs {
    /// The camera, as SITE/CAMERA (e.g. hq/entrance).
    #[arg(required_unless_present = "url", conflicts_with = "url")]
    camera: Option<String>,
    /// Probe this rtsp:// URL instead. Credentials may be in it, or given with --user (the
    /// password from MIMAMORI_CAMERA_PASSWORD or one line of standard input).
    #[arg(long)]
    url: Option<String>,
    #[arg(long, requires = "url")]
    user: Option<String>,
    /// The camera's sub stream instead of its main one.
    #[arg(long)]
    sub: bool,
    /// RTP over UDP instead of the RTSP connection.
    #[arg(long)]
    udp: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: Source,
}

/// Splits credentials off an RTSP URL given on the command line.
fn url_source(raw: &str, user: Option<String>) -> anyhow::Result<StreamSource> {
    url_source_any(raw, user, &["rtsp", "rtsps"])
}

/// Splits credentials off a URL with one of `schemes` given on the command line.
pub fn url_source_any(raw: &str, user: Option<String>, schemes: &[&str]) -> anyhow::Result<StreamSource> {
    // The parse error would quote the URL: say only what is wrong.
    let mut url = url::Url::parse(raw).map_err(|e| anyhow::anyhow!("the camera URL is not valid ({e})"))?;
    anyhow::ensure!(
        schemes.contains(&url.scheme()),
        "the camera URL must start with {}",
        schemes.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(" or ")
    );
    let in_url = (!url.username().is_empty()).then(|| {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
        };
        (decode(url.username()).unwrap_or_default(), decode(url.password().unwrap_or("")).unwrap_or_default())
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let credentials = match (in_url, user) {
        (Some((username, password)), _) => Some(Credentials { username, password: Secret::new(password) }),
        (None, Some(username)) => Some(Credentials { username, password: Secret::new(read_password()?) }),
        (None, None) => None,
    };
    Ok(StreamSource { url: Secret::new(url), credentials, transport: Transport::Tcp })
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(CAMERA_PASSWORD_VAR) {
        return Ok(p);
    }
    eprint!("camera password: ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the camera password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The site of a camera named SITE/CAMERA (None when the name has no site).
pub fn site_of(name: &str) -> Option<&str> {
    name.split_once('/').map(|(site, _)| site)
}

/// An enrolled (or demo) camera: its catalog entry (endpoints) once the site's catalog has
/// arrived, and its credentials from the keychain (for its enrolled addresses only:
/// `CameraCredential::for_endpoint`).
pub async fn camera(
    name: &str,
    source: &Source,
    session: &crate::Session,
) -> anyhow::Result<(CameraEntry, Option<CameraCredential>)> {
    let (site, camera) = name.split_once('/').context("name the camera as SITE/CAMERA")?;
    let bus = session.bus.state();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let entry = loop {
        if let Some(e) = bus.camera_entry(site, camera) {
            break e;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no camera `{camera}` at site `{site}` (or the site's catalog did not arrive)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let credentials = match (&session.profile_id, source.demo) {
        (Some(id), false) => crate::enroll::profiles()?.camera_credential(id, site, camera)?,
        _ => None,
    };
    Ok((entry, credentials))
}

/// The stream of an enrolled (or demo) camera.
pub async fn camera_source(
    name: &str,
    sub: bool,
    source: &Source,
    session: &crate::Session,
) -> anyhow::Result<StreamSource> {
    let (entry, credentials) = camera(name, source, session).await?;
    let endpoint = if sub { entry.sub.as_deref().unwrap_or(&entry.main) } else { &entry.main };
    let url = url::Url::parse(endpoint)
        .map_err(|_| anyhow::anyhow!("camera `{}` has an invalid stream address", entry.id))?;
    let credentials = credentials.and_then(|c| c.for_endpoint(&url));
    Ok(StreamSource { url: Secret::new(url), credentials, transport: Transport::Tcp })
}

pub async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let session;
    let mut source = match (&args.url, &args.camera) {
        (Some(url), _) => url_source(url, args.user.clone())?,
        (None, Some(camera)) => {
            session = crate::connect(&args.source, site_of(camera))?;
            camera_source(camera, args.sub, &args.source, &session).await?
        }
        (None, None) => anyhow::bail!("name a camera (SITE/CAMERA) or give --url"),
    };
    if args.udp {
        source.transport = Transport::Udp;
    }
    let report = probe(&RtspOpener, &source, Duration::from_secs(args.timeout)).await?;
    print_report(&report, args.json)
}

fn print_report(r: &ProbeReport, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    out!("codec        {}", r.codec);
    out!("size         {}x{}", r.width, r.height);
    out!("first frame  {} ms", r.first_frame_ms);
    match (r.gop_frames, r.gop_ms) {
        (Some(frames), Some(ms)) => out!("GOP          {frames} frames, {ms} ms"),
        _ => out!("GOP          longer than the probe waited"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_of_the_url() {
        let s = url_source("rtsp://admin:p%40ss@10.0.0.5:554/main", None).unwrap();
        assert_eq!(s.url.expose().as_str(), "rtsp://10.0.0.5:554/main");
        let c = s.credentials.unwrap();
        assert_eq!((c.username.as_str(), c.password.expose().as_str()), ("admin", "p@ss"));
    }

    #[test]
    fn a_bad_url_is_refused_without_quoting_it() {
        let e = url_source("http://CANARY-host/x", None).unwrap_err().to_string();
        assert!(!e.contains("CANARY"), "{e}");
        let e = url_source("not a url CANARY", None).unwrap_err().to_string();
        assert!(!e.contains("CANARY"), "{e}");
    }
}
