//! `mimamori-gateway check`: before an installer leaves the site, whether everything the
//! configuration names can be reached: the store, the central broker (with the site's
//! user, password and CA), the site's broker, every Zigbee2MQTT device (in the bridge's
//! device list) and every camera (an RTSP `OPTIONS`). Nothing is published: the site does
//! not go online or offline because of a check.

use crate::config::Config;
use crate::secrets::Secrets;
use mimamori_protocol::CameraHealth;
use rumqttc::TlsConfiguration;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::time::Duration;

/// One line of the check's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub what: &'static str,
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

fn line(what: &'static str, name: &str, result: Result<String, String>) -> Line {
    let ok = result.is_ok();
    Line { what, name: name.to_owned(), ok, detail: result.unwrap_or_else(|e| e) }
}

/// Checks everything; the lines in the order of the configuration.
pub async fn check(config: &Config, secrets: &Secrets) -> Vec<Line> {
    let mut lines = Vec::new();
    let store = mimamori_site::Store::open(
        &config.site.store,
        mimamori_site::Retention::default(),
        mimamori_site::now_ms(),
    )
    .map(|s| format!("epoch {}, {} events", s.head().epoch, s.head().last_seq))
    .map_err(|e| e.to_string());
    lines.push(line("store", &config.site.store.display().to_string(), store));
    lines.push(line("central broker", &config.central.url, central(config, secrets).await));
    if let Some(local) = &config.local {
        let devices = local_devices(config, secrets).await;
        lines.push(line(
            "site broker",
            &local.url,
            devices.as_ref().map(|_| "connected".to_owned()).map_err(Clone::clone),
        ));
        let names = config
            .sensors
            .iter()
            .map(|s| ("sensor", s.device.clone()))
            .chain(config.outputs.iter().filter_map(|o| o.zigbee2mqtt.clone().map(|d| ("output", d))));
        for (what, device) in names {
            let result = match &devices {
                Ok(Some(list)) if list.contains(&device) => Ok("known to Zigbee2MQTT".to_owned()),
                Ok(Some(_)) => Err("not in Zigbee2MQTT's device list (check the friendly name)".to_owned()),
                Ok(None) => Err("no Zigbee2MQTT bridge answered on the site's broker".to_owned()),
                Err(_) => Err("the site's broker is not reachable".to_owned()),
            };
            lines.push(line(what, &device, result));
        }
    }
    for camera in &config.cameras {
        let result = match crate::cameras::probe(&camera.main).await {
            (CameraHealth::Ok, why) => Ok(why),
            (_, why) => Err(why),
        };
        lines.push(line("camera", &camera.id, result));
    }
    lines
}

/// Connects as the site, without a Last Will and with a client id of its own.
async fn central(config: &Config, secrets: &Secrets) -> Result<String, String> {
    let site = crate::site_config(config, secrets).map_err(|e| e.to_string())?;
    let mut opts = MqttOptions::new(format!("site-{}-check", config.site.id), &site.host, site.port);
    opts.set_outgoing_inflight_upper_limit(mimamori_protocol::MAX_INFLIGHT);
    if let Some(user) = &site.user {
        opts.set_credentials(user, site.password.as_ref().map_or("", |p| p.as_str()));
    }
    if let Some(tls) = site.tls {
        opts.set_transport(rumqttc::Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    connack(opts).await.map(|()| "connected as the site's user".to_owned())
}

async fn connack(opts: MqttOptions) -> Result<(), String> {
    let (client, mut events) = AsyncClient::new(opts, 4);
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()));
    let _ = client.try_disconnect();
    result
}

/// The friendly names in Zigbee2MQTT's retained device list (None: no list came).
async fn local_devices(config: &Config, secrets: &Secrets) -> Result<Option<Vec<String>>, String> {
    let opts = crate::local_options(config, secrets, &format!("mimamori-gateway-{}-check", config.site.id))
        .ok_or("no site broker")?;
    let (client, mut events) = AsyncClient::new(opts, 4);
    let topic = format!("{}/bridge/devices", config.zigbee2mqtt.base_topic);
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        let mut connected = false;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
                    client.subscribe(&topic, QoS::AtLeastOnce).await.map_err(|e| e.to_string())?;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    // A retained list comes right after; give it a moment.
                    let more = tokio::time::timeout(Duration::from_secs(3), async {
                        loop {
                            if let Ok(Event::Incoming(Packet::Publish(p))) = events.poll().await {
                                return Some(p.payload);
                            }
                        }
                    })
                    .await
                    .ok()
                    .flatten();
                    return Ok(more.map(|p| friendly_names(&p)));
                }
                Ok(_) => {}
                Err(e) if !connected => return Err(e.to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()));
    let _ = client.try_disconnect();
    result
}

/// The friendly names of a `bridge/devices` message.
fn friendly_names(payload: &[u8]) -> Vec<String> {
    let devices: Vec<serde_json::Value> = serde_json::from_slice(payload).unwrap_or_default();
    devices.iter().filter_map(|d| d.get("friendly_name")?.as_str().map(str::to_owned)).collect()
}
