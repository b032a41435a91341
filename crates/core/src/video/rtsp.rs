//! The real [`Opener`]: an RTSP session read with `retina`. It sets up only the first
//! H.264/H.265 video stream (audio and metadata tracks are ignored) and asks for frames in
//! MP4 form (length-prefixed NAL units, parameter sets out of band).
//!
//! retina's error texts name the server address and request URL, so they are never logged
//! (and retina's own log target is switched off by [`crate::LOG_DIRECTIVES`]); users and
//! logs get a [`StreamProblem`].

use super::{Frame, Item, Items, Opener, StreamProblem, StreamSource, Transport, VideoParams};
use crate::time::now_ms;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use retina::client::{Demuxed, PlayOptions, Session, SessionOptions, SetupOptions};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, Default)]
pub struct RtspOpener;

/// Maps a retina error to what a user can act on. Its text names the camera's address,
/// so only the classification is logged (by the stream worker).
fn classify(e: &retina::Error) -> StreamProblem {
    match e.status_code() {
        Some(401 | 403) => StreamProblem::Unauthorized,
        Some(404) => StreamProblem::NotFound,
        Some(_) => StreamProblem::Malformed,
        // retina has no error kinds; its connect error has a stable prefix.
        None if e.to_string().starts_with("Unable to connect") => StreamProblem::Unreachable,
        None if e.to_string().starts_with("Error reading from RTSP peer") => StreamProblem::Ended,
        None => StreamProblem::Malformed,
    }
}

fn params_of(session: &Demuxed, stream: usize) -> Option<VideoParams> {
    let Some(ParametersRef::Video(v)) = session.streams().get(stream)?.parameters() else {
        return None;
    };
    let entry = v.mp4_sample_entry().build().ok()?;
    let (w, h) = v.pixel_dimensions();
    Some(VideoParams::new(v.rfc6381_codec().to_string(), w, h, Bytes::from(entry)))
}

impl Opener for RtspOpener {
    fn open(&self, source: &StreamSource) -> BoxFuture<'static, Result<Items, StreamProblem>> {
        let url = source.url.expose().clone();
        if url.scheme() == "rtsps" {
            return Box::pin(async { Err(StreamProblem::TlsNotSupported) });
        }
        let creds = source.credentials.as_ref().map(|c| retina::client::Credentials {
            username: c.username.clone(),
            password: c.password.expose().clone(),
        });
        let transport = match source.transport {
            Transport::Tcp => retina::client::Transport::Tcp(Default::default()),
            Transport::Udp => retina::client::Transport::Udp(Default::default()),
        };
        Box::pin(async move {
            let options = SessionOptions::default().creds(creds).user_agent("Mimamori".into());
            let mut session = Session::describe(url, options).await.map_err(|e| classify(&e))?;
            let stream = session
                .streams()
                .iter()
                .position(|s| s.media() == "video" && matches!(s.encoding_name(), "h264" | "h265"))
                .ok_or(StreamProblem::UnsupportedCodec)?;
            let setup = SetupOptions::default().transport(transport).frame_format(FrameFormat::MP4);
            session.setup(stream, setup).await.map_err(|e| classify(&e))?;
            let playing = session.play(PlayOptions::default()).await.map_err(|e| classify(&e))?;
            let demuxed = Box::pin(playing.demuxed().map_err(|e| classify(&e))?);
            // Items ready to hand out: parameters go before the frame that brought them.
            let ready: VecDeque<Item> = params_of(&demuxed, stream).map(Item::Params).into_iter().collect();
            let state = (demuxed, ready, WallClock::default());
            let items =
                futures_util::stream::unfold(state, move |(mut d, mut ready, mut clock)| async move {
                    loop {
                        if let Some(item) = ready.pop_front() {
                            return Some((Ok(item), (d, ready, clock)));
                        }
                        match d.next().await? {
                            Ok(CodecItem::VideoFrame(f)) if f.stream_id() == stream => {
                                if f.has_new_parameters() {
                                    ready.extend(params_of(&d, stream).map(Item::Params));
                                }
                                let timestamp = f.timestamp().elapsed();
                                ready.push_back(Item::Frame(Frame {
                                    key: f.is_random_access_point(),
                                    timestamp,
                                    wall_ms: clock.frame(timestamp, now_ms()),
                                    data: Bytes::from(f.into_data()),
                                }));
                            }
                            Ok(CodecItem::Rtcp(rtcp)) if rtcp.stream_id() == stream => {
                                let report = rtcp.pkts().find_map(|p| p.as_sender_report().ok().flatten());
                                if let (Some(sr), Some(rtp)) = (report, rtcp.rtp_timestamp()) {
                                    clock.sender_report(rtp.elapsed(), sr.ntp_timestamp().0, now_ms());
                                }
                            }
                            Ok(_) => {}
                            Err(e) => return Some((Err(classify(&e)), (d, ready, clock))),
                        }
                    }
                });
            Ok(items.boxed())
        })
    }
}

