//! What a command asks of the site, and whether it may (`docs/site-protocol.md`, Commands
//! and responses): the command must fit the class of the topic it came on, the user's
//! role in the site's own roles table must allow that class, and the target and action
//! must fit the catalog. The hardware's part (how long it takes, whether it moves) is the
//! engine's and the devices'.

use mimamori_protocol::command::{CommandClass, Incoming};
use mimamori_protocol::role::Role;
use mimamori_protocol::{ArmState, Catalog, OutputEntry, OutputKind, OutputValue};
use std::time::Duration;

/// Who sends a command, as the site knows them: the `{user}` level of the topic (which
/// the broker vouches for), its class level (None on the topic without one), and the
/// user's role in the site's own table (None: not in it).
pub struct Asker<'a> {
    pub user: &'a str,
    pub class: Option<&'a str>,
    pub role: Option<Role>,
}

/// What a permitted command does.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Refused, with the reason the user is shown.
    Deny(String),
    /// Switch an output; with `revert_after`, switch it back after that long (a pulse).
    Output { output: OutputEntry, value: OutputValue, revert_after: Option<(Duration, OutputValue)> },
    /// Change the armed state.
    Arm(ArmState),
}

/// The word for an output's value in responses.
pub fn value_word(v: OutputValue) -> &'static str {
    match v {
        OutputValue::On => "on",
        OutputValue::Off => "off",
        OutputValue::Locked => "locked",
        OutputValue::Unlocked => "unlocked",
    }
}

/// The word for an armed state in responses.
pub fn arm_word(state: ArmState) -> &'static str {
    match state {
        ArmState::Armed => "armed",
        ArmState::Partial => "partial",
        ArmState::Disarmed => "disarmed",
    }
}

