//! From sensor readings to alerts (`docs/gateway.md`, Sensors): a door that opens or
//! motion, in a zone armed in the site's current state; smoke, water, tamper and a low
//! battery at any time; a door held open longer than its limit at any time; a sensor that
//! stops answering. An alert is raised on a change: a retained message (old news, as at
//! start-up) only sets what is known, and the same alert from one sensor within its
//! cooldown is not raised again (a flapping contact).

use crate::config::{Sensor, ZoneSection};
use crate::zigbee2mqtt::Reading;
use mimamori_protocol::ArmState;
use mimamori_protocol::event::AlertKind;
use mimamori_site::Raise;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The words of alert titles, in the site's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ja,
}

/// What happened, for a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum What {
    Opened,
    HeldOpen,
    Motion,
    Tamper,
    Smoke,
    Water,
    Battery,
    Offline,
}

impl What {
    fn kind(self) -> AlertKind {
        match self {
            What::Opened | What::HeldOpen => AlertKind::Door,
            What::Motion => AlertKind::Intrusion,
            What::Tamper => AlertKind::Tamper,
            What::Smoke => AlertKind::Fire,
            What::Water => AlertKind::Sensor,
            What::Battery | What::Offline => AlertKind::System,
        }
    }

    fn words(self, lang: Language) -> &'static str {
        match (lang, self) {
            (Language::En, What::Opened) => "opened",
            (Language::En, What::HeldOpen) => "held open",
            (Language::En, What::Motion) => "motion",
            (Language::En, What::Tamper) => "tamper",
            (Language::En, What::Smoke) => "smoke",
            (Language::En, What::Water) => "water leak",
            (Language::En, What::Battery) => "battery low",
            (Language::En, What::Offline) => "not responding",
            (Language::Ja, What::Opened) => "扉開放",
            (Language::Ja, What::HeldOpen) => "扉開放継続",
            (Language::Ja, What::Motion) => "侵入検知",
            (Language::Ja, What::Tamper) => "いたずら検知",
            (Language::Ja, What::Smoke) => "火災検知",
            (Language::Ja, What::Water) => "漏水検知",
            (Language::Ja, What::Battery) => "電池残量低下",
            (Language::Ja, What::Offline) => "応答なし",
        }
    }
}

#[derive(Default)]
struct State {
    known: Reading,
    available: Option<bool>,
    open_since: Option<Instant>,
    held_raised: bool,
    raised: HashMap<What, Instant>,
}

/// Which zones are armed in which of the site's armed states.
#[derive(Debug, Clone, Default)]
pub struct Zones(HashMap<String, Vec<ArmState>>);

impl Zones {
    pub fn new(zones: &[ZoneSection]) -> Zones {
        Zones(zones.iter().map(|z| (z.id.clone(), z.armed_in.clone())).collect())
    }

    /// Whether doors and motion in `zone` alert in `armed` (outside any zone: whenever
    /// the site is armed at all).
    pub fn armed(&self, zone: Option<&str>, armed: ArmState) -> bool {
        match zone.and_then(|z| self.0.get(z)) {
            Some(states) => states.contains(&armed),
            None => armed != ArmState::Disarmed,
        }
    }
}

/// The title of an alert for `label` (Frigate's `person`, `car`, …) seen by `camera`.
pub fn sighting_title(language: Language, camera: &str, label: &str) -> String {
    match language {
        Language::En => format!("{camera}: {label}"),
        Language::Ja => {
            let what = match label {
                "person" => "人物",
                "car" => "車両",
                other => other,
            };
            format!("{camera} {what}検知")
        }
    }
}

/// The title of an alert for the alarm panel sounding.
pub fn triggered_title(language: Language, site: &str) -> String {
    match language {
        Language::En => format!("{site}: alarm triggered"),
        Language::Ja => format!("{site} 警報発報"),
    }
}

/// Every sensor of the site, with what is known of it.
pub struct Sensors {
    sensors: HashMap<String, (Sensor, State)>,
    zones: Zones,
    language: Language,
}

