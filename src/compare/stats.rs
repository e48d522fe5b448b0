//! Latency of the primary against the candidate, for the same requests.
//!
//! Every mirrored pair gives two durations for one request, so the comparison is **paired**.
//! The difference of each percentile (candidate - primary) gets a 95% confidence interval by
//! the **paired bootstrap**: resample whole pairs with replacement, recompute both percentiles,
//! and take the 2.5th and 97.5th percentiles of the differences. Why the bootstrap: percentile
//! differences (p99 above all) have no usable closed-form interval, and resampling pairs keeps
//! the per-request correlation (a large number is slow on both versions), which a two-sample
//! test such as Mann-Whitney U would throw away; Mann-Whitney also tests a shift of the whole
//! distribution, not the p99 a user asks about. The bootstrap runs on a uniform reservoir of
//! at most [`RESERVOIR`] pairs, so memory and time stay bounded on long runs; full-run
//! percentiles come from HDR histograms.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Pairs kept for the bootstrap.
pub const RESERVOIR: usize = 1000;
/// Bootstrap resamples.
pub const RESAMPLES: usize = 300;
/// Bounds (ms) of the bins the web page draws.
pub const CHART_BOUNDS_MS: [f64; 16] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
    10000.0,
];

/// Paired latencies of one primary/candidate group.
#[derive(Debug, Clone)]
pub struct PairedLatency {
    primary: Histogram<u64>,
    candidate: Histogram<u64>,
    reservoir: Vec<(u64, u64)>,
    seen: u64,
    rng: fastrand::Rng,
}

impl Default for PairedLatency {
    fn default() -> Self {
        Self {
            // Two significant digits (1% resolution) keep each histogram near 40 KiB.
            primary: Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds"),
            candidate: Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds"),
            reservoir: Vec::new(),
            seen: 0,
            rng: fastrand::Rng::with_seed(0x5eed),
        }
    }
}

/// One percentile, primary against candidate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuantileDiff {
    /// 0.5, 0.9, 0.99.
    pub quantile: f64,
    /// Primary, ms.
    pub primary_ms: f64,
    /// Candidate, ms.
    pub candidate_ms: f64,
    /// Candidate - primary, ms.
    pub diff_ms: f64,
    /// Candidate relative to primary, percent (negative: faster).
    pub diff_pct: f64,
    /// 95% confidence interval of `diff_ms`.
    pub ci95_ms: (f64, f64),
    /// The interval excludes zero.
    pub significant: bool,
}

/// Latency summary of a group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Pairs measured.
    pub pairs: u64,
    /// p50, p90, p99.
    pub quantiles: Vec<QuantileDiff>,
    /// Bin upper bounds (ms) for the chart; the last bin is everything above.
    pub chart_bounds_ms: Vec<f64>,
    /// Primary counts per bin.
    pub primary_bins: Vec<u64>,
    /// Candidate counts per bin.
    pub candidate_bins: Vec<u64>,
}

impl PairedLatency {
    /// Records one pair (microseconds).
    pub fn record(&mut self, primary_us: u64, candidate_us: u64) {
        let _ = self.primary.record(primary_us.max(1));
        let _ = self.candidate.record(candidate_us.max(1));
        self.seen += 1;
        if self.reservoir.len() < RESERVOIR {
            self.reservoir.push((primary_us, candidate_us));
        } else {
            let j = self.rng.u64(0..self.seen) as usize;
            if j < RESERVOIR {
                self.reservoir[j] = (primary_us, candidate_us);
            }
        }
    }

    /// Pairs recorded.
    pub fn pairs(&self) -> u64 {
        self.seen
    }

