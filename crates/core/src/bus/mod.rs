//! The site bus: an MQTT 5 connection to the broker that carries the sites this client is
//! enrolled for, and the shared state it keeps up to date.
//!
//! One concept a file:
//! - `config.rs`: where and as whom to connect ([`BusConfig`]; the development profile
//!   from the environment), `address.rs`: the broker's address, `tls.rs`: trusting
//!   exactly the enrolled CA;
//! - `status.rs`: the connection's status, the counters and the changes broadcast;
//! - `state.rs`: [`BusState`], the shared handle everyone reads;
//! - `request.rs`: requests waiting for their answers (commands, acknowledgements);
//! - `connection.rs`: the rules of one connection, one method per event, behind a narrow
//!   broker seam; `pacing.rs`: subscribing in batches the broker can deliver;
//!   `recovery.rs`: filling gaps by asking sites to send events again;
//! - `mqtt.rs`: the task that drives a connection with the MQTT client library.
//!
//! [`Bus::start`] spawns that task; dropping the [`Bus`] stops it.

mod address;
mod config;
mod connection;
mod mqtt;
mod pacing;
mod recovery;
mod request;
mod state;
mod status;
pub mod tls;

pub use address::{AddressError, BrokerAddress};
pub use config::{BusConfig, EnvProfileError, env};
pub(crate) use request::Outgoing;
pub use request::Reply;
pub use state::{BusState, Ingested};
pub use status::{BusChange, BusStats, ConnectionPhase, ConnectionProblem, ConnectionStatus};

use crate::inbox::Inbox;
use std::sync::Arc;
use tokio::sync::watch;

/// A running connection to the broker. Dropping it stops the connection task.
pub struct Bus {
    state: BusState,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Bus {
    /// Starts connecting in the background (on the current Tokio runtime); progress shows in
    /// [`BusState::connection`]. Events are acknowledged as they arrive.
    pub fn start(config: BusConfig) -> Bus {
        Bus::start_with_inbox(config, None)
    }

    /// Like [`Bus::start`], but every event is committed to `inbox` before the broker is
    /// told it arrived; one that cannot be stored is not acknowledged and comes again.
    pub fn start_with_inbox(config: BusConfig, inbox: Option<Arc<Inbox>>) -> Bus {
        let state = BusState::new(config.sites.clone());
        state.set_encrypted(config.broker.tls);
        state.set_enrolled_roles(&config.roles);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(mqtt::run(config, state.clone(), stop_rx, inbox));
        Bus { state, stop, task: Some(task) }
    }

    pub fn state(&self) -> &BusState {
        &self.state
    }

    /// Drops the connection without a word, as a killed app does: no DISCONNECT, and the
    /// events not yet acknowledged are the broker's to deliver again.
    pub async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Disconnects cleanly (no Last Will; the session stays on the broker) and waits for
    /// the task to end.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
