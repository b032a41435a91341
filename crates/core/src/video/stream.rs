//! One worker per camera stream, shared by every viewer: it keeps the session open,
//! reconnects with backoff when the camera drops, reports its state, remembers the last
//! seconds (see [`super::memory`]) and broadcasts new frames. A stream nobody watches
//! closes after an idle time.

use super::memory::{Budget, Memory, MemoryLimits};
use super::{Frame, Item, Opener, StreamProblem, StreamSource, VideoParams};
use crate::backoff::Backoff;
use crate::time::now_ms;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use ts_rs::TS;

/// Where a stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum StreamPhase {
    /// Opening a session (first time or after a failure).
    Connecting,
    /// Frames are arriving.
    Live,
    /// Waiting before the next attempt; `problem` says why.
    Failed,
    /// Nobody watches: the session is closed.
    Closed,
}

/// A stream's state as the UI shows it on a tile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatus {
    pub phase: StreamPhase,
    /// Why the last attempt failed, kept while reconnecting.
    pub problem: Option<StreamProblem>,
    /// When the phase began, milliseconds since the Unix epoch.
    #[ts(type = "number")]
    pub since_ms: u64,
    /// Attempts since the stream was last live.
    pub attempt: u32,
    /// RFC 6381 codec, once known.
    pub codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl StreamStatus {
    fn new(phase: StreamPhase) -> Self {
        StreamStatus {
            phase,
            problem: None,
            since_ms: now_ms(),
            attempt: 0,
            codec: None,
            width: None,
            height: None,
        }
    }
}

/// Timing of the workers; tests shorten it.
#[derive(Clone, Copy, Debug)]
pub struct StreamTiming {
    /// Longest wait for a session to open.
    pub open_timeout: Duration,
    /// A live stream with no frame for this long is stalled and reopened.
    pub stall_after: Duration,
    /// A stream nobody watches closes after this long (so going back to a camera just
    /// left is instant) …
    pub idle_close: Duration,
    /// … and at most this many such streams stay open: beyond it, the one idle longest
    /// closes at once (a budget for bandwidth and memory).
    pub max_idle: usize,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
}

impl Default for StreamTiming {
    fn default() -> Self {
        StreamTiming {
            open_timeout: Duration::from_secs(10),
            stall_after: Duration::from_secs(4),
            idle_close: Duration::from_secs(20),
            max_idle: 8,
            backoff_first: Duration::from_millis(500),
            backoff_max: Duration::from_secs(15),
        }
    }
}

/// What the worker broadcasts to viewers.
#[derive(Clone, Debug)]
pub enum Live {
    Params(Arc<VideoParams>),
    Frame(Arc<Frame>),
}

/// Frames a slow viewer may fall behind before it skips to the next key frame.
const BROADCAST_DEPTH: usize = 256;

struct Shared {
    memory: Arc<Mutex<Memory>>,
    budget: Arc<Budget>,
    live: broadcast::Sender<Live>,
    status: watch::Sender<StreamStatus>,
    viewers: Mutex<usize>,
    /// When the last viewer left (None while watched), for the idle budget.
    idle_since: Mutex<Option<tokio::time::Instant>>,
    stop: tokio::sync::Notify,
}

impl Shared {
    /// Hands a change to the memory and the viewers under one lock, so a new viewer's
    /// start (memory snapshot + subscription) neither misses nor repeats a frame.
    fn publish(&self, live: Live) {
        {
            let mut memory = self.memory();
            match &live {
                Live::Params(p) => memory.set_params(p.clone()),
                Live::Frame(f) => memory.push(f.clone()),
            }
            let _ = self.live.send(live);
        }
        self.budget.enforce();
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_status(&self, f: impl FnOnce(&mut StreamStatus)) {
        self.status.send_modify(f);
    }
}

/// A running stream worker.
#[derive(Clone)]
pub struct StreamHandle {
    id: String,
    shared: Arc<Shared>,
}

/// A viewer's start: the parameters and remembered frames (from a key frame), then what
/// follows.
pub struct Subscription {
    pub params: Option<Arc<VideoParams>>,
    pub cached: Vec<Arc<Frame>>,
    pub live: broadcast::Receiver<Live>,
}

impl StreamHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn status(&self) -> watch::Receiver<StreamStatus> {
        self.shared.status.subscribe()
    }

