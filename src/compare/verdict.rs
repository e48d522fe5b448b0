//! The verdict on a candidate: `promote`, `hold` or `reject`, with reasons in plain words.
//!
//! - `hold` while there are fewer than `min_pairs` compared pairs: not enough data;
//! - `reject` when a field (status, a header, a JSON path) differs, beyond noise, in more than
//!   `max_diff_rate` of pairs; or when the candidate fails (5xx, timeouts, resets) more than
//!   `max_error_increase` above the primary; or when its p99 is slower by more than
//!   `max_slowdown_pct` and `min_slowdown_ms` **and** the bootstrap interval says so
//!   (significant);
//! - `promote` otherwise.

use serde::{Deserialize, Serialize};

use super::stats::LatencySummary;

/// Decision thresholds (flags of `run`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thresholds {
    /// Pairs needed before deciding.
    pub min_pairs: u64,
    /// Largest tolerated share of pairs differing in one field (beyond noise).
    pub max_diff_rate: f64,
    /// Largest tolerated excess of the candidate's error rate over the primary's.
    pub max_error_increase: f64,
    /// Largest tolerated p99 slowdown, percent.
    pub max_slowdown_pct: f64,
    /// Slowdowns smaller than this many milliseconds never reject (0.2 ms on a 0.3 ms answer is
    /// +66% and meaningless).
    pub min_slowdown_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_pairs: 100,
            max_diff_rate: 0.01,
            max_error_increase: 0.01,
            max_slowdown_pct: 20.0,
            min_slowdown_ms: 1.0,
        }
    }
}

/// The three verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Ready: behaves like the primary, not slower.
    Promote,
    /// Not enough data, or nothing conclusive yet.
    Hold,
    /// Differs or fails.
    Reject,
}

impl Verdict {
    /// `promote`, `hold`, `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::Hold => "hold",
            Self::Reject => "reject",
        }
    }
}

/// A field and how often it differs, as the verdict sees it.
#[derive(Debug, Clone)]
pub struct FieldRate {
    /// `status`, `header:NAME` or a JSON path.
    pub field: String,
    /// How it differs, in plain words (`integer became float`).
    pub change: String,
    /// Share of pairs where it differs.
    pub rate: f64,
    /// Judged noise.
    pub noise: bool,
}

/// Failure rates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorRates {
    /// Primary 5xx or failed, share of pairs.
    pub primary_rate: f64,
    /// Candidate 5xx or failed, share of pairs.
    pub candidate_rate: f64,
    /// Candidate 5xx answers.
    pub candidate_5xx: u64,
    /// Candidate timeouts.
    pub candidate_timeouts: u64,
    /// Candidate resets and connect failures.
    pub candidate_resets: u64,
}

