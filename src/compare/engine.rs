//! The comparison engine, pure and synchronous (the comparator feeds it from one task): takes
//! exchanges, has [`pairing`](super::pairing) join each primary with its mirrors by the
//! proxy-made pair id (`Exchange.pair`), diffs each candidate with the primary, has
//! [`noise`](super::noise) judge the differences, and counts the pair in its
//! [`groups`](super::groups) entry. It owns no rule of its own beyond that order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::diff::{Ignore, diff_pair};
use super::kind::Difference;
use super::noise::{Evidence, RepeatNoise};
use super::pairing::{Left, Limits, Pairing, Waiting};
use super::report::candidate_report;
use super::verdict::Thresholds;

pub use super::groups::{EXAMPLE_BYTES, EXAMPLES_PER_FIELD, GroupKey, MAX_FIELDS};
pub use super::noise::{REPEAT_BODY_BYTES, REPEAT_KEYS};
pub use super::observed::Observed;
pub use super::outcome::PairResult;
pub use super::report::{CandidateReport, Example, FieldReport};

use super::groups::Group;
use super::outcome::classify_pair;

/// Built ignore lists kept at most (one per route annotation).
const IGNORE_CACHE: usize = 64;

/// A route's annotations: ignored fields, arrays compared as sets.
type RouteLists = (Arc<Vec<String>>, Arc<Vec<String>>);

/// Limits of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Bytes of waiting exchanges kept at most.
    pub memory_budget: usize,
    /// Waiting entries kept at most.
    pub max_pending: usize,
    /// How long an entry waits for its other half.
    pub pair_timeout: Duration,
    /// Ignored fields for every route (flag).
    pub ignore: Vec<String>,
    /// Arrays compared as sets on every route (flag `--compare-unordered`).
    pub unordered: Vec<String>,
    /// Bytes of a body kept once decoded per its `content-encoding` (the comparator sets its
    /// body limit here).
    pub decoded_limit: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            memory_budget: 64 << 20,
            max_pending: 100_000,
            pair_timeout: Duration::from_secs(15),
            ignore: Vec::new(),
            unordered: Vec::new(),
            decoded_limit: 64 * 1024,
        }
    }
}

/// The pairing and aggregation state.
#[derive(Debug)]
pub struct Engine {
    /// Ignored fields for every route.
    ignore: Vec<String>,
    /// Arrays compared as sets on every route.
    unordered: Vec<String>,
    decoded_limit: usize,
    pairing: Pairing,
    groups: BTreeMap<GroupKey, Group>,
    repeat: RepeatNoise,
    /// Built ignore lists, by route annotations (ignore, unordered; kept alive so their
    /// addresses stay unique).
    ignore_cache: Vec<(RouteLists, Arc<Ignore>)>,
    /// Exchanges that could not be paired, by service.
    pub unpaired: BTreeMap<String, u64>,
    /// Differences beyond noise of the pairs compared since [`Engine::take_differences`].
    differences: Vec<(GroupKey, Difference)>,
}

/// Differences kept for [`Engine::take_differences`] between two drains (more are dropped:
/// they only feed a metric).
const DIFFERENCES_KEPT: usize = 65_536;

impl Engine {
    /// An empty engine.
    pub fn new(cfg: EngineConfig) -> Self {
        Self {
            pairing: Pairing::new(Limits {
                memory_budget: cfg.memory_budget,
                max_pending: cfg.max_pending,
                pair_timeout: cfg.pair_timeout,
            }),
            ignore: cfg.ignore,
            unordered: cfg.unordered,
            decoded_limit: cfg.decoded_limit,
            groups: BTreeMap::new(),
            repeat: RepeatNoise::default(),
            ignore_cache: Vec::new(),
            unpaired: BTreeMap::new(),
            differences: Vec::new(),
        }
    }

    /// The differences beyond noise (field normalized, with its kind) of every pair compared
    /// since the last call, for `shadowmesh_compare_differences_total`.
    pub fn take_differences(&mut self) -> Vec<(GroupKey, Difference)> {
        std::mem::take(&mut self.differences)
    }

    /// Bytes held by waiting entries.
    pub fn pending_bytes(&self) -> usize {
        self.pairing.pending_bytes()
    }

    /// Waiting entries.
    pub fn pending_len(&self) -> usize {
        self.pairing.pending_len()
    }

    /// Takes one exchange, its body decoded per its `content-encoding`. Returns the results of
    /// the pairs it completed (or dropped).
    pub fn ingest(&mut self, mut ob: Observed, now: Instant) -> Vec<(GroupKey, PairResult)> {
        ob.decode_body(self.decoded_limit);
        let left = self.pairing.insert(ob, now);
        self.settle(left)
    }

    /// Drops entries older than the pair timeout; a primary with some mirrors is still compared.
    pub fn expire(&mut self, now: Instant) -> Vec<(GroupKey, PairResult)> {
        let left = self.pairing.expire(now);
        self.settle(left)
    }

