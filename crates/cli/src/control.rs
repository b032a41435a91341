//! `mimamori output`, `arm`, `disarm` and `audit`: commands to a site from a terminal,
//! through the same core checks, audit log and outcomes as the app.

use crate::Source;
use anyhow::Context;
use mimamori_core::audit::{Audit, Record};
use mimamori_core::control::{self, Action, Command, Outcome, Target};
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

fn open_audit(demo: bool) -> anyhow::Result<Audit> {
    mimamori_core::dirs::private_dir(&mimamori_core::dirs::settings())
        .context("creating the settings directory")?;
    Ok(Audit::open(audit_path(demo))?)
}

async fn run(site: String, target: Target, action: Action, common: Common) -> anyhow::Result<()> {
    let session = crate::connect(&common.source, Some(&site))?;
    let bus = session.bus.state().clone();
    // The catalog tells what the site has; the connection must be up to send.
    site_ready(&bus, &site).await?;
    let audit = open_audit(common.source.demo)?;
    let cmd = Command { site, target, action, note: common.note };
    let outcome =
        control::send(&bus, &audit, &bus.user(), cmd, Duration::from_secs(common.timeout.max(1))).await?;
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
    if !path.exists() {
        out!("no audit log yet ({})", path.display());
        return Ok(());
    }
    let records: Vec<Record> =
        Audit::records(&path).context("the audit log does not verify: it was changed")?;
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
