//! What the app holds while it runs: the bus state the commands read, and the things that
//! must stay alive for it (the bus connection, the demo).

use mimamori_core::bus::{Bus, BusConfig, BusState};
use mimamori_sim::demo::Demo;

pub struct AppState {
    pub bus: BusState,
    pub demo: bool,
    _keep: Option<(Bus, Option<Demo>)>,
}

impl AppState {
    /// State without a connection, fed by the caller (tests).
    pub fn detached(bus: BusState) -> AppState {
        AppState { bus, demo: false, _keep: None }
    }

    /// Connects to the profile's broker. Must run inside the Tokio runtime.
    pub fn connect(config: BusConfig) -> AppState {
        let bus = Bus::start(config);
        AppState { bus: bus.state().clone(), demo: false, _keep: Some((bus, None)) }
    }

    /// Starts the embedded demo broker and sites and connects to them.
    pub fn demo() -> anyhow::Result<AppState> {
        let demo = Demo::start(0)?;
        let config = BusConfig::new(demo.broker.clone(), "mimamori-app-demo", "demo", demo.site_ids());
        let bus = Bus::start(config);
        Ok(AppState { bus: bus.state().clone(), demo: true, _keep: Some((bus, Some(demo))) })
    }
}
