//! Integration tests of the core against a real Mosquitto 2 broker, started by the harness
//! on a free loopback port with a password file and a per-user ACL.

mod acl;
mod alerts;
mod bus;
mod tls;
