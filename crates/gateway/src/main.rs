//! `mimamori-gateway`: one Mimamori site from the devices at a location.
//!
//!     mimamori-gateway check /etc/mimamori-gateway/gateway.toml
//!     mimamori-gateway run /etc/mimamori-gateway/gateway.toml
//!     mimamori-gateway export-commands /etc/mimamori-gateway/gateway.toml
//!
//! Secrets come from `$CREDENTIALS_DIRECTORY`, `--secrets FILE` (owner only) or the
//! environment; see `docs/gateway.md`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mimamori_gateway::config::Config;
use mimamori_gateway::secrets::Secrets;
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "A Mimamori site from the devices at a location")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the site until stopped (SIGTERM or Ctrl-C).
    Run {
        config: PathBuf,
        /// A file of `name = "value"` secrets, readable by its owner only.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
    },
    /// Checks the configuration, then reaches the store, the brokers, every device and
    /// every camera, and prints what works; exits non-zero when anything does not.
    Check {
        config: PathBuf,
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
    },
    /// Prints the site's command log (who asked what, when, with what outcome) as JSON
    /// lines.
    ExportCommands { config: PathBuf },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    mimamori_core::dirs::harden_process();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let filter = mimamori_core::LOG_DIRECTIVES
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, tracing_subscriber::EnvFilter::add_directive);
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match go(Args::parse()).await {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn go(args: Args) -> anyhow::Result<std::process::ExitCode> {
    match args.command {
        Command::Run { config, secrets } => {
            let config = Config::load(&config)?;
            let secrets = Secrets::load(secrets.as_deref())?;
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                terminated().await;
                tracing::info!("stopping");
                let _ = stop.send(true);
            });
            mimamori_gateway::run(config, secrets, stopped).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Check { config, secrets } => {
            let config = Config::load(&config)?;
            let secrets = Secrets::load(secrets.as_deref())?;
            let lines = mimamori_gateway::check::check(&config, &secrets).await;
            let mut out = std::io::stdout().lock();
            let width = lines.iter().map(|l| l.what.len() + l.name.len() + 1).max().unwrap_or(0);
            writeln!(out, "configuration {}: ok", config.site.id)?;
            for l in &lines {
                let label = format!("{} {}", l.what, l.name);
                writeln!(out, "{label:width$}  {}  {}", if l.ok { "ok  " } else { "FAIL" }, l.detail)?;
            }
            let failed = lines.iter().filter(|l| !l.ok).count();
            if failed == 0 {
                Ok(std::process::ExitCode::SUCCESS)
            } else {
                writeln!(out, "{failed} of {} checks failed", lines.len())?;
                Ok(std::process::ExitCode::FAILURE)
            }
        }
        Command::ExportCommands { config } => {
            let config = Config::load(&config)?;
            let store =
                mimamori_site::Store::open(&config.site.store, mimamori_site::Retention::default(), 0)
                    .with_context(|| format!("the store {}", config.site.store.display()))?;
            let mut out = std::io::stdout().lock();
            for record in store.commands()? {
                writeln!(out, "{}", serde_json::to_string(&record)?)?;
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// SIGTERM (systemd) or Ctrl-C.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
