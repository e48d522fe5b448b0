//! User story: "the proxy retries as my Istio sidecar would": a VirtualService's `retries` (or
//! Istio's default policy when it has none) through real sockets: each case is the config, the
//! request, what the backends saw and what the client got. Envoy's conditions (`5xx`,
//! `gateway-error`, `connect-failure`, status codes, gRPC `unavailable`), `attempts: 0`, the
//! per-try timeout under the route timeout, the body replayed whole (or, over the bound, not
//! retried), mirrors sent once, and one record per request with its attempts and `URX`.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tonic::Code;

use crate::assert_eventually;
use crate::support::backend::{self, First};
use crate::support::config::{self, VirtualService};
use crate::support::grpc;
use crate::support::proxy::{self, Proxy};
use crate::support::refusing_port;

const HOST: &str = "retrysvc";

/// `retrysvc` with subset v1 on `v1_ports` and v2 on `v2_port`, routed by `vs`.
async fn proxy_for(v1_ports: &[u16], v2_port: Option<u16>, vs: VirtualService) -> Proxy {
    let mut service = config::service_entry(HOST);
    for port in v1_ports {
        service = service.endpoint("v1", *port);
    }
    if let Some(port) = v2_port {
        service = service.endpoint("v2", port);
    }
    let rule = config::destination_rule(HOST)
        .subset("v1", "v1")
        .subset("v2", "v2");
    let files = config::files()
        .file("service.yaml", service.yaml())
        .file("rule.yaml", rule.yaml())
        .file("routes.yaml", vs.yaml());
    proxy::with_config(files).run().await
}

/// All requests to v1, with `retries` (none: Istio's default policy).
fn to_v1(retries: Option<&str>) -> VirtualService {
    let vs = config::virtual_service(HOST, HOST).route("v1");
    match retries {
        Some(r) => vs.field(&format!("retries: {r}")),
        None => vs,
    }
}

