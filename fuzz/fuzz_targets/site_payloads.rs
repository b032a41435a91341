//! Any bytes a site or a broker can put on a topic: the site protocol's messages, the
//! numbered events, replay answers and requests, command responses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimamori_core::protocol;
use mimamori_core::protocol::{command, event, recovery};

const TOPICS: [&str; 5] = [
    "mimamori/v1/sites/hq/catalog",
    "mimamori/v1/sites/hq/status",
    "mimamori/v1/sites/hq/events",
    "mimamori/v1/sites/hq/outputs/siren/state",
    "mimamori/v1/sites/hq/unknown",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else { return };
    let _ = protocol::decode(TOPICS[usize::from(which) % TOPICS.len()], payload);
    if let Ok(e) = event::decode(payload) {
        // Whatever is accepted encodes and decodes to itself.
        assert_eq!(event::decode(&event::encode(&e)).expect("re-decodes"), e);
    }
    let _ = recovery::decode_response(payload);
    let _ = recovery::decode_request(payload);
    let _ = command::decode_response(payload);
});
