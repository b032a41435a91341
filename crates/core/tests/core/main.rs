//! Integration tests of the core against real peers started by the harness on free
//! loopback ports: Mosquitto 2 (password file, per-user ACL), Mimamori's simulated cameras
//! and GStreamer's RTSP server.

mod acl;
mod alerts;
mod bus;
mod control;
mod tls;
mod video;
