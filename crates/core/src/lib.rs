//! Mimamori's core: everything that is not UI. The Tauri shell, the CLI and the tests all
//! drive the product through this crate. See `docs/architecture.md`.
//!
//! Modules are layered: each uses only those of a lower layer, never its own or one above
//! it (`tests/core/layers.rs` reads every `crate::` path and keeps it so).
//! 1. `secret`, `time`, `dirs`, `lang`, `backoff`: no other module of the core; and
//!    `protocol`, the protocol crate (`mimamori-protocol`) the core re-exports.
//! 2. `vault`, `video`.
//! 3. `inbox`, `site`, `audit`, `pin`.
//! 4. `bus` (the client of the site bus), `acl`.
//! 5. `enrol`.
//! 6. `profile`, `control`, `notify`.

pub mod acl;
pub mod audit;
pub mod backoff;
pub mod bus;
pub mod control;
pub mod dirs;
pub mod enrol;
pub mod inbox;
pub mod lang;
pub mod notify;
pub mod pin;
pub mod profile;
pub mod secret;
pub mod site;
pub mod time;
pub mod vault;
pub mod video;

/// The site protocol (`crates/protocol`), as the client reads and writes it.
pub use mimamori_protocol as protocol;
pub use secret::Secret;

/// Log directives every binary adds to its filter, whatever `RUST_LOG` says: `retina`
/// writes camera URLs and addresses into its own messages, and camera URLs are never
/// logged. What goes wrong with a stream is logged by `video` as a kind instead.
pub const LOG_DIRECTIVES: &[&str] = &["retina=off"];
