//! A client of the proxy: `client.get(path).host(h).header(k, v).send().await` returns the
//! [`Answer`]; `.post(path).body(b)` and `.stream(chunks)` for bodies; [`H2c`] for an HTTP/2
//! client with prior knowledge; [`raw`] for hand-written request lines; [`fetch`] for a plain
//! GET of a URL (admin endpoints, Prometheus).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A plain HTTP/1.1 client of one proxy listener, with a default `Host`.
#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    host: String,
    hyper: Hyper<HttpConnector, Body>,
}

impl Client {
    /// A client of `addr`, sending `Host: calcbackendsvc` unless told otherwise.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: "calcbackendsvc".into(),
            hyper: Hyper::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The same client with another default `Host`.
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.to_string();
        self
    }

    /// A GET of `path` (with its query).
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request("GET", path)
    }

    /// Seed 000's question: a GET of `/api/calculation?number=<n>`.
    pub fn calculation(&self, n: impl std::fmt::Display) -> RequestBuilder {
        self.get(&format!("/api/calculation?number={n}"))
    }

    /// A POST of `path`.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request("POST", path)
    }

    /// A request with any method.
    pub fn request(&self, method: &str, path: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            method: method.to_string(),
            path: path.to_string(),
            host: self.host.clone(),
            headers: Vec::new(),
            body: Full::new(Bytes::new()).boxed_unsync(),
        }
    }
}

/// A request being built; [`RequestBuilder::send`] sends it.
#[must_use]
pub struct RequestBuilder {
    client: Client,
    method: String,
    path: String,
    host: String,
    headers: Vec<(String, String)>,
    body: Body,
}

impl RequestBuilder {
    /// The `Host` header.
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.to_string();
        self
    }

    /// Another header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `User-Agent`.
    pub fn user_agent(self, ua: &str) -> Self {
        self.header("user-agent", ua)
    }

    /// A body with a Content-Length.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Full::new(body.into()).boxed_unsync();
        self
    }

    /// A chunked body (no Content-Length): the proxy learns its size only while streaming.
    pub fn stream(mut self, chunks: Vec<Bytes>) -> Self {
        let frames = chunks.into_iter().map(|c| Ok(Frame::data(c)));
        self.body = StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync();
        self
    }

    /// Sends it and reads the whole answer.
    pub async fn send(self) -> Answer {
        let mut req = Request::builder()
            .method(self.method.as_str())
            .uri(format!("http://{}{}", self.client.addr, self.path))
            .header("host", self.host);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let resp = self
            .client
            .hyper
            .request(req.body(self.body).unwrap())
            .await
            .unwrap();
        Answer::read(resp).await
    }
}

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub http_version: Version,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    async fn read<B: http_body::Body>(resp: http::Response<B>) -> Self
    where
        B::Error: std::fmt::Debug,
    {
        let (status, http_version, headers) =
            (resp.status(), resp.version(), resp.headers().clone());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            http_version,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The `version` field of a backend's JSON answer.
    pub fn version(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        v["version"].as_str().unwrap_or("").to_string()
    }
}

/// An h2c client with prior knowledge on one connection.
pub struct H2c(hyper::client::conn::http2::SendRequest<Empty<Bytes>>);

impl H2c {
    /// Connects to `addr` and does the HTTP/2 handshake.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        Self(sender)
    }

    /// A GET of `url`, whose authority becomes `:authority`.
    pub async fn get(&mut self, url: &str) -> Answer {
        let req = Request::builder().uri(url).body(Empty::new()).unwrap();
        Answer::read(self.0.send_request(req).await.unwrap()).await
    }
}

/// Writes `request` as is to `addr` and reads until the proxy closes the connection.
pub async fn raw(addr: SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer
}

/// GET `url` and return status and body (none if the server does not answer).
pub async fn fetch(url: &str) -> Option<(StatusCode, String)> {
    let hyper: Hyper<HttpConnector, Empty<Bytes>> =
        Hyper::builder(TokioExecutor::new()).build_http();
    let req = Request::builder().uri(url).body(Empty::new()).ok()?;
    let resp = hyper.request(req).await.ok()?;
    let status = resp.status();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}
