//! Site protocol v1: topic names and the JSON payloads a site publishes.
//!
//! This module is the single Rust statement of `docs/site-protocol.md`. Everything that
//! arrives from a broker passes through [`decode`]: it checks size, version, required
//! fields, identifiers and limits, and either returns a typed message or a
//! [`ProtocolError`] that says what was wrong. It never panics and never allocates more
//! than the payload limit allows. Unknown fields are ignored so that sites can add fields
//! without breaking older clients.

pub mod command;
pub mod event;
pub mod recovery;
pub mod role;

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The protocol version this client speaks, carried as `"v"` in every payload.
pub const VERSION: u32 = 1;
/// Root of every topic this protocol uses.
pub const ROOT: &str = "mimamori/v1";
/// Largest payload accepted on any topic; larger ones are rejected unread.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Largest MQTT packet a client or site takes: the payload limit and room for the topic
/// and properties. Each tells its broker so when it connects, and the broker drops
/// anything larger instead of sending it (MQTT 5 Maximum Packet Size).
pub const MAX_PACKET_BYTES: u32 = 64 * 1024 + 4096;
/// Most QoS 1 messages a client or site sends before the broker acknowledges them; brokers
/// allow fewer (Mosquitto 20), and the MQTT client keeps a slot for each allowed one.
pub const MAX_INFLIGHT: u16 = 1000;
/// Most cameras one site may list in its catalog.
pub const MAX_CAMERAS: usize = 64;
/// Most outputs one site may list in its catalog.
pub const MAX_OUTPUTS: usize = 32;
/// Most zones one site may list in its catalog.
pub const MAX_ZONES: usize = 256;
/// Longest identifier (site, camera, output, zone, user).
pub const MAX_ID_LEN: usize = 64;
/// Longest human-readable name.
pub const MAX_NAME_LEN: usize = 128;
/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 512;
/// Supervision time a site gets when its catalog does not say.
pub const DEFAULT_SUPERVISION_S: u32 = 90;
/// Shortest and longest supervision time accepted.
pub const SUPERVISION_RANGE_S: (u32, u32) = (10, 3600);
/// Epochs and sequence numbers of events fit SQLite's signed 64-bit integers.
pub const MAX_EVENT_NUMBER: u64 = i64::MAX as u64;

/// Why a message from the bus was rejected. The text names the field, never a value that
/// could carry a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("topic `{0}` is not part of site protocol v1")]
    UnknownTopic(String),
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("payload is not valid JSON for this topic: {0}")]
    Malformed(String),
    #[error("unsupported protocol version {0} (this client speaks {VERSION})")]
    Version(u32),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::Invalid { field, reason: reason.into() }
}

/// Checks an identifier: 1–64 characters of `A–Z a–z 0–9 _ -`. Identifiers become topic
/// levels, so anything that could be a wildcard or a separator is refused.
pub fn check_id(field: &'static str, id: &str) -> Result<(), ProtocolError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(invalid(field, format!("must be 1 to {MAX_ID_LEN} characters")));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(invalid(field, "may only contain A-Z, a-z, 0-9, _ and -"));
    }
    Ok(())
}

fn check_name(field: &'static str, name: &str) -> Result<(), ProtocolError> {
    if name.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(invalid(field, format!("longer than {MAX_NAME_LEN} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks a camera endpoint: an `rtsp`, `rtsps`, `http` or `https` URL with a host and
/// **no credentials**; credentials come from enrolment, never from the bus.
fn check_endpoint(field: &'static str, url: &str, schemes: &[&str]) -> Result<(), ProtocolError> {
    if url.len() > MAX_URL_LEN {
        return Err(invalid(field, format!("longer than {MAX_URL_LEN} bytes")));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid(field, "is not a URL"));
    };
    if !schemes.contains(&scheme) {
        return Err(invalid(field, format!("scheme must be one of {}", schemes.join(", "))));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        // Deliberately not echoing the URL: it carries credentials.
        return Err(invalid(field, "must not carry credentials"));
    }
    if authority.is_empty() || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(invalid(field, "has no host or contains spaces"));
    }
    Ok(())
}

/// The parts of a topic under [`ROOT`] that this client understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    Catalog {
        site: String,
    },
    Status {
        site: String,
    },
    OutputState {
        site: String,
        output: String,
    },
    Events {
        site: String,
    },
    /// `…/roles/{user}`: the role the site gives `user`.
    Role {
        site: String,
        user: String,
    },
}

