//! Commands and responses on the wire (`docs/site-protocol.md`, Commands and responses):
//! the request a client publishes on `…/commands/{class}/{user}` and the response a site
//! sends to its Response Topic. What a command means, who may send it and how its outcome
//! is shown is `control.rs`; this is only the shape of the bytes and the topic's class.

use super::role::Permission;
use super::{OutputKind, check_id};
use serde::{Deserialize, Serialize};

/// What a command switches: the `{class}` level of its topic,
/// `…/commands/{class}/{user}`. A class per output kind and one for arming, so that the
/// broker's ACL holds each role to the classes the roles table gives it, and a site checks
/// that a command fits the class of the topic it came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandClass {
    Siren,
    Light,
    Lock,
    Relay,
    Arming,
}

impl CommandClass {
    pub const ALL: [CommandClass; 5] = [
        CommandClass::Siren,
        CommandClass::Light,
        CommandClass::Lock,
        CommandClass::Relay,
        CommandClass::Arming,
    ];

    /// The class of a command to an output of `kind`, or to the site itself (None: arming).
    pub fn of(kind: Option<OutputKind>) -> CommandClass {
        match kind {
            Some(OutputKind::Siren) => CommandClass::Siren,
            Some(OutputKind::Light) => CommandClass::Light,
            Some(OutputKind::Lock) => CommandClass::Lock,
            Some(OutputKind::Relay) => CommandClass::Relay,
            None => CommandClass::Arming,
        }
    }

    /// What the roles table must allow for a command of this class.
    pub fn permission(self) -> Permission {
        match self {
            CommandClass::Siren => Permission::Output(OutputKind::Siren),
            CommandClass::Light => Permission::Output(OutputKind::Light),
            CommandClass::Lock => Permission::Output(OutputKind::Lock),
            CommandClass::Relay => Permission::Output(OutputKind::Relay),
            CommandClass::Arming => Permission::ArmOrDisarm,
        }
    }

    /// The topic level.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandClass::Siren => "siren",
            CommandClass::Light => "light",
            CommandClass::Lock => "lock",
            CommandClass::Relay => "relay",
            CommandClass::Arming => "arming",
        }
    }

    pub fn parse(level: &str) -> Option<CommandClass> {
        CommandClass::ALL.into_iter().find(|c| c.as_str() == level)
    }
}

/// The request body on the wire.
#[derive(Debug, Serialize)]
pub struct Request<'a> {
    pub v: u8,
    pub request_id: &'a str,
    pub target: serde_json::Value,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// The absolute deadline on the site's clock (ms since the Unix epoch), besides the
    /// relative Message Expiry: past it the site does not act. Absent when the client has
    /// no estimate of the site's clock yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// A request as a site reads it: what the client's [`Request`] carries.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Incoming {
    pub v: u8,
    pub request_id: String,
    pub target: Target,
    pub action: String,
    #[serde(default)]
    pub seconds: Option<u32>,
    /// The absolute deadline on the site's clock (ms since the Unix epoch), if the client
    /// sent one.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// What a request targets: one output, or the site itself (arming).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Target {
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub site: Option<bool>,
}

/// Decodes a request as a site receives it; errors name what is wrong, never quote the
/// payload.
pub fn decode_request(payload: &[u8]) -> Result<Incoming, String> {
    if payload.len() > super::MAX_PAYLOAD_BYTES {
        return Err(format!("request of {} bytes is over the payload limit", payload.len()));
    }
    let r: Incoming = serde_json::from_slice(payload)
        .map_err(|e| format!("malformed request ({:?} at column {})", e.classify(), e.column()))?;
    if r.v != 1 {
        return Err(format!("request version {} is not 1", r.v));
    }
    check_id("request id", &r.request_id).map_err(|e| e.to_string())?;
    Ok(r)
}

/// The request id of a payload that may not decode as a whole (to answer "expired" to a
/// request too late to read), if it has a valid one.
pub fn request_id_of(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let id = v.get("request_id")?.as_str()?;
    check_id("request id", id).ok().map(|()| id.to_owned())
}

/// A site's response on the wire.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    pub v: u8,
    pub request_id: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Response {
    /// A response to `request_id`: `outcome` (done, denied, failed, expired), the target's
    /// state after it, and a message for the user.
    pub fn new(request_id: &str, outcome: &str, state: Option<&str>, message: Option<&str>) -> Response {
        Response {
            v: 1,
            request_id: request_id.to_owned(),
            outcome: outcome.to_owned(),
            state: state.map(str::to_owned),
            message: message.map(str::to_owned),
        }
    }
}

/// An acknowledgement of an alert on `…/ack/{user}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    pub v: u32,
    pub alert_id: String,
    /// For colleagues; every user of the site can read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Decodes an acknowledgement as a site receives it.
pub fn decode_ack(payload: &[u8]) -> Result<Ack, String> {
    if payload.len() > super::MAX_PAYLOAD_BYTES {
        return Err(format!("acknowledgement of {} bytes is over the payload limit", payload.len()));
    }
    let ack: Ack = serde_json::from_slice(payload)
        .map_err(|e| format!("malformed acknowledgement ({:?} at column {})", e.classify(), e.column()))?;
    if ack.v != super::VERSION {
        return Err(format!("acknowledgement version {} is not {}", ack.v, super::VERSION));
    }
    check_id("alert id", &ack.alert_id).map_err(|e| e.to_string())?;
    Ok(ack)
}

/// Largest response accepted.
const MAX_RESPONSE: usize = 4096;

/// Decodes a response; errors name what is wrong, never quote the payload.
pub fn decode_response(payload: &[u8]) -> Result<Response, String> {
    if payload.len() > MAX_RESPONSE {
        return Err(format!("response of {} bytes is over the {MAX_RESPONSE}-byte limit", payload.len()));
    }
    let r: Response = serde_json::from_slice(payload)
        .map_err(|e| format!("malformed response ({:?} at column {})", e.classify(), e.column()))?;
    if r.v != 1 {
        return Err(format!("response version {} is not 1", r.v));
    }
    check_id("request id", &r.request_id).map_err(|e| e.to_string())?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_one_class_and_its_permission() {
        use OutputKind::*;
        for kind in [Some(Siren), Some(Light), Some(Lock), Some(Relay), None] {
            let class = CommandClass::of(kind);
            assert_eq!(CommandClass::parse(class.as_str()), Some(class));
            let expected = kind.map_or(Permission::ArmOrDisarm, Permission::Output);
            assert_eq!(class.permission(), expected);
        }
        assert_eq!(CommandClass::parse("door"), None);
    }

    #[test]
    fn responses_are_checked() {
        let ok = decode_response(br#"{"v":1,"request_id":"r-1","outcome":"done","state":"on"}"#).unwrap();
        assert_eq!((ok.outcome.as_str(), ok.state.as_deref()), ("done", Some("on")));
        assert!(decode_response(br#"{"v":2,"request_id":"r-1","outcome":"done"}"#).is_err());
        assert!(decode_response(br#"{"v":1,"request_id":"a/b","outcome":"done"}"#).is_err());
        assert!(decode_response(b"CANARY not json").unwrap_err().find("CANARY").is_none());
        assert!(decode_response(&vec![b' '; 5000]).is_err());
    }
}
