//! Clips: a camera's remembered seconds and what follows, saved as a standard MP4 file
//! (`ftyp`, `mdat`, then `moov` with the sample tables) that common players open. The
//! file starts at a key frame. Saved clips are kept in one folder, each beside a small JSON
//! description (no URL, no credential: ids and the camera's name), listed and deleted by
//! id.

use super::fmp4::{
    self, DEFAULT_DURATION, Fmp4Error, MAX_DURATION, MAX_FRAME_BYTES, SampleTables, TIMESCALE,
};
use super::stream::{Live, StreamHandle};
use super::{Frame, VideoParams};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use ts_rs::TS;

/// Longest clip: what follows the remembered seconds stops here if nobody stops it.
pub const MAX_CLIP: Duration = Duration::from_secs(10 * 60);
/// Most bytes of video in one clip.
pub const MAX_CLIP_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("the camera sent no video to save")]
    NoVideo,
    #[error("the camera's video cannot be saved as MP4: {0}")]
    Format(#[from] Fmp4Error),
    #[error("the clip cannot be written: {0}")]
    Io(#[from] std::io::Error),
    #[error("there is no such clip")]
    NotFound,
    #[error("{0} clips are being recorded already: stop one first")]
    Busy(usize),
}

/// Whose clip it is, for its description.
#[derive(Clone, Debug)]
pub struct ClipSubject {
    pub site_id: String,
    pub camera_id: String,
    pub camera_name: String,
}

/// A saved clip, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClipInfo {
    pub id: String,
    pub site_id: String,
    pub camera_id: String,
    pub camera_name: String,
    /// Wall-clock time of the first frame, milliseconds since the Unix epoch.
    #[ts(type = "number")]
    pub start_ms: u64,
    #[ts(type = "number")]
    pub duration_ms: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    pub frames: u32,
    pub codec: String,
    pub width: u32,
    pub height: u32,
}

/// What a finished file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub frames: u32,
    /// Sum of the frames' durations.
    pub duration_ms: u64,
    pub start_ms: u64,
    /// The file's size.
    pub bytes: u64,
}

/// Writes one MP4 file frame by frame: the media goes straight to `out`, the tables stay
/// in memory (12 bytes a frame) until [`ClipWriter::finish`].
pub struct ClipWriter<W: Write + Seek> {
    out: W,
    params: Arc<VideoParams>,
    mdat_at: u64,
    media_bytes: u64,
    sizes: Vec<u32>,
    durations: Vec<u32>,
    keys: Vec<u32>,
    last_timestamp: i64,
    start_ms: u64,
}

impl<W: Write + Seek> ClipWriter<W> {
    pub fn new(mut out: W, params: Arc<VideoParams>) -> Result<Self, ClipError> {
        let header = fmp4::file_header(&params)?;
        out.write_all(&header)?;
        let mdat_at = header.len() as u64;
        // A 64-bit `mdat`: its size is set when the clip is finished.
        out.write_all(&[0, 0, 0, 1])?;
        out.write_all(b"mdat")?;
        out.write_all(&[0; 8])?;
        Ok(ClipWriter {
            out,
            params,
            mdat_at,
            media_bytes: 0,
            sizes: Vec::new(),
            durations: Vec::new(),
            keys: Vec::new(),
            last_timestamp: 0,
            start_ms: 0,
        })
    }

    pub fn params(&self) -> &Arc<VideoParams> {
        &self.params
    }

    /// Frames written so far.
    pub fn frames(&self) -> u32 {
        self.sizes.len() as u32
    }

    pub fn media_bytes(&self) -> u64 {
        self.media_bytes
    }