    /// Percentiles, their differences with bootstrap intervals, and chart bins.
    pub fn summary(&self) -> LatencySummary {
        let qs = [0.5, 0.9, 0.99];
        let intervals = bootstrap(&self.reservoir, &qs);
        let quantiles = qs
            .iter()
            .zip(intervals)
            .map(|(q, ci)| {
                let p = self.primary.value_at_quantile(*q) as f64 / 1000.0;
                let c = self.candidate.value_at_quantile(*q) as f64 / 1000.0;
                QuantileDiff {
                    quantile: *q,
                    primary_ms: p,
                    candidate_ms: c,
                    diff_ms: c - p,
                    diff_pct: if p > 0.0 { 100.0 * (c - p) / p } else { 0.0 },
                    ci95_ms: ci,
                    significant: self.seen >= 10 && (ci.0 > 0.0 || ci.1 < 0.0),
                }
            })
            .collect();
        LatencySummary {
            pairs: self.seen,
            quantiles,
            chart_bounds_ms: CHART_BOUNDS_MS.to_vec(),
            primary_bins: bins(&self.primary),
            candidate_bins: bins(&self.candidate),
        }
    }
}

/// A [`PairedLatency`] as numbers another process can merge: both histograms as
/// (microseconds, count) pairs, the bootstrap reservoir and the pairs seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatencySamples {
    /// Primary histogram: (value in us, count).
    pub primary: Vec<(u64, u64)>,
    /// Candidate histogram: (value in us, count).
    pub candidate: Vec<(u64, u64)>,
    /// The reservoir of (primary us, candidate us) pairs.
    pub reservoir: Vec<(u64, u64)>,
    /// Pairs recorded.
    pub seen: u64,
}

impl PairedLatency {
    /// What another replica needs to merge this one.
    pub fn samples(&self) -> LatencySamples {
        let counts = |h: &Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        };
        LatencySamples {
            primary: counts(&self.primary),
            candidate: counts(&self.candidate),
            reservoir: self.reservoir.clone(),
            seen: self.seen,
        }
    }

    /// Adds another replica's pairs: histograms add up; the reservoir keeps a share of each
    /// side's pairs in proportion to the pairs each has seen, so it stays uniform.
    pub fn absorb(&mut self, other: &LatencySamples) {
        for (v, n) in &other.primary {
            let _ = self.primary.record_n((*v).max(1), *n);
        }
        for (v, n) in &other.candidate {
            let _ = self.candidate.record_n((*v).max(1), *n);
        }
        let total = self.seen + other.seen;
        if self.reservoir.len() + other.reservoir.len() > RESERVOIR && total > 0 {
            let mine = (RESERVOIR as u128 * u128::from(self.seen) / u128::from(total)) as usize;
            let mine = mine.min(self.reservoir.len());
            let theirs = (RESERVOIR - mine).min(other.reservoir.len());
            self.rng.shuffle(&mut self.reservoir);
            self.reservoir.truncate(mine);
            let mut others = other.reservoir.clone();
            self.rng.shuffle(&mut others);
            self.reservoir.extend(others.into_iter().take(theirs));
        } else {
            self.reservoir.extend(other.reservoir.iter().copied());
        }
        self.seen = total;
    }
}

fn bins(h: &Histogram<u64>) -> Vec<u64> {
    let mut out = Vec::with_capacity(CHART_BOUNDS_MS.len() + 1);
    let mut below = 0u64;
    for bound in CHART_BOUNDS_MS {
        let upto = h.count_between(0, (bound * 1000.0) as u64);
        out.push(upto - below);
        below = upto;
    }
    out.push(h.len() - below);
    out
}

