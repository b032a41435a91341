//! `mimamori`: the core from a terminal.
//!
//!     mimamori demo                 # embedded broker + demo sites, headless
//!     mimamori sites --demo         # list the demo sites
//!     mimamori watch                # print changes as they arrive (enrolled profile)
//!     mimamori enroll import CODE   # enrol this device (PIN on stdin or MIMAMORI_PIN)
//!     mimamori probe --demo hq/entrance   # codec, size, GOP and first-frame time
#![allow(clippy::print_stdout, clippy::print_stderr)] // a terminal program: these are its user interface

use anyhow::Context;
use clap::{Parser, Subcommand};
use mimamori_core::bus::{Bus, BusChange, BusConfig, BusState, ConnectionPhase};
use mimamori_core::inbox::{AlertView, Inbox};
use mimamori_core::site::{SiteLink, SiteView};
use mimamori_sim::demo::Demo;
use std::sync::Arc;
use std::time::Duration;

/// Prints a line on standard output. A reader that went away (`mimamori watch | head`)
/// ends the program quietly rather than with a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::output_failed(&e);
        }
    }};
}

/// Standard output failed: quietly when its reader left, else with the reason.
fn output_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("mimamori: cannot write the output: {e}");
    std::process::exit(1);
}

mod clip;
mod control;
mod enroll;
mod pin;
mod probe;
mod snapshot;

#[derive(Parser)]
#[command(name = "mimamori", version, about = "Mimamori remote monitoring from a terminal")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
pub(crate) struct Source {
    /// Run the built-in demo (embedded broker and simulated sites) instead of connecting.
    #[arg(long)]
    pub(crate) demo: bool,
    /// The enrolled profile to use (see `mimamori profiles`); needed when there are several.
    /// A development profile in MIMAMORI_BROKER / MIMAMORI_USER / MIMAMORI_PASSWORD /
    /// MIMAMORI_SITES takes precedence.
    #[arg(long)]
    profile: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// List sites, their cameras and outputs, and whether they are online.
    Sites {
        #[command(flatten)]
        source: Source,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How long to wait for every site to report, in seconds.
        #[arg(long, default_value_t = 5)]
        wait: u64,
    },
    /// Print changes as they arrive, until interrupted.
    Watch {
        #[command(flatten)]
        source: Source,
    },
    /// List the alerts stored on this device, newest first, and the possible gaps; with
    /// --follow, connect and print alerts as they arrive, until interrupted.
    Alerts {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long, conflicts_with = "follow")]
        json: bool,
        /// Stay connected and print new alerts and acknowledgements as they arrive.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        source: Source,
    },
    /// Run the embedded broker and the demo sites without a window, until interrupted.
    Demo {
        /// Port for the embedded broker.
        #[arg(long, default_value_t = 1883)]
        port: u16,
    },
    /// Make or import enrolment codes.
    #[command(subcommand)]
    Enroll(enroll::EnrollCommand),
    /// Write the broker side (ACL, password lines) from a role table (administrators).
    #[command(subcommand)]
    Broker(enroll::BrokerCommand),
    /// Check a camera stream: codec, picture size, GOP length, time to the first picture.
    Probe(probe::ProbeArgs),
    /// Save a camera's current picture as a JPEG file.
    Snapshot(snapshot::SnapshotArgs),
    /// Save the next seconds of a camera as an MP4 file.
    Clip(clip::ClipArgs),
    /// Switch an output of a site: on, off, pulse:N, lock, unlock (checked against your
    /// role, written to the audit log first).
    Output(control::OutputArgs),
    /// Arm a site.
    Arm(control::ArmArgs),
    /// Disarm a site.
    Disarm(control::ArmArgs),
    /// Acknowledge an alert (with --note for colleagues): every user of the site sees who
    /// handled it.
    Ack(control::AckArgs),
    /// Print and verify this device's audit log, or export it (--json, --csv).
    Audit(control::AuditArgs),
    /// The profiles this device is enrolled for.
    Profiles {
        #[command(subcommand)]
        command: Option<enroll::ProfilesCommand>,
    },
}

