//! Fake upstreams on loopback ports that record every request they receive:
//! `backend::http1("v1").run().await` answers JSON naming its version; `.delay(d)`, `.reset()`
//! and `.timestamped()` change how it answers (`backend::slow(v, d)` for short); `backend::h2c("v1")` speaks HTTP/2 only;
//! `backend::calc("v3").flaw(..)` is the real sample calculation service from `tools::sample`;
//! `.json(|seen| ..)` answers a body made from the request (floats, reordered arrays, ...),
//! `.gzip()` compresses the answer (`content-encoding: gzip`), `.tls(config)` serves over
//! TLS (what the handshake said is in [`Seen::tls`]; failed handshakes are counted), and
//! `.first(n, First::Status(503))` (or `First::Delay(d)`) changes only the first `n` answers
//! (a backend that recovers).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

use shadowmesh::tools::sample::{self, Flaw, SampleConfig};

/// What a backend saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: Version,
    /// `:authority` for HTTP/2, else the Host header.
    pub authority: String,
    /// The TLS handshake's SNI and ALPN, when the backend serves TLS.
    pub tls: Option<TlsSeen>,
}

/// What a TLS handshake told the backend.
#[derive(Debug, Clone, Default)]
pub struct TlsSeen {
    /// The SNI the client sent.
    pub sni: Option<String>,
    /// The ALPN protocol agreed.
    pub alpn: Option<String>,
}

impl Seen {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// How a backend answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behavior {
    /// 200 with a JSON body naming the version.
    Answer,
    /// Like `Answer`, after a delay.
    Delay(Duration),
    /// Accept, read the request head, then close the connection without answering.
    Reset,
    /// Like `Answer`, plus a random `timestamp` field (noise).
    Timestamped,
}

/// How the first answers of a recovering backend differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum First {
    /// Answer this status (with the usual JSON body).
    Status(u16),
    /// Answer after this delay.
    Delay(Duration),
}

/// Makes a JSON answer from what the backend saw.
type JsonFn = Arc<dyn Fn(&Seen) -> String + Send + Sync>;

/// A backend to be started: see the module docs.
#[must_use]
pub struct Builder {
    version: String,
    behavior: Behavior,
    h2_only: bool,
    json: Option<JsonFn>,
    gzip: bool,
    ip: &'static str,
    tls: Option<Arc<rustls::ServerConfig>>,
    first: Option<(usize, First)>,
}

/// A backend speaking HTTP/1.1 (and h2c, if a client asks with prior knowledge).
pub fn http1(version: &str) -> Builder {
    Builder {
        version: version.to_string(),
        behavior: Behavior::Answer,
        h2_only: false,
        json: None,
        gzip: false,
        ip: "127.0.0.1",
        tls: None,
        first: None,
    }
}

/// A running HTTP/1.1 backend that answers after `delay` (shorthand for
/// `http1(version).delay(delay).run()`).
pub async fn slow(version: &str, delay: Duration) -> Backend {
    http1(version).delay(delay).run().await
}

/// A backend speaking only h2c (HTTP/2 with prior knowledge).
pub fn h2c(version: &str) -> Builder {
    Builder {
        h2_only: true,
        ..http1(version)
    }
}

impl Builder {
    /// Answers 200 with `{"version", "path", "body_len"}` (the default).
    pub fn answer_json(mut self) -> Self {
        self.behavior = Behavior::Answer;
        self
    }

    /// Answers like `answer_json`, after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.behavior = Behavior::Delay(delay);
        self
    }

    /// Reads the request head, then closes the connection without answering.
    pub fn reset(mut self) -> Self {
        self.behavior = Behavior::Reset;
        self
    }

    /// Answers like `answer_json` plus a random `timestamp` field (noise for the comparison).
    pub fn timestamped(mut self) -> Self {
        self.behavior = Behavior::Timestamped;
        self
    }

    /// Answers 200 with the JSON `make` returns for each request.
    pub fn json(mut self, make: impl Fn(&Seen) -> String + Send + Sync + 'static) -> Self {
        self.json = Some(Arc::new(make));
        self
    }

    /// Compresses each answer with gzip (`content-encoding: gzip`).
    pub fn gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// Binds another loopback address (`127.0.0.2`: a pod's IP in the Kubernetes tests).
    pub fn ip(mut self, ip: &'static str) -> Self {
        self.ip = ip;
        self
    }

    /// Serves over TLS with `config` (see [`super::tls::server_config`]).
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Answers the first `n` requests as `first` says, the rest as usual.
    pub fn first(mut self, n: usize, first: First) -> Self {
        self.first = Some((n, first));
        self
    }

    /// Binds `127.0.0.1:0` (or [`Builder::ip`]) and serves until the test ends.
    pub async fn run(self) -> Backend {
        let listener = TcpListener::bind((self.ip, 0)).await.unwrap();
        let backend = Backend {
            addr: listener.local_addr().unwrap(),
            version: self.version.clone(),
            seen: Arc::default(),
            completed: Arc::default(),
            accepted: Arc::default(),
            tls_failures: Arc::default(),
        };
        tokio::spawn(accept_loop(listener, Arc::new(self), backend.clone()));
        backend
    }
}

