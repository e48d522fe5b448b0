//! User story: "I let the proxy compare a candidate with the primary and decide", with real
//! backends behind the real proxy: an identical candidate is promoted; one wrong on perfect
//! powers is caught with the field and an example; a random timestamp is noise when a secondary
//! is mirrored; a slower candidate shows its slowdown with significance; too little traffic
//! holds. The JSON surface and `shadowmesh report` too.

use std::time::Duration;

use shadowmesh::compare::engine::CandidateReport;
use shadowmesh::compare::verdict::Verdict;
use shadowmesh::tools::sample::{Flaw, Sample};

use crate::assert_eventually;
use crate::support::backend;
use crate::support::binary;
use crate::support::client::fetch;
use crate::support::config;
use crate::support::proxy::{self, Proxy};

/// Seed 000 routing every request to v1 (on `v1`), mirrored to `mirrors` (v3 on `v3`), with
/// `ignore` as the compare-ignore annotation.
pub fn compared(v1: u16, v3: u16, mirrors: &[&str], ignore: &str) -> proxy::Builder {
    let routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .annotation("shadowmesh.io/compare-ignore", ignore)
        .route("v1")
        .mirrors(mirrors);
    proxy::with_config(config::seed(v1, v1, v3).file("virtualservice.yaml", routes.yaml()))
}

/// Two correct calculation services (serving until dropped) and a proxy mirroring v3, with
/// `/version` and `/host` ignored.
async fn identical_calcs() -> (Sample, Sample, proxy::Builder) {
    let (v1, v3) = (
        backend::calc("v1").run().await,
        backend::calc("v3").run().await,
    );
    let proxy = compared(v1.addr.port(), v3.addr.port(), &["v3"], "/version,/host");
    (v1, v3, proxy)
}

/// Sends a calculation request for each of `numbers`, then waits until every pair is compared.
async fn traffic(proxy: &Proxy, numbers: impl Iterator<Item = u64>) -> CandidateReport {
    let client = proxy.client();
    let mut sent = 0;
    for n in numbers {
        let a = client.calculation(n).send().await;
        assert_eq!(a.status, 200, "{}", a.body);
        sent += 1;
    }
    proxy.candidate_after(sent, "v3").await
}

#[tokio::test]
async fn an_identical_candidate_is_promoted_with_no_mismatch() {
    let (_v1, _v3, proxy) = identical_calcs().await;
    // Answers are the point here; latency has its own test. With 60 tests sharing two cores, a
    // mirror's p99 over 120 pairs is scheduling noise, and could read as a slowdown.
    let proxy = proxy.min_pairs(50).max_slowdown(1000.0).run().await;
    let c = traffic(&proxy, 1000..1120).await;
    assert_eq!(c.verdict, Verdict::Promote, "{}", c.summary);
    assert_eq!(c.results["match"], 120);
    assert!(c.fields.is_empty(), "{:?}", c.fields);
    assert!(
        c.summary.starts_with("promote: 120 pairs, no differences"),
        "{}",
        c.summary
    );
    proxy.shutdown().await;
}

/// `n`'s prime factors as the calculator writes them: `[2,2,5]`.
fn factors(mut n: u64) -> String {
    let mut found = Vec::new();
    let mut p = 2;
    while n > 1 {
        while n.is_multiple_of(p) {
            found.push(p.to_string());
            n /= p;
        }
        p += 1;
    }
    format!("[{}]", found.join(","))
}

