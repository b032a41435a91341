//! Fragmented MP4 for Media Source Extensions: one init segment per set of stream
//! parameters and one `moof`+`mdat` fragment per frame, so a player can start at any key
//! frame and no frame waits for the next one. See `docs/video.md`.
//!
//! Browser quirks this layout answers:
//! - `ftyp` lists `iso5`/`iso6` (fragment features) and `mp41`; WebKit and Safari refuse
//!   some init segments without a compatible brand they know.
//! - `tfdt` is version 1 (64-bit) and present in every fragment, and the `tfhd` uses
//!   default-base-is-moof, so every fragment places itself on the timeline on its own
//!   (Chromium otherwise accumulates durations, and a dropped fragment shifts time).
//! - Every sample carries an explicit duration: a zero duration makes WebKit stall.
//! - Cameras do not send B-frames on live streams; samples are in presentation order and
//!   need no `ctts`/composition offsets.

use super::{Frame, VideoParams};

/// Timescale of every track: RTP's 90 kHz video clock, so timestamps need no conversion.
pub const TIMESCALE: u32 = 90_000;

/// Frame length assumed before a stream's frame rate is known (1/15 s at 90 kHz).
pub(crate) const DEFAULT_DURATION: u32 = 6_000;
/// Longest frame duration believed; a longer gap (a reconnect) is not a frame's length.
pub(crate) const MAX_DURATION: u32 = 90_000;

/// Largest frame accepted, as a bound on what one fragment may allocate.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Fmp4Error {
    #[error("frame is empty")]
    EmptyFrame,
    #[error("frame of {0} bytes is larger than the {MAX_FRAME_BYTES}-byte limit")]
    FrameTooLarge(usize),
    #[error("sample entry is malformed")]
    BadSampleEntry,
    #[error("picture size {0}x{1} is out of range")]
    BadDimensions(u32, u32),
}

/// Writes one box: a 32-bit size, the type, then what `body` writes.
fn mp4_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// A "full box": a box with a version byte and 24 bits of flags.
fn full_box(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32, body: impl FnOnce(&mut Vec<u8>)) {
    mp4_box(out, kind, |o| {
        o.push(version);
        o.extend_from_slice(&flags.to_be_bytes()[1..]);
        body(o);
    });
}

