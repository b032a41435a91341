//! Which alerts become a notification, and which one: pure rules, so they can be tested
//! without a notification service.
//!
//! - **Incidents**: alerts of one site that follow each other within
//!   [`Policy::incident_window`] form one incident, shown as one notification that is
//!   updated in place ("3 alerts at 本社"), not a stack of them.
//! - **Cool-down**: a non-critical alert of the same site, zone and kind as one notified
//!   less than [`Policy::cooldown`] ago stays silent (it is still in the inbox).
//! - **Quiet hours**: non-critical alerts stay silent between two times of day.
//! - **Critical kinds** (intrusion, fire, panic) always get through: no cool-down, no
//!   quiet hours, and they make their incident critical.

use crate::protocol::event::AlertKind;
use std::collections::HashMap;

/// Kinds that always get through.
pub fn is_critical(kind: AlertKind) -> bool {
    matches!(kind, AlertKind::Intrusion | AlertKind::Fire | AlertKind::Panic)
}

/// Quiet hours as minutes of the day in the device's local time, `from` to `to`
/// (wrapping past midnight when `from > to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from_minute: u16,
    pub to_minute: u16,
}

impl QuietHours {
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.from_minute <= self.to_minute {
            (self.from_minute..self.to_minute).contains(&minute_of_day)
        } else {
            minute_of_day >= self.from_minute || minute_of_day < self.to_minute
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// Alerts of a site closer together than this belong to one incident (ms).
    pub incident_window_ms: u64,
    /// Silence for a repeat of the same site, zone and kind (ms); critical kinds excepted.
    pub cooldown_ms: u64,
    pub quiet: Option<QuietHours>,
    /// Show a critical incident's notification again this often until its alerts are
    /// acknowledged (ms); `None`: once.
    pub repeat_ms: Option<u64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { incident_window_ms: 60_000, cooldown_ms: 300_000, quiet: None, repeat_ms: Some(120_000) }
    }
}

/// What to do with one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Show (or update) the incident's notification.
    Show {
        /// The incident it belongs to: the notification to replace when it is shown.
        incident: u64,
        /// Alerts in the incident so far, this one included.
        count: u32,
        /// The incident holds a critical alert.
        critical: bool,
    },
    /// Stored, not notified.
    Silent(Why),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    CoolingDown,
    QuietHours,
}

#[derive(Debug)]
struct Incident {
    id: u64,
    last_ms: u64,
    count: u32,
    critical: bool,
}

/// The policy and what it has seen.
#[derive(Debug, Default)]
pub struct Notices {
    policy: Policy,
    next_incident: u64,
    incidents: HashMap<String, Incident>,
    /// (site, zone, kind) → when last notified.
    notified: HashMap<(String, Option<String>, AlertKind), u64>,
}

/// Incidents and cool-downs older than this are forgotten (bounded memory).
const FORGET_MS: u64 = 24 * 3600 * 1000;

impl Notices {
    pub fn new(policy: Policy) -> Notices {
        Notices { policy, ..Notices::default() }
    }

    /// Sets (or clears) the quiet hours from now on.
    pub fn set_quiet(&mut self, quiet: Option<QuietHours>) {
        self.policy.quiet = quiet;
    }