impl Sensors {
    pub fn new(sensors: &[Sensor], zones: &[ZoneSection], language: Language) -> Sensors {
        Sensors {
            sensors: sensors.iter().map(|s| (s.device.clone(), (s.clone(), State::default()))).collect(),
            zones: Zones::new(zones),
            language,
        }
    }

    pub fn knows(&self, device: &str) -> bool {
        self.sensors.contains_key(device)
    }

    /// A state message from `device`; `retained`: the broker's remembered copy.
    pub fn on_reading(
        &mut self,
        device: &str,
        r: &Reading,
        retained: bool,
        armed: ArmState,
        now: Instant,
    ) -> Vec<Raise> {
        let Some((sensor, state)) = self.sensors.get(device) else { return Vec::new() };
        let sensor = sensor.clone();
        let armed_here = self.zones.armed(sensor.zone.as_deref(), armed);
        let old = state.known.clone();
        // A change into `to`, not old news.
        let rises =
            |old: Option<bool>, new: Option<bool>, to: bool| !retained && new == Some(to) && old != Some(to);
        let mut what = Vec::new();
        if rises(old.contact, r.contact, false) && old.contact.is_some() && armed_here {
            what.push(What::Opened);
        }
        if rises(old.occupancy, r.occupancy, true) && armed_here {
            what.push(What::Motion);
        }
        for (o, n, w) in [
            (old.tamper, r.tamper, What::Tamper),
            (old.smoke, r.smoke, What::Smoke),
            (old.water_leak, r.water_leak, What::Water),
            (old.battery_low, r.battery_low, What::Battery),
        ] {
            if rises(o, n, true) {
                what.push(w);
            }
        }
        let (_, state) = self.sensors.get_mut(device).expect("looked up above");
        let merge = |known: &mut Option<bool>, new: Option<bool>| {
            if new.is_some() {
                *known = new;
            }
        };
        merge(&mut state.known.contact, r.contact);
        merge(&mut state.known.occupancy, r.occupancy);
        merge(&mut state.known.tamper, r.tamper);
        merge(&mut state.known.smoke, r.smoke);
        merge(&mut state.known.water_leak, r.water_leak);
        merge(&mut state.known.battery_low, r.battery_low);
        match r.contact {
            Some(false) if state.open_since.is_none() => state.open_since = Some(now),
            Some(true) => {
                state.open_since = None;
                state.held_raised = false;
            }
            _ => {}
        }
        self.raise(device, what, now)
    }

    /// An availability message from `device`.
    pub fn on_availability(
        &mut self,
        device: &str,
        online: bool,
        retained: bool,
        now: Instant,
    ) -> Vec<Raise> {
        let Some((_, state)) = self.sensors.get_mut(device) else { return Vec::new() };
        let was = state.available.replace(online);
        if !online && was == Some(true) && !retained {
            return self.raise(device, vec![What::Offline], now);
        }
        Vec::new()
    }

    /// Doors open past their limit, armed or not.
    pub fn tick(&mut self, now: Instant) -> Vec<Raise> {
        let mut due = Vec::new();
        for (device, (sensor, state)) in &mut self.sensors {
            let (Some(since), Some(limit)) = (state.open_since, sensor.held_open_s) else { continue };
            if !state.held_raised && now.duration_since(since) >= Duration::from_secs(u64::from(limit)) {
                state.held_raised = true;
                due.push(device.clone());
            }
        }
        due.into_iter().flat_map(|d| self.raise(&d, vec![What::HeldOpen], now)).collect()
    }

