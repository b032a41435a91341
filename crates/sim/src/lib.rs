//! Simulated sites for the demo and the tests: each one behaves like an alarm controller
//! on the site bus (catalog, status with Last Will and heartbeat, output state), against
//! any MQTT 5 broker. `broker.rs` adds the embedded broker the demo runs on.

pub mod broker;
pub mod camera;
pub mod control;
pub mod demo;
pub mod gst;
pub mod mosquitto;
pub mod netns;
#[cfg(target_os = "linux")]
pub mod notifications;
pub mod site;
#[cfg(feature = "testing")]
pub mod testing;

pub use site::{SimAlert, SimConfig, SimSite, SiteSpec, alert_at, example_alert};
