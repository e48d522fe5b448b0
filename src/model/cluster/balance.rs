//! Load balancing: which endpoint of a cluster serves a request (`ROUND_ROBIN`, `LEAST_REQUEST`
//! as Envoy's power of two choices, `RANDOM`, and consistent hashing over the cluster's ring or
//! Maglev table), skipping endpoints outlier detection ejected unless all are (Envoy's panic
//! mode). Atomics only: no locks.

use std::sync::atomic::Ordering;

use super::outlier::clock_ms;
use super::{Cluster, Endpoint, LbPolicy};

impl Cluster {
    /// Picks an endpoint; `roll` is uniform in `[0, 1)`. Ejected endpoints are skipped unless all
    /// are ejected (then any will do, as Envoy's panic threshold does).
    pub fn pick(&self, roll: f64) -> Option<&Endpoint> {
        self.pick_index(roll).map(|i| &self.endpoints[i])
    }

    /// Like [`pick`](Self::pick), the endpoint's index.
    pub fn pick_index(&self, roll: f64) -> Option<usize> {
        self.pick_hashed(None, roll)
    }

    /// Like [`pick_index`](Self::pick_index), for a request whose consistent-hash key hashed to
    /// `hash`. A hashing cluster without a key hashes the roll (Envoy hashes a random number);
    /// the other policies ignore `hash`.
    pub fn pick_hashed(&self, hash: Option<u64>, roll: f64) -> Option<usize> {
        let n = self.endpoints.len();
        if n <= 1 {
            return (n == 1).then_some(0);
        }
        let now = self.policy.outlier.as_ref().map(|_| clock_ms());
        let healthy = |i: &usize| now.is_none_or(|now| !self.endpoints[*i].ejected(now));
        // The first healthy endpoint from `start` on, else `start` itself.
        let scan = |start: usize| {
            (0..n)
                .map(|k| (start + k) % n)
                .find(healthy)
                .or(Some(start))
        };
        match self.policy.lb {
            LbPolicy::RoundRobin => scan(self.rr.fetch_add(1, Ordering::Relaxed) % n),
            LbPolicy::Random => scan((roll * n as f64) as usize % n),
            LbPolicy::LeastRequest => {
                let a = (roll * n as f64) as usize % n;
                let b = (a + 1 + ((roll * 7919.0) as usize % (n - 1))) % n;
                let best = [a, b]
                    .into_iter()
                    .filter(healthy)
                    .min_by_key(|i| self.endpoints[*i].active.load(Ordering::Relaxed));
                best.or_else(|| scan(a))
            }
            LbPolicy::RingHash { .. } | LbPolicy::Maglev { .. } => {
                let table = self.hash_table.as_ref()?;
                let hash = hash.unwrap_or((roll * 18_446_744_073_709_551_616.0) as u64);
                let start = table.position(hash)?;
                let first = table.endpoint_at(start);
                if healthy(&first) || !(0..n).any(|i| healthy(&i)) {
                    return Some(first);
                }
                // Walk on to the next healthy endpoint: an ejected endpoint's keys spread over
                // the others, and come back to it when it returns.
                (1..table.len())
                    .map(|k| table.endpoint_at(start + k))
                    .find(healthy)
                    .or(Some(first))
            }
        }
    }
}
