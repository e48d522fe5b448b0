//! Consistent hashing's lookup structures, built once per cluster when the config is compiled (so
//! rebuilt with every generation, whenever the endpoints change): Envoy's ketama-style ring
//! (`RING_HASH`) and the lookup table of the Maglev paper (`MAGLEV`, Envoy's `maglev_lb.cc`).
//! Endpoints are keyed by their `address:port`, hashed with xxHash64 as Envoy hashes hosts.
//!
//! Pure: no clocks, no atomics. Health is the chooser's business: [`super::balance`] walks on
//! from a position past ejected endpoints.

use xxhash_rust::xxh64::xxh64;

/// Envoy's default `minimum_ring_size`.
pub const DEFAULT_MIN_RING_SIZE: u64 = 1024;
/// Envoy's default (and Istio's only) `maximum_ring_size`: 8M points.
pub const MAX_RING_SIZE: u64 = 8 * 1024 * 1024;
/// Envoy's default Maglev table size (a prime).
pub const DEFAULT_MAGLEV_TABLE_SIZE: u64 = 65537;

/// A built ring or table; entries name endpoints by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashTable {
    /// Points `(hash, endpoint)`, sorted by hash; a key goes to the first point at or after it.
    Ring(Vec<(u64, u32)>),
    /// Slot to endpoint; a key goes to slot `hash % len`.
    Maglev(Vec<u32>),
}

impl HashTable {
    /// Envoy's ring over endpoints keyed `keys` (equal weights): each gets
    /// `ceil(min_size / n)` points hashed from `"{key}_{i}"`, the whole at most [`MAX_RING_SIZE`].
    pub fn ring(keys: &[&str], min_size: u64) -> Self {
        let n = keys.len() as u64;
        if n == 0 {
            return Self::Ring(Vec::new());
        }
        let per_host = min_size.max(1).div_ceil(n).min((MAX_RING_SIZE / n).max(1));
        let mut points = Vec::with_capacity((per_host * n) as usize);
        for (index, key) in keys.iter().enumerate() {
            for i in 0..per_host {
                points.push((xxh64(format!("{key}_{i}").as_bytes(), 0), index as u32));
            }
        }
        points.sort_unstable();
        Self::Ring(points)
    }

    /// The Maglev paper's population (Envoy's `OriginalMaglevTable`, equal weights): endpoints
    /// in the order of their keys each take, in turn, the next free slot of their own
    /// permutation `offset + skip * j` (offset `xxh64(key, 0) % size`, skip
    /// `xxh64(key, 1) % (size - 1) + 1`) until every slot is taken.
    pub fn maglev(keys: &[&str], size: u64) -> Self {
        let size = size.max(1);
        if keys.is_empty() {
            return Self::Maglev(Vec::new());
        }
        let mut order: Vec<(&str, u32)> = (keys.iter().enumerate())
            .map(|(i, k)| (*k, i as u32))
            .collect();
        order.sort_unstable();
        // (offset, skip, next, endpoint)
        let mut entries: Vec<(u64, u64, u64, u32)> = (order.iter())
            .map(|(key, index)| {
                let offset = xxh64(key.as_bytes(), 0) % size;
                let skip = if size > 1 {
                    xxh64(key.as_bytes(), 1) % (size - 1) + 1
                } else {
                    1
                };
                (offset, skip, 0, *index)
            })
            .collect();
        const FREE: u32 = u32::MAX;
        let mut table = vec![FREE; size as usize];
        let mut filled = 0u64;
        while filled < size {
            for (offset, skip, next, endpoint) in &mut entries {
                if filled == size {
                    break;
                }
                let slot = |j: u64| {
                    let at = u128::from(*offset) + u128::from(*skip) * u128::from(j);
                    (at % u128::from(size)) as usize
                };
                // A prime size makes each permutation visit every slot; a size validation
                // refused (not prime) may not, so the probe is bounded and falls back to a scan.
                let mut probes = 0;
                while table[slot(*next)] != FREE && probes < size {
                    *next += 1;
                    probes += 1;
                }
                let at = if table[slot(*next)] == FREE {
                    slot(*next)
                } else {
                    table
                        .iter()
                        .position(|e| *e == FREE)
                        .expect("a slot is free")
                };
                table[at] = *endpoint;
                *next += 1;
                filled += 1;
            }
        }
        Self::Maglev(table)
    }

    /// Number of positions (ring points or table slots).
    pub fn len(&self) -> usize {
        match self {
            Self::Ring(points) => points.len(),
            Self::Maglev(slots) => slots.len(),
        }
    }

    /// Is it empty (no endpoints)?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position a request hashed to `hash` starts from: the first ring point at or after
    /// it (wrapping to the first, as ketama's search does), or Maglev's slot `hash % size`.
    pub fn position(&self, hash: u64) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        Some(match self {
            Self::Ring(points) => {
                let at = points.partition_point(|(h, _)| *h < hash);
                if at == points.len() { 0 } else { at }
            }
            Self::Maglev(slots) => (hash % slots.len() as u64) as usize,
        })
    }

    /// The endpoint at position `at` (taken modulo the length: callers walk on from a start).
    pub fn endpoint_at(&self, at: usize) -> usize {
        match self {
            Self::Ring(points) => points[at % points.len()].1 as usize,
            Self::Maglev(slots) => slots[at % slots.len()] as usize,
        }
    }
}
