//! Pairing: primaries and mirrors wait here, by the proxy-made pair id (`Exchange.pair`,
//! copied to [`Observed::pair`]), until the primary and every mirror sent for it have arrived.
//!
//! Exchanges arrive one by one, primary and mirrors in any order. Waiting entries are bounded
//! by count and by bytes: an entry that would overflow the budget evicts the oldest ones, and
//! entries that wait longer than the pair timeout leave (compared when a primary and at least
//! one mirror made it, otherwise unpaired). This module decides what leaves and why; the
//! [`Engine`](super::engine::Engine) compares or counts it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::observed::Observed;

/// A primary and the mirrors that have arrived for it so far.
#[derive(Debug, Default)]
pub struct Waiting {
    /// The primary, once it has arrived.
    pub primary: Option<Observed>,
    /// The mirrors that have arrived.
    pub mirrors: Vec<Observed>,
    bytes: usize,
}

impl Waiting {
    /// Every exchange held, primary first.
    pub fn exchanges(&self) -> impl Iterator<Item = &Observed> {
        self.primary.iter().chain(&self.mirrors)
    }
}

/// Why an entry left the waiting room.
#[derive(Debug)]
pub enum Left {
    /// Ready to compare.
    Compare(Waiting),
    /// Never paired (budget exceeded, evicted, or timed out without a pair): count it unpaired.
    Unpaired(Waiting),
}

/// Bounds on the waiting room.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of waiting exchanges kept at most.
    pub memory_budget: usize,
    /// Waiting entries kept at most.
    pub max_pending: usize,
    /// How long an entry waits for its other half.
    pub pair_timeout: Duration,
}

/// Waiting entries by pair id, oldest first, within [`Limits`].
#[derive(Debug)]
pub struct Pairing {
    limits: Limits,
    pending: HashMap<u64, Waiting>,
    order: VecDeque<(Instant, u64)>,
    pending_bytes: usize,
}

impl Pairing {
    /// An empty waiting room.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            pending: HashMap::new(),
            order: VecDeque::new(),
            pending_bytes: 0,
        }
    }

    /// Bytes held by waiting entries.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Waiting entries.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Takes one exchange. Returns, in order, the entries it made leave: evicted ones, and its
    /// own entry when that is now complete (or the exchange alone, when it exceeds the budget).
    pub fn insert(&mut self, ob: Observed, now: Instant) -> Vec<Left> {
        let mut out = Vec::new();
        let bytes = ob.bytes();
        if bytes > self.limits.memory_budget {
            out.push(Left::Unpaired(alone(ob)));
            return out;
        }
        if !self.pending.contains_key(&ob.pair) {
            while !self.order.is_empty()
                && (self.pending.len() >= self.limits.max_pending
                    || self.pending_bytes + bytes > self.limits.memory_budget)
            {
                self.evict_oldest(&mut out);
            }
            self.order.push_back((now, ob.pair));
        }
        let entry = self.pending.entry(ob.pair).or_default();
        entry.bytes += bytes;
        self.pending_bytes += bytes;
        if ob.mirror {
            entry.mirrors.push(ob);
        } else {
            entry.primary = Some(ob);
        }
        let complete = entry
            .primary
            .as_ref()
            .is_some_and(|p| entry.mirrors.len() >= p.mirrors_sent as usize);
        let id = entry.primary.as_ref().map_or(0, |p| p.pair);
        if complete && let Some(done) = self.take(id) {
            out.push(Left::Compare(done));
        }
        // Completed entries leave their id in `order` until it expires; keep that bounded too.
        if self.order.len() > 4 * self.limits.max_pending.max(1) {
            let pending = &self.pending;
            self.order.retain(|(_, id)| pending.contains_key(id));
        }
        out
    }

    /// Entries older than the pair timeout, oldest first; a primary with some mirrors is still
    /// compared.
    pub fn expire(&mut self, now: Instant) -> Vec<Left> {
        let mut out = Vec::new();
        while let Some((created, id)) = self.order.front().cloned() {
            if now.duration_since(created) < self.limits.pair_timeout {
                break;
            }
            self.order.pop_front();
            if let Some(p) = self.take(id) {
                if p.primary.is_some() && !p.mirrors.is_empty() {
                    out.push(Left::Compare(p));
                } else {
                    out.push(Left::Unpaired(p));
                }
            }
        }
        out
    }

    fn take(&mut self, id: u64) -> Option<Waiting> {
        let p = self.pending.remove(&id)?;
        self.pending_bytes -= p.bytes;
        Some(p)
    }

    fn evict_oldest(&mut self, out: &mut Vec<Left>) {
        if let Some((_, id)) = self.order.pop_front()
            && let Some(p) = self.take(id)
        {
            out.push(Left::Unpaired(p));
        }
    }
}

/// An exchange that never waited (it alone exceeds the budget).
fn alone(ob: Observed) -> Waiting {
    let mut w = Waiting::default();
    if ob.mirror {
        w.mirrors.push(ob);
    } else {
        w.primary = Some(ob);
    }
    w
}
