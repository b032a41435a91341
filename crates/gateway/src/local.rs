//! The site's own broker: where Zigbee2MQTT and the MQTT switches are. One connection
//! reads every configured device's messages and hands them on (sensors → alerts, output
//! states → the site and the switches waiting for them); it never waits on a device, so
//! a device that hangs or talks nonsense costs only its own messages.

use crate::config::Config;
use crate::frigate::{self, FrigateSection, Seen};
use crate::outputs::{GatewayOutputs, is_active};
use crate::panel::{self, PanelSection, PanelState};
use crate::pictures;
use crate::sensors::{Language, Sensors, Zones, sighting_title, triggered_title};
use crate::zigbee2mqtt;
use mimamori_core::video::Credentials;
use mimamori_protocol::event::AlertKind;
use mimamori_protocol::{ArmState, OutputKind, OutputValue};
use mimamori_site::Raise;
use mimamori_site::{Input, Reporter};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a topic of the site's broker is to the gateway.
#[derive(Debug, Clone)]
enum Source {
    Sensor(String),
    Availability(String),
    /// An output's state: its id, kind, and how to read it (`None`: Zigbee2MQTT's
    /// `state`; else the field and the words for on and off).
    OutputState {
        id: String,
        kind: OutputKind,
        read: Option<(Option<String>, String, String)>,
    },
    /// Frigate's reviews or events.
    Frigate,
    /// The alarm panel's state.
    Panel,
}

/// A camera as Frigate names it: its id, name and zone here.
#[derive(Debug, Clone)]
struct FrigateCamera {
    id: String,
    name: String,
    zone: Option<String>,
}

pub struct Local {
    client: AsyncClient,
    sources: HashMap<String, Vec<Source>>,
    sensors: Sensors,
    zones: Zones,
    language: Language,
    site_name: String,
    frigate: Option<FrigateSection>,
    frigate_cameras: HashMap<String, FrigateCamera>,
    /// What Frigate published on its snapshot topics.
    frigate_pictures: frigate::Pictures,
    seen: Seen,
    panel: Option<PanelSection>,
    panel_state: Option<PanelState>,
    /// Cameras with a snapshot address: where, and with which credentials.
    snapshots: HashMap<String, (url::Url, Option<Arc<Credentials>>)>,
    outputs: Arc<GatewayOutputs>,
    site: Reporter,
    armed: watch::Receiver<ArmState>,
}

impl Local {
    pub fn new(
        config: &Config,
        client: AsyncClient,
        outputs: Arc<GatewayOutputs>,
        site: Reporter,
        armed: watch::Receiver<ArmState>,
        mut credentials: HashMap<String, Credentials>,
    ) -> Local {
        let base = &config.zigbee2mqtt.base_topic;
        let mut sources: HashMap<String, Vec<Source>> = HashMap::new();
        for s in &config.sensors {
            sources.entry(format!("{base}/{}", s.device)).or_default().push(Source::Sensor(s.device.clone()));
            sources
                .entry(format!("{base}/{}/availability", s.device))
                .or_default()
                .push(Source::Availability(s.device.clone()));
        }
        for o in &config.outputs {
            let (topic, read) = match (&o.zigbee2mqtt, &o.mqtt) {
                (Some(device), _) => (format!("{base}/{device}"), None),
                (None, Some(m)) => (
                    m.state_topic.clone(),
                    Some((m.state_field.clone(), m.state_on.clone(), m.state_off.clone())),
                ),
                (None, None) => continue,
            };
            sources.entry(topic).or_default().push(Source::OutputState {
                id: o.id.clone(),
                kind: o.kind,
                read,
            });
        }
        if let Some(f) = &config.frigate {
            let topic = match f.source {
                frigate::Source::Reviews => format!("{}/reviews", f.topic_prefix),
                frigate::Source::Events => format!("{}/events", f.topic_prefix),
            };
            sources.entry(topic).or_default().push(Source::Frigate);
        }
        if let Some(p) = &config.alarm_panel {
            sources.entry(p.state_topic.clone()).or_default().push(Source::Panel);
        }
        let frigate_cameras = config
            .cameras
            .iter()
            .filter_map(|c| {
                let name = c.frigate.clone()?;
                Some((name, FrigateCamera { id: c.id.clone(), name: c.name.clone(), zone: c.zone.clone() }))
            })
            .collect();
        let snapshots = config
            .cameras
            .iter()
            .filter_map(|c| {
                let url = url::Url::parse(c.snapshot.as_ref()?).ok()?;
                Some((c.id.clone(), (url, credentials.remove(&c.id).map(Arc::new))))
            })
            .collect();
        let language = config.site.language;
        Local {
            snapshots,
            client,
            sources,
            sensors: Sensors::new(&config.sensors, &config.zones, language),
            zones: Zones::new(&config.zones),
            language,
            site_name: config.site.name.clone(),
            frigate: config.frigate.clone(),
            frigate_cameras,
            frigate_pictures: frigate::Pictures::default(),
            seen: Seen::default(),
            panel: config.alarm_panel.clone(),
            panel_state: None,
            outputs,
            site,
            armed,
        }
    }

