//! gRPC over h2c with real tonic, no codegen: the messages are hand-written prost structs, the
//! service `shadowmesh.test.Calc` has a unary `Square` and a client-streaming `Sum`.
//!
//! - [`server`]`("v1").run().await`: a tonic server (`tonic::server::Grpc` with hand-written
//!   handlers, served by hyper's HTTP/2 server) that records every call it got, whole
//!   ([`Call`]); `.delay(d)`, `.fail(code, message)` and `.reset_streams()` change how it answers;
//! - [`GrpcClient::connect`]`(proxy_addr, "grpcsvc")`: a tonic client (`tonic::client::Grpc`
//!   with `ProstCodec`) on one h2c connection with prior knowledge, `:authority` the given host.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use http::uri::PathAndQuery;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tonic::codec::Streaming;
use tonic::server::{ClientStreamingService, UnaryService};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;

/// `Square`'s and `Sum`'s request message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Number {
    #[prost(int64, tag = "1")]
    pub value: i64,
    #[prost(string, tag = "2")]
    pub note: String,
}

/// The answer: who answered, the result, and how many messages it was computed from.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reply {
    #[prost(string, tag = "1")]
    pub version: String,
    #[prost(int64, tag = "2")]
    pub value: i64,
    #[prost(uint32, tag = "3")]
    pub count: u32,
}

/// The unary method's path.
pub const SQUARE: &str = "/shadowmesh.test.Calc/Square";
/// The client-streaming method's path.
pub const SUM: &str = "/shadowmesh.test.Calc/Sum";

/// A number message.
pub fn number(value: i64) -> Number {
    Number {
        value,
        note: format!("number {value}"),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Answer = Result<tonic::Response<Reply>, Status>;

/// One call a server received, recorded once its request stream ended.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method path.
    pub path: String,
    /// `:authority`.
    pub authority: String,
    /// The request headers (`te`, `content-type`, ...).
    pub headers: http::HeaderMap,
    /// Every request message, decoded.
    pub messages: Vec<Number>,
    /// When the request's headers arrived.
    pub started: Instant,
}

impl Call {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        (self.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// How a server answers.
#[derive(Debug, Clone, PartialEq)]
enum Behavior {
    Answer,
    Delay(Duration),
    Fail(Code, String),
    /// Read the whole call, then reset the stream (`RST_STREAM`) instead of answering.
    ResetStream,
}

/// A gRPC server to be started: see the module docs.
#[must_use]
pub struct Builder {
    version: String,
    behavior: Behavior,
}

/// A server answering `Reply { version, .. }` with `grpc-status: 0`.
pub fn server(version: &str) -> Builder {
    Builder {
        version: version.to_string(),
        behavior: Behavior::Answer,
    }
}

impl Builder {
    /// Answers after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.behavior = Behavior::Delay(delay);
        self
    }

    /// Answers every call with the status `code` and `message`.
    pub fn fail(mut self, code: Code, message: &str) -> Self {
        self.behavior = Behavior::Fail(code, message.to_string());
        self
    }

    /// Reads each call whole, then resets its stream.
    pub fn reset_streams(mut self) -> Self {
        self.behavior = Behavior::ResetStream;
        self
    }

    /// Binds `127.0.0.1:0` and serves h2c until the test ends.
    pub async fn run(self) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server {
            addr: listener.local_addr().unwrap(),
            version: self.version,
            behavior: self.behavior,
            calls: Arc::default(),
            answered: Arc::default(),
        };
        tokio::spawn(accept_loop(listener, server.clone()));
        server
    }
}

/// A running gRPC server (cheap to clone; clones share the records).
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    version: String,
    behavior: Behavior,
    calls: Arc<Mutex<Vec<Call>>>,
    answered: Arc<AtomicUsize>,
}

impl Server {
    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every call received whole so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Calls received whole so far.
    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Calls answered so far (after any delay).
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

async fn accept_loop(listener: TcpListener, server: Server) {
    while let Ok((stream, _)) = listener.accept().await {
        let server = server.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| serve(req, server.clone()));
            let http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            let _ = http2.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

/// One call: tonic decodes it and encodes the answer; an error resets the stream.
async fn serve(
    req: http::Request<Incoming>,
    server: Server,
) -> Result<http::Response<tonic::body::Body>, BoxError> {
    let uri = req.uri().clone();
    let handler = Handler {
        server: server.clone(),
        path: uri.path().to_string(),
        authority: uri.authority().map(ToString::to_string).unwrap_or_default(),
        headers: req.headers().clone(),
        started: Instant::now(),
    };
    let mut grpc = tonic::server::Grpc::new(ProstCodec::<Reply, Number>::default());
    let response = match uri.path() {
        SQUARE => grpc.unary(handler, req).await,
        SUM => grpc.client_streaming(handler, req).await,
        _ => Status::unimplemented(uri.path()).into_http(),
    };
    if server.behavior == Behavior::ResetStream {
        return Err("resetting the stream, as told".into());
    }
    Ok(response)
}

/// Handles one call of either method.
#[derive(Clone)]
struct Handler {
    server: Server,
    path: String,
    authority: String,
    headers: http::HeaderMap,
    started: Instant,
}

impl Handler {
    /// Records the call, then answers as the server's behavior says.
    async fn answer(self, messages: Vec<Number>) -> Answer {
        let server = self.server;
        let value = match self.path.as_str() {
            SQUARE => messages.iter().map(|m| m.value * m.value).sum(),
            _ => messages.iter().map(|m| m.value).sum(),
        };
        let count = u32::try_from(messages.len()).unwrap();
        server.calls.lock().unwrap().push(Call {
            path: self.path,
            authority: self.authority,
            headers: self.headers,
            messages,
            started: self.started,
        });
        let answer = match &server.behavior {
            Behavior::Fail(code, message) => Err(Status::new(*code, message.clone())),
            Behavior::Delay(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            Behavior::Answer | Behavior::ResetStream => Ok(()),
        };
        server.answered.fetch_add(1, Ordering::SeqCst);
        answer?;
        let version = server.version.clone();
        let mut response = tonic::Response::new(Reply {
            version: version.clone(),
            value,
            count,
        });
        let served_by = version.parse().unwrap();
        response.metadata_mut().insert("x-served-by", served_by);
        Ok(response)
    }
}

impl UnaryService<Number> for Handler {
    type Response = Reply;
    type Future = BoxFuture<Answer>;

    fn call(&mut self, request: tonic::Request<Number>) -> Self::Future {
        Box::pin(self.clone().answer(vec![request.into_inner()]))
    }
}

impl ClientStreamingService<Number> for Handler {
    type Response = Reply;
    type Future = BoxFuture<Answer>;

    fn call(&mut self, request: tonic::Request<Streaming<Number>>) -> Self::Future {
        let handler = self.clone();
        Box::pin(async move {
            let mut stream = request.into_inner();
            let mut messages = Vec::new();
            while let Some(message) = stream.message().await? {
                messages.push(message);
            }
            handler.answer(messages).await
        })
    }
}

/// A tonic client on one h2c connection (prior knowledge).
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
