//! Compare and decide, with real backends behind the real proxy: an identical candidate is
//! promoted; one wrong on perfect powers is caught with the field and an example; a random
//! timestamp is noise when a secondary is mirrored; a slower candidate shows its slowdown with
//! significance; too little traffic holds. The JSON surface and `shadowmesh report` too.

use std::net::SocketAddr;
use std::time::Duration;

use shadowmesh::compare::engine::CandidateReport;
use shadowmesh::compare::verdict::Verdict;
use shadowmesh::tools::sample::{self, Flaw, SampleConfig};

use crate::support::*;

async fn calc(version: &str, flaw: Option<Flaw>) -> sample::Sample {
    let cfg = SampleConfig::calc(version, flaw);
    sample::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap()
}

/// A VirtualService routing to v1 with `mirrors` and the compare-ignore annotation.
fn routes(mirrors: &[&str], ignore: &str) -> String {
    let mut yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: backend-vs\n  namespace: challengeistio\n  annotations:\n    shadowmesh.io/compare-ignore: \"{ignore}\"\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - route: [{{destination: {{host: calcbackendsvc, subset: v1}}}}]\n    mirrors:\n"
    );
    for m in mirrors {
        yaml.push_str(&format!(
            "    - destination: {{host: calcbackendsvc, subset: {m}}}\n"
        ));
    }
    yaml
}

async fn proxy_for(
    v1: u16,
    v3: u16,
    vs: &str,
    tweak: impl FnOnce(&mut shadowmesh::compare::CompareConfig),
) -> (shadowmesh::app::Running, tempfile::TempDir) {
    let dir = config_dir(&[
        ("destinationrule.yaml", &seed_file("destinationrule.yaml")),
        ("vs.yaml", vs),
        ("serviceentry.yaml", &calc_service_entry(v1, v1, v3)),
    ]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        if let Some(c) = o.compare.as_mut() {
            tweak(c);
        }
    })
    .await;
    (proxy, dir)
}

fn min_pairs(n: u64) -> impl FnOnce(&mut shadowmesh::compare::CompareConfig) {
    move |c| c.thresholds.min_pairs = n
}

