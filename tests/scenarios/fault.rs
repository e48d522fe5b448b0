//! User story: "I test my clients' resilience with Istio's fault injection": a route's `fault`
//! delays or aborts a share of requests before they are forwarded, as Envoy's fault filter does
//! (Istio's routing.go cases "fault abort" and "fault abort gRPC"): an aborted request reaches
//! neither the primary nor the mirror, a delayed one reaches both after the delay, and both are
//! flagged (`FI`, `DI`) in Istio's metrics.

use std::time::Duration;

use tokio::time::Instant;
use tonic::Code;

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::config::{self, Files};
use crate::support::grpc::{self, GrpcClient};
use crate::support::proxy::{self, Proxy};
use crate::support::{PATIENCE, eventually_async};

/// Seed 000's service, every request to v1 and mirrored to v3, with `fault`.
fn faulty(v1: &Backend, v3: &Backend, fault: &str) -> Files {
    let routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .route("v1")
        .mirror("v3")
        .field(&format!("fault: {fault}"));
    config::seed(v1.port(), v1.port(), v3.port()).file("virtualservice.yaml", routes.yaml())
}

/// Does `istio_requests_total` (as the client side reports it) for `labels` reach `n`?
async fn counted(proxy: &Proxy, labels: &[(&str, &str)], n: f64) -> bool {
    let mut labels = labels.to_vec();
    labels.push(("reporter", "source"));
    let labels = &labels;
    eventually_async(PATIENCE, || async move {
        proxy.metrics().await.sum("istio_requests_total", labels) == n
    })
    .await
}

#[tokio::test]
async fn an_abort_answers_its_status_and_reaches_neither_primary_nor_mirror() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let fault = "{abort: {percentage: {value: 100}, httpStatus: 418}}";
    let proxy = proxy::with_config(faulty(&v1, &v3, fault)).run().await;
    let a = proxy.client().get("/orders").send().await;
    assert_eq!(a.status, 418);
    assert_eq!(a.body.trim(), "fault filter abort");
    let flagged = [
        ("response_flags", "FI"),
        ("response_code", "418"),
        (
            "destination_service",
            "calcbackendsvc.challengeistio.svc.cluster.local",
        ),
    ];
    assert!(counted(&proxy, &flagged, 1.0).await, "one 418 FI");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (v1.count(), v3.count()),
        (0, 0),
        "not forwarded, not mirrored"
    );
}

#[tokio::test]
async fn a_delay_holds_the_request_then_primary_and_mirror_get_it() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let fault = "{delay: {percentage: {value: 100}, fixedDelay: 600ms}}";
    let proxy = proxy::with_config(faulty(&v1, &v3, fault)).run().await;
    let client = proxy.client();
    let started = Instant::now();
    let call = tokio::spawn(async move { client.get("/slow").send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (v1.count(), v3.count()),
        (0, 0),
        "nothing sent during the delay"
    );
    let a = call.await.unwrap();
    assert_eq!(a.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(v1.count(), 1);
    assert_eventually!(v3.count() == 1, "the mirror goes out after the delay");
    let flagged = [("response_flags", "DI"), ("response_code", "200")];
    assert!(counted(&proxy, &flagged, 1.0).await, "one 200 DI");
}

#[tokio::test]
async fn a_delay_then_an_abort_is_flagged_with_both() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let fault = "{delay: {percentage: {value: 100}, fixedDelay: 300ms}, abort: {percentage: {value: 100}, httpStatus: 500}}";
    let proxy = proxy::with_config(faulty(&v1, &v3, fault)).run().await;
    let started = Instant::now();
    let a = proxy.client().get("/").send().await;
    assert_eq!(a.status, 500);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "aborted after the delay"
    );
    // Envoy writes both flags; the scrape parser splits label values on commas, so look at
    // the text.
    let both = "response_flags=\"DI,FI\"";
    let scraped = eventually_async(PATIENCE, || async {
        let text = proxy.metrics().await.text;
        text.lines()
            .any(|l| l.starts_with("istio_requests_total{") && l.contains(both))
    });
    assert!(scraped.await, "{both}: {}", proxy.metrics().await.text);
    assert_eq!((v1.count(), v3.count()), (0, 0));
}

#[tokio::test]
async fn percentages_pick_a_share_and_the_legacy_percent_still_works() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let fault =
        "{abort: {percentage: {value: 50}, httpStatus: 503}, delay: {percent: 0, fixedDelay: 10s}}";
    let proxy = proxy::with_config(faulty(&v1, &v3, fault)).run().await;
    let client = proxy.client();
    let mut aborted = 0;
    for _ in 0..200 {
        let a = client.get("/").send().await;
        if a.status == 503 {
            assert_eq!(a.body.trim(), "fault filter abort");
            aborted += 1;
        } else {
            assert_eq!(a.status, 200);
        }
    }
    assert!(
        (60..=140).contains(&aborted),
        "about half aborted: {aborted}"
    );
    assert_eq!(
        v1.count(),
        200 - aborted,
        "the others reach v1, none delayed"
    );
    assert_eventually!(v3.count() == 200 - aborted, "and only they are mirrored");
}

#[tokio::test]
async fn a_grpc_abort_reaches_a_grpc_client_as_its_status() {
    let v1 = grpc::server("v1").run().await;
    let v2 = grpc::server("v2").run().await;
    let service = config::service_entry("grpcsvc")
        .protocol("GRPC")
        .endpoint("v1", v1.port())
        .endpoint("v2", v2.port());
    let rule = config::destination_rule("grpcsvc")
        .subset("v1", "v1")
        .subset("v2", "v2");
    let files = |fault: &str| {
        let routes = config::virtual_service("grpcsvc", "grpcsvc")
            .route("v1")
            .mirror("v2")
            .field(&format!("fault: {fault}"));
        config::files()
            .file("service.yaml", service.yaml())
            .file("rule.yaml", rule.yaml())
            .file("routes.yaml", routes.yaml())
    };
    // Istio's "fault abort gRPC"; then an HTTP status, mapped as Envoy maps it.
    for (fault, code) in [
        (
            "{abort: {percentage: {value: 100}, grpcStatus: UNAVAILABLE}}",
            Code::Unavailable,
        ),
        (
            "{abort: {percentage: {value: 100}, grpcStatus: NOT_FOUND}}",
            Code::NotFound,
        ),
        (
            "{abort: {percentage: {value: 100}, httpStatus: 403}}",
            Code::PermissionDenied,
        ),
    ] {
        let proxy = proxy::with_config(files(fault)).run().await;
        let mut client = GrpcClient::connect(proxy.addr(), "grpcsvc").await;
        let status = client.square(3).await.expect_err("aborted");
        assert_eq!(status.code(), code, "{fault}: {status:?}");
        assert_eq!(status.message(), "fault filter abort");
        let flagged = [("response_flags", "FI"), ("request_protocol", "grpc")];
        assert!(counted(&proxy, &flagged, 1.0).await, "FI for {fault}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (v1.count(), v2.count()),
        (0, 0),
        "no call forwarded or mirrored"
    );
}
