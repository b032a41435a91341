//! An alarm panel on the site's broker, in Home Assistant's MQTT vocabulary
//! (`docs/gateway.md`, Alarm panel): the panel's state on a state topic (`disarmed`,
//! `armed_home`, `armed_away`, `armed_night`, `armed_vacation`, `armed_custom_bypass`,
//! `pending`, `arming`, `disarming`, `triggered`) and commands (`ARM_AWAY`, `ARM_HOME`,
//! `DISARM`, …) on a command topic through a template with the panel's code. This is how
//! Home Assistant talks to an MQTT alarm panel, and how a keypad talks to Home Assistant's
//! Manual MQTT alarm: either can be the site's panel. With a panel, the panel keeps the
//! armed state and the gateway follows it.

use mimamori_core::Secret;
use mimamori_protocol::ArmState;
use serde::Deserialize;

/// The `[alarm_panel]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelSection {
    pub state_topic: String,
    /// The field of a JSON state message that holds the state (like Home Assistant's
    /// `value_template: "{{ value_json.state }}"`); without it, the whole payload.
    #[serde(default)]
    pub state_field: Option<String>,
    pub command_topic: String,
    /// The command payload: `{action}` is replaced by the command, `{code}` by the secret
    /// `panel-code` (Home Assistant's `command_template`, with `{{ }}` as `{ }`).
    #[serde(default = "action_only")]
    pub command_template: String,
    #[serde(default = "arm_away")]
    pub arm_away: String,
    /// What arming partially sends: Home Assistant's `ARM_HOME` unless told otherwise
    /// (`ARM_NIGHT`, say).
    #[serde(default = "arm_home")]
    pub arm_partial: String,
    #[serde(default = "disarm")]
    pub disarm: String,
    /// How long the panel has to show the new state (`arming` counts for arming).
    #[serde(default = "confirm")]
    pub confirm_s: u32,
}

fn action_only() -> String {
    "{action}".into()
}
fn arm_away() -> String {
    "ARM_AWAY".into()
}
fn arm_home() -> String {
    "ARM_HOME".into()
}
fn disarm() -> String {
    "DISARM".into()
}
fn confirm() -> u32 {
    10
}

/// What a panel's state message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelState {
    /// Settled in an armed state.
    Armed(ArmState),
    /// On its way: `arming` (exit delay), `disarming`, `pending` (entry delay).
    Arming,
    Disarming,
    Pending,
    /// The alarm is sounding.
    Triggered,
}

/// Reads a state message; None for anything else (`unknown`, `None`, an empty message).
pub fn state(payload: &[u8], field: Option<&str>) -> Option<PanelState> {
    let word = match field {
        None => std::str::from_utf8(payload).ok()?.trim().to_owned(),
        Some(f) => serde_json::from_slice::<serde_json::Value>(payload).ok()?.get(f)?.as_str()?.to_owned(),
    };
    Some(match word.as_str() {
        "disarmed" => PanelState::Armed(ArmState::Disarmed),
        "armed_away" | "armed_vacation" => PanelState::Armed(ArmState::Armed),
        "armed_home" | "armed_night" | "armed_custom_bypass" => PanelState::Armed(ArmState::Partial),
        "arming" => PanelState::Arming,
        "disarming" => PanelState::Disarming,
        "pending" => PanelState::Pending,
        "triggered" => PanelState::Triggered,
        _ => return None,
    })
}

impl PanelSection {
    /// The command that asks the panel for `state`, with the code put in.
    pub fn command(&self, state: ArmState, code: Option<&Secret<String>>) -> Secret<Vec<u8>> {
        let action = match state {
            ArmState::Armed => &self.arm_away,
            ArmState::Partial => &self.arm_partial,
            ArmState::Disarmed => &self.disarm,
        };
        let code = code.map_or("", |c| c.expose().as_str());
        Secret::new(self.command_template.replace("{action}", action).replace("{code}", code).into_bytes())
    }

    /// Whether the panel showing `now` confirms a command for `wanted`: the state itself,
    /// or for arming, the exit delay that leads to it.
    pub fn confirms(now: PanelState, wanted: ArmState) -> bool {
        match (now, wanted) {
            (PanelState::Armed(s), w) => s == w,
            (PanelState::Arming, ArmState::Armed | ArmState::Partial) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(template: &str) -> PanelSection {
        toml::from_str(&format!(
            "state_topic = \"home/alarm\"\ncommand_topic = \"home/alarm/set\"\ncommand_template = '{template}'"
        ))
        .unwrap()
    }

    #[test]
    fn states_and_commands_as_home_assistant_documents_them() {
        assert_eq!(state(b"armed_away", None), Some(PanelState::Armed(ArmState::Armed)));
        assert_eq!(state(b"armed_night", None), Some(PanelState::Armed(ArmState::Partial)));
        assert_eq!(state(b"disarmed\n", None), Some(PanelState::Armed(ArmState::Disarmed)));
        assert_eq!(state(b"triggered", None), Some(PanelState::Triggered));
        assert_eq!(state(br#"{"state":"arming"}"#, Some("state")), Some(PanelState::Arming));
        assert_eq!(state(b"None", None), None);
        assert_eq!(state(b"", None), None);
        // The documented remote-code template, rendered as Home Assistant would.
        let s = section(r#"{ "action": "{action}", "code": "{code}" }"#);
        let documented = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/home-assistant/command-arm-away.json"),
        )
        .unwrap();
        let ours = s.command(ArmState::Armed, Some(&Secret::new("1234".to_owned())));
        let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_eq!(parse(ours.expose()), parse(&documented));
        assert_eq!(section("{action}").command(ArmState::Disarmed, None).expose(), b"DISARM");
        assert!(PanelSection::confirms(PanelState::Arming, ArmState::Armed));
        assert!(!PanelSection::confirms(PanelState::Pending, ArmState::Disarmed));
    }
}
