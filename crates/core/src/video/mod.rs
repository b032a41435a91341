//! Live video: one worker per camera stream, shared by every view of it. A `retina` RTSP
//! session feeds the stream's memory (the last minute in whole GOPs: a new viewer starts
//! at once from the cached key frame, a replay from any remembered moment) and a broadcast
//! of new frames; `feed` turns a subscription into
//! fragmented MP4 for the web view. Camera URLs and credentials stay in here: the web view
//! names a stream by an opaque id. See `docs/video.md`.

pub mod clip;
pub mod feed;
pub mod fmp4;
pub mod http;
pub mod memory;
pub mod probe;
pub mod rtsp;
pub mod snapshot;
pub mod stream;

use crate::Secret;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::Serialize;
use ts_rs::TS;

pub use feed::{Mp4Feed, Segment};
pub use stream::{StreamHandle, StreamStatus, Streams, Subscription, Viewer};

/// One encoded picture (an H.264/H.265 access unit with 4-byte length-prefixed NAL units,
/// as MP4 stores them).
#[derive(Clone, Debug)]
pub struct Frame {
    pub data: Bytes,
    /// A key frame: decoding can start here.
    pub key: bool,
    /// Presentation time on the stream's 90 kHz clock, counted from the session start.
    pub timestamp: i64,
    /// When the picture was taken, milliseconds since the Unix epoch: from the camera's
    /// clock (RTCP sender reports) when it agrees with ours, otherwise the receive time of
    /// the session's first frame carried forward on the stream's own clock. Either way
    /// steady from frame to frame, and comparable across the cameras of a site.
    pub wall_ms: u64,
}

/// What a decoder needs before the first frame: codec, size and the MP4 sample entry
/// (`avc1`/`hvc1` with the parameter sets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoParams {
    /// RFC 6381 codec string, e.g. `avc1.42C01E`, for `MediaSource.isTypeSupported`.
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub sample_entry: Bytes,
}

impl VideoParams {
    pub fn new(codec: String, width: u32, height: u32, sample_entry: Bytes) -> Self {
        VideoParams { codec, width, height, sample_entry }
    }
}

/// What an opened stream yields: new parameters (always first), then frames.
#[derive(Clone, Debug)]
pub enum Item {
    Params(VideoParams),
    Frame(Frame),
}

/// Why a stream cannot play, in words a user can act on. Never carries a URL or a
/// credential: the camera is named by the caller, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[serde(rename_all = "camelCase")]
pub enum StreamProblem {
    /// The camera refused the credentials (RTSP 401/403).
    #[error("the camera refused the credentials")]
    Unauthorized,
    /// The camera has no such stream (RTSP 404).
    #[error("the camera has no such stream")]
    NotFound,
    /// No connection to the camera (refused, unreachable or timed out).
    #[error("the camera cannot be reached")]
    Unreachable,
    /// The camera offers no H.264 or H.265 video.
    #[error("the camera's video codec is not supported (H.264 and H.265 are)")]
    UnsupportedCodec,
    /// The camera's address asks for RTSP over TLS (`rtsps://`), which is not supported
    /// yet: it is refused rather than played without the protection it asks for.
    #[error("video over TLS (rtsps://) is not supported yet")]
    TlsNotSupported,
    /// The camera sent something that is not valid RTSP/RTP or video.
    #[error("the camera sent a malformed stream")]
    Malformed,
    /// Connected, but no frame arrived for too long.
    #[error("the camera stopped sending video")]
    Stalled,
    /// The camera closed the stream.
    #[error("the camera ended the stream")]
    Ended,
}

/// How to reach one camera stream. The URL is kept as a secret: it never prints.
#[derive(Debug)]
pub struct StreamSource {
    pub url: Secret<url::Url>,
    pub credentials: Option<Credentials>,
    pub transport: Transport,
}

/// Camera credentials, from enrolment (or typed in by an administrator probing a camera).
#[derive(Debug)]
pub struct Credentials {
    pub username: String,
    pub password: Secret<String>,
}

/// The origin of a camera endpoint — scheme, host and port, the scheme's default port when
/// the URL names none — as `scheme://host:port`: what an enrolled camera credential is
/// bound to, so that it goes to no other address a catalog may name.
pub fn origin(url: &url::Url) -> Option<String> {
    let default = match url.scheme() {
        "rtsp" => 554,
        "rtsps" => 322,
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host = url.host_str().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    Some(format!("{}://{host}:{}", url.scheme(), url.port().unwrap_or(default)))
}

/// RTP over the RTSP connection (TCP, interleaved; works through NAT and firewalls) or
/// over UDP (lower overhead on a LAN, but lossy and blocked by many firewalls).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

/// A stream of [`Item`]s from one camera session.
pub type Items = BoxStream<'static, Result<Item, StreamProblem>>;

/// Opens camera sessions: the real one speaks RTSP ([`rtsp::RtspOpener`]); tests script one.
pub trait Opener: Send + Sync + 'static {
    fn open(&self, source: &StreamSource) -> BoxFuture<'static, Result<Items, StreamProblem>>;
}
