//! `mimamori enroll create|import` and `mimamori profiles`: enrolment from a terminal.
//! See `docs/enrolment.md`.

use anyhow::{Context, bail};
use clap::Subcommand;
use mimamori_core::Secret;
use mimamori_core::enrol::{self, CameraCredential, EnrolledSite, Enrolment, LINK_PREFIX};
use mimamori_core::profile::Profiles;
use mimamori_core::time::now_ms;
use mimamori_core::vault::KeychainStore;
use serde::Deserialize;
use std::io::BufRead;
use std::sync::Arc;

/// The environment variable the broker password of a new code is read from, so that it
/// appears neither in the shell history nor in the process list.
pub const PASSWORD_VAR: &str = "MIMAMORI_ENROL_PASSWORD";
/// The environment variable a PIN may come from; otherwise one line of standard input.
pub const PIN_VAR: &str = "MIMAMORI_PIN";

#[derive(Subcommand)]
pub enum EnrollCommand {
    /// Make an enrolment code for a manager (administrators). The broker password comes
    /// from MIMAMORI_ENROL_PASSWORD; the PIN is printed separately, to be handed over by
    /// another channel.
    Create {
        /// Broker address: mqtts://host:port (mqtt:// only on loopback).
        #[arg(long)]
        broker: String,
        /// The broker's CA certificate, a PEM file (required for mqtts): the only CA the
        /// manager's device will trust for this broker.
        #[arg(long)]
        broker_ca: Option<std::path::PathBuf>,
        /// The manager's broker user.
        #[arg(long)]
        user: String,
        /// A site the code grants: ID:NAME:ROLE (role: viewer, operator or admin). Repeat.
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
        /// A JSON file of camera credentials, each for its camera's addresses only:
        /// [{"site","camera","username","password","origins":["rtsp://10.0.0.5","http://10.0.0.5"]}].
        #[arg(long)]
        cameras: Option<std::path::PathBuf>,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 24)]
        expires_hours: u64,
        /// A name for the organisation, shown to the manager.
        #[arg(long, default_value = "Mimamori")]
        label: String,
        /// Print JSON ({code, link, pin, expiresMs}) instead of text.
        #[arg(long)]
        json: bool,
        /// Also print the link as a QR code, for the manager's phone to scan.
        #[arg(long)]
        qr: bool,
    },
    /// Enrol this device from a code, a mimamori:// link or @FILE. The PIN comes from
    /// MIMAMORI_PIN or one line of standard input.
    Import { code: String },
}

/// The broker side, for administrators.
#[derive(Subcommand)]
pub enum BrokerCommand {
    /// Print the Mosquitto ACL for a role table (JSON: {"sites": [...], "users": {"user":
    /// {"site": "viewer|operator|admin"}}}).
    Acl { table: std::path::PathBuf },
    /// Print a Mosquitto password-file line for a user; the password comes from
    /// MIMAMORI_ENROL_PASSWORD, the same one `enroll create` seals into the user's code.
    Passwd { user: String },
}

