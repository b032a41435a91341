//! One simulated site: the site engine (`mimamori-site`, which carries every obligation
//! of a site on the bus) with simulated devices behind it (`control.rs`: outputs that
//! move like real ones, or fail like broken ones) and, for the demo, an alert now and
//! then.

use crate::control::SimOutputs;
use mimamori_core::bus::BrokerAddress;
use mimamori_core::secret::Secret;
use mimamori_core::time::now_ms;
use mimamori_protocol::event::{self, AlertKind};
use mimamori_protocol::role::Role;
use mimamori_site::{Input, Retention, Site, SiteConfig, StoreError};
pub use mimamori_site::{Raise as SimAlert, SiteSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a simulated site reaches its broker.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub broker: BrokerAddress,
    /// Broker user; `None` means `site-{id}`.
    pub user: Option<String>,
    pub password: Option<Secret<String>>,
    /// Interval between status heartbeats; `None` means a third of the supervision time.
    pub heartbeat: Option<Duration>,
    /// Raise an example alert this often (the demo's "something happens now and then").
    pub alert_every: Option<Duration>,
    /// Outputs that fail every command, like broken hardware.
    pub broken_outputs: Vec<String>,
    /// How many recent events the site keeps for replay, whatever their age (the protocol
    /// asks for at least 10,000 and 24 hours; tests make it small to show what is lost
    /// beyond it).
    pub replay_window: usize,
    /// The site's clock against this machine's, in ms (a controller whose clock is off).
    pub clock_offset_ms: i64,
    /// Whether the site trusts its clock (say, set by NTP); without it, it sends no time
    /// in its status and executes no command that carries a deadline.
    pub clock_trusted: bool,
    /// The site's roles table: user → role here (`RoleTable::roles_at`). Anyone not in it
    /// can do nothing at this site; empty, the site refuses every command.
    pub roles: BTreeMap<String, Role>,
    /// The site's store (events, remembered requests, command log); `None` keeps it in
    /// memory, so that each run is a new epoch.
    pub store: Option<PathBuf>,
}

impl SimConfig {
    pub fn new(broker: BrokerAddress) -> Self {
        SimConfig {
            broker,
            user: None,
            password: None,
            heartbeat: None,
            alert_every: None,
            broken_outputs: Vec::new(),
            replay_window: 10_000,
            clock_offset_ms: 0,
            clock_trusted: true,
            roles: BTreeMap::new(),
            store: None,
        }
    }

    /// This config, with `user` given `role` in the site's roles table.
    #[must_use]
    pub fn grant(mut self, user: &str, role: Role) -> Self {
        self.roles.insert(user.to_owned(), role);
        self
    }

    /// The engine's configuration.
    fn site(&self) -> SiteConfig {
        let mut site = SiteConfig::new(&self.broker.host, self.broker.port);
        site.user.clone_from(&self.user);
        site.password = self.password.as_ref().map(|p| zeroize::Zeroizing::new(p.expose().clone()));
        site.heartbeat = self.heartbeat;
        let default = Retention::default();
        site.retention = if self.replay_window == usize::try_from(default.events).unwrap_or(usize::MAX) {
            default
        } else {
            Retention { events: u64::try_from(self.replay_window).unwrap_or(u64::MAX), age: Duration::ZERO }
        };
        site.store.clone_from(&self.store);
        site.clock_offset_ms = self.clock_offset_ms;
        site.clock_trusted = self.clock_trusted;
        site.roles.clone_from(&self.roles);
        site
    }
}

/// A running simulated site.
pub struct SimSite {
    site: Site,
    examples: Option<tokio::task::JoinHandle<()>>,
}

impl SimSite {
    /// Connects and starts publishing on the current Tokio runtime, its store in memory.
    ///
    /// # Panics
    /// If the in-memory store cannot be made (out of memory); [`SimSite::open`] for a store
    /// in a file.
    pub fn start(spec: SiteSpec, config: SimConfig) -> SimSite {
        assert!(config.store.is_none(), "a site with a store file starts with SimSite::open");
        SimSite::open(spec, config).expect("an in-memory store")
    }

    /// Opens the site's store, then connects and starts publishing.
    pub fn open(spec: SiteSpec, config: SimConfig) -> Result<SimSite, StoreError> {
        let outputs = Arc::new(SimOutputs { broken: config.broken_outputs.clone() });
        let site = Site::start(spec.clone(), config.site(), outputs)?;
        let examples = config.alert_every.map(|every| {
            let reporter = site.reporter();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await; // the first one after a full period, not at start
                for n in 1.. {
                    tick.tick().await;
                    if !reporter.report(Input::Alert(example_alert(&spec, n))) {
                        break;
                    }
                }
            })
        });
        Ok(SimSite { site, examples })
    }

    /// Raises an alert: it goes out as the next event of this site's stream.
    pub fn raise(&self, alert: SimAlert) {
        self.site.raise(alert);
    }

    pub fn id(&self) -> &str {
        self.site.id()
    }

    /// Shuts down like a controller that is switched off properly: status "offline", then
    /// a clean disconnect.
    pub async fn stop(self) {
        if let Some(e) = &self.examples {
            e.abort();
        }
        self.site.stop().await;
    }

    /// Vanishes like a controller that lost power: the connection drops without a
    /// DISCONNECT, so the broker publishes the Last Will.
    pub async fn kill(self) {
        if let Some(e) = &self.examples {
            e.abort();
        }
        self.site.kill().await;
    }
}

