//! The engine on real APIs' ways: encodings (gzip against identity, a body that does not
//! decode), arrays compared as sets, and noise learnt on routes where every request differs.

use bytes::Bytes;
use http::HeaderMap;
use tokio::time::Instant;

use super::engine::{Engine, EngineConfig};
use super::engine_tests::ob;
use super::verdict::{Thresholds, Verdict};

fn gzip(data: &str) -> Bytes {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data.as_bytes()).unwrap();
    Bytes::from(e.finish().unwrap())
}

fn gzipped(mut o: super::engine::Observed) -> super::engine::Observed {
    let body = gzip(std::str::from_utf8(o.body.as_ref().unwrap()).unwrap());
    let mut h = HeaderMap::new();
    h.insert("content-encoding", "gzip".parse().unwrap());
    o.size = body.len() as u64;
    o.body = Some(body);
    o.headers = Some(h.into());
    o
}

#[test]
fn gzip_against_identity_with_the_same_json_is_a_header_difference_only_and_promotes() {
    let mut e = Engine::new(EngineConfig::default());
    let now = Instant::now();
    for i in 0..150u64 {
        let (id, body) = (format!("r{i}"), format!(r#"{{"n":{i},"f":[1,2]}}"#));
        e.ingest(gzipped(ob(&id, false, "v1", body.clone(), 5, 1)), now);
        let mut c = ob(&id, true, "v3", body, 5, 0);
        c.headers = Some(HeaderMap::new().into());
        e.ingest(c, now);
    }
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.verdict, Verdict::Promote, "{}", report.summary);
    let fields: Vec<(&str, &str, bool)> = (report.fields.iter())
        .map(|f| (f.field.as_str(), f.kind.as_str(), f.noise))
        .collect();
    assert_eq!(fields, vec![("header:content-encoding", "header", true)]);
    let ex = &report.fields[0].examples[0];
    assert_eq!(
        (ex.primary_value.as_str(), ex.candidate_value.as_str()),
        ("gzip", "(absent)")
    );
    assert!(
        ex.primary.contains(r#""f":[1,2]"#),
        "decoded in examples: {ex:?}"
    );
}

#[test]
fn a_body_that_does_not_decode_is_an_encoding_difference_at_the_root() {
    let mut e = Engine::new(EngineConfig::default());
    let now = Instant::now();
    for i in 0..120u64 {
        let id = format!("r{i}");
        e.ingest(ob(&id, false, "v1", "{}".into(), 5, 1), now);
        let mut bad = gzipped(ob(&id, true, "v3", "{}".into(), 5, 0));
        bad.body = Some(Bytes::from_static(b"this is not gzip"));
        bad.size = 16;
        e.ingest(bad, now);
    }
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.verdict, Verdict::Reject, "{}", report.summary);
    let f = &report.fields[0];
    assert_eq!((f.field.as_str(), f.kind.as_str()), ("/", "encoding"));
    assert!(
        report
            .summary
            .starts_with("reject: /: body not decodable in 100.0% of pairs")
    );
}

#[test]
fn mirrored_writes_are_counted_and_warned_about() {
    let mut e = Engine::new(EngineConfig::default());
    let now = Instant::now();
    for i in 0..10u64 {
        let id = format!("r{i}");
        let mut p = ob(&id, false, "v1", "{}".into(), 5, 1);
        let method = if i < 3 { "POST" } else { "GET" };
        p.request = format!("{method} /orders");
        e.ingest(p, now);
        e.ingest(ob(&id, true, "v3", "{}".into(), 5, 0), now);
    }
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.unsafe_methods_mirrored, 3);
    assert_eq!(
        super::text::unsafe_warning(report).unwrap(),
        "3 POST/PUT/PATCH/DELETE requests mirrored: writes may have happened twice"
    );
}

#[test]
fn the_unordered_flag_compares_arrays_as_sets() {
    let mut e = Engine::new(EngineConfig {
        unordered: vec!["/items".into()],
        ..Default::default()
    });
    let now = Instant::now();
    for i in 0..120u64 {
        let id = format!("r{i}");
        e.ingest(
            ob(&id, false, "v1", r#"{"items":[1,2,3]}"#.into(), 5, 1),
            now,
        );
        e.ingest(
            ob(&id, true, "v3", r#"{"items":[3,1,2]}"#.into(), 5, 0),
            now,
        );
    }
    let report = &e.report(&Thresholds::default())[0];
    assert_eq!(report.results["match"], 120, "{:?}", report.fields);
}

/// 200 pairs on a route where every request differs (`?number=i`), without a secondary:
/// the primary's and the candidate's random `timestamp`, and `/factors` from `candidate`.
fn diverse_route(candidate_factors: impl Fn(u64) -> Vec<u64>, pairs: u64) -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    let now = Instant::now();
    let mut rng = fastrand::Rng::with_seed(11);
    for i in 0..pairs {
        let id = format!("r{i}");
        let body = |ts: u64, f: Vec<u64>| {
            serde_json::json!({"number": i, "factors": f, "timestamp": ts}).to_string()
        };
        let mut p = ob(&id, false, "v1", body(rng.u64(..), vec![i % 7, 2]), 5, 1);
        p.request = format!("GET /api/calculation?number={i}");
        e.ingest(p, now);
        let c = ob(
            &id,
            true,
            "v3",
            body(rng.u64(..), candidate_factors(i)),
            5,
            0,
        );
        e.ingest(c, now);
    }
    e
}

#[test]
fn a_random_timestamp_is_noise_within_bounded_pairs_on_a_route_where_every_request_differs() {
    let bound = super::noise::REPEAT_SAMPLE * u64::from(super::noise::VOLATILE_EVIDENCE + 1);
    let e = diverse_route(|i| vec![i % 7, 2], bound);
    let t = Thresholds {
        min_pairs: 10,
        ..Default::default()
    };
    let report = &e.report(&t)[0];
    let ts = report
        .fields
        .iter()
        .find(|f| f.field == "/timestamp")
        .unwrap();
    assert!(ts.noise, "learnt within {bound} pairs: {ts:?}");
    assert_eq!(report.verdict, Verdict::Promote, "{}", report.summary);
}

#[test]
fn input_derived_fields_are_never_learnt_as_noise() {
    // Every answer of the candidate is wrong at /factors: the field changes between requests,
    // but small numbers do not look volatile.
    let e = diverse_route(|_| vec![1], 200);
    let report = &e.report(&Thresholds::default())[0];
    let f = report
        .fields
        .iter()
        .find(|f| f.field.starts_with("/factors"))
        .unwrap();
    assert!(!f.noise, "{f:?}");
    assert_eq!(report.verdict, Verdict::Reject, "{}", report.summary);
}
