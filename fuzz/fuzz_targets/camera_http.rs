//! Any answer a camera's HTTP snapshot endpoint can give, and any bytes as a picture:
//! the response parser, then decoding within bounds and shrinking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimamori_core::video::http::parse_http;
use mimamori_core::video::snapshot::{ALERT_THUMBNAIL, shrink_within};

fuzz_target!(|data: &[u8]| {
    let _ = parse_http(data);
    let _ = shrink_within(data, ALERT_THUMBNAIL);
});
