//! User story: "a stuck or picky mirror never costs my users or my memory": mirrors get their
//! whole body or nothing (over the body limit, or the client went away: not sent at all), a
//! mirror that never reads holds at most `--mirror-memory` and its connections are closed after
//! the mirror timeout; and a slow upload is not timed out while it is still sending, only once
//! it stalls (408 `SI`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::Instant;

use crate::assert_eventually;
use crate::hostile::{ALL_OF_WEB, abort_mid_body, counted, ejected, web};
use crate::support::backend;
use crate::support::proxy;
use crate::support::raw::{Sink, read_until_close, status_line};
use shadowmesh::proxy::mirror::MirrorOutcome;

/// Everything to subset `ok`, mirrored to subset `shadow`.
const MIRRORED: &str = "  - route: [{destination: {host: web, subset: ok}}]\n    mirror: {host: web, subset: shadow}\n";

/// Bytes of each upload in the bounded-memory story.
const UPLOAD: usize = 1536 * 1024;

/// POSTs `len` bytes to `web` through `proxy` on a fresh connection: half of them, then (once
/// every upload of the wave has sent its half, and the proxy has had time to read them) the
/// rest; returns the raw answer.
async fn upload_in_halves(
    proxy: std::net::SocketAddr,
    len: usize,
    halves_in: Arc<Barrier>,
) -> String {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nhost: web\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b'x'; len / 2]).await.unwrap();
    halves_in.wait().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(&vec![b'x'; len - len / 2]).await.unwrap();
    read_until_close(&mut s, Duration::from_secs(5)).await.0
}

#[tokio::test]
async fn a_mirror_that_never_reads_holds_bounded_memory_and_is_cut_off() {
    let ok = backend::http1("ok").run().await;
    let sink = Sink::start().await;
    let endpoints = [("ok", ok.port()), ("shadow", sink.addr.port())];
    let proxy = proxy::with_config(web(&endpoints, MIRRORED))
        .mirror_memory(4 << 20)
        .mirror_body_limit(2 << 20)
        .mirror_timeout(Duration::from_secs(1))
        .run()
        .await;
    let started = Instant::now();
    for _wave in 0..3 {
        let halves_in = Arc::new(Barrier::new(8));
        let uploads = (0..8).map(|_| upload_in_halves(proxy.addr(), UPLOAD, halves_in.clone()));
        for answer in join_all(uploads).await {
            assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
        }
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "24 x 1.5 MiB uploads took {took:?}"
    );
    assert_eq!(ok.count(), 24);
    assert!(ok.seen().iter().all(|s| s.body.len() == UPLOAD));
    let overflow = proxy.mirrored(MirrorOutcome::DroppedOverflow);
    assert!(
        overflow >= 9,
        "8 half-sent copies want 6 MiB of a 4 MiB budget: at least 3 a wave dropped, {overflow} were"
    );
    assert_eventually!(
        within Duration::from_secs(5),
        proxy.mirrors_in_flight() == 0,
        "stuck mirrors end with the mirror timeout"
    );
    let timed_out = proxy.mirrored(MirrorOutcome::Timeout) + proxy.mirrored(MirrorOutcome::Reset);
    assert_eq!(timed_out + overflow, 24, "every copy is accounted for");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let accepted = sink.accepted();
    assert!(
        accepted >= 1 && accepted as u64 <= timed_out,
        "{accepted} mirror connections"
    );
    let closed = sink.closed_by_peer(Duration::from_secs(3)).await;
    assert_eq!(
        closed, accepted,
        "the proxy closed its stalled mirror connections"
    );
}