    /// Adds a frame. The file starts at a key frame: frames before the first one are
    /// skipped.
    pub fn push(&mut self, frame: &Frame) -> Result<(), ClipError> {
        if self.sizes.is_empty() && !frame.key {
            return Ok(());
        }
        if frame.data.is_empty() {
            return Err(Fmp4Error::EmptyFrame.into());
        }
        if frame.data.len() > MAX_FRAME_BYTES {
            return Err(Fmp4Error::FrameTooLarge(frame.data.len()).into());
        }
        if self.sizes.is_empty() {
            self.start_ms = frame.wall_ms;
        } else {
            // The previous frame lasts until this one; a jump (a reconnect) is not a length.
            let since = frame.timestamp.checked_sub(self.last_timestamp).and_then(|d| u32::try_from(d).ok());
            self.durations
                .push(since.filter(|&d| d > 0 && d <= MAX_DURATION).unwrap_or_else(|| self.typical()));
        }
        self.out.write_all(&frame.data)?;
        self.media_bytes += frame.data.len() as u64;
        self.sizes.push(frame.data.len() as u32);
        if frame.key {
            self.keys.push(self.sizes.len() as u32);
        }
        self.last_timestamp = frame.timestamp;
        Ok(())
    }

    /// The last frame length known, standing in where one is not.
    fn typical(&self) -> u32 {
        self.durations.last().copied().unwrap_or(DEFAULT_DURATION)
    }

    /// Writes the tables; the file is complete.
    pub fn finish(mut self) -> Result<(W, Written), ClipError> {
        if self.sizes.is_empty() {
            return Err(ClipError::NoVideo);
        }
        self.durations.push(self.typical());
        let end = self.mdat_at + 16 + self.media_bytes;
        self.out.seek(SeekFrom::Start(self.mdat_at + 8))?;
        self.out.write_all(&(16 + self.media_bytes).to_be_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        let tables = SampleTables {
            durations: &self.durations,
            sizes: &self.sizes,
            keys: &self.keys,
            chunk_offset: self.mdat_at + 16,
        };
        let moov = fmp4::file_moov(&self.params, &tables)?;
        self.out.write_all(&moov)?;
        self.out.flush()?;
        let ticks: u64 = self.durations.iter().map(|&d| u64::from(d)).sum();
        let written = Written {
            frames: self.sizes.len() as u32,
            duration_ms: ticks * 1000 / u64::from(TIMESCALE),
            start_ms: self.start_ms,
            bytes: end + moov.len() as u64,
        };
        Ok((self.out, written))
    }
}

/// Records a stream to `path`: from the key frame at or before `from_ms` (wall clock;
/// `None`: the current GOP's), then live until the clip is `length` long, `stop` resolves,
/// the encoding changes, or it reaches [`MAX_CLIP_BYTES`]. Written to a temporary name and
/// renamed when complete, so a listed clip is always whole.
pub async fn record(
    handle: &StreamHandle,
    from_ms: Option<u64>,
    length: Duration,
    stop: impl Future<Output = ()>,
    path: &Path,
) -> Result<Written, ClipError> {
    record_clip(handle, from_ms, length, stop, path).await.map(|(written, _)| written)
}

/// [`record`], answering also the parameters the file was written with.
async fn record_clip(
    handle: &StreamHandle,
    from_ms: Option<u64>,
    length: Duration,
    stop: impl Future<Output = ()>,
    path: &Path,
) -> Result<(Written, Arc<VideoParams>), ClipError> {
    let length_ms = u64::try_from(length.as_millis()).unwrap_or(u64::MAX);
    let mut sub = match from_ms {
        Some(t) => handle.recall(t),
        None => handle.subscribe(),
    };
    let part = path.with_extension("part");
    let result = async {
        let mut writer: Option<ClipWriter<std::io::BufWriter<std::fs::File>>> = None;
        let mut params = sub.params.take();
        let cached = std::mem::take(&mut sub.cached);
        let mut need_key = false;
        tokio::pin!(stop);
        // What is remembered, then what comes.
        let mut pending = cached.into_iter();
        loop {
            let live = match pending.next() {
                Some(f) => Ok(Live::Frame(f)),
                None => tokio::select! {
                    () = &mut stop => break,
                    live = sub.live.recv() => live,
                },
            };
            let frame = match live {
                Ok(Live::Frame(f)) => f,
                Ok(Live::Params(p)) => {
                    if writer.as_ref().is_some_and(|w| **w.params() != *p) {
                        break; // a new encoding cannot go on in this file
                    }
                    params = Some(p);
                    continue;
                }
                Err(RecvError::Lagged(_)) => {
                    // Frames were lost: go on from the next key frame.
                    need_key = true;
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            if writer.as_ref().is_some_and(|w| frame.wall_ms >= w.start_ms.saturating_add(length_ms)) {
                break;
            }
            if need_key && !frame.key {
                continue;
            }
            need_key = false;
            let w = match (&mut writer, &params) {
                (Some(w), _) => w,
                (None, Some(p)) if frame.key => {
                    let file =
                        crate::dirs::private_options().write(true).create(true).truncate(true).open(&part)?;
                    writer.insert(ClipWriter::new(std::io::BufWriter::new(file), p.clone())?)
                }
                (None, _) => continue,
            };
            w.push(&frame)?;
            if w.media_bytes() >= MAX_CLIP_BYTES {
                break;
            }
        }
        let writer = writer.ok_or(ClipError::NoVideo)?;
        let params = writer.params().clone();
        let (file, written) = writer.finish()?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&part, path)?;
        Ok((written, params))
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Where clips are saved: `$MIMAMORI_CLIPS_DIR`, else `$XDG_DATA_HOME/mimamori/clips`, else
/// `~/.local/share/mimamori/clips`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MIMAMORI_CLIPS_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".local/share")
    });
    base.join("mimamori").join("clips")
}

/// The folder of saved clips.
#[derive(Clone, Debug)]
pub struct ClipLibrary {
    dir: PathBuf,
}

/// A description larger than this is not one of ours.
const MAX_DESCRIPTION_BYTES: u64 = 64 << 10;

impl ClipLibrary {
    pub fn new(dir: PathBuf) -> Self {
        ClipLibrary { dir }
    }

