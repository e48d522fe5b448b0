//! Upstreams that answer before the request's body has all been sent (nginx's `return`, a
//! 413, a full-duplex server): the upload goes on whatever the client does with the answer,
//! and the connection is pooled again once both ways have ended.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::super::{UpstreamBody, Upstreams};
use super::tests::counting_backend;
use crate::model::cluster::{ClusterPolicy, Protocol};

/// A backend that answers as soon as it has a request's head (`answer_len` bytes of body,
/// written by a task of its own, as a full-duplex server does) and then reads the whole upload;
/// the bytes of upload it received come out of `received`.
async fn answers_before_the_upload(
    status: u16,
    answer_len: usize,
) -> (SocketAddr, tokio::sync::oneshot::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            read.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_lowercase();
        let upload: usize = head
            .split("content-length: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // The writing half is kept open until the upload is read (dropping it would close it).
        let writer = tokio::spawn(async move {
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: {answer_len}\r\n\r\n");
            write.write_all(answer.as_bytes()).await.unwrap();
            write.write_all(&vec![b'a'; answer_len]).await.unwrap();
            write
        });
        let mut received = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        while received < upload {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
        let _ = tx.send(received);
        let _open_until_now = writer.await;
    });
    (addr, rx)
}

/// A POST of `chunks` x 64 KiB whose body is fed through the returned sender.
fn streamed_post(
    addr: SocketAddr,
    chunks: usize,
) -> (
    http::Request<UpstreamBody>,
    tokio::sync::mpsc::Sender<bytes::Bytes>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(1);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok(http_body::Frame::data(chunk)), rx))
    });
    let body: UpstreamBody = http_body_util::StreamBody::new(frames).boxed_unsync();
    let request = http::Request::post(format!("http://{addr}/upload"))
        .header("content-length", chunks * 64 * 1024)
        .body(body)
        .unwrap();
    (request, tx)
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_lets_the_upload_finish_whatever_the_client_reads() {
    for (status, answer_len) in [(413, 0), (200, 4 << 20)] {
        let (addr, received) = answers_before_the_upload(status, answer_len).await;
        let upstreams = Upstreams::default();
        let endpoint = addr.to_string().parse().unwrap();
        let (request, feed) = streamed_post(addr, 64);
        let policy = ClusterPolicy::default();
        let sending = upstreams.send_request(Protocol::Http1, &policy, &endpoint, request, false);
        let feeding = async {
            for _ in 0..64 {
                feed.send(bytes::Bytes::from(vec![b'u'; 64 * 1024]))
                    .await
                    .unwrap();
            }
        };
        let both = async { tokio::join!(sending, feeding) };
        let (response, ()) = tokio::time::timeout(Duration::from_secs(10), both)
            .await
            .expect("the upload is taken while the answer waits unread");
        let response = response.expect("the early answer");
        assert_eq!(response.status(), status);
        drop(feed);
        let uploaded = tokio::time::timeout(Duration::from_secs(10), received).await;
        let uploaded = uploaded
            .expect("the upload goes on with the response unread")
            .unwrap();
        assert_eq!(uploaded, 64 * 64 * 1024);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), answer_len);
    }
}

/// A keep-alive backend that answers `ok` as soon as it has a request's head and only then
/// reads the body (as nginx's `return` does); counts the connections it accepted.
async fn answers_each_before_its_body() -> (SocketAddr, Arc<AtomicUsize>) {
    counting_backend(|mut stream| async move {
        loop {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read_exact(&mut byte).await.is_err() {
                    return;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_lowercase();
            let length = (head.split("content-length: ").nth(1))
                .and_then(|rest| rest.split("\r\n").next()?.parse().ok())
                .unwrap_or(0);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(answer).await.is_err() {
                return;
            }
            let mut body = vec![0u8; length];
            if stream.read_exact(&mut body).await.is_err() {
                return;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_connection_answered_before_its_upload_ended_is_reused_once_both_end() {
    let (addr, accepted) = answers_each_before_its_body().await;
    let upstreams = Upstreams::default();
    let endpoint = addr.to_string().parse().unwrap();
    let policy = ClusterPolicy::default();
    for _ in 0..3 {
        let (request, feed) = streamed_post(addr, 2);
        let sent = upstreams.send_request(Protocol::Http1, &policy, &endpoint, request, false);
        let response = sent.await.expect("the early answer");
        for _ in 0..2 {
            feed.send(bytes::Bytes::from(vec![b'u'; 64 * 1024]))
                .await
                .unwrap();
        }
        drop(feed);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
        // The upload ends in the task that carries it on; then the connection is pooled.
        for _ in 0..200 {
            if upstreams.pool_count() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            upstreams.pool_count(),
            1,
            "the connection went back to its pool"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one connection for all three"
    );
}
