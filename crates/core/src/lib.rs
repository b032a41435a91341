//! Mimamori's core: everything that is not UI. The Tauri shell, the CLI and the tests all
//! drive the product through this crate. See `docs/architecture.md`.

pub mod admin;
pub mod audit;
pub mod bus;
pub mod control;
pub mod enrol;
pub mod event;
pub mod inbox;
pub mod profile;
pub mod protocol;
pub mod secret;
pub mod site;
pub mod time;
pub mod vault;
pub mod video;

pub use secret::Secret;
