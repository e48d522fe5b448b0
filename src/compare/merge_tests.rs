//! Merging replicas: two engines that each saw part of the traffic, merged, say what one engine
//! that saw all of it says.

use tokio::time::Instant;

use super::engine::{Engine, EngineConfig};
use super::engine_tests::ob;
use super::merge::merge;
use super::report::Report;
use super::verdict::{Thresholds, Verdict};

/// A candidate that doubles `n` for every fifth request.
fn feed(engine: &mut Engine, ids: impl Iterator<Item = u64>) {
    let now = Instant::now();
    for i in ids {
        let id = format!("r{i}");
        let wrong = if i % 5 == 0 { 2 * i } else { i };
        engine.ingest(ob(&id, false, "v1", format!("{{\"n\":{i}}}"), 10, 1), now);
        engine.ingest(ob(&id, true, "v3", format!("{{\"n\":{wrong}}}"), 4, 0), now);
    }
}

fn report_of(engine: &Engine, samples: bool) -> Report {
    let t = Thresholds::default();
    Report {
        generated_at: 1,
        thresholds: t.clone(),
        unpaired: Default::default(),
        dropped: 2,
        sampled_out: 3,
        candidates: engine.report_with(&t, samples),
    }
}

#[test]
fn two_replicas_merged_give_the_verdict_of_one_that_saw_everything() {
    let (mut a, mut b, mut whole) = (
        Engine::new(EngineConfig::default()),
        Engine::new(EngineConfig::default()),
        Engine::new(EngineConfig::default()),
    );
    feed(&mut a, (1..=160).filter(|i| i % 2 == 0));
    feed(&mut b, (1..=160).filter(|i| i % 2 == 1));
    feed(&mut whole, 1..=160);
    let replicas = vec![
        ("a".to_string(), report_of(&a, true)),
        ("b".to_string(), report_of(&b, true)),
    ];
    assert!(
        replicas[0].1.candidates[0].pairs < 100,
        "each replica alone holds"
    );
    assert_eq!(replicas[0].1.candidates[0].verdict, Verdict::Hold);
    let merged = merge(&replicas).unwrap();
    let expected = report_of(&whole, false);
    let (m, w) = (&merged.candidates[0], &expected.candidates[0]);
    assert_eq!(merged.candidates.len(), 1);
    assert_eq!(m.pairs, 160);
    assert_eq!(m.results, w.results);
    assert_eq!(m.verdict, Verdict::Reject);
    assert_eq!(m.verdict, w.verdict);
    assert_eq!(m.reasons, w.reasons);
    let fields = |r: &super::report::CandidateReport| -> Vec<(String, String, u64)> {
        r.fields
            .iter()
            .map(|f| (f.field.clone(), f.kind.clone(), f.count))
            .collect()
    };
    assert_eq!(fields(m), fields(w));
    assert_eq!(m.fields[0].examples.len(), 3, "examples come along");
    assert_eq!(m.latency.primary_bins, w.latency.primary_bins);
    assert_eq!((merged.dropped, merged.sampled_out), (4, 6));
    assert!(m.samples.is_none(), "the merged report carries no samples");
}

#[test]
fn a_replica_without_samples_is_named() {
    let mut a = Engine::new(EngineConfig::default());
    feed(&mut a, 1..=3);
    let replicas = vec![("127.0.0.1:15000".to_string(), report_of(&a, false))];
    let err = merge(&replicas).unwrap_err();
    assert!(err.contains("127.0.0.1:15000"), "{err}");
}
