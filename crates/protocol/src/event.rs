//! Events on `…/events`: one numbered stream per site of alerts and alert updates.
//! The envelope (epoch, seq) identifies each event, so delivery can be proven end to end:
//! duplicates are dropped and gaps are found (see `inbox.rs`, and "Events" and "Delivery
//! rules" in `docs/site-protocol.md`).

use super::{MAX_CAMERAS, MAX_EVENT_NUMBER, ProtocolError, check_id};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Largest decoded snapshot an alert may carry.
pub const MAX_SNAPSHOT_BYTES: usize = 32 * 1024;
/// Longest note on an alert update, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Intrusion,
    Door,
    Tamper,
    Fire,
    Panic,
    Sensor,
    CameraOffline,
    System,
    /// Raised by the device itself when a site goes offline or silent; a site may not
    /// send it (see [`decode`]).
    LinkFailure,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Intrusion => "intrusion",
            AlertKind::Door => "door",
            AlertKind::Tamper => "tamper",
            AlertKind::Fire => "fire",
            AlertKind::Panic => "panic",
            AlertKind::Sensor => "sensor",
            AlertKind::CameraOffline => "camera_offline",
            AlertKind::System => "system",
            AlertKind::LinkFailure => "link_failure",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: String,
    /// When it happened, ms since the Unix epoch (site clock).
    pub time: u64,
    pub kind: AlertKind,
    pub zone: Option<String>,
    pub title: String,
    pub cameras: Vec<String>,
    /// The JPEG bytes as sent (at most 32 KiB); decoded and checked by the picture code.
    pub snapshot: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertUpdate {
    pub alert_id: String,
    pub by: String,
    pub at: u64,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    Alert(Alert),
    AlertUpdate(AlertUpdate),
}

/// One event of a site's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub epoch: u64,
    pub seq: u64,
    pub body: EventBody,
}

#[derive(Deserialize, Serialize)]
struct Wire {
    v: u32,
    epoch: u64,
    seq: u64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert: Option<WireAlert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert_update: Option<WireUpdate>,
}

