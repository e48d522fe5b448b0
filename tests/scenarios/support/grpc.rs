//! gRPC over h2c with real tonic, no codegen: the messages are hand-written prost structs, the
//! service `shadowmesh.test.Calc` has a unary `Square` and a client-streaming `Sum`.
//!
//! - [`server`]`("v1").run().await`: a tonic server (`tonic::server::Grpc` with hand-written
//!   handlers, served by hyper's HTTP/2 server) that records every call it got, whole
//!   ([`Call`]); `.delay(d)`, `.fail(code, message)` (trailers-only, as tonic answers errors),
//!   `.fail_in_trailers(code, message)` (headers, then the status in trailers) and
//!   `.reset_streams()` change how it answers, `.fail_first(n, code, message)` fails only the
//!   first `n` calls (trailers-only);
//! - [`GrpcClient::connect`]`(proxy_addr, "grpcsvc")`: a tonic client (`tonic::client::Grpc`
//!   with `ProstCodec`) on one h2c connection with prior knowledge, `:authority` the given host.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tonic::codec::Streaming;
use tonic::server::{ClientStreamingService, UnaryService};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;

mod client;

pub use client::{GrpcClient, paced};

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

/// A number message carrying `bytes` bytes of padding in its note.
pub fn padded(value: i64, bytes: usize) -> Number {
    Number {
        value,
        note: "x".repeat(bytes),
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
    /// Answer `200` headers, no message, then the status in trailers.
    FailInTrailers(Code, String),
    /// Read the whole call, then reset the stream (`RST_STREAM`) instead of answering.
    ResetStream,
    /// Fail the first calls (trailers-only), answer the rest.
    FailFirst(usize, Code, String),
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

    /// Answers every call with headers, then `code` and `message` in trailers.
    pub fn fail_in_trailers(mut self, code: Code, message: &str) -> Self {
        self.behavior = Behavior::FailInTrailers(code, message.to_string());
        self
    }

    /// Answers the first `n` calls with the status `code` and `message`, the rest as usual.
    pub fn fail_first(mut self, n: usize, code: Code, message: &str) -> Self {
        self.behavior = Behavior::FailFirst(n, code, message.to_string());
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
            broken: Arc::default(),
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
    broken: Arc<AtomicUsize>,
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

    /// Calls whose request stream failed (reset or cancelled) before it ended.
    pub fn broken(&self) -> usize {
        self.broken.load(Ordering::SeqCst)
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
    match &server.behavior {
        Behavior::ResetStream => Err("resetting the stream, as told".into()),
        Behavior::FailInTrailers(code, message) => {
            Ok(status_in_trailers(&Status::new(*code, message.clone())))
        }
        _ => Ok(response),
    }
}

/// `200`, `content-type: application/grpc`, no message, then `status` in trailers.
fn status_in_trailers(status: &Status) -> http::Response<tonic::body::Body> {
    use http_body_util::BodyExt;
    let mut trailers = http::HeaderMap::new();
    status.add_header(&mut trailers).unwrap();
    let body = http_body_util::Empty::<bytes::Bytes>::new()
        .with_trailers(async move { Some(Ok::<_, Infallible>(trailers)) });
    let response = http::Response::builder().header("content-type", "application/grpc");
    response.body(tonic::body::Body::new(body)).unwrap()
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
        let index = {
            let mut calls = server.calls.lock().unwrap();
            calls.push(Call {
                path: self.path,
                authority: self.authority,
                headers: self.headers,
                messages,
                started: self.started,
            });
            calls.len() - 1
        };
        let answer = match &server.behavior {
            Behavior::Fail(code, message) => Err(Status::new(*code, message.clone())),
            Behavior::FailFirst(n, code, message) if index < *n => {
                Err(Status::new(*code, message.clone()))
            }
            Behavior::Delay(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            _ => Ok(()),
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
            loop {
                match stream.message().await {
                    Ok(Some(message)) => messages.push(message),
                    Ok(None) => break,
                    Err(status) => {
                        handler.server.broken.fetch_add(1, Ordering::SeqCst);
                        return Err(status);
                    }
                }
            }
            handler.answer(messages).await
        })
    }
}
