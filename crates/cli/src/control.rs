//! `mimamori output`, `arm`, `disarm` and `audit`: commands to a site from a terminal,
//! through the same core checks, audit log and outcomes as the app.

use crate::Source;
use anyhow::Context;
use mimamori_core::audit::{Audit, Record};
use mimamori_core::control::{self, Action, Command, Outcome, Target};
use mimamori_core::pin::DevicePin;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct OutputArgs {
    site: String,
    output: String,
    /// on, off, pulse:N (seconds), lock, unlock.
    action: Action,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct ArmArgs {
    site: String,
    /// Arm partly (the site's own partial mode).
    #[arg(long)]
    partial: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct Common {
    /// Why, for the audit log and colleagues.
    #[arg(long)]
    note: Option<String>,
    /// Seconds to wait for the site's answer; the command expires with it.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Read the app PIN (for unlock, a lock's pulse, disarm, silencing the siren) from this
    /// open file descriptor instead of the terminal, e.g. `--pin-fd 3 3<pin-file`.
    #[arg(long, value_name = "FD")]
    pin_fd: Option<u32>,
    #[command(flatten)]
    source: Source,
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Check the chain only and say whether it holds.
    #[arg(long)]
    verify: bool,
    /// Print JSON (one array) instead of text.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV.
    #[arg(long)]
    csv: bool,
    /// The demo's log instead of this device's.
    #[arg(long)]
    demo: bool,
    /// Start a new chain on purpose, after the log was found missing, cut short or
    /// rewritten: what is left of the old log is kept beside it, and the new chain's first
    /// record says who started it and what was found.
    #[arg(long, conflicts_with_all = ["verify", "json", "csv", "demo"])]
    start_new: bool,
}

fn audit_path(demo: bool) -> PathBuf {
    mimamori_core::dirs::settings().join(if demo { "demo-audit.log" } else { "audit.log" })
}

#[derive(clap::Args)]
pub struct AckArgs {
    site: String,
    /// The alert's id (see `mimamori alerts`).
    alert: String,
    #[command(flatten)]
    common: Common,
}

/// Waits until the broker connection is up and `site` has reported its catalog (and, just
/// before it, the role it gives this user).
async fn site_ready(bus: &mimamori_core::bus::BusState, site: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(bus.connection().phase.is_connected() && bus.view(site).is_some_and(|v| v.summary.name.is_some()))
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "site `{site}` did not report within 10 s; nothing was sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// This device's app PIN: in the keychain, shared with the app (in memory for the demo).
fn device_pin(demo: bool) -> anyhow::Result<DevicePin> {
    if demo {
        return Ok(DevicePin::new(std::sync::Arc::new(mimamori_core::vault::MemoryStore::default())));
    }
    Ok(DevicePin::new(crate::enroll::profiles()?.vault()))
}

/// This device's log, anchored in the keychain (the demo's is not; nor, with a warning, a
/// development profile's on a machine without a keychain).
fn open_audit(demo: bool) -> anyhow::Result<Audit> {
    mimamori_core::dirs::private_dir(&mimamori_core::dirs::settings())
        .context("creating the settings directory")?;
    if demo {
        return Ok(Audit::open(audit_path(true))?);
    }
    match crate::enroll::profiles() {
        Ok(profiles) => Ok(Audit::open_anchored(audit_path(false), profiles.vault())?),
        Err(e) => {
            tracing::warn!("the audit log is not anchored in a keychain: {e:#}");
            Ok(Audit::open(audit_path(false))?)
        }
    }
}

async fn run(site: String, target: Target, action: Action, common: Common) -> anyhow::Result<()> {
    let session = crate::connect(&common.source, Some(&site))?;
    let bus = session.bus.state().clone();
    // The catalog tells what the site has; the connection must be up to send.
    site_ready(&bus, &site).await?;
    let audit = open_audit(common.source.demo)?;
    let cmd = Command { site, target, action, note: common.note };
    // What lowers protection needs the app PIN (the core checks the role first, so nobody
    // is asked for a PIN to be refused anyway).
    let pin = if control::needs_proof(control::check(&bus, &cmd)?, cmd.action) {
        let pin = device_pin(common.source.demo)?;
        crate::pin::prove(&pin, common.pin_fd)?;
        Some(pin)
    } else {
        None
    };
    let timeout = Duration::from_secs(common.timeout.max(1));
    let outcome = control::send(&bus, &audit, &bus.user(), cmd, pin.as_ref(), timeout).await?;
    print_outcome(&outcome, common.timeout);
    anyhow::ensure!(matches!(outcome, Outcome::Done { .. }), "the command was not confirmed as done");
    Ok(())
}

/// `mimamori ack SITE ALERT`: acknowledges an alert for every user of the site.
pub async fn ack(args: AckArgs) -> anyhow::Result<()> {
    let common = args.common;
    let session = crate::connect(&common.source, Some(&args.site))?;
    let bus = session.bus.state().clone();
    site_ready(&bus, &args.site).await?;
    let audit = open_audit(common.source.demo)?;
    let ack = control::Ack { site: args.site, alert_id: args.alert, note: common.note };
    let outcome = control::acknowledge(
        &bus,
        &audit,
        Some(&session.inbox),
        &bus.user(),
        ack,
        Duration::from_secs(common.timeout.max(1)),
    )
    .await?;
    print_outcome(&outcome, common.timeout);
    anyhow::ensure!(matches!(outcome, Outcome::Done { .. }), "the acknowledgement was not taken");
    session.bus.stop().await;
    Ok(())
}

fn print_outcome(outcome: &Outcome, timeout: u64) {
    match outcome {
        Outcome::Done { state } => {
            out!("done{}", state.as_ref().map(|s| format!(" ({s})")).unwrap_or_default())
        }
        Outcome::Denied { by, message } => out!(
            "denied by the {by:?}{}",
            message.as_ref().map(|m| format!(": {m}")).unwrap_or_default().to_lowercase()
        ),
        Outcome::Failed { message } => {
            out!("failed{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())
        }
        Outcome::Expired => out!("expired: the site received it too late and did not execute it"),
        Outcome::Unconfirmed => {
            out!("unconfirmed: no answer within {timeout} s (it has expired and cannot happen later)")
        }
    }
}

pub async fn output(args: OutputArgs) -> anyhow::Result<()> {
    run(args.site, Target::Output(args.output), args.action, args.common).await
}

pub async fn arm(args: ArmArgs, arm: bool) -> anyhow::Result<()> {
    let action = match (arm, args.partial) {
        (false, _) => Action::Disarm,
        (true, false) => Action::Arm,
        (true, true) => Action::ArmPartial,
    };
    run(args.site, Target::Site, action, args.common).await
}

pub fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let path = audit_path(args.demo);
    if args.start_new {
        let vault = crate::enroll::profiles()?.vault();
        let found = match Audit::open_anchored(&path, vault.clone()) {
            Ok(_) => anyhow::bail!(
                "the audit log holds everything this device wrote: there is nothing to start anew"
            ),
            Err(e) => e.to_string(),
        };
        let user = std::env::var("USER").unwrap_or_else(|_| "local".into());
        Audit::start_new(&path, vault, &user, &found, mimamori_core::time::now_ms())?;
        out!("a new audit chain starts here; the old log is kept beside it. It began with: {found}");
        return Ok(());
    }
    // Held against the head the keychain keeps: a log gone or cut short is no "no log yet".
    let vault = if args.demo { None } else { crate::enroll::profiles().ok().map(|p| p.vault()) };
    let records: Vec<Record> = Audit::records_anchored(&path, vault.as_deref())
        .map_err(|e| anyhow::anyhow!("the audit log does not verify: {e}"))?;
    if !path.exists() {
        out!("no audit log yet ({})", path.display());
        return Ok(());
    }
    if args.verify {
        out!("the audit log verifies: {} records, chain intact", records.len());
    } else if args.json {
        out!("{}", serde_json::to_string_pretty(&records)?);
    } else if args.csv {
        out!("time_ms,user,what,site,target,action,request_id,outcome,note");
        let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        for r in &records {
            out!(
                "{},{},{},{},{},{},{},{},{}",
                r.time_ms,
                field(&r.user),
                r.what,
                field(&r.site),
                field(&r.target),
                r.action,
                r.request_id,
                field(&r.outcome),
                field(r.note.as_deref().unwrap_or(""))
            );
        }
    } else {
        for r in &records {
            out!(
                "{}  {:<8} {:<7} {} {} {}  {}  {}",
                r.time_ms,
                r.user,
                r.what,
                r.site,
                r.target,
                r.action,
                r.outcome,
                r.note.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}
