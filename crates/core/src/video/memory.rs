//! A stream's memory: the last N seconds of frames, kept as whole GOPs so that playback
//! from memory can start at a key frame, and the current GOP (so a new viewer starts at
//! once from its key frame instead of waiting for the next one).
//!
//! Every stream's memory draws on one [`Budget`]. The rule for what goes first:
//! - a GOP older than the memory's length goes as soon as the GOP after it is also older;
//! - when the memory of all cameras together is over budget, the oldest GOP of all goes
//!   first, whichever camera it is from;
//! - the current GOP of a camera never goes for the budget's sake (it is what a viewer
//!   starts from); one larger than [`MAX_GOP_BYTES`] or [`MAX_GOP_FRAMES`] is given up
//!   until the next key frame: a camera with an absurd GOP loses the instant start and its
//!   memory, never the app's memory.

use super::{Frame, VideoParams};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Most bytes kept for one GOP (a 4 s GOP at 8 Mbit/s is 4 MB).
pub const MAX_GOP_BYTES: usize = 8 << 20;
/// Most frames kept for one GOP (a 10 s GOP at 30 fps is 300 frames).
pub const MAX_GOP_FRAMES: usize = 600;

/// How much the streams remember.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimits {
    /// How far back each stream remembers.
    pub length: Duration,
    /// Most bytes of video held by all streams together.
    pub budget_bytes: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        // 60 s of 16 sub streams at 1 Mbit/s is 120 MB; the budget leaves room for main
        // streams and bursts, and bounds the app's memory whatever the cameras send.
        MemoryLimits { length: Duration::from_secs(60), budget_bytes: 256 << 20 }
    }
}

struct Gop {
    frames: Vec<Arc<Frame>>,
    bytes: usize,
}

impl Gop {
    fn start_ms(&self) -> u64 {
        self.frames.first().map_or(0, |f| f.wall_ms)
    }
}

/// One stream's memory. Its bytes are counted in the shared [`Budget`].
pub struct Memory {
    params: Option<Arc<VideoParams>>,
    gops: VecDeque<Gop>,
    bytes: usize,
    length_ms: u64,
    budget: Arc<Budget>,
}

impl Memory {
    /// A stream's memory, registered with `budget` (which may shed its oldest GOPs).
    pub fn new(budget: &Arc<Budget>) -> Arc<Mutex<Memory>> {
        let memory = Arc::new(Mutex::new(Memory {
            params: None,
            gops: VecDeque::new(),
            bytes: 0,
            length_ms: u64::try_from(budget.limits.length.as_millis()).unwrap_or(u64::MAX),
            budget: budget.clone(),
        }));
        budget.register(&memory);
        memory
    }

    /// New parameters (a new session, or the camera changed its encoding): what was kept
    /// cannot be decoded with them.
    pub fn set_params(&mut self, params: Arc<VideoParams>) {
        if self.params.as_deref() != Some(&*params) {
            self.clear();
        }
        self.params = Some(params);
    }

    /// Adds a frame; a key frame starts a new GOP. Frames before the first key frame are
    /// not kept: nothing can decode them.
    pub fn push(&mut self, frame: Arc<Frame>) {
        if frame.key {
            if self.gops.back().is_some_and(|g| g.frames.is_empty()) {
                self.gops.pop_back();
            }
            self.gops.push_back(Gop { frames: Vec::new(), bytes: 0 });
        }
        let Some(gop) = self.gops.back_mut() else { return };
        if gop.frames.is_empty() && !frame.key {
            return; // the GOP was given up: wait for the next key frame
        }
        let len = frame.data.len();
        if gop.bytes + len > MAX_GOP_BYTES || gop.frames.len() >= MAX_GOP_FRAMES {
            // Over the GOP's bound: give it up; the next key frame starts afresh.
            gop.frames.clear();
            let bytes = std::mem::take(&mut gop.bytes);
            self.shrink(bytes);
            return;
        }
        gop.frames.push(frame);
        gop.bytes += len;
        self.bytes += len;
        self.budget.used.fetch_add(len, Ordering::Relaxed);
        self.trim();
    }

    /// Drops GOPs wholly older than the memory's length (keeping the one the length
    /// reaches into, so the oldest remembered moment can be decoded).
    fn trim(&mut self) {
        let Some(newest) = self.newest_ms() else { return };
        let horizon = newest.saturating_sub(self.length_ms);
        // (An empty GOP, given up or after an interruption, is only ever the last.)
        while self.gops.get(1).is_some_and(|g| !g.frames.is_empty() && g.start_ms() <= horizon) {
            self.drop_oldest();
        }
    }

    /// The session ended: what is remembered stays, but there is no current GOP to start a
    /// live view from until the next key frame.
    pub fn interrupt(&mut self) {
        if self.gops.back().is_some_and(|g| !g.frames.is_empty()) {
            self.gops.push_back(Gop { frames: Vec::new(), bytes: 0 });
        }
    }