    /// Live from the current GOP's key frame.
    pub fn subscribe(&self) -> Subscription {
        let memory = self.shared.memory();
        Subscription {
            params: memory.params().cloned(),
            cached: memory.current_gop().to_vec(),
            live: self.shared.live.subscribe(),
        }
    }

    /// From memory: the frames from the key frame at or before `from_ms` (wall clock; the
    /// oldest remembered if memory does not reach so far), then live.
    pub fn recall(&self, from_ms: u64) -> Subscription {
        let memory = self.shared.memory();
        Subscription {
            params: memory.params().cloned(),
            cached: memory.since(from_ms),
            live: self.shared.live.subscribe(),
        }
    }

    /// Wall-clock times of the oldest and newest remembered frames.
    pub fn remembered(&self) -> Option<(u64, u64)> {
        self.shared.memory().span_ms()
    }

    /// Bytes this stream remembers.
    pub fn cached_bytes(&self) -> usize {
        self.shared.memory().bytes()
    }
}

/// Keeps a stream open while held; dropping the last one starts the idle timer.
pub struct Viewer {
    handle: StreamHandle,
    streams: Weak<Inner>,
}

impl Viewer {
    pub fn handle(&self) -> &StreamHandle {
        &self.handle
    }
}

/// Another viewer of the same stream: the stream stays open until both are dropped.
impl Clone for Viewer {
    fn clone(&self) -> Self {
        *self.handle.shared.viewers.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Viewer { handle: self.handle.clone(), streams: self.streams.clone() }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let remaining = {
            let mut v = self.handle.shared.viewers.lock().unwrap_or_else(|p| p.into_inner());
            *v = v.saturating_sub(1);
            *v
        };
        if remaining == 0
            && let Some(inner) = self.streams.upgrade()
        {
            inner.close_when_idle(self.handle.clone());
        }
    }
}

struct Inner {
    opener: Arc<dyn Opener>,
    timing: StreamTiming,
    budget: Arc<Budget>,
    running: Mutex<HashMap<String, StreamHandle>>,
}

impl Inner {
    fn close_when_idle(self: Arc<Self>, handle: StreamHandle) {
        *handle.shared.idle_since.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(tokio::time::Instant::now());
        self.enforce_idle_budget();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return self.close(&handle);
        };
        let idle = self.timing.idle_close;
        rt.spawn(async move {
            tokio::time::sleep(idle).await;
            // Only if idle all that time: a viewer may have come and gone meanwhile, and
            // the timer of its leaving decides then.
            let since = *handle.shared.idle_since.lock().unwrap_or_else(|p| p.into_inner());
            if since.is_some_and(|s| s.elapsed() >= idle) {
                self.close(&handle);
            }
        });
    }

    /// Closes the streams idle longest while more than `max_idle` are idle.
    fn enforce_idle_budget(&self) {
        let mut idle: Vec<(tokio::time::Instant, StreamHandle)> = {
            let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running
                .values()
                .filter_map(|h| {
                    let since = *h.shared.idle_since.lock().unwrap_or_else(|p| p.into_inner());
                    since.map(|s| (s, h.clone()))
                })
                .collect()
        };
        if idle.len() <= self.timing.max_idle {
            return;
        }
        idle.sort_by_key(|(since, _)| *since);
        let excess = idle.len() - self.timing.max_idle;
        for (_, handle) in idle.into_iter().take(excess) {
            self.close(&handle);
        }
    }

    fn close(&self, handle: &StreamHandle) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        // Only if the entry is still this worker (it may have been replaced).
        if running.get(&handle.id).is_some_and(|h| Arc::ptr_eq(&h.shared, &handle.shared))
            && *handle.shared.viewers.lock().unwrap_or_else(|p| p.into_inner()) == 0
        {
            running.remove(&handle.id);
            handle.shared.stop.notify_one();
            tracing::debug!(stream = %handle.id, "idle stream closed");
        }
    }
}

