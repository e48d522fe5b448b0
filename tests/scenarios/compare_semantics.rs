//! User story: "the comparison holds up on my real API": a primary that compresses and a
//! candidate that does not are judged on what they say; a candidate whose numbers became
//! floats is named with the kind of change and the values; arrays annotated as unordered
//! compare as sets.

use crate::compare::compared;
use crate::support::backend::{self, Seen};
use crate::support::config;
use crate::support::proxy::{self, Proxy};
use shadowmesh::compare::engine::CandidateReport;
use shadowmesh::compare::verdict::Verdict;

/// `{"path": .., "count": n}` with `n` from the query (`?n=5`), `float` written as `5.0`.
fn counted(seen: &Seen, float: bool) -> String {
    let n: u64 = seen
        .path
        .rsplit('=')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let count = if float {
        format!("{n}.0")
    } else {
        n.to_string()
    };
    format!(
        r#"{{"path":"{}","count":{count},"items":[1,2,3]}}"#,
        seen.path
    )
}

/// GETs `/items?n=i` for each `i` in `0..n`, then waits for every pair.
async fn traffic(proxy: &Proxy, n: u64) -> CandidateReport {
    let client = proxy.client();
    for i in 0..n {
        let a = client.get(&format!("/items?n={i}")).send().await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    proxy.candidate_after(n, "v3").await
}

#[tokio::test]
async fn a_gzip_primary_and_an_identity_candidate_saying_the_same_are_promoted() {
    let v1 = backend::http1("v1")
        .json(|s| counted(s, false))
        .gzip()
        .run()
        .await;
    let v3 = backend::http1("v3").json(|s| counted(s, false)).run().await;
    let proxy = compared(v1.port(), v3.port(), &["v3"], "")
        .min_pairs(30)
        .max_slowdown(1000.0) // answers are the point; latency has its own test
        .run()
        .await;
    let c = traffic(&proxy, 40).await;
    assert_eq!(c.verdict, Verdict::Promote, "{}", c.summary);
    let f = &c.fields[0];
    assert_eq!(
        (f.field.as_str(), f.kind.as_str(), f.noise, c.fields.len()),
        ("header:content-encoding", "header", true, 1),
        "{:?}",
        c.fields
    );
    assert!(
        f.examples[0].primary.contains(r#""count":0"#),
        "compared decoded"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn integers_that_became_floats_are_named_as_a_type_change_with_the_values() {
    let v1 = backend::http1("v1").json(|s| counted(s, false)).run().await;
    let v3 = backend::http1("v3")
        .json(|s| counted(s, true))
        .gzip()
        .run()
        .await;
    let proxy = compared(v1.port(), v3.port(), &["v3"], "")
        .min_pairs(30)
        .max_slowdown(1000.0) // answers are the point; latency has its own test
        .run()
        .await;
    let c = traffic(&proxy, 40).await;
    assert_eq!(c.verdict, Verdict::Reject, "{}", c.summary);
    assert!(
        c.summary
            .starts_with("reject: /count: integer became float in 100.0% of pairs"),
        "{}",
        c.summary
    );
    let ex = &c.fields[0].examples[0];
    assert_eq!(
        (ex.path.as_str(), ex.primary_value.as_str()),
        ("/count", "0")
    );
    assert_eq!(ex.candidate_value, "0.0");
    proxy.shutdown().await;
}

/// `{"items": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}]}`, reversed at both levels
/// when `reversed`.
fn listing(reversed: bool) -> String {
    if reversed {
        r#"{"items":[{"id":2,"tags":[]},{"id":1,"tags":["b","a"]}],"order":[1,2]}"#.into()
    } else {
        r#"{"items":[{"id":1,"tags":["a","b"]},{"id":2,"tags":[]}],"order":[1,2]}"#.into()
    }
}

#[tokio::test]
async fn arrays_annotated_unordered_compare_as_sets() {
    let v1 = backend::http1("v1").json(|_| listing(false)).run().await;
    let v3 = backend::http1("v3").json(|_| listing(true)).run().await;
    let routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .annotation("shadowmesh.io/compare-unordered", "/items, /items/*/tags")
        .route("v1")
        .mirrors(&["v3"]);
    let files =
        config::seed(v1.port(), v1.port(), v3.port()).file("virtualservice.yaml", routes.yaml());
    let proxy = proxy::with_config(files)
        .min_pairs(30)
        .max_slowdown(1000.0) // answers are the point; latency has its own test
        .run()
        .await;
    let c = traffic(&proxy, 40).await;
    assert_eq!(c.results["match"], 40, "{:?}", c.fields);
    assert_eq!(c.verdict, Verdict::Promote, "{}", c.summary);
    proxy.shutdown().await;
}
