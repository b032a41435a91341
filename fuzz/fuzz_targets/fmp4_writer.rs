//! The fMP4 writer's inputs as a camera could make them: stream parameters (size, sample
//! entry) and frames of any length and timing.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mimamori_core::video::fmp4::{fragment, init_segment};
use mimamori_core::video::{Frame, VideoParams};

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let width = u32::from(u16::from_be_bytes([data[0], data[1]]));
    let height = u32::from(u16::from_be_bytes([data[2], data[3]]));
    let entry_len = usize::from(data[4]).min(data.len() - 12);
    let rest = &data[12..];
    let (entry, mut frames) = rest.split_at(entry_len);
    let params = VideoParams { codec: "avc1.42C01E".into(), width, height, sample_entry: Bytes::copy_from_slice(entry) };
    let _ = init_segment(&params);
    let mut sequence = 1u32;
    let mut decode_time = u64::from(u32::from_be_bytes([data[5], data[6], data[7], data[8]]));
    while let Some((&header, tail)) = frames.split_first() {
        let len = usize::from(header).min(tail.len());
        let (body, next) = tail.split_at(len);
        let frame = Frame {
            data: Bytes::copy_from_slice(body),
            key: header & 1 == 1,
            timestamp: i64::from(header) * 3000 - 1000,
            wall_ms: u64::from(data[9]),
        };
        let duration = u32::from(data[10]) * 100;
        let _ = fragment(sequence, &frame, decode_time, duration);
        sequence = sequence.wrapping_add(1);
        decode_time = decode_time.wrapping_add(u64::from(duration));
        frames = next;
    }
});
