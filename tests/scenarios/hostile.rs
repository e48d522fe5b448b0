//! User story: "a hostile or broken client cannot hurt my backends or hold my proxy": client
//! body mistakes are the client's (400 `DPE`, `DC`) and never eject healthy endpoints; slow,
//! silent and idle connections are closed; `*` targets and duplicate `Host` are refused; a
//! client's `x-forwarded-proto` is replaced; upstream resets and protocol errors get Envoy's
//! 503 `UC` and 502 `UPE`. Raw TCP where a well-behaved client cannot make the fault.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::support::backend::{self, Backend};
use crate::support::config::{self, Files};
use crate::support::proxy::{self, Proxy};
use crate::support::raw::{exchange, read_until_close, status_line};
use crate::support::{PATIENCE, eventually_async};

/// The `web` service with the given endpoints (version, port), a DestinationRule ejecting an
/// endpoint after 3 gateway errors, subsets by version, and `routes` (the `http:` list).
pub fn web(endpoints: &[(&str, u16)], routes: &str) -> Files {
    let mut service = config::service_entry("web");
    for (version, port) in endpoints {
        service = service.endpoint(version, *port);
    }
    let mut rule = String::from(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: challengeistio}\nspec:\n  host: web\n  trafficPolicy:\n    outlierDetection: {consecutiveGatewayErrors: 3, consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}\n  subsets:\n",
    );
    for (version, _) in endpoints {
        rule.push_str(&format!(
            "  - {{name: {version}, labels: {{version: {version}}}}}\n"
        ));
    }
    let routes = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: web, namespace: challengeistio}}\nspec:\n  hosts: [web]\n  http:\n{routes}"
    );
    config::files()
        .file("web.yaml", service.yaml())
        .file("rule.yaml", rule)
        .file("routes.yaml", routes)
}

/// Every request to the whole `web` service.
pub const ALL_OF_WEB: &str = "  - route: [{destination: {host: web}}]\n";

/// `istio_requests_total{reporter="source"}` summed over the series with these labels (each
/// exchange is reported twice, as source and as destination).
pub async fn requests(proxy: &Proxy, labels: &[(&str, &str)]) -> f64 {
    let mut labels = labels.to_vec();
    labels.push(("reporter", "source"));
    proxy.metrics().await.sum("istio_requests_total", &labels)
}

/// Endpoints of `web` ejected by outlier detection now.
pub async fn ejected(proxy: &Proxy) -> f64 {
    let scrape = proxy.metrics().await;
    scrape.sum("shadowmesh_upstream_endpoints", &[("state", "ejected")])
}

async fn three_backends() -> [Backend; 3] {
    [
        backend::http1("a").run().await,
        backend::http1("b").run().await,
        backend::http1("c").run().await,
    ]
}

const BAD_CHUNK: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n";
const CUT_BODY: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: 1000\r\n\r\nonly ten b";

/// Sends `head_and_part` and closes the connection mid-body.
pub async fn abort_mid_body(addr: std::net::SocketAddr, head_and_part: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head_and_part).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(s);
}

#[tokio::test]
async fn client_body_mistakes_are_the_clients_and_never_eject_backends() {
    let backends = three_backends().await;
    let endpoints: Vec<(&str, u16)> = backends.iter().map(|b| (&*b.version, b.port())).collect();
    let proxy = proxy::with_config(web(&endpoints, ALL_OF_WEB)).run().await;
    for _ in 0..12 {
        let (answer, _) = exchange(proxy.addr(), BAD_CHUNK, Duration::from_secs(3)).await;
        assert!(status_line(&answer).starts_with("HTTP/1.1 400"), "{answer}");
        abort_mid_body(proxy.addr(), CUT_BODY).await;
    }
    let dpe = [("response_flags", "DPE"), ("response_code", "400")];
    assert!(counted(&proxy, &dpe, 12.0).await, "12 x 400 DPE");
    let dc = [("response_flags", "DC"), ("response_code", "0")];
    assert!(counted(&proxy, &dc, 12.0).await, "12 x DC with status 0");
    assert_eq!(ejected(&proxy).await, 0.0, "no healthy endpoint ejected");
    let for_5xx = [("response_code", "502")];
    assert_eq!(requests(&proxy, &for_5xx).await, 0.0);
    let client = proxy.client().host("web");
    for _ in 0..30 {
        assert_eq!(client.get("/after").send().await.status, 200);
    }
    for b in &backends {
        let served = b.seen().iter().filter(|s| s.path == "/after").count();
        assert!(served > 0, "{} still serves", b.version);
    }
}

/// Waits (5 s at most) until `istio_requests_total{labels}` is `n`; panics naming the
/// series seen when it never is.
pub async fn counted(proxy: &Proxy, labels: &[(&str, &str)], n: f64) -> bool {
    if eventually_async(PATIENCE, || async { requests(proxy, labels).await == n }).await {
        return true;
    }
    let text = proxy.metrics().await.text;
    let series: Vec<&str> = (text.lines())
        .filter(|l| l.starts_with("istio_requests_total{"))
        .collect();
    panic!("istio_requests_total{labels:?} is not {n}: {series:#?}");
}

/// Connects, sends `head`, then one byte of `trickle` every 100 ms: how long until the proxy
/// closed the connection (`None`: still open after 5 s), and what it answered.
async fn time_to_close(
    addr: std::net::SocketAddr,
    head: &[u8],
    trickle: &[u8],
) -> (Option<Duration>, String) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head).await.unwrap();
    for byte in trickle {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.write_all(&[*byte]).await.is_err() {
            break;
        }
    }
    let (answer, closed) = read_until_close(&mut s, Duration::from_secs(5)).await;
    (closed.then(|| started.elapsed()), answer)
}

