//! How a simulated site executes commands (`docs/site-protocol.md`, Commands and
//! responses): it checks that the command fits the class of the topic it came on and that
//! the user's role in the site's own roles table allows it, checks the target and action
//! against its catalog, executes like real hardware (a lock takes 300 ms, a pulse switches
//! back by itself, a broken output fails), answers each request id once (a redelivered
//! request gets the same answer), and republishes the output's state with who changed it.

use mimamori_protocol::command::CommandClass;
use mimamori_protocol::role::Role;
use mimamori_protocol::{ArmState, Catalog, OutputKind, OutputValue};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long an electric lock takes to move.
pub const LOCK_DELAY: Duration = Duration::from_millis(300);
/// How long answers are remembered for duplicate requests.
const REMEMBER: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize)]
struct Request {
    v: u8,
    request_id: String,
    target: Target,
    action: String,
    #[serde(default)]
    seconds: Option<u32>,
    /// The absolute deadline on this site's clock (ms since the Unix epoch), if the client
    /// sent one.
    #[serde(default)]
    deadline_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Target {
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    site: Option<bool>,
}

/// What executing a request leads to.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Answer now (denied, failed, or a duplicate's remembered answer).
    Answer(Vec<u8>),
    /// Set an output after `delay`, then answer; with `revert_after`, switch back later.
    Output {
        output: String,
        value: OutputValue,
        delay: Duration,
        revert_after: Option<(Duration, OutputValue)>,
        answer: Vec<u8>,
    },
    /// Change the armed state, then answer.
    Arm { state: ArmState, answer: Vec<u8> },
    /// Not a request at all: nothing to answer (no request id to answer to).
    Ignore,
}

/// Who sends a command, as the site knows them: the `{user}` level of the topic (which
/// the broker vouches for), its class level (None on the topic without one), and the
/// user's role in the site's own table (None: not in it).
pub struct Asker<'a> {
    pub user: &'a str,
    pub class: Option<&'a str>,
    pub role: Option<Role>,
}

#[derive(Default)]
pub struct Executor {
    seen: HashMap<(String, String), (Instant, Vec<u8>)>,
    /// Outputs that fail whatever is asked (to simulate broken hardware).
    pub broken: Vec<String>,
}

pub fn response(request_id: &str, outcome: &str, state: Option<&str>, message: Option<&str>) -> Vec<u8> {
    let mut r = serde_json::json!({ "v": 1, "request_id": request_id, "outcome": outcome });
    if let Some(s) = state {
        r["state"] = s.into();
    }
    if let Some(m) = message {
        r["message"] = m.into();
    }
    serde_json::to_vec(&r).unwrap_or_default()
}

/// The effect, if it completes by the request's deadline on this site's clock (a lock
/// takes its time); else an `expired` answer and nothing done. Without a trustworthy clock
/// a deadline cannot be checked, so a request carrying one is not executed.
fn in_time(req: &Request, clock_ms: Option<u64>, effect: Effect) -> Effect {
    let Some(deadline) = req.deadline_ms else { return effect };
    let takes = match &effect {
        Effect::Output { delay, .. } => *delay,
        Effect::Arm { .. } => Duration::ZERO,
        Effect::Answer(_) | Effect::Ignore => return effect,
    };
    let expired = |why: &str| Effect::Answer(response(&req.request_id, "expired", None, Some(why)));
    match clock_ms {
        None => expired("this site has no trustworthy clock to check the deadline"),
        Some(now) if now.saturating_add(u64::try_from(takes.as_millis()).unwrap_or(u64::MAX)) > deadline => {
            expired("received after its deadline")
        }
        Some(_) => effect,
    }
}

fn value_word(v: OutputValue) -> &'static str {
    match v {
        OutputValue::On => "on",
        OutputValue::Off => "off",
        OutputValue::Locked => "locked",
        OutputValue::Unlocked => "unlocked",
    }
}

impl Executor {
    /// Decides what `asker`'s request does, given the site's catalog and output states.
    /// `clock_ms`: this site's clock, None while it has no trustworthy one (a request with
    /// a deadline is then not executed).
    pub fn execute(
        &mut self,
        asker: &Asker<'_>,
        payload: &[u8],
        catalog: &Catalog,
        outputs: &BTreeMap<String, OutputValue>,
        clock_ms: Option<u64>,
    ) -> Effect {
        let now = Instant::now();
        self.seen.retain(|_, (at, _)| now.duration_since(*at) < REMEMBER);
        let Ok(req) = serde_json::from_slice::<Request>(payload) else {
            return Effect::Ignore;
        };
        if req.v != 1 || mimamori_protocol::check_id("request id", &req.request_id).is_err() {
            return Effect::Ignore;
        }
        let key = (asker.user.to_owned(), req.request_id.clone());
        if let Some((_, answer)) = self.seen.get(&key) {
            return Effect::Answer(answer.clone());
        }
        let effect = in_time(&req, clock_ms, self.decide(asker, &req, catalog, outputs));
        let answer = match &effect {
            Effect::Answer(a) | Effect::Output { answer: a, .. } | Effect::Arm { answer: a, .. } => a.clone(),
            Effect::Ignore => Vec::new(),
        };
        self.seen.insert(key, (now, answer));
        effect
    }

