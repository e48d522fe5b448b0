//! User story: "my browser app calls the service across origins": a route's `corsPolicy` is
//! applied as Envoy's CORS filter applies it (Istio's routing.go case "cors"): the proxy answers
//! an allowed origin's preflight itself (200, the policy's headers; nothing forwarded nor
//! mirrored), marks the answers of an allowed origin's other requests, and leaves other origins
//! alone (their preflights forwarded, or answered bare with `unmatchedPreflights: IGNORE`).

use std::time::Duration;

use crate::support::backend::{self, Backend};
use crate::support::client::Answer;
use crate::support::config::{self, Files};
use crate::support::proxy::{self, Proxy};

/// Istio's "cors" case's policy.
const ISTIO_CASE: &str = "corsPolicy: {allowOrigins: [{exact: cors.com}], allowMethods: [POST, GET], allowCredentials: false, allowHeaders: [X-Foo-Bar, X-Foo-Baz], maxAge: 24h}";

/// Seed 000's service, every request to v1 and mirrored to v3, with the route field `cors`.
fn with_cors(v1: &Backend, v3: &Backend, cors: &str) -> Files {
    let routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .route("v1")
        .mirror("v3")
        .field(cors);
    config::seed(v1.port(), v1.port(), v3.port()).file("virtualservice.yaml", routes.yaml())
}

async fn preflight(proxy: &Proxy, origin: &str) -> Answer {
    (proxy.client().request("OPTIONS", "/orders"))
        .header("origin", origin)
        .header("access-control-request-method", "DELETE")
        .send()
        .await
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers.get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn an_allowed_origins_preflight_is_answered_by_the_proxy() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let proxy = proxy::with_config(with_cors(&v1, &v3, ISTIO_CASE))
        .run()
        .await;
    let a = preflight(&proxy, "cors.com").await;
    assert_eq!(a.status, 200);
    for (name, want) in [
        ("access-control-allow-origin", "cors.com"),
        ("access-control-allow-methods", "POST,GET"),
        ("access-control-allow-headers", "X-Foo-Bar,X-Foo-Baz"),
        ("access-control-max-age", "86400"),
        ("access-control-allow-credentials", ""),
    ] {
        assert_eq!(header(&a, name), want, "{name}");
    }
    assert_eq!(a.body, "");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (v1.count(), v3.count()),
        (0, 0),
        "not forwarded, not mirrored"
    );
}

#[tokio::test]
async fn simple_requests_are_marked_only_for_allowed_origins() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let cors = "corsPolicy: {allowOrigins: [{exact: cors.com}, {prefix: \"https://app.\"}, {regex: \"https://[a-z]+\\\\.example\"}], exposeHeaders: [x-version], allowCredentials: true}";
    let proxy = proxy::with_config(with_cors(&v1, &v3, cors)).run().await;
    let client = proxy.client();
    for (origin, allowed) in [
        (Some("cors.com"), true),
        (Some("https://app.shop.io"), true),
        (Some("https://news.example"), true),
        (Some("https://news.example.evil"), false),
        (Some("other.com"), false),
        (None, false),
    ] {
        let mut req = client.get("/orders");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let a = req.send().await;
        assert_eq!(a.status, 200, "{origin:?}");
        assert_eq!(a.version(), "v1", "served by the backend");
        let want = |v: &'static str| if allowed { v } else { "" };
        assert_eq!(
            header(&a, "access-control-allow-origin"),
            want(origin.unwrap_or(""))
        );
        assert_eq!(header(&a, "access-control-allow-credentials"), want("true"));
        assert_eq!(
            header(&a, "access-control-expose-headers"),
            want("x-version")
        );
    }
    assert_eq!(v1.count(), 6);
}

#[tokio::test]
async fn other_origins_preflights_are_forwarded_or_ignored() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let proxy = proxy::with_config(with_cors(&v1, &v3, ISTIO_CASE))
        .run()
        .await;
    let a = preflight(&proxy, "other.com").await;
    assert_eq!(
        (a.status.as_u16(), a.version().as_str()),
        (200, "v1"),
        "FORWARD: the backend answers"
    );
    assert_eq!(header(&a, "access-control-allow-origin"), "");
    assert_eq!(v1.seen()[0].method, "OPTIONS");

    let ignore = ISTIO_CASE.replace("maxAge: 24h", "maxAge: 24h, unmatchedPreflights: IGNORE");
    let (w1, w3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let proxy = proxy::with_config(with_cors(&w1, &w3, &ignore)).run().await;
    let a = preflight(&proxy, "other.com").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, "", "IGNORE: answered bare");
    assert_eq!(header(&a, "access-control-allow-origin"), "");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(w1.count(), 0);
}

#[tokio::test]
async fn a_fault_abort_still_carries_the_cors_headers() {
    // Envoy's CORS filter runs before the fault filter: the browser can read the injected error.
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .route("v1")
        .field("corsPolicy: {allowOrigin: [cors.com]}")
        .field("fault: {abort: {httpStatus: 503, percentage: {value: 100}}}");
    let files =
        config::seed(v1.port(), v1.port(), v3.port()).file("virtualservice.yaml", routes.yaml());
    let proxy = proxy::with_config(files).run().await;
    let a = proxy
        .client()
        .get("/")
        .header("origin", "cors.com")
        .send()
        .await;
    assert_eq!(a.status, 503);
    assert_eq!(
        header(&a, "access-control-allow-origin"),
        "cors.com",
        "the legacy allowOrigin"
    );
    let a = preflight(&proxy, "cors.com").await;
    assert_eq!(a.status, 200, "the preflight is answered before the fault");
}

#[tokio::test]
async fn a_redirect_route_answers_preflights_and_marks_its_redirects() {
    let (v1, v3) = (
        backend::http1("v1").run().await,
        backend::http1("v3").run().await,
    );
    let routes = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: moved, namespace: challengeistio}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - redirect: {uri: /new}\n    corsPolicy: {allowOrigins: [{exact: cors.com}], allowMethods: [GET]}\n";
    let files = config::seed(v1.port(), v1.port(), v3.port()).file("virtualservice.yaml", routes);
    let proxy = proxy::with_config(files).run().await;
    let a = preflight(&proxy, "cors.com").await;
    assert_eq!(a.status, 200);
    assert_eq!(header(&a, "access-control-allow-methods"), "GET");
    let a = proxy
        .client()
        .get("/old")
        .header("origin", "cors.com")
        .send()
        .await;
    assert_eq!(a.status, 301);
    assert_eq!(header(&a, "access-control-allow-origin"), "cors.com");
}