/// A bus connection, and the demo it runs on if any (kept alive with it).
pub(crate) struct Session {
    bus: Bus,
    /// The enrolled profile in use (not for the demo or a development profile).
    profile_id: Option<String>,
    inbox: Arc<Inbox>,
    _demo: Option<Demo>,
}

/// Connects as `source` says, for one command: with a client id of its own and a session
/// that ends with it, so that it never takes the session of a `watch` running beside it
/// (two connections with one client id take the broker session from each other). With
/// several enrolled profiles and no `--profile`, a command about one site uses the profile
/// that site is enrolled through.
pub(crate) fn connect(source: &Source, site: Option<&str>) -> anyhow::Result<Session> {
    connect_with(source, site, false)
}

/// Like [`connect`], with this device's lasting session, which the broker keeps (and fills
/// with alerts) while the device is away: for `watch` and `alerts --follow`.
pub(crate) fn connect_lasting(source: &Source) -> anyhow::Result<Session> {
    connect_with(source, None, true)
}

/// A one-off connection's settings: the lasting session's client id with this process's
/// id, and a session the broker drops a second after it ends.
fn once(mut config: BusConfig) -> BusConfig {
    let base: String = config.client_id.chars().take(48).collect();
    config.client_id = format!("{base}-{}", std::process::id());
    config.session_expiry = Duration::from_secs(1);
    config
}

fn connect_with(source: &Source, site: Option<&str>, lasting: bool) -> anyhow::Result<Session> {
    let session_of = |config: BusConfig| if lasting { config } else { once(config) };
    if source.demo {
        let demo = Demo::start(0)?;
        let config = BusConfig::new(
            demo.broker.clone(),
            "mimamori-cli-demo",
            mimamori_sim::demo::DEMO_USER,
            demo.site_ids(),
        );
        let inbox = Arc::new(Inbox::in_memory()?);
        return Ok(Session {
            bus: Bus::start_with_inbox(config, Some(inbox.clone())),
            inbox,
            _demo: Some(demo),
            profile_id: None,
        });
    }
    // Every event is committed to this device's inbox before the broker is told.
    let inbox = Arc::new(Inbox::open_default()?);
    if let Some(config) = BusConfig::from_env()? {
        return Ok(Session {
            bus: Bus::start_with_inbox(session_of(config), Some(inbox.clone())),
            inbox,
            _demo: None,
            profile_id: None,
        });
    }
    let profiles = enroll::profiles()?;
    let list = profiles.list()?;
    let id = match (&source.profile, list.as_slice(), site) {
        (Some(id), _, _) => id.clone(),
        (None, [only], _) => only.id.clone(),
        (None, [], _) => {
            anyhow::bail!("this device is not enrolled: run `mimamori enroll import`, or use --demo")
        }
        (None, several, Some(site)) => several
            .iter()
            .find(|p| p.sites.iter().any(|s| s.id == site))
            .map(|p| p.id.clone())
            .with_context(|| format!("no enrolled profile has site `{site}` (see `mimamori profiles`)"))?,
        (None, _, None) => {
            anyhow::bail!("several profiles: choose one with --profile (see `mimamori profiles`)")
        }
    };
    let config = profiles.bus_config(&id, &format!("cli-{}-{id}", profiles.device_id()?))?;
    Ok(Session {
        bus: Bus::start_with_inbox(session_of(config), Some(inbox.clone())),
        inbox,
        _demo: None,
        profile_id: Some(id),
    })
}

fn link_text(link: SiteLink) -> &'static str {
    match link {
        SiteLink::Unknown => "unknown",
        SiteLink::Online => "online",
        SiteLink::Offline => "offline",
        SiteLink::Lost => "link lost",
    }
}