#[tokio::test]
async fn a_mirror_gets_the_whole_body_or_nothing() {
    let ok = backend::http1("ok").run().await;
    let shadow = backend::http1("shadow").run().await;
    let endpoints = [("ok", ok.port()), ("shadow", shadow.port())];
    let proxy = proxy::with_config(web(&endpoints, MIRRORED))
        .mirror_body_limit(1024)
        .run()
        .await;
    let client = proxy.client().host("web");
    let chunks = vec![Bytes::from(vec![b'c'; 1000]); 4];
    let chunked = client.post("/chunked").stream(chunks).send().await;
    assert_eq!(chunked.status, 200);
    assert_eq!(ok.seen()[0].body.len(), 4000, "the primary gets it all");
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::SkippedBodyTooLarge) == 1,
        "a chunked body over the limit is not mirrored"
    );
    let head = b"POST /cut HTTP/1.1\r\nHost: web\r\nContent-Length: 1000\r\n\r\nten bytes!";
    abort_mid_body(proxy.addr(), head).await;
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::ClientAborted) == 1,
        "a copy of an aborted request is not sent"
    );
    let small = client.post("/small").body("0123456789").send().await;
    assert_eq!(small.status, 200);
    assert_eventually!(shadow.count() == 1, "a whole small body is mirrored");
    assert_eq!(shadow.seen()[0].path, "/small");
    assert_eq!(&shadow.seen()[0].body[..], b"0123456789");
    assert_eq!(
        shadow.accepted(),
        1,
        "the mirror never saw the cut or oversized requests"
    );
}

/// Sends a `len`-byte body in `chunk`-byte pieces `every` apart; the answer.
async fn trickle_upload(
    addr: std::net::SocketAddr,
    len: usize,
    chunk: usize,
    every: Duration,
) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /slow HTTP/1.1\r\nHost: web\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..len / chunk {
        tokio::time::sleep(every).await;
        s.write_all(&vec![b'u'; chunk]).await.unwrap();
    }
    read_until_close(&mut s, Duration::from_secs(5)).await.0
}

#[tokio::test]
async fn the_route_timeout_starts_after_the_upload_and_a_stalled_upload_gets_408() {
    let ok = backend::http1("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], ALL_OF_WEB))
        .request_timeout(Duration::from_secs(1))
        .upload_idle_timeout(Duration::from_millis(500))
        .run()
        .await;
    let started = Instant::now();
    let answer = trickle_upload(proxy.addr(), 3000, 100, Duration::from_millis(100)).await;
    assert!(started.elapsed() > Duration::from_millis(2900));
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 200"),
        "a 3 s upload: {answer}"
    );
    assert_eq!(ok.seen()[0].body.len(), 3000);
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let stalled = b"POST /stalled HTTP/1.1\r\nHost: web\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nten bytes!";
    s.write_all(stalled).await.unwrap();
    let (answer, _) = read_until_close(&mut s, Duration::from_secs(3)).await;
    let took = started.elapsed();
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 408"),
        "stalled upload: {answer}"
    );
    assert!(took < Duration::from_millis(1500), "408 after {took:?}");
    let si = [("response_flags", "SI"), ("response_code", "408")];
    assert!(counted(&proxy, &si, 1.0).await, "408 SI");
    assert_eq!(ejected(&proxy).await, 0.0);
}

#[tokio::test]
async fn an_upstream_that_stops_reading_the_upload_gets_504_not_a_hang() {
    let sink = Sink::start().await;
    let proxy = proxy::with_config(web(&[("ok", sink.addr.port())], ALL_OF_WEB))
        .upload_idle_timeout(Duration::from_millis(500))
        .run()
        .await;
    let started = Instant::now();
    let s = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut reader, mut writer) = s.into_split();
    let len = 64 << 20;
    let head = format!("POST /big HTTP/1.1\r\nHost: web\r\nContent-Length: {len}\r\n\r\n");
    writer.write_all(head.as_bytes()).await.unwrap();
    // Write until the kernel buffers fill (the upstream reads nothing) or the proxy gives up.
    let uploading = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        while writer.write_all(&chunk).await.is_ok() {}
    });
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut answer))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let took = started.elapsed();
    uploading.abort();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 504"),
        "an upstream reading nothing: {answer}"
    );
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let ut = [("response_flags", "UT"), ("response_code", "504")];
    assert!(
        counted(&proxy, &ut, 1.0).await,
        "504 UT, counted against the upstream"
    );
}
