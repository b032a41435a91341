//! Integration tests of the core against real peers started by the harness on free
//! loopback ports: Mosquitto 2 (password file, per-user ACL), Mimamori's simulated cameras
//! GStreamer's RTSP server, and a private D-Bus session bus with a recording notification
//! service.

mod acl;
mod alerts;
mod bus;
mod clips;
mod control;
mod credentials;
mod faults;
mod hostile;
mod layers;
#[cfg(target_os = "linux")]
mod notify;
mod scale;
mod site_engine;
mod tls;
mod video;
