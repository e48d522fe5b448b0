//! User story: "my gRPC service is mirrored like any other": a real tonic client calls through
//! the proxy over h2c; the primary answers, trailers and `grpc-status` included; the mirror gets
//! every call whole (unary and client-streaming), only after the client finished sending, and
//! its answers, slowness, resets or absence never reach or delay the client.

use std::time::Duration;

use shadowmesh::proxy::mirror::MirrorOutcome;
use tokio::time::Instant;
use tonic::Code;

use crate::assert_eventually;
use crate::support::backend;
use crate::support::config::{self, Files};
use crate::support::grpc::{self, GrpcClient, SQUARE, SUM, Server};
use crate::support::proxy::{self, Proxy};
use crate::support::refusing_port;

const HOST: &str = "grpcsvc";

/// `grpcsvc` on a `GRPC` port with v1 at `v1` and v2 at `v2`; every call routed to v1 and
/// mirrored to v2.
fn grpc_service(v1: u16, v2: u16) -> Files {
    let service = config::service_entry(HOST)
        .protocol("GRPC")
        .endpoint("v1", v1)
        .endpoint("v2", v2);
    let rule = config::destination_rule(HOST)
        .subset("v1", "v1")
        .subset("v2", "v2");
    let routes = config::virtual_service(HOST, HOST).route("v1").mirror("v2");
    config::files()
        .file("service.yaml", service.yaml())
        .file("rule.yaml", rule.yaml())
        .file("routes.yaml", routes.yaml())
}

/// A proxy in front of v1 (primary) and a mirror on `v2_port`.
fn proxy_builder(v1: &Server, v2_port: u16) -> proxy::Builder {
    proxy::with_config(grpc_service(v1.port(), v2_port)).mirror_timeout(Duration::from_secs(5))
}

/// The proxy in front of v1 (primary) and a mirror on `v2_port`.
async fn proxy_for(v1: &Server, v2_port: u16) -> Proxy {
    proxy_builder(v1, v2_port).run().await
}

async fn client(proxy: &Proxy) -> GrpcClient {
    GrpcClient::connect(proxy.addr(), HOST).await
}

/// Calls `Square(i)` for `i` in `0..n`; each is answered by v1 with `grpc-status: 0`.
async fn v1_answers(proxy: &Proxy, n: i64) {
    let mut client = client(proxy).await;
    for i in 0..n {
        let reply = client.square(i).await.expect("v1 answers");
        assert_eq!(reply.get_ref().version, "v1");
        assert_eq!(reply.get_ref().value, i * i);
    }
}