impl Topic {
    /// Parses a topic name; anything outside site protocol v1 is an error.
    pub fn parse(topic: &str) -> Result<Topic, ProtocolError> {
        let unknown = || ProtocolError::UnknownTopic(topic.chars().take(200).collect());
        let rest = topic.strip_prefix(ROOT).and_then(|r| r.strip_prefix("/sites/")).ok_or_else(unknown)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let site = parts[0];
        check_id("site id", site).map_err(|_| unknown())?;
        let site = site.to_owned();
        match parts[1..] {
            ["catalog"] => Ok(Topic::Catalog { site }),
            ["status"] => Ok(Topic::Status { site }),
            ["events"] => Ok(Topic::Events { site }),
            ["outputs", output, "state"] if check_id("output id", output).is_ok() => {
                Ok(Topic::OutputState { site, output: output.to_owned() })
            }
            ["roles", user] if check_id("user", user).is_ok() => {
                Ok(Topic::Role { site, user: user.to_owned() })
            }
            _ => Err(unknown()),
        }
    }

    pub fn site(&self) -> &str {
        match self {
            Topic::Catalog { site }
            | Topic::Status { site }
            | Topic::OutputState { site, .. }
            | Topic::Events { site }
            | Topic::Role { site, .. } => site,
        }
    }
}

/// A new request id: `prefix`, a dash and 128 bits from the operating system's random
/// source, so that nobody can guess the id of another request and answer it.
pub fn new_request_id(prefix: char) -> String {
    let mut bytes = [0u8; 16];
    // Without the system's random source there is no safe id to make.
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// Topic names, in one place so the client, the simulator and the docs agree.
pub mod topics {
    use super::ROOT;

    /// The filters `user`'s client subscribes to for one site. The role comes first, so
    /// that a site's retained role has arrived by the time its catalog has.
    pub fn client_filters(site: &str, user: &str) -> [String; 5] {
        [
            role(site, user),
            catalog(site),
            status(site),
            format!("{ROOT}/sites/{site}/outputs/+/state"),
            events(site),
        ]
    }
    pub fn catalog(site: &str) -> String {
        format!("{ROOT}/sites/{site}/catalog")
    }
    pub fn status(site: &str) -> String {
        format!("{ROOT}/sites/{site}/status")
    }
    /// Where `user` sends `site` commands of `class`.
    pub fn commands(site: &str, class: super::command::CommandClass, user: &str) -> String {
        format!("{ROOT}/sites/{site}/commands/{}/{user}", class.as_str())
    }
    /// The first commands topic, without a class: admins only (a site refuses anyone
    /// else there, and the generated ACL grants it to admins alone).
    pub fn commands_unclassed(site: &str, user: &str) -> String {
        format!("{ROOT}/sites/{site}/commands/{user}")
    }
    /// A commands topic of `site`, as the site reads it: the class level (None on the
    /// topic without one) and the user.
    pub fn command_topic<'a>(topic: &'a str, site: &str) -> Option<(Option<&'a str>, &'a str)> {
        let rest = topic.strip_prefix(ROOT)?.strip_prefix("/sites/")?.strip_prefix(site)?;
        match rest.strip_prefix("/commands/")?.split('/').collect::<Vec<_>>()[..] {
            [user] => Some((None, user)),
            [class, user] => Some((Some(class), user)),
            _ => None,
        }
    }
    /// Where `site` publishes the role it gives `user`.
    pub fn role(site: &str, user: &str) -> String {
        format!("{ROOT}/sites/{site}/roles/{user}")
    }
    /// Where `site` answers `user`'s device `client`: a level per site, so that the broker
    /// lets each site write only its own and the client knows who answered.
    pub fn responses(user: &str, client: &str, site: &str) -> String {
        format!("{ROOT}/clients/{user}/{client}/responses/{site}")
    }
    /// What a client subscribes to for the answers of all its sites.
    pub fn responses_filter(user: &str, client: &str) -> String {
        format!("{ROOT}/clients/{user}/{client}/responses/+")
    }
    /// The site whose answer `topic` is, if it is one of `user`'s device `client`'s
    /// response topics.
    pub fn response_site<'a>(topic: &'a str, user: &str, client: &str) -> Option<&'a str> {
        let site =
            topic.strip_prefix(ROOT)?.strip_prefix("/clients/")?.strip_prefix(user)?.strip_prefix('/')?;
        let site = site.strip_prefix(client)?.strip_prefix("/responses/")?;
        super::check_id("site id", site).ok().map(|()| site)
    }
    /// Whether a request of `user` to `site` names a response topic the site may answer
    /// on: `user`'s own tree, `site`'s own level (`…/clients/{user}/{client}/responses/
    /// {site}`). A site drops a request that names anything else — another user's or
    /// another site's topic, or its own retained tree.
    pub fn is_response_topic_of(topic: &str, user: &str, site: &str) -> bool {
        let Some(rest) = topic.strip_prefix(ROOT).and_then(|r| r.strip_prefix("/clients/")) else {
            return false;
        };
        matches!(
            rest.split('/').collect::<Vec<_>>()[..],
            [u, client, "responses", s] if u == user && s == site && super::check_id("client id", client).is_ok()
        )
    }
    pub fn output_state(site: &str, output: &str) -> String {
        format!("{ROOT}/sites/{site}/outputs/{output}/state")
    }
    pub fn events(site: &str) -> String {
        format!("{ROOT}/sites/{site}/events")
    }
    /// Where `user` acknowledges `site`'s alerts.
    pub fn ack(site: &str, user: &str) -> String {
        format!("{ROOT}/sites/{site}/ack/{user}")
    }
    /// Where `user` asks `site` for past events.
    pub fn replay(site: &str, user: &str) -> String {
        format!("{ROOT}/sites/{site}/replay/{user}")
    }
    /// The user-level topics a site subscribes to: every user's commands (of every class,
    /// and on the topic without one), acknowledgements and replay requests.
    pub fn site_inputs(site: &str) -> [String; 4] {
        [
            format!("{ROOT}/sites/{site}/commands/+/+"),
            commands_unclassed(site, "+"),
            ack(site, "+"),
            replay(site, "+"),
        ]
    }
}

