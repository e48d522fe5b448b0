//! The engine's scenarios: identical, wrong on one input class, noisy with and without a
//! secondary, and bounded memory.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::engine::{Engine, EngineConfig, Observed, PairResult};
use super::verdict::{Thresholds, Verdict};
use crate::telemetry::Flag;

pub(super) fn ob(
    id: &str,
    mirror: bool,
    version: &str,
    body: String,
    ms: u64,
    mirrors_sent: u8,
) -> Observed {
    Observed {
        pair: id
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(u64::MAX),
        mirror,
        service: "calcbackendsvc.challengeistio.svc.cluster.local".into(),
        route: "http[1]".into(),
        version: version.into(),
        status: 200,
        flag: Flag::None,
        headers: None,
        size: body.len() as u64,
        body: Some(Bytes::from(body)),
        duration: Duration::from_millis(ms),
        request: format!("GET /api/calculation?id={id}"),
        mirrors_sent,
        ignore: Arc::new(Vec::new()),
        unordered: Arc::new(Vec::new()),
        undecodable: false,
    }
}

/// Prime factors by trial division: the seed's calculation, small enough for a test's numbers.
fn factors(mut n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut d = 2;
    while n > 1 && d * d <= n {
        while n.is_multiple_of(d) {
            out.push(d);
            n /= d;
        }
        d += 1;
    }
    if n > 1 {
        out.push(n);
    }
    out
}

/// The smallest `b` with `b^k == n` for some `k >= 2`.
fn perfect_power_base(n: u64) -> Option<u64> {
    (2..n).find(|b| (2..64).map_while(|k| b.checked_pow(k)).any(|p| p == n))
}

/// The demo's flawed v3: for `n = b^k` the factors of `b` alone (36 gives [2, 3]).
fn factors_wrong_on_perfect_powers(n: u64) -> Vec<u64> {
    factors(perfect_power_base(n).unwrap_or(n))
}

fn factors_json(n: u64, factors: &[u64]) -> String {
    serde_json::json!({"number": n, "factors": factors}).to_string()
}

fn run(
    engine: &mut Engine,
    n: u64,
    candidate: impl Fn(u64) -> String,
    now: Instant,
) -> Vec<PairResult> {
    let mut results = Vec::new();
    for i in 0..n {
        let id = format!("r{i}");
        let primary = factors_json(i, &factors(i));
        // Mirrors may finish first: the engine must not care.
        results.extend(
            engine
                .ingest(ob(&id, true, "v3", candidate(i), 1, 0), now)
                .into_iter()
                .map(|(_, r)| r),
        );
        results.extend(
            engine
                .ingest(ob(&id, false, "v1", primary, 10, 1), now)
                .into_iter()
                .map(|(_, r)| r),
        );
    }
    results
}

#[test]
fn an_identical_candidate_matches_and_is_promoted() {
    let mut e = Engine::new(EngineConfig::default());
    let results = run(
        &mut e,
        200,
        |i| factors_json(i, &factors(i)),
        Instant::now(),
    );
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|r| *r == PairResult::Match));
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.verdict, Verdict::Promote, "{}", report.summary);
    assert_eq!(report.results["match"], 200);
    assert!(
        report.summary.contains("p50 90% faster"),
        "{}",
        report.summary
    );
}

#[test]
fn rates_are_per_pair_however_many_elements_differ() {
    // Every integer written as a float: each pair differs at every element of /factors.
    let floats = |i: u64| {
        let f: Vec<f64> = factors(i).iter().map(|n| *n as f64).collect();
        serde_json::json!({"number": i, "factors": f}).to_string()
    };
    let mut e = Engine::new(EngineConfig::default());
    run(&mut e, 200, floats, Instant::now());
    let report = &e.report(&Thresholds::default())[0];
    let field = |name: &str| report.fields.iter().find(|f| f.field == name);
    let factors_field = field("/factors/*").expect("/factors/* differs");
    // 2..200 have at least one factor (0 and 1 have none, so their arrays are equal).
    assert_eq!(factors_field.count, 198);
    assert!(factors_field.rate <= 1.0, "{}", factors_field.rate);
    assert_eq!(factors_field.kind, "type");
    assert_eq!(factors_field.change, "integer became float");
    let ex = &factors_field.examples[0];
    assert_eq!(
        (
            ex.path.as_str(),
            ex.primary_value.as_str(),
            ex.candidate_value.as_str()
        ),
        ("/factors/0", "2", "2.0")
    );
    assert!(
        report
            .summary
            .starts_with("reject: /factors/*: integer became float in 99.0% of pairs"),
        "{}",
        report.summary
    );
}

