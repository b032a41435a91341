//! Live video to the web view: each open player is a task that turns a camera's
//! [`Mp4Feed`] into binary messages on a Tauri channel, with the stream's state in
//! between. The web view names cameras by id; URLs and credentials never cross.
//!
//! Message layout (the web view's `player.js` reads it; `docs/video.md` explains it):
//! byte 0 kind (1 init, 2 media, 3 status), byte 1 flags (bit 0 key frame, bit 1 live),
//! bytes 2..10 wall-clock time in ms, bytes 10..18 the media time of that moment in
//! 90 kHz ticks (both big-endian; for media, the last frame's), then for init a 16-bit
//! MIME length and the MIME type before the init segment, for media one or more fragments,
//! for status its JSON. Fragments that are ready together (the cached GOP of a new player, or frames
//! that queued while the web view was busy) go as one message: each channel message costs
//! the web view a round trip.

use mimamori_core::time::now_ms;
use mimamori_core::video::{Mp4Feed, Segment, StreamStatus, Viewer};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use tauri::ipc::{Channel, InvokeResponseBody};

pub const INIT: u8 = 1;
pub const MEDIA: u8 = 2;
pub const STATUS: u8 = 3;

/// Bytes before a message's body.
const HEADER: usize = 18;

fn header(kind: u8, flags: u8, time_ms: u64, media_time: u64, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + capacity);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&time_ms.to_be_bytes());
    out.extend_from_slice(&media_time.to_be_bytes());
    out
}

/// Most bytes of fragments batched into one message.
const MAX_BATCH: usize = 4 << 20;

/// One feed segment as a channel message, with the media segments that are ready right
/// behind it appended (they must follow an init segment in their own message, since a
/// message has one kind). Returns the message and the segment that ended the batch.
pub fn encode_batch(first: Segment, feed: &mut Mp4Feed) -> (Vec<u8>, Option<Segment>) {
    match first {
        Segment::Init { data, mime, .. } => {
            let mut out = header(INIT, 0, now_ms(), 0, 2 + mime.len() + data.len());
            out.extend_from_slice(&(mime.len() as u16).to_be_bytes());
            out.extend_from_slice(mime.as_bytes());
            out.extend_from_slice(&data);
            (out, None)
        }
        Segment::Media { data, key, live, time_ms, decode_time } => {
            let flags = u8::from(key) | (u8::from(live) << 1);
            let mut out = header(MEDIA, flags, time_ms, decode_time, data.len());
            out.extend_from_slice(&data);
            let mut last = (live, time_ms, decode_time);
            while out.len() < MAX_BATCH {
                match feed.try_next() {
                    Some(Segment::Media { data, live, time_ms, decode_time, .. }) => {
                        out.extend_from_slice(&data);
                        last = (live, time_ms, decode_time);
                    }
                    other => {
                        finish(&mut out, last);
                        return (out, other);
                    }
                }
            }
            finish(&mut out, last);
            (out, None)
        }
    }
}

/// A batch is live if its last frame is, and carries that frame's times.
fn finish(out: &mut [u8], (live, time_ms, media_time): (bool, u64, u64)) {
    out[1] = (out[1] & 1) | (u8::from(live) << 1);
    out[2..10].copy_from_slice(&time_ms.to_be_bytes());
    out[10..HEADER].copy_from_slice(&media_time.to_be_bytes());
}

pub fn encode_status(status: &StreamStatus) -> Vec<u8> {
    let json = serde_json::to_vec(status).unwrap_or_default();
    let mut out = header(STATUS, 0, status.since_ms, 0, json.len());
    out.extend_from_slice(&json);
    out
}

/// Most suspended players kept at once: beyond it, the one suspended longest is closed.
const MAX_SUSPENDED: usize = 32;

/// A player: its task sending to the web view (none while suspended), and its hold on the
/// stream, which keeps the stream open while the task is suspended.
struct Player {
    task: Option<tauri::async_runtime::JoinHandle<()>>,
    _viewer: Viewer,
    suspended_at: u64,
}

/// The players the web view has open, by id.
#[derive(Default)]
pub struct Players {
    next: AtomicU32,
    running: Mutex<HashMap<u32, Player>>,
}

impl Players {
    /// Starts sending `viewer`'s stream to `channel`: live, or from memory at `from_ms`
    /// (wall clock) on. The player ends when closed or when the web view stops listening.
    pub fn start(&self, viewer: Viewer, channel: Channel<InvokeResponseBody>, from_ms: Option<u64>) -> u32 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let hold = viewer.clone();
        let task = tauri::async_runtime::spawn(async move {
            let start = match from_ms {
                Some(t) => viewer.handle().recall(t),
                None => viewer.handle().subscribe(),
            };
            let mut feed = Mp4Feed::new(start);
            let mut status = viewer.handle().status();
            let send = |bytes: Vec<u8>| channel.send(InvokeResponseBody::Raw(bytes)).is_ok();
            if !send(encode_status(&status.borrow_and_update())) {
                return;
            }
            let mut carried: Option<Segment> = None;
            loop {
                let segment = match carried.take() {
                    Some(s) => s,
                    None => tokio::select! {
                        segment = feed.next() => match segment {
                            Some(s) => s,
                            None => return,
                        },
                        changed = status.changed() => {
                            if changed.is_err() || !send(encode_status(&status.borrow_and_update())) {
                                return;
                            }
                            continue;
                        }
                    },
                };
                let (message, rest) = encode_batch(segment, &mut feed);
                carried = rest;
                if !send(message) {
                    return;
                }
            }
        });
        let player = Player { task: Some(task), _viewer: hold, suspended_at: 0 };
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        // Players whose web view stopped listening (a reload) ended by themselves: let go
        // of their streams.
        running.retain(|_, p| p.task.as_ref().is_none_or(|t| !t.inner().is_finished()));
        running.insert(id, player);
        id
    }

    /// Stops sending a player's stream (the web view hides it) but keeps the stream open,
    /// so that showing it again starts from the cached key frame of a live session.
    pub fn suspend(&self, id: u32) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let Some(player) = running.get_mut(&id) else { return false };
        if let Some(task) = player.task.take() {
            task.abort();
            player.suspended_at = now_ms();
        }
        let suspended = running.values().filter(|p| p.task.is_none()).count();
        if suspended > MAX_SUSPENDED {
            let oldest = running.iter().filter(|(_, p)| p.task.is_none()).min_by_key(|(_, p)| p.suspended_at);
            if let Some(&oldest) = oldest.map(|(id, _)| id) {
                running.remove(&oldest);
            }
        }
        true
    }

    /// Stops a player; its stream closes after the idle time if nobody else watches.
    pub fn stop(&self, id: u32) -> bool {
        let player = self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        if let Some(task) = player.as_ref().and_then(|p| p.task.as_ref()) {
            task.abort();
        }
        player.is_some()
    }
}