#[tokio::test]
async fn slow_silent_and_idle_clients_are_closed() {
    let ok = backend::http1("a").run().await;
    let proxy = proxy::with_config(web(&[("a", ok.port())], ALL_OF_WEB))
        .client_header_timeout(Duration::from_secs(1))
        .client_idle_timeout(Duration::from_secs(1))
        .max_connections(4)
        .run()
        .await;
    let addr = proxy.addr();
    let slowloris = b"x-slow: ".repeat(40);
    let kept_alive = b"GET /once HTTP/1.1\r\nHost: web\r\n\r\n";
    let (slow, silent, idle) = tokio::join!(
        time_to_close(addr, b"GET / HTTP/1.1\r\nHost: web\r\n", &slowloris),
        time_to_close(addr, b"", b""),
        time_to_close(addr, kept_alive, b""),
    );
    for (what, (closed, _)) in [("slowloris", &slow), ("silent", &silent), ("idle", &idle)] {
        let after = closed.unwrap_or_else(|| panic!("{what}: still open after 5 s"));
        assert!(
            after < Duration::from_millis(2500),
            "{what}: closed after {after:?}"
        );
    }
    assert!(
        status_line(&idle.1).starts_with("HTTP/1.1 200"),
        "{}",
        idle.1
    );
    assert_eq!(
        ok.count(),
        1,
        "the slow and silent connections sent nothing upstream"
    );
    // Four silent connections fill --max-connections 4: a fifth client waits in the accept
    // queue until the idle timeout frees a slot, then is served.
    let _held = futures_util::future::join_all((0..4).map(|_| TcpStream::connect(addr))).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(
        proxy
            .client()
            .host("web")
            .get("/queued")
            .send()
            .await
            .status,
        200
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_http_1_0_upstream_is_answered_in_http_1_1_and_the_client_keeps_its_connection() {
    // An old server: HTTP/1.0, no length, the body ends when it closes.
    let old = crate::support::raw::garbage(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfrom an old server",
    )
    .await;
    let proxy = proxy::with_config(web(&[("old", old.port())], ALL_OF_WEB))
        .run()
        .await;
    // Two requests on one connection: the second is answered only if the first answer kept
    // the connection (an `HTTP/1.0` status line without a length would have closed it).
    let requests = b"GET /first HTTP/1.1\r\nHost: web\r\n\r\nGET /second HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n";
    let (answer, closed) = exchange(proxy.addr(), requests, Duration::from_secs(5)).await;
    assert!(closed, "the proxy closes after the second answer: {answer}");
    assert!(status_line(&answer).starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert_eq!(answer.matches("from an old server").count(), 2, "{answer}");
    assert!(!answer.contains("HTTP/1.0"), "{answer}");
}

/// One route per subset (by path prefix) and the rest to `ok`.
const BY_PREFIX: &str = "  - match: [{uri: {prefix: /reset}}]\n    route: [{destination: {host: web, subset: reset}}]\n  - match: [{uri: {prefix: /garbage}}]\n    route: [{destination: {host: web, subset: garbage}}]\n  - route: [{destination: {host: web, subset: ok}}]\n";

#[tokio::test]
async fn odd_targets_duplicate_hosts_and_broken_upstreams_get_envoys_answers() {
    let ok = backend::http1("ok").run().await;
    let reset = backend::http1("reset").reset().run().await;
    let garbage = crate::support::raw::garbage(b"HTTP/1.1 abc\r\n\r\n").await;
    let endpoints = [
        ("ok", ok.port()),
        ("reset", reset.port()),
        ("garbage", garbage.port()),
    ];
    let proxy = proxy::with_config(web(&endpoints, BY_PREFIX)).run().await;
    let patience = Duration::from_secs(3);
    for request in [
        "OPTIONS * HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: web\r\nHost: evil\r\nConnection: close\r\n\r\n",
    ] {
        let (answer, _) = exchange(proxy.addr(), request.as_bytes(), patience).await;
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 400"),
            "{request:?}: {answer}"
        );
    }
    assert_eq!(ok.count(), 0, "nothing refused was forwarded");
    // The header count limit (100, as Envoy's `max_headers_count`): one over it is answered
    // 431 by the proxy and never forwarded; 90 are forwarded (with the proxy's own additions
    // they stay under the backend's limit of 100).
    let head = |count: usize| {
        let extra: String = (3..=count).map(|i| format!("x-h{i}: {i}\r\n")).collect();
        format!("GET /ok HTTP/1.1\r\nHost: web\r\n{extra}Connection: close\r\n\r\n")
    };
    let (answer, _) = exchange(proxy.addr(), head(90).as_bytes(), patience).await;
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 200"),
        "90 headers: {answer}"
    );
    assert_eq!(ok.count(), 1, "the head under the limit was forwarded");
    let (answer, _) = exchange(proxy.addr(), head(101).as_bytes(), patience).await;
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 431"),
        "101 headers: {answer}"
    );
    assert_eq!(ok.count(), 1, "the head over the limit was not");
    let client = proxy.client().host("web");
    let forwarded = client
        .get("/proto")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(forwarded.status, 200);
    assert_eq!(ok.seen()[1].header("x-forwarded-proto"), "http");
    let answer = client.get("/reset").send().await;
    assert_eq!(answer.status, 503, "reset before headers: {}", answer.body);
    let answer = client.get("/garbage").send().await;
    assert_eq!(answer.status, 502, "protocol error: {}", answer.body);
    let uc = [("response_flags", "UC"), ("response_code", "503")];
    assert!(counted(&proxy, &uc, 1.0).await, "503 UC");
    let upe = [("response_flags", "UPE"), ("response_code", "502")];
    assert!(counted(&proxy, &upe, 1.0).await, "502 UPE");
}
