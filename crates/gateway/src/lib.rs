//! `mimamori-gateway`: the program on a small box at a site that turns the devices there
//! (Zigbee2MQTT sensors and switches, MQTT switches, Frigate's detections, an alarm panel
//! in Home Assistant's MQTT terms; cameras by their RTSP URLs) into one
//! Mimamori site on the site engine (`mimamori-site`), connected to the central broker
//! like any site. `docs/gateway.md` is its manual.

pub mod cameras;
pub mod check;
pub mod config;
pub mod frigate;
pub mod local;
pub mod notify;
pub mod outputs;
pub mod panel;
pub mod pictures;
pub mod secrets;
pub mod sensors;
pub mod zigbee2mqtt;

use config::Config;
use mimamori_core::bus::BrokerAddress;
use mimamori_protocol::ArmState;
use mimamori_site::{Site, SiteConfig, SiteSpec};
use rumqttc::v5::{AsyncClient, MqttOptions};
use secrets::Secrets;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the CA certificate {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] mimamori_site::StoreError),
    #[error("{0}")]
    Config(String),
}

/// The engine's configuration: the central broker (TLS pinned to the configured CA), the
/// site user and its password, the store, the roles table.
pub fn site_config(config: &Config, secrets: &Secrets) -> Result<SiteConfig, StartError> {
    let central = config.central_address().map_err(StartError::Config)?;
    let mut site = SiteConfig::new(&central.host, central.port);
    site.user = Some(config.central.user.clone().unwrap_or_else(|| format!("site-{}", config.site.id)));
    site.password = secrets.get("central-password").map(|p| zeroize::Zeroizing::new(p.expose().clone()));
    if central.tls {
        let path =
            config.central.ca.as_ref().ok_or_else(|| StartError::Config("central.ca is missing".into()))?;
        let shown = path.display().to_string();
        let pem = std::fs::read_to_string(path)
            .map_err(|e| StartError::Ca { path: shown.clone(), reason: e.to_string() })?;
        let tls = mimamori_core::bus::tls::client_config(Some(&pem))
            .map_err(|e| StartError::Ca { path: shown, reason: e.to_string() })?;
        site.tls = Some(tls);
    }
    site.store = Some(config.site.store.clone());
    site.roles = config.roles.clone();
    Ok(site)
}

/// The largest message taken from the site's broker (the broker drops larger ones): a
/// picture from Frigate and its topic.
const LOCAL_MAX_PACKET_BYTES: u32 = frigate::MAX_PICTURE_BYTES as u32 + 4096;

/// The site's broker connection's options.
pub fn local_options(config: &Config, secrets: &Secrets, client_id: &str) -> Option<MqttOptions> {
    let local = config.local.as_ref()?;
    let address: BrokerAddress = local.url.parse().ok()?;
    let mut opts = MqttOptions::new(client_id, &address.host, address.port);
    opts.set_keep_alive(Duration::from_secs(10));
    // Frigate's pictures are larger than anything on the central broker.
    opts.set_max_packet_size(Some(LOCAL_MAX_PACKET_BYTES));
    opts.set_outgoing_inflight_upper_limit(mimamori_protocol::MAX_INFLIGHT);
    if let Some(user) = &local.user {
        let password = secrets.get("local-password");
        opts.set_credentials(user, password.as_ref().map_or("", |p| p.expose().as_str()));
    }
    Some(opts)
}

/// Runs the site until `stop` turns true: the engine on the central broker, the devices on
/// the site's broker.
pub async fn run(
    config: Config,
    secrets: Secrets,
    mut stop: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let spec = SiteSpec {
        id: config.site.id.clone(),
        catalog: config.catalog(),
        // Unknown until each device reports; the store remembers the armed state.
        outputs: std::collections::BTreeMap::new(),
        armed: ArmState::Disarmed,
    };
    let site_config = site_config(&config, &secrets)?;
    let client_id = format!("mimamori-gateway-{}", config.site.id);
    let local = local_options(&config, &secrets, &client_id).map(|opts| AsyncClient::new(opts, 64));
    let local_client = local.as_ref().map(|(c, _)| c.clone());
    let outputs = Arc::new(outputs::GatewayOutputs::new(&config, local_client, secrets.get("panel-code")));
    let site = Site::start(spec, site_config, outputs.clone())?;
    tracing::info!(site = %config.site.id, "the site is running");
    let mut tasks = tokio::task::JoinSet::new();
    if let Some((client, events)) = local {
        // Each camera's credentials for its snapshots, from the secret `camera-{id}`.
        let cameras = config
            .cameras
            .iter()
            .filter_map(|c| {
                Some((c.id.clone(), pictures::credentials(&secrets.get(&format!("camera-{}", c.id))?)?))
            })
            .collect();
        let local = local::Local::new(&config, client, outputs, site.reporter(), site.armed(), cameras);
        tasks.spawn(local.run(events));
    }
    for camera in &config.cameras {
        tasks.spawn(cameras::watch(camera.id.clone(), camera.main.clone(), site.reporter(), cameras::EVERY));
    }
    let notifier = notify::Notifier::from_env();
    if let Some(n) = &notifier {
        n.send("READY=1");
    }
    let watchdog = notifier.zip(notify::Notifier::watchdog_every()).map(|(n, every)| {
        let alive = site.liveness();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            // Said only while the engine runs: a dead engine lets the watchdog restart us.
            while alive.is_running() {
                n.send("WATCHDOG=1");
                tick.tick().await;
            }
            n
        })
    });
    let _ = stop.wait_for(|s| *s).await;
    if let Some(w) = watchdog {
        w.abort();
    }
    if let Some(n) = notify::Notifier::from_env() {
        n.send("STOPPING=1");
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    site.stop().await;
    Ok(())
}