fn quantile_of(v: &mut [u64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    *v.select_nth_unstable(k).1 as f64
}

/// 95% intervals (ms) of candidate - primary at each quantile, by the paired bootstrap.
fn bootstrap(pairs: &[(u64, u64)], qs: &[f64]) -> Vec<(f64, f64)> {
    if pairs.len() < 2 {
        return qs
            .iter()
            .map(|_| (f64::NEG_INFINITY, f64::INFINITY))
            .collect();
    }
    let mut rng = fastrand::Rng::with_seed(42);
    let n = pairs.len();
    let mut diffs: Vec<Vec<f64>> = vec![Vec::with_capacity(RESAMPLES); qs.len()];
    let (mut p, mut c) = (vec![0u64; n], vec![0u64; n]);
    for _ in 0..RESAMPLES {
        for i in 0..n {
            let (a, b) = pairs[rng.usize(0..n)];
            p[i] = a;
            c[i] = b;
        }
        for (j, q) in qs.iter().enumerate() {
            diffs[j].push((quantile_of(&mut c, *q) - quantile_of(&mut p, *q)) / 1000.0);
        }
    }
    diffs
        .into_iter()
        .map(|mut d| {
            d.sort_by(|a, b| a.total_cmp(b));
            let at = |f: f64| d[((f * d.len() as f64) as usize).min(d.len() - 1)];
            (at(0.025), at(0.975))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clearly_slower_candidate_is_significant() {
        let mut l = PairedLatency::default();
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..500 {
            let p = 1000 + rng.u64(0..500);
            l.record(p, p * 2 + rng.u64(0..100));
        }
        let s = l.summary();
        let p50 = &s.quantiles[0];
        assert!(p50.diff_pct > 80.0 && p50.diff_pct < 120.0, "{p50:?}");
        assert!(p50.significant);
        assert!(
            p50.ci95_ms.0 > 0.0
                && p50.ci95_ms.0 <= p50.diff_ms
                && p50.diff_ms <= p50.ci95_ms.1 + 0.01,
            "{p50:?}"
        );
    }

    #[test]
    fn an_equal_candidate_is_not_significant() {
        let mut l = PairedLatency::default();
        let mut rng = fastrand::Rng::with_seed(4);
        for _ in 0..500 {
            l.record(1000 + rng.u64(0..1000), 1000 + rng.u64(0..1000));
        }
        let s = l.summary();
        assert!(!s.quantiles[0].significant, "{:?}", s.quantiles[0]);
        assert!(s.quantiles[0].ci95_ms.0 < 0.0 && s.quantiles[0].ci95_ms.1 > 0.0);
    }

    #[test]
    fn two_halves_merged_read_like_the_whole() {
        let mut whole = PairedLatency::default();
        let mut a = PairedLatency::default();
        let mut b = PairedLatency::default();
        let mut rng = fastrand::Rng::with_seed(5);
        for i in 0..3000u64 {
            let p = 1000 + rng.u64(0..2000);
            let c = p * 3 / 2;
            whole.record(p, c);
            let half = if i % 3 == 0 { &mut a } else { &mut b };
            half.record(p, c);
        }
        a.absorb(&b.samples());
        assert_eq!(a.pairs(), 3000);
        assert_eq!(a.reservoir.len(), RESERVOIR);
        let (merged, all) = (a.summary(), whole.summary());
        for (m, w) in merged.quantiles.iter().zip(&all.quantiles) {
            assert!((m.primary_ms - w.primary_ms).abs() < 0.05, "{m:?} {w:?}");
            assert!(
                (m.candidate_ms - w.candidate_ms).abs() < 0.05,
                "{m:?} {w:?}"
            );
            assert!(m.significant && (m.diff_pct - 50.0).abs() < 3.0, "{m:?}");
        }
        assert_eq!(merged.primary_bins, all.primary_bins);
    }

    #[test]
    fn memory_is_bounded_by_the_reservoir() {
        let mut l = PairedLatency::default();
        for i in 0..20_000u64 {
            l.record(i, i);
        }
        assert_eq!(l.pairs(), 20_000);
        assert_eq!(l.reservoir.len(), RESERVOIR);
        let s = l.summary();
        assert_eq!(s.primary_bins.iter().sum::<u64>(), 20_000);
        assert_eq!(s.primary_bins.len(), CHART_BOUNDS_MS.len() + 1);
    }
}