    fn drop_oldest(&mut self) {
        if let Some(gop) = self.gops.pop_front() {
            self.shrink(gop.bytes);
        }
    }

    fn shrink(&mut self, bytes: usize) {
        self.bytes -= bytes;
        self.budget.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub fn clear(&mut self) {
        let bytes = self.bytes;
        self.gops.clear();
        self.shrink(bytes);
    }

    pub fn params(&self) -> Option<&Arc<VideoParams>> {
        self.params.as_ref()
    }

    /// The frames from the last key frame on (empty while waiting for one).
    pub fn current_gop(&self) -> &[Arc<Frame>] {
        self.gops.back().map_or(&[], |g| &g.frames)
    }

    /// The frames from the key frame at or before `from_ms` (the oldest kept if memory
    /// does not reach that far back) to the newest.
    pub fn since(&self, from_ms: u64) -> Vec<Arc<Frame>> {
        let first = self
            .gops
            .iter()
            .rposition(|g| !g.frames.is_empty() && g.start_ms() <= from_ms)
            .or_else(|| self.gops.iter().position(|g| !g.frames.is_empty()));
        let Some(first) = first else { return Vec::new() };
        self.gops.iter().skip(first).flat_map(|g| g.frames.iter().cloned()).collect()
    }

    /// Wall-clock times of the oldest and newest remembered frames.
    pub fn span_ms(&self) -> Option<(u64, u64)> {
        let oldest = self.gops.iter().find(|g| !g.frames.is_empty())?.start_ms();
        Some((oldest, self.newest_ms()?))
    }

    fn newest_ms(&self) -> Option<u64> {
        self.gops.iter().rev().find_map(|g| g.frames.last()).map(|f| f.wall_ms)
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The start of the GOP the budget would drop first: any but the current one.
    fn oldest_droppable_ms(&self) -> Option<u64> {
        (self.gops.len() > 1).then(|| self.gops.front().map_or(0, Gop::start_ms))
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// The memory budget shared by every stream.
pub struct Budget {
    limits: MemoryLimits,
    used: AtomicUsize,
    memories: Mutex<Vec<Weak<Mutex<Memory>>>>,
}

impl Budget {
    pub fn new(limits: MemoryLimits) -> Arc<Budget> {
        Arc::new(Budget { limits, used: AtomicUsize::new(0), memories: Mutex::new(Vec::new()) })
    }

    pub fn limits(&self) -> MemoryLimits {
        self.limits
    }

    /// Bytes held by all streams' memories.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn register(&self, memory: &Arc<Mutex<Memory>>) {
        let mut all = self.memories.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|m| m.strong_count() > 0);
        all.push(Arc::downgrade(memory));
    }

    /// While over budget, drops the oldest GOP of all (never a current one). Must be called
    /// with no memory locked.
    pub fn enforce(&self) {
        while self.used() > self.limits.budget_bytes {
            let memories: Vec<Arc<Mutex<Memory>>> = {
                let all = self.memories.lock().unwrap_or_else(|p| p.into_inner());
                all.iter().filter_map(Weak::upgrade).collect()
            };
            let oldest = memories
                .iter()
                .filter_map(|m| {
                    m.lock().unwrap_or_else(|p| p.into_inner()).oldest_droppable_ms().map(|t| (t, m))
                })
                .min_by_key(|(t, _)| *t);
            let Some((_, memory)) = oldest else { return };
            memory.lock().unwrap_or_else(|p| p.into_inner()).drop_oldest();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(key: bool, len: usize, wall_ms: u64) -> Arc<Frame> {
        Arc::new(Frame { data: Bytes::from(vec![0; len]), key, timestamp: 0, wall_ms })
    }

    fn budget(seconds: u64, bytes: usize) -> Arc<Budget> {
        Budget::new(MemoryLimits { length: Duration::from_secs(seconds), budget_bytes: bytes })
    }

    /// One frame a second for `seconds` from `start_ms`, a key frame every `gop` seconds.
    fn feed(m: &Mutex<Memory>, start_ms: u64, seconds: u64, gop: u64, len: usize) {
        for s in 0..seconds {
            m.lock().unwrap().push(frame(s % gop == 0, len, start_ms + s * 1000));
        }
    }

    #[test]
    fn the_current_gop_starts_at_the_last_key_frame() {
        let b = budget(60, usize::MAX);
        let m = Memory::new(&b);
        let mut g = m.lock().unwrap();
        g.push(frame(false, 10, 0)); // before any key frame: useless
        assert!(g.current_gop().is_empty());
        g.push(frame(true, 100, 1));
        g.push(frame(false, 10, 2));
        g.push(frame(true, 200, 3));
        g.push(frame(false, 20, 4));
        assert_eq!(g.current_gop().len(), 2);
        assert!(g.current_gop()[0].key);
        assert_eq!(g.bytes(), 330, "the older GOP is remembered too");
        assert_eq!(b.used(), 330);
    }

    #[test]
    fn remembers_the_length_in_whole_gops() {
        let b = budget(10, usize::MAX);
        let m = Memory::new(&b);
        feed(&m, 0, 30, 4, 1);
        let g = m.lock().unwrap();
        // Newest frame at 29 s: the 10 s horizon (19 s) falls in the GOP from 16 s.
        assert_eq!(g.span_ms(), Some((16_000, 29_000)));
        // From 21 s: the key frame at 20 s; from before memory: its oldest key frame.
        assert_eq!(g.since(21_000).first().map(|f| f.wall_ms), Some(20_000));
        assert_eq!(g.since(5_000).first().map(|f| f.wall_ms), Some(16_000));
        assert!(g.since(5_000).first().unwrap().key);
        assert_eq!(g.since(29_500).len(), 2, "the current GOP");
    }

    #[test]
    fn over_budget_the_oldest_gop_of_any_camera_goes_first_never_a_current_one() {
        let b = budget(60, 100);
        let (a, c) = (Memory::new(&b), Memory::new(&b));
        feed(&a, 0, 4, 2, 10); // GOPs at 0 s and 2 s: 40 bytes
        feed(&c, 1_000, 4, 2, 10); // GOPs at 1 s and 3 s: 40 bytes
        b.enforce();
        assert_eq!(b.used(), 80, "within budget: nothing goes");
        a.lock().unwrap().push(frame(true, 30, 5_000)); // 110 bytes
        b.enforce();
        // The oldest GOP of all was a's from 0 s.
        assert_eq!(a.lock().unwrap().span_ms(), Some((2_000, 5_000)));
        assert_eq!(c.lock().unwrap().span_ms(), Some((1_000, 4_000)));
        assert_eq!(b.used(), 90);
        // Far over: only current GOPs are left, and they stay.
        c.lock().unwrap().push(frame(true, 200, 6_000));
        b.enforce();
        assert_eq!(a.lock().unwrap().span_ms(), Some((5_000, 5_000)));
        assert_eq!(c.lock().unwrap().span_ms(), Some((6_000, 6_000)));
        assert_eq!(b.used(), 230);
        drop(c);
        assert_eq!(b.used(), 30, "a closed stream's memory is given back");
    }

    #[test]
    fn an_oversized_gop_is_given_up_until_the_next_key_frame() {
        let b = budget(60, usize::MAX);
        let m = Memory::new(&b);
        let mut g = m.lock().unwrap();
        g.push(frame(true, 10, 0));
        g.push(frame(true, MAX_GOP_BYTES - 10, 1));
        g.push(frame(false, 20, 2));
        assert!(g.current_gop().is_empty());
        assert_eq!(g.bytes(), 10, "the GOP before it is kept");
        g.push(frame(false, 5, 3));
        assert!(g.current_gop().is_empty());
        g.push(frame(true, 5, 4));
        assert_eq!(g.current_gop().len(), 1);
        assert_eq!(g.since(0).len(), 2);
        assert_eq!(b.used(), 15);
    }

    #[test]
    fn an_interrupted_session_keeps_its_memory_but_offers_no_current_gop() {
        let b = budget(60, usize::MAX);
        let m = Memory::new(&b);
        feed(&m, 0, 4, 2, 10);
        let mut g = m.lock().unwrap();
        g.interrupt();
        assert!(g.current_gop().is_empty());
        g.push(frame(false, 10, 5_000));
        assert!(g.current_gop().is_empty());
        assert_eq!(g.span_ms(), Some((0, 3_000)));
        g.push(frame(true, 10, 9_000));
        assert_eq!(g.current_gop().len(), 1);
        assert_eq!(g.since(0).len(), 5);
    }

    #[test]
    fn frame_count_per_gop_is_bounded() {
        let b = budget(3600, usize::MAX);
        let m = Memory::new(&b);
        let mut g = m.lock().unwrap();
        g.push(frame(true, 1, 0));
        for i in 0..MAX_GOP_FRAMES * 2 {
            g.push(frame(false, 1, i as u64));
        }
        assert!(g.current_gop().len() <= MAX_GOP_FRAMES);
        assert!(g.bytes() <= MAX_GOP_FRAMES);
    }

    #[test]
    fn new_parameters_forget_what_cannot_be_decoded_with_them() {
        let b = budget(60, usize::MAX);
        let m = Memory::new(&b);
        let p = |w| Arc::new(VideoParams::new("avc1.42c01e".into(), w, 240, Bytes::from_static(b"x")));
        m.lock().unwrap().set_params(p(320));
        feed(&m, 0, 4, 2, 10);
        m.lock().unwrap().set_params(p(320)); // a reconnect with the same encoding
        assert_eq!(m.lock().unwrap().bytes(), 40);
        m.lock().unwrap().set_params(p(640));
        assert_eq!(m.lock().unwrap().bytes(), 0);
        assert_eq!(b.used(), 0);
    }
}
