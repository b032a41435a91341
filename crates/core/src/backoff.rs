//! Reconnect delays: exponential with jitter, so a broker restart is not met by every
//! client of a fleet at the same instant.

use std::time::Duration;

#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    attempt: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff { first, max, attempt: 0, rng: fastrand::Rng::new() }
    }

    /// Same delays for the same seed, for tests.
    pub fn with_seed(first: Duration, max: Duration, seed: u64) -> Self {
        Backoff { rng: fastrand::Rng::with_seed(seed), ..Backoff::new(first, max) }
    }

    /// Failed attempts since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt: `first · 2ⁿ` capped at `max`, then a random
    /// point in its upper half ("equal jitter": never zero, never above the cap).
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.first.saturating_mul(1u32 << self.attempt.min(16)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_ms = self.rng.u64(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
        half + Duration::from_millis(jitter_ms)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_capped_and_jittered() {
        let first = Duration::from_millis(200);
        let max = Duration::from_secs(10);
        let mut b = Backoff::with_seed(first, max, 7);
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let ceiling = (first * (1 << n.min(16))).min(max);
            assert!(*d >= ceiling / 2 && *d <= ceiling, "attempt {n}: {d:?}");
        }
        assert!(delays[11] >= max / 2);
        assert_eq!(b.attempt(), 12);
        b.reset();
        assert!(b.next_delay() <= first);
        // Two clients with different seeds do not retry in lockstep.
        let mut other = Backoff::with_seed(first, max, 8);
        let theirs: Vec<Duration> = (0..12).map(|_| other.next_delay()).collect();
        assert_ne!(delays, theirs);
    }
}
