//! Simulated sites for the demo and the tests: each one behaves like an alarm controller
//! on the site bus (catalog, status with Last Will and heartbeat, output state), against
//! any MQTT 5 broker. `broker.rs` adds the embedded broker the demo runs on.

pub mod broker;
pub mod camera;
pub mod control;
pub mod demo;
pub mod site;

// The test harness: real peers for the tests of every crate (a private Mosquitto,
// GStreamer's RTSP server, a network of their own, a recording notification service) and
// ready-made test data. Behind the `testing` feature, so that none of it ships in the app
// or the CLI.
#[cfg(feature = "testing")]
pub mod gst;
#[cfg(feature = "testing")]
pub mod mosquitto;
#[cfg(feature = "testing")]
pub mod netns;
#[cfg(all(feature = "testing", target_os = "linux"))]
pub mod notifications;
#[cfg(feature = "testing")]
pub mod testing;

pub use site::{SimAlert, SimConfig, SimSite, SiteSpec, alert_at, example_alert};