    fn raise(&mut self, device: &str, what: Vec<What>, now: Instant) -> Vec<Raise> {
        let Some((sensor, state)) = self.sensors.get_mut(device) else { return Vec::new() };
        let cooldown = Duration::from_secs(u64::from(sensor.cooldown_s));
        let mut out = Vec::new();
        for w in what {
            if state.raised.get(&w).is_some_and(|at| now.duration_since(*at) < cooldown) {
                tracing::info!(sensor = %device, "a repeated {:?} within the cooldown was not raised again", w.kind());
                continue;
            }
            state.raised.insert(w, now);
            out.push(Raise {
                kind: w.kind(),
                zone: sensor.zone.clone(),
                title: match self.language {
                    Language::En => format!("{}: {}", sensor.name, w.words(self.language)),
                    Language::Ja => format!("{} {}", sensor.name, w.words(self.language)),
                },
                cameras: sensor.camera.iter().cloned().collect(),
                snapshot: None,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door() -> Sensor {
        Sensor {
            device: "front_door".into(),
            name: "Front door".into(),
            zone: Some("lobby".into()),
            camera: Some("entrance".into()),
            held_open_s: Some(60),
            cooldown_s: 30,
        }
    }

    fn sensors() -> Sensors {
        let lobby = ZoneSection { id: "lobby".into(), name: "Lobby".into(), armed_in: vec![ArmState::Armed] };
        Sensors::new(&[door()], &[lobby], Language::En)
    }

    fn contact(closed: bool) -> Reading {
        Reading { contact: Some(closed), ..Reading::default() }
    }

    #[test]
    fn a_door_raises_an_alert_when_its_zone_is_armed_and_not_again_while_it_flaps() {
        let mut s = sensors();
        let t = Instant::now();
        assert!(s.on_reading("front_door", &contact(true), true, ArmState::Armed, t).is_empty(), "old news");
        let a = s.on_reading("front_door", &contact(false), false, ArmState::Armed, t);
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].kind, a[0].title.as_str(), a[0].cameras.clone()),
            (AlertKind::Door, "Front door: opened", vec!["entrance".to_owned()])
        );
        // Flapping: closed and open again within the cooldown.
        s.on_reading("front_door", &contact(true), false, ArmState::Armed, t + Duration::from_secs(1));
        assert!(
            s.on_reading("front_door", &contact(false), false, ArmState::Armed, t + Duration::from_secs(2))
                .is_empty()
        );
        s.on_reading("front_door", &contact(true), false, ArmState::Armed, t + Duration::from_secs(40));
        assert_eq!(
            s.on_reading("front_door", &contact(false), false, ArmState::Armed, t + Duration::from_secs(41))
                .len(),
            1
        );
        // Disarmed, or armed only partially (the lobby is armed when away): nothing.
        s.on_reading("front_door", &contact(true), false, ArmState::Disarmed, t + Duration::from_secs(100));
        assert!(
            s.on_reading(
                "front_door",
                &contact(false),
                false,
                ArmState::Disarmed,
                t + Duration::from_secs(200)
            )
            .is_empty()
        );
        s.on_reading("front_door", &contact(true), false, ArmState::Partial, t + Duration::from_secs(300));
        assert!(
            s.on_reading(
                "front_door",
                &contact(false),
                false,
                ArmState::Partial,
                t + Duration::from_secs(400)
            )
            .is_empty()
        );
    }

    #[test]
    fn a_door_held_open_and_smoke_raise_alerts_whatever_the_arming() {
        let mut s = sensors();
        let t = Instant::now();
        s.on_reading("front_door", &contact(true), false, ArmState::Disarmed, t);
        s.on_reading("front_door", &contact(false), false, ArmState::Disarmed, t);
        assert!(s.tick(t + Duration::from_secs(59)).is_empty());
        let held = s.tick(t + Duration::from_secs(60));
        assert_eq!((held.len(), held[0].title.as_str()), (1, "Front door: held open"));
        assert!(s.tick(t + Duration::from_secs(120)).is_empty(), "once per opening");
        let smoke = Reading { smoke: Some(true), battery_low: Some(false), ..Reading::default() };
        let a = s.on_reading("front_door", &smoke, false, ArmState::Disarmed, t);
        assert_eq!(a.iter().map(|a| a.kind).collect::<Vec<_>>(), [AlertKind::Fire]);
        assert!(s.on_reading("unknown", &smoke, false, ArmState::Armed, t).is_empty());
        // Going offline, after having been online.
        assert!(s.on_availability("front_door", true, true, t).is_empty());
        let off = s.on_availability("front_door", false, false, t);
        assert_eq!(off[0].kind, AlertKind::System);
    }
}
