//! Retries with capped exponential backoff that honour `retry-after`.

use std::time::Duration;

/// How often and how long to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failure.
    pub initial: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Longest `retry-after` honoured; a longer one ends the retries with a clear error.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `failures` failures: the server's `retry-after`
    /// when it gave one (never less), else the backoff.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        let backoff = self.initial.saturating_mul(factor).min(self.max_backoff);
        match retry_after {
            Some(r) => r,
            None => backoff,
        }
    }
}

/// Reads `retry-after` (seconds, possibly fractional); HTTP dates are treated as absent.
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let s: f64 = v.parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| Duration::from_millis((s * 1000.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_retry_after_wins() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None), Duration::from_millis(500));
        assert_eq!(p.delay(2, None), Duration::from_secs(1));
        assert_eq!(p.delay(20, None), Duration::from_secs(8));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }
}
