//! The ring of the current GOP: every frame since the last key frame, so a new viewer can
//! decode from that key frame at once instead of waiting up to a GOP for the next one.
//! Bounded in bytes and frames: a camera with an absurd GOP loses the instant start, never
//! the memory.

use super::{Frame, VideoParams};
use std::sync::Arc;

/// Most bytes kept for one stream's current GOP (a 4 s GOP at 8 Mbit/s is 4 MB).
pub const MAX_GOP_BYTES: usize = 8 << 20;
/// Most frames kept (a 10 s GOP at 30 fps is 300 frames).
pub const MAX_GOP_FRAMES: usize = 600;

#[derive(Default)]
pub struct Gop {
    params: Option<Arc<VideoParams>>,
    frames: Vec<Arc<Frame>>,
    bytes: usize,
}

impl Gop {
    /// New parameters (a new session, or the camera changed its encoding): what was kept
    /// cannot be decoded with them.
    pub fn set_params(&mut self, params: Arc<VideoParams>) {
        self.params = Some(params);
        self.clear();
    }

    /// Adds a frame; a key frame starts a new GOP. Frames before the first key frame are
    /// not kept: nothing can decode them.
    pub fn push(&mut self, frame: Arc<Frame>) {
        if frame.key {
            self.clear();
        } else if self.frames.is_empty() {
            return;
        }
        if self.bytes + frame.data.len() > MAX_GOP_BYTES || self.frames.len() >= MAX_GOP_FRAMES {
            // Over budget: give up this GOP; the next key frame starts afresh.
            self.clear();
            return;
        }
        self.bytes += frame.data.len();
        self.frames.push(frame);
    }

    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    pub fn params(&self) -> Option<&Arc<VideoParams>> {
        self.params.as_ref()
    }

    /// The frames from the last key frame on (empty while waiting for one).
    pub fn frames(&self) -> &[Arc<Frame>] {
        &self.frames
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(key: bool, len: usize) -> Arc<Frame> {
        Arc::new(Frame { data: Bytes::from(vec![0; len]), key, timestamp: 0, received_ms: 0 })
    }

    #[test]
    fn keeps_from_the_last_key_frame() {
        let mut g = Gop::default();
        g.push(frame(false, 10)); // before any key frame: useless
        assert!(g.frames().is_empty());
        g.push(frame(true, 100));
        g.push(frame(false, 10));
        g.push(frame(true, 200));
        g.push(frame(false, 20));
        assert_eq!(g.frames().len(), 2);
        assert!(g.frames()[0].key);
        assert_eq!(g.bytes(), 220);
    }

    #[test]
    fn over_budget_drops_the_gop_until_the_next_key_frame() {
        let mut g = Gop::default();
        g.push(frame(true, MAX_GOP_BYTES - 10));
        g.push(frame(false, 20));
        assert!(g.frames().is_empty());
        assert_eq!(g.bytes(), 0);
        g.push(frame(false, 5));
        assert!(g.frames().is_empty());
        g.push(frame(true, 5));
        assert_eq!(g.frames().len(), 1);
    }

    #[test]
    fn frame_count_is_bounded() {
        let mut g = Gop::default();
        g.push(frame(true, 1));
        for _ in 0..MAX_GOP_FRAMES * 2 {
            g.push(frame(false, 1));
        }
        assert!(g.frames().len() <= MAX_GOP_FRAMES);
    }
}
