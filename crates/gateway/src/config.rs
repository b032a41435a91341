//! The gateway's configuration: one TOML file (`docs/gateway.md`, Configuration). Every
//! mistake is reported with its line and field, and nothing secret is in it: passwords
//! and codes are named here and read from the secrets (`secrets.rs`).

use mimamori_core::bus::BrokerAddress;
use mimamori_protocol::role::Role;
use mimamori_protocol::{
    self as protocol, ArmState, CameraEntry, Catalog, OutputEntry, OutputKind, Zone, check_id,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The configuration as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: SiteSection,
    pub central: Central,
    /// Who may do what at this site: user → viewer, operator or admin.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// The site's own broker, where Zigbee2MQTT and the MQTT switches are.
    #[serde(default)]
    pub local: Option<Local>,
    #[serde(default)]
    pub zigbee2mqtt: Zigbee2Mqtt,
    /// Frigate, on the site's broker.
    #[serde(default)]
    pub frigate: Option<crate::frigate::FrigateSection>,
    /// An alarm panel on the site's broker, which then keeps the armed state.
    #[serde(default)]
    pub alarm_panel: Option<crate::panel::PanelSection>,
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSection>,
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraSection>,
    #[serde(default, rename = "sensor")]
    pub sensors: Vec<Sensor>,
    #[serde(default, rename = "output")]
    pub outputs: Vec<Output>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    #[serde(default = "default_supervision")]
    pub supervision_s: u32,
    /// The site's store (events, answered requests, command log, the armed state).
    pub store: PathBuf,
    /// Whether users may arm and disarm from the app (the gateway keeps the armed state).
    #[serde(default = "yes")]
    pub armable: bool,
    /// The language of alert titles: `en` or `ja`.
    #[serde(default)]
    pub language: crate::sensors::Language,
}

fn default_supervision() -> u32 {
    protocol::DEFAULT_SUPERVISION_S
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Central {
    /// `mqtts://host:port` (plain `mqtt://` only to a loopback address).
    pub url: String,
    /// Broker user; `site-{id}` when omitted. Its password is the secret `central-password`.
    #[serde(default)]
    pub user: Option<String>,
    /// The CA certificate (PEM) the broker's certificate must chain to: the only one
    /// trusted.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Local {
    /// `mqtt://host:port` of the site's broker.
    pub url: String,
    /// Its user, if it wants one; the password is the secret `local-password`.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zigbee2Mqtt {
    #[serde(default = "z2m_base")]
    pub base_topic: String,
}

impl Default for Zigbee2Mqtt {
    fn default() -> Self {
        Zigbee2Mqtt { base_topic: z2m_base() }
    }
}

fn z2m_base() -> String {
    "zigbee2mqtt".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSection {
    pub id: String,
    pub name: String,
    /// The armed states in which a door or motion here raises an alert: `armed` (away),
    /// `partial` (home, night). Fire, water, tamper and batteries raise alerts always.
    #[serde(default = "armed_only")]
    pub armed_in: Vec<ArmState>,
}

fn armed_only() -> Vec<ArmState> {
    vec![ArmState::Armed]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSection {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub zone: Option<String>,
    /// The main stream, `rtsp://…` (no credentials in the URL: clients get them at
    /// enrolment).
    pub main: String,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub snapshot: Option<String>,
    /// The camera's name in Frigate, whose detections there become alerts here.
    #[serde(default)]
    pub frigate: Option<String>,
}

/// A Zigbee2MQTT sensor (door contact, motion, smoke, water, anything with tamper or a
/// battery).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// Its Zigbee2MQTT friendly name.
    pub device: String,
    pub name: String,
    #[serde(default)]
    pub zone: Option<String>,
    /// The camera that sees it: its alerts name that camera.
    #[serde(default)]
    pub camera: Option<String>,
    /// A door open this long raises a "held open" alert, armed or not.
    #[serde(default)]
    pub held_open_s: Option<u32>,
    /// The same alert from this sensor again within this time is not raised again
    /// (a flapping contact).
    #[serde(default = "default_cooldown")]
    pub cooldown_s: u32,
}

fn default_cooldown() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub id: String,
    pub kind: OutputKind,
    pub name: String,
    /// A Zigbee2MQTT device switched with `{"state": "ON"|"OFF"}`, or the `set`
    /// payloads given here.
    #[serde(default)]
    pub zigbee2mqtt: Option<String>,
    /// Any MQTT switch on the site's broker.
    #[serde(default)]
    pub mqtt: Option<MqttSwitch>,
    /// How long the device has to confirm a switch before the command is `failed`.
    #[serde(default = "default_confirm")]
    pub confirm_s: u32,
}

fn default_confirm() -> u32 {
    5
}

/// A switch by topics and payloads. `on`/`off` (or `lock`/`unlock`) are sent on
/// `command_topic`; the device's state on `state_topic` is matched against `state_on` /
/// `state_off`, either the whole payload or, with `state_field`, one field of its JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSwitch {
    pub command_topic: String,
    pub state_topic: String,
    #[serde(default)]
    pub state_field: Option<String>,
    /// Sent to switch on (or unlock).
    pub on: String,
    /// Sent to switch off (or lock).
    pub off: String,
    pub state_on: String,
    pub state_off: String,
}