fn print_site(view: &SiteView) {
    let s = &view.summary;
    let armed = s.armed.map_or("-".to_owned(), |a| format!("{a:?}").to_lowercase());
    out!(
        "{} ({})  {}  armed: {}  {} cameras  {} outputs",
        s.name.as_deref().unwrap_or("(no catalog yet)"),
        s.id,
        link_text(s.link),
        armed,
        s.camera_count,
        s.output_count
    );
    for c in &view.cameras {
        let health = c.health.map_or("-".to_owned(), |h| format!("{h:?}").to_lowercase());
        out!("  camera  {:<14} {}  [{}] {}", c.id, c.name, c.zone_name.as_deref().unwrap_or("-"), health);
    }
    for o in &view.outputs {
        let state = o.state.map_or("-".to_owned(), |v| format!("{v:?}").to_lowercase());
        let by = o.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        out!("  output  {:<14} {}  {:?}: {state}{by}", o.id, o.name, o.kind);
    }
}

/// Sites that have not sent their catalog and status yet.
fn waiting(state: &BusState) -> usize {
    state.site_ids().iter().filter(|id| !state.has_reported(id)).count()
}

/// Waits until every site has reported and every output's state is known, or the time
/// is up.
async fn settle(state: &BusState, wait: Duration) {
    let complete = |s: &BusState| {
        waiting(s) == 0
            && s.site_ids()
                .iter()
                .filter_map(|id| s.view(id))
                .all(|v| v.outputs.iter().all(|o| o.state.is_some()))
    };
    let mut changes = state.subscribe();
    let _ = tokio::time::timeout(wait, async {
        while !complete(state) {
            if changes.recv().await.is_err() {
                changes = state.subscribe();
            }
        }
    })
    .await;
}

async fn sites(source: Source, json: bool, wait: u64) -> anyhow::Result<()> {
    let session = connect(&source, None)?;
    let state = session.bus.state().clone();
    settle(&state, Duration::from_secs(wait)).await;
    let views: Vec<SiteView> = state.site_ids().iter().filter_map(|id| state.view(id)).collect();
    if json {
        out!("{}", serde_json::to_string_pretty(&views)?);
    } else {
        let conn = state.connection();
        if conn.phase != ConnectionPhase::Connected {
            out!("broker: {:?} ({:?})", conn.phase, conn.problem);
        }
        for v in &views {
            print_site(v);
        }
        let waiting = waiting(&state);
        if waiting > 0 {
            out!("{waiting} of {} sites have not reported yet; they are asked again", views.len());
        }
    }
    session.bus.stop().await;
    Ok(())
}

/// Prints changes as they arrive (`alerts_only`: only alerts and who acknowledged them),
/// until interrupted.
async fn watch(source: Source, alerts_only: bool) -> anyhow::Result<()> {
    // What this device already had, read before connecting: what arrives from then on is
    // news, even the broker's first redelivery.
    let before = if source.demo { Vec::new() } else { Inbox::open_default()?.alerts(50)? };
    let key = |a: &AlertView| (a.site_id.clone(), a.id.clone());
    let mut printed: std::collections::HashSet<(String, String)> = before.iter().map(key).collect();
    let mut acked: std::collections::HashSet<(String, String)> =
        before.iter().filter(|a| a.acknowledged_by.is_some()).map(key).collect();
    let session = connect_lasting(&source)?;
    let state = session.bus.state().clone();
    let mut changes = state.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            change = changes.recv() => match change {
                Ok(BusChange::Connection(_) | BusChange::Site { .. }) if alerts_only => {}
                Ok(BusChange::Connection(c)) => out!("broker  {:?}{}", c.phase, c.problem.map(|p| format!(" ({p:?})")).unwrap_or_default()),
                Ok(BusChange::Site { site_id }) => {
                    if let Some(v) = state.view(&site_id) {
                        let s = &v.summary;
                        let outputs: Vec<String> = v.outputs.iter()
                            .map(|o| format!("{}={}", o.id, o.state.map_or("-".into(), |x| format!("{x:?}").to_lowercase())))
                            .collect();
                        out!("site    {} {}  {}  {} cameras  {}", s.id, s.name.as_deref().unwrap_or("?"), link_text(s.link), s.camera_count, outputs.join(" "));
                    }
                }
                Ok(BusChange::Inbox { .. }) => {
                    // Print what this run has not printed yet, oldest first.
                    let mut fresh: Vec<AlertView> = session.inbox.alerts(50)?.into_iter()
                        .filter(|a| printed.insert((a.site_id.clone(), a.id.clone())))
                        .collect();
                    fresh.reverse();
                    for a in fresh {
                        out!("alert   {} {}  {}  {}", a.site_id, a.kind.as_str(), a.title, a.id);
                    }
                    for a in session.inbox.alerts(50)? {
                        if let Some(by) = &a.acknowledged_by
                            && acked.insert((a.site_id.clone(), a.id.clone()))
                        {
                            let note = a.note.as_deref().map(|n| format!("  {n}")).unwrap_or_default();
                            out!("ack     {} {}  by {by}{note}", a.site_id, a.id);
                        }
                    }
                }
                Ok(BusChange::Resync) => out!("(resync)"),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => out!("(skipped {n} changes)"),
                Err(_) => break,
            }
        }
    }
    session.bus.stop().await;
    Ok(())
}

