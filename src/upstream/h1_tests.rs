//! The HTTP/1.1 pool against real backends on loopback: connections reused, a connection the
//! peer closed while idle replaced without the request failing, idle connections closed after
//! their timeout, and a connection whose response was abandoned never reused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
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
    let body = crate::upstream::empty_body();
    let uri = format!("http://{addr}/check");
    http::Request::get(uri).body(body).unwrap()
}

/// One GET through `upstreams`; the body read to its end (or not) and dropped.
async fn get(upstreams: &Upstreams, addr: SocketAddr, policy: &ClusterPolicy, read_body: bool) {
    let endpoint = addr.to_string().parse().unwrap();
    let sent = upstreams.send_request(Protocol::Http1, policy, &endpoint, request(addr), false);
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

/// A backend on loopback serving each connection it accepts with `serve`, in a task of its
/// own; counts the connections.
pub(super) async fn counting_backend<F, Fut>(serve: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn a_chunked_response_with_trailers_leaves_its_connection_reusable() {
    let (addr, accepted) = counting_backend(|mut stream| async move {
        let mut buf = [0u8; 1024];
        while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {
            let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-t: 1\r\n\r\n";
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
    })
    .await;
    let upstreams = Upstreams::default();
    let endpoint = addr.to_string().parse().unwrap();
    let policy = ClusterPolicy::default();
    for _ in 0..3 {
        let sent =
            upstreams.send_request(Protocol::Http1, &policy, &endpoint, request(addr), false);
        let mut body = sent.await.unwrap().into_body();
        // Read as hyper's server reads it: it stops after the trailers.
        while let Some(frame) = body.frame().await {
            if frame.unwrap().is_trailers() {
                break;
            }
        }
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// A backend that answers each request after `delay`, keeping every connection open until
/// `close` is notified, then closing them all at once (a server restarting).
async fn closes_all_on_signal(delay: Duration) -> (SocketAddr, Arc<tokio::sync::Notify>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let close = Arc::new(tokio::sync::Notify::new());
    let closing = close.clone();
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        let accepting = async {
            while let Ok((mut stream, _)) = listener.accept().await {
                conns.spawn(async move {
                    let mut buf = [0u8; 1024];
                    while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {
                        tokio::time::sleep(delay).await;
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    std::future::pending::<()>().await;
                });
            }
        };
        tokio::select! {
            () = accepting => {}
            () = closing.notified() => {}
        }
        conns.shutdown().await;
    });
    (addr, close)
}

#[tokio::test]
async fn hundreds_of_idle_connections_their_peer_closed_are_all_closed_by_the_next_reap() {
    const CONNS: usize = 400;
    let (addr, close) = closes_all_on_signal(Duration::from_millis(300)).await;
    let upstreams = Upstreams::default();
    let policy = ClusterPolicy::default();
    let all = (0..CONNS).map(|_| get(&upstreams, addr, &policy, true));
    futures_util::future::join_all(all).await;
    let idle = || {
        let pools = upstreams.shard().h1.idle.lock().unwrap();
        pools.values().map(Vec::len).sum::<usize>()
    };
    assert_eq!(idle(), CONNS, "each request had a connection of its own");
    close.notify_one();
    // The reaper ticks once a second: one tick at least after the close.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(idle(), 0, "every closed connection reaped in one tick");
}

impl Upstreams {
    /// [`Self::send`] with a whole request (as tests build them).
    pub(crate) async fn send_request(
        &self,
        protocol: crate::model::cluster::Protocol,
        policy: &crate::model::cluster::ClusterPolicy,
        endpoint: &http::uri::Authority,
        req: http::Request<UpstreamBody>,
        mirror: bool,
    ) -> Result<http::Response<super::ResponseBody>, crate::upstream::UpstreamError> {
        let (head, body) = req.into_parts();
        (self.send(protocol, policy, endpoint, (&head, body), mirror)).await
    }
}