    /// The report on every group.
    pub fn report(&self, t: &Thresholds) -> Vec<CandidateReport> {
        self.report_with(t, false)
    }

    /// The report on every group, each with its raw counts when `samples` (for merging
    /// replicas).
    pub fn report_with(&self, t: &Thresholds, samples: bool) -> Vec<CandidateReport> {
        let none = BTreeSet::new();
        self.groups
            .iter()
            .map(|(key, group)| {
                let repeat = self.repeat.fields(&key.service, &key.route);
                let repeat = repeat.unwrap_or(&none);
                let mut report = candidate_report(key, group, repeat, t);
                if samples {
                    report.samples = Some(group.samples(repeat));
                }
                report
            })
            .collect()
    }

    /// Compares or counts unpaired what left the waiting room, in order.
    fn settle(&mut self, left: Vec<Left>) -> Vec<(GroupKey, PairResult)> {
        let mut out = Vec::new();
        for entry in left {
            match entry {
                Left::Compare(w) => self.compare(w, &mut out),
                Left::Unpaired(w) => self.count_unpaired(&w, &mut out),
            }
        }
        out
    }

    fn count_unpaired(&mut self, w: &Waiting, out: &mut Vec<(GroupKey, PairResult)>) {
        for ob in w.exchanges() {
            match self.unpaired.get_mut(&*ob.service) {
                Some(n) => *n += 1,
                None => drop(self.unpaired.insert(ob.service.to_string(), 1)),
            }
            let (primary, candidate) = if ob.mirror {
                ("unknown".into(), ob.version.clone())
            } else {
                (ob.version.clone(), "unknown".into())
            };
            let key = GroupKey {
                service: ob.service.clone(),
                route: ob.route.clone(),
                primary,
                candidate,
            };
            out.push((key, PairResult::Unpaired));
        }
    }

    /// Compares each candidate of `entry` with its primary; mirrors to the primary's own
    /// version are secondaries (noise evidence), not candidates.
    fn compare(&mut self, entry: Waiting, out: &mut Vec<(GroupKey, PairResult)>) {
        let Some(primary) = entry.primary else { return };
        let ignore = self.ignore_for(&primary.ignore, &primary.unordered);
        let (secondaries, candidates): (Vec<&Observed>, Vec<&Observed>) = entry
            .mirrors
            .iter()
            .partition(|m| m.version == primary.version);
        let has_secondary = !secondaries.is_empty();
        self.repeat
            .observe_primary(&primary, &ignore, has_secondary);
        let secondary_fields: BTreeSet<Difference> = secondaries
            .iter()
            .flat_map(|s| diff_pair(primary.side(), s.side(), &ignore).fields())
            .map(|f| f.normalized())
            .collect();
        let none = BTreeSet::new();
        let evidence = Evidence {
            secondary_fields: &secondary_fields,
            repeat_fields: self
                .repeat
                .fields(&primary.service, &primary.route)
                .unwrap_or(&none),
            secondary_statistics: has_secondary,
        };
        for cand in candidates {
            let key = GroupKey {
                service: primary.service.clone(),
                route: primary.route.clone(),
                primary: primary.version.clone(),
                candidate: cand.version.clone(),
            };
            let found = diff_pair(primary.side(), cand.side(), &ignore).found();
            let group = self.groups.entry(key.clone()).or_default();
            let result = classify_pair(&found, |f| evidence.is_noise(f, group));
            let real: BTreeSet<&Difference> = (found.iter())
                .map(|f| &f.field)
                .filter(|f| !evidence.is_noise(f, group))
                .collect();
            let secondary = has_secondary.then_some(&secondary_fields);
            group.record(result, &primary, cand, &found, secondary);
            if self.differences.len() + real.len() <= DIFFERENCES_KEPT {
                self.differences
                    .extend(real.into_iter().map(|d| (key.clone(), d.clone())));
            }
            out.push((key, result));
        }
    }

    /// The ignore list and set-like arrays for a route's annotations plus the global flags,
    /// built once per route.
    fn ignore_for(&mut self, route: &Arc<Vec<String>>, sets: &Arc<Vec<String>>) -> Arc<Ignore> {
        if let Some((_, built)) = (self.ignore_cache.iter())
            .find(|((r, s), _)| Arc::ptr_eq(r, route) && Arc::ptr_eq(s, sets))
        {
            return built.clone();
        }
        if self.ignore_cache.len() >= IGNORE_CACHE {
            self.ignore_cache.clear();
        }
        let built = Ignore::new(self.ignore.iter().chain(route.iter()).map(String::as_str))
            .unordered(self.unordered.iter().chain(sets.iter()).map(String::as_str));
        let built = Arc::new(built);
        (self.ignore_cache).push(((route.clone(), sets.clone()), built.clone()));
        built
    }
}
