//! User story: "my service speaks WebSocket": an HTTP/1.1 upgrade goes through the proxy to the
//! version the route chooses, as Istio's sidecar proxies it (Envoy with `upgrade_configs:
//! websocket`), messages flow both ways until a side closes, the upgrade is never mirrored, and
//! the exchange is recorded once with status 101. Backends and clients are raw sockets
//! (`support::websocket`).

use std::time::Duration;

use crate::assert_eventually;
use crate::support::proxy::{self, Proxy};
use crate::support::websocket::{self, WsClient};
use crate::support::{PATIENCE, config, eventually_async};
use shadowmesh::proxy::mirror::MirrorOutcome;

/// The seed (Mobile user agents to v2, the rest to v1 mirrored to v3) over three echo backends.
async fn seed() -> (websocket::Backend, websocket::Backend, websocket::Backend) {
    (
        websocket::backend("v1").run().await,
        websocket::backend("v2").run().await,
        websocket::backend("v3").run().await,
    )
}

fn seeded(v1: u16, v2: u16, v3: u16) -> proxy::Builder {
    proxy::with_config(config::seed(v1, v2, v3))
}

/// The sum of the client-side histogram `name`'s `_sum` series for status 101.
async fn bytes_101(proxy: &Proxy, name: &str) -> f64 {
    let scrape = proxy.metrics().await;
    let prefix = format!("{name}_sum{{");
    (scrape.text.lines())
        .filter(|l| l.starts_with(&prefix))
        .filter(|l| l.contains("response_code=\"101\"") && l.contains("reporter=\"source\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Is `istio_requests_total{reporter="source", response_code=code}` `n`, within the patience?
async fn counted(proxy: &Proxy, code: &str, n: f64) -> bool {
    let labels = [("reporter", "source"), ("response_code", code)];
    eventually_async(PATIENCE, || async move {
        proxy.metrics().await.sum("istio_requests_total", &labels) == n
    })
    .await
}

#[tokio::test]
async fn messages_flow_both_ways_to_the_version_the_route_chooses() {
    let (v1, v2, v3) = seed().await;
    let proxy = seeded(v1.port(), v2.port(), v3.port()).run().await;
    let mut ws = WsClient::upgrade(proxy.addr(), &[("user-agent", "Mozilla/5.0 (Mobile)")]).await;
    assert_eq!(ws.status, 101, "{}", ws.head);
    assert!(
        ws.accept_matches(),
        "the backend's accept reaches the client: {}",
        ws.head
    );
    assert_eq!(websocket::header(&ws.head, "upgrade"), "websocket");
    for i in 0..3 {
        ws.send(&format!("m{i}")).await;
        assert_eq!(
            ws.recv().await.as_deref(),
            Some(format!("v2:m{i}").as_str())
        );
    }
    ws.close().await;
    assert_eq!((v1.upgrades(), v2.upgrades(), v3.upgrades()), (0, 1, 0));
    let head = &v2.heads()[0];
    assert_eq!(websocket::header(head, "upgrade"), "websocket", "{head}");
    assert!(websocket::header(head, "connection").eq_ignore_ascii_case("upgrade"));
    assert_ne!(
        websocket::header(head, "x-request-id"),
        "",
        "prepared as any request"
    );
    assert!(counted(&proxy, "101", 1.0).await, "recorded once, with 101");
    // Three masked frames of 2 bytes (8 each) and a close (6); echoes of 5 (7 each), close (2).
    assert_eq!(bytes_101(&proxy, "istio_request_bytes").await, 30.0);
    assert_eq!(bytes_101(&proxy, "istio_response_bytes").await, 23.0);
    let plain = proxy.client().get("/after").send().await;
    assert_eq!(
        (plain.status.as_u16(), plain.body.as_str()),
        (200, "plain v1")
    );
}

#[tokio::test]
async fn a_mirrored_route_upgrades_to_the_primary_and_never_to_the_mirror() {
    let (v1, v2, v3) = seed().await;
    let proxy = seeded(v1.port(), v2.port(), v3.port()).run().await;
    let mut ws = WsClient::upgrade(proxy.addr(), &[]).await;
    assert_eq!(ws.status, 101, "{}", ws.head);
    ws.send("hello").await;
    assert_eq!(ws.recv().await.as_deref(), Some("v1:hello"));
    ws.close().await;
    assert_eq!(proxy.mirrored(MirrorOutcome::SkippedUpgrade), 1);
    let skipped = proxy.metrics().await.sum(
        "shadowmesh_mirror_requests_total",
        &[("outcome", "skipped_upgrade")],
    );
    assert_eq!(skipped, 1.0);
    // A plain request on the same route is mirrored: the mirror works, it just got no upgrade.
    let plain = proxy.client().get("/plain").send().await;
    assert_eq!(
        (plain.status.as_u16(), plain.body.as_str()),
        (200, "plain v1")
    );
    assert_eventually!(v3.heads().len() == 1, "the plain request's copy reaches v3");
    assert_eq!(v3.upgrades(), 0, "the mirror never saw the upgrade");
    assert!(!v3.heads()[0].to_ascii_lowercase().contains("upgrade"));
    assert_eq!(v1.upgrades(), 1);
}

#[tokio::test]
async fn an_upstream_refusing_the_upgrade_gives_the_client_its_answer() {
    let v1 = websocket::backend("v1").refuse(400).run().await;
    let v3 = websocket::backend("v3").run().await;
    let proxy = seeded(v1.port(), v1.port(), v3.port()).run().await;
    let ws = WsClient::upgrade(proxy.addr(), &[]).await;
    assert_eq!((ws.status, ws.body.as_str()), (400, "no upgrade here"));
    assert!(counted(&proxy, "400", 1.0).await);
    assert_eq!(v3.heads().len(), 0, "not mirrored either");
    let plain = proxy.client().get("/").send().await;
    assert_eq!(plain.status.as_u16(), 200, "plain requests still served");
}

#[tokio::test]
async fn an_upstream_closing_the_tunnel_closes_the_clients_side() {
    let v1 = websocket::backend("v1").close_after(1).run().await;
    let v3 = websocket::backend("v3").run().await;
    let proxy = seeded(v1.port(), v1.port(), v3.port()).run().await;
    let mut ws = WsClient::upgrade(proxy.addr(), &[]).await;
    ws.send("one").await;
    assert_eq!(ws.recv().await.as_deref(), Some("v1:one"));
    assert_eq!(
        ws.recv().await,
        None,
        "the upstream's close reaches the client"
    );
    drop(ws);
    assert!(
        counted(&proxy, "101", 1.0).await,
        "recorded once the tunnel ended"
    );
    let flags = proxy.metrics().await.sum(
        "istio_requests_total",
        &[("reporter", "source"), ("response_flags", "-")],
    );
    assert_eq!(flags, 1.0, "a close is nobody's failure");
}

#[tokio::test]
async fn other_upgrade_protocols_are_refused_as_envoy_refuses_them() {
    let (v1, v2, v3) = seed().await;
    let proxy = seeded(v1.port(), v2.port(), v3.port()).run().await;
    // (Upgrade, status, reaches the backend)
    let cases = [
        ("foo/2", 403, false),
        ("h2c", 200, true),
        ("TLS/1.2", 403, false),
    ];
    for (protocol, status, reaches) in cases {
        let before = v1.heads().len();
        let ws = WsClient::upgrade_to(proxy.addr(), protocol, &[]).await;
        assert_eq!(ws.status, status, "{protocol}: {}", ws.head);
        assert_eq!(v1.heads().len() > before, reaches, "{protocol}");
    }
    let plain = &v1.heads()[0];
    assert_eq!(
        websocket::header(plain, "upgrade"),
        "",
        "h2c is served plain: {plain}"
    );
    assert_eq!(v1.upgrades(), 0);
}

#[tokio::test]
async fn an_active_tunnel_outlives_the_timeouts_and_an_idle_one_is_closed() {
    let (v1, v2, v3) = seed().await;
    let proxy = seeded(v1.port(), v2.port(), v3.port())
        .client_idle_timeout(Duration::from_millis(400))
        .request_timeout(Duration::from_millis(200))
        .run()
        .await;
    let mut ws = WsClient::upgrade(proxy.addr(), &[]).await;
    assert_eq!(ws.status, 101);
    // 1.5 s of traffic: past the route timeout and several idle timeouts.
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        ws.send(&format!("{i}")).await;
        assert_eq!(ws.recv().await, Some(format!("v1:{i}")), "alive at {i}");
    }
    let silent = tokio::time::Instant::now();
    assert_eq!(ws.recv().await, None, "an idle tunnel is closed");
    let waited = silent.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed after {waited:?}"
    );
    assert_eventually!(v1.tunnels_closed() == 1, "the upstream side is closed too");
}

#[tokio::test]
async fn a_tunnel_holds_its_connection_slot_until_it_closes() {
    let (v1, v2, v3) = seed().await;
    let proxy = seeded(v1.port(), v2.port(), v3.port())
        .max_connections(1)
        .run()
        .await;
    let mut ws = WsClient::upgrade(proxy.addr(), &[]).await;
    ws.send("hi").await;
    assert_eq!(ws.recv().await.as_deref(), Some("v1:hi"));
    let client = proxy.client();
    let waiting = tokio::spawn(async move { client.get("/next").send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the only slot is the tunnel's");
    ws.close().await;
    let plain = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.status.as_u16(), 200, "served once the tunnel closed");
}

#[tokio::test]
async fn an_upgrade_to_an_http2_port_goes_on_plain() {
    let h2 = crate::support::backend::h2c("v1").run().await;
    let service = config::service_entry("chat")
        .protocol("HTTP2")
        .endpoint("v1", h2.port());
    let files = config::files().file("chat.yaml", service.yaml());
    let proxy = proxy::with_config(files).run().await;
    let ws = WsClient::upgrade(proxy.addr(), &[("host", "chat")]).await;
    assert_eq!(ws.status, 200, "the h2 upstream's answer: {}", ws.head);
    let seen = h2.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].version, http::Version::HTTP_2);
    assert_eq!(
        seen[0].header("upgrade"),
        "",
        "no upgrade header crosses HTTP/2"
    );
}
