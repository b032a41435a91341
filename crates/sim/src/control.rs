//! A simulated site's outputs, behind the site engine's `Outputs`: they move like real
//! hardware (an electric lock takes 300 ms, everything else switches at once), and an
//! output listed as broken fails every command, as one that does not respond would.
//! Whether a command may be carried out at all is the engine's (`mimamori_site::command`).

use mimamori_protocol::{OutputEntry, OutputKind, OutputValue};
use mimamori_site::{Outputs, Switching};
use std::time::Duration;

/// How long an electric lock takes to move.
pub const LOCK_DELAY: Duration = Duration::from_millis(300);

pub struct SimOutputs {
    /// Outputs that fail whatever is asked (to simulate broken hardware).
    pub broken: Vec<String>,
}

impl Outputs for SimOutputs {
    fn takes(&self, output: &OutputEntry) -> Duration {
        if output.kind == OutputKind::Lock { LOCK_DELAY } else { Duration::ZERO }
    }

    fn switch(&self, output: &OutputEntry, _value: OutputValue) -> Switching {
        let takes = self.takes(output);
        let broken = self.broken.contains(&output.id);
        Box::pin(async move {
            if broken {
                return Err("the output did not respond".to_owned());
            }
            tokio::time::sleep(takes).await;
            Ok(())
        })
    }
}
