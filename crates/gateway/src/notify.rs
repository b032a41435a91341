//! systemd's service notifications (`sd_notify`): `READY=1` once the site runs,
//! `WATCHDOG=1` while its engine does (at half of `WatchdogSec`), `STOPPING=1` on the way
//! out. Outside systemd (no `$NOTIFY_SOCKET`) nothing is sent.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
}

impl Notifier {
    /// The service manager's socket, if this process runs under one.
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let path = path.to_str()?;
        let to = match path.strip_prefix('@') {
            #[cfg(target_os = "linux")]
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name).ok()?
            }
            #[cfg(not(target_os = "linux"))]
            Some(_) => return None,
            None => SocketAddr::from_pathname(path).ok()?,
        };
        Some(Notifier { socket: UnixDatagram::unbound().ok()?, to })
    }

    pub fn send(&self, state: &str) {
        if let Err(err) = self.socket.send_to_addr(state.as_bytes(), &self.to) {
            tracing::warn!("could not tell the service manager {state}: {err}");
        }
    }

    /// How often to say the service is alive: half the watchdog's time, if the watchdog
    /// is on and watches this process.
    pub fn watchdog_every() -> Option<Duration> {
        if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok())
            && pid != std::process::id()
        {
            return None;
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}