/// Every open stream, by opaque id (e.g. `hq/cam-1/sub`).
#[derive(Clone)]
pub struct Streams {
    inner: Arc<Inner>,
}

impl Streams {
    pub fn new(opener: Arc<dyn Opener>, timing: StreamTiming) -> Self {
        Self::with_memory(opener, timing, MemoryLimits::default())
    }

    /// Streams that remember as `limits` say.
    pub fn with_memory(opener: Arc<dyn Opener>, timing: StreamTiming, limits: MemoryLimits) -> Self {
        let budget = Budget::new(limits);
        Streams { inner: Arc::new(Inner { opener, timing, budget, running: Mutex::new(HashMap::new()) }) }
    }

    /// Bytes all streams remember together (at most the budget, plus each stream's
    /// current GOP).
    pub fn memory_used(&self) -> usize {
        self.inner.budget.used()
    }

    pub fn memory_limits(&self) -> MemoryLimits {
        self.inner.budget.limits()
    }

    /// Watches stream `id`, starting its worker with `source()` if it is not running.
    /// Must be called within a tokio runtime.
    pub fn watch(&self, id: &str, source: impl FnOnce() -> StreamSource) -> Viewer {
        let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
        let handle = running
            .entry(id.to_string())
            .or_insert_with(|| spawn(id.to_string(), source(), &self.inner))
            .clone();
        *handle.shared.viewers.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        *handle.shared.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Viewer { handle, streams: Arc::downgrade(&self.inner) }
    }

    /// The running stream `id`, if any.
    pub fn get(&self, id: &str) -> Option<StreamHandle> {
        self.inner.running.lock().ok()?.get(id).cloned()
    }

    /// Ids of the running streams.
    pub fn running(&self) -> Vec<String> {
        self.inner.running.lock().map(|r| r.keys().cloned().collect()).unwrap_or_default()
    }
}

fn spawn(id: String, source: StreamSource, inner: &Inner) -> StreamHandle {
    let (opener, timing) = (inner.opener.clone(), inner.timing);
    let (live, _) = broadcast::channel(BROADCAST_DEPTH);
    let shared = Arc::new(Shared {
        memory: Memory::new(&inner.budget),
        budget: inner.budget.clone(),
        live,
        status: watch::channel(StreamStatus::new(StreamPhase::Connecting)).0,
        viewers: Mutex::new(0),
        idle_since: Mutex::new(None),
        stop: tokio::sync::Notify::new(),
    });
    let handle = StreamHandle { id: id.clone(), shared: shared.clone() };
    tokio::spawn(async move {
        tokio::select! {
            _ = shared.stop.notified() => {}
            _ = run(&id, &source, &*opener, timing, &shared) => {}
        }
        shared.set_status(|s| {
            *s = StreamStatus { phase: StreamPhase::Closed, since_ms: now_ms(), ..s.clone() };
        });
    });
    handle
}

