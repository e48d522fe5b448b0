//! The right status for each failure, as Envoy answers: no route 404, no endpoint 503,
//! connect failure 503, reset 502, timeout 504; and h2c both ways.

use std::time::Duration;

use crate::support::*;

fn service(ports: &[(&str, u16)], protocol: &str) -> String {
    let mut endpoints = String::new();
    for (v, port) in ports {
        endpoints.push_str(&format!(
            "  - {{address: 127.0.0.1, ports: {{http: {port}}}, labels: {{app: web, version: {v}}}}}\n"
        ));
    }
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: web, namespace: challengeistio}}\nspec:\n  hosts: [web]\n  ports:\n  - {{number: 80, name: http, protocol: {protocol}}}\n  resolution: STATIC\n  endpoints:\n{endpoints}---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: web, namespace: challengeistio}}\nspec:\n  host: web\n  subsets:\n  - {{name: ok, labels: {{version: ok}}}}\n  - {{name: slow, labels: {{version: slow}}}}\n  - {{name: refused, labels: {{version: refused}}}}\n  - {{name: reset, labels: {{version: reset}}}}\n  - {{name: empty, labels: {{version: none}}}}\n"
    )
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
    timeout: 0s
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
    let ok = Backend::start("ok", Behavior::Answer).await;
    let slow = Backend::start("slow", Behavior::Delay(Duration::from_secs(2))).await;
    let reset = Backend::start("reset", Behavior::Reset).await;
    let refused = refusing_port().await;
    let se = service(
        &[
            ("ok", ok.addr.port()),
            ("slow", slow.addr.port()),
            ("refused", refused),
            ("reset", reset.addr.port()),
        ],
        "HTTP",
    );
    let dir = config_dir(&[("web.yaml", &se), ("routes.yaml", ROUTES)]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.proxy.request_timeout = Some(Duration::from_secs(1));
    })
    .await;
    let addr = proxy.listen_addrs[0];
    // `timeout: 0s` is Istio's "no timeout": it outlasts the proxy-wide 1 s limit.
    assert_eq!(get(addr, "web", "/patient", None).await.status, 200);

    let cases = [
        ("/nothing-matches", 404, "no route"),
        ("/slow", 504, "timeout"),
        ("/refused", 503, "connect"),
        ("/reset", 502, "reset"),
        ("/empty", 503, "no healthy upstream"),
    ];
    for (path, status, reason) in cases {
        let a = get(addr, "web", path, None).await;
        assert_eq!(a.status, status, "{path}: {}", a.body);
        assert!(
            a.body.contains(reason),
            "{path}: {:?} should say {reason:?}",
            a.body
        );
    }
    // A Host that smuggles a path or userinfo is refused, not routed.
    for bad in ["web/admin", "user@web", "web:80/x?y"] {
        assert_eq!(get(addr, bad, "/api", None).await.status, 400, "{bad}");
    }
    let moved = get(addr, "web", "/moved?x=1", None).await;
    assert_eq!(moved.status, 301);
    assert_eq!(moved.headers["location"], "http://example.com/new?x=1");
    let health = get(addr, "web", "/health", None).await;
    assert_eq!(
        (health.status.as_u16(), health.body.as_str()),
        (200, "healthy")
    );

    let api = get(addr, "web", "/api/calculation?number=9", None).await;
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
    let ok = Backend::start("ok", Behavior::Answer).await;
    let se = service(&[("ok", ok.addr.port())], "HTTP2");
    let dir = config_dir(&[("web.yaml", &se)]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    // An h2c client with prior knowledge, `:authority: web`.
    let stream = tokio::net::TcpStream::connect(proxy.listen_addrs[0])
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = http::Request::builder()
            .uri("http://web/h2")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), http::Version::HTTP_2);
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
    assert_eq!(
        ok.accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one multiplexed upstream connection"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn h2_mirrors_get_their_own_connection() {
    let ok = Backend::start("ok", Behavior::Answer).await;
    let se = service(&[("ok", ok.addr.port())], "HTTP2");
    // Primary and mirror on the same endpoint: a slow mirror must not queue behind (or ahead of)
    // user traffic on one multiplexed connection.
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: challengeistio}\nspec:\n  hosts: [web]\n  http:\n  - route: [{destination: {host: web, subset: ok}}]\n    mirror: {host: web, subset: ok}\n";
    let dir = config_dir(&[("web.yaml", &se), ("vs.yaml", vs)]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    for _ in 0..5 {
        assert_eq!(
            get(proxy.listen_addrs[0], "web", "/x", None).await.status,
            200
        );
    }
    assert!(
        eventually(Duration::from_secs(5), || ok.count() == 10).await,
        "5 primaries + 5 copies"
    );
    assert_eq!(
        ok.accepted.load(std::sync::atomic::Ordering::SeqCst),
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
