//! When to try again: exponential backoff with jitter, capped, within a
//! number of attempts and a total deadline.
//!
//! The delay before retry `n` (0-based) is `b = min(initial × 2ⁿ, max)`,
//! drawn uniformly from `[b/2, b]` ("equal jitter"): probes that lost the
//! agent together do not come back in lock-step, and no delay is ever shorter
//! than half the nominal one. A server's `Retry-After` is honoured up to
//! [`MAX_RETRY_AFTER`].

use std::time::Duration;

/// First delay before a retry, before jitter.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Longest delay between two attempts, before jitter.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest `Retry-After` the probe waits for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Attempts per batch unless configured.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Time to deliver a batch, all attempts included, unless configured.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Time for all attempts of one delivery together.
    pub deadline: Duration,
    /// First backoff delay (before jitter).
    pub initial_backoff: Duration,
    /// Largest backoff delay (before jitter).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            deadline: DEFAULT_DEADLINE,
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// The nominal delay before retry `retry` (0-based), before jitter.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff.checked_mul(factor).unwrap_or(self.max_backoff).min(self.max_backoff)
    }

    /// The delay before retry `retry` with `jitter` in `0..=1` (clamped):
    /// between half the nominal delay (jitter 0) and all of it (jitter 1).
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let nominal = self.nominal_delay(retry);
        let half = nominal / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// [`RetryPolicy::delay`] with random jitter.
    pub fn random_delay(&self, retry: u32) -> Duration {
        self.delay(retry, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        let nominal: Vec<u64> = (0..9).map(|n| p.nominal_delay(n).as_millis() as u64).collect();
        assert_eq!(nominal, vec![500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        assert_eq!(p.nominal_delay(u32::MAX), MAX_BACKOFF, "no overflow on huge retry counts");
    }

    #[test]
    fn jitter_stays_within_half_and_full_nominal() {
        let p = RetryPolicy::default();
        for retry in [0, 1, 5, 6, 40, u32::MAX] {
            let nominal = p.nominal_delay(retry);
            assert_eq!(p.delay(retry, 0.0), nominal / 2);
            assert_eq!(p.delay(retry, 1.0), nominal);
            assert_eq!(p.delay(retry, -3.0), nominal / 2, "clamped");
            assert_eq!(p.delay(retry, 7.0), nominal, "clamped");
            for _ in 0..200 {
                let d = p.random_delay(retry);
                assert!(d >= nominal / 2 && d <= nominal, "retry {retry}: {d:?}");
                assert!(d <= MAX_BACKOFF);
            }
        }
    }

    #[test]
    fn random_delays_differ() {
        let p = RetryPolicy::default();
        let draws: std::collections::HashSet<Duration> = (0..50).map(|_| p.random_delay(4)).collect();
        assert!(draws.len() > 10, "jitter should spread retries: {draws:?}");
    }

    #[test]
    fn a_small_cap_wins() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(25),
            ..Default::default()
        };
        assert_eq!(p.nominal_delay(0), Duration::from_millis(10));
        assert_eq!(p.nominal_delay(1), Duration::from_millis(20));
        assert_eq!(p.nominal_delay(2), Duration::from_millis(25));
    }
}
