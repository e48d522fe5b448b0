//! The HTTP/1.1 pool against real backends on loopback: connections reused, a connection the
//! peer closed while idle replaced without the request failing, idle connections closed after
//! their timeout, and a connection whose response was abandoned never reused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::super::{UpstreamBody, Upstreams};
use crate::model::cluster::{ClusterPolicy, Protocol};

/// A backend answering `ok` to every request of a connection, then, after `close_after`
/// answers, closing it (the way a server with a keep-alive limit does, without saying so).
/// Counts the connections it accepted and those its client closed.
struct Backend {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    closed_by_client: Arc<AtomicUsize>,
}

impl Backend {
    async fn start(close_after: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed_by_client = Arc::new(AtomicUsize::new(0));
        let (a, c) = (accepted.clone(), closed_by_client.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, close_after, c.clone()));
            }
        });
        Self {
            addr,
            accepted,
            closed_by_client,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Answers requests (heads only: the tests send no bodies) until `close_after` answers or the
/// client closes.
async fn serve(mut stream: TcpStream, close_after: usize, closed_by_client: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut answered = 0;
    let mut chunk = [0u8; 1024];
    while answered < close_after {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            closed_by_client.fetch_add(1, Ordering::SeqCst);
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            stream.write_all(answer).await.unwrap();
            answered += 1;
        }
    }
}

fn request(addr: SocketAddr) -> http::Request<UpstreamBody> {
    let body: UpstreamBody = Empty::new().map_err(|e| match e {}).boxed_unsync();
    let uri = format!("http://{addr}/check");
    http::Request::get(uri).body(body).unwrap()
}

/// One GET through `upstreams`; the body read to its end (or not) and dropped.
async fn get(upstreams: &Upstreams, addr: SocketAddr, policy: &ClusterPolicy, read_body: bool) {
    let endpoint = addr.to_string().parse().unwrap();
    let sent = upstreams.send(Protocol::Http1, policy, &endpoint, request(addr), false);
    let response = sent.await.expect("an answer");
    assert_eq!(response.status(), 200);
    if read_body {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
    }
}

#[tokio::test]
async fn requests_one_after_another_share_one_connection() {
    let backend = Backend::start(usize::MAX).await;
    let upstreams = Upstreams::default();
    for _ in 0..5 {
        get(&upstreams, backend.addr, &ClusterPolicy::default(), true).await;
    }
    assert_eq!(backend.accepted(), 1);
}

#[tokio::test]
async fn a_connection_the_peer_closed_while_idle_is_replaced_and_the_request_succeeds() {
    let backend = Backend::start(1).await;
    let upstreams = Upstreams::default();
    for _ in 0..3 {
        get(&upstreams, backend.addr, &ClusterPolicy::default(), true).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(backend.accepted(), 3, "one connection per answer");
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let backend = Backend::start(usize::MAX).await;
    let upstreams = Upstreams::default();
    let policy = ClusterPolicy {
        idle_timeout: Some(Duration::from_millis(200)),
        ..ClusterPolicy::default()
    };
    get(&upstreams, backend.addr, &policy, true).await;
    assert_eq!(backend.closed_by_client.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        backend.closed_by_client.load(Ordering::SeqCst),
        1,
        "the reaper closed it"
    );
    get(&upstreams, backend.addr, &policy, true).await;
    assert_eq!(backend.accepted(), 2);
}

#[tokio::test]
async fn a_response_dropped_unread_takes_its_connection_with_it() {
    let backend = Backend::start(usize::MAX).await;
    let upstreams = Upstreams::default();
    let policy = ClusterPolicy::default();
    get(&upstreams, backend.addr, &policy, false).await;
    get(&upstreams, backend.addr, &policy, true).await;
    get(&upstreams, backend.addr, &policy, true).await;
    assert_eq!(
        backend.accepted(),
        2,
        "the unread one closed, the read one reused"
    );
}