/// `…/catalog`: what a site has. Retained, QoS 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Catalog {
    pub v: u32,
    pub name: String,
    pub time_zone: String,
    #[serde(default = "default_supervision")]
    pub supervision_s: u32,
    #[serde(default)]
    pub armable: bool,
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub cameras: Vec<CameraEntry>,
    #[serde(default)]
    pub outputs: Vec<OutputEntry>,
    /// The site keeps its own roles table: it publishes each user's role on
    /// `…/roles/{user}` and refuses what a user's role does not allow. A client then shows
    /// and checks the role the site publishes, not the one its enrolment code carried.
    #[serde(default)]
    pub role_table: bool,
}

fn default_supervision() -> u32 {
    DEFAULT_SUPERVISION_S
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

/// A camera as the catalog lists it. The endpoints stay in Rust: they never reach the
/// web view (see `model::CameraView` for what does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraEntry {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub zone: Option<String>,
    pub main: String,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Siren,
    Light,
    Lock,
    Relay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputEntry {
    pub id: String,
    pub kind: OutputKind,
    pub name: String,
}

/// `…/status`: whether the site is up. Retained, QoS 1, and the site's Last Will.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub v: u32,
    pub state: LinkState,
    /// The site's clock at publication, ms since the Unix epoch. Informational: the client
    /// supervises with its own monotonic clock, so a wrong site clock does no harm.
    #[serde(default)]
    pub time: Option<u64>,
    #[serde(default)]
    pub armed: Option<ArmState>,
    /// Camera id → health, for the cameras the site watches.
    #[serde(default)]
    pub cameras: std::collections::BTreeMap<String, CameraHealth>,
    /// The newest event published, so that a client notices a lost *last* event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsHead>,
}

