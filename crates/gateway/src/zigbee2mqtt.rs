//! Zigbee2MQTT's messages (`docs/gateway.md`, Zigbee2MQTT): a device's state on
//! `{base}/{device}` (JSON, one field per exposed feature), its availability on
//! `{base}/{device}/availability` and commands on `{base}/{device}/set`. Only the fields
//! the gateway maps are read; anything else in the message is ignored, and a message that
//! is not a JSON object is an error that names the device, never a crash.

use serde::Deserialize;

/// Largest device message read; Zigbee2MQTT's are a few hundred bytes.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// What a device's state message says, as far as the gateway cares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Reading {
    /// A contact sensor: true when closed (Zigbee2MQTT's convention), false when open.
    #[serde(default, deserialize_with = "lenient")]
    pub contact: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub occupancy: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub tamper: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub smoke: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub water_leak: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub battery_low: Option<bool>,
    /// A switch, plug or siren: `ON` or `OFF`.
    #[serde(default, deserialize_with = "lenient")]
    pub state: Option<String>,
}

/// A field of an unexpected type counts as absent: one odd field does not cost the rest
/// of the message.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// Reads a device's state message.
pub fn reading(payload: &[u8]) -> Result<Reading, String> {
    if payload.len() > MAX_MESSAGE {
        return Err(format!("a message of {} bytes, over the {MAX_MESSAGE}-byte limit", payload.len()));
    }
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("not JSON ({:?} at column {})", e.classify(), e.column()))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| format!("unreadable ({e})"))
}

/// Reads an availability message: `{"state":"online"}` (Zigbee2MQTT 1.24 and later), or
/// the plain `online`/`offline` of older versions. None when it is neither.
pub fn availability(payload: &[u8]) -> Option<bool> {
    let word = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Object(o)) => o.get("state")?.as_str()?.to_owned(),
        Ok(serde_json::Value::String(s)) => s,
        _ => std::str::from_utf8(payload).ok()?.trim().to_owned(),
    };
    match word.as_str() {
        "online" => Some(true),
        "offline" => Some(false),
        _ => None,
    }
}

/// The command that switches a Zigbee2MQTT switch, plug or siren.
pub fn set_state(on: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "state": if on { "ON" } else { "OFF" } })).unwrap_or_default()
}

/// Whether a switch's reported state is on (None: not a state it reports).
pub fn is_on(state: &str) -> Option<bool> {
    match state.to_ascii_uppercase().as_str() {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as Zigbee2MQTT's device documentation gives it (`testdata/zigbee2mqtt`).
    fn documented(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/zigbee2mqtt").join(name);
        std::fs::read(path).unwrap()
    }

    #[test]
    fn documented_device_messages_read_as_what_they_say() {
        let r = |name: &str| reading(&documented(name)).unwrap();
        assert_eq!(r("contact-open.json").contact, Some(false), "false is open");
        assert_eq!(r("contact-closed.json").contact, Some(true));
        assert_eq!(r("occupancy.json").occupancy, Some(true));
        assert_eq!((r("smoke.json").smoke, r("smoke.json").battery_low), (Some(true), Some(false)));
        assert_eq!(r("water-leak.json").water_leak, Some(true));
        assert_eq!(r("tamper.json").tamper, Some(true));
        assert_eq!(r("battery-low.json").battery_low, Some(true));
        assert_eq!(r("plug-state-on.json").state.as_deref().and_then(is_on), Some(true));
        // A siren that reports nothing of its sound: no state to confirm a switch by.
        assert_eq!(r("siren-state.json").state, None);
        assert_eq!(availability(&documented("availability-online.json")), Some(true));
        assert_eq!(availability(&documented("availability-offline.json")), Some(false));
        assert_eq!(availability(b"offline"), Some(false), "the plain form of older versions");
        assert_eq!(availability(b"{\"state\":\"maybe\"}"), None);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&set_state(true)).unwrap(),
            serde_json::from_slice::<serde_json::Value>(&documented("plug-set-on.json")).unwrap()
        );
    }

    #[test]
    fn odd_messages_are_errors_or_odd_fields_absent() {
        assert!(reading(b"{not json").unwrap_err().contains("not JSON"));
        assert!(reading(b"[1,2]").unwrap_err().contains("not a JSON object"));
        assert!(reading(&vec![b' '; MAX_MESSAGE + 1]).unwrap_err().contains("limit"));
        let odd = reading(br#"{"contact": "yes", "smoke": true}"#).unwrap();
        assert_eq!((odd.contact, odd.smoke), (None, Some(true)));
    }
}
