//! The tonic client: `tonic::client::Grpc` with `ProstCodec` on hyper's HTTP/2 connection
//! (h2c, prior knowledge), and [`paced`] client streams.

use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use http::uri::PathAndQuery;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tonic::Status;
use tonic_prost::ProstCodec;

use super::{Answer, BoxFuture, Number, Reply, SQUARE, SUM, number};

/// A tonic client on one h2c connection (prior knowledge); clones share the connection.
#[derive(Clone)]
pub struct GrpcClient {
    grpc: tonic::client::Grpc<H2c>,
}

impl GrpcClient {
    /// Connects to `addr`; every call carries `:authority: <authority>`.
    pub async fn connect(addr: SocketAddr, authority: &str) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let origin = format!("http://{authority}").parse().unwrap();
        Self {
            grpc: tonic::client::Grpc::with_origin(H2c(sender), origin),
        }
    }

    /// Calls `Square(value)`.
    pub async fn square(&mut self, value: i64) -> Answer {
        self.ready().await?;
        let request = tonic::Request::new(number(value));
        let path = PathAndQuery::from_static(SQUARE);
        self.grpc.unary(request, path, codec()).await
    }

    /// Calls `Sum` with the messages `stream` yields, sent as they come.
    pub async fn sum(&mut self, stream: impl Stream<Item = Number> + Send + 'static) -> Answer {
        self.ready().await?;
        let request = tonic::Request::new(stream);
        let path = PathAndQuery::from_static(SUM);
        self.grpc.client_streaming(request, path, codec()).await
    }

    async fn ready(&mut self) -> Result<(), Status> {
        (self.grpc.ready().await).map_err(|e| Status::unavailable(e.to_string()))
    }
}

fn codec() -> ProstCodec<Number, Reply> {
    ProstCodec::default()
}

/// hyper's HTTP/2 connection as the `tower::Service` tonic's client wants.
#[derive(Clone)]
struct H2c(hyper::client::conn::http2::SendRequest<tonic::body::Body>);

impl tower_service::Service<http::Request<tonic::body::Body>> for H2c {
    type Response = http::Response<Incoming>;
    type Error = hyper::Error;
    type Future = BoxFuture<Result<Self::Response, hyper::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

/// The messages of `values`, sent one every `gap`; `done` is told when the stream has ended.
pub fn paced(
    values: Vec<i64>,
    gap: Duration,
    done: tokio::sync::oneshot::Sender<Instant>,
) -> impl Stream<Item = Number> + Send + 'static {
    let state = (values.into_iter(), Some(done));
    futures_util::stream::unfold(state, move |(mut values, mut done)| async move {
        tokio::time::sleep(gap).await;
        match values.next() {
            Some(v) => Some((number(v), (values, done))),
            None => {
                if let Some(done) = done.take() {
                    let _ = done.send(Instant::now());
                }
                None
            }
        }
    })
}
