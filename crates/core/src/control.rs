//! Commands to a site: switch an output (siren, light, lock, relay) or arm/disarm the site,
//! as MQTT 5 requests (`docs/site-protocol.md`, Commands and responses). The core checks
//! the user's role and the site's catalog before anything is sent, writes the command to
//! the audit log first (no log, no command), sends it with a relative expiry so that it can
//! never fire late, and reports *done*, *denied*, *failed*, *expired* or *unconfirmed* —
//! never *done* unless the site said so.

use crate::audit::{Audit, AuditError, Record};
use crate::bus::{BusState, Reply};
use crate::protocol::command::{CommandClass, Request};
use crate::protocol::role::{Permission, Role};
use crate::protocol::{OutputKind, check_id};
use crate::site::SiteView;
use crate::time::now_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use ts_rs::TS;

/// What a command is aimed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// An output of the site, by id.
    Output(String),
    /// The site itself (arm, disarm).
    Site,
}

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    On,
    Off,
    /// On (or unlocked) for this many seconds, then back.
    Pulse {
        seconds: u32,
    },
    Lock,
    Unlock,
    Arm,
    ArmPartial,
    Disarm,
}

impl Action {
    /// The action's word on the wire (`pulse` without its seconds).
    pub fn word(self) -> &'static str {
        self.wire().0
    }

    fn wire(self) -> (&'static str, Option<u32>) {
        match self {
            Action::On => ("on", None),
            Action::Off => ("off", None),
            Action::Pulse { seconds } => ("pulse", Some(seconds)),
            Action::Lock => ("lock", None),
            Action::Unlock => ("unlock", None),
            Action::Arm => ("arm", None),
            Action::ArmPartial => ("arm_partial", None),
            Action::Disarm => ("disarm", None),
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Action, String> {
        Ok(match s {
            "on" => Action::On,
            "off" => Action::Off,
            "lock" => Action::Lock,
            "unlock" => Action::Unlock,
            "arm" => Action::Arm,
            "arm_partial" | "partial" => Action::ArmPartial,
            "disarm" => Action::Disarm,
            other => match other.strip_prefix("pulse") {
                Some(n) => Action::Pulse {
                    seconds: n
                        .trim_start_matches([':', '='])
                        .parse()
                        .map_err(|_| "pulse:N, N in seconds".to_string())?,
                },
                None => {
                    return Err(format!(
                        "unknown action `{s}` (on, off, pulse:N, lock, unlock, arm, arm_partial, disarm)"
                    ));
                }
            },
        })
    }
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Outcome {
    /// The site executed it; `state` is the resulting state it reported.
    Done { state: Option<String> },
    /// Refused by the broker (this user may not write there) or by the site.
    Denied { by: DeniedBy, message: Option<String> },
    /// The site tried and the hardware did not follow.
    Failed { message: Option<String> },
    /// The site received it too late and did not execute it.
    Expired,
    /// No answer within the timeout: it may or may not have happened, and, since it
    /// expires, it cannot happen later.
    Unconfirmed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum DeniedBy {
    Broker,
    Site,
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::Denied { .. } => "denied",
            Outcome::Failed { .. } => "failed",
            Outcome::Expired => "expired",
            Outcome::Unconfirmed => "unconfirmed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no site `{0}` is known")]
    UnknownSite(String),
    #[error("site `{site}` has no output `{output}`")]
    UnknownOutput { site: String, output: String },
    #[error("`{action}` does not apply to {target}")]
    DoesNotFit { action: &'static str, target: String },
    #[error("site `{0}` has not reported yet: nothing was sent")]
    NotReported(String),
    #[error("your role on site `{site}` ({role}) does not allow this")]
    NotPermitted { site: String, role: &'static str },
    #[error("a pulse lasts 1 to {MAX_PULSE} seconds")]
    BadPulse,
    #[error("a note is at most {MAX_NOTE} characters")]
    NoteTooLong,
    #[error("not connected to the broker: nothing was sent")]
    NotConnected,
    #[error("this lowers protection: confirm with your app PIN first")]
    ProofNeeded,
    #[error("the audit log cannot be written, so the command was not sent: {0}")]
    Audit(#[from] AuditError),
    #[error("{0}")]
    Invalid(#[from] crate::protocol::ProtocolError),
}

pub const MAX_PULSE: u32 = 600;
pub const MAX_NOTE: usize = 500;

/// One command as the user asked it.
#[derive(Clone, Debug)]
pub struct Command {
    pub site: String,
    pub target: Target,
    pub action: Action,
    pub note: Option<String>,
}

/// Whether a command lowers protection — unlocking, disarming, silencing the siren — and
/// so needs a fresh proof that the device's owner holds it (the app PIN) on top of the role.
pub fn needs_proof(kind: Option<OutputKind>, action: Action) -> bool {
    matches!(
        (kind, action),
        (Some(OutputKind::Lock), Action::Unlock | Action::Pulse { .. })
            | (None, Action::Disarm)
            | (Some(OutputKind::Siren), Action::Off)
    )
}

/// Checks a command against the catalog and the user's role there (the one the site
/// publishes, or for a site that keeps no roles table the enrolled one: `SiteSummary::role`);
/// answers the kind of the target output (None for the site).
pub fn check(bus: &BusState, cmd: &Command) -> Result<Option<OutputKind>, ControlError> {
    check_id("site id", &cmd.site)?;
    let view = bus.view(&cmd.site).ok_or_else(|| ControlError::UnknownSite(cmd.site.clone()))?;
    check_in(&view, cmd)
}

/// [`check`] against a view already in hand (several commands against one site read the
/// site's view once).
pub fn check_in(view: &SiteView, cmd: &Command) -> Result<Option<OutputKind>, ControlError> {
    if cmd.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ControlError::NoteTooLong);
    }
    if let Action::Pulse { seconds } = cmd.action
        && !(1..=MAX_PULSE).contains(&seconds)
    {
        return Err(ControlError::BadPulse);
    }
    let (kind, needed) =
        match &cmd.target {
            Target::Output(id) => {
                check_id("output id", id)?;
                let out = view.outputs.iter().find(|o| &o.id == id).ok_or_else(|| {
                    ControlError::UnknownOutput { site: cmd.site.clone(), output: id.clone() }
                })?;
                let fits = matches!(
                    (out.kind, cmd.action),
                    (OutputKind::Lock, Action::Lock | Action::Unlock | Action::Pulse { .. })
                        | (
                            OutputKind::Siren | OutputKind::Light | OutputKind::Relay,
                            Action::On | Action::Off | Action::Pulse { .. }
                        )
                );
                if !fits {
                    return Err(ControlError::DoesNotFit {
                        action: cmd.action.wire().0,
                        target: format!("output `{id}` ({:?})", out.kind).to_lowercase(),
                    });
                }
                (Some(out.kind), Permission::Output(out.kind))
            }
            Target::Site => {
                let fits =
                    matches!(cmd.action, Action::Arm | Action::Disarm | Action::ArmPartial) && view.armable;
                if !fits {
                    return Err(ControlError::DoesNotFit {
                        action: cmd.action.wire().0,
                        target: format!("site `{}`", cmd.site),
                    });
                }
                (None, Permission::ArmOrDisarm)
            }
        };
    permitted(view, needed)?;
    Ok(kind)
}

/// Whether the user's role at the site allows `needed`. Before the site's catalog, which
/// says whether the site keeps a roles table, the role that holds is not known yet.
fn permitted(view: &SiteView, needed: Permission) -> Result<(), ControlError> {
    if view.summary.name.is_none() {
        return Err(ControlError::NotReported(view.summary.id.clone()));
    }
    let role = view.summary.role;
    if role.is_some_and(|r| r.may(needed)) {
        return Ok(());
    }
    Err(ControlError::NotPermitted {
        site: view.summary.id.clone(),
        role: role.map_or("no role", Role::as_str),
    })
}

/// Sends a command: check, audit, publish with `timeout` as its expiry, wait for the
/// answer. The audit log gets the command before it is sent and its outcome after. A
/// command that lowers protection ([`needs_proof`]) goes only with a proof of the app PIN
/// waiting in `pin`, which it uses up: one proof, one such command.
pub async fn send(
    bus: &BusState,
    audit: &Audit,
    user: &str,
    cmd: Command,
    pin: Option<&crate::pin::DevicePin>,
    timeout: Duration,
) -> Result<Outcome, ControlError> {
    let request_id = crate::protocol::new_request_id('r');
    let (action, seconds) = cmd.action.wire();
    let target_text = match &cmd.target {
        Target::Output(id) => format!("output:{id}"),
        Target::Site => "site".to_string(),
    };
    let record = |what: &str, outcome: &str| Record {
        time_ms: now_ms(),
        user: user.to_owned(),
        what: what.to_owned(),
        site: cmd.site.clone(),
        target: target_text.clone(),
        action: match seconds {
            Some(s) => format!("{action}:{s}"),
            None => action.to_owned(),
        },
        request_id: request_id.clone(),
        outcome: outcome.to_owned(),
        note: cmd.note.clone(),
    };
    let checked = check(bus, &cmd).and_then(|kind| {
        let proven = !needs_proof(kind, cmd.action) || pin.is_some_and(crate::pin::DevicePin::take_proof);
        if proven { Ok(kind) } else { Err(ControlError::ProofNeeded) }
    });
    let class = match checked {
        Ok(kind) => CommandClass::of(kind),
        Err(e) => {
            // A refusal in the core is recorded too (if the log can be written).
            let _ = audit.append(record("command", "refused"));
            return Err(e);
        }
    };
    if !bus.connection().phase.is_connected() {
        let _ = audit.append(record("command", "not sent: offline"));
        return Err(ControlError::NotConnected);
    }
    // No log, no command.
    audit.append(record("command", "sent"))?;
    let target = match &cmd.target {
        Target::Output(id) => serde_json::json!({ "output": id }),
        Target::Site => serde_json::json!({ "site": true }),
    };
    // The deadline on the site's clock, estimated from its live heartbeats (early rather
    // than late); the relative expiry below holds whatever the clocks say.
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let deadline_ms = bus.site_clock_ms(&cmd.site).map(|now| now.saturating_add(timeout_ms));
    let body = Request {
        v: 1,
        request_id: &request_id,
        target,
        action,
        seconds,
        note: cmd.note.as_deref(),
        deadline_ms,
    };
    let payload =
        serde_json::to_vec(&body).map_err(|e| ControlError::Audit(AuditError::Io(e.to_string())))?;
    let expiry = timeout.as_secs().max(1) as u32;
    let Some(reply) = bus.request(&cmd.site, class, &request_id, payload, expiry) else {
        // The connection task went away between the check and the send.
        let _ = audit.append(record("outcome", "not sent: offline"));
        return Err(ControlError::NotConnected);
    };
    let outcome = match tokio::time::timeout(timeout, reply).await {
        Ok(Ok(Reply::Response(r))) => match r.outcome.as_str() {
            "done" => Outcome::Done { state: r.state },
            "denied" => Outcome::Denied { by: DeniedBy::Site, message: r.message },
            "failed" => Outcome::Failed { message: r.message },
            "expired" => Outcome::Expired,
            _ => Outcome::Failed { message: Some("the site answered with an unknown outcome".into()) },
        },
        Ok(Ok(Reply::Refused(reason))) => Outcome::Denied { by: DeniedBy::Broker, message: Some(reason) },
        Ok(Ok(Reply::Accepted) | Err(_)) | Err(_) => Outcome::Unconfirmed,
    };
    bus.forget_request(&request_id);
    // The outcome is recorded after the fact; the command itself already is.
    if let Err(e) = audit.append(record("outcome", outcome.word())) {
        tracing::error!("the outcome of {request_id} could not be written to the audit log: {e}");
    }
    Ok(outcome)
}

/// An acknowledgement as the user gave it.
#[derive(Clone, Debug)]
pub struct Ack {
    pub site: String,
    pub alert_id: String,
    /// For colleagues; every user of the site can read it.
    pub note: Option<String>,
}

/// Acknowledges an alert of `site`, with an optional note for colleagues: checked against
/// the role, written to the audit log first, published to the site's `ack/{user}` topic.
/// The result is *done* once the broker took it (the site then publishes the alert update
/// that every device shows), *denied* when the broker refused it, *unconfirmed* without
/// an answer within `timeout`. An alert this device raised itself (a link failure) is
/// acknowledged in `inbox`, since no site knows it.
pub async fn acknowledge(
    bus: &BusState,
    audit: &Audit,
    inbox: Option<&crate::inbox::Inbox>,
    user: &str,
    ack: Ack,
    timeout: Duration,
) -> Result<Outcome, ControlError> {
    let Ack { site, alert_id, note } = &ack;
    let (site, alert_id) = (site.as_str(), alert_id.as_str());
    check_id("site id", site)?;
    check_id("alert id", alert_id)?;
    let request_id = crate::protocol::new_request_id('k');
    let record = |what: &str, outcome: &str| Record {
        time_ms: now_ms(),
        user: user.to_owned(),
        what: what.to_owned(),
        site: site.to_owned(),
        target: format!("alert:{alert_id}"),
        action: "acknowledge".to_owned(),
        request_id: request_id.clone(),
        outcome: outcome.to_owned(),
        note: note.clone(),
    };
    let checked = if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        Err(ControlError::NoteTooLong)
    } else if let Some(view) = bus.view(site) {
        permitted(&view, Permission::Acknowledge).and_then(|()| {
            if bus.connection().phase.is_connected() { Ok(()) } else { Err(ControlError::NotConnected) }
        })
    } else {
        Err(ControlError::UnknownSite(site.to_owned()))
    };
    if let Err(e) = checked {
        let word = if matches!(e, ControlError::NotConnected) { "not sent: offline" } else { "refused" };
        let _ = audit.append(record("ack", word));
        return Err(e);
    }
    audit.append(record("ack", "sent"))?;
    if let Some(inbox) = inbox
        && inbox.is_local(site, alert_id).unwrap_or(false)
    {
        let outcome = match inbox.acknowledge_local(site, alert_id, user, note.as_deref(), now_ms()) {
            Ok(true) => {
                bus.inbox_changed(site.to_owned());
                Outcome::Done { state: None }
            }
            Ok(false) => Outcome::Failed { message: Some("already acknowledged".into()) },
            Err(e) => Outcome::Failed { message: Some(e.to_string()) },
        };
        let _ = audit.append(record("outcome", outcome.word()));
        return Ok(outcome);
    }
    let payload = crate::protocol::encode(&crate::protocol::command::Ack {
        v: crate::protocol::VERSION,
        alert_id: alert_id.to_owned(),
        note: note.clone(),
    });
    let Some(reply) = bus.publish_ack(site, &request_id, payload) else {
        let _ = audit.append(record("outcome", "not sent: offline"));
        return Err(ControlError::NotConnected);
    };
    let outcome = match tokio::time::timeout(timeout, reply).await {
        Ok(Ok(Reply::Accepted)) => Outcome::Done { state: None },
        Ok(Ok(Reply::Refused(reason))) => Outcome::Denied { by: DeniedBy::Broker, message: Some(reason) },
        Ok(Ok(Reply::Response(_)) | Err(_)) | Err(_) => Outcome::Unconfirmed,
    };
    bus.forget_request(&request_id);
    if let Err(e) = audit.append(record("outcome", outcome.word())) {
        tracing::error!("the outcome of {request_id} could not be written to the audit log: {e}");
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_from_words() {
        assert_eq!("on".parse::<Action>().unwrap(), Action::On);
        assert_eq!("pulse:5".parse::<Action>().unwrap(), Action::Pulse { seconds: 5 });
        assert_eq!("partial".parse::<Action>().unwrap(), Action::ArmPartial);
        assert!("explode".parse::<Action>().is_err());
        assert!("pulse:x".parse::<Action>().is_err());
    }
}
