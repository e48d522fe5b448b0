//! User story: "when something fails, my client gets the status Envoy would give": no route 404,
//! no endpoint 503, connect failure 503, reset 502, timeout 504; redirects, direct responses and
//! rewrites as configured; and h2c both ways.

use std::time::Duration;

use crate::assert_eventually;
use crate::support::backend;
use crate::support::client::{self, H2c};
use crate::support::config::{self, Files};
use crate::support::proxy;
use crate::support::refusing_port;

/// The `web` service with `endpoints` (version, port) on a port speaking `protocol`, and a
/// DestinationRule with a subset for each way of failing.
fn web(endpoints: &[(&str, u16)], protocol: &str) -> Files {
    let mut service = config::service_entry("web").protocol(protocol);
    for (version, port) in endpoints {
        service = service.endpoint(version, *port);
    }
    let rule = config::destination_rule("web")
        .subset("ok", "ok")
        .subset("slow", "slow")
        .subset("refused", "refused")
        .subset("reset", "reset")
        .subset("empty", "none");
    config::files()
        .file("web.yaml", service.yaml())
        .file("rule.yaml", rule.yaml())
}

const ROUTES: &str = r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: challengeistio}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /slow}}]
    timeout: 200ms
    route: [{destination: {host: web, subset: slow}}]
  - match: [{uri: {prefix: /patient}}]
    timeout: 10s
    route: [{destination: {host: web, subset: slow}}]
  - match: [{uri: {prefix: /refused}}]
    route: [{destination: {host: web, subset: refused}}]
  - match: [{uri: {prefix: /reset}}]
    route: [{destination: {host: web, subset: reset}}]
  - match: [{uri: {prefix: /empty}}]
    route: [{destination: {host: web, subset: empty}}]
  - match: [{uri: {prefix: /moved}}]
    redirect: {uri: /new, authority: example.com}
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: "healthy"}}
  - match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v2/api}
    headers:
      request: {set: {x-route: api}}
      response: {add: {x-proxied-by: shadowmesh}}
    route: [{destination: {host: web, subset: ok}}]
"#;

#[tokio::test]
async fn each_failure_gets_envoys_status() {
    let ok = backend::http1("ok").run().await;
    let slow = backend::slow("slow", Duration::from_secs(2)).await;
    let reset = backend::http1("reset").reset().run().await;
    let endpoints = [
        ("ok", ok.port()),
        ("slow", slow.port()),
        ("refused", refusing_port().await),
        ("reset", reset.port()),
    ];
    let proxy = proxy::with_config(web(&endpoints, "HTTP").file("routes.yaml", ROUTES))
        .request_timeout(Duration::from_secs(1))
        .run()
        .await;
    let client = proxy.client().host("web");
    // A route timeout (10 s) overrides the proxy-wide 1 s limit. (Istio refuses `timeout: 0s`:
    // durations are at least 1 ms.)
    assert_eq!(client.get("/patient").send().await.status, 200);

    let cases = [
        ("/nothing-matches", 404, "no route"),
        ("/slow", 504, "timeout"),
        ("/refused", 503, "connect"),
        // Envoy: a reset before the response headers is 503 `UC` (not 502).
        ("/reset", 503, "reset before response headers"),
        ("/empty", 503, "no healthy upstream"),
    ];
    for (path, status, reason) in cases {
        let a = client.get(path).send().await;
        assert_eq!(a.status, status, "{path}: {}", a.body);
        assert!(
            a.body.contains(reason),
            "{path}: {:?} should say {reason:?}",
            a.body
        );
    }
    // An unknown service name says what to do next.
    let typo = client.get("/api").host("wbe").send().await;
    assert_eq!(typo.status, 404);
    assert!(typo.body.contains("did you mean web?"), "{}", typo.body);
    let address = client.get("/api").host("127.0.0.1").send().await;
    assert!(
        address.body.contains("--listen ADDR=SERVICE"),
        "{}",
        address.body
    );
    // A Host that smuggles a path or userinfo is refused, not routed.
    for bad in ["web/admin", "user@web", "web:80/x?y"] {
        assert_eq!(
            client.get("/api").host(bad).send().await.status,
            400,
            "{bad}"
        );
    }
    let moved = client.get("/moved?x=1").send().await;
    assert_eq!(moved.status, 301);
    assert_eq!(moved.headers["location"], "http://example.com/new?x=1");
    let health = client.get("/health").send().await;
    assert_eq!(
        (health.status.as_u16(), health.body.as_str()),
        (200, "healthy")
    );

    let api = client.get("/api/calculation?number=9").send().await;
    assert_eq!(api.status, 200);
    assert_eq!(api.headers["x-proxied-by"], "shadowmesh");
    let seen = ok.seen();
    assert_eq!(
        seen[0].path, "/v2/api/calculation?number=9",
        "prefix rewritten, query kept"
    );
    assert_eq!(seen[0].header("x-route"), "api");
    proxy.shutdown().await;
}

