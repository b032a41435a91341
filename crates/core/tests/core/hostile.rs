//! Property tests of every decoder of outside bytes: whatever a site, a broker, a camera
//! or an enrolment code sends, decoding answers a value or an error — never a panic — and
//! what decodes survives a round trip. The inbox's gap bookkeeping holds for any order
//! of arrival, duplicates included.

use mimamori_core::inbox::{Gap, Inbox};
use mimamori_core::protocol::event::{self, Alert, AlertKind, Event, EventBody};
use mimamori_core::protocol::{command, recovery};
use mimamori_core::video::snapshot::{ALERT_THUMBNAIL, shrink_within};
use mimamori_core::{enrol, protocol};
use proptest::prelude::*;

const TOPICS: [&str; 5] = [
    "mimamori/v1/sites/hq/catalog",
    "mimamori/v1/sites/hq/status",
    "mimamori/v1/sites/hq/events",
    "mimamori/v1/sites/hq/outputs/siren/state",
    "mimamori/v1/sites/hq/unknown",
];

fn valid_event() -> Vec<u8> {
    event::encode(&Event {
        epoch: 7,
        seq: 3,
        body: EventBody::Alert(Alert {
            id: "a-3".into(),
            time: 1_800_000_000_000,
            kind: AlertKind::Intrusion,
            zone: Some("lobby".into()),
            title: "ロビー 侵入検知".into(),
            cameras: vec!["entrance".into()],
            snapshot: Some(vec![0xff, 0xd8, 0xff, 0xd9]),
        }),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_on_any_topic_decode_or_are_refused(topic in 0..TOPICS.len(), bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = protocol::decode(TOPICS[topic], &bytes);
        let _ = event::decode(&bytes);
        let _ = recovery::decode_response(&bytes);
        let _ = recovery::decode_request(&bytes);
        let _ = command::decode_response(&bytes);
    }

    #[test]
    fn a_damaged_event_is_refused_or_still_a_valid_event(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = valid_event();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        if let Ok(e) = event::decode(&bytes) {
            // Whatever got through is an event that encodes and decodes to itself.
            prop_assert_eq!(event::decode(&event::encode(&e)).unwrap(), e);
        }
    }

    #[test]
    fn titles_round_trip_or_are_refused_for_control_characters(title in "\\PC{1,40}|.{1,40}") {
        let e = Event {
            epoch: 1,
            seq: 1,
            body: EventBody::Alert(Alert {
                id: "a".into(), time: 1, kind: AlertKind::Door, zone: None, title: title.clone(), cameras: vec![], snapshot: None,
            }),
        };
        match event::decode(&event::encode(&e)) {
            Ok(back) => prop_assert_eq!(back, e),
            Err(_) => prop_assert!(title.trim().is_empty() || title.chars().any(char::is_control)),
        }
    }

    #[test]
    fn any_text_is_not_an_enrolment_code_without_panicking(text in ".{0,600}") {
        let _ = enrol::Sealed::parse(&text);
        let _ = enrol::Sealed::parse(&format!("MMR1.{text}"));
    }

    #[test]
    fn any_bytes_as_a_picture_decode_within_bounds_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut jpeg = vec![0xff, 0xd8];
        jpeg.extend_from_slice(&bytes);
        let _ = shrink_within(&jpeg, ALERT_THUMBNAIL);
    }

    #[test]
    fn gaps_never_name_a_stored_number_and_vanish_once_all_arrived(
        order in Just((1..=40u64).collect::<Vec<_>>()).prop_shuffle(),
        repeats in proptest::collection::vec(1..=40u64, 0..10),
        cut in 1..=40usize,
    ) {
        let inbox = Inbox::in_memory().unwrap();
        let alert = |seq: u64| Event {
            epoch: 9,
            seq,
            body: EventBody::Alert(Alert {
                id: format!("a-{seq}"), time: seq, kind: AlertKind::Door, zone: None, title: "x".into(), cameras: vec![], snapshot: None,
            }),
        };
        // The device knew the site from number 1 on (its head said 0 before the first).
        inbox.note_head("hq", 9, 0).unwrap();
        let arrived: Vec<u64> = order[..cut].iter().chain(repeats.iter()).copied().collect();
        for seq in &arrived {
            inbox.record("hq", &alert(*seq), 0).unwrap();
        }
        inbox.note_head("hq", 9, 40).unwrap();
        let gaps = inbox.gaps("hq").unwrap();
        for Gap { from, to, .. } in &gaps {
            prop_assert!(from <= to);
            for seq in *from..=*to {
                prop_assert!(!arrived.contains(&seq), "{seq} arrived but is in a gap");
            }
        }
        let missing: usize = gaps.iter().map(|g| (g.to - g.from + 1) as usize).sum();
        let distinct: std::collections::BTreeSet<u64> = arrived.iter().copied().collect();
        prop_assert_eq!(missing, 40 - distinct.len(), "every number is stored or in a gap");
        for seq in 1..=40 {
            inbox.record("hq", &alert(seq), 0).unwrap();
        }
        prop_assert!(inbox.gaps("hq").unwrap().is_empty());
        prop_assert_eq!(inbox.event_count("hq").unwrap(), 40);
    }
}