/// A configuration error, with the line it is on when it has one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {field}: {message}")]
    Invalid { path: String, field: String, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a configuration; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            // toml names the line and column, and quotes the line.
            let message = e.to_string().trim_end().replace("TOML parse error at ", "");
            ConfigError::Syntax { path: path.to_owned(), message }
        })?;
        config.validate().map_err(|m| {
            let field = match line_of(text, m.field, &m.value) {
                Some(line) => format!("line {line}, {}", m.field),
                None => m.field.to_owned(),
            };
            ConfigError::Invalid { path: path.to_owned(), field, message: m.message }
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Mistake> {
        let id = |field: &'static str, value: &str| {
            check_id(field, value).map_err(|e| Mistake::at(field, value, e.to_string()))
        };
        id("site.id", &self.site.id)?;
        let (lo, hi) = protocol::SUPERVISION_RANGE_S;
        if !(lo..=hi).contains(&self.site.supervision_s) {
            return Err(Mistake::at("site.supervision_s", "", format!("must be {lo} to {hi} seconds")));
        }
        let central = self.central_address().map_err(|e| Mistake::at("central.url", &self.central.url, e))?;
        if central.tls && self.central.ca.is_none() {
            return Err(Mistake::at(
                "central.ca",
                "",
                "an mqtts broker needs the CA certificate it is checked against".into(),
            ));
        }
        if let Some(local) = &self.local {
            local
                .url
                .parse::<BrokerAddress>()
                .map_err(|e| Mistake::at("local.url", &local.url, e.to_string()))?;
        }
        for user in self.roles.keys() {
            id("roles", user)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut once = |field: &'static str, value: &str| {
            if seen.insert((field, value.to_owned())) {
                Ok(())
            } else {
                Err(Mistake::at(field, value, format!("`{value}` is listed twice")))
            }
        };
        for z in &self.zones {
            id("zone.id", &z.id)?;
            once("zone.id", &z.id)?;
        }
        let zone = |field: &'static str, z: &Option<String>| match z {
            Some(z) if !self.zones.iter().any(|x| &x.id == z) => {
                Err(Mistake::at(field, z, format!("no zone `{z}`")))
            }
            _ => Ok(()),
        };
        for c in &self.cameras {
            id("camera.id", &c.id)?;
            once("camera.id", &c.id)?;
            zone("camera.zone", &c.zone)?;
            plain_endpoint("camera.main", &c.main, "rtsp")?;
            if let Some(sub) = &c.sub {
                plain_endpoint("camera.sub", sub, "rtsp")?;
            }
            if let Some(snapshot) = &c.snapshot {
                plain_endpoint("camera.snapshot", snapshot, "http")?;
            }
        }
        for s in &self.sensors {
            if s.device.is_empty() || s.device.contains(['+', '#']) {
                return Err(Mistake::at("sensor.device", &s.device, "not a Zigbee2MQTT device name".into()));
            }
            once("sensor.device", &s.device)?;
            zone("sensor.zone", &s.zone)?;
            if let Some(c) = &s.camera
                && !self.cameras.iter().any(|x| &x.id == c)
            {
                return Err(Mistake::at("sensor.camera", c, format!("no camera `{c}`")));
            }
        }
        for o in &self.outputs {
            id("output.id", &o.id)?;
            once("output.id", &o.id)?;
            if o.zigbee2mqtt.is_some() == o.mqtt.is_some() {
                return Err(Mistake::at("output.id", &o.id, "needs one of zigbee2mqtt or mqtt".into()));
            }
            if !(1..=60).contains(&o.confirm_s) {
                return Err(Mistake::at("output.confirm_s", "", "must be 1 to 60 seconds".into()));
            }
        }
        if (!self.sensors.is_empty() || !self.outputs.is_empty()) && self.local.is_none() {
            return Err(Mistake::at(
                "local",
                "",
                "sensors and outputs need the site's broker ([local] url)".into(),
            ));
        }
        // The catalog must be one clients accept.
        let catalog = protocol::encode(&self.catalog());
        protocol::decode(&protocol::topics::catalog(&self.site.id), &catalog)
            .map_err(|e| Mistake::at("site", "", format!("the catalog would be refused: {e}")))?;
        Ok(())
    }

    /// The central broker's address, plain only on loopback.
    pub fn central_address(&self) -> Result<BrokerAddress, String> {
        let a = self.central.url.parse::<BrokerAddress>().map_err(|e| e.to_string())?;
        if !a.tls && !a.is_loopback() {
            return Err("plain mqtt:// only to a broker on this machine; use mqtts://".into());
        }
        Ok(a)
    }

    /// The site's catalog, as clients see it.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            v: protocol::VERSION,
            name: self.site.name.clone(),
            time_zone: self.site.time_zone.clone(),
            supervision_s: self.site.supervision_s,
            armable: self.site.armable,
            zones: self.zones.iter().map(|z| Zone { id: z.id.clone(), name: z.name.clone() }).collect(),
            cameras: self
                .cameras
                .iter()
                .map(|c| CameraEntry {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    zone: c.zone.clone(),
                    main: c.main.clone(),
                    sub: c.sub.clone(),
                    snapshot: c.snapshot.clone(),
                })
                .collect(),
            outputs: self
                .outputs
                .iter()
                .map(|o| OutputEntry { id: o.id.clone(), kind: o.kind, name: o.name.clone() })
                .collect(),
            role_table: true,
        }
    }
}