/// The head of a site's event stream: the epoch and sequence number of its newest event
/// (`last_seq` is 0 before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsHead {
    pub epoch: u64,
    pub last_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Online,
    Offline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ArmState {
    Disarmed,
    Armed,
    Partial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum CameraHealth {
    Ok,
    Fault,
    Offline,
}

/// `…/outputs/{output}/state`: what an output is doing. Retained, QoS 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    pub v: u32,
    pub state: OutputValue,
    /// When it took this state, ms since the Unix epoch (site clock).
    #[serde(default)]
    pub since: Option<u64>,
    /// The user who changed it, as the broker authenticated them; absent for the site itself.
    #[serde(default)]
    pub by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum OutputValue {
    On,
    Off,
    Locked,
    Unlocked,
}

/// A decoded message from a site.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Catalog {
        site: String,
        catalog: Catalog,
    },
    Status {
        site: String,
        status: Status,
    },
    OutputState {
        site: String,
        output: String,
        state: OutputState,
    },
    /// Retained state was cleared (an empty retained payload).
    Cleared {
        topic: Topic,
    },
    /// One event of the site's numbered stream (alerts, alert updates).
    Event {
        site: String,
        event: event::Event,
    },
    /// The role the site gives `user`.
    Role {
        site: String,
        user: String,
        grant: role::RoleGrant,
    },
}