#[derive(Deserialize, Serialize)]
struct WireAlert {
    id: String,
    time: u64,
    kind: AlertKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zone: Option<String>,
    title: String,
    #[serde(default)]
    cameras: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct WireUpdate {
    alert_id: String,
    by: String,
    at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::Invalid { field, reason: reason.into() }
}

fn check_text(field: &'static str, text: &str, max: usize, newlines: bool) -> Result<(), ProtocolError> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(invalid(field, format!("must be 1 to {max} characters")));
    }
    if text.chars().any(|c| c.is_control() && !(newlines && c == '\n')) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Decodes and checks one event payload (already size-checked by the caller).
pub fn decode(payload: &[u8]) -> Result<Event, ProtocolError> {
    let wire: Wire = super::parse(payload)?;
    if wire.epoch > MAX_EVENT_NUMBER {
        return Err(invalid("epoch", "out of range"));
    }
    if wire.seq == 0 || wire.seq > MAX_EVENT_NUMBER {
        return Err(invalid("seq", "must be 1 or more"));
    }
    let body = match (wire.kind.as_str(), wire.alert, wire.alert_update) {
        ("alert", Some(a), _) => {
            check_id("alert id", &a.id)?;
            if a.kind == AlertKind::LinkFailure {
                return Err(invalid("alert", "kind link_failure is raised by clients, not sent by sites"));
            }
            check_text("title", &a.title, 128, false)?;
            if let Some(zone) = &a.zone {
                check_id("zone", zone)?;
            }
            if a.cameras.len() > MAX_CAMERAS {
                return Err(invalid("cameras", format!("more than {MAX_CAMERAS}")));
            }
            for camera in &a.cameras {
                check_id("camera id", camera)?;
            }
            let snapshot = match a.snapshot {
                None => None,
                // Length first: base64 of 32 KiB is under 44,000 characters.
                Some(b64) if b64.len() > MAX_SNAPSHOT_BYTES / 3 * 4 + 8 => {
                    return Err(invalid("snapshot", format!("larger than {MAX_SNAPSHOT_BYTES} bytes")));
                }
                Some(b64) => {
                    Some(STANDARD.decode(b64.as_bytes()).map_err(|_| invalid("snapshot", "is not base64"))?)
                }
            };
            if snapshot.as_ref().is_some_and(|s| s.len() > MAX_SNAPSHOT_BYTES) {
                return Err(invalid("snapshot", format!("larger than {MAX_SNAPSHOT_BYTES} bytes")));
            }
            EventBody::Alert(Alert {
                id: a.id,
                time: a.time,
                kind: a.kind,
                zone: a.zone,
                title: a.title,
                cameras: a.cameras,
                snapshot,
            })
        }
        ("alert_update", _, Some(u)) => {
            check_id("alert id", &u.alert_id)?;
            check_id("by", &u.by)?;
            if let Some(note) = &u.note {
                check_text("note", note, MAX_NOTE_CHARS, true)?;
            }
            EventBody::AlertUpdate(AlertUpdate { alert_id: u.alert_id, by: u.by, at: u.at, note: u.note })
        }
        ("alert", None, _) => return Err(invalid("alert", "missing")),
        ("alert_update", _, None) => return Err(invalid("alert_update", "missing")),
        _ => return Err(invalid("type", "must be alert or alert_update")),
    };
    Ok(Event { epoch: wire.epoch, seq: wire.seq, body })
}

/// Encodes an event (for the simulator and tests).
pub fn encode(event: &Event) -> Vec<u8> {
    let (kind, alert, alert_update) = match &event.body {
        EventBody::Alert(a) => (
            "alert",
            Some(WireAlert {
                id: a.id.clone(),
                time: a.time,
                kind: a.kind,
                zone: a.zone.clone(),
                title: a.title.clone(),
                cameras: a.cameras.clone(),
                snapshot: a.snapshot.as_ref().map(|s| STANDARD.encode(s)),
            }),
            None,
        ),
        EventBody::AlertUpdate(u) => (
            "alert_update",
            None,
            Some(WireUpdate {
                alert_id: u.alert_id.clone(),
                by: u.by.clone(),
                at: u.at,
                note: u.note.clone(),
            }),
        ),
    };
    super::encode(&Wire {
        v: super::VERSION,
        epoch: event.epoch,
        seq: event.seq,
        kind: kind.to_owned(),
        alert,
        alert_update,
    })
}

/// A door alert numbered (`epoch`, `seq`), for the tests of the code that stores and
/// carries events.
pub fn example_door(epoch: u64, seq: u64) -> Event {
    Event {
        epoch,
        seq,
        body: EventBody::Alert(Alert {
            id: format!("a-{epoch}-{seq}"),
            time: 1_000 + seq,
            kind: AlertKind::Door,
            zone: None,
            title: format!("door {seq}"),
            cameras: vec!["entrance".into()],
            snapshot: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(seq: u64) -> Event {
        Event {
            epoch: 7,
            seq,
            body: EventBody::Alert(Alert {
                id: format!("a-{seq}"),
                time: 1_800_000_000_000,
                kind: AlertKind::Intrusion,
                zone: Some("lobby".into()),
                title: "<script>alert(1)</script> ロビー".into(),
                cameras: vec!["entrance".into()],
                snapshot: Some(vec![0xff, 0xd8, 0xff, 0xd9]),
            }),
        }
    }

    #[test]
    fn round_trip_keeps_hostile_text_as_text() {
        let e = alert(3);
        assert_eq!(decode(&encode(&e)).unwrap(), e);
        let u = Event {
            epoch: 7,
            seq: 4,
            body: EventBody::AlertUpdate(AlertUpdate {
                alert_id: "a-3".into(),
                by: "aiko".into(),
                at: 1,
                note: Some("line\nline".into()),
            }),
        };
        assert_eq!(decode(&encode(&u)).unwrap(), u);
    }

    #[test]
    fn bad_events_are_refused() {
        let good = serde_json::from_slice::<serde_json::Value>(&encode(&alert(1))).unwrap();
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("seq", serde_json::json!(0)),
            ("type", serde_json::json!("party")),
            ("epoch", serde_json::json!("7")),
            ("alert", serde_json::json!({"id": "a", "time": 1, "kind": "alien", "title": "x"})),
            ("alert", serde_json::json!({"id": "a", "time": 1, "kind": "link_failure", "title": "x"})),
            ("alert", serde_json::json!({"id": "a/b", "time": 1, "kind": "fire", "title": "x"})),
            ("alert", serde_json::json!({"id": "a", "time": 1, "kind": "fire", "title": ""})),
            (
                "alert",
                serde_json::json!({"id": "a", "time": 1, "kind": "fire", "title": "x", "snapshot": "***"}),
            ),
            (
                "alert",
                serde_json::json!({"id": "a", "time": 1, "kind": "fire", "title": "x",
                "snapshot": STANDARD.encode(vec![0u8; MAX_SNAPSHOT_BYTES + 1])}),
            ),
            ("alert", serde_json::Value::Null),
        ];
        for (field, value) in cases {
            let mut e = good.clone();
            e[field] = value.clone();
            assert!(decode(&serde_json::to_vec(&e).unwrap()).is_err(), "{field} = {value}");
        }
        assert!(decode(b"{\"v\":2}").is_err());
        assert!(decode(b"\xff").is_err());
    }
}