    /// A new clip's id: its start time and a random part, so ids sort by time.
    pub fn new_id(from_ms: u64) -> String {
        format!("{from_ms:013}-{:08x}", fastrand::u32(..))
    }

    /// Where the clip `id`'s video goes (the folder is made if missing).
    pub fn video_path(&self, id: &str) -> Result<PathBuf, ClipError> {
        check_id(id)?;
        crate::dirs::private_dir(&self.dir)?;
        Ok(self.dir.join(format!("{id}.mp4")))
    }

    /// Records a clip (see [`record`]) and keeps it with its description.
    pub async fn save(
        &self,
        id: &str,
        subject: ClipSubject,
        handle: &StreamHandle,
        from_ms: Option<u64>,
        length: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<ClipInfo, ClipError> {
        let path = self.video_path(id)?;
        // What the file holds: the parameters it was written with, not the stream's now.
        let (written, params) = record_clip(handle, from_ms, length, stop, &path).await?;
        let info = ClipInfo {
            id: id.to_owned(),
            site_id: subject.site_id,
            camera_id: subject.camera_id,
            camera_name: subject.camera_name,
            start_ms: written.start_ms,
            duration_ms: written.duration_ms,
            bytes: written.bytes,
            frames: written.frames,
            codec: params.codec.clone(),
            width: params.width,
            height: params.height,
        };
        let json = serde_json::to_vec_pretty(&info).map_err(std::io::Error::other)?;
        crate::dirs::write_private(&self.dir.join(format!("{id}.json")), &json)?;
        Ok(info)
    }

    /// The saved clips, newest first. Files that are not whole clips are left out.
    pub fn list(&self) -> Result<Vec<ClipInfo>, ClipError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut clips: Vec<ClipInfo> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| read_description(&e.path()))
            .filter(|c| self.dir.join(format!("{}.mp4", c.id)).is_file())
            .collect();
        clips.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(clips)
    }

