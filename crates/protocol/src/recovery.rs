//! Event recovery on the wire: asking a site to send again the events this device is
//! missing (the request on `…/replay/{user}`, which keeps its v1 topic name, and the
//! site's answer). Not video replay, which plays a camera from memory. A broker may acknowledge
//! an event and then lose it (killed before it saved, a full queue, an expired session), so
//! the device finds the gaps in each site's numbered stream (`inbox.rs`) and asks the site
//! itself, which keeps a window of its recent events. What the site no longer has comes
//! back as `gone` and is shown to people as a *possible gap*. See "Recovery" in
//! `docs/site-protocol.md`.

use super::event::{self, Event};
use super::{self as protocol, MAX_EVENT_NUMBER, ProtocolError, check_id};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a replay request may wait for its answer (and its Message Expiry Interval);
/// after that the device asks again.
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(10);

/// A request for the events `from_seq..=to_seq` (or to the newest) of `epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    pub request_id: String,
    pub epoch: u64,
    pub from_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_seq: Option<u64>,
}

/// The part of a requested range that the site no longer has; `to_seq` is absent when
/// it has nothing of that epoch any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gone {
    pub from_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_seq: Option<u64>,
}

/// A site's answer to a replay request, as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub v: u32,
    pub request_id: String,
    /// `done`, `denied`, `failed` or `expired`, as for commands.
    pub outcome: String,
    pub epoch: u64,
    /// The events still held, each exactly as published on `…/events`.
    #[serde(default)]
    pub events: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone: Option<Gone>,
    /// The response was cut to stay below the payload limit: ask again from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_seq: Option<u64>,
}

/// A decoded, checked response: the events that decoded, and how many did not.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub outcome: String,
    pub epoch: u64,
    pub events: Vec<Event>,
    /// Events of the response that were malformed or of another epoch (logged, skipped).
    pub rejected: usize,
    pub gone: Option<Gone>,
    pub next_seq: Option<u64>,
}

fn invalid(field: &'static str, reason: &str) -> ProtocolError {
    ProtocolError::Invalid { field, reason: reason.to_owned() }
}

/// The request id of any response on the responses topic, to tell replay answers from
/// command answers.
pub fn request_id_of(payload: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        request_id: String,
    }
    serde_json::from_slice::<Id>(payload).ok().map(|i| i.request_id)
}

/// Decodes a replay response (already known to answer one of this device's requests).
/// Each event is checked as if it had arrived on `…/events`; a bad one is skipped and
/// counted, never fatal to the rest.
pub fn decode_response(payload: &[u8]) -> Result<Replayed, ProtocolError> {
    if payload.len() > protocol::MAX_PAYLOAD_BYTES {
        return Err(ProtocolError::TooLarge { size: payload.len(), limit: protocol::MAX_PAYLOAD_BYTES });
    }
    let r: Response = protocol::parse(payload)?;
    check_id("request id", &r.request_id)?;
    if !matches!(r.outcome.as_str(), "done" | "denied" | "failed" | "expired") {
        return Err(invalid("outcome", "must be done, denied, failed or expired"));
    }
    if r.epoch > MAX_EVENT_NUMBER {
        return Err(invalid("epoch", "out of range"));
    }
    if let Some(g) = r.gone
        && (g.from_seq == 0 || g.from_seq > MAX_EVENT_NUMBER || g.to_seq.is_some_and(|t| t < g.from_seq))
    {
        return Err(invalid("gone", "must be a range of sequence numbers"));
    }
    if r.next_seq.is_some_and(|n| n == 0 || n > MAX_EVENT_NUMBER) {
        return Err(invalid("next_seq", "out of range"));
    }
    let mut events = Vec::with_capacity(r.events.len());
    let mut rejected = 0;
    for value in r.events {
        let decoded = serde_json::to_vec(&value)
            .map_err(|_| invalid("events", "not JSON"))
            .and_then(|bytes| event::decode(&bytes));
        match decoded {
            Ok(e) if e.epoch == r.epoch => events.push(e),
            Ok(_) => {
                tracing::warn!("a replayed event of another epoch was skipped");
                rejected += 1;
            }
            Err(err) => {
                tracing::warn!("a replayed event was skipped: {err}");
                rejected += 1;
            }
        }
    }
    Ok(Replayed { outcome: r.outcome, epoch: r.epoch, events, rejected, gone: r.gone, next_seq: r.next_seq })
}

/// A fresh request for one gap.
pub fn request(epoch: u64, from_seq: u64, to_seq: Option<u64>) -> Request {
    Request { v: protocol::VERSION, request_id: super::new_request_id('p'), epoch, from_seq, to_seq }
}

/// Decodes a replay request (for sites: the simulator).
pub fn decode_request(payload: &[u8]) -> Result<Request, ProtocolError> {
    if payload.len() > protocol::MAX_PAYLOAD_BYTES {
        return Err(ProtocolError::TooLarge { size: payload.len(), limit: protocol::MAX_PAYLOAD_BYTES });
    }
    let r: Request = protocol::parse(payload)?;
    check_id("request id", &r.request_id)?;
    if r.from_seq == 0 || r.from_seq > MAX_EVENT_NUMBER || r.to_seq.is_some_and(|t| t < r.from_seq) {
        return Err(invalid("from_seq", "must start a range of sequence numbers"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AlertUpdate, EventBody};

    fn update(epoch: u64, seq: u64) -> serde_json::Value {
        let e = Event {
            epoch,
            seq,
            body: EventBody::AlertUpdate(AlertUpdate {
                alert_id: "a".into(),
                by: "aiko".into(),
                at: 1,
                note: None,
            }),
        };
        serde_json::from_slice(&event::encode(&e)).unwrap()
    }

    #[test]
    fn responses_keep_good_events_and_count_bad_ones() {
        let r = Response {
            v: 1,
            request_id: "p-1".into(),
            outcome: "done".into(),
            epoch: 7,
            events: vec![update(7, 3), update(8, 4), serde_json::json!({"v": 1, "seq": "x"}), update(7, 5)],
            gone: Some(Gone { from_seq: 1, to_seq: Some(2) }),
            next_seq: Some(6),
        };
        let got = decode_response(&protocol::encode(&r)).unwrap();
        assert_eq!(got.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 5]);
        assert_eq!((got.rejected, got.next_seq), (2, Some(6)));
        assert_eq!(request_id_of(&protocol::encode(&r)).as_deref(), Some("p-1"));
    }

    #[test]
    fn bad_responses_and_requests_are_refused() {
        for bad in [
            r#"{"v":1,"request_id":"p","outcome":"maybe","epoch":1}"#,
            r#"{"v":1,"request_id":"p/1","outcome":"done","epoch":1}"#,
            r#"{"v":1,"request_id":"p","outcome":"done","epoch":1,"gone":{"from_seq":5,"to_seq":2}}"#,
            r#"{"v":1,"request_id":"p","outcome":"done","epoch":1,"next_seq":0}"#,
            r#"{"v":1,"request_id":"p","outcome":"done","epoch":1,"events":{}}"#,
            r#"{"v":2}"#,
        ] {
            assert!(decode_response(bad.as_bytes()).is_err(), "{bad}");
        }
        let ok = protocol::encode(&request(9, 3, Some(4)));
        assert_eq!(decode_request(&ok).unwrap().to_seq, Some(4));
        for bad in [
            r#"{"v":1,"request_id":"p","epoch":1,"from_seq":0}"#,
            r#"{"v":1,"request_id":"p","epoch":1,"from_seq":5,"to_seq":4}"#,
        ] {
            assert!(decode_request(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