/// The worker: open, read until the session fails, wait, reopen. Never returns on its own.
async fn run(id: &str, source: &StreamSource, opener: &dyn Opener, timing: StreamTiming, shared: &Shared) {
    let mut backoff = Backoff::new(timing.backoff_first, timing.backoff_max);
    loop {
        shared.set_status(|s| {
            s.phase = StreamPhase::Connecting;
            s.since_ms = now_ms();
            s.attempt = backoff.attempt() + 1;
        });
        let problem = match tokio::time::timeout(timing.open_timeout, opener.open(source)).await {
            Err(_) => StreamProblem::Unreachable,
            Ok(Err(p)) => p,
            Ok(Ok(mut items)) => loop {
                let item = match tokio::time::timeout(timing.stall_after, items.next()).await {
                    Err(_) => break StreamProblem::Stalled,
                    Ok(None) => break StreamProblem::Ended,
                    Ok(Some(Err(p))) => break p,
                    Ok(Some(Ok(item))) => item,
                };
                match item {
                    Item::Params(p) => {
                        shared.set_status(|s| {
                            s.codec = Some(p.codec.clone());
                            s.width = Some(p.width);
                            s.height = Some(p.height);
                        });
                        shared.publish(Live::Params(Arc::new(p)));
                    }
                    Item::Frame(f) => {
                        if shared.status.borrow().phase != StreamPhase::Live {
                            backoff.reset();
                            shared.set_status(|s| {
                                s.phase = StreamPhase::Live;
                                s.problem = None;
                                s.since_ms = now_ms();
                                s.attempt = 0;
                            });
                            tracing::info!(stream = %id, "live");
                        }
                        shared.publish(Live::Frame(Arc::new(f)));
                    }
                }
            },
        };
        // What was seen stays remembered; a new viewer waits for the next key frame.
        shared.memory().interrupt();
        let delay = backoff.next_delay();
        tracing::info!(stream = %id, %problem, retry_in_ms = delay.as_millis() as u64, "stream down");
        shared.set_status(|s| {
            s.phase = StreamPhase::Failed;
            s.problem = Some(problem);
            s.since_ms = now_ms();
        });
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::video::{Items, Transport};
    use bytes::Bytes;
    use futures_util::future::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Opens scripted sessions: each attempt takes the next script from the list, or fails
    /// with `Unreachable` when the list is exhausted.
    struct Scripted {
        sessions: Mutex<Vec<Result<Vec<Item>, StreamProblem>>>,
        opened: AtomicUsize,
        after: After,
    }

    /// What a scripted session does after its items.
    #[derive(Clone, Copy)]
    enum After {
        /// Stays open and silent (a frozen camera).
        Silent,
        /// Sends a frame every second (a live camera).
        Ticking,
    }

    impl Opener for Scripted {
        fn open(&self, _: &StreamSource) -> BoxFuture<'static, Result<Items, StreamProblem>> {
            self.opened.fetch_add(1, Ordering::SeqCst);
            let next = {
                let mut s = self.sessions.lock().unwrap();
                if s.is_empty() { Err(StreamProblem::Unreachable) } else { s.remove(0) }
            };
            let after = self.after;
            Box::pin(async move {
                let items = futures_util::stream::iter(next?.into_iter().map(Ok));
                Ok(match after {
                    After::Silent => items.chain(futures_util::stream::pending()).boxed(),
                    After::Ticking => items
                        .chain(futures_util::stream::unfold(1, |n| async move {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            Some((Ok(frame(false, n * 90_000)), n + 1))
                        }))
                        .boxed(),
                })
            })
        }
    }

    fn source() -> StreamSource {
        StreamSource {
            url: Secret::new("rtsp://cam.example/main".parse().unwrap()),
            credentials: None,
            transport: Transport::Tcp,
        }
    }

    fn params() -> Item {
        Item::Params(VideoParams::new("avc1.42c01e".into(), 320, 240, Bytes::from_static(b"\0\0\0\x08avc1")))
    }

    fn frame(key: bool, ts: i64) -> Item {
        let wall_ms = u64::try_from(ts / 90).unwrap_or(0);
        Item::Frame(Frame { data: Bytes::from_static(b"\0\0\0\x01\x65"), key, timestamp: ts, wall_ms })
    }

    fn streams(sessions: Vec<Result<Vec<Item>, StreamProblem>>, after: After) -> (Streams, Arc<Scripted>) {
        let opener =
            Arc::new(Scripted { sessions: Mutex::new(sessions), opened: AtomicUsize::new(0), after });
        (Streams::new(opener.clone(), StreamTiming::default()), opener)
    }

    async fn wait_for(rx: &mut watch::Receiver<StreamStatus>, phase: StreamPhase) -> StreamStatus {
        rx.wait_for(|s| s.phase == phase).await.unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_viewer_starts_from_the_cached_key_frame() {
        let items =
            vec![params(), frame(false, 0), frame(true, 3000), frame(false, 6000), frame(false, 9000)];
        let (streams, opener) = streams(vec![Ok(items)], After::Silent);
        let first = streams.watch("hq/cam-1/main", source);
        let mut status = first.handle().status();
        let live = wait_for(&mut status, StreamPhase::Live).await;
        assert_eq!(live.codec.as_deref(), Some("avc1.42c01e"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A second viewer shares the worker and gets the GOP from its key frame at once.
        let second = streams.watch("hq/cam-1/main", || unreachable!("the worker is running"));
        let sub = second.handle().subscribe();
        assert!(sub.params.is_some());
        let times: Vec<i64> = sub.cached.iter().map(|f| f.timestamp).collect();
        assert_eq!(times, [3000, 6000, 9000]);
        assert!(sub.cached[0].key);
        assert_eq!(opener.opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_reported_and_retried_until_live() {
        let sessions = vec![Err(StreamProblem::Unauthorized), Ok(vec![params(), frame(true, 0)])];
        let (streams, opener) = streams(sessions, After::Ticking);
        let viewer = streams.watch("hq/cam-1/main", source);
        let mut status = viewer.handle().status();
        let failed = wait_for(&mut status, StreamPhase::Failed).await;
        assert_eq!(failed.problem, Some(StreamProblem::Unauthorized));
        let live = wait_for(&mut status, StreamPhase::Live).await;
        assert_eq!(live.problem, None);
        assert_eq!(opener.opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_camera_is_stalled_and_reopened() {
        let sessions = vec![Ok(vec![params(), frame(true, 0)]), Ok(vec![params(), frame(true, 0)])];
        let (streams, opener) = streams(sessions, After::Silent);
        let viewer = streams.watch("hq/cam-1/main", source);
        let mut status = viewer.handle().status();
        wait_for(&mut status, StreamPhase::Live).await;
        let failed = wait_for(&mut status, StreamPhase::Failed).await;
        assert_eq!(failed.problem, Some(StreamProblem::Stalled));
        // The cached GOP of a dead session is not offered to new viewers as live, but it is
        // still remembered.
        assert!(viewer.handle().subscribe().cached.is_empty());
        assert_eq!(viewer.handle().recall(0).cached.len(), 1);
        wait_for(&mut status, StreamPhase::Live).await;
        assert_eq!(opener.opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_nobody_watches_closes_after_the_idle_time() {
        let (streams, _) = streams(vec![Ok(vec![params(), frame(true, 0)])], After::Ticking);
        let viewer = streams.watch("hq/cam-1/main", source);
        let mut status = viewer.handle().status();
        wait_for(&mut status, StreamPhase::Live).await;
        drop(viewer);
        assert_eq!(streams.running(), ["hq/cam-1/main"]);
        tokio::time::sleep(StreamTiming::default().idle_close + Duration::from_secs(1)).await;
        assert!(streams.running().is_empty());
        wait_for(&mut status, StreamPhase::Closed).await;
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_idle_budget_the_stream_idle_longest_closes_at_once() {
        let sessions = (0..4).map(|_| Ok(vec![params(), frame(true, 0)])).collect();
        let opener = Arc::new(Scripted {
            sessions: Mutex::new(sessions),
            opened: AtomicUsize::new(0),
            after: After::Ticking,
        });
        let streams = Streams::new(opener, StreamTiming { max_idle: 2, ..StreamTiming::default() });
        let viewers: Vec<Viewer> = (0..4).map(|i| streams.watch(&format!("cam-{i}"), source)).collect();
        for v in &viewers {
            wait_for(&mut v.handle().status(), StreamPhase::Live).await;
        }
        for v in viewers {
            drop(v);
            // Distinct idle times, oldest first.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut running = streams.running();
        running.sort();
        assert_eq!(running, ["cam-2", "cam-3"], "the two idle longest closed at once");
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_time_counts_from_the_last_viewer_leaving() {
        let (streams, opener) = streams(vec![Ok(vec![params(), frame(true, 0)])], After::Ticking);
        let idle = StreamTiming::default().idle_close;
        let viewer = streams.watch("hq/cam-1/main", source);
        wait_for(&mut viewer.handle().status(), StreamPhase::Live).await;
        drop(viewer);
        // Back shortly before the idle time ends, and gone again at once.
        tokio::time::sleep(idle - Duration::from_secs(2)).await;
        drop(streams.watch("hq/cam-1/main", || unreachable!("still running")));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(streams.running(), ["hq/cam-1/main"], "closed by the first leaving's timer");
        tokio::time::sleep(idle).await;
        assert!(streams.running().is_empty());
        assert_eq!(opener.opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cloned_viewer_keeps_the_stream_open_until_it_is_dropped_too() {
        let (streams, _) = streams(vec![Ok(vec![params(), frame(true, 0)])], After::Ticking);
        let viewer = streams.watch("hq/cam-1/main", source);
        let mut status = viewer.handle().status();
        wait_for(&mut status, StreamPhase::Live).await;
        let held = viewer.clone();
        drop(viewer);
        tokio::time::sleep(StreamTiming::default().idle_close * 2).await;
        assert_eq!(streams.running(), ["hq/cam-1/main"]);
        assert_eq!(status.borrow().phase, StreamPhase::Live);
        drop(held);
        tokio::time::sleep(StreamTiming::default().idle_close + Duration::from_secs(1)).await;
        assert!(streams.running().is_empty());
    }

    /// Sixteen cameras watched for an hour: 30 kB frames at 5 fps with a 2 s GOP (about
    /// 1.2 Mbit/s each) against a 16 MB budget. Memory fills up to the budget and stays
    /// there; every camera keeps its current GOP and the newest seconds it can.
    #[tokio::test(start_paused = true)]
    async fn sixteen_cameras_for_hours_stay_within_the_memory_budget() {
        struct Camera;
        impl Opener for Camera {
            fn open(&self, _: &StreamSource) -> BoxFuture<'static, Result<Items, StreamProblem>> {
                let frames = futures_util::stream::unfold(0i64, |n| async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let ts = n * 18_000;
                    let data = Bytes::from(vec![0; 30_000]);
                    let wall_ms = u64::try_from(ts / 90).unwrap_or(0);
                    Some((Ok(Item::Frame(Frame { data, key: n % 10 == 0, timestamp: ts, wall_ms })), n + 1))
                });
                Box::pin(async move { Ok(futures_util::stream::iter([Ok(params())]).chain(frames).boxed()) })
            }
        }
        let limits = MemoryLimits { length: Duration::from_secs(60), budget_bytes: 16 << 20 };
        let streams = Streams::with_memory(Arc::new(Camera), StreamTiming::default(), limits);
        let viewers: Vec<Viewer> = (0..16).map(|i| streams.watch(&format!("cam-{i}"), source)).collect();
        // Each camera's current GOP (at most 10 frames) may come on top of the budget.
        let bound = limits.budget_bytes + 16 * 10 * 30_000;
        let mut peak_later = 0;
        for minute in 1..=60 {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let used = streams.memory_used();
            assert!(used <= bound, "minute {minute}: {used} bytes");
            if minute > 30 {
                peak_later = peak_later.max(used);
            }
        }
        assert!(peak_later >= limits.budget_bytes * 9 / 10, "the budget is used: {peak_later}");
        for v in &viewers {
            let (oldest, newest) = v.handle().remembered().unwrap();
            assert!(newest - oldest >= 2_000, "{}: at least a GOP remembered", v.handle().id());
            assert!(!v.handle().subscribe().cached.is_empty());
        }
        drop(viewers);
        tokio::time::sleep(StreamTiming::default().idle_close * 2).await;
        assert_eq!(streams.memory_used(), 0, "closed streams give their memory back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_viewer_returning_within_the_idle_time_keeps_the_session() {
        let (streams, opener) = streams(vec![Ok(vec![params(), frame(true, 0)])], After::Ticking);
        let viewer = streams.watch("hq/cam-1/main", source);
        wait_for(&mut viewer.handle().status(), StreamPhase::Live).await;
        drop(viewer);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let again = streams.watch("hq/cam-1/main", || unreachable!("still running"));
        tokio::time::sleep(StreamTiming::default().idle_close * 2).await;
        assert_eq!(again.handle().status().borrow().phase, StreamPhase::Live);
        assert_eq!(opener.opened.load(Ordering::SeqCst), 1);
    }
}