    /// Deletes a clip: its video and its description. Answers the description, when it
    /// could be read (for the audit log).
    pub fn delete(&self, id: &str) -> Result<Option<ClipInfo>, ClipError> {
        check_id(id)?;
        let video = self.dir.join(format!("{id}.mp4"));
        if !video.is_file() {
            return Err(ClipError::NotFound);
        }
        let description = self.dir.join(format!("{id}.json"));
        let info = read_description(&description);
        std::fs::remove_file(video)?;
        match std::fs::remove_file(description) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(info),
        }
    }
}

/// A clip's description, if it is one of ours: small, well formed, with a valid id.
fn read_description(path: &Path) -> Option<ClipInfo> {
    if std::fs::metadata(path).ok()?.len() > MAX_DESCRIPTION_BYTES {
        return None;
    }
    let info: ClipInfo = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    check_id(&info.id).is_ok().then_some(info)
}

/// Clip ids are digits, a dash and hex: nothing else may reach a file name.
fn check_id(id: &str) -> Result<(), ClipError> {
    let ok = !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if ok { Ok(()) } else { Err(ClipError::NotFound) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::io::Cursor;

    fn params() -> Arc<VideoParams> {
        let mut entry = vec![0, 0, 0, 16];
        entry.extend_from_slice(b"avc1");
        entry.extend_from_slice(&[0; 8]);
        Arc::new(VideoParams::new("avc1.42c01e".into(), 320, 240, Bytes::from(entry)))
    }

    fn frame(key: bool, timestamp: i64, len: usize) -> Frame {
        Frame { data: Bytes::from(vec![9; len]), key, timestamp, wall_ms: 1_000 + timestamp as u64 / 90 }
    }

    /// The top-level boxes: (type, size), a 64-bit size read where the box has one.
    fn boxes(b: &[u8]) -> Vec<(String, u64)> {
        let mut out = vec![];
        let mut at = 0;
        while at + 8 <= b.len() {
            let mut size = u64::from(u32::from_be_bytes(b[at..at + 4].try_into().unwrap()));
            if size == 1 {
                size = u64::from_be_bytes(b[at + 8..at + 16].try_into().unwrap());
            }
            out.push((String::from_utf8_lossy(&b[at + 4..at + 8]).into_owned(), size));
            at += size as usize;
        }
        assert_eq!(at, b.len(), "the boxes fill the file exactly");
        out
    }

    /// A table's entries, each `width` numbers.
    fn table(file: &[u8], name: &[u8; 4], width: usize) -> Vec<u32> {
        let at = file.windows(4).rposition(|w| w == name).unwrap() + 8;
        let count = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize * width;
        (0..count)
            .map(|i| u32::from_be_bytes(file[at + 4 + i * 4..at + 8 + i * 4].try_into().unwrap()))
            .collect()
    }

    #[test]
    fn a_clip_is_ftyp_mdat_moov_starting_at_a_key_frame() {
        let mut w = ClipWriter::new(Cursor::new(Vec::new()), params()).unwrap();
        w.push(&frame(false, 0, 5)).unwrap(); // before a key frame: not decodable
        w.push(&frame(true, 3_000, 100)).unwrap();
        w.push(&frame(false, 6_000, 10)).unwrap();
        w.push(&frame(false, 9_000, 10)).unwrap();
        w.push(&frame(true, 12_000, 100)).unwrap();
        let (out, written) = w.finish().unwrap();
        let file = out.into_inner();
        let top = boxes(&file);
        assert_eq!(top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(), ["ftyp", "mdat", "moov"]);
        assert_eq!(top[1].1, 16 + 220);
        assert_eq!(
            written,
            Written { frames: 4, duration_ms: 133, start_ms: 1_033, bytes: file.len() as u64 }
        );
        assert_eq!(table(&file, b"stss", 1), [1, 4]);
        assert_eq!(table(&file, b"stts", 2), [4, 3_000]);
        // The one chunk starts right after the mdat header, on the first key frame's bytes.
        let co64 = file.windows(4).position(|w| w == b"co64").unwrap() + 12;
        let offset = u64::from_be_bytes(file[co64..co64 + 8].try_into().unwrap()) as usize;
        assert_eq!(offset, top[0].1 as usize + 16);
        assert_eq!(&file[offset..offset + 100], &[9; 100]);
    }

    #[test]
    fn a_jump_in_time_is_not_a_frame_length() {
        let mut w = ClipWriter::new(Cursor::new(Vec::new()), params()).unwrap();
        w.push(&frame(true, 0, 10)).unwrap();
        w.push(&frame(false, 3_000, 10)).unwrap();
        w.push(&frame(true, 1_000, 10)).unwrap(); // a reconnect: the clock restarted
        w.push(&frame(false, 900_000_000, 10)).unwrap(); // a camera clock jump
        let (out, _) = w.finish().unwrap();
        assert_eq!(table(&out.into_inner(), b"stts", 2), [4, 3_000]);
    }

    #[test]
    fn nothing_to_save_and_bad_frames_are_errors() {
        let w = ClipWriter::new(Cursor::new(Vec::new()), params()).unwrap();
        assert!(matches!(w.finish(), Err(ClipError::NoVideo)));
        let mut w = ClipWriter::new(Cursor::new(Vec::new()), params()).unwrap();
        assert!(matches!(w.push(&frame(true, 0, 0)), Err(ClipError::Format(Fmp4Error::EmptyFrame))));
        let mut bad = (*params()).clone();
        bad.width = 0;
        assert!(matches!(ClipWriter::new(Cursor::new(Vec::new()), Arc::new(bad)), Err(ClipError::Format(_))));
    }

    #[test]
    fn only_well_formed_ids_reach_a_file_name() {
        for bad in ["", "../x", "a/b", "clip.mp4", "x y", &"a".repeat(41)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        assert!(check_id(&ClipLibrary::new_id(1_790_000_000_000)).is_ok());
    }

    #[test]
    fn the_library_lists_whole_clips_newest_first_and_deletes() {
        let dir = std::env::temp_dir().join(format!("mimamori-clips-{}", fastrand::u64(..)));
        let lib = ClipLibrary::new(dir.clone());
        assert!(lib.list().unwrap().is_empty(), "no folder yet: no clips");
        let info = |id: &str| ClipInfo {
            id: id.into(),
            site_id: "hq".into(),
            camera_id: "gate".into(),
            camera_name: "Gate".into(),
            start_ms: 1,
            duration_ms: 2,
            bytes: 3,
            frames: 4,
            codec: "avc1.42c01e".into(),
            width: 320,
            height: 240,
        };
        for id in ["0000000000001-0000000a", "0000000000002-0000000b"] {
            std::fs::write(lib.video_path(id).unwrap(), b"video").unwrap();
            std::fs::write(dir.join(format!("{id}.json")), serde_json::to_vec(&info(id)).unwrap()).unwrap();
        }
        // Not clips: a description without its video, garbage, a half-written video.
        std::fs::write(
            dir.join("0000000000003-0000000c.json"),
            serde_json::to_vec(&info("0000000000003-0000000c")).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("junk.json"), b"{not json").unwrap();
        std::fs::write(dir.join("0000000000004-0000000d.part"), b"half").unwrap();
        let ids: Vec<String> = lib.list().unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["0000000000002-0000000b", "0000000000001-0000000a"]);
        assert_eq!(
            lib.delete("0000000000002-0000000b").unwrap().map(|c| c.id),
            Some("0000000000002-0000000b".into())
        );
        assert_eq!(lib.list().unwrap().len(), 1);
        assert!(matches!(lib.delete("0000000000002-0000000b"), Err(ClipError::NotFound)));
        assert!(matches!(lib.delete("../etc/passwd"), Err(ClipError::NotFound)));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