#[tokio::test]
async fn unary_calls_are_answered_by_the_primary_and_mirrored_whole() {
    let (v1, v2) = (
        grpc::server("v1").run().await,
        grpc::server("v2").run().await,
    );
    let proxy = proxy_for(&v1, v2.port()).await;
    let mut client = client(&proxy).await;
    for i in 1..=5 {
        let reply = client.square(i).await.expect("the call succeeds");
        assert_eq!(
            reply.get_ref().version,
            "v1",
            "v2's answers never reach the client"
        );
        assert_eq!(reply.get_ref().value, i * i);
        assert_eq!(reply.metadata().get("x-served-by").unwrap(), "v1");
        // tonic merges the trailers into the metadata: `grpc-status: 0` came in trailers.
        assert_eq!(reply.metadata().get("grpc-status").unwrap(), "0");
    }
    assert_eventually!(v2.count() == 5, "the mirror got {} calls", v2.count());
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Sent) == 5,
        "mirror outcomes: {}",
        proxy.mirrored(MirrorOutcome::Sent)
    );
    let (primary, mirrored) = (v1.calls(), v2.calls());
    assert_eq!(primary.len(), 5);
    for (i, (p, m)) in primary.iter().zip(&mirrored).enumerate() {
        assert_eq!(
            m.messages, p.messages,
            "call {i}: the same message, decoded"
        );
        assert_eq!(m.messages, vec![grpc::number(i as i64 + 1)]);
        assert_eq!((p.path.as_str(), m.path.as_str()), (SQUARE, SQUARE));
        assert_eq!(m.header("te"), "trailers", "gRPC needs te: trailers");
        assert_eq!(m.header("content-type"), "application/grpc");
        assert_eq!(p.authority, HOST);
        assert_eq!(m.authority, "grpcsvc-shadow");
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_client_stream_is_mirrored_whole_after_the_client_finished() {
    let (v1, v2) = (
        grpc::server("v1").run().await,
        grpc::server("v2").run().await,
    );
    let proxy = proxy_for(&v1, v2.port()).await;
    let mut client = client(&proxy).await;
    let values: Vec<i64> = (1..=8).collect();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let stream = grpc::paced(values.clone(), Duration::from_millis(40), done_tx);
    let reply = client.sum(stream).await.expect("the call succeeds");
    let finished = done_rx.await.unwrap();
    assert_eq!(reply.get_ref().version, "v1");
    assert_eq!((reply.get_ref().value, reply.get_ref().count), (36, 8));
    assert_eventually!(v2.count() == 1, "the mirror got the call");
    let (primary, mirrored) = (&v1.calls()[0], &v2.calls()[0]);
    let expected: Vec<_> = values.into_iter().map(grpc::number).collect();
    assert_eq!(primary.messages, expected, "the primary got all 8 messages");
    assert_eq!(mirrored.messages, expected, "the mirror got all 8 messages");
    assert_eq!(mirrored.path, SUM);
    assert_eq!(mirrored.header("te"), "trailers");
    assert!(
        primary.started < finished,
        "the primary's call streams through as the client sends"
    );
    assert!(
        mirrored.started >= finished,
        "the copy is sent only once the client's stream ended"
    );
    assert_eventually!(proxy.mirrored(MirrorOutcome::Sent) == 1, "sent");
    proxy.shutdown().await;
}

#[tokio::test]
async fn an_error_status_reaches_the_client_and_the_metrics_say_grpc() {
    let v1 = grpc::server("v1")
        .fail(Code::NotFound, "no such number")
        .run()
        .await;
    let v2 = grpc::server("v2").run().await;
    let proxy = proxy_for(&v1, v2.port()).await;
    let mut client = client(&proxy).await;
    for i in 0..3 {
        let status = client.square(i).await.expect_err("v1 fails every call");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert_eq!(status.message(), "no such number");
    }
    assert_eventually!(v2.count() == 3, "failing calls are mirrored too");
    assert_eventually!(proxy.mirrored(MirrorOutcome::Sent) == 3, "sent");
    let metrics = proxy.metrics().await;
    let series = |version, reporter| {
        let labels = [
            ("reporter", reporter),
            ("destination_version", version),
            ("request_protocol", "grpc"),
            ("response_code", "200"),
            // Not filled in today: gRPC's status lives in the trailers, which the metrics do
            // not read.
            ("grpc_response_status", ""),
        ];
        metrics.sum("istio_requests_total", &labels)
    };
    for reporter in ["source", "destination"] {
        assert_eq!(series("v1", reporter), 3.0, "{}", metrics.text);
        assert_eq!(series("v2", reporter), 3.0, "{}", metrics.text);
    }
    let http = [("request_protocol", "http")];
    assert_eq!(metrics.sum("istio_requests_total", &http), 0.0);
    proxy.shutdown().await;
}

#[tokio::test]
async fn an_error_status_sent_in_trailers_reaches_the_client() {
    let v1 = grpc::server("v1")
        .fail_in_trailers(Code::NotFound, "not in trailers-only")
        .run()
        .await;
    let v2 = grpc::server("v2").run().await;
    let proxy = proxy_for(&v1, v2.port()).await;
    let mut client = client(&proxy).await;
    let status = client.square(7).await.expect_err("v1 fails the call");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.message(), "not in trailers-only");
    assert_eventually!(v2.count() == 1, "the failing call is mirrored");
    proxy.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_on_one_connection_are_each_mirrored_whole() {
    let (v1, v2) = (
        grpc::server("v1").run().await,
        grpc::server("v2").run().await,
    );
    let proxy = proxy_for(&v1, v2.port()).await;
    let client = client(&proxy).await;
    let calls = (0..20).map(|i| {
        let mut client = client.clone();
        async move { (i, client.square(i).await) }
    });
    for (i, reply) in futures_util::future::join_all(calls).await {
        let reply = reply.expect("the call succeeds");
        assert_eq!(
            (reply.get_ref().version.as_str(), reply.get_ref().value),
            ("v1", i * i)
        );
    }
    assert_eventually!(v2.count() == 20, "the mirror got {} calls", v2.count());
    let calls = v2.calls();
    assert!(
        calls.iter().all(|c| c.messages.len() == 1),
        "one message each"
    );
    let mut values: Vec<i64> = calls.iter().map(|c| c.messages[0].value).collect();
    values.sort_unstable();
    assert_eq!(
        values,
        (0..20).collect::<Vec<_>>(),
        "each copy is its own call's"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_stream_over_the_mirror_body_limit_reaches_only_the_primary() {
    let (v1, v2) = (
        grpc::server("v1").run().await,
        grpc::server("v2").run().await,
    );
    let proxy = proxy_builder(&v1, v2.port())
        .mirror_body_limit(64 * 1024)
        .run()
        .await;
    let mut client = client(&proxy).await;
    let messages: Vec<_> = (1..=10).map(|i| grpc::padded(i, 16 * 1024)).collect();
    let stream = futures_util::stream::iter(messages.clone());
    let reply = client.sum(stream).await.expect("the call succeeds");
    assert_eq!((reply.get_ref().value, reply.get_ref().count), (55, 10));
    assert_eq!(
        v1.calls()[0].messages,
        messages,
        "the primary got 160 KiB whole"
    );
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::SkippedBodyTooLarge) == 1,
        "the copy was cut off"
    );
    // A small call afterwards is mirrored: only the big one was skipped.
    client.square(3).await.expect("the call succeeds");
    assert_eventually!(v2.count() == 1, "the small call is mirrored");
    assert_eq!(v2.calls()[0].messages, vec![grpc::number(3)]);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_stream_the_client_cancels_is_cancelled_upstream_and_never_mirrored() {
    let (v1, v2) = (
        grpc::server("v1").run().await,
        grpc::server("v2").run().await,
    );
    let proxy = proxy_for(&v1, v2.port()).await;
    let mut client = client(&proxy).await;
    // Three messages, then the client gives up while the stream is still open.
    let stream = futures_util::stream::iter((1..=3).map(grpc::number));
    let stream = futures_util::StreamExt::chain(stream, futures_util::stream::pending());
    let call = tokio::time::timeout(Duration::from_millis(300), client.sum(stream)).await;
    assert!(call.is_err(), "the call was still streaming");
    assert_eventually!(
        v1.broken() == 1,
        "the primary's stream is cancelled too (broken: {})",
        v1.broken()
    );
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::ClientAborted) == 1,
        "the copy is dropped, not sent cut"
    );
    assert_eq!(v2.count() + v2.broken(), 0, "the mirror never saw the call");
    // The connection still serves calls.
    let reply = client.square(4).await.expect("the call succeeds");
    assert_eq!(reply.get_ref().value, 16);
    assert_eventually!(v2.count() == 1, "and mirrors them");
    proxy.shutdown().await;
}