#[tokio::test]
async fn h2c_clients_and_h2c_upstreams() {
    let ok = backend::h2c("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], "HTTP2"))
        .run()
        .await;
    // An h2c client with prior knowledge, `:authority: web`.
    let mut client = H2c::connect(proxy.addr()).await;
    for _ in 0..3 {
        let a = client.get("http://web/h2").await;
        assert_eq!(a.status, 200);
        assert_eq!(a.http_version, http::Version::HTTP_2);
    }
    let seen = ok.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s.version == http::Version::HTTP_2),
        "protocol HTTP2 ports are reached over h2c"
    );
    assert!(
        seen.iter().all(|s| s.authority == "web"),
        ":authority is the service host"
    );
    assert_eq!(ok.accepted(), 1, "one multiplexed upstream connection");
    proxy.shutdown().await;
}

/// An HTTP/1.1 upstream's fields are passed on as they came to an HTTP/1.1 client and put in
/// the map hyper's HTTP/2 server writes for an h2c one: both see the same fields.
#[tokio::test]
async fn an_http1_upstreams_fields_reach_h2c_and_http1_clients_alike() {
    let ok = backend::http1("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], "HTTP"))
        .run()
        .await;
    let mut h2 = H2c::connect(proxy.addr()).await;
    let a = h2.get("http://web/fields").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.http_version, http::Version::HTTP_2);
    assert_eq!(a.headers["x-served-by"], "ok");
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.headers.get_all("date").iter().count(), 1);
    let raw = client::raw(
        proxy.addr(),
        "GET /fields HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    for line in [
        "x-served-by: ok",
        "content-type: application/json",
        "connection: close",
    ] {
        assert!(head.contains(&format!("\r\n{line}")), "{line} in {head}");
    }
    assert_eq!(head.matches("\r\ndate: ").count(), 1, "{head}");
    let length = format!("\r\ncontent-length: {}", body.len());
    assert!(head.contains(&length), "{length} in {head}");
    assert_eq!(ok.count(), 2);
    proxy.shutdown().await;
}

#[tokio::test]
async fn h2_mirrors_get_their_own_connection() {
    let ok = backend::h2c("ok").run().await;
    // Primary and mirror on the same endpoint: a slow mirror must not queue behind (or ahead of)
    // user traffic on one multiplexed connection.
    let routes = config::virtual_service("web", "web")
        .route("ok")
        .mirror("ok");
    let files = web(&[("ok", ok.port())], "HTTP2").file("vs.yaml", routes.yaml());
    let proxy = proxy::with_config(files).run().await;
    let client = proxy.client().host("web");
    for _ in 0..5 {
        assert_eq!(client.get("/x").send().await.status, 200);
    }
    assert_eventually!(ok.count() == 10, "5 primaries + 5 copies");
    assert_eq!(
        ok.accepted(),
        2,
        "one connection for users, one for mirrors"
    );
    let shadow = ok
        .seen()
        .iter()
        .filter(|s| s.authority == "web-shadow")
        .count();
    assert_eq!(shadow, 5, "copies carry :authority web-shadow");
    proxy.shutdown().await;
}
