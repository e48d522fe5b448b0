//! Aggregation: statistics per (service, route, primary version, candidate version)
//! ([`GroupKey`]): results, differing fields with examples, paired latency and failures. A
//! [`Group`] only counts; what is noise is decided in [`noise`](super::noise), the verdict
//! in [`report`](super::report).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::Serialize;

use super::diff::PairDiff;
use super::json_diff::normalize;
use super::observed::Observed;
use super::outcome::PairResult;
use super::report::Example;
use super::stats::PairedLatency;
use crate::telemetry::Flag;

/// Examples kept per field.
pub const EXAMPLES_PER_FIELD: usize = 3;
/// Distinct fields tracked per group (more are counted under `(other)`).
pub const MAX_FIELDS: usize = 100;
/// Bytes of each body kept in an example.
pub const EXAMPLE_BYTES: usize = 1024;

/// Primary/candidate group: service, route, primary version, candidate version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKey {
    /// Service.
    pub service: String,
    /// Route.
    pub route: String,
    /// Primary version.
    pub primary: String,
    /// Candidate version.
    pub candidate: String,
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
    /// Differing fields (normalized), at most [`MAX_FIELDS`] and `(other)`.
    pub fields: BTreeMap<String, FieldStat>,
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
}

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

    /// Counts one compared pair: its `result`, the `diff` between `primary` and `candidate`,
    /// and the fields where this request's secondaries differed (`None`: no secondary).
    pub fn record(
        &mut self,
        result: PairResult,
        primary: &Observed,
        candidate: &Observed,
        diff: &PairDiff,
        secondary_fields: Option<&BTreeSet<String>>,
    ) {
        self.pairs += 1;
        *self.results.entry(result.as_str()).or_default() += 1;
        if let Some(secondary_fields) = secondary_fields {
            self.secondary_pairs += 1;
            for f in secondary_fields {
                self.field_stat(f).secondary += 1;
            }
        }
        // Rates are per pair: a field counts once however many of its elements differ
        // (`/factors/0` and `/factors/3` are both `/factors/*`).
        let fields: BTreeSet<String> = diff.fields().iter().map(|f| normalize(f)).collect();
        for f in &fields {
            let stat = self.field_stat(f);
            stat.candidate += 1;
            if stat.examples.len() < EXAMPLES_PER_FIELD {
                stat.examples.push(example(primary, candidate));
            }
        }
        self.latency.record(
            primary.duration.as_micros() as u64,
            candidate.duration.as_micros() as u64,
        );
        self.primary_failed += u64::from(primary.failed());
        match (candidate.status, candidate.flag) {
            (0, Flag::Timeout) => self.candidate_timeouts += 1,
            (0, _) => self.candidate_resets += 1,
            (s, _) if s >= 500 => self.candidate_5xx += 1,
            _ => {}
        }
    }

    fn field_stat(&mut self, field: &str) -> &mut FieldStat {
        if !self.fields.contains_key(field) && self.fields.len() >= MAX_FIELDS {
            return self.fields.entry("(other)".to_string()).or_default();
        }
        self.fields.entry(field.to_string()).or_default()
    }
}

fn snippet(b: &Option<Bytes>) -> String {
    match b {
        Some(b) => String::from_utf8_lossy(&b[..b.len().min(EXAMPLE_BYTES)]).into_owned(),
        None => String::new(),
    }
}

fn example(p: &Observed, c: &Observed) -> Example {
    Example {
        request: p.request.clone(),
        primary_status: p.status,
        primary: snippet(&p.body),
        candidate_status: c.status,
        candidate: snippet(&c.body),
    }
}