    fn decide(
        &self,
        asker: &Asker<'_>,
        req: &Request,
        catalog: &Catalog,
        outputs: &BTreeMap<String, OutputValue>,
    ) -> Effect {
        let id = req.request_id.as_str();
        let deny = |why: &str| Effect::Answer(response(id, "denied", None, Some(why)));
        // The class of what is targeted, which the topic and the role must both allow.
        let kind = match (req.target.site, req.target.output.as_deref()) {
            (Some(true), _) => None,
            (_, Some(output)) => match catalog.outputs.iter().find(|o| o.id == output) {
                Some(entry) => Some(entry.kind),
                None => return deny("no such output"),
            },
            _ => return deny("no target"),
        };
        let class = CommandClass::of(kind);
        match asker.class {
            Some(level) if level != class.as_str() => {
                return deny(&format!("a {} command does not belong on the `{level}` topic", class.as_str()));
            }
            None if asker.role != Some(Role::Admin) => {
                return deny("the commands topic without a class is for admins only");
            }
            _ => {}
        }
        match asker.role {
            Some(role) if role.may(class.permission()) => {}
            Some(role) => return deny(&format!("your role here ({}) does not allow this", role.as_str())),
            None => return deny("you have no role at this site"),
        }
        if kind.is_none() {
            if !catalog.armable {
                return deny("this site cannot be armed from here");
            }
            let state = match req.action.as_str() {
                "arm" => ArmState::Armed,
                "arm_partial" => ArmState::Partial,
                "disarm" => ArmState::Disarmed,
                _ => return deny("not an action for the site"),
            };
            let word = match state {
                ArmState::Armed => "armed",
                ArmState::Partial => "partial",
                ArmState::Disarmed => "disarmed",
            };
            return Effect::Arm { state, answer: response(id, "done", Some(word), None) };
        }
        let output = req.target.output.as_deref().unwrap_or_default();
        if self.broken.iter().any(|b| b == output) {
            return Effect::Answer(response(
                id,
                "failed",
                outputs.get(output).map(|v| value_word(*v)),
                Some("the output did not respond"),
            ));
        }
        let is_lock = kind == Some(OutputKind::Lock);
        let (value, revert) = match (req.action.as_str(), is_lock) {
            ("on", false) => (OutputValue::On, None),
            ("off", false) => (OutputValue::Off, None),
            ("lock", true) => (OutputValue::Locked, None),
            ("unlock", true) => (OutputValue::Unlocked, None),
            ("pulse", _) => {
                let Some(s) = req.seconds.filter(|s| (1..=600).contains(s)) else {
                    return deny("a pulse lasts 1 to 600 seconds");
                };
                let (during, after) = if is_lock {
                    (OutputValue::Unlocked, OutputValue::Locked)
                } else {
                    (OutputValue::On, OutputValue::Off)
                };
                (during, Some((Duration::from_secs(u64::from(s)), after)))
            }
            _ => return deny("this action does not fit this output"),
        };
        let delay = if is_lock { LOCK_DELAY } else { Duration::ZERO };
        Effect::Output {
            output: output.to_owned(),
            value,
            delay,
            revert_after: revert,
            answer: response(id, "done", Some(value_word(value)), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        crate::demo::site("hq").unwrap().catalog
    }

    fn outputs() -> BTreeMap<String, OutputValue> {
        crate::demo::site("hq").unwrap().outputs
    }

    /// An admin on the topic without a class, which admins may use.
    fn admin(user: &str) -> Asker<'_> {
        Asker { user, class: None, role: Some(Role::Admin) }
    }

    fn answer(e: Effect) -> String {
        match e {
            Effect::Answer(a) => String::from_utf8_lossy(&a).into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn the_topic_class_and_the_sites_own_roles_table_decide() {
        let mut ex = Executor::default();
        let unlock = br#"{"v":1,"request_id":"r-1","target":{"output":"door"},"action":"unlock"}"#;
        let siren = br#"{"v":1,"request_id":"r-2","target":{"output":"siren"},"action":"on"}"#;
        let disarm = br#"{"v":1,"request_id":"r-3","target":{"site":true},"action":"disarm"}"#;
        let unlock_again = br#"{"v":1,"request_id":"r-4","target":{"output":"door"},"action":"unlock"}"#;
        let mut run = |user: &str, class: Option<&str>, role: Option<Role>, payload: &[u8]| {
            ex.execute(&Asker { user, class, role }, payload, &catalog(), &outputs(), None)
        };
        // An operator: siren on its class's topic, yes; the lock, arming, or the topic
        // without a class (whatever the payload says), no.
        assert!(matches!(run("ken", Some("siren"), Some(Role::Operator), siren), Effect::Output { .. }));
        let refused = answer(run("ken", Some("lock"), Some(Role::Operator), unlock));
        assert!(refused.contains("denied") && refused.contains("(operator) does not allow"), "{refused}");
        assert!(answer(run("ken", Some("arming"), Some(Role::Operator), disarm)).contains("denied"));
        let old = answer(run("ken", None, Some(Role::Operator), unlock_again));
        assert!(old.contains("denied") && old.contains("admins only"), "{old}");
        // A command on a topic of another class is refused, even for an admin.
        let misfiled = answer(run("mari", Some("siren"), Some(Role::Admin), unlock));
        assert!(misfiled.contains("does not belong on the `siren` topic"), "{misfiled}");
        assert!(answer(run("mari", Some("doors"), Some(Role::Admin), unlock)).contains("denied"));
        // Someone the site's table does not list: nothing.
        assert!(answer(run("eve", Some("siren"), None, siren)).contains("no role at this site"));
        // An admin on the right topics, or on the one without a class.
        assert!(matches!(run("mari", Some("lock"), Some(Role::Admin), unlock_again), Effect::Output { .. }));
        assert!(matches!(run("mari", None, Some(Role::Admin), disarm), Effect::Arm { .. }));
    }

    #[test]
    fn commands_are_executed_once_and_checked_against_the_catalog() {
        let mut ex = Executor::default();
        let siren = br#"{"v":1,"request_id":"r-1","target":{"output":"siren"},"action":"on"}"#;
        let first = ex.execute(&admin("ken"), siren, &catalog(), &outputs(), None);
        assert!(matches!(&first, Effect::Output { value: OutputValue::On, delay, .. } if delay.is_zero()));
        // A redelivery gets the same answer and does nothing more.
        assert!(matches!(ex.execute(&admin("ken"), siren, &catalog(), &outputs(), None), Effect::Answer(_)));
        let lock = br#"{"v":1,"request_id":"r-2","target":{"output":"door"},"action":"unlock"}"#;
        assert!(
            matches!(ex.execute(&admin("ken"), lock, &catalog(), &outputs(), None), Effect::Output { delay, .. } if delay == LOCK_DELAY)
        );
        let wrong = br#"{"v":1,"request_id":"r-3","target":{"output":"door"},"action":"on"}"#;
        assert!(
            matches!(ex.execute(&admin("ken"), wrong, &catalog(), &outputs(), None), Effect::Answer(a) if String::from_utf8_lossy(&a).contains("denied"))
        );
        let pulse = br#"{"v":1,"request_id":"r-4","target":{"output":"light"},"action":"pulse","seconds":5}"#;
        assert!(
            matches!(ex.execute(&admin("ken"), pulse, &catalog(), &outputs(), None), Effect::Output { revert_after: Some((d, OutputValue::Off)), .. } if d.as_secs() == 5)
        );
        assert_eq!(ex.execute(&admin("ken"), b"garbage", &catalog(), &outputs(), None), Effect::Ignore);
        ex.broken.push("siren".into());
        let again = br#"{"v":1,"request_id":"r-5","target":{"output":"siren"},"action":"on"}"#;
        assert!(
            matches!(ex.execute(&admin("ken"), again, &catalog(), &outputs(), None), Effect::Answer(a) if String::from_utf8_lossy(&a).contains("failed"))
        );
    }

    #[test]
    fn a_deadline_is_kept_on_the_sites_clock() {
        let mut ex = Executor::default();
        let now = 1_764_000_000_000_u64;
        let lock = |id: &str, deadline: u64| {
            format!(
                r#"{{"v":1,"request_id":"{id}","target":{{"output":"door"}},"action":"unlock","deadline_ms":{deadline}}}"#
            )
        };
        // In time, the lock's 300 ms included: executed.
        let fresh = ex.execute(
            &admin("mari"),
            lock("r-1", now + 1_000).as_bytes(),
            &catalog(),
            &outputs(),
            Some(now),
        );
        assert!(matches!(fresh, Effect::Output { .. }), "{fresh:?}");
        // Past the deadline, or finishing after it: expired, nothing done.
        let stale =
            ex.execute(&admin("mari"), lock("r-2", now - 1).as_bytes(), &catalog(), &outputs(), Some(now));
        assert!(answer(stale).contains("expired"));
        let too_slow =
            ex.execute(&admin("mari"), lock("r-3", now + 100).as_bytes(), &catalog(), &outputs(), Some(now));
        assert!(answer(too_slow).contains("expired"));
        // No trustworthy clock: a deadline cannot be checked, so nothing is done.
        let unsure =
            ex.execute(&admin("mari"), lock("r-4", now + 60_000).as_bytes(), &catalog(), &outputs(), None);
        assert!(answer(unsure).contains("no trustworthy clock"));
        // A request without a deadline (an older client) relies on its expiry alone.
        let old = br#"{"v":1,"request_id":"r-5","target":{"output":"door"},"action":"unlock"}"#;
        assert!(matches!(
            ex.execute(&admin("mari"), old, &catalog(), &outputs(), None),
            Effect::Output { .. }
        ));
    }
}
