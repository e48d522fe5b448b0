//! The codec on real sockets against scripted upstreams: what goes on the wire for a body of
//! unknown size, and which answers leave their connection reusable (a 1xx before the answer,
//! a close-delimited body, HTTP/1.0, bytes nobody asked for after the body).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::super::wire::read_size::ReadSize;
use super::super::{UpstreamBody, Upstreams};
use crate::model::cluster::{ClusterPolicy, Protocol};

/// What a scripted upstream saw: each connection's requests, raw.
#[derive(Default)]
struct Seen {
    connections: Vec<Vec<String>>,
}

/// An upstream answering every request with `answer`, and closing the connection after it
/// when `close` is set. A request's body is read by its framing (length or chunks).
async fn scripted(answer: &'static [u8], close: bool) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let index = {
                let mut seen = record.lock().unwrap();
                seen.connections.push(Vec::new());
                seen.connections.len() - 1
            };
            let record = record.clone();
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut stream).await {
                    record.lock().unwrap().connections[index].push(request);
                    if stream.write_all(answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// One request, head and body, as text (`None`: the client closed).
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_lowercase();
    if head.contains("transfer-encoding: chunked") {
        while !raw.ends_with(b"\r\n0\r\n\r\n") && !raw.ends_with(b"\r\n\r\n0\r\n\r\n") {
            stream.read_exact(&mut byte).await.ok()?;
            raw.push(byte[0]);
        }
    } else if let Some(len) = head.split("content-length: ").nth(1) {
        let len: usize = len.split("\r\n").next()?.parse().ok()?;
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.ok()?;
        raw.extend_from_slice(&body);
    }
    Some(String::from_utf8_lossy(&raw).into_owned())
}

/// Sends `body` to `addr`; the answer's status and body.
async fn send(upstreams: &Upstreams, addr: SocketAddr, body: UpstreamBody) -> (u16, String) {
    let req = http::Request::post(format!("http://{addr}/up"))
        .header("host", "web")
        .body(body)
        .unwrap();
    let endpoint = addr.to_string().parse().unwrap();
    let policy = ClusterPolicy::default();
    let response = (upstreams.send_request(Protocol::Http1, &policy, &endpoint, req, false))
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

use crate::upstream::empty_body as empty;

/// A body of unknown size: its pieces as separate frames.
fn streamed(pieces: &[&'static str]) -> UpstreamBody {
    let frames = pieces
        .iter()
        .map(|p| Ok::<_, crate::upstream::BoxError>(http_body::Frame::data(Bytes::from(*p))));
    StreamBody::new(futures_util::stream::iter(frames.collect::<Vec<_>>())).boxed_unsync()
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[tokio::test]
async fn a_body_of_unknown_size_goes_in_chunks() {
    let (addr, seen) = scripted(OK, false).await;
    let upstreams = Upstreams::default();
    assert_eq!(
        send(&upstreams, addr, streamed(&["hello", " world"])).await,
        (200, "ok".into())
    );
    let seen = seen.lock().unwrap();
    let request = &seen.connections[0][0];
    assert!(request.starts_with("POST /up HTTP/1.1\r\n"), "{request}");
    assert!(
        request.contains("transfer-encoding: chunked\r\n"),
        "{request}"
    );
    assert!(
        request.ends_with("\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn answers_that_leave_the_connection_reusable_and_those_that_do_not() {
    let cases: [(&'static [u8], &str, usize); 5] = [
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            "ok",
            1,
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "ok",
            1,
        ),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", "ok", 2),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
            "ok",
            2,
        ),
        // Bytes after the body that nobody asked for: the connection cannot be trusted.
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokjunk",
            "ok",
            2,
        ),
    ];
    for (answer, body, connections) in cases {
        let (addr, seen) = scripted(answer, false).await;
        let upstreams = Upstreams::default();
        for _ in 0..2 {
            assert_eq!(
                send(&upstreams, addr, empty()).await,
                (200, body.to_string())
            );
        }
        let used = seen.lock().unwrap().connections.len();
        let shown = String::from_utf8_lossy(answer);
        assert_eq!(used, connections, "{shown}");
    }
}

#[tokio::test]
async fn a_close_delimited_body_is_read_to_the_close() {
    let (addr, seen) = scripted(b"HTTP/1.1 200 OK\r\n\r\nall of it", true).await;
    let upstreams = Upstreams::default();
    for _ in 0..2 {
        assert_eq!(
            send(&upstreams, addr, empty()).await,
            (200, "all of it".into())
        );
    }
    assert_eq!(seen.lock().unwrap().connections.len(), 2);
}

#[tokio::test]
async fn an_upload_failing_after_an_early_answer_ends_the_answer_in_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n";
        stream.write_all(answer).await.unwrap();
        // The answer never ends; the upload is read until the client gives up.
        while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let (feed, frames) = tokio::sync::mpsc::channel::<Result<Bytes, &'static str>>(1);
    let frames = futures_util::stream::unfold(frames, |mut rx| async move {
        let item = rx.recv().await?.map(http_body::Frame::data);
        Some((item.map_err(crate::upstream::BoxError::from), rx))
    });
    let body = StreamBody::new(frames).boxed_unsync();
    let req = http::Request::post(format!("http://{addr}/up"))
        .header("content-length", "100")
        .body(body)
        .unwrap();
    feed.send(Ok(Bytes::from_static(b"part"))).await.unwrap();
    let upstreams = Upstreams::default();
    let endpoint = addr.to_string().parse().unwrap();
    let policy = ClusterPolicy::default();
    let sent = upstreams.send_request(Protocol::Http1, &policy, &endpoint, req, false);
    let response = sent.await.expect("the early answer");
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "ok");
    feed.send(Err("the client went away")).await.unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await;
    let next = next.expect("the body does not hang");
    assert!(
        matches!(next, Some(Err(_))),
        "an error, not a clean end: {next:?}"
    );
}

#[tokio::test]
async fn a_write_that_fails_before_any_byte_went_out_gives_the_request_back() {
    // The peer resets the connection at once: the first write fails, nothing was sent, so the
    // request can go on another connection.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(std::time::Duration::ZERO));
        drop(stream);
    });
    let endpoint = addr.to_string().parse().unwrap();
    let second = std::time::Duration::from_secs(1);
    let io = super::super::connect(&endpoint, second, None, None)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut conn = super::Conn::new(io);
    let headers = http::HeaderMap::new();
    conn.start(&http::Method::GET, "/", &headers, empty());
    let failed = std::future::poll_fn(|cx| conn.poll_head(cx, &http::Method::GET)).await;
    let e = failed.expect_err("the connection was reset");
    assert!(conn.take_unsent().is_some(), "nothing was written ({e})");
}

