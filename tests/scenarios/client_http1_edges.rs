//! User story: "a client that does odd but legal things, or hostile ones, neither breaks my
//! connection nor the proxy": a head that never ends is refused at its limit (not buffered
//! until the header timeout), pipelined requests sent before a half-close are answered (all but
//! the one in flight when the close is seen, as Envoy and nginx do), an early answer to an
//! unread upload says `connection: close` before the proxy closes, a blank line after a body is
//! ignored, and a client that goes away while an answer streams lets the upstream go at once.
//! Each was found by a hostile test of the project's HTTP/1.1 server.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client_http1::web_with_one_backend;
use crate::hostile::{ALL_OF_WEB, web};
use crate::support::backend;
use crate::support::proxy;
use crate::support::raw::{exchange, read_until_close, send_and_read, status_line};

const PATIENCE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_head_that_never_ends_is_refused_at_its_limit_not_at_the_header_timeout() {
    let (ok, proxy) = web_with_one_backend().await;
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: web\r\nX: ")
        .await
        .unwrap();
    // 1 MiB of one header value, never a blank line (the limit is 64 KiB; the header timeout
    // is 60 s). The proxy stops reading once it refuses, so the writes may fail.
    let started = Instant::now();
    for _ in 0..16 {
        if s.write_all(&[b'a'; 64 * 1024]).await.is_err() {
            break;
        }
    }
    let (answer, closed) = read_until_close(&mut s, PATIENCE).await;
    assert!(closed, "{answer}");
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 431"),
        "{answer:.200}"
    );
    assert!(started.elapsed() < PATIENCE, "{:?}", started.elapsed());
    assert_eq!(ok.count(), 0);
}

#[tokio::test]
async fn pipelined_requests_sent_before_a_half_close_are_answered_up_to_the_last() {
    let (_backend, proxy) = web_with_one_backend().await;
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let requests = "GET /a HTTP/1.1\r\nHost: web\r\n\r\n\
                    POST /p HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\n\r\nhello\
                    GET /b HTTP/1.1\r\nHost: web\r\n\r\n";
    s.write_all(requests.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap();
    let (answer, closed) = read_until_close(&mut s, PATIENCE).await;
    assert!(closed, "{answer}");
    // Requests waiting behind others are answered; the last one is in flight when nothing
    // more is waiting and the close is seen, and like Envoy, nginx (499) and hyper the proxy
    // takes a half-close for a client gone away: it is dropped (`DC`).
    let answers: Vec<&str> = answer.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 2, "{answer}");
    assert!(answers.iter().all(|a| a.starts_with("200")), "{answer}");
    assert!(answers[1].contains(r#""body_len":5"#), "{answer}");
}

#[tokio::test]
async fn an_early_answer_to_an_unread_upload_says_the_connection_closes() {
    let (_backend, proxy) = web_with_one_backend().await;
    // An unknown host is answered 404 without reading the body the client holds back.
    let head =
        "POST /e HTTP/1.1\r\nHost: nosuch\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    let (answer, closed) = exchange(proxy.addr(), head.as_bytes(), PATIENCE).await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 404"), "{answer}");
    assert!(closed, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "the client is told, not surprised: {answer}"
    );
    // The same answer with the whole body already sent keeps the connection.
    let both = "POST /e HTTP/1.1\r\nHost: nosuch\r\nContent-Length: 5\r\n\r\nhello\
                GET /a HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n";
    let (answer, closed) = exchange(proxy.addr(), both.as_bytes(), PATIENCE).await;
    assert!(closed, "{answer}");
    let answers: Vec<&str> = answer.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 2, "{answer}");
    assert!(
        answers[0].starts_with("404") && answers[1].starts_with("200"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_blank_line_after_a_body_is_ignored_not_timed_out() {
    let ok = backend::http1("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], ALL_OF_WEB))
        .client_header_timeout(Duration::from_secs(1))
        .run()
        .await;
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let post = b"POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 2\r\n\r\nok\r\n";
    let first = send_and_read(&mut s, post, PATIENCE).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    s.write_all(b"GET /b HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_until_close(&mut s, PATIENCE).await;
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 200"),
        "no 408 for a blank line: {answer}"
    );
}

#[tokio::test]
async fn a_client_gone_while_the_answer_streams_lets_the_upstream_go() {
    // An upstream that starts a chunked answer, then stalls; it notes when its connection ends.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        let start = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n";
        s.write_all(start).await.unwrap();
        // Read until the proxy closes: a stall of 30 s on our side otherwise.
        let closed = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await;
        let _ = ended_tx.send((Instant::now(), closed.is_ok()));
    });
    let proxy = proxy::with_config(web(&[("slow", port)], ALL_OF_WEB))
        .run()
        .await;
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: web\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("first") {
        let n = tokio::time::timeout(PATIENCE, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    drop(s);
    let gone = Instant::now();
    let (ended, closed) = tokio::time::timeout(Duration::from_secs(10), ended_rx)
        .await
        .expect("the upstream's connection was held")
        .unwrap();
    assert!(closed, "the proxy never closed the upstream connection");
    assert!(ended - gone < Duration::from_secs(2), "{:?}", ended - gone);
}
