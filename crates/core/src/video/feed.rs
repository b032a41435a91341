//! A viewer's fragmented MP4: the init segment, the cached GOP from its key frame (so the
//! first picture needs no wait for the next key frame), then each new frame as it arrives.
//! The track time is continuous across reconnects and parameter changes, so a player's
//! buffer never jumps back.

use super::fmp4::{self, DEFAULT_DURATION, Fmp4Error, MAX_DURATION};
use super::stream::{Live, Subscription};
use super::{Frame, VideoParams};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// A frame this far (10 s) after the last one, or before it, is from another session.
const SESSION_GAP: u64 = 900_000;

/// One piece of the MP4 byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// An init segment; `mime` is for `MediaSource.addSourceBuffer`.
    Init { data: Vec<u8>, mime: String, width: u32, height: u32 },
    /// One frame. `live` is false for frames replayed from the cached GOP.
    Media { data: Vec<u8>, key: bool, live: bool, time_ms: u64, decode_time: u64 },
}

pub struct Mp4Feed {
    sub: Subscription,
    ready: VecDeque<Segment>,
    /// Frames of the cached GOP not yet turned into fragments.
    cached: VecDeque<Arc<Frame>>,
    params: Option<Arc<VideoParams>>,
    sequence: u32,
    /// Track time of the next frame's session start, and that session's first timestamp.
    offset: u64,
    base: Option<i64>,
    last: Option<(u64, u32)>,
    /// After lagging behind or new parameters: skip to the next key frame.
    need_key: bool,
}

impl Mp4Feed {
    pub fn new(mut sub: Subscription) -> Self {
        let cached = std::mem::take(&mut sub.cached).into();
        let params = sub.params.take();
        let mut feed = Mp4Feed {
            sub,
            ready: VecDeque::new(),
            cached,
            params: None,
            sequence: 0,
            offset: 0,
            base: None,
            last: None,
            need_key: true,
        };
        if let Some(p) = params {
            feed.new_params(p);
        }
        feed
    }

    fn new_params(&mut self, params: Arc<VideoParams>) {
        if self.params.as_deref() == Some(&*params) && self.base.is_some() {
            // The same encoding after a reconnect: timestamps restart, the decoder does not;
            // frames before the new session's first key frame refer to pictures it lacks.
            self.rebase();
            self.need_key = true;
            return;
        }
        match fmp4::init_segment(&params) {
            Ok(data) => self.ready.push_back(Segment::Init {
                data,
                mime: format!("video/mp4; codecs=\"{}\"", params.codec),
                width: params.width,
                height: params.height,
            }),
            Err(e) => tracing::warn!(error = %e, "stream parameters cannot be put in MP4"),
        }
        self.params = Some(params);
        self.rebase();
        self.need_key = true;
    }

    /// The next frames come from a new timeline: continue after the last one.
    fn rebase(&mut self) {
        if let Some((t, d)) = self.last {
            self.offset = t.saturating_add(u64::from(d));
        }
        self.base = None;
    }

    fn push_frame(
        &mut self,
        frame: &Frame,
        next_timestamp: Option<i64>,
        live: bool,
    ) -> Result<(), Fmp4Error> {
        if self.params.is_none() || (self.need_key && !frame.key) {
            return Ok(());
        }
        self.need_key = false;
        // Frames remembered across a reconnect: the next session's clock starts afresh.
        if let (Some(base), Some((t, _))) = (self.base, self.last) {
            let track = frame.timestamp.checked_sub(base).and_then(|d| u64::try_from(d).ok());
            if track.is_none_or(|d| {
                self.offset.saturating_add(d) < t || self.offset.saturating_add(d) > t + SESSION_GAP
            }) {
                self.rebase();
            }
        }
        let base = *self.base.get_or_insert(frame.timestamp);
        // A camera's clock may jump anywhere: never overflow, never go below the session start.
        let since_base = frame.timestamp.checked_sub(base).and_then(|d| u64::try_from(d).ok()).unwrap_or(0);
        let decode_time = self.offset.saturating_add(since_base);
        // The next frame's time gives this one's length; live, it is not known yet, so the
        // last length stands in (the next fragment's own decode time corrects any error).
        let duration = match (next_timestamp, self.last) {
            (Some(next), _) => next
                .checked_sub(frame.timestamp)
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(DEFAULT_DURATION),
            (None, Some((t, d))) if decode_time > t => u32::try_from(decode_time - t).unwrap_or(d),
            (None, Some((_, d))) => d,
            (None, None) => DEFAULT_DURATION,
        };
        let duration = if duration == 0 || duration > MAX_DURATION { DEFAULT_DURATION } else { duration };
        self.sequence = self.sequence.wrapping_add(1);
        let data = fmp4::fragment(self.sequence, frame, decode_time, duration)?;
        self.last = Some((decode_time, duration));
        self.ready.push_back(Segment::Media {
            data,
            key: frame.key,
            live,
            time_ms: frame.wall_ms,
            decode_time,
        });
        Ok(())
    }

