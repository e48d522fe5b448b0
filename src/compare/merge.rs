//! One verdict over several replicas (`shadowmesh report --admin A --admin B`): each replica
//! serves its groups' raw counts with `GET /compare?samples=1` ([`GroupSamples`]: results,
//! failures, per-field counts, latency histograms and bootstrap reservoir, noise learnt), and
//! [`merge`] adds them up per group and judges the sums exactly as one proxy judges its own.
//! Rates are recomputed from the summed counts, never averaged.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::groups::{FieldStat, Group, GroupKey};
use super::kind::Difference;
use super::outcome::PairResult;
use super::report::{CandidateReport, Report, candidate_report};
use super::stats::LatencySamples;

/// A group's counts, as another process needs them to merge.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupSamples {
    /// Pairs by result label.
    pub results: BTreeMap<String, u64>,
    /// Pairs compared.
    pub pairs: u64,
    /// Of which had a secondary.
    pub secondary_pairs: u64,
    /// Pairs whose primary failed.
    pub primary_failed: u64,
    /// Candidate 5xx answers.
    pub candidate_5xx: u64,
    /// Candidate timeouts.
    pub candidate_timeouts: u64,
    /// Candidate resets.
    pub candidate_resets: u64,
    /// Pairs with a POST, PUT, PATCH or DELETE.
    pub unsafe_methods: u64,
    /// Per differing field: (difference, pairs differing from the candidate, from a secondary).
    pub fields: Vec<(Difference, u64, u64)>,
    /// Paired latency.
    pub latency: LatencySamples,
    /// Fields learnt as noise on the group's route.
    pub repeat_noise: BTreeSet<Difference>,
}

impl Group {
    /// This group's counts, with the noise learnt on its route.
    pub fn samples(&self, repeat_noise: &BTreeSet<Difference>) -> GroupSamples {
        GroupSamples {
            results: self
                .results
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            pairs: self.pairs,
            secondary_pairs: self.secondary_pairs,
            primary_failed: self.primary_failed,
            candidate_5xx: self.candidate_5xx,
            candidate_timeouts: self.candidate_timeouts,
            candidate_resets: self.candidate_resets,
            unsafe_methods: self.unsafe_methods,
            fields: self
                .fields
                .iter()
                .map(|(d, s)| (d.clone(), s.candidate, s.secondary))
                .collect(),
            latency: self.latency.samples(),
            repeat_noise: repeat_noise.clone(),
        }
    }

    /// Adds a replica's counts; the examples come from its report.
    fn absorb(&mut self, s: &GroupSamples, report: &CandidateReport) {
        for r in PairResult::ALL {
            let n = s.results.get(r.as_str()).copied().unwrap_or(0);
            if n > 0 {
                *self.results.entry(r.as_str()).or_default() += n;
            }
        }
        self.pairs += s.pairs;
        self.secondary_pairs += s.secondary_pairs;
        self.primary_failed += s.primary_failed;
        self.candidate_5xx += s.candidate_5xx;
        self.candidate_timeouts += s.candidate_timeouts;
        self.candidate_resets += s.candidate_resets;
        self.unsafe_methods += s.unsafe_methods;
        for (at, candidate, secondary) in &s.fields {
            let stat: &mut FieldStat = self.fields.entry(at.clone()).or_default();
            stat.candidate += candidate;
            stat.secondary += secondary;
            let examples = report
                .fields
                .iter()
                .filter(|f| f.field == at.field && f.change == at.kind.words())
                .flat_map(|f| f.examples.iter().cloned());
            for example in examples {
                if stat.examples.len() < super::groups::EXAMPLES_PER_FIELD {
                    stat.examples.push(example);
                }
            }
        }
        self.latency.absorb(&s.latency);
    }
}

/// The reports of several replicas (each fetched with samples) as one: counts summed per
/// (service, route, primary, candidate), judged by the first replica's thresholds. An error
/// names the replica whose report carries no samples (a version before merging existed).
pub fn merge(reports: &[(String, Report)]) -> Result<Report, String> {
    let Some((_, first)) = reports.first() else {
        return Err("no report to merge".into());
    };
    let mut groups: BTreeMap<GroupKey, (Group, BTreeSet<Difference>)> = BTreeMap::new();
    let mut unpaired: BTreeMap<String, u64> = BTreeMap::new();
    let (mut dropped, mut sampled_out, mut generated_at) = (0, 0, 0);
    for (from, report) in reports {
        for c in &report.candidates {
            let Some(samples) = &c.samples else {
                return Err(format!(
                    "{from} sent a report without samples: is it an older shadowmesh?"
                ));
            };
            let key = GroupKey {
                service: c.service.as_str().into(),
                route: c.route.as_str().into(),
                primary: c.primary_version.as_str().into(),
                candidate: c.candidate_version.as_str().into(),
            };
            let (group, noise) = groups.entry(key).or_default();
            group.absorb(samples, c);
            noise.extend(samples.repeat_noise.iter().cloned());
        }
        for (service, n) in &report.unpaired {
            *unpaired.entry(service.clone()).or_default() += n;
        }
        dropped += report.dropped;
        sampled_out += report.sampled_out;
        generated_at = generated_at.max(report.generated_at);
    }
    let candidates = groups
        .iter()
        .map(|(key, (group, noise))| candidate_report(key, group, noise, &first.thresholds))
        .collect();
    Ok(Report {
        generated_at,
        thresholds: first.thresholds.clone(),
        unpaired,
        dropped,
        sampled_out,
        candidates,
    })
}
