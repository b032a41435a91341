//! The site's outputs on its own broker (`docs/gateway.md`, Outputs): a Zigbee2MQTT
//! switch, plug or siren (`{"state":"ON"}` on `{base}/{device}/set`, its state read back
//! from `{base}/{device}`), or any MQTT switch by topics and payloads. A switch is done
//! only when the device reports the new state within the output's bound; otherwise the
//! command fails, and says so.

use crate::config::{Config, Output};
use crate::panel::{PanelSection, PanelState};
use mimamori_core::Secret;
use mimamori_protocol::{ArmState, OutputEntry, OutputValue};
use mimamori_site::{Outputs, Switching};
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a device on the site's broker usually takes to switch and say so.
const USUAL: Duration = Duration::from_millis(500);

/// How an output is switched.
#[derive(Debug, Clone)]
struct Route {
    command_topic: String,
    on: Vec<u8>,
    off: Vec<u8>,
    confirm: Duration,
}

/// Switches waiting for their device to confirm: output → (the state wanted, on), done.
type Waiting = Arc<Mutex<HashMap<String, (bool, oneshot::Sender<()>)>>>;

/// An arming waiting for the panel to show it: the state wanted, done.
type ArmWaiting = Option<(ArmState, oneshot::Sender<()>)>;

/// The alarm panel, its code, and an arming waiting for the panel to show it.
struct Panel {
    section: PanelSection,
    code: Option<Secret<String>>,
    waiting: Mutex<ArmWaiting>,
}

pub struct GatewayOutputs {
    /// The site's broker; none configured, there are no outputs.
    local: Option<AsyncClient>,
    routes: HashMap<String, Route>,
    waiting: Waiting,
    panel: Option<Panel>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether an output's value is its active one (on, unlocked).
pub fn is_active(value: OutputValue) -> bool {
    matches!(value, OutputValue::On | OutputValue::Unlocked)
}

impl GatewayOutputs {
    /// The outputs of `config`; `panel_code`: the secret `panel-code`, if any.
    pub fn new(
        config: &Config,
        local: Option<AsyncClient>,
        panel_code: Option<Secret<String>>,
    ) -> GatewayOutputs {
        let base = &config.zigbee2mqtt.base_topic;
        let route = |o: &Output| match (&o.zigbee2mqtt, &o.mqtt) {
            (Some(device), _) => Route {
                command_topic: format!("{base}/{device}/set"),
                on: crate::zigbee2mqtt::set_state(true),
                off: crate::zigbee2mqtt::set_state(false),
                confirm: Duration::from_secs(u64::from(o.confirm_s)),
            },
            (None, Some(m)) => Route {
                command_topic: m.command_topic.clone(),
                on: m.on.clone().into_bytes(),
                off: m.off.clone().into_bytes(),
                confirm: Duration::from_secs(u64::from(o.confirm_s)),
            },
            (None, None) => unreachable!("the configuration is checked"),
        };
        GatewayOutputs {
            local,
            routes: config.outputs.iter().map(|o| (o.id.clone(), route(o))).collect(),
            waiting: Arc::default(),
            panel: config.alarm_panel.clone().map(|section| Panel {
                section,
                code: panel_code,
                waiting: Mutex::default(),
            }),
        }
    }

    /// A state the alarm panel showed: completes an arming waiting for it, if any.
    pub fn panel_showed(&self, now: PanelState) {
        let Some(panel) = &self.panel else { return };
        let mut waiting = lock(&panel.waiting);
        if waiting.as_ref().is_some_and(|(wanted, _)| PanelSection::confirms(now, *wanted))
            && let Some((_, done)) = waiting.take()
        {
            let _ = done.send(());
        }
    }

    /// A state the device reported: completes a switch waiting for it, if any (true then).
    pub fn confirmed(&self, output: &str, active: bool) -> bool {
        let mut waiting = lock(&self.waiting);
        if waiting.get(output).is_some_and(|(wanted, _)| *wanted == active)
            && let Some((_, done)) = waiting.remove(output)
        {
            let _ = done.send(());
            return true;
        }
        false
    }
}

impl Outputs for GatewayOutputs {
    fn takes(&self, _output: &OutputEntry) -> Duration {
        USUAL
    }

    fn switch(&self, output: &OutputEntry, value: OutputValue) -> Switching {
        let (Some(route), Some(local)) = (self.routes.get(&output.id).cloned(), self.local.clone()) else {
            return Box::pin(async { Err("this output has no device".to_owned()) });
        };
        let active = is_active(value);
        let (done, confirmed) = oneshot::channel();
        // A newer command for the output replaces the one waiting (which then fails).
        lock(&self.waiting).insert(output.id.clone(), (active, done));
        let waiting = Arc::clone(&self.waiting);
        let id = output.id.clone();
        Box::pin(async move {
            let payload = if active { route.on } else { route.off };
            if let Err(err) = local.publish(route.command_topic, QoS::AtLeastOnce, false, payload).await {
                lock(&waiting).remove(&id);
                tracing::warn!(output = %id, "could not send to the device: {err}");
                return Err("the site's broker is not reachable".to_owned());
            }
            let result = tokio::time::timeout(route.confirm, confirmed).await;
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err("replaced by a newer command".to_owned()),
                Err(_) => {
                    // Ours only: a newer command's wait stays.
                    lock(&waiting).retain(|k, (_, done)| *k != id || !done.is_closed());
                    Err(format!("the device did not confirm within {} s", route.confirm.as_secs()))
                }
            }
        })
    }

    fn arm(&self, state: ArmState) -> Option<Switching> {
        let panel = self.panel.as_ref()?;
        let Some(local) = self.local.clone() else {
            return Some(Box::pin(async { Err("the alarm panel's broker is not configured".to_owned()) }));
        };
        let (done, confirmed) = oneshot::channel();
        *lock(&panel.waiting) = Some((state, done));
        let topic = panel.section.command_topic.clone();
        let command = panel.section.command(state, panel.code.as_ref());
        let within = Duration::from_secs(u64::from(panel.section.confirm_s));
        Some(Box::pin(async move {
            if let Err(err) = local.publish(topic, QoS::AtLeastOnce, false, command.expose().clone()).await {
                tracing::warn!("could not send to the alarm panel: {err}");
                return Err("the site's broker is not reachable".to_owned());
            }
            let result = tokio::time::timeout(within, confirmed).await;
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err("replaced by a newer command".to_owned()),
                Err(_) => Err(format!("the alarm panel did not confirm within {} s", within.as_secs())),
            }
        }))
    }
}
