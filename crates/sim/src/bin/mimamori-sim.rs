//! `mimamori-sim`: run simulated sites against any MQTT 5 broker.
//!
//!     mimamori-sim --broker mqtt://127.0.0.1:1883 --site hq --site shop
//!
//! Each site connects as broker user `site-{id}` unless `--user` says otherwise; the
//! password comes from `MIMAMORI_SIM_PASSWORD`. Each site enforces its column of the roles
//! table given with `--roles` (the file `mimamori broker acl` reads); without one, it
//! refuses every command. It runs until interrupted (then publishes
//! "offline" and disconnects) or killed (then the broker publishes its Last Will).
//!
//! With `--store DIR`, each site keeps its event stream, the requests it answered and its
//! command log in `DIR/{site}.db`, so that after a restart (or a crash) it continues its
//! epoch; `--export-commands` then prints the sites' command logs as JSON lines and exits.
//!
//! Alerts on demand: type `alert SITE KIND [CAMERA]` on its standard input (KIND is
//! intrusion, door, tamper, fire, panic, sensor, camera_offline or system), e.g.
//! `alert hq intrusion entrance`; the site numbers it in its event stream.

use anyhow::Context;
use clap::Parser;
use mimamori_core::acl::RoleTable;
use mimamori_core::bus::BrokerAddress;
use mimamori_core::secret::Secret;
use mimamori_sim::camera::CameraServer;
use mimamori_sim::{SimConfig, SimSite, demo};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// `alert SITE KIND [CAMERA]`: the site's index and the alert; nothing for a blank line.
fn on_demand(
    line: &str,
    specs: &[mimamori_sim::SiteSpec],
) -> Result<Option<(usize, mimamori_sim::SimAlert)>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (site, kind, camera) = match words.as_slice() {
        [] => return Ok(None),
        ["alert", site, kind] => (*site, *kind, None),
        ["alert", site, kind, camera] => (*site, *kind, Some(*camera)),
        _ => return Err("usage: alert SITE KIND [CAMERA]".into()),
    };
    let i = specs.iter().position(|s| s.id == site).ok_or_else(|| format!("no site `{site}` here"))?;
    let kind: mimamori_protocol::event::AlertKind =
        serde_json::from_value(serde_json::Value::String(kind.to_owned()))
            .map_err(|_| format!("no alert kind `{kind}`"))?;
    Ok(Some((i, mimamori_sim::alert_at(&specs[i], kind, camera)?)))
}

#[derive(Parser)]
#[command(version, about = "Run simulated Mimamori sites against an MQTT 5 broker")]
struct Args {
    /// Broker address, mqtt://host:port.
    #[arg(long, env = "MIMAMORI_BROKER", required_unless_present = "export_commands")]
    broker: Option<BrokerAddress>,
    /// Demo site ids to run (hq, warehouse, shop); all of them when omitted.
    #[arg(long = "site")]
    sites: Vec<String>,
    /// Broker user for every site (default: site-{id}).
    #[arg(long)]
    user: Option<String>,
    /// Seconds between heartbeats (default: a third of the supervision time).
    #[arg(long)]
    heartbeat: Option<u64>,
    /// Raise an example alert (door, intrusion, tamper, sensor in turn) every this many
    /// seconds.
    #[arg(long)]
    alert_every: Option<u64>,
    /// Also serve the sites' simulated cameras over RTSP on this loopback port (their
    /// catalogs then point there).
    #[arg(long)]
    cameras: Option<u16>,
    /// Point one camera's streams at another RTSP server instead: SITE/CAMERA=rtsp://…
    /// (e.g. a real camera, or a test server with another codec). Repeatable.
    #[arg(long = "camera-url", value_name = "SITE/CAMERA=URL")]
    camera_urls: Vec<String>,
    /// The roles table (JSON, as for `mimamori broker acl`): each site enforces its own
    /// column and publishes each user's role.
    #[arg(long, value_name = "FILE")]
    roles: Option<std::path::PathBuf>,
    /// Keep each site's events, answered requests and command log in DIR/{site}.db
    /// (created, owner only), across restarts; without it, each run is a new epoch.
    #[arg(long, value_name = "DIR")]
    store: Option<std::path::PathBuf>,
    /// Print the command log of each site in --store as JSON lines, and exit.
    #[arg(long, requires = "store")]
    export_commands: bool,
}

