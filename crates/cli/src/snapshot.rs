//! `mimamori snapshot`: a camera's current picture as a JPEG file (at tile size, checked
//! and re-encoded by the core), from a camera of the demo or the enrolled profile, or from
//! a snapshot URL an administrator gives.

use crate::Source;
use anyhow::Context;
use mimamori_core::Secret;
use mimamori_core::video::snapshot::{SnapshotSource, fetch};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// The camera, as SITE/CAMERA (e.g. hq/entrance).
    #[arg(required_unless_present = "url", conflicts_with = "url")]
    camera: Option<String>,
    /// Fetch this http:// snapshot URL instead. Credentials may be in it, or given with
    /// --user (the password from MIMAMORI_CAMERA_PASSWORD or one line of standard input).
    #[arg(long)]
    url: Option<String>,
    #[arg(long, requires = "url")]
    user: Option<String>,
    /// Where to write the JPEG.
    #[arg(short, long, default_value = "snapshot.jpg")]
    output: PathBuf,
    #[command(flatten)]
    source: Source,
}

pub async fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    let source = match (&args.url, &args.camera) {
        (Some(url), _) => {
            // The same URL handling as `probe --url`, for an http:// address.
            let s = crate::probe::url_source_any(url, args.user.clone(), &["http", "https"])?;
            SnapshotSource { url: s.url, credentials: s.credentials }
        }
        (None, Some(name)) => {
            let session = crate::connect(&args.source, crate::probe::site_of(name))?;
            let (entry, credentials) = crate::probe::camera(name, &args.source, &session).await?;
            let endpoint =
                entry.snapshot.with_context(|| format!("camera `{}` has no snapshot address", entry.id))?;
            let url = url::Url::parse(&endpoint)
                .map_err(|_| anyhow::anyhow!("camera `{}` has an invalid snapshot address", entry.id))?;
            let credentials = credentials.and_then(|c| c.for_endpoint(&url));
            SnapshotSource { url: Secret::new(url), credentials }
        }
        (None, None) => anyhow::bail!("name a camera (SITE/CAMERA) or give --url"),
    };
    let snapshot = fetch(&source).await?;
    mimamori_core::dirs::write_private(&args.output, &snapshot.jpeg)
        .with_context(|| format!("writing {}", args.output.display()))?;
    out!("{}  {}x{}  {} bytes", args.output.display(), snapshot.width, snapshot.height, snapshot.jpeg.len());
    Ok(())
}