fn u16be(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn u32be(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn u64be(o: &mut Vec<u8>, v: u64) {
    o.extend_from_slice(&v.to_be_bytes());
}

/// The identity transform of `mvhd`/`tkhd`.
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The parameters' sample entry, checked: a box whose size matches, and a sane picture.
fn checked_entry(params: &VideoParams) -> Result<&[u8], Fmp4Error> {
    let entry = &params.sample_entry;
    if entry.len() < 8 || u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize != entry.len()
    {
        return Err(Fmp4Error::BadSampleEntry);
    }
    let (width, height) = (params.width, params.height);
    if width == 0 || height == 0 || width > 16384 || height > 16384 {
        return Err(Fmp4Error::BadDimensions(width, height));
    }
    Ok(entry)
}

fn ftyp(out: &mut Vec<u8>, brands: &[&[u8; 4]]) {
    mp4_box(out, b"ftyp", |o| {
        o.extend_from_slice(brands[0]);
        u32be(o, 512);
        brands.iter().for_each(|b| o.extend_from_slice(*b));
    });
}

/// The sample tables of a whole (not fragmented) file: one chunk of every sample.
pub(crate) struct SampleTables<'a> {
    /// Each sample's length in [`TIMESCALE`] units.
    pub durations: &'a [u32],
    pub sizes: &'a [u32],
    /// 1-based numbers of the key frames.
    pub keys: &'a [u32],
    /// Where the chunk starts in the file.
    pub chunk_offset: u64,
}

/// The init segment (`ftyp` + `moov`) for one video track with these parameters.
pub fn init_segment(params: &VideoParams) -> Result<Vec<u8>, Fmp4Error> {
    let entry = checked_entry(params)?;
    let mut out = Vec::with_capacity(entry.len() + 700);
    ftyp(&mut out, &[b"iso5", b"iso6", b"mp41"]);
    moov(&mut out, params, entry, None);
    Ok(out)
}

/// The `ftyp` of a whole MP4 file, for [`super::clip`].
pub(crate) fn file_header(params: &VideoParams) -> Result<Vec<u8>, Fmp4Error> {
    checked_entry(params)?;
    let mut out = Vec::new();
    ftyp(&mut out, &[b"isom", b"iso2", b"mp41"]);
    Ok(out)
}

/// The `moov` of a whole MP4 file with these samples, for [`super::clip`].
pub(crate) fn file_moov(params: &VideoParams, tables: &SampleTables<'_>) -> Result<Vec<u8>, Fmp4Error> {
    let entry = checked_entry(params)?;
    let mut out = Vec::with_capacity(entry.len() + 700 + tables.sizes.len() * 8);
    moov(&mut out, params, entry, Some(tables));
    Ok(out)
}

/// `moov` for one video track: with the samples' tables (a whole file), or with empty
/// tables and `mvex` (fragments follow).
fn moov(out: &mut Vec<u8>, params: &VideoParams, entry: &[u8], tables: Option<&SampleTables<'_>>) {
    let (width, height) = (params.width, params.height);
    // Durations in 32 bits: a clip is far shorter than the 13 hours that allow.
    let duration = tables.map_or(0, |t| {
        u32::try_from(t.durations.iter().map(|&d| u64::from(d)).sum::<u64>()).unwrap_or(u32::MAX)
    });
    mp4_box(out, b"moov", |o| {
        full_box(o, b"mvhd", 0, 0, |o| {
            u32be(o, 0); // creation time
            u32be(o, 0); // modification time
            u32be(o, TIMESCALE);
            u32be(o, duration); // 0 when live: unknown
            u32be(o, 0x0001_0000); // rate 1.0
            u16be(o, 0x0100); // volume 1.0
            o.extend_from_slice(&[0; 10]);
            MATRIX.iter().for_each(|&m| u32be(o, m));
            o.extend_from_slice(&[0; 24]); // pre_defined
            u32be(o, 2); // next track id
        });
        mp4_box(o, b"trak", |o| {
            // Flags: enabled, in movie, in preview.
            full_box(o, b"tkhd", 0, 7, |o| {
                u32be(o, 0);
                u32be(o, 0);
                u32be(o, 1); // track id
                u32be(o, 0);
                u32be(o, duration);
                o.extend_from_slice(&[0; 8]);
                u16be(o, 0); // layer
                u16be(o, 0); // alternate group
                u16be(o, 0); // volume: video has none
                u16be(o, 0);
                MATRIX.iter().for_each(|&m| u32be(o, m));
                u32be(o, width << 16);
                u32be(o, height << 16);
            });
            mp4_box(o, b"mdia", |o| {
                full_box(o, b"mdhd", 0, 0, |o| {
                    u32be(o, 0);
                    u32be(o, 0);
                    u32be(o, TIMESCALE);
                    u32be(o, duration);
                    u16be(o, 0x55c4); // language "und"
                    u16be(o, 0);
                });
                full_box(o, b"hdlr", 0, 0, |o| {
                    u32be(o, 0);
                    o.extend_from_slice(b"vide");
                    o.extend_from_slice(&[0; 12]);
                    o.extend_from_slice(b"Mimamori\0");
                });
                mp4_box(o, b"minf", |o| {
                    full_box(o, b"vmhd", 0, 1, |o| o.extend_from_slice(&[0; 8]));
                    mp4_box(o, b"dinf", |o| {
                        full_box(o, b"dref", 0, 0, |o| {
                            u32be(o, 1);
                            full_box(o, b"url ", 0, 1, |_| {}); // media in this file
                        });
                    });
                    mp4_box(o, b"stbl", |o| {
                        full_box(o, b"stsd", 0, 0, |o| {
                            u32be(o, 1);
                            o.extend_from_slice(entry);
                        });
                        match tables {
                            Some(t) => sample_tables(o, t),
                            None => {
                                // Empty tables: every sample is in the fragments.
                                full_box(o, b"stts", 0, 0, |o| u32be(o, 0));
                                full_box(o, b"stsc", 0, 0, |o| u32be(o, 0));
                                full_box(o, b"stsz", 0, 0, |o| u64be(o, 0));
                                full_box(o, b"stco", 0, 0, |o| u32be(o, 0));
                            }
                        }
                    });
                });
            });
        });
        if tables.is_none() {
            mp4_box(o, b"mvex", |o| {
                full_box(o, b"trex", 0, 0, |o| {
                    u32be(o, 1); // track id
                    u32be(o, 1); // sample description index
                    u32be(o, 0); // default duration
                    u32be(o, 0); // default size
                    u32be(o, 0); // default flags
                });
            });
        }
    });
}

/// `stts` (durations, run-length), `stss` (key frames), `stsc` + `co64` (one chunk) and
/// `stsz` (sizes).
fn sample_tables(o: &mut Vec<u8>, t: &SampleTables<'_>) {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &d in t.durations {
        match runs.last_mut() {
            Some((count, duration)) if *duration == d => *count += 1,
            _ => runs.push((1, d)),
        }
    }
    full_box(o, b"stts", 0, 0, |o| {
        u32be(o, runs.len() as u32);
        for (count, duration) in &runs {
            u32be(o, *count);
            u32be(o, *duration);
        }
    });
    full_box(o, b"stss", 0, 0, |o| {
        u32be(o, t.keys.len() as u32);
        t.keys.iter().for_each(|&k| u32be(o, k));
    });
    full_box(o, b"stsc", 0, 0, |o| {
        u32be(o, 1);
        u32be(o, 1); // first chunk
        u32be(o, t.sizes.len() as u32); // samples per chunk
        u32be(o, 1); // sample description
    });
    full_box(o, b"stsz", 0, 0, |o| {
        u32be(o, 0); // sizes differ
        u32be(o, t.sizes.len() as u32);
        t.sizes.iter().for_each(|&s| u32be(o, s));
    });
    full_box(o, b"co64", 0, 0, |o| {
        u32be(o, 1);
        u64be(o, t.chunk_offset);
    });
}