/// An alert such a site would raise: door, intrusion, tamper and sensor in turn, at one of
/// its cameras (and that camera's zone). An intrusion carries the camera's picture of the
/// moment, as a controller with a camera link would send it.
pub fn example_alert(spec: &SiteSpec, n: u64) -> SimAlert {
    let cameras = &spec.catalog.cameras;
    let camera = usize::try_from(n)
        .ok()
        .filter(|_| !cameras.is_empty())
        .map(|n| cameras[n % cameras.len()].id.clone());
    let kind = match n % 4 {
        0 => AlertKind::Door,
        1 => AlertKind::Intrusion,
        2 => AlertKind::Tamper,
        _ => AlertKind::Sensor,
    };
    alert_at(spec, kind, camera.as_deref()).unwrap_or_else(|_| SimAlert {
        kind,
        zone: None,
        title: spec.catalog.name.clone(),
        cameras: Vec::new(),
        snapshot: None,
    })
}

/// An alert of `kind` at `camera` of the site (or the site as a whole): titled with the
/// camera's name, in its zone; an intrusion with the camera's picture of the moment.
pub fn alert_at(spec: &SiteSpec, kind: AlertKind, camera: Option<&str>) -> Result<SimAlert, String> {
    let camera = match camera {
        None => None,
        Some(id) => Some(
            spec.catalog
                .cameras
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| format!("no camera `{id}` at {}", spec.id))?,
        ),
    };
    let place = camera.map_or(spec.catalog.name.as_str(), |c| c.name.as_str());
    let what = match kind {
        AlertKind::Door => "扉開放",
        AlertKind::Intrusion => "侵入検知",
        AlertKind::Tamper => "いたずら検知",
        AlertKind::Sensor => "センサー電池残量低下",
        AlertKind::Fire => "火災検知",
        AlertKind::Panic => "非常ボタン",
        AlertKind::CameraOffline => "映像断",
        AlertKind::System => "電源異常",
        AlertKind::LinkFailure => return Err("link_failure is raised by clients, not sites".into()),
    };
    let snapshot = camera
        .filter(|_| kind == AlertKind::Intrusion)
        .map(|c| crate::camera::scene::still(&format!("{}/{}", spec.id, c.id), 320, 176, 15, now_ms()));
    Ok(SimAlert {
        kind,
        zone: camera.and_then(|c| c.zone.clone()),
        title: format!("{place} {what}"),
        cameras: camera.map(|c| vec![c.id.clone()]).unwrap_or_default(),
        snapshot: snapshot.filter(|s| s.len() <= event::MAX_SNAPSHOT_BYTES),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_alerts_take_turns_and_name_a_real_camera() {
        let spec = crate::demo::site("warehouse").unwrap();
        let kinds: Vec<AlertKind> = (1..=4).map(|n| example_alert(&spec, n).kind).collect();
        assert_eq!(kinds, [AlertKind::Intrusion, AlertKind::Tamper, AlertKind::Sensor, AlertKind::Door]);
        let a = example_alert(&spec, 5);
        let camera = spec.catalog.cameras.iter().find(|c| c.id == a.cameras[0]).unwrap();
        assert_eq!(a.zone, camera.zone);
        assert!(a.title.starts_with(&camera.name));
        assert!(
            a.snapshot.is_some_and(|s| s.starts_with(&[0xff, 0xd8])),
            "an intrusion comes with a picture"
        );
    }

    #[test]
    fn alerts_on_demand_name_their_camera_or_say_what_is_wrong() {
        let spec = crate::demo::site("hq").unwrap();
        let fire = alert_at(&spec, AlertKind::Fire, Some("entrance")).unwrap();
        assert_eq!((fire.title.as_str(), fire.zone.as_deref()), ("正面玄関 火災検知", Some("lobby")));
        assert!(fire.snapshot.is_none());
        assert_eq!(alert_at(&spec, AlertKind::System, None).unwrap().title, "本社 電源異常");
        assert!(alert_at(&spec, AlertKind::Door, Some("nowhere")).is_err());
        assert!(alert_at(&spec, AlertKind::LinkFailure, None).is_err());
    }
}