/// A camera address in the one scheme clients play today: `rtsp://` streams, `http://`
/// snapshots, on the site's network. Their TLS forms (`rtsps://`, `https://`) are refused
/// with the reason, not published to clients that would refuse them in turn.
fn plain_endpoint(field: &'static str, url: &str, scheme: &str) -> Result<(), Mistake> {
    match url.split_once("://") {
        Some((s, _)) if s == scheme => Ok(()),
        Some((s, _)) if s == format!("{scheme}s") => Err(Mistake::at(
            field,
            url,
            format!(
                "{s}:// is not supported yet: clients play {scheme}:// on the site's network (the site's own encrypted video is to come)"
            ),
        )),
        _ => Err(Mistake::at(field, url, format!("must be an {scheme}:// address"))),
    }
}

/// A mistake found after parsing: the field, the value it has, and what is wrong.
struct Mistake {
    field: &'static str,
    value: String,
    message: String,
}

impl Mistake {
    fn at(field: &'static str, value: &str, message: String) -> Mistake {
        Mistake { field, value: value.to_owned(), message }
    }
}

/// The line that sets `field`'s last part to `value` (or, without a value, the first that
/// sets it), for pointing at a mistake found after parsing.
fn line_of(text: &str, field: &str, value: &str) -> Option<usize> {
    let key = field.rsplit('.').next()?;
    text.lines()
        .position(|l| {
            let Some(rest) = l.trim_start().strip_prefix(key) else { return false };
            let Some(v) = rest.trim_start().strip_prefix('=') else { return false };
            value.is_empty() || v.trim().trim_matches(['"', '\'']) == value
        })
        .map(|i| i + 1)
}
