//! Outlier detection: an endpoint is ejected after consecutive 5xx or gateway errors, for the
//! base ejection time multiplied by how often it was ejected, never more than the maximum
//! ejection percentage of its cluster at once. Atomics only: no locks.

use std::sync::atomic::{AtomicU32, Ordering};

use super::{Cluster, Endpoint};

/// Milliseconds on a process-wide monotonic clock.
pub fn clock_ms() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// How an upstream exchange ended, as outlier detection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response with this status.
    Status(u16),
    /// Connect failure, reset or timeout.
    Failure,
}

impl Endpoint {
    /// Is the endpoint ejected at `now_ms`?
    pub(super) fn ejected(&self, now_ms: u64) -> bool {
        self.ejected_until_ms.load(Ordering::Relaxed) > now_ms
    }
}

impl Cluster {
    /// Records the outcome of an exchange with `endpoint` for outlier detection.
    pub fn record(&self, endpoint: &Endpoint, outcome: Outcome) {
        let Some(policy) = &self.policy.outlier else {
            return;
        };
        let (is_5xx, is_gateway) = match outcome {
            Outcome::Status(s) => (s >= 500, matches!(s, 502..=504)),
            Outcome::Failure => (true, true),
        };
        let trip = |counter: &AtomicU32, failed: bool, limit: Option<u32>| -> bool {
            if !failed {
                counter.store(0, Ordering::Relaxed);
                return false;
            }
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            limit.is_some_and(|l| n >= l)
        };
        let t1 = trip(&endpoint.consecutive_5xx, is_5xx, policy.consecutive_5xx);
        let t2 = trip(
            &endpoint.consecutive_gateway,
            is_gateway,
            policy.consecutive_gateway,
        );
        if !(t1 || t2) {
            return;
        }
        let now = clock_ms();
        let ejected = self.endpoints.iter().filter(|e| e.ejected(now)).count();
        let max = (self.endpoints.len() * policy.max_ejection_percent as usize) / 100;
        if endpoint.ejected(now) || ejected >= max.max(1) {
            return;
        }
        let times = endpoint.ejections.fetch_add(1, Ordering::Relaxed) + 1;
        let span = policy.base_ejection.as_millis() as u64 * u64::from(times);
        endpoint
            .ejected_until_ms
            .store(now + span, Ordering::Relaxed);
        endpoint.consecutive_5xx.store(0, Ordering::Relaxed);
        endpoint.consecutive_gateway.store(0, Ordering::Relaxed);
        tracing::warn!(
            endpoint = %endpoint.authority,
            cluster = %self,
            ejected_for_ms = span,
            "outlier detection ejected an endpoint"
        );
    }

    /// Is this endpoint ejected now?
    pub fn is_ejected(&self, endpoint: &Endpoint) -> bool {
        self.policy.outlier.is_some() && endpoint.ejected(clock_ms())
    }
}