#[tokio::test]
async fn a_connection_idle_after_a_large_answer_gives_up_its_grown_read_buffer() {
    let body = vec![b'a'; 512 * 1024];
    let mut answer =
        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(&body);
    let (addr, _) = scripted(Box::leak(answer.into_boxed_slice()), false).await;
    let endpoint = addr.to_string().parse().unwrap();
    let second = std::time::Duration::from_secs(1);
    let io = super::super::connect(&endpoint, second, None, None)
        .await
        .unwrap();
    let mut conn = super::Conn::new(io);
    conn.start(&http::Method::GET, "/", &http::HeaderMap::new(), empty());
    let head = std::future::poll_fn(|cx| conn.poll_head(cx, &http::Method::GET)).await;
    assert_eq!(head.expect("an answer").status, 200);
    let (mut read, mut grown) = (0, 0);
    while let Some(frame) = std::future::poll_fn(|cx| conn.poll_frame(cx)).await {
        read += frame.unwrap().into_data().map_or(0, |d| d.len());
        grown = grown.max(conn.read_buf.capacity());
    }
    assert_eq!(read, body.len());
    assert!(
        grown > 2 * ReadSize::MIN,
        "reads grew while the body streamed: {grown}"
    );
    assert!(conn.reusable(), "the exchange ended cleanly");
    assert!(
        conn.read_buf.capacity() <= ReadSize::MIN,
        "idle in its pool, it holds no grown buffer: {}",
        conn.read_buf.capacity()
    );
}
