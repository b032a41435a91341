//! The `mimamori` binary end to end: enrolment against a real Secret Service (GNOME Keyring
//! in a private D-Bus session) and a real Mosquitto.

mod alerts;
mod clip;
mod clock;
mod enroll;