fn alerts(limit: usize, json: bool) -> anyhow::Result<()> {
    let inbox = Inbox::open_default()?;
    let alerts = inbox.alerts(limit)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&alerts)?);
        return Ok(());
    }
    for a in alerts {
        let acked = a.acknowledged_by.map(|by| format!("  acknowledged by {by}")).unwrap_or_default();
        out!("{}  {}  {:<14} {}  {}{acked}", a.time_ms, a.site_id, a.kind.as_str(), a.title, a.id);
    }
    for g in inbox.possible_gaps()? {
        let to = g.to_seq.map_or("the end of that run".to_owned(), |t| t.to_string());
        out!(
            "possible gap  {}  events {} to {to} could not be recovered from the site",
            g.site_id,
            g.from_seq
        );
    }
    Ok(())
}

async fn demo(port: u16) -> anyhow::Result<()> {
    let demo = Demo::start(port)?;
    out!(
        "demo broker on mqtt://{}:{} with sites {}; Ctrl-C stops",
        demo.broker.host,
        demo.broker.port,
        demo.site_ids().join(", ")
    );
    tokio::signal::ctrl_c().await?;
    for site in demo.sites {
        site.stop().await;
    }
    Ok(())
}

fn main() {
    if let Err(err) = run() {
        // One line a person can act on; no backtrace, whatever RUST_BACKTRACE says.
        eprintln!("mimamori: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            mimamori_core::LOG_DIRECTIVES.iter().fold(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn,rumqttd=off".into()),
                |filter, d| filter.add_directive(d.parse().expect("a valid log directive")),
            ),
        )
        .with_writer(std::io::stderr)
        .init();
    // Files this process creates are its user's alone; no core dump of its secrets.
    mimamori_core::dirs::harden_process();
    let command = Cli::parse().command;
    // Enrolment talks to the keychain with blocking calls: no async runtime needed there.
    let command = match command {
        Command::Enroll(c) => return enroll::enroll(c),
        Command::Broker(c) => return enroll::broker(c),
        Command::Alerts { limit, json, follow: false, .. } => return alerts(limit, json),
        Command::Audit(args) => return control::audit(args),
        Command::Profiles { command } => {
            return enroll::profiles_command(command.unwrap_or(enroll::ProfilesCommand::List));
        }
        other => other,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match command {
            Command::Sites { source, json, wait } => sites(source, json, wait).await,
            Command::Watch { source } => watch(source, false).await,
            Command::Alerts { source, .. } => watch(source, true).await,
            Command::Demo { port } => demo(port).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Snapshot(args) => snapshot::run(args).await,
            Command::Clip(args) => clip::run(args).await,
            Command::Output(args) => control::output(args).await,
            Command::Arm(args) => control::arm(args, true).await,
            Command::Disarm(args) => control::arm(args, false).await,
            Command::Ack(args) => control::ack(args).await,
            Command::Enroll(_) | Command::Broker(_) | Command::Profiles { .. } | Command::Audit(_) => Ok(()),
        }
    })
}
