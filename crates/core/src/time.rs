//! Wall-clock time as the protocol carries it: milliseconds since the Unix epoch, UTC.
//! Only for display and for stamping messages; supervision and timeouts use monotonic time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in ms since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