    /// Decides for one alert of `site` that arrived at `now_ms`, local `minute_of_day`.
    pub fn decide(
        &mut self,
        site: &str,
        zone: Option<&str>,
        kind: AlertKind,
        now_ms: u64,
        minute_of_day: u16,
    ) -> Decision {
        if self.notified.len() > 10_000 || self.incidents.len() > 10_000 {
            self.notified.retain(|_, t| now_ms.saturating_sub(*t) < FORGET_MS);
            self.incidents.retain(|_, i| now_ms.saturating_sub(i.last_ms) < FORGET_MS);
        }
        let critical = is_critical(kind);
        // The alert joins its site's incident, or opens a new one, whether or not it is
        // notified: a flood of silent alerts is still one incident.
        let window = self.policy.incident_window_ms;
        let incident = match self.incidents.get_mut(site) {
            Some(i) if now_ms.saturating_sub(i.last_ms) <= window => {
                i.last_ms = now_ms;
                i.count = i.count.saturating_add(1);
                i.critical |= critical;
                i
            }
            _ => {
                self.next_incident += 1;
                let fresh = Incident { id: self.next_incident, last_ms: now_ms, count: 1, critical };
                self.incidents.insert(site.to_owned(), fresh);
                self.incidents.get_mut(site).expect("just inserted")
            }
        };
        let show =
            Decision::Show { incident: incident.id, count: incident.count, critical: incident.critical };
        let key = (site.to_owned(), zone.map(str::to_owned), kind);
        if !critical {
            if self.policy.quiet.is_some_and(|q| q.contains(minute_of_day)) {
                return Decision::Silent(Why::QuietHours);
            }
            if self.notified.get(&key).is_some_and(|t| now_ms.saturating_sub(*t) < self.policy.cooldown_ms) {
                return Decision::Silent(Why::CoolingDown);
            }
        }
        self.notified.insert(key, now_ms);
        show
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON: u16 = 12 * 60;

    #[test]
    fn alerts_close_together_are_one_incident_updated_in_place() {
        let mut n = Notices::new(Policy::default());
        let a = n.decide("hq", Some("lobby"), AlertKind::Door, 0, NOON);
        let b = n.decide("hq", Some("server"), AlertKind::Tamper, 30_000, NOON);
        let c = n.decide("shop", None, AlertKind::Door, 31_000, NOON);
        let d = n.decide("hq", Some("lobby"), AlertKind::Sensor, 200_000, NOON);
        assert_eq!(a, Decision::Show { incident: 1, count: 1, critical: false });
        assert_eq!(b, Decision::Show { incident: 1, count: 2, critical: false });
        assert_eq!(c, Decision::Show { incident: 2, count: 1, critical: false });
        assert_eq!(
            d,
            Decision::Show { incident: 3, count: 1, critical: false },
            "a later alert opens a new incident"
        );
    }

    #[test]
    fn repeats_cool_down_per_zone_but_critical_kinds_always_get_through() {
        let mut n = Notices::new(Policy::default());
        assert!(matches!(n.decide("hq", Some("lobby"), AlertKind::Door, 0, NOON), Decision::Show { .. }));
        assert_eq!(
            n.decide("hq", Some("lobby"), AlertKind::Door, 10_000, NOON),
            Decision::Silent(Why::CoolingDown)
        );
        assert!(
            matches!(n.decide("hq", Some("dock"), AlertKind::Door, 11_000, NOON), Decision::Show { .. }),
            "another zone is news"
        );
        for t in [12_000, 13_000] {
            assert_eq!(
                n.decide("hq", Some("lobby"), AlertKind::Intrusion, t, NOON),
                Decision::Show { incident: 1, count: t as u32 / 1000 - 8, critical: true }
            );
        }
        assert!(matches!(
            n.decide("hq", Some("lobby"), AlertKind::Door, 400_000, NOON),
            Decision::Show { .. }
        ));
    }

    #[test]
    fn quiet_hours_hold_back_all_but_critical_kinds() {
        let quiet = QuietHours { from_minute: 22 * 60, to_minute: 6 * 60 };
        assert!(quiet.contains(23 * 60) && quiet.contains(60) && !quiet.contains(NOON));
        let mut n = Notices::new(Policy { quiet: Some(quiet), ..Policy::default() });
        assert_eq!(n.decide("hq", None, AlertKind::Sensor, 0, 23 * 60), Decision::Silent(Why::QuietHours));
        assert!(matches!(
            n.decide("hq", None, AlertKind::Fire, 1, 23 * 60),
            Decision::Show { critical: true, .. }
        ));
        assert!(matches!(n.decide("hq", None, AlertKind::Sensor, 2, NOON), Decision::Show { count: 3, .. }));
    }
}
