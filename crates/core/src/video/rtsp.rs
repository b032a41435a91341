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
            let items =
                futures_util::stream::unfold((demuxed, ready), move |(mut d, mut ready)| async move {
                    loop {
                        if let Some(item) = ready.pop_front() {
                            return Some((Ok(item), (d, ready)));
                        }
                        match d.next().await? {
                            Ok(CodecItem::VideoFrame(f)) if f.stream_id() == stream => {
                                if f.has_new_parameters() {
                                    ready.extend(params_of(&d, stream).map(Item::Params));
                                }
                                ready.push_back(Item::Frame(Frame {
                                    key: f.is_random_access_point(),
                                    timestamp: f.timestamp().elapsed(),
                                    received_ms: now_ms(),
                                    data: Bytes::from(f.into_data()),
                                }));
                            }
                            Ok(_) => {}
                            Err(e) => return Some((Err(classify(&e)), (d, ready))),
                        }
                    }
                });
            Ok(items.boxed())
        })
    }
}