/// A running backend (cheap to clone; clones share the records).
#[derive(Clone)]
pub struct Backend {
    pub addr: SocketAddr,
    pub version: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    completed: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    tls_failures: Arc<AtomicUsize>,
}

impl Backend {
    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests seen so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Responses fully written (for ordering checks).
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Connections accepted (a reset backend records nothing else).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed.
    pub fn tls_failures(&self) -> usize {
        self.tls_failures.load(Ordering::SeqCst)
    }
}

async fn accept_loop(listener: TcpListener, builder: Arc<Builder>, backend: Backend) {
    while let Ok((stream, _)) = listener.accept().await {
        backend.accepted.fetch_add(1, Ordering::SeqCst);
        if builder.behavior == Behavior::Reset {
            tokio::spawn(reset(stream));
        } else if let Some(config) = &builder.tls {
            let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
            let (builder, backend) = (builder.clone(), backend.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    backend.tls_failures.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let session = tls.get_ref().1;
                let seen = TlsSeen {
                    sni: session.server_name().map(str::to_string),
                    alpn: (session.alpn_protocol()).map(|p| String::from_utf8_lossy(p).into()),
                };
                serve(TokioIo::new(tls), builder, backend, Some(seen)).await;
            });
        } else {
            tokio::spawn(serve(
                TokioIo::new(stream),
                builder.clone(),
                backend.clone(),
                None,
            ));
        }
    }
}

async fn reset(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let _ = stream.read(&mut buf).await;
}

async fn serve<S>(stream: TokioIo<S>, builder: Arc<Builder>, backend: Backend, tls: Option<TlsSeen>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let h2_only = builder.h2_only;
    let svc = service_fn(move |req| answer(req, builder.clone(), backend.clone(), tls.clone()));
    let mut server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if h2_only {
        server = server.http2_only();
    }
    let _ = server.serve_connection(stream, svc).await;
}

async fn answer(
    req: Request<Incoming>,
    builder: Arc<Builder>,
    backend: Backend,
    tls: Option<TlsSeen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut seen = record(req).await;
    seen.tls = tls;
    let index = {
        let mut all = backend.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let first = (builder.first).and_then(|(n, first)| (index < n).then_some(first));
    if let Behavior::Delay(d) = builder.behavior {
        tokio::time::sleep(d).await;
    }
    if let Some(First::Delay(d)) = first {
        tokio::time::sleep(d).await;
    }
    let (version, path, len) = (&builder.version, &seen.path, seen.body.len());
    let json = if let Some(make) = &builder.json {
        make(&seen)
    } else if builder.behavior == Behavior::Timestamped {
        let ts = fastrand::u64(..);
        format!(r#"{{"version":"{version}","path":"{path}","body_len":{len},"timestamp":{ts}}}"#)
    } else {
        format!(r#"{{"version":"{version}","path":"{path}","body_len":{len}}}"#)
    };
    let mut resp = Response::builder()
        .header("content-type", "application/json")
        .header("x-served-by", version.as_str());
    let body = if builder.gzip {
        resp = resp.header("content-encoding", "gzip");
        gzip(json.as_bytes())
    } else {
        Bytes::from(json)
    };
    if let Some(First::Status(status)) = first {
        resp = resp.status(status);
    }
    let resp = resp.body(Full::new(body)).unwrap();
    backend.completed.fetch_add(1, Ordering::SeqCst);
    Ok(resp)
}

fn gzip(data: &[u8]) -> Bytes {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    Bytes::from(e.finish().unwrap())
}

async fn record(req: Request<Incoming>) -> Seen {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header_host = || parts.headers.get("host").and_then(|h| h.to_str().ok());
    let authority = match parts.uri.authority() {
        Some(a) => a.to_string(),
        None => header_host().unwrap_or("").to_string(),
    };
    Seen {
        authority,
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string(),
        headers: parts.headers,
        body,
        version: parts.version,
        tls: None,
    }
}

/// The sample calculation service (`tools::sample`), as `shadowmesh demo` runs it.
#[must_use]
pub struct CalcBuilder {
    version: String,
    flaw: Option<Flaw>,
}

/// Seed 000's calculation backend, answering correctly.
pub fn calc(version: &str) -> CalcBuilder {
    CalcBuilder {
        version: version.to_string(),
        flaw: None,
    }
}

impl CalcBuilder {
    /// With a deliberate bug.
    pub fn flaw(mut self, flaw: Flaw) -> Self {
        self.flaw = Some(flaw);
        self
    }

    /// Binds `127.0.0.1:0` and serves until the test ends.
    pub async fn run(self) -> sample::Sample {
        let cfg = SampleConfig::calc(&self.version, self.flaw);
        sample::start("127.0.0.1:0".parse().unwrap(), cfg)
            .await
            .unwrap()
    }
}