/// Waits (at most 5 s) until `istio_requests_total` (source reporter) counts `want` requests
/// with `code` and `flags`, and says whether it did.
async fn requests(proxy: &Proxy, code: &str, flags: &str, want: f64) -> bool {
    let labels = [
        ("reporter", "source"),
        ("response_code", code),
        ("response_flags", flags),
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = proxy.metrics().await.sum("istio_requests_total", &labels);
        if got == want || Instant::now() > deadline {
            return got == want;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// (case, retries, the backend's first answer, the client's status, requests the backend saw)
type ConditionCase = (&'static str, Option<&'static str>, u16, u16, usize);

#[rustfmt::skip]
const CONDITION_CASES: [ConditionCase; 9] = [
    ("default: a 503 is not retried (Istio 1.24+)", None, 503, 503, 1),
    ("attempts: 0 disables retries", Some("{attempts: 0}"), 503, 503, 1),
    ("a status code in retryOn", Some("{attempts: 2, retryOn: '503'}"), 503, 200, 2),
    ("retriable-status-codes with a number", Some("{attempts: 2, retryOn: 'retriable-status-codes,404'}"), 404, 200, 2),
    ("5xx retries a 500", Some("{attempts: 2, retryOn: 5xx}"), 500, 200, 2),
    ("gateway-error does not retry a 500", Some("{attempts: 2, retryOn: gateway-error}"), 500, 500, 1),
    ("gateway-error retries a 502", Some("{attempts: 2, retryOn: gateway-error}"), 502, 200, 2),
    ("retriable-4xx retries a 409", Some("{attempts: 1, retryOn: retriable-4xx}"), 409, 200, 2),
    ("connect-failure does not retry a 503", Some("{attempts: 2, retryOn: connect-failure}"), 503, 503, 1),
];

#[tokio::test]
async fn retry_conditions_decide_as_envoys_do() {
    for (case, retries, first, want, seen) in CONDITION_CASES {
        let b = backend::http1("v1")
            .first(1, First::Status(first))
            .run()
            .await;
        let proxy = proxy_for(&[b.port()], None, to_v1(retries)).await;
        let answer = proxy.client().host(HOST).get("/r").send().await;
        assert_eq!(answer.status.as_u16(), want, "{case}");
        assert_eq!(b.count(), seen, "{case}: requests the backend saw");
        for (i, s) in b.seen().iter().enumerate() {
            let n = (i + 1).to_string();
            assert_eq!(s.header("x-envoy-attempt-count"), n, "{case}: try {n}");
        }
        let code = want.to_string();
        assert!(
            requests(&proxy, &code, "-", 1.0).await,
            "{case}: one request counted"
        );
        let retries = proxy
            .metrics()
            .await
            .sum("shadowmesh_upstream_retries_total", &[]);
        assert_eq!(retries, (seen - 1) as f64, "{case}: retries counted");
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn the_retry_limit_reached_answers_the_last_try_marked_urx() {
    let b = backend::http1("v1")
        .first(100, First::Status(503))
        .run()
        .await;
    let proxy = proxy_for(
        &[b.port()],
        None,
        to_v1(Some("{attempts: 2, retryOn: '503'}")),
    )
    .await;
    let answer = proxy.client().host(HOST).get("/r").send().await;
    assert_eq!(answer.status.as_u16(), 503);
    assert_eq!(b.count(), 3, "one try and two retries");
    assert!(
        requests(&proxy, "503", "URX", 1.0).await,
        "one request, URX"
    );
    let scrape = proxy.metrics().await;
    assert_eq!(scrape.sum("shadowmesh_upstream_retries_total", &[]), 2.0);
    assert_eq!(
        scrape.sum("shadowmesh_upstream_retry_limit_exceeded_total", &[]),
        1.0
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_dead_endpoint_is_retried_on_a_live_one_by_default() {
    let (dead, live) = (refusing_port().await, backend::http1("v1").run().await);
    let proxy = proxy_for(&[dead, live.port()], None, to_v1(None)).await;
    for i in 0..10 {
        let answer = proxy
            .client()
            .host(HOST)
            .get(&format!("/r{i}"))
            .send()
            .await;
        assert_eq!(answer.status.as_u16(), 200, "request {i}: {}", answer.body);
    }
    assert_eq!(
        live.count(),
        10,
        "each request reached the live endpoint once"
    );
    assert!(
        requests(&proxy, "200", "-", 10.0).await,
        "ten requests counted"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_slow_try_is_given_up_at_the_per_try_timeout_and_retried() {
    let b = backend::http1("v1")
        .first(1, First::Delay(Duration::from_secs(2)))
        .run()
        .await;
    let retries = "{attempts: 2, perTryTimeout: 200ms, retryOn: gateway-error}";
    let proxy = proxy_for(&[b.port()], None, to_v1(Some(retries))).await;
    let started = Instant::now();
    let answer = proxy.client().host(HOST).get("/r").send().await;
    assert_eq!(answer.status.as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(b.count(), 2);
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_route_timeout_covers_all_tries() {
    let b = backend::http1("v1")
        .first(100, First::Delay(Duration::from_secs(2)))
        .run()
        .await;
    let vs = to_v1(Some(
        "{attempts: 5, perTryTimeout: 150ms, retryOn: gateway-error}",
    ))
    .field("timeout: 400ms");
    let proxy = proxy_for(&[b.port()], None, vs).await;
    let started = Instant::now();
    let answer = proxy.client().host(HOST).get("/r").send().await;
    let took = started.elapsed();
    assert_eq!(answer.status.as_u16(), 504, "{}", answer.body);
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert!(
        (2..=3).contains(&b.count()),
        "tries within 400 ms: {}",
        b.count()
    );
    assert!(requests(&proxy, "504", "UT", 1.0).await, "one request, UT");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_retried_body_is_sent_again_byte_for_byte() {
    let b = backend::http1("v1")
        .first(1, First::Status(503))
        .run()
        .await;
    let proxy = proxy_for(
        &[b.port()],
        None,
        to_v1(Some("{attempts: 1, retryOn: '503'}")),
    )
    .await;
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let chunks = body.chunks(16 * 1024).map(Bytes::copy_from_slice).collect();
    let answer = proxy
        .client()
        .host(HOST)
        .post("/upload")
        .stream(chunks)
        .send()
        .await;
    assert_eq!(answer.status.as_u16(), 200);
    let seen = b.seen();
    assert_eq!(seen.len(), 2);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.method, "POST");
        assert!(
            s.body == body,
            "try {i}: {} bytes, not the same",
            s.body.len()
        );
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_body_over_the_replay_bound_is_not_retried() {
    let b = backend::http1("v1")
        .first(1, First::Status(503))
        .run()
        .await;
    let proxy = proxy_for(
        &[b.port()],
        None,
        to_v1(Some("{attempts: 2, retryOn: '503'}")),
    )
    .await;
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = vec![chunk; 20]; // 1.25 MiB, over the 1 MiB kept for a retry
    let answer = proxy
        .client()
        .host(HOST)
        .post("/upload")
        .stream(chunks)
        .send()
        .await;
    assert_eq!(answer.status.as_u16(), 503, "the first answer stands");
    assert_eq!(b.count(), 1);
    assert_eq!(b.seen()[0].body.len(), 20 * 64 * 1024, "sent whole, once");
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_mirror_gets_one_copy_when_the_primary_was_retried() {
    let v1 = backend::http1("v1")
        .first(1, First::Status(503))
        .run()
        .await;
    let v2 = backend::http1("v2").run().await;
    let vs = to_v1(Some("{attempts: 2, retryOn: '503'}")).mirror("v2");
    let proxy = proxy_for(&[v1.port()], Some(v2.port()), vs).await;
    let answer = proxy
        .client()
        .host(HOST)
        .post("/m")
        .body("payload")
        .send()
        .await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(v1.count(), 2, "the primary was retried");
    assert_eventually!(v2.count() == 1, "the mirror got its copy");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(v2.count(), 1, "and only one");
    assert_eq!(v2.seen()[0].body, "payload");
    assert_eq!(v2.seen()[0].header("x-envoy-attempt-count"), "1");
    proxy.shutdown().await;
}

/// `grpcsvc` on a `GRPC` port, v1 at `port`, with Istio's default retry policy.
async fn grpc_proxy(port: u16) -> Proxy {
    let service = config::service_entry("grpcsvc")
        .protocol("GRPC")
        .endpoint("v1", port);
    let rule = config::destination_rule("grpcsvc").subset("v1", "v1");
    let routes = config::virtual_service("grpcsvc", "grpcsvc").route("v1");
    let files = config::files()
        .file("service.yaml", service.yaml())
        .file("rule.yaml", rule.yaml())
        .file("routes.yaml", routes.yaml());
    proxy::with_config(files).run().await
}

#[tokio::test]
async fn grpc_unavailable_is_retried_by_default_other_statuses_are_not() {
    // (the first call's status, the client's result, calls the server saw)
    for (first, want, seen) in [
        (Code::Unavailable, Code::Ok, 2),
        (Code::NotFound, Code::NotFound, 1),
    ] {
        let server = grpc::server("v1")
            .fail_first(1, first, "not now")
            .run()
            .await;
        let proxy = grpc_proxy(server.port()).await;
        let mut client = grpc::GrpcClient::connect(proxy.addr(), "grpcsvc").await;
        let got = match client.square(3).await {
            Ok(reply) => {
                assert_eq!(reply.get_ref().value, 9);
                Code::Ok
            }
            Err(status) => status.code(),
        };
        assert_eq!(got, want, "first answer {first:?}");
        assert_eq!(server.count(), seen, "first answer {first:?}");
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn a_consistent_hash_retries_the_same_host_as_istio_configures_it() {
    // Istio sets no previous-hosts predicate when the destination hashes: a user whose key
    // hashes to a dead endpoint is retried there, and runs out of retries (`UF,URX`).
    let (live, dead) = (backend::http1("v1").run().await, refusing_port().await);
    let service = config::service_entry(HOST)
        .endpoint("v1", live.port())
        .endpoint("v1", dead);
    let rule = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: r, namespace: challengeistio}}\nspec:\n  host: {HOST}\n  trafficPolicy: {{loadBalancer: {{consistentHash: {{httpHeaderName: x-user}}}}}}\n  subsets: [{{name: v1, labels: {{version: v1}}}}]\n"
    );
    let files = config::files()
        .file("service.yaml", service.yaml())
        .file("rule.yaml", rule)
        .file("routes.yaml", to_v1(None).yaml());
    let proxy = proxy::with_config(files).run().await;
    let mut failed: u32 = 0;
    for i in 0..20 {
        let user = format!("user-{i}");
        let client = proxy.client().host(HOST);
        let first = client.get("/").header("x-user", &user).send().await.status;
        let again = client.get("/").header("x-user", &user).send().await.status;
        assert_eq!(first, again, "{user} sticks to its endpoint, dead or alive");
        if first == 503 {
            failed += 2;
        }
    }
    assert!(failed > 0 && failed < 40, "users spread: {failed} failed");
    assert_eq!(
        live.count(),
        40 - failed as usize,
        "no retry moved a user to the live endpoint"
    );
    // Read from the text: the scrape parser splits label values at commas.
    let text = proxy.metrics().await.text;
    let source_urx = text.lines().find(|l| {
        l.starts_with("istio_requests_total{reporter=\"source\"")
            && l.contains("response_flags=\"UF,URX\"")
    });
    let count = source_urx.and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(count, Some(f64::from(failed)), "503s flagged UF,URX");
    let retries = proxy
        .metrics()
        .await
        .sum("shadowmesh_upstream_retries_total", &[]);
    assert_eq!(retries, f64::from(failed * 2), "two retries each");
    proxy.shutdown().await;
}