    /// The topics to subscribe to: the devices', and Frigate's snapshots of its cameras
    /// that are this site's.
    pub fn filters(&self) -> Vec<Filter> {
        let snapshots = self.frigate.iter().flat_map(|f| {
            self.frigate_cameras.keys().map(move |name| format!("{}/{name}/+/snapshot", f.topic_prefix))
        });
        self.sources.keys().cloned().chain(snapshots).map(|t| Filter::new(t, QoS::AtLeastOnce)).collect()
    }

    /// Runs the connection, reconnecting as needed, until the task is aborted.
    pub async fn run(mut self, mut mqtt: EventLoop) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    for alert in self.sensors.tick(Instant::now()) {
                        self.raise(alert);
                    }
                }
                event = mqtt.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!("connected to the site's broker");
                        if let Err(err) = self.client.try_subscribe_many(self.filters()) {
                            tracing::warn!("could not subscribe to the devices' topics: {err}");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => self.on_publish(&p),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!("the site's broker: {err}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }

    fn on_publish(&mut self, p: &Publish) {
        let topic = String::from_utf8_lossy(&p.topic).into_owned();
        let Some(sources) = self.sources.get(&topic).cloned() else {
            self.on_frigate_picture(&topic, p);
            return;
        };
        let now = Instant::now();
        let armed = *self.armed.borrow();
        for source in sources {
            match source {
                Source::Sensor(device) => match zigbee2mqtt::reading(&p.payload) {
                    Ok(r) => {
                        for alert in self.sensors.on_reading(&device, &r, p.retain, armed, now) {
                            self.raise(alert);
                        }
                    }
                    Err(err) => tracing::warn!(%device, "ignored a message from the device: {err}"),
                },
                Source::Availability(device) => match zigbee2mqtt::availability(&p.payload) {
                    Some(online) => {
                        for alert in self.sensors.on_availability(&device, online, p.retain, now) {
                            self.raise(alert);
                        }
                    }
                    None => {
                        tracing::warn!(%device, "ignored an availability message that says neither online nor offline")
                    }
                },
                Source::Frigate => self.on_frigate(&p.payload, p.retain, armed),
                Source::Panel => self.on_panel(&p.payload),
                Source::OutputState { id, kind, read } => {
                    let Some(active) = output_state(&p.payload, read.as_ref()) else {
                        tracing::debug!(output = %id, "a message on the output's state topic without its state");
                        continue;
                    };
                    if !self.outputs.confirmed(&id, active) {
                        let value = match (kind, active) {
                            (OutputKind::Lock, true) => OutputValue::Unlocked,
                            (OutputKind::Lock, false) => OutputValue::Locked,
                            (_, true) => OutputValue::On,
                            (_, false) => OutputValue::Off,
                        };
                        debug_assert_eq!(is_active(value), active);
                        self.site.report(Input::Output { id, value });
                    }
                }
            }
        }
    }
}

impl Local {
    /// Frigate saw something: an intrusion at its camera, when that camera's zone is
    /// armed; the picture fetched on the side, so that nothing waits for Frigate.
    fn on_frigate(&mut self, payload: &[u8], retained: bool, armed: ArmState) {
        let Some(f) = &self.frigate else { return };
        let sighting = match f.source {
            frigate::Source::Reviews => frigate::review(payload, f.severity),
            frigate::Source::Events => frigate::event(payload),
        };
        let sighting = match sighting {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!("ignored a message from Frigate: {err}");
                return;
            }
        };
        let Some(camera) = self.frigate_cameras.get(&sighting.camera).cloned() else {
            tracing::debug!(camera = %sighting.camera, "Frigate saw something at a camera this site does not list");
            return;
        };
        // Old news, or the same sighting again (an update): one alert each.
        if retained || !self.seen.first(&sighting.id) || !self.zones.armed(camera.zone.as_deref(), armed) {
            return;
        }
        let alert = Raise {
            kind: AlertKind::Intrusion,
            zone: camera.zone.clone(),
            title: sighting_title(self.language, &camera.name, &sighting.label),
            cameras: vec![camera.id.clone()],
            snapshot: None,
        };
        // Frigate's picture of the object: from its API, else from its snapshot topic
        // (waiting a little for one when there is no API), else the camera's own.
        let api = f.api.clone().zip(sighting.object);
        let topic_wait = if api.is_some() { Duration::ZERO } else { pictures::WITHIN };
        let since = Instant::now().checked_sub(frigate::FRESH).unwrap_or_else(Instant::now);
        let frigate_pictures = self.frigate_pictures.clone();
        let own = self.snapshots.get(&camera.id).cloned();
        let site = self.site.clone();
        tokio::spawn(async move {
            let mut alert = alert;
            if let Some((api, object)) = api {
                alert.snapshot = frigate::snapshot(&api, &object).await;
            }
            if alert.snapshot.is_none()
                && let Some(jpeg) =
                    frigate_pictures.wait(&sighting.camera, &sighting.label, since, topic_wait).await
            {
                alert.snapshot = pictures::shrunk(&jpeg, &camera.id);
            }
            if alert.snapshot.is_none()
                && let Some((url, credentials)) = own
            {
                alert.snapshot = pictures::fetch(&url, credentials.as_deref(), &camera.id).await;
            }
            site.report(Input::Alert(alert));
        });
    }

    /// A picture on Frigate's snapshot topic of one of this site's cameras: kept for the
    /// sightings to come (a retained one found on subscribing is old news).
    fn on_frigate_picture(&self, topic: &str, p: &Publish) {
        let Some(f) = &self.frigate else { return };
        let Some((camera, label)) = frigate::snapshot_topic(&f.topic_prefix, topic) else { return };
        if p.retain || !self.frigate_cameras.contains_key(camera) {
            return;
        }
        if p.payload.len() > frigate::MAX_PICTURE_BYTES {
            tracing::warn!(
                camera,
                "ignored a picture from Frigate of {} bytes, over the limit",
                p.payload.len()
            );
            return;
        }
        self.frigate_pictures.put(camera, label, &p.payload, Instant::now());
    }

    /// Raises an alert, with its camera's snapshot when the camera has one (fetched on the
    /// side, so that nothing waits for a camera).
    fn raise(&self, alert: Raise) {
        let camera = alert.cameras.first().and_then(|c| Some((c.clone(), self.snapshots.get(c)?.clone())));
        let Some((camera, (url, credentials))) = camera else {
            self.site.report(Input::Alert(alert));
            return;
        };
        let site = self.site.clone();
        tokio::spawn(async move {
            let mut alert = alert;
            alert.snapshot = pictures::fetch(&url, credentials.as_deref(), &camera).await;
            site.report(Input::Alert(alert));
        });
    }

    /// The alarm panel's state: the site's armed state follows it; an arming waiting for
    /// it is done; the alarm sounding is an alert.
    fn on_panel(&mut self, payload: &[u8]) {
        let field = self.panel.as_ref().and_then(|p| p.state_field.clone());
        let Some(now) = panel::state(payload, field.as_deref()) else {
            tracing::warn!("ignored an alarm panel message that is no state it has");
            return;
        };
        self.outputs.panel_showed(now);
        let before = self.panel_state.replace(now);
        match now {
            PanelState::Armed(state) => {
                self.site.report(Input::Armed(state));
            }
            PanelState::Triggered if before != Some(PanelState::Triggered) => {
                self.site.report(Input::Alert(Raise {
                    kind: AlertKind::Intrusion,
                    zone: None,
                    title: triggered_title(self.language, &self.site_name),
                    cameras: Vec::new(),
                    snapshot: None,
                }));
            }
            _ => tracing::info!("alarm panel: {now:?}"),
        }
    }
}

/// Whether an output's state message says active (on, unlocked); None when it does not
/// say. `read`: None for Zigbee2MQTT's `state`; else (field, word for on, word for off).
fn output_state(payload: &[u8], read: Option<&(Option<String>, String, String)>) -> Option<bool> {
    match read {
        None => zigbee2mqtt::reading(payload).ok()?.state.as_deref().and_then(zigbee2mqtt::is_on),
        Some((field, on, off)) => {
            let word = match field {
                None => String::from_utf8_lossy(payload).trim().to_owned(),
                Some(f) => match serde_json::from_slice::<serde_json::Value>(payload).ok()?.get(f)? {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            };
            if &word == on {
                Some(true)
            } else if &word == off {
                Some(false)
            } else {
                None
            }
        }
    }
}
