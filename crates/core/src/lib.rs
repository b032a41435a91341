//! Mimamori's core: everything that is not UI. The Tauri shell, the CLI and the tests all
//! drive the product through this crate. See `docs/architecture.md`.

pub mod admin;
pub mod audit;
pub mod bus;
pub mod control;
pub mod enrol;
pub mod event;
pub mod inbox;
pub mod notify;
pub mod pin;
pub mod profile;
pub mod protocol;
pub mod replay;
pub mod secret;
pub mod site;
pub mod time;
pub mod vault;
pub mod video;

pub use secret::Secret;

/// Log directives every binary adds to its filter, whatever `RUST_LOG` says: `retina`
/// writes camera URLs and addresses into its own messages, and camera URLs are never
/// logged. What goes wrong with a stream is logged by `video` as a kind instead.
pub const LOG_DIRECTIVES: &[&str] = &["retina=off"];
