//! Aggregation: statistics per (service, route, primary version, candidate version)
//! ([`GroupKey`]): results, differing fields (by field **and** kind) with examples, paired
//! latency and failures. A
//! [`Group`] only counts; what is noise is decided in [`noise`](super::noise), the verdict
//! in [`report`](super::report).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::diff::Found;
use super::example::PairValues;
use super::kind::{DiffKind, Difference};
use super::observed::Observed;
use super::outcome::PairResult;
use super::report::Example;
use super::stats::PairedLatency;
use crate::telemetry::Flag;

pub use super::example::EXAMPLE_BYTES;

/// Examples kept per field.
pub const EXAMPLES_PER_FIELD: usize = 3;
/// Distinct fields tracked per group (more are counted under `(other)`).
pub const MAX_FIELDS: usize = 100;

/// Primary/candidate group: service, route, primary version, candidate version. The names
/// are shared (`Arc<str>`, from the proxy's peers and routes): a key is cloned several times
/// per compared pair, and an equal clone compares by address first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKey {
    /// Service.
    pub service: Arc<str>,
    /// Route.
    pub route: Arc<str>,
    /// Primary version.
    pub primary: Arc<str>,
    /// Candidate version.
    pub candidate: Arc<str>,
}

/// How often one field differed.
#[derive(Debug, Clone, Default)]
pub struct FieldStat {
    /// Pairs where primary and candidate differ here.
    pub candidate: u64,
    /// Pairs where primary and secondary differ here.
    pub secondary: u64,
    /// The first differing pairs.
    pub examples: Vec<Example>,
}

/// The statistics of one group.
#[derive(Debug, Default)]
pub struct Group {
    /// Pairs by result label.
    pub results: BTreeMap<&'static str, u64>,
    /// Pairs compared.
    pub pairs: u64,
    /// Of which had a secondary.
    pub secondary_pairs: u64,
    /// Differing fields (normalized) by kind, at most [`MAX_FIELDS`] and `(other)`.
    pub fields: BTreeMap<Difference, FieldStat>,
    /// Paired latency.
    pub latency: PairedLatency,
    /// Pairs whose primary failed (no answer or 5xx).
    pub primary_failed: u64,
    /// Candidate 5xx answers.
    pub candidate_5xx: u64,
    /// Candidate timeouts.
    pub candidate_timeouts: u64,
    /// Candidate resets (no answer, no timeout).
    pub candidate_resets: u64,
    /// Pairs whose request had an unsafe method (POST, PUT, PATCH, DELETE): mirroring it may
    /// have written twice.
    pub unsafe_methods: u64,
}

/// Methods that change state: mirroring them writes twice unless the candidate is isolated.
pub const UNSAFE_METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

impl Group {
    /// Share of pairs where primary and candidate differ at `stat`'s field.
    pub fn candidate_rate(&self, stat: &FieldStat) -> f64 {
        stat.candidate as f64 / self.pairs.max(1) as f64
    }

    /// Share of pairs with a secondary where primary and secondary differ at `stat`'s field
    /// (0 without any).
    pub fn secondary_rate(&self, stat: &FieldStat) -> f64 {
        if self.secondary_pairs > 0 {
            stat.secondary as f64 / self.secondary_pairs as f64
        } else {
            0.0
        }
    }

    /// Counts one compared pair: its `result`, the differences `found` between `primary` and
    /// `candidate`, and the fields where this request's secondaries differed (`None`: no
    /// secondary).
    pub fn record(
        &mut self,
        result: PairResult,
        primary: &Observed,
        candidate: &Observed,
        found: &[Found],
        secondary_fields: Option<&BTreeSet<Difference>>,
    ) {
        self.pairs += 1;
        *self.results.entry(result.as_str()).or_default() += 1;
        if let Some(secondary_fields) = secondary_fields {
            self.secondary_pairs += 1;
            for f in secondary_fields {
                self.field_stat(f).secondary += 1;
            }
        }
        // Rates are per pair: a field counts once per kind however many of its elements
        // differ (`/factors/0` and `/factors/3` are both `/factors/*`); the example shows the
        // first element's values.
        let mut fields: BTreeMap<&Difference, &Difference> = BTreeMap::new();
        for f in found {
            fields.entry(&f.field).or_insert(&f.at);
        }
        let mut values = PairValues::new(primary, candidate);
        for (f, at) in fields {
            let stat = self.field_stat(f);
            stat.candidate += 1;
            if stat.examples.len() < EXAMPLES_PER_FIELD {
                stat.examples.push(values.example(at));
            }
        }
        self.latency.record(
            primary.duration.as_micros() as u64,
            candidate.duration.as_micros() as u64,
        );
        self.primary_failed += u64::from(primary.failed());
        let method = primary.request.split(' ').next().unwrap_or("");
        self.unsafe_methods += u64::from(UNSAFE_METHODS.contains(&method));
        match (candidate.status, candidate.flag) {
            (0, Flag::Timeout) => self.candidate_timeouts += 1,
            (0, _) => self.candidate_resets += 1,
            (s, _) if s >= 500 => self.candidate_5xx += 1,
            _ => {}
        }
    }

    fn field_stat(&mut self, field: &Difference) -> &mut FieldStat {
        if !self.fields.contains_key(field) && self.fields.len() >= MAX_FIELDS {
            let other = Difference::new("(other)", DiffKind::Value);
            return self.fields.entry(other).or_default();
        }
        self.fields.entry(field.clone()).or_default()
    }
}
