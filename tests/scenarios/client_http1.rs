//! User story: "my HTTP/1.1 clients get what HTTP/1.1 promises them through the proxy": an
//! `Expect: 100-continue` upload is told to go on before it sends its body, a HEAD answer carries
//! its length and no body and the connection goes on, pipelined requests are answered in order,
//! a request whose length cannot be known for sure (two different `Content-Length`s,
//! `Transfer-Encoding` on HTTP/1.0, not ending in `chunked`, or beside a `Content-Length`) is
//! refused before anything reaches a backend, and a head that stalls half way is answered 408
//! while a kept-alive connection waits for its next request until the idle timeout. Raw TCP, as these are about the bytes on the client's connection; they pin what the
//! project's HTTP/1.1 server does (docs/hyper-server-behaviours.md lists what else it does).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hostile::{ALL_OF_WEB, web};
use crate::support::backend::{self, Backend};
use crate::support::proxy::{self, Proxy};
use crate::support::raw::{exchange, read_until_close, send_and_read, status_line};

const PATIENCE: Duration = Duration::from_secs(5);

/// A proxy routing all of `web` to one plain HTTP/1.1 backend.
pub(crate) async fn web_with_one_backend() -> (Backend, Proxy) {
    let ok = backend::http1("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], ALL_OF_WEB))
        .run()
        .await;
    (ok, proxy)
}

#[tokio::test]
async fn an_expect_100_continue_upload_is_told_to_go_on_then_answered() {
    let (_backend, proxy) = web_with_one_backend().await;
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let head = "POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    // The client waits for the interim answer before it sends the body.
    let mut interim = Vec::new();
    let mut buf = [0u8; 256];
    while !interim.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, s.read(&mut buf))
            .await
            .expect("a 100 Continue before the body")
            .unwrap();
        assert!(n > 0, "closed before any answer");
        interim.extend_from_slice(&buf[..n]);
    }
    let interim = String::from_utf8_lossy(&interim).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    s.write_all(b"hello").await.unwrap();
    let (answer, closed) = read_until_close(&mut s, PATIENCE).await;
    assert!(closed, "{answer}");
    assert!(status_line(&answer).starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""body_len":5"#), "{answer}");
}

#[tokio::test]
async fn a_head_answer_has_its_length_and_no_body_and_pipelined_requests_go_on_in_order() {
    let (_backend, proxy) = web_with_one_backend().await;
    let requests = "HEAD /first HTTP/1.1\r\nHost: web\r\n\r\n\
                    GET /second HTTP/1.1\r\nHost: web\r\n\r\n\
                    GET /third HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n";
    let (answer, closed) = exchange(proxy.addr(), requests.as_bytes(), PATIENCE).await;
    assert!(closed, "{answer}");
    let answers: Vec<&str> = answer.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 3, "{answer}");
    assert!(answers.iter().all(|a| a.starts_with("200")), "{answer}");
    let head = answers[0].to_ascii_lowercase();
    assert!(head.contains("content-length: "), "{answer}");
    assert!(
        !head.contains("body_len"),
        "a HEAD answer has no body: {answer}"
    );
    assert!(answers[1].contains(r#""path":"/second""#), "{answer}");
    assert!(answers[2].contains(r#""path":"/third""#), "{answer}");
}

#[tokio::test]
async fn a_request_whose_length_is_ambiguous_is_refused_before_any_backend_sees_it() {
    let (ok, proxy) = web_with_one_backend().await;
    for request in [
        "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 5, 6\r\n\r\nhello!",
        // A list even of equal values: a proxy must not pass it on (RFC 9110 8.6).
        "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 3, 3\r\n\r\nabc",
        "POST / HTTP/1.0\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        // Both framings at once: a request-smuggling vector Envoy refuses (400) unless
        // `allow_chunked_length` is set.
        "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let (answer, closed) = exchange(proxy.addr(), request.as_bytes(), PATIENCE).await;
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 400"),
            "{request:?}: {answer}"
        );
        assert!(closed, "{request:?}: the connection is closed after a 400");
    }
    assert_eq!(ok.count(), 0, "nothing ambiguous was forwarded");
}

/// A kept-alive connection to `addr` whose one request was answered 200.
async fn connected_after_one_answer(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let first = send_and_read(
        &mut s,
        b"GET /first HTTP/1.1\r\nHost: web\r\n\r\n",
        PATIENCE,
    )
    .await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    s
}

#[tokio::test]
async fn a_stalled_head_gets_408_but_a_kept_alive_connection_waits_for_the_idle_timeout() {
    let ok = backend::http1("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], ALL_OF_WEB))
        .client_header_timeout(Duration::from_secs(1))
        .client_idle_timeout(Duration::from_secs(3))
        .run()
        .await;
    // Half a head, then nothing: Envoy's `request_headers_timeout` answers 408.
    let started = tokio::time::Instant::now();
    let (answer, closed) =
        exchange(proxy.addr(), b"GET / HTTP/1.1\r\nHost: web\r\n", PATIENCE).await;
    assert!(closed, "{answer}");
    assert!(status_line(&answer).starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    // A connection between requests is idle, not slow: it stays past the header timeout and
    // is closed at the idle timeout.
    let mut s = connected_after_one_answer(proxy.addr()).await;
    let answered = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    s.write_all(b"GET /second HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_close(&mut s, PATIENCE).await;
    assert!(
        closed && status_line(&answer).starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    let mut idle = connected_after_one_answer(proxy.addr()).await;
    let idle_since = tokio::time::Instant::now();
    let (_, closed) = read_until_close(&mut idle, Duration::from_secs(8)).await;
    let after = idle_since.elapsed();
    assert!(closed, "the idle connection was never closed");
    assert!(
        after >= Duration::from_millis(2500) && after < Duration::from_secs(6),
        "{after:?}"
    );
    assert!(answered.elapsed() > Duration::from_millis(1800));
}