/// What `asker`'s request does at a site with `catalog`.
pub fn decide(asker: &Asker<'_>, req: &Incoming, catalog: &Catalog) -> Decision {
    let deny = |why: &str| Decision::Deny(why.to_owned());
    // The class of what is targeted, which the topic and the role must both allow.
    let output = match (req.target.site, req.target.output.as_deref()) {
        (Some(true), _) => None,
        (_, Some(output)) => match catalog.outputs.iter().find(|o| o.id == output) {
            Some(entry) => Some(entry),
            None => return deny("no such output"),
        },
        _ => return deny("no target"),
    };
    let class = CommandClass::of(output.map(|o| o.kind));
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
    let Some(output) = output else {
        if !catalog.armable {
            return deny("this site cannot be armed from here");
        }
        return match req.action.as_str() {
            "arm" => Decision::Arm(ArmState::Armed),
            "arm_partial" => Decision::Arm(ArmState::Partial),
            "disarm" => Decision::Arm(ArmState::Disarmed),
            _ => deny("not an action for the site"),
        };
    };
    let is_lock = output.kind == OutputKind::Lock;
    let (value, revert_after) = match (req.action.as_str(), is_lock) {
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
    Decision::Output { output: output.clone(), value, revert_after }
}

/// Why a decided command is not carried out for lack of time: it would end after its
/// deadline on this site's clock (switching `takes` that long), or the site has no clock it
/// trusts to check one. A request without a deadline (an older client) relies on its
/// Message Expiry alone.
pub fn too_late(req: &Incoming, clock_ms: Option<u64>, takes: Duration) -> Option<&'static str> {
    let deadline = req.deadline_ms?;
    match clock_ms {
        None => Some("this site has no trustworthy clock to check the deadline"),
        Some(now) if now.saturating_add(u64::try_from(takes.as_millis()).unwrap_or(u64::MAX)) > deadline => {
            Some("received after its deadline")
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimamori_protocol::command::decode_request;

    fn catalog() -> Catalog {
        serde_json::from_value(serde_json::json!({
            "v": 1, "name": "HQ", "time_zone": "Asia/Tokyo", "armable": true,
            "outputs": [
                {"id": "door", "kind": "lock", "name": "Door"},
                {"id": "siren", "kind": "siren", "name": "Siren"},
                {"id": "light", "kind": "light", "name": "Light"}
            ]
        }))
        .unwrap()
    }

    fn run(user: &str, class: Option<&str>, role: Option<Role>, payload: &[u8]) -> Decision {
        decide(&Asker { user, class, role }, &decode_request(payload).unwrap(), &catalog())
    }

    fn denied(d: Decision) -> String {
        match d {
            Decision::Deny(why) => why,
            other => panic!("not denied: {other:?}"),
        }
    }

    #[test]
    fn the_topic_class_and_the_sites_own_roles_table_decide() {
        let unlock = br#"{"v":1,"request_id":"r-1","target":{"output":"door"},"action":"unlock"}"#;
        let siren = br#"{"v":1,"request_id":"r-2","target":{"output":"siren"},"action":"on"}"#;
        let disarm = br#"{"v":1,"request_id":"r-3","target":{"site":true},"action":"disarm"}"#;
        // An operator: siren on its class's topic, yes; the lock, arming, or the topic
        // without a class (whatever the payload says), no.
        assert!(matches!(run("ken", Some("siren"), Some(Role::Operator), siren), Decision::Output { .. }));
        assert!(
            denied(run("ken", Some("lock"), Some(Role::Operator), unlock))
                .contains("(operator) does not allow")
        );
        denied(run("ken", Some("arming"), Some(Role::Operator), disarm));
        assert!(denied(run("ken", None, Some(Role::Operator), unlock)).contains("admins only"));
        // A command on a topic of another class is refused, even for an admin.
        assert!(
            denied(run("mari", Some("siren"), Some(Role::Admin), unlock))
                .contains("does not belong on the `siren` topic")
        );
        denied(run("mari", Some("doors"), Some(Role::Admin), unlock));
        // Someone the site's table does not list: nothing.
        assert!(denied(run("eve", Some("siren"), None, siren)).contains("no role at this site"));
        // An admin on the right topics, or on the one without a class.
        assert!(matches!(run("mari", Some("lock"), Some(Role::Admin), unlock), Decision::Output { .. }));
        assert_eq!(run("mari", None, Some(Role::Admin), disarm), Decision::Arm(ArmState::Disarmed));
    }

    #[test]
    fn targets_and_actions_must_fit_the_catalog() {
        let admin = |p: &[u8]| run("mari", None, Some(Role::Admin), p);
        denied(admin(br#"{"v":1,"request_id":"r-1","target":{"output":"door"},"action":"on"}"#));
        assert!(
            denied(admin(br#"{"v":1,"request_id":"r-2","target":{"output":"vault"},"action":"on"}"#))
                .contains("no such output")
        );
        denied(admin(
            br#"{"v":1,"request_id":"r-3","target":{"output":"light"},"action":"pulse","seconds":0}"#,
        ));
        let pulse =
            admin(br#"{"v":1,"request_id":"r-4","target":{"output":"light"},"action":"pulse","seconds":5}"#);
        assert!(
            matches!(pulse, Decision::Output { revert_after: Some((d, OutputValue::Off)), .. } if d.as_secs() == 5)
        );
        let lock_pulse =
            admin(br#"{"v":1,"request_id":"r-5","target":{"output":"door"},"action":"pulse","seconds":3}"#);
        assert!(matches!(
            lock_pulse,
            Decision::Output {
                value: OutputValue::Unlocked,
                revert_after: Some((_, OutputValue::Locked)),
                ..
            }
        ));
    }

    #[test]
    fn a_deadline_is_kept_on_the_sites_clock() {
        let now = 1_764_000_000_000_u64;
        let lock = |deadline: u64| {
            decode_request(
                format!(r#"{{"v":1,"request_id":"r-1","target":{{"output":"door"}},"action":"unlock","deadline_ms":{deadline}}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        let takes = Duration::from_millis(300);
        assert_eq!(too_late(&lock(now + 1_000), Some(now), takes), None);
        assert_eq!(too_late(&lock(now - 1), Some(now), takes), Some("received after its deadline"));
        assert_eq!(too_late(&lock(now + 100), Some(now), takes), Some("received after its deadline"));
        assert!(too_late(&lock(now + 60_000), None, takes).unwrap().contains("no trustworthy clock"));
        let old =
            decode_request(br#"{"v":1,"request_id":"r-5","target":{"output":"door"},"action":"unlock"}"#)
                .unwrap();
        assert_eq!(too_late(&old, None, takes), None);
    }
}
