//! How a simulated site executes commands (`docs/site-protocol.md`, Commands and
//! responses): it checks the target and action against its catalog, executes like real
//! hardware (a lock takes 300 ms, a pulse switches back by itself, a broken output fails),
//! answers each request id once (a redelivered request gets the same answer), and
//! republishes the output's state with who changed it.

use mimamori_core::protocol::{ArmState, Catalog, OutputKind, OutputValue};
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
    /// Decides what `user`'s request does, given the site's catalog and output states.
    /// Executes one request of `user`. `clock_ms`: this site's clock, None while it has no
    /// trustworthy one (a request with a deadline is then not executed).
    pub fn execute(
        &mut self,
        user: &str,
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
        if req.v != 1 || mimamori_core::protocol::check_id("request id", &req.request_id).is_err() {
            return Effect::Ignore;
        }
        let key = (user.to_owned(), req.request_id.clone());
        if let Some((_, answer)) = self.seen.get(&key) {
            return Effect::Answer(answer.clone());
        }
        let effect = in_time(&req, clock_ms, self.decide(&req, catalog, outputs));
        let answer = match &effect {
            Effect::Answer(a) | Effect::Output { answer: a, .. } | Effect::Arm { answer: a, .. } => a.clone(),
            Effect::Ignore => Vec::new(),
        };
        self.seen.insert(key, (now, answer));
        effect
    }

    fn decide(&self, req: &Request, catalog: &Catalog, outputs: &BTreeMap<String, OutputValue>) -> Effect {
        let id = req.request_id.as_str();
        let deny = |why: &str| Effect::Answer(response(id, "denied", None, Some(why)));
        if req.target.site == Some(true) {
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
        let Some(output) = req.target.output.as_deref() else { return deny("no target") };
        let Some(entry) = catalog.outputs.iter().find(|o| o.id == output) else {
            return deny("no such output");
        };
        if self.broken.iter().any(|b| b == output) {
            return Effect::Answer(response(
                id,
                "failed",
                outputs.get(output).map(|v| value_word(*v)),
                Some("the output did not respond"),
            ));
        }
        let is_lock = entry.kind == OutputKind::Lock;
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

    #[test]
    fn commands_are_executed_once_and_checked_against_the_catalog() {
        let mut ex = Executor::default();
        let siren = br#"{"v":1,"request_id":"r-1","target":{"output":"siren"},"action":"on"}"#;
        let first = ex.execute("ken", siren, &catalog(), &outputs(), None);
        assert!(matches!(&first, Effect::Output { value: OutputValue::On, delay, .. } if delay.is_zero()));
        // A redelivery gets the same answer and does nothing more.
        assert!(matches!(ex.execute("ken", siren, &catalog(), &outputs(), None), Effect::Answer(_)));
        let lock = br#"{"v":1,"request_id":"r-2","target":{"output":"door"},"action":"unlock"}"#;
        assert!(
            matches!(ex.execute("ken", lock, &catalog(), &outputs(), None), Effect::Output { delay, .. } if delay == LOCK_DELAY)
        );
        let wrong = br#"{"v":1,"request_id":"r-3","target":{"output":"door"},"action":"on"}"#;
        assert!(
            matches!(ex.execute("ken", wrong, &catalog(), &outputs(), None), Effect::Answer(a) if String::from_utf8_lossy(&a).contains("denied"))
        );
        let pulse = br#"{"v":1,"request_id":"r-4","target":{"output":"light"},"action":"pulse","seconds":5}"#;
        assert!(
            matches!(ex.execute("ken", pulse, &catalog(), &outputs(), None), Effect::Output { revert_after: Some((d, OutputValue::Off)), .. } if d.as_secs() == 5)
        );
        assert_eq!(ex.execute("ken", b"garbage", &catalog(), &outputs(), None), Effect::Ignore);
        ex.broken.push("siren".into());
        let again = br#"{"v":1,"request_id":"r-5","target":{"output":"siren"},"action":"on"}"#;
        assert!(
            matches!(ex.execute("ken", again, &catalog(), &outputs(), None), Effect::Answer(a) if String::from_utf8_lossy(&a).contains("failed"))
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
        let answer = |e: Effect| match e {
            Effect::Answer(a) => String::from_utf8_lossy(&a).into_owned(),
            other => format!("{other:?}"),
        };
        // In time, the lock's 300 ms included: executed.
        let fresh =
            ex.execute("mari", lock("r-1", now + 1_000).as_bytes(), &catalog(), &outputs(), Some(now));
        assert!(matches!(fresh, Effect::Output { .. }), "{fresh:?}");
        // Past the deadline, or finishing after it: expired, nothing done.
        let stale = ex.execute("mari", lock("r-2", now - 1).as_bytes(), &catalog(), &outputs(), Some(now));
        assert!(answer(stale).contains("expired"));
        let too_slow =
            ex.execute("mari", lock("r-3", now + 100).as_bytes(), &catalog(), &outputs(), Some(now));
        assert!(answer(too_slow).contains("expired"));
        // No trustworthy clock: a deadline cannot be checked, so nothing is done.
        let unsure = ex.execute("mari", lock("r-4", now + 60_000).as_bytes(), &catalog(), &outputs(), None);
        assert!(answer(unsure).contains("no trustworthy clock"));
        // A request without a deadline (an older client) relies on its expiry alone.
        let old = br#"{"v":1,"request_id":"r-5","target":{"output":"door"},"action":"unlock"}"#;
        assert!(matches!(ex.execute("mari", old, &catalog(), &outputs(), None), Effect::Output { .. }));
    }
}
