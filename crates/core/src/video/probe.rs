//! What an administrator wants to know about a camera stream before relying on it: codec,
//! picture size, GOP length and how long the first picture takes. Used by `mimamori probe`.

use super::{Item, Opener, StreamProblem, StreamSource};
use futures_util::StreamExt;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// From opening the session to the first key frame.
    pub first_frame_ms: u64,
    /// Frames from one key frame to the next, and the time between them; `None` when the
    /// second key frame did not come within the probe's time limit.
    pub gop_frames: Option<u32>,
    pub gop_ms: Option<u64>,
}

/// Opens `source`, waits for the first key frame, then for the next one to measure the
/// GOP. Gives up on the GOP (not the report) after `limit`.
pub async fn probe(
    opener: &dyn Opener,
    source: &StreamSource,
    limit: Duration,
) -> Result<ProbeReport, StreamProblem> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let mut items = tokio::time::timeout_at(deadline, opener.open(source))
        .await
        .map_err(|_| StreamProblem::Unreachable)??;
    let mut params = None;
    let mut report: Option<ProbeReport> = None;
    let mut first_key: Option<i64> = None;
    let mut frames = 0u32;
    loop {
        let next = match tokio::time::timeout_at(deadline, items.next()).await {
            Ok(next) => next,
            Err(_) => return report.ok_or(StreamProblem::Stalled),
        };
        match next {
            None => return report.ok_or(StreamProblem::Ended),
            Some(Err(p)) => return report.ok_or(p),
            Some(Ok(Item::Params(p))) => params = Some(p),
            Some(Ok(Item::Frame(f))) => match (&mut report, first_key) {
                (None, _) if f.key => {
                    let p = params.as_ref().ok_or(StreamProblem::Malformed)?;
                    report = Some(ProbeReport {
                        codec: p.codec.clone(),
                        width: p.width,
                        height: p.height,
                        first_frame_ms: start.elapsed().as_millis() as u64,
                        gop_frames: None,
                        gop_ms: None,
                    });
                    first_key = Some(f.timestamp);
                    frames = 1;
                }
                (Some(r), Some(t0)) if f.key => {
                    r.gop_frames = Some(frames);
                    r.gop_ms = Some(u64::try_from((f.timestamp - t0) / 90).unwrap_or(0));
                    return Ok(r.clone());
                }
                (Some(_), _) => frames += 1,
                (None, _) => {}
            },
        }
    }
}