pub fn broker(command: BrokerCommand) -> anyhow::Result<()> {
    match command {
        BrokerCommand::Acl { table } => {
            let text = std::fs::read(&table).with_context(|| format!("reading {}", table.display()))?;
            let table: mimamori_core::acl::RoleTable =
                serde_json::from_slice(&text).map_err(|e| anyhow::anyhow!("{}: {e}", table.display()))?;
            print!("{}", table.mosquitto_acl()?);
        }
        BrokerCommand::Passwd { user } => {
            let password = std::env::var(PASSWORD_VAR)
                .with_context(|| format!("set {PASSWORD_VAR} to the user's broker password"))?;
            out!("{}", mimamori_core::acl::mosquitto_password_line(&user, &Secret::new(password))?);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum ProfilesCommand {
    /// List the profiles this device is enrolled for.
    List,
    /// Remove a profile and delete its secrets from the keychain.
    Remove { id: String },
}

#[derive(Deserialize)]
struct CameraLine {
    site: String,
    camera: String,
    username: String,
    password: String,
    /// The camera's addresses the credentials are for: `scheme://host[:port]` of its
    /// streams and its snapshot.
    #[serde(default)]
    origins: Vec<String>,
}

fn parse_site(spec: &str) -> anyhow::Result<EnrolledSite> {
    let mut parts = spec.splitn(3, ':');
    let (Some(id), Some(name), Some(role)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("--site `{spec}` must be ID:NAME:ROLE");
    };
    Ok(EnrolledSite {
        id: id.to_owned(),
        name: name.to_owned(),
        role: role.parse().map_err(anyhow::Error::msg)?,
    })
}

/// The profiles of this device, in the OS keychain. There is no other store to fall back to.
pub fn profiles() -> anyhow::Result<Profiles> {
    let vault = KeychainStore::open()?;
    Ok(Profiles::new(mimamori_core::dirs::settings(), Arc::new(vault)))
}

/// The link as a QR code in terminal block characters (two modules per character row).
fn qr_code(link: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::L)
        .map_err(|_| anyhow::anyhow!("the code is too long for a QR code; hand over the text or the link"))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

fn read_pin() -> anyhow::Result<String> {
    if let Ok(pin) = std::env::var(PIN_VAR) {
        return Ok(pin);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the PIN from standard input")?;
    Ok(line.trim().to_owned())
}

fn read_code(arg: &str) -> anyhow::Result<String> {
    let Some(path) = arg.strip_prefix('@') else {
        return Ok(arg.to_owned());
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    // A file of anything but text is not a code; say so rather than show a decoding error.
    String::from_utf8(bytes).map_err(|_| enrol::CodeError::NotACode.into())
}

pub fn enroll(command: EnrollCommand) -> anyhow::Result<()> {
    match command {
        EnrollCommand::Create { broker, broker_ca, user, sites, cameras, expires_hours, label, json, qr } => {
            let broker_ca = broker_ca
                .map(|path| {
                    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
                })
                .transpose()?;
            let expires_hours = expires_hours.clamp(1, 24 * 30);
            let password = std::env::var(PASSWORD_VAR)
                .with_context(|| format!("set {PASSWORD_VAR} to the manager's broker password"))?;
            let cameras = match cameras {
                None => Vec::new(),
                Some(path) => {
                    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                    let lines: Vec<CameraLine> = serde_json::from_slice(&text).map_err(|e| {
                        anyhow::anyhow!("{}: line {} column {}", path.display(), e.line(), e.column())
                    })?;
                    lines
                        .into_iter()
                        .map(|c| {
                            let origins = c
                                .origins
                                .iter()
                                .map(|o| {
                                    enrol::canonical_origin(o).with_context(|| {
                                        format!(
                                            "camera `{}`: `{o}` is not scheme://host[:port] (rtsp, http…)",
                                            c.camera
                                        )
                                    })
                                })
                                .collect::<anyhow::Result<Vec<_>>>()?;
                            Ok(CameraCredential {
                                site: c.site,
                                camera: c.camera,
                                username: c.username,
                                password: Secret::new(c.password),
                                origins,
                            })
                        })
                        .collect::<anyhow::Result<_>>()?
                }
            };
            let now = now_ms();
            let expires_ms = now + expires_hours * 3_600_000;
            let enrolment = Enrolment {
                code_id: enrol::new_code_id(),
                issued_ms: now,
                expires_ms,
                label,
                broker: Secret::new(broker),
                broker_ca,
                user,
                password: Secret::new(password),
                sites: sites.iter().map(|s| parse_site(s)).collect::<anyhow::Result<_>>()?,
                cameras,
            };
            let pin = enrol::new_pin();
            let code = enrol::seal(&enrolment, &pin, enrol::DEFAULT_KDF)?;
            let link = format!("{LINK_PREFIX}{code}");
            if json {
                let out =
                    serde_json::json!({ "code": code, "link": link, "pin": pin, "expiresMs": expires_ms });
                out!("{out}");
            } else {
                out!("Enrolment code for {} (expires in {expires_hours} h):\n{code}\n", enrolment.user);
                out!("Link:\n{link}\n");
                if qr {
                    out!("{}", qr_code(&link)?);
                }
                out!("PIN — hand it over by another channel than the code:\n{pin}");
            }
            Ok(())
        }
        EnrollCommand::Import { code } => {
            let code = read_code(&code)?;
            // Refuse what is not a code before asking for a PIN.
            enrol::Sealed::parse(&code)?;
            let pin = read_pin()?;
            let profile = profiles()?.enrol(&code, &pin, now_ms())?;
            out!("Enrolled as {} ({}), profile {}:", profile.user, profile.label, profile.id);
            for site in &profile.sites {
                out!("  {} ({})  {:?}", site.name, site.id, site.role);
            }
            Ok(())
        }
    }
}

pub fn profiles_command(command: ProfilesCommand) -> anyhow::Result<()> {
    let profiles = profiles()?;
    match command {
        ProfilesCommand::List => {
            for p in profiles.list()? {
                let sites: Vec<String> =
                    p.sites.iter().map(|s| format!("{}:{:?}", s.id, s.role).to_lowercase()).collect();
                out!("{}  {}  {}  {}", p.id, p.user, p.label, sites.join(" "));
            }
        }
        ProfilesCommand::Remove { id } => {
            profiles.remove(&id)?;
            out!("Removed profile {id} and its secrets.");
        }
    }
    Ok(())
}