#[test]
fn a_candidate_wrong_on_perfect_powers_is_caught_with_path_and_example() {
    let mut e = Engine::new(EngineConfig::default());
    run(
        &mut e,
        400,
        |i| factors_json(i, &factors_wrong_on_perfect_powers(i)),
        Instant::now(),
    );
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.verdict, Verdict::Reject, "{}", report.summary);
    let top = &report.fields[0];
    assert_eq!(top.field, "/factors");
    assert!(!top.noise);
    // 4, 8, 9, 16, ... : the perfect powers below 400
    let powers = (2..400u64)
        .filter(|n| perfect_power_base(*n).is_some())
        .count() as u64;
    assert_eq!(top.count, powers);
    assert!(
        report.summary.starts_with(&format!(
            "reject: /factors: array length differs in {:.1}% of pairs",
            100.0 * powers as f64 / 400.0
        )),
        "{}",
        report.summary
    );
    let ex = &top.examples[0];
    assert_eq!(ex.request, "GET /api/calculation?id=r4");
    assert!(
        ex.primary.contains("[2,2]") && ex.candidate.contains("[2]"),
        "{ex:?}"
    );
    assert_eq!(report.results["body_mismatch"], powers);
}

#[test]
fn a_random_timestamp_is_noise_when_a_secondary_is_mirrored() {
    let mut e = Engine::new(EngineConfig::default());
    let now = Instant::now();
    let mut rng = fastrand::Rng::with_seed(5);
    for i in 0..200u64 {
        let id = format!("r{i}");
        let body = |ts: u64| serde_json::json!({"number": i, "timestamp": ts}).to_string();
        e.ingest(ob(&id, false, "v1", body(rng.u64(..)), 5, 2), now);
        e.ingest(ob(&id, true, "v1", body(rng.u64(..)), 5, 0), now); // the secondary
        e.ingest(ob(&id, true, "v3", body(rng.u64(..)), 5, 0), now);
    }
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.candidate_version, "v3");
    assert_eq!(report.with_secondary, 200);
    assert_eq!(report.results["noise"], 200);
    assert!(report.fields.iter().all(|f| f.noise));
    assert_eq!(report.verdict, Verdict::Promote, "{}", report.summary);
    assert!(
        report
            .summary
            .contains("no differences beyond noise (/timestamp)"),
        "{}",
        report.summary
    );
}

#[test]
fn without_a_secondary_repeated_requests_reveal_noise() {
    let mut e = Engine::new(EngineConfig::default());
    let now = Instant::now();
    let mut rng = fastrand::Rng::with_seed(6);
    for i in 0..300u64 {
        let id = format!("r{i}");
        let n = i % 50; // each request is repeated six times
        let body = |ts: u64| serde_json::json!({"number": n, "timestamp": ts}).to_string();
        let mut p = ob(&id, false, "v1", body(rng.u64(..)), 5, 1);
        p.request = format!("GET /api/calculation?number={n}");
        e.ingest(p, now);
        e.ingest(ob(&id, true, "v3", body(rng.u64(..)), 5, 0), now);
    }
    let report = &e.report(&Thresholds::default())[0];
    let ts = report
        .fields
        .iter()
        .find(|f| f.field == "/timestamp")
        .unwrap();
    assert!(ts.noise);
    assert_eq!(report.verdict, Verdict::Promote, "{}", report.summary);
}

#[test]
fn memory_stays_bounded_with_many_unpaired_request_ids() {
    let budget = 64 * 1024;
    let mut e = Engine::new(EngineConfig {
        memory_budget: budget,
        max_pending: 1000,
        ..Default::default()
    });
    let now = Instant::now();
    let mut unpaired = 0;
    for i in 0..50_000u64 {
        // Primaries whose mirrors never come back.
        let results = e.ingest(
            ob(&format!("lost{i}"), false, "v1", "x".repeat(300), 1, 1),
            now,
        );
        unpaired += results
            .iter()
            .filter(|(_, r)| *r == PairResult::Unpaired)
            .count();
        assert!(
            e.pending_bytes() <= budget,
            "{} bytes pending at {i}",
            e.pending_bytes()
        );
        assert!(e.pending_len() <= 1000);
    }
    assert!(unpaired >= 49_000, "{unpaired}");
    assert_eq!(e.unpaired.values().sum::<u64>() as usize, unpaired);
}

#[test]
fn entries_past_the_pair_timeout_are_dropped() {
    let mut e = Engine::new(EngineConfig {
        pair_timeout: Duration::from_secs(2),
        ..Default::default()
    });
    let t0 = Instant::now();
    e.ingest(ob("a", false, "v1", "{}".into(), 1, 1), t0);
    assert!(e.expire(t0 + Duration::from_secs(1)).is_empty());
    let dropped = e.expire(t0 + Duration::from_secs(3));
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].1, PairResult::Unpaired);
    assert_eq!(e.pending_len(), 0);
    assert_eq!(e.pending_bytes(), 0);
}

#[test]
fn too_few_pairs_hold() {
    let mut e = Engine::new(EngineConfig::default());
    run(&mut e, 20, |i| factors_json(i, &factors(i)), Instant::now());
    assert_eq!(e.report(&Thresholds::default())[0].verdict, Verdict::Hold);
}