#[tokio::test]
async fn a_candidate_wrong_on_perfect_powers_is_caught_with_the_field_and_an_example() {
    let v1 = backend::calc("v1").run().await;
    let v3 = backend::calc("v3").flaw(Flaw::PerfectPowers).run().await;
    let proxy = compared(v1.addr.port(), v3.addr.port(), &["v3"], "/version,/host")
        .min_pairs(50)
        .run()
        .await;
    // 1157..=1224 holds no perfect power; add ten perfect squares: 10 of 78 pairs differ.
    let numbers = (1157..1225u64).chain((40..50u64).map(|m| m * m));
    let c = traffic(&proxy, numbers).await;
    assert_eq!(c.verdict, Verdict::Reject, "{}", c.summary);
    assert!(
        c.summary
            .starts_with("reject: /factors: array length differs in 12.8% of pairs"),
        "{}",
        c.summary
    );
    let f = &c.fields[0];
    assert_eq!(
        (f.field.as_str(), f.kind.as_str(), f.count, f.noise),
        ("/factors", "length", 10, false)
    );
    // The example is one of the squares (which one depends on the order the mirrors' answers
    // came back in): the primary factors m * m, the flawed candidate only m.
    let ex = &f.examples[0];
    let square: u64 = (ex.request.strip_prefix("GET /api/calculation?number="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a calculation: {ex:?}"));
    let m = (40..50u64)
        .find(|m| m * m == square)
        .expect("one of the ten squares");
    let (primary, candidate) = (factors(square), factors(m));
    assert_eq!(
        (
            ex.path.as_str(),
            ex.primary_value.as_str(),
            ex.candidate_value.as_str()
        ),
        ("/factors", primary.as_str(), candidate.as_str())
    );
    assert!(ex.primary.contains(&primary), "{ex:?}");
    assert!(ex.candidate.contains(&candidate), "{ex:?}");
    assert_eq!(c.results["body_mismatch"], 10);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_random_timestamp_is_not_flagged_when_a_secondary_is_mirrored() {
    let v1 = backend::http1("v1").timestamped().run().await;
    let v3 = backend::http1("v3").timestamped().run().await;
    // Primary v1, secondary v1 (a second copy to the primary's own version), candidate v3.
    let proxy = compared(v1.port(), v3.port(), &["v1", "v3"], "/version")
        .min_pairs(50)
        .max_slowdown(1000.0) // answers are the point; latency has its own test
        .run()
        .await;
    let c = traffic(&proxy, 0..80).await;
    assert_eq!(c.with_secondary, 80);
    let ts = c
        .fields
        .iter()
        .find(|f| f.field == "/timestamp")
        .expect("timestamps differ");
    assert!(ts.noise, "{ts:?}");
    assert_eq!(c.verdict, Verdict::Promote, "{}", c.summary);
    assert!(
        c.summary
            .contains("no differences beyond noise (/timestamp)"),
        "{}",
        c.summary
    );
    assert_eq!(c.results["noise"], 80);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_random_timestamp_is_learnt_as_noise_without_a_secondary_when_every_request_differs() {
    let v1 = backend::http1("v1").timestamped().run().await;
    let v3 = backend::http1("v3").timestamped().run().await;
    let proxy = compared(v1.port(), v3.port(), &["v3"], "/version")
        .min_pairs(50)
        .max_slowdown(1000.0) // answers are the point; latency has its own test
        .run()
        .await;
    // Every request is different (its number is in the path and echoed back).
    let c = traffic(&proxy, 1000..1300).await;
    let ts = (c.fields.iter())
        .find(|f| f.field == "/timestamp")
        .expect("timestamps differ");
    assert!(
        ts.noise,
        "learnt from primaries of different requests: {ts:?}"
    );
    assert_eq!(c.verdict, Verdict::Promote, "{}", c.summary);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_slower_candidate_shows_the_slowdown_with_significance() {
    let v1 = backend::http1("v1").run().await;
    let v3 = backend::slow("v3", Duration::from_millis(40)).await;
    let proxy = compared(v1.port(), v3.port(), &["v3"], "/version")
        .min_pairs(50)
        .run()
        .await;
    let c = traffic(&proxy, 0..80).await;
    let p99 = c
        .latency
        .quantiles
        .iter()
        .find(|q| q.quantile == 0.99)
        .unwrap();
    assert!(p99.significant && p99.diff_ms >= 30.0, "{p99:?}");
    assert!(p99.ci95_ms.0 > 0.0, "{p99:?}");
    assert_eq!(c.verdict, Verdict::Reject, "{}", c.summary);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.starts_with("p99 ") && r.contains("slower")),
        "{:?}",
        c.reasons
    );
    proxy.shutdown().await;
}

/// `shadowmesh report --admin <addr>`'s stdout.
/// `shadowmesh report --admin <proxy's> ARGS...`: its exit code and standard output.
pub async fn report(proxy: &Proxy, args: &[&str]) -> (Option<i32>, String) {
    let admin = proxy.admin_addr.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        (binary::command().args(["report", "--admin", &admin]))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), stdout)
}

#[tokio::test]
async fn too_little_traffic_holds_and_the_report_is_served_as_json_and_text() {
    let (_v1, _v3, proxy) = identical_calcs().await;
    let proxy = proxy.min_pairs(100).run().await;
    let c = traffic(&proxy, 2000..2005).await;
    assert_eq!(c.verdict, Verdict::Hold);
    assert!(
        c.summary
            .starts_with("hold: only 5 of the 100 pairs needed so far"),
        "{}",
        c.summary
    );

    let (status, body) = fetch(&proxy.admin_url("/compare")).await.unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["candidates"][0]["verdict"], "hold");
    assert_eq!(json["candidates"][0]["pairs"], 5);

    let (code, text) = report(&proxy, &[]).await;
    assert_eq!(code, Some(3), "hold exits 3: {text}");
    assert!(text.contains("primary v1 vs candidate v3"), "{text}");
    assert!(
        text.contains("verdict   HOLD: only 5 of the 100 pairs"),
        "{text}"
    );

    let metrics = proxy.metrics().await;
    let labels = [
        (
            "destination_service",
            "calcbackendsvc.challengeistio.svc.cluster.local",
        ),
        ("primary_version", "v1"),
        ("candidate_version", "v3"),
        ("result", "match"),
    ];
    assert_eq!(
        metrics.value("shadowmesh_compare_total", &labels),
        Some(5.0),
        "{}",
        metrics.text
    );
    // Registered once, by the comparison itself (not also by telemetry).
    assert_eq!(
        (metrics.text)
            .matches("# TYPE shadowmesh_compare_total counter\n")
            .count(),
        1,
        "{}",
        metrics.text
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn under_load_the_comparison_samples_and_says_how_many_it_skipped() {
    let (v1, v3) = (
        backend::calc("v1").run().await,
        backend::calc("v3").run().await,
    );
    let proxy = compared(v1.addr.port(), v3.addr.port(), &["v3"], "/version,/host")
        .compare_max_rate(10)
        .run()
        .await;
    let client = proxy.client();
    for n in 0..50 {
        client.calculation(n).send().await;
    }
    let settled = || proxy.pairs() + proxy.compare_report().sampled_out == 50;
    assert_eventually!(
        settled(),
        "pairs {}, sampled out {}",
        proxy.pairs(),
        proxy.compare_report().sampled_out
    );
    let pairs = proxy.compare_report().candidates[0].pairs;
    // At most 10 a second; the 50 requests may straddle a second boundary or two.
    assert!((10..=30).contains(&pairs), "{pairs} pairs compared");
    assert_eq!(
        v3.requests.load(std::sync::atomic::Ordering::Relaxed),
        50,
        "every request is still mirrored"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_repeated_client_request_id_does_not_confuse_pairing() {
    let (_v1, _v3, proxy) = identical_calcs().await;
    let proxy = proxy.min_pairs(10).run().await;
    let client = proxy.client();
    for n in 0..40u64 {
        let a = client
            .calculation(1000 + n)
            .header("x-request-id", "same-id-every-time")
            .send()
            .await;
        assert_eq!(a.status, 200);
    }
    assert_eventually!(
        proxy
            .compare_report()
            .candidates
            .first()
            .is_some_and(|c| c.pairs == 40),
        "40 pairs compared"
    );
    let c = &proxy.compare_report().candidates[0];
    assert_eq!(c.results["match"], 40, "{}", c.summary);
    proxy.shutdown().await;
}
