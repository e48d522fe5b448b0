//! User story: "my candidate shares a database with the primary": writes mirrored to it would
//! happen twice, so I choose which methods are mirrored and compared (a VirtualService
//! annotation, or a proxy-wide flag), and when writes are mirrored the report says so.

use crate::assert_eventually;
use crate::support::backend;
use crate::support::config;
use crate::support::proxy;
use shadowmesh::proxy::mirror::MirrorOutcome;

/// Seed 000's routes, all to v1 and mirrored to v3, with `annotations` on the VirtualService.
fn mirrored(v1: u16, v3: u16, annotations: &[(&str, &str)]) -> proxy::Builder {
    let mut routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .annotation("shadowmesh.io/compare-ignore", "/version,/host")
        .route("v1")
        .mirrors(&["v3"]);
    for (k, v) in annotations {
        routes = routes.annotation(k, v);
    }
    proxy::with_config(config::seed(v1, v1, v3).file("virtualservice.yaml", routes.yaml()))
}

#[tokio::test]
async fn only_the_methods_a_route_names_are_mirrored() {
    let v1 = backend::http1("v1").run().await;
    let v3 = backend::http1("v3").run().await;
    let proxy = mirrored(
        v1.port(),
        v3.port(),
        &[("shadowmesh.io/mirror-methods", "GET,HEAD")],
    )
    .run()
    .await;
    let client = proxy.client().host("calcbackendsvc");
    for method in ["GET", "POST", "PUT", "DELETE", "HEAD"] {
        let a = client.request(method, "/orders").send().await;
        assert_eq!(a.status, 200, "{method}: the user is served either way");
    }
    assert_eventually!(v3.count() == 2, "GET and HEAD reach v3");
    let mirrored: Vec<String> = v3.seen().iter().map(|s| s.method.clone()).collect();
    assert_eq!(mirrored, ["GET", "HEAD"]);
    assert_eq!(v1.count(), 5, "the primary gets every method");
    assert_eq!(proxy.mirrored(MirrorOutcome::SkippedMethod), 3);
    let skipped = proxy.metrics().await.sum(
        "shadowmesh_mirror_requests_total",
        &[("outcome", "skipped_method")],
    );
    assert_eq!(skipped, 3.0);
}

#[tokio::test]
async fn mirrored_writes_are_reported_and_compare_methods_narrows_the_comparison() {
    let v1 = backend::calc("v1").run().await;
    let v3 = backend::calc("v3").run().await;
    let proxy = mirrored(
        v1.addr.port(),
        v3.addr.port(),
        &[("shadowmesh.io/compare-methods", "GET,POST")],
    )
    .min_pairs(1)
    .run()
    .await;
    let client = proxy.client();
    for (method, n) in [("GET", 12), ("POST", 30), ("PUT", 36)] {
        let path = format!("/api/calculation?number={n}");
        let a = client.request(method, &path).send().await;
        assert_eq!(a.status, 200, "{method}");
    }
    // Three copies mirrored, two compared (PUT's is not): one of them a write.
    assert_eventually!(
        v3.requests.load(std::sync::atomic::Ordering::Relaxed) == 3,
        "every method is mirrored (the default)"
    );
    let c = proxy.candidate_after(2, "v3").await;
    assert_eq!(c.pairs, 2, "PUT is not compared");
    assert_eq!(c.unsafe_methods_mirrored, 1, "the POST");
    let text = shadowmesh::compare::text::render(&proxy.compare_report(), false);
    assert!(
        text.contains("POST"),
        "the report warns of mirrored writes:\n{text}"
    );
}

#[test]
fn a_bad_method_list_is_refused_naming_the_annotation() {
    let files = config::seed(1, 1, 2).file(
        "virtualservice.yaml",
        config::virtual_service("backend-vs", "calcbackendsvc")
            .annotation("shadowmesh.io/mirror-methods", "GET,P OST")
            .route("v1")
            .yaml(),
    );
    let dir = files.write();
    let out = crate::support::binary::command()
        .args(["validate", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("metadata.annotations[shadowmesh.io/mirror-methods]")
            && stderr.contains("\"P OST\" is not an HTTP method"),
        "{stderr}"
    );
}