/// Prints the command logs kept in `dir` for `specs`, one JSON object a line.
fn export_commands(dir: &std::path::Path, specs: &[mimamori_sim::SiteSpec]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for spec in specs {
        let path = dir.join(format!("{}.db", spec.id));
        if !path.exists() {
            continue;
        }
        let store = mimamori_site::Store::open(&path, mimamori_site::Retention::default(), 0)?;
        for record in store.commands()? {
            let mut line = serde_json::to_value(&record)?;
            line["site"] = spec.id.clone().into();
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let all = demo::sites_with_cameras(args.cameras.unwrap_or(demo::CAMERA_PORT));
    let specs = if args.sites.is_empty() {
        all
    } else {
        args.sites
            .iter()
            .map(|id| {
                all.iter()
                    .find(|s| s.id == *id)
                    .cloned()
                    .with_context(|| format!("no demo site `{id}` (try hq, warehouse, shop)"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut specs: Vec<_> = specs;
    for arg in &args.camera_urls {
        let (name, url) = arg.split_once('=').context("--camera-url takes SITE/CAMERA=URL")?;
        let (site, camera) = name.split_once('/').context("--camera-url names the camera as SITE/CAMERA")?;
        let entry = specs
            .iter_mut()
            .filter(|s| s.id == site)
            .flat_map(|s| s.catalog.cameras.iter_mut())
            .find(|c| c.id == camera)
            .with_context(|| format!("no camera `{camera}` at site `{site}` here"))?;
        entry.main = url.to_owned();
        entry.sub = None;
    }
    let table: Option<RoleTable> = match &args.roles {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let table: RoleTable = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a roles table", path.display()))?;
            table.validate()?;
            Some(table)
        }
        None => {
            tracing::warn!("no --roles: the sites refuse every command");
            None
        }
    };
    if let Some(dir) = &args.store {
        mimamori_core::dirs::private_dir(dir)
            .with_context(|| format!("cannot make the store directory {}", dir.display()))?;
        if args.export_commands {
            return export_commands(dir, &specs);
        }
    }
    let broker = args.broker.context("--broker is needed to run sites")?;
    let mut config = SimConfig::new(broker);
    config.user = args.user;
    config.password = std::env::var("MIMAMORI_SIM_PASSWORD").ok().map(Secret::new);
    config.heartbeat = args.heartbeat.map(Duration::from_secs);
    config.alert_every = args.alert_every.filter(|s| *s > 0).map(Duration::from_secs);
    let _cameras = match args.cameras {
        Some(port) => {
            let server = CameraServer::start(port, demo::camera_streams(&specs))
                .with_context(|| format!("cannot serve cameras on port {port}"))?;
            tracing::info!(port = server.port, "simulated cameras on rtsp://127.0.0.1:{}/", server.port);
            Some(server)
        }
        None => None,
    };
    let sites: Vec<SimSite> = specs
        .iter()
        .map(|s| {
            let mut config = config.clone();
            config.roles = table.as_ref().map(|t| t.roles_at(&s.id)).unwrap_or_default();
            config.store = args.store.as_ref().map(|d| d.join(format!("{}.db", s.id)));
            SimSite::open(s.clone(), config).with_context(|| format!("site {}", s.id))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            line = lines.next_line() => match line {
                Ok(Some(line)) => match on_demand(&line, &specs) {
                    Ok(Some((i, alert))) => sites[i].raise(alert),
                    Ok(None) => {}
                    Err(err) => tracing::warn!("{err}"),
                },
                // Standard input closed (or none): keep running until interrupted.
                Ok(None) | Err(_) => {
                    tokio::signal::ctrl_c().await?;
                    break;
                }
            },
        }
    }
    for site in sites {
        site.stop().await;
    }
    Ok(())
}