/// Sends `n` requests for numbers `first..first+n`, then waits until every pair is compared.
async fn traffic(
    proxy: &shadowmesh::app::Running,
    numbers: impl Iterator<Item = u64>,
) -> CandidateReport {
    let addr: SocketAddr = proxy.listen_addrs[0];
    let mut sent = 0;
    for n in numbers {
        let a = get(
            addr,
            "calcbackendsvc",
            &format!("/api/calculation?number={n}"),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        sent += 1;
    }
    let compare = proxy.compare.clone().unwrap();
    let settled = eventually(Duration::from_secs(10), || {
        compare
            .report()
            .candidates
            .iter()
            .map(|c| c.pairs)
            .sum::<u64>()
            == sent
    })
    .await;
    let report = compare.report();
    assert!(
        settled,
        "not all {sent} pairs were compared: {:#?}",
        report
            .candidates
            .iter()
            .map(|c| c.pairs)
            .collect::<Vec<_>>()
    );
    report
        .candidates
        .into_iter()
        .find(|c| c.candidate_version == "v3")
        .expect("a v3 candidate")
}

#[tokio::test]
async fn an_identical_candidate_is_promoted_with_no_mismatch() {
    let (v1, v3) = (calc("v1", None).await, calc("v3", None).await);
    let (proxy, _dir) = proxy_for(
        v1.addr.port(),
        v3.addr.port(),
        &routes(&["v3"], "/version,/host"),
        min_pairs(50),
    )
    .await;
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

#[tokio::test]
async fn a_candidate_wrong_on_perfect_powers_is_caught_with_the_field_and_an_example() {
    let (v1, v3) = (
        calc("v1", None).await,
        calc("v3", Some(Flaw::PerfectPowers)).await,
    );
    let (proxy, _dir) = proxy_for(
        v1.addr.port(),
        v3.addr.port(),
        &routes(&["v3"], "/version,/host"),
        min_pairs(50),
    )
    .await;
    // 1157..=1224 holds no perfect power; add ten perfect squares: 10 of 78 pairs differ.
    let numbers = (1157..1225u64).chain((40..50u64).map(|m| m * m));
    let c = traffic(&proxy, numbers).await;
    assert_eq!(c.verdict, Verdict::Reject, "{}", c.summary);
    assert!(
        c.summary
            .starts_with("reject: 12.8% of responses differ at /factors (not noise)"),
        "{}",
        c.summary
    );
    let f = &c.fields[0];
    assert_eq!(
        (f.field.as_str(), f.count, f.noise),
        ("/factors", 10, false)
    );
    let ex = &f.examples[0];
    assert_eq!(ex.request, "GET /api/calculation?number=1600");
    assert!(ex.primary.contains("[2,2,2,2,2,2,5,5]"), "{ex:?}");
    assert!(ex.candidate.contains("[2,2,2,5]"), "{ex:?}");
    assert_eq!(c.results["body_mismatch"], 10);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_random_timestamp_is_not_flagged_when_a_secondary_is_mirrored() {
    let v1 = Backend::start("v1", Behavior::Timestamped).await;
    let v3 = Backend::start("v3", Behavior::Timestamped).await;
    // Primary v1, secondary v1 (a second copy to the primary's own version), candidate v3.
    let (proxy, _dir) = proxy_for(
        v1.addr.port(),
        v3.addr.port(),
        &routes(&["v1", "v3"], "/version"),
        min_pairs(50),
    )
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
async fn a_slower_candidate_shows_the_slowdown_with_significance() {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v3 = Backend::start("v3", Behavior::Delay(Duration::from_millis(40))).await;
    let (proxy, _dir) = proxy_for(
        v1.addr.port(),
        v3.addr.port(),
        &routes(&["v3"], "/version"),
        min_pairs(50),
    )
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

#[tokio::test]
async fn too_little_traffic_holds_and_the_report_is_served_as_json_and_text() {
    let (v1, v3) = (calc("v1", None).await, calc("v3", None).await);
    let (proxy, _dir) = proxy_for(
        v1.addr.port(),
        v3.addr.port(),
        &routes(&["v3"], "/version,/host"),
        min_pairs(100),
    )
    .await;
    let c = traffic(&proxy, 2000..2005).await;
    assert_eq!(c.verdict, Verdict::Hold);
    assert!(
        c.summary
            .starts_with("hold: only 5 of the 100 pairs needed so far"),
        "{}",
        c.summary
    );

    let (status, body) = http_get(&format!("http://{}/compare", proxy.admin_addr))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["candidates"][0]["verdict"], "hold");
    assert_eq!(json["candidates"][0]["pairs"], 5);

    let out = tokio::task::spawn_blocking({
        let admin = proxy.admin_addr.to_string();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_shadowmesh"))
                .args(["report", "--admin", &admin])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("primary v1 vs candidate v3"), "{text}");
    assert!(
        text.contains("verdict   hold: only 5 of the 100 pairs"),
        "{text}"
    );

    let metrics = http_get(&format!("http://{}/metrics", proxy.admin_addr))
        .await
        .unwrap()
        .1;
    assert!(metrics.contains(r#"shadowmesh_compare_total{destination_service="calcbackendsvc.challengeistio.svc.cluster.local",primary_version="v1",candidate_version="v3",result="match"} 5"#), "{metrics}");
    // Registered once, by the comparison itself (not also by telemetry).
    assert_eq!(
        metrics
            .matches("# TYPE shadowmesh_compare_total counter\n")
            .count(),
        1,
        "{metrics}"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn under_load_the_comparison_samples_and_says_how_many_it_skipped() {
    let (v1, v3) = (calc("v1", None).await, calc("v3", None).await);
    let vs = routes(&["v3"], "/version,/host");
    let (proxy, _dir) = proxy_for(v1.addr.port(), v3.addr.port(), &vs, |c| c.max_rate = 10).await;
    for n in 0..50 {
        get(
            proxy.listen_addrs[0],
            "calcbackendsvc",
            &format!("/api/calculation?number={n}"),
            None,
        )
        .await;
    }
    let compare = proxy.compare.clone().unwrap();
    let settled = eventually(Duration::from_secs(5), || {
        let r = compare.report();
        r.candidates.iter().map(|c| c.pairs).sum::<u64>() + r.sampled_out == 50
    })
    .await;
    let r = compare.report();
    assert!(
        settled,
        "pairs {:?}, sampled out {}",
        r.candidates.iter().map(|c| c.pairs).collect::<Vec<_>>(),
        r.sampled_out
    );
    let pairs = r.candidates[0].pairs;
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
    let (v1, v3) = (calc("v1", None).await, calc("v3", None).await);
    let vs = routes(&["v3"], "/version,/host");
    let (proxy, _dir) = proxy_for(v1.addr.port(), v3.addr.port(), &vs, min_pairs(10)).await;
    for n in 0..40u64 {
        let a = send(
            proxy.listen_addrs[0],
            "GET",
            "calcbackendsvc",
            &format!("/api/calculation?number={}", 1000 + n),
            &[("x-request-id", "same-id-every-time")],
            bytes::Bytes::new(),
        )
        .await;
        assert_eq!(a.status, 200);
    }
    let compare = proxy.compare.clone().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || compare
            .report()
            .candidates
            .first()
            .is_some_and(|c| c.pairs == 40))
        .await
    );
    let c = &compare.report().candidates[0];
    assert_eq!(c.results["match"], 40, "{}", c.summary);
    proxy.shutdown().await;
}
