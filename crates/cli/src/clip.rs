//! `mimamori clip`: a camera's next seconds saved as a standard MP4 file, starting at a key
//! frame (the one the camera sent last, so the clip may begin up to a GOP early).

use crate::Source;
use anyhow::Context;
use mimamori_core::video::Streams;
use mimamori_core::video::clip::record;
use mimamori_core::video::rtsp::RtspOpener;
use mimamori_core::video::stream::StreamTiming;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ClipArgs {
    /// The camera, as SITE/CAMERA (e.g. hq/entrance).
    camera: String,
    /// How long the clip is, in seconds (at most 600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// The camera's sub stream instead of its main one.
    #[arg(long)]
    sub: bool,
    /// Where to write the MP4 file.
    #[arg(short, long, default_value = "clip.mp4")]
    output: PathBuf,
    #[command(flatten)]
    source: Source,
}

pub async fn run(args: ClipArgs) -> anyhow::Result<()> {
    let session = crate::connect(&args.source, crate::probe::site_of(&args.camera))?;
    let source = crate::probe::camera_source(&args.camera, args.sub, &args.source, &session).await?;
    let streams = Streams::new(Arc::new(RtspOpener), StreamTiming::default());
    let viewer = streams.watch(&args.camera, || source);
    let length = Duration::from_secs(args.seconds);
    // The camera has this long to start sending; then the clip has its length.
    let give_up = length + StreamTiming::default().open_timeout + Duration::from_secs(5);
    let stop = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = tokio::time::sleep(give_up) => {}
        }
    };
    let written = record(viewer.handle(), None, length, stop, &args.output).await.with_context(|| {
        let status = viewer.handle().status().borrow().clone();
        match status.problem {
            Some(p) => format!("camera `{}`: {p}", args.camera),
            None => format!("camera `{}`", args.camera),
        }
    })?;
    out!(
        "{}  {:.1} s  {} frames  {} bytes",
        args.output.display(),
        written.duration_ms as f64 / 1000.0,
        written.frames,
        written.bytes
    );
    Ok(())
}