/// Decodes one publish from the bus. An empty payload on a state topic means the site
/// cleared its retained message.
pub fn decode(topic: &str, payload: &[u8]) -> Result<Message, ProtocolError> {
    let parsed = Topic::parse(topic)?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(ProtocolError::TooLarge { size: payload.len(), limit: MAX_PAYLOAD_BYTES });
    }
    if payload.is_empty() {
        return Ok(match parsed {
            Topic::Events { .. } => return Err(invalid("event", "empty payload")),
            topic => Message::Cleared { topic },
        });
    }
    match parsed {
        Topic::Catalog { site } => {
            let catalog: Catalog = parse(payload)?;
            validate_catalog(&catalog)?;
            Ok(Message::Catalog { site, catalog })
        }
        Topic::Status { site } => {
            let status: Status = parse(payload)?;
            check_version(status.v)?;
            if status.cameras.len() > MAX_CAMERAS {
                return Err(invalid("cameras", format!("more than {MAX_CAMERAS} entries")));
            }
            for id in status.cameras.keys() {
                check_id("camera id", id)?;
            }
            if let Some(head) = status.events
                && (head.epoch > MAX_EVENT_NUMBER || head.last_seq > MAX_EVENT_NUMBER)
            {
                return Err(invalid("events", "out of range"));
            }
            Ok(Message::Status { site, status })
        }
        Topic::OutputState { site, output } => {
            let state: OutputState = parse(payload)?;
            check_version(state.v)?;
            if let Some(by) = &state.by {
                check_id("by", by)?;
            }
            Ok(Message::OutputState { site, output, state })
        }
        Topic::Events { site } => Ok(Message::Event { site, event: event::decode(payload)? }),
        Topic::Role { site, user } => {
            let grant: role::RoleGrant = parse(payload)?;
            Ok(Message::Role { site, user, grant })
        }
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, ProtocolError> {
    // First read only the version, so that a v2 payload gets "unsupported version" rather
    // than a confusing field error.
    #[derive(Deserialize)]
    struct Versioned {
        v: Option<serde_json::Value>,
    }
    let head: Versioned = serde_json::from_slice(payload).map_err(|e| malformed(&e))?;
    match head.v {
        None => return Err(invalid("v", "missing")),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => {}
        Some(serde_json::Value::Number(n)) => {
            return Err(ProtocolError::Version(
                n.as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(u32::MAX),
            ));
        }
        Some(_) => return Err(invalid("v", "must be a number")),
    }
    serde_json::from_slice(payload).map_err(|e| malformed(&e))
}

/// Describes a JSON error without quoting the payload: serde's messages repeat string
/// values ("invalid type: string \"rtsp://user:pw@…\""), and a payload may carry anything.
/// Missing and unknown field names come from our own schema, so those are kept.
fn malformed(e: &serde_json::Error) -> ProtocolError {
    let text = e.to_string();
    let what = if text.starts_with("missing field") {
        text.split(" at line").next().unwrap_or("missing field").to_owned()
    } else {
        match e.classify() {
            serde_json::error::Category::Syntax => "syntax error".to_owned(),
            serde_json::error::Category::Eof => "unexpected end".to_owned(),
            serde_json::error::Category::Io => "read error".to_owned(),
            serde_json::error::Category::Data => "a field has the wrong type or value".to_owned(),
        }
    };
    ProtocolError::Malformed(format!("{what} at line {} column {}", e.line(), e.column()))
}

fn check_version(v: u32) -> Result<(), ProtocolError> {
    if v == VERSION { Ok(()) } else { Err(ProtocolError::Version(v)) }
}

/// Checks everything a catalog promises beyond its JSON shape.
pub fn validate_catalog(c: &Catalog) -> Result<(), ProtocolError> {
    check_version(c.v)?;
    check_name("name", &c.name)?;
    if c.time_zone.is_empty() || c.time_zone.len() > 64 {
        return Err(invalid("time_zone", "must be an IANA time zone name"));
    }
    let (lo, hi) = SUPERVISION_RANGE_S;
    if !(lo..=hi).contains(&c.supervision_s) {
        return Err(invalid("supervision_s", format!("must be between {lo} and {hi}")));
    }
    if c.cameras.len() > MAX_CAMERAS {
        return Err(invalid("cameras", format!("more than {MAX_CAMERAS} entries")));
    }
    if c.outputs.len() > MAX_OUTPUTS {
        return Err(invalid("outputs", format!("more than {MAX_OUTPUTS} entries")));
    }
    if c.zones.len() > MAX_ZONES {
        return Err(invalid("zones", format!("more than {MAX_ZONES} entries")));
    }
    let mut zone_ids = HashSet::new();
    for z in &c.zones {
        check_id("zone id", &z.id)?;
        check_name("zone name", &z.name)?;
        if !zone_ids.insert(z.id.as_str()) {
            return Err(invalid("zone id", format!("`{}` appears twice", z.id)));
        }
    }
    let mut camera_ids = HashSet::new();
    for cam in &c.cameras {
        check_id("camera id", &cam.id)?;
        check_name("camera name", &cam.name)?;
        if !camera_ids.insert(cam.id.as_str()) {
            return Err(invalid("camera id", format!("`{}` appears twice", cam.id)));
        }
        if let Some(zone) = &cam.zone
            && !zone_ids.contains(zone.as_str())
        {
            return Err(invalid("camera zone", format!("camera `{}` names an unknown zone", cam.id)));
        }
        check_endpoint("camera main stream", &cam.main, &["rtsp", "rtsps"])?;
        if let Some(sub) = &cam.sub {
            check_endpoint("camera sub stream", sub, &["rtsp", "rtsps"])?;
        }
        if let Some(snap) = &cam.snapshot {
            check_endpoint("camera snapshot", snap, &["http", "https"])?;
        }
    }
    let mut output_ids = HashSet::new();
    for o in &c.outputs {
        check_id("output id", &o.id)?;
        check_name("output name", &o.name)?;
        if !output_ids.insert(o.id.as_str()) {
            return Err(invalid("output id", format!("`{}` appears twice", o.id)));
        }
    }
    Ok(())
}

/// Encodes a payload for publication (used by the simulator and tests).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_topics_name_the_user_the_device_and_the_site() {
        let topic = topics::responses("aiko", "phone-1", "hq");
        assert_eq!(topic, "mimamori/v1/clients/aiko/phone-1/responses/hq");
        assert_eq!(topics::response_site(&topic, "aiko", "phone-1"), Some("hq"));
        assert_eq!(topics::response_site(&topic, "ken", "phone-1"), None);
        assert_eq!(topics::response_site(&topic, "aiko", "phone"), None);
        assert_eq!(
            topics::response_site("mimamori/v1/clients/aiko/phone-1/responses/a/b", "aiko", "phone-1"),
            None
        );
        assert!(topics::is_response_topic_of(&topic, "aiko", "hq"));
        for foreign in [
            topics::responses("ken", "phone-1", "hq"),
            topics::responses("aiko", "phone-1", "shop"),
            "mimamori/v1/clients/aiko/phone-1/responses".to_owned(),
            "mimamori/v1/sites/hq/status".to_owned(),
            "mimamori/v1/clients/aiko/+/responses/hq".to_owned(),
            "mimamori/v1/clients/aiko/phone-1/responses/hq/x".to_owned(),
        ] {
            assert!(!topics::is_response_topic_of(&foreign, "aiko", "hq"), "{foreign}");
        }
    }

    #[test]
    fn request_ids_are_long_random_and_valid() {
        let (a, b) = (new_request_id('r'), new_request_id('r'));
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 + 32);
        assert!(check_id("request id", &a).is_ok());
    }

    const HQ: &str = "mimamori/v1/sites/hq/catalog";

    fn catalog_json() -> serde_json::Value {
        serde_json::json!({
            "v": 1,
            "name": "本社",
            "time_zone": "Asia/Tokyo",
            "supervision_s": 60,
            "armable": true,
            "zones": [{"id": "lobby", "name": "ロビー"}],
            "cameras": [{
                "id": "cam-1", "name": "Entrance", "zone": "lobby",
                "main": "rtsp://10.0.0.5:554/main", "sub": "rtsp://10.0.0.5:554/sub",
                "snapshot": "http://10.0.0.5/snap.jpg"
            }],
            "outputs": [{"id": "siren", "kind": "siren", "name": "Siren"}],
            "future_field": {"ignored": true}
        })
    }

    fn decode_json(topic: &str, v: &serde_json::Value) -> Result<Message, ProtocolError> {
        decode(topic, &serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn valid_catalog_with_unknown_fields_decodes() {
        let Message::Catalog { site, catalog } = decode_json(HQ, &catalog_json()).unwrap() else {
            panic!("not a catalog")
        };
        assert_eq!(site, "hq");
        assert_eq!(catalog.name, "本社");
        assert_eq!(catalog.supervision_s, 60);
        assert_eq!(catalog.cameras[0].zone.as_deref(), Some("lobby"));
        assert_eq!(catalog.outputs[0].kind, OutputKind::Siren);
    }

    #[test]
    fn supervision_defaults_to_90_s() {
        let mut c = catalog_json();
        c.as_object_mut().unwrap().remove("supervision_s");
        let Message::Catalog { catalog, .. } = decode_json(HQ, &c).unwrap() else { panic!() };
        assert_eq!(catalog.supervision_s, 90);
    }

    #[test]
    fn missing_required_field_is_rejected_with_its_name() {
        let mut c = catalog_json();
        c.as_object_mut().unwrap().remove("name");
        let err = decode_json(HQ, &c).unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
    }

    #[test]
    fn missing_or_other_version_is_rejected() {
        let mut c = catalog_json();
        c["v"] = 2.into();
        assert_eq!(decode_json(HQ, &c).unwrap_err(), ProtocolError::Version(2));
        c.as_object_mut().unwrap().remove("v");
        assert!(matches!(decode_json(HQ, &c).unwrap_err(), ProtocolError::Invalid { field: "v", .. }));
        c["v"] = "1".into();
        assert!(matches!(decode_json(HQ, &c).unwrap_err(), ProtocolError::Invalid { field: "v", .. }));
    }

    #[test]
    fn oversized_payload_is_rejected_unread() {
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(decode(HQ, &big), Err(ProtocolError::TooLarge { .. })));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in [&b"{"[..], b"null", b"[]", b"\xff\xfe", b"{\"v\":1,\"name\":5}", b"1e999999"] {
            assert!(decode(HQ, junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        let mut deep = String::from("{\"v\":1,\"x\":");
        deep.push_str(&"[".repeat(10_000));
        deep.push_str(&"]".repeat(10_000));
        deep.push('}');
        assert!(decode(HQ, deep.as_bytes()).is_err());
    }

    #[test]
    fn credentials_in_endpoints_are_refused_without_echoing_them() {
        let mut c = catalog_json();
        c["cameras"][0]["main"] = "rtsp://admin:CANARY-hunter2@10.0.0.5/main".into();
        let err = decode_json(HQ, &c).unwrap_err().to_string();
        assert!(err.contains("credentials"), "{err}");
        assert!(!err.contains("CANARY"), "{err}");
    }

    #[test]
    fn errors_never_quote_payload_values() {
        let mut c = catalog_json();
        c["outputs"][0]["kind"] = "CANARY-secret-kind".into();
        let err = decode_json(HQ, &c).unwrap_err().to_string();
        assert!(!err.contains("CANARY"), "{err}");
        c["outputs"][0]["kind"] = "siren".into();
        c["cameras"][0]["name"] = serde_json::json!(["CANARY"]);
        let err = decode_json(HQ, &c).unwrap_err().to_string();
        assert!(!err.contains("CANARY") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn limits_are_enforced() {
        let mut c = catalog_json();
        let cam = c["cameras"][0].clone();
        c["cameras"] = (0..=MAX_CAMERAS)
            .map(|i| {
                let mut cam = cam.clone();
                cam["id"] = format!("c{i}").into();
                cam
            })
            .collect::<Vec<_>>()
            .into();
        assert!(decode_json(HQ, &c).unwrap_err().to_string().contains("cameras"));
    }

    #[test]
    fn bad_ids_duplicates_and_unknown_zones_are_refused() {
        let mut c = catalog_json();
        c["cameras"][0]["id"] = "a/b".into();
        assert!(decode_json(HQ, &c).is_err());
        let mut c = catalog_json();
        c["outputs"] =
            serde_json::json!([{"id":"x","kind":"siren","name":"A"},{"id":"x","kind":"light","name":"B"}]);
        assert!(decode_json(HQ, &c).unwrap_err().to_string().contains("twice"));
        let mut c = catalog_json();
        c["cameras"][0]["zone"] = "nowhere".into();
        assert!(decode_json(HQ, &c).unwrap_err().to_string().contains("zone"));
        let mut c = catalog_json();
        c["outputs"][0]["kind"] = "laser".into();
        assert!(decode_json(HQ, &c).is_err());
    }

    #[test]
    fn topics_parse_and_reject() {
        assert_eq!(
            Topic::parse("mimamori/v1/sites/hq/outputs/siren/state").unwrap(),
            Topic::OutputState { site: "hq".into(), output: "siren".into() }
        );
        for bad in [
            "mimamori/v2/sites/hq/catalog",
            "mimamori/v1/sites/hq",
            "mimamori/v1/sites/hq/catalog/extra",
            "mimamori/v1/sites//catalog",
            "mimamori/v1/sites/hq/outputs/+/state",
            "other/topic",
        ] {
            assert!(Topic::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(topics::output_state("hq", "siren"), "mimamori/v1/sites/hq/outputs/siren/state");
    }

    #[test]
    fn status_and_output_state_decode() {
        let s = serde_json::json!({"v":1,"state":"online","time":1,"armed":"partial","cameras":{"cam-1":"fault"}});
        let Message::Status { status, .. } = decode_json("mimamori/v1/sites/hq/status", &s).unwrap() else {
            panic!()
        };
        assert_eq!(status.armed, Some(ArmState::Partial));
        assert_eq!(status.cameras["cam-1"], CameraHealth::Fault);
        let o = serde_json::json!({"v":1,"state":"locked","since":5,"by":"aiko"});
        let Message::OutputState { output, state, .. } =
            decode_json("mimamori/v1/sites/hq/outputs/door/state", &o).unwrap()
        else {
            panic!()
        };
        assert_eq!((output.as_str(), state.state), ("door", OutputValue::Locked));
        let bad = serde_json::json!({"v":1,"state":"sideways"});
        assert!(decode_json("mimamori/v1/sites/hq/outputs/door/state", &bad).is_err());
    }

    #[test]
    fn empty_retained_payload_clears() {
        assert!(matches!(decode("mimamori/v1/sites/hq/status", b""), Ok(Message::Cleared { .. })));
    }

    #[test]
    fn encode_round_trips() {
        let Message::Catalog { catalog, .. } = decode_json(HQ, &catalog_json()).unwrap() else { panic!() };
        let again = decode(HQ, &encode(&catalog)).unwrap();
        assert_eq!(again, Message::Catalog { site: "hq".into(), catalog });
    }
}