/// Decides. Returns the verdict and its reasons.
pub fn decide(
    t: &Thresholds,
    pairs: u64,
    fields: &[FieldRate],
    errors: &ErrorRates,
    latency: &LatencySummary,
) -> (Verdict, Vec<String>) {
    let mut reasons = Vec::new();
    if pairs < t.min_pairs {
        reasons.push(format!(
            "only {pairs} of the {} pairs needed so far",
            t.min_pairs
        ));
        reasons.extend(latency_words(latency));
        return (Verdict::Hold, reasons);
    }
    let mut reject = false;
    if let Some(reason) = field_reason(t, fields) {
        reject = true;
        reasons.push(reason);
    }
    if errors.candidate_rate - errors.primary_rate > t.max_error_increase {
        reject = true;
        reasons.push(format!(
            "candidate fails {:.1}% of requests (primary {:.1}%): {} 5xx, {} timeouts, {} resets",
            errors.candidate_rate * 100.0,
            errors.primary_rate * 100.0,
            errors.candidate_5xx,
            errors.candidate_timeouts,
            errors.candidate_resets
        ));
    }
    if let Some(p99) = latency.quantiles.iter().find(|q| q.quantile == 0.99)
        && p99.significant
        && p99.diff_pct > t.max_slowdown_pct
    {
        reject = true;
        reasons.push(format!(
            "p99 {:.0}% slower ({:.1} ms vs {:.1} ms)",
            p99.diff_pct, p99.candidate_ms, p99.primary_ms
        ));
    }
    if reject {
        // Speed never makes up for a wrong answer: say so, so "faster" does not read as praise.
        let other: Vec<String> = latency_words(latency)
            .into_iter()
            .filter(|w| !w.contains("slower") || !w.starts_with("p99"))
            .filter(|w| !w.starts_with("latency:"))
            .collect();
        if !other.is_empty() {
            reasons.push(format!(
                "latency alone would not reject ({})",
                other.join(", ")
            ));
        }
        return (Verdict::Reject, reasons);
    }
    let noisy: Vec<&str> = fields
        .iter()
        .filter(|f| f.noise)
        .map(|f| f.field.as_str())
        .collect();
    let below: Vec<&FieldRate> = fields.iter().filter(|f| !f.noise && f.rate > 0.0).collect();
    reasons.push(match (noisy.is_empty(), below.is_empty()) {
        (true, true) => format!("{pairs} pairs, no differences"),
        (false, true) => format!(
            "{pairs} pairs, no differences beyond noise ({})",
            noisy.join(", ")
        ),
        _ => format!(
            "{pairs} pairs, differences below {:.1}% ({})",
            t.max_diff_rate * 100.0,
            below
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    reasons.extend(latency_words(latency));
    (Verdict::Promote, reasons)
}

/// `/factors/*: integer became float in 99.0% of pairs (and 2 more)` for the most frequent
/// field beyond noise and the threshold, if any.
fn field_reason(t: &Thresholds, fields: &[FieldRate]) -> Option<String> {
    let worst: Vec<&FieldRate> = fields
        .iter()
        .filter(|f| !f.noise && f.rate > t.max_diff_rate)
        .collect();
    let top = worst.first()?;
    let others = if worst.len() > 1 {
        format!(" (and {} more)", worst.len() - 1)
    } else {
        String::new()
    };
    Some(format!(
        "{}: {} in {:.1}% of pairs (limit {:.1}%){others}",
        top.field,
        top.change,
        top.rate * 100.0,
        t.max_diff_rate * 100.0,
    ))
}

/// `p99 42% faster`, `p50 unchanged`, ... for the significant percentiles.
fn latency_words(l: &LatencySummary) -> Vec<String> {
    let mut out = Vec::new();
    for q in &l.quantiles {
        let name = format!("p{}", (q.quantile * 100.0).round() as u32);
        if !q.significant {
            continue;
        }
        let dir = if q.diff_pct < 0.0 { "faster" } else { "slower" };
        out.push(format!("{name} {:.0}% {dir}", q.diff_pct.abs()));
    }
    if out.is_empty() && l.pairs > 0 {
        out.push("latency: no significant difference".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::stats::PairedLatency;

    fn latency(factor: u64) -> LatencySummary {
        let mut l = PairedLatency::default();
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..300 {
            let p = 1000 + rng.u64(0..200);
            l.record(p, p * factor);
        }
        l.summary()
    }

    fn field(f: &str, rate: f64, noise: bool) -> FieldRate {
        FieldRate {
            field: f.into(),
            change: "array length differs".into(),
            rate,
            noise,
        }
    }

    #[test]
    fn too_few_pairs_hold() {
        let (v, r) = decide(
            &Thresholds::default(),
            37,
            &[],
            &ErrorRates::default(),
            &latency(1),
        );
        assert_eq!(v, Verdict::Hold);
        assert!(r[0].contains("only 37 of the 100 pairs"));
    }

    #[test]
    fn a_differing_field_rejects_with_its_path() {
        let fields = [
            field("/factors", 0.031, false),
            field("/timestamp", 1.0, true),
        ];
        let (v, r) = decide(
            &Thresholds::default(),
            400,
            &fields,
            &ErrorRates::default(),
            &latency(1),
        );
        assert_eq!(v, Verdict::Reject);
        assert_eq!(
            r[0],
            "/factors: array length differs in 3.1% of pairs (limit 1.0%)"
        );
    }

    #[test]
    fn noise_alone_promotes() {
        let fields = [field("/timestamp", 1.0, true)];
        let (v, r) = decide(
            &Thresholds::default(),
            400,
            &fields,
            &ErrorRates::default(),
            &latency(1),
        );
        assert_eq!(v, Verdict::Promote);
        assert!(
            r[0].contains("no differences beyond noise (/timestamp)"),
            "{r:?}"
        );
    }

    #[test]
    fn a_significantly_slower_candidate_is_rejected() {
        let (v, r) = decide(
            &Thresholds::default(),
            300,
            &[],
            &ErrorRates::default(),
            &latency(3),
        );
        assert_eq!(v, Verdict::Reject);
        assert!(
            r.iter()
                .any(|r| r.starts_with("p99 ") && r.contains("slower")),
            "{r:?}"
        );
    }

    #[test]
    fn a_faster_but_wrong_candidate_says_speed_does_not_make_up_for_it() {
        let fields = [field("/factors", 0.092, false)];
        let mut l = PairedLatency::default();
        for i in 0..300 {
            l.record(10_000 + i, 1_000 + i);
        }
        let t = Thresholds::default();
        let (v, r) = decide(&t, 300, &fields, &ErrorRates::default(), &l.summary());
        assert_eq!(v, Verdict::Reject);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(
            r[1].starts_with("latency alone would not reject (p50 89% faster"),
            "{r:?}"
        );
    }

    #[test]
    fn failures_reject() {
        let errors = ErrorRates {
            primary_rate: 0.0,
            candidate_rate: 0.05,
            candidate_timeouts: 15,
            ..Default::default()
        };
        let (v, r) = decide(&Thresholds::default(), 300, &[], &errors, &latency(1));
        assert_eq!(v, Verdict::Reject);
        assert!(r[0].contains("candidate fails 5.0%"), "{r:?}");
    }
}