#[tokio::test]
async fn twenty_calls_never_wait_for_a_mirror_that_takes_two_seconds() {
    let v1 = grpc::server("v1").run().await;
    let v2 = grpc::server("v2").delay(Duration::from_secs(2)).run().await;
    let proxy = proxy_for(&v1, v2.port()).await;
    let mut client = client(&proxy).await;
    let start = Instant::now();
    for i in 0..20 {
        let call = Instant::now();
        let reply = client.square(i).await.expect("the call succeeds");
        assert_eq!(reply.get_ref().version, "v1");
        let took = call.elapsed();
        assert!(took < Duration::from_millis(500), "call {i} took {took:?}");
    }
    let all = start.elapsed();
    // Had any call waited for its copy, the 20 calls would take 40 s; they end before the
    // mirror has answered even its first copy.
    assert_eq!(
        v2.answered(),
        0,
        "all 20 calls done in {all:?}, before any mirror answer"
    );
    assert!(all < Duration::from_secs(2), "20 calls took {all:?}");
    assert_eventually!(v2.count() == 20, "the mirror got {} calls", v2.count());
    assert_eventually!(
        within Duration::from_secs(10),
        proxy.mirrored(MirrorOutcome::Sent) == 20,
        "sent: {}",
        proxy.mirrored(MirrorOutcome::Sent)
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_dead_primary_is_unavailable_to_the_client() {
    let v2 = grpc::server("v2").run().await;
    let files = grpc_service(refusing_port().await, v2.port());
    let proxy = proxy::with_config(files).run().await;
    let mut client = client(&proxy).await;
    let status = client.square(2).await.expect_err("nobody answers");
    // The proxy's 503 (UF) reaches a gRPC client as Envoy sends it: trailers-only, UNAVAILABLE
    // (which gRPC clients may retry), the reason in `grpc-message`.
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("connect"), "{status:?}");
    let metrics = proxy.metrics().await;
    let labels = [
        ("reporter", "source"),
        ("destination_version", "v1"),
        ("request_protocol", "grpc"),
        ("response_code", "503"),
        ("response_flags", "UF"),
    ];
    let failed = metrics.sum("istio_requests_total", &labels);
    assert_eq!(
        failed, 1.0,
        "recorded as the 503 UF it is: {}",
        metrics.text
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_dead_mirror_never_fails_a_call() {
    let v1 = grpc::server("v1").run().await;
    let proxy = proxy_for(&v1, refusing_port().await).await;
    v1_answers(&proxy, 10).await;
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::ConnectError) == 10,
        "connect errors: {}",
        proxy.mirrored(MirrorOutcome::ConnectError)
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_that_resets_its_streams_never_fails_a_call() {
    let v1 = grpc::server("v1").run().await;
    let v2 = grpc::server("v2").reset_streams().run().await;
    let proxy = proxy_for(&v1, v2.port()).await;
    v1_answers(&proxy, 10).await;
    assert_eventually!(v2.count() == 10, "each copy arrived whole before the reset");
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Reset) == 10,
        "resets: {}",
        proxy.mirrored(MirrorOutcome::Reset)
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_that_drops_its_connections_never_fails_a_call() {
    let v1 = grpc::server("v1").run().await;
    let v2 = backend::http1("v2").reset().run().await;
    let proxy = proxy_for(&v1, v2.port()).await;
    v1_answers(&proxy, 10).await;
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Reset) == 10,
        "resets: {}",
        proxy.mirrored(MirrorOutcome::Reset)
    );
    assert!(v2.accepted() >= 1);
    proxy.shutdown().await;
}
