//! The report: its types ([`Report`], [`CandidateReport`], [`FieldReport`], [`Example`]), as
//! served on `GET /compare` and read back by `shadowmesh report`, and how one group's
//! statistics become a [`CandidateReport`] with its verdict.

use std::collections::{BTreeMap, BTreeSet};

use super::kind::Difference;

use serde::{Deserialize, Serialize};

use super::groups::{Group, GroupKey};
use super::noise::Evidence;
use super::outcome::PairResult;
use super::stats::LatencySummary;
use super::verdict::{ErrorRates, FieldRate, Thresholds, Verdict, decide};

/// The whole report (`GET /compare`, `shadowmesh report`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Seconds since the Unix epoch.
    pub generated_at: u64,
    /// Thresholds in force.
    pub thresholds: Thresholds,
    /// Exchanges that could not be paired, by service.
    pub unpaired: BTreeMap<String, u64>,
    /// Exchanges dropped because the comparison queue was full.
    pub dropped: u64,
    /// Mirrored requests not compared because more than `max_rate` per second came.
    pub sampled_out: u64,
    /// One entry per candidate.
    pub candidates: Vec<CandidateReport>,
}

/// A differing pair, shown to the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Example {
    /// `GET /api/calculation?number=36`.
    pub request: String,
    /// Primary status and body.
    pub primary_status: u16,
    /// Primary body (first bytes).
    pub primary: String,
    /// Candidate status.
    pub candidate_status: u16,
    /// Candidate body (first bytes).
    pub candidate: String,
    /// Where they differ: `status`, `header:NAME` or a JSON pointer with real indices.
    #[serde(default)]
    pub path: String,
    /// The primary's value there (JSON, header values or status; `(absent)` when missing).
    #[serde(default)]
    pub primary_value: String,
    /// The candidate's value there.
    #[serde(default)]
    pub candidate_value: String,
}

/// One field in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldReport {
    /// `status`, `header:NAME` or a JSON path (indices as `*`).
    pub field: String,
    /// The kind of difference: `value`, `type`, `missing`, `extra`, `length`, `status`,
    /// `header` or `encoding` (a field may appear once per kind).
    #[serde(default)]
    pub kind: String,
    /// The kind in plain words: `integer became float`, `missing in candidate`, ...
    #[serde(default)]
    pub change: String,
    /// Pairs where it differs.
    pub count: u64,
    /// Share of pairs where it differs.
    pub rate: f64,
    /// Share of primary/secondary pairs where it differs.
    pub secondary_rate: f64,
    /// Judged noise.
    pub noise: bool,
    /// Up to three examples.
    pub examples: Vec<Example>,
}

/// The report on one candidate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateReport {
    /// Service.
    pub service: String,
    /// Route.
    pub route: String,
    /// Primary version.
    pub primary_version: String,
    /// Candidate version.
    pub candidate_version: String,
    /// Pairs compared.
    pub pairs: u64,
    /// Of which had a secondary.
    pub with_secondary: u64,
    /// Pairs by result.
    pub results: BTreeMap<String, u64>,
    /// Differing fields, real ones first, most frequent first.
    pub fields: Vec<FieldReport>,
    /// Latency.
    pub latency: LatencySummary,
    /// Failures.
    pub errors: ErrorRates,
    /// Pairs whose request was a POST, PUT, PATCH or DELETE: the candidate got a copy of a
    /// write (see `--mirror-methods`).
    #[serde(default)]
    pub unsafe_methods_mirrored: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reasons: Vec<String>,
    /// `reject: /factors: array length differs in 3.1% of pairs; p99 42% faster`.
    pub summary: String,
    /// The raw counts behind this report, for merging replicas (`GET /compare?samples=1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<super::merge::GroupSamples>,
}

/// The report on `group`, with `repeat_fields` the repeat noise learnt on its route, judged
/// against `t`.
pub fn candidate_report(
    key: &GroupKey,
    group: &Group,
    repeat_fields: &BTreeSet<Difference>,
    t: &Thresholds,
) -> CandidateReport {
    let fields = field_reports(group, repeat_fields);
    let latency = group.latency.summary();
    let errors = error_rates(group);
    let rates: Vec<FieldRate> = fields
        .iter()
        .map(|f| FieldRate {
            field: f.field.clone(),
            change: f.change.clone(),
            rate: f.rate,
            noise: f.noise,
        })
        .collect();
    let (verdict, reasons) = decide(t, group.pairs, &rates, &errors, &latency);
    let summary = format!("{}: {}", verdict.as_str(), reasons.join("; "));
    CandidateReport {
        service: key.service.to_string(),
        route: key.route.to_string(),
        primary_version: key.primary.to_string(),
        candidate_version: key.candidate.to_string(),
        pairs: group.pairs,
        with_secondary: group.secondary_pairs,
        results: PairResult::ALL
            .iter()
            .map(|r| {
                let count = group.results.get(r.as_str()).copied().unwrap_or(0);
                (r.as_str().to_string(), count)
            })
            .collect(),
        fields,
        latency,
        errors,
        unsafe_methods_mirrored: group.unsafe_methods,
        verdict,
        reasons,
        summary,
        samples: None,
    }
}

/// The fields where the candidate differed, real ones first, most frequent first.
fn field_reports(group: &Group, repeat_fields: &BTreeSet<Difference>) -> Vec<FieldReport> {
    let evidence = Evidence {
        secondary_fields: &BTreeSet::new(),
        repeat_fields,
        secondary_statistics: true,
    };
    let mut fields: Vec<FieldReport> = group
        .fields
        .iter()
        .filter(|(_, s)| s.candidate > 0)
        .map(|(d, s)| FieldReport {
            field: d.field.clone(),
            kind: d.kind.as_str().to_string(),
            change: d.kind.words(),
            count: s.candidate,
            rate: group.candidate_rate(s),
            secondary_rate: group.secondary_rate(s),
            noise: evidence.is_noise(d, group),
            examples: s.examples.clone(),
        })
        .collect();
    fields.sort_by(|a, b| {
        (a.noise, std::cmp::Reverse(a.count)).cmp(&(b.noise, std::cmp::Reverse(b.count)))
    });
    fields
}

fn error_rates(group: &Group) -> ErrorRates {
    let pairs = group.pairs.max(1) as f64;
    ErrorRates {
        primary_rate: group.primary_failed as f64 / pairs,
        candidate_rate: (group.candidate_5xx + group.candidate_timeouts + group.candidate_resets)
            as f64
            / pairs,
        candidate_5xx: group.candidate_5xx,
        candidate_timeouts: group.candidate_timeouts,
        candidate_resets: group.candidate_resets,
    }
}