/// The camera's clock may be trusted when it is within this of ours.
const CLOCK_AGREES_MS: u64 = 5_000;
/// Seconds from 1900 (NTP's epoch) to 1970 (Unix's).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Maps a session's 90 kHz timestamps to wall-clock time: first by the receive time of the
/// first frame, then by the camera's RTCP sender reports (its NTP time of an RTP time), as
/// long as the camera's clock agrees with ours. Cameras that report their clock line up
/// with each other to the millisecond; others to their network delay.
#[derive(Debug, Default)]
struct WallClock {
    /// Wall-clock milliseconds at timestamp 0.
    offset_ms: Option<i64>,
}

impl WallClock {
    fn frame(&mut self, timestamp: i64, now_ms: u64) -> u64 {
        let ts_ms = timestamp.div_euclid(90);
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let offset = *self.offset_ms.get_or_insert(now.saturating_sub(ts_ms));
        u64::try_from(offset.saturating_add(ts_ms)).unwrap_or(now_ms)
    }

    fn sender_report(&mut self, rtp_timestamp: i64, ntp: u64, now_ms: u64) {
        let Some(ntp_ms) = ntp_to_unix_ms(ntp) else { return };
        if ntp_ms.abs_diff(now_ms) > CLOCK_AGREES_MS {
            tracing::debug!(off_by_ms = ntp_ms.abs_diff(now_ms), "camera clock disagrees; receive time kept");
            return;
        }
        let ntp_ms = i64::try_from(ntp_ms).unwrap_or(i64::MAX);
        self.offset_ms = Some(ntp_ms.saturating_sub(rtp_timestamp.div_euclid(90)));
    }
}

/// An NTP timestamp (seconds since 1900 in the high 32 bits, fraction below) in Unix ms.
fn ntp_to_unix_ms(ntp: u64) -> Option<u64> {
    let seconds = (ntp >> 32).checked_sub(NTP_UNIX_OFFSET_S)?;
    Some(seconds * 1000 + (((ntp & 0xffff_ffff) * 1000) >> 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntp(unix_ms: u64) -> u64 {
        let s = unix_ms / 1000 + NTP_UNIX_OFFSET_S;
        (s << 32) | (((unix_ms % 1000) << 32) / 1000 + 1)
    }

    #[tokio::test]
    async fn an_rtsps_address_is_refused_not_played_in_clear() {
        let source = StreamSource {
            url: crate::Secret::new(url::Url::parse("rtsps://127.0.0.1:1/main").unwrap()),
            credentials: None,
            transport: crate::video::Transport::Tcp,
        };
        assert!(matches!(RtspOpener.open(&source).await, Err(StreamProblem::TlsNotSupported)));
    }

    #[test]
    fn frames_follow_the_stream_clock_from_the_first_receive_time() {
        let mut c = WallClock::default();
        assert_eq!(c.frame(0, 1_000_000), 1_000_000);
        // Received late (network jitter): the picture's time follows the stream's clock.
        assert_eq!(c.frame(90_000, 1_001_700), 1_001_000);
        assert_eq!(c.frame(-9_000, 1_002_000), 999_900);
    }

    #[test]
    fn a_sender_report_sets_the_camera_time_when_its_clock_agrees() {
        let mut c = WallClock::default();
        c.frame(0, 1_000_300); // received 300 ms after it was taken
        c.sender_report(90_000, ntp(1_001_000), 1_001_310);
        assert_eq!(c.frame(180_000, 1_002_300), 1_002_000);
        // A camera clock a minute off is not believed.
        c.sender_report(270_000, ntp(1_063_000), 1_003_300);
        assert_eq!(c.frame(270_000, 1_003_300), 1_003_000);
    }

    #[test]
    fn ntp_before_1970_is_not_a_time() {
        assert_eq!(ntp_to_unix_ms(5 << 32), None);
        assert_eq!(ntp_to_unix_ms(ntp(1_700_000_000_123)), Some(1_700_000_000_123));
    }
}