    /// The next segment; `None` when the stream's worker is gone.
    pub async fn next(&mut self) -> Option<Segment> {
        loop {
            if let Some(s) = self.pending() {
                return Some(s);
            }
            let live = self.sub.live.recv().await;
            if !self.take(live) {
                return None;
            }
        }
    }

    /// The next segment if one is ready now, without waiting (to batch what is queued).
    pub fn try_next(&mut self) -> Option<Segment> {
        loop {
            if let Some(s) = self.pending() {
                return Some(s);
            }
            let live = match self.sub.live.try_recv() {
                Ok(live) => Ok(live),
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            };
            self.take(live);
        }
    }

    /// A segment made from what is already here: ready ones, then the cached GOP.
    fn pending(&mut self) -> Option<Segment> {
        loop {
            if let Some(s) = self.ready.pop_front() {
                return Some(s);
            }
            let frame = self.cached.pop_front()?;
            let next = self.cached.front().map(|f| f.timestamp);
            if let Err(e) = self.push_frame(&frame, next, false) {
                tracing::debug!(error = %e, "frame skipped");
            }
        }
    }

    /// Takes what the worker broadcast; false when the worker is gone.
    fn take(&mut self, live: Result<Live, RecvError>) -> bool {
        match live {
            Ok(Live::Params(p)) => self.new_params(p),
            Ok(Live::Frame(f)) => {
                if let Err(e) = self.push_frame(&f, None, true) {
                    tracing::debug!(error = %e, "frame skipped");
                }
            }
            Err(RecvError::Lagged(n)) => {
                // Frames were lost to this viewer: resume at the next key frame.
                tracing::debug!(skipped = n, "viewer fell behind");
                self.need_key = true;
            }
            Err(RecvError::Closed) => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::sync::broadcast;

    fn params(codec: &str) -> Arc<VideoParams> {
        let mut entry = vec![0, 0, 0, 16];
        entry.extend_from_slice(b"avc1");
        entry.extend_from_slice(&[0; 8]);
        Arc::new(VideoParams::new(codec.into(), 320, 240, Bytes::from(entry)))
    }

    fn frame(key: bool, timestamp: i64) -> Arc<Frame> {
        Arc::new(Frame { data: Bytes::from_static(b"\0\0\0\x01\x65"), key, timestamp, wall_ms: 1 })
    }

    fn times(segments: &[Segment]) -> Vec<(bool, u64)> {
        segments
            .iter()
            .filter_map(|s| match s {
                Segment::Media { key, decode_time, .. } => Some((*key, *decode_time)),
                Segment::Init { .. } => None,
            })
            .collect()
    }

    async fn take(feed: &mut Mp4Feed, n: usize) -> Vec<Segment> {
        let mut out = vec![];
        for _ in 0..n {
            out.push(feed.next().await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn starts_with_init_and_the_cached_gop_then_goes_live() {
        let (tx, rx) = broadcast::channel(16);
        let sub = Subscription {
            params: Some(params("avc1.42c01e")),
            cached: vec![frame(true, 1000), frame(false, 7000)],
            live: rx,
        };
        let mut feed = Mp4Feed::new(sub);
        tx.send(Live::Frame(frame(false, 13000))).unwrap();
        let s = take(&mut feed, 4).await;
        assert!(matches!(&s[0], Segment::Init { mime, .. } if mime == "video/mp4; codecs=\"avc1.42c01e\""));
        assert_eq!(times(&s), [(true, 0), (false, 6000), (false, 12000)]);
        assert!(matches!(s[1], Segment::Media { live: false, .. }));
        assert!(matches!(s[3], Segment::Media { live: true, .. }));
    }

    #[tokio::test]
    async fn a_reconnect_continues_the_timeline_and_waits_for_a_key_frame() {
        let (tx, rx) = broadcast::channel(16);
        let mut feed = Mp4Feed::new(Subscription { params: None, cached: vec![], live: rx });
        tx.send(Live::Params(params("avc1.42c01e"))).unwrap();
        tx.send(Live::Frame(frame(false, 0))).unwrap(); // not decodable: skipped
        tx.send(Live::Frame(frame(true, 500))).unwrap();
        tx.send(Live::Frame(frame(false, 3500))).unwrap();
        // The camera reconnects: same parameters, timestamps from zero again.
        tx.send(Live::Params(params("avc1.42c01e"))).unwrap();
        tx.send(Live::Frame(frame(true, 0))).unwrap();
        // New parameters: a new init segment.
        tx.send(Live::Params(params("avc1.640028"))).unwrap();
        tx.send(Live::Frame(frame(false, 100))).unwrap(); // skipped until a key frame
        tx.send(Live::Frame(frame(true, 200))).unwrap();
        let s = take(&mut feed, 6).await;
        assert_eq!(times(&s), [(true, 0), (false, 3000), (true, 6000), (true, 9000)]);
        assert!(matches!(&s[4], Segment::Init { mime, .. } if mime.contains("avc1.640028")));
    }

    #[tokio::test]
    async fn frames_remembered_across_a_reconnect_keep_the_timeline_going_forward() {
        let (_tx, rx) = broadcast::channel(16);
        let cached = vec![frame(true, 1000), frame(false, 4000), frame(true, 0), frame(false, 3000)];
        let mut feed = Mp4Feed::new(Subscription { params: Some(params("avc1.42c01e")), cached, live: rx });
        let s = take(&mut feed, 5).await;
        // The second session's clock restarts at 0: it goes on after the first.
        assert_eq!(times(&s), [(true, 0), (false, 3000), (true, 9000), (false, 12000)]);
    }

    /// Whatever a camera sends (timestamps anywhere, parameters changing, frames of any
    /// size), the feed never panics, and every fragment it makes is well formed.
    #[tokio::test]
    async fn arbitrary_streams_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0x4d4d52);
        for _ in 0..200 {
            let (tx, rx) = broadcast::channel(64);
            let mut feed = Mp4Feed::new(Subscription { params: None, cached: vec![], live: rx });
            for _ in 0..40 {
                let item = match rng.u8(..10) {
                    0 => Live::Params(params(if rng.bool() { "avc1.42c01e" } else { "hvc1.1.6.L93.B0" })),
                    _ => {
                        let timestamp = match rng.u8(..4) {
                            0 => rng.i64(..),
                            1 => i64::MAX - rng.i64(0..10),
                            _ => rng.i64(-1000..1_000_000),
                        };
                        let data = Bytes::from(vec![1; rng.usize(0..64)]);
                        Live::Frame(Arc::new(Frame { data, key: rng.bool(), timestamp, wall_ms: 0 }))
                    }
                };
                tx.send(item).unwrap();
            }
            drop(tx);
            while let Some(s) = feed.next().await {
                if let Segment::Media { data, .. } = s {
                    let moof = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                    let mdat = u32::from_be_bytes(data[moof..moof + 4].try_into().unwrap()) as usize;
                    assert_eq!(moof + mdat, data.len());
                }
            }
        }
    }

    #[tokio::test]
    async fn a_lagging_viewer_resumes_at_a_key_frame() {
        let (tx, rx) = broadcast::channel(2);
        let mut feed =
            Mp4Feed::new(Subscription { params: Some(params("avc1.42c01e")), cached: vec![], live: rx });
        assert!(matches!(feed.next().await, Some(Segment::Init { .. })));
        for t in 0..5 {
            tx.send(Live::Frame(frame(t == 0, t * 3000))).unwrap();
        }
        tx.send(Live::Frame(frame(false, 15000))).unwrap();
        tx.send(Live::Frame(frame(true, 18000))).unwrap();
        let s = take(&mut feed, 1).await;
        assert_eq!(times(&s), [(true, 0)]);
        drop(tx);
        assert!(feed.next().await.is_none());
    }
}