/// Sample flags (ISO 14496-12 §8.8.3.1): a key frame depends on nothing; any other frame
/// depends on others and is not a sync sample.
const KEY_FLAGS: u32 = 0x0200_0000;
const DELTA_FLAGS: u32 = 0x0101_0000;

/// One fragment holding one frame. `sequence` numbers fragments from 1; `decode_time` is
/// the frame's time on the track in [`TIMESCALE`] units, `duration` its length (at least 1).
pub fn fragment(sequence: u32, frame: &Frame, decode_time: u64, duration: u32) -> Result<Vec<u8>, Fmp4Error> {
    let data = &frame.data;
    if data.is_empty() {
        return Err(Fmp4Error::EmptyFrame);
    }
    if data.len() > MAX_FRAME_BYTES {
        return Err(Fmp4Error::FrameTooLarge(data.len()));
    }
    let mut out = Vec::with_capacity(data.len() + 128);
    let mut data_offset_at = 0;
    mp4_box(&mut out, b"moof", |o| {
        full_box(o, b"mfhd", 0, 0, |o| u32be(o, sequence));
        mp4_box(o, b"traf", |o| {
            // default-base-is-moof: offsets count from this fragment's moof.
            full_box(o, b"tfhd", 0, 0x02_0000, |o| u32be(o, 1));
            full_box(o, b"tfdt", 1, 0, |o| u64be(o, decode_time));
            // data offset, then per-sample duration, size and flags.
            full_box(o, b"trun", 0, 0x0001 | 0x0100 | 0x0200 | 0x0400, |o| {
                u32be(o, 1);
                data_offset_at = o.len();
                u32be(o, 0);
                u32be(o, duration.max(1));
                u32be(o, data.len() as u32);
                u32be(o, if frame.key { KEY_FLAGS } else { DELTA_FLAGS });
            });
        });
    });
    // The sample starts right after the mdat header that follows the moof.
    let offset = (out.len() + 8) as u32;
    out[data_offset_at..data_offset_at + 4].copy_from_slice(&offset.to_be_bytes());
    mp4_box(&mut out, b"mdat", |o| o.extend_from_slice(data));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// Walks the top-level boxes: (type, size) pairs, or None when sizes do not add up.
    fn boxes(mut b: &[u8]) -> Option<Vec<(String, usize)>> {
        let mut out = vec![];
        while !b.is_empty() {
            let size = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
            if size < 8 || size > b.len() {
                return None;
            }
            out.push((String::from_utf8_lossy(&b[4..8]).into_owned(), size));
            b = &b[size..];
        }
        Some(out)
    }

    fn params() -> VideoParams {
        let mut entry = vec![0, 0, 0, 16];
        entry.extend_from_slice(b"avc1");
        entry.extend_from_slice(&[0; 8]);
        VideoParams::new("avc1.42c01e".into(), 320, 240, Bytes::from(entry))
    }

    fn frame(key: bool, len: usize) -> Frame {
        Frame { data: Bytes::from(vec![7; len]), key, timestamp: 0, wall_ms: 0 }
    }

    #[test]
    fn init_segment_is_ftyp_then_moov() {
        let init = init_segment(&params()).unwrap();
        let top = boxes(&init).unwrap();
        assert_eq!(top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(), ["ftyp", "moov"]);
        let find = |name: &[u8]| init.windows(4).position(|w| w == name).is_some();
        for name in [b"mvhd", b"tkhd", b"mdhd", b"stsd", b"avc1", b"trex"] {
            assert!(find(name), "{}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn fragment_points_at_its_sample() {
        let f = fragment(3, &frame(true, 100), 9000, 6000).unwrap();
        let top = boxes(&f).unwrap();
        assert_eq!(top[0].0, "moof");
        assert_eq!(top[1], ("mdat".to_string(), 108));
        // trun's data offset lands on the first byte of the sample.
        let trun = f.windows(4).position(|w| w == b"trun").unwrap();
        let off = u32::from_be_bytes(f[trun + 12..trun + 16].try_into().unwrap()) as usize;
        assert_eq!(off, top[0].1 + 8);
        assert_eq!(f[off], 7);
        let flags = u32::from_be_bytes(f[trun + 24..trun + 28].try_into().unwrap());
        assert_eq!(flags, KEY_FLAGS);
    }

    /// Arbitrary parameters and frames: an answer or an error, never a panic.
    #[test]
    fn arbitrary_input_never_panics() {
        let mut rng = fastrand::Rng::with_seed(0x666d7034);
        for _ in 0..5000 {
            let mut entry: Vec<u8> = (0..rng.usize(0..48)).map(|_| rng.u8(..)).collect();
            if entry.len() >= 4 && rng.bool() {
                let len = entry.len() as u32;
                entry[..4].copy_from_slice(&len.to_be_bytes());
            }
            let p = VideoParams::new("avc1.42c01e".into(), rng.u32(..), rng.u32(..), Bytes::from(entry));
            if let Ok(init) = init_segment(&p) {
                assert_eq!(boxes(&init).map(|b| b.len()), Some(2));
            }
            let f = Frame {
                data: Bytes::from(vec![0; rng.usize(0..32)]),
                key: rng.bool(),
                timestamp: rng.i64(..),
                wall_ms: 0,
            };
            if let Ok(frag) = fragment(rng.u32(..), &f, rng.u64(..), rng.u32(..)) {
                assert_eq!(boxes(&frag).map(|b| b.len()), Some(2));
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(fragment(1, &frame(false, 0), 0, 1), Err(Fmp4Error::EmptyFrame));
        let mut p = params();
        p.sample_entry = Bytes::from_static(b"\0\0\0\x09avc1");
        assert_eq!(init_segment(&p), Err(Fmp4Error::BadSampleEntry));
        let mut p = params();
        p.width = 0;
        assert!(matches!(init_segment(&p), Err(Fmp4Error::BadDimensions(0, 240))));
        // A zero duration is raised to one tick: WebKit stalls on zero-length samples.
        let f = fragment(1, &frame(false, 4), 0, 0).unwrap();
        let trun = f.windows(4).position(|w| w == b"trun").unwrap();
        assert_eq!(u32::from_be_bytes(f[trun + 16..trun + 20].try_into().unwrap()), 1);
    }
}
