//! Upstream connections, pooled, surviving config reloads: sending one request to one chosen
//! endpoint. Errors are named the way Envoy's response flags name them ([`error`]); the
//! subsystem's own figures are registered by [`metrics::register`].
//!
//! - HTTP/1.1: the project's own codec ([`wire`]) on connections pooled per data-plane thread
//!   and per (endpoint, idle timeout, mirror or not, TLS setting) ([`h1`]); the request goes to
//!   the endpoint's address with the service's `Host` header. Upgrades (WebSocket) go through
//!   hyper-util's pooled client, which hands the connection over.
//! - h2c (ServiceEntry port protocol `HTTP2`/`GRPC`): one multiplexed connection per endpoint,
//!   with `:authority` set to the service host (as Envoy sends it), not the endpoint address.
//! - TLS ([`tls`]) when the cluster's policy originates it: the handshake within the connect
//!   timeout, ALPN `h2` or `http/1.1` by protocol, SNI from the setting or the request's host.
//!   Pools and h2 connections are keyed by the TLS setting and SNI too, so different settings
//!   or server names never share a connection. A TLS failure logs one line (endpoint, SNI,
//!   reason) and is answered as Envoy does ([`error`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use http::uri::Authority;
use http::{Request, Response, header};
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;

use crate::model::cluster::{ClusterPolicy, Protocol};

mod error;
mod h1;
mod h1_conn;
mod h1_upload;
mod h2;
pub mod metrics;
mod stall;
mod tls;
pub(crate) mod wire;

pub use error::{Failure, UpstreamError, root_cause};
pub use h1::ResponseBody;
use h1::{H1Pools, Io};
use stall::{GuardedConnector, StallGuard};
use tls::{Origination, Stream, TlsKey};

/// Error type of bodies sent upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

/// The body of a message that has none (no allocation: the box holds nothing).
pub fn empty_body() -> UpstreamBody {
    use http_body_util::BodyExt as _;
    (http_body_util::Empty::new())
        .map_err(|never| match never {})
        .boxed_unsync()
}
/// A pooled client.
pub type HttpClient = Client<GuardedConnector, UpstreamBody>;

/// A pool: protocol, connect timeout, idle timeout, whether it carries mirrored copies (whose
/// connections never share a pool with user traffic and close when the mirror stalls), and
/// the TLS setting and SNI of its connections.
type PoolKey = (Protocol, Duration, Option<Duration>, bool, TlsKey);

/// An h2 connection: endpoint, for mirrors, TLS setting and SNI.
type H2Key = (Authority, bool, TlsKey);

/// A response on its way, from a path taken rarely (h2, upgrades): boxed behind a `dyn`.
type Sending<'a> = std::pin::Pin<
    Box<dyn Future<Output = Result<Response<ResponseBody>, UpstreamError>> + Send + 'a>,
>;

/// All upstream pools, one set per data-plane thread ([`Shard`]).
pub struct Upstreams {
    /// Worker `i`'s pools at index `i`; the last set serves every other thread.
    shards: Box<[Shard]>,
    /// Connections idle longer than this are closed (when the policy sets none).
    default_idle: Duration,
    /// A mirror connection whose writes make no progress for this long is closed.
    mirror_stall: Duration,
}

/// One thread's pools. A connection is driven by a task on the thread that opened it, so a
/// data-plane thread that used another's pooled connection would wake that thread for every
/// read and write; with a shard each, a request and its upstream connection stay on one
/// thread (see `proxy::server::workers`).
#[derive(Default)]
struct Shard {
    /// HTTP/1.1 connections, driven by the requests using them.
    h1: Arc<H1Pools>,
    /// hyper-util's pools: HTTP/1.1 upgrades (WebSocket), whose connections are handed over.
    clients: ArcSwap<HashMap<PoolKey, HttpClient>>,
    /// h2 connections by (endpoint, for mirrors): mirrors never share a connection (and its
    /// stream limit and flow-control window) with user traffic.
    h2: ArcSwap<HashMap<H2Key, http2::SendRequest<UpstreamBody>>>,
}

thread_local! {
    /// This thread's data-plane worker index (`usize::MAX`: not a worker).
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Marks the calling thread as data-plane worker `index`: the upstream connections it opens
/// are pooled for it alone.
pub fn enter_worker(index: usize) {
    WORKER.set(index);
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new(Duration::from_secs(90), Duration::from_secs(10), 0)
    }
}

impl Upstreams {
    /// Pools for `workers` data-plane threads and the rest, closing idle connections after
    /// `default_idle`, and mirror connections whose writes stall for `mirror_stall`.
    pub fn new(default_idle: Duration, mirror_stall: Duration, workers: usize) -> Self {
        Self {
            shards: (0..=workers).map(|_| Shard::default()).collect(),
            default_idle,
            mirror_stall,
        }
    }

    /// The calling thread's pools.
    fn shard(&self) -> &Shard {
        let last = self.shards.len() - 1;
        &self.shards[WORKER.get().min(last)]
    }

    /// Sends the request `head` (its URI names the endpoint, its `Host` the service) with `body`
    /// to `endpoint` using the cluster's protocol and policy. `mirror`: a mirrored copy (own h2
    /// connections). The head is borrowed: HTTP/1.1 only writes it out, so a retry sends the
    /// same head again without a copy (a copy of a head was 3% of a request's instructions).
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    pub fn send(
        &self,
        protocol: Protocol,
        policy: &ClusterPolicy,
        endpoint: &Authority,
        (head, body): (&http::request::Parts, UpstreamBody),
        mirror: bool,
    ) -> impl Future<Output = Result<Response<ResponseBody>, UpstreamError>> {
        async move {
            let tls = match &policy.tls {
                Some(t) => {
                    let host = (head.headers.get(header::HOST)).and_then(|h| h.to_str().ok());
                    let host = host.unwrap_or(endpoint.as_str());
                    Some(Origination::new(t, protocol, host).map_err(UpstreamError::Connect)?)
                }
                None => None,
            };
            let req = (head, body);
            let sent = std::pin::pin!(self.send_on(
                protocol,
                policy,
                endpoint,
                req,
                (mirror, tls.as_ref())
            ));
            let result = sent.await;
            if let (Err(e), Some(tls)) = (&result, &tls)
                && let Some(reason) = error::tls_reason(e)
            {
                let sni = tls.sni();
                tracing::warn!(%endpoint, %sni, %reason, mirror, "upstream TLS failed");
            }
            result
        }
    }

    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    fn send_on(
        &self,
        protocol: Protocol,
        policy: &ClusterPolicy,
        endpoint: &Authority,
        (head, body): (&http::request::Parts, UpstreamBody),
        (mirror, tls): (bool, Option<&Origination>),
    ) -> impl Future<Output = Result<Response<ResponseBody>, UpstreamError>> {
        async move {
            if protocol == Protocol::Http1 && is_upgrade(head) {
                return self
                    .send_upgrade(protocol, policy, (head, body), (mirror, tls))
                    .await;
            }
            if protocol == Protocol::Http1 {
                let idle = policy.idle_timeout.unwrap_or(self.default_idle);
                let key = (
                    h1::Endpoint(endpoint.clone()),
                    idle,
                    mirror,
                    Origination::key(tls),
                );
                let stall = mirror.then_some(self.mirror_stall);
                let connect = || connect(endpoint, policy.connect_timeout, tls, stall);
                return std::pin::pin!(self.shard().h1.send(key, (head, body), connect)).await;
            }
            std::pin::pin!(self.send_h2(policy, endpoint, (head, body), (mirror, tls))).await
        }
    }

    /// An upgrade, through hyper-util's pool (it hands the connection over). Boxed behind a
    /// `dyn`, as [`Upstreams::send_h2`]: see there.
    fn send_upgrade<'a>(
        &'a self,
        protocol: Protocol,
        policy: &'a ClusterPolicy,
        (head, body): (&'a http::request::Parts, UpstreamBody),
        (mirror, tls): (bool, Option<&'a Origination>),
    ) -> Sending<'a> {
        Box::pin(async move {
            let client = self.client(protocol, policy, mirror, tls);
            let req = owned_request(head, body);
            Ok(client.request(req).await?.map(ResponseBody::plain))
        })
    }

    /// The client for a cluster's protocol and policy, for user traffic or for mirrored copies,
    /// with TLS made by `tls` (created on first use).
    pub fn client(
        &self,
        protocol: Protocol,
        policy: &ClusterPolicy,
        mirror: bool,
        tls: Option<&Origination>,
    ) -> HttpClient {
        let key = (
            protocol,
            policy.connect_timeout,
            policy.idle_timeout,
            mirror,
            Origination::key(tls),
        );
        let shard = self.shard();
        if let Some(c) = shard.clients.load().get(&key) {
            return c.clone();
        }
        let client = self.build(&key, tls);
        shard.clients.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(key.clone()).or_insert_with(|| client.clone());
            map
        });
        (shard.clients.load().get(&key).cloned()).unwrap_or(client)
    }

    /// Number of distinct pools, over all threads (for metrics).
    pub fn pool_count(&self) -> usize {
        let each = self.shards.iter();
        let count = |s: &Shard| s.h1.pool_count() + s.clients.load().len() + s.h2.load().len();
        each.map(count).sum()
    }

    fn build(&self, key: &PoolKey, tls: Option<&Origination>) -> HttpClient {
        let (protocol, connect_timeout, idle, mirror, _) = key.clone();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(true);
        let stall = mirror.then_some(self.mirror_stall);
        let tls = tls.map(|t| (t.clone(), connect_timeout));
        let connector = GuardedConnector::new(http, stall, tls);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(idle.unwrap_or(self.default_idle))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .retry_canceled_requests(true)
            .set_host(false);
        if protocol == Protocol::Http2 {
            builder.http2_only(true);
        }
        builder.build(connector)
    }
}

/// A request asking to switch protocols (WebSocket): its connection is handed over, so it goes
/// through hyper-util's pool, which supports that.
fn is_upgrade(head: &http::request::Parts) -> bool {
    head.headers.contains_key(header::UPGRADE) || head.method == http::Method::CONNECT
}

/// A request of its own for hyper's clients (h2, upgrades): a copy of `head` (without its
/// extensions, which are not carried upstream) and `body`.
fn owned_request(head: &http::request::Parts, body: UpstreamBody) -> Request<UpstreamBody> {
    let mut req = Request::new(body);
    *req.method_mut() = head.method.clone();
    *req.uri_mut() = head.uri.clone();
    *req.version_mut() = head.version;
    *req.headers_mut() = head.headers.clone();
    req
}

/// A connection to `endpoint` within `timeout`: TCP (no delay), TLS when `tls` is set, and
/// writes failing after `stall` without progress (mirrors).
async fn connect(
    endpoint: &Authority,
    timeout: Duration,
    tls: Option<&Origination>,
    stall: Option<Duration>,
) -> Result<Io, UpstreamError> {
    let connect = tokio::net::TcpStream::connect(endpoint.as_str());
    let stream = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(UpstreamError::Connect(e.to_string())),
        Err(_) => {
            return Err(UpstreamError::Connect(format!(
                "no connection within {timeout:?}"
            )));
        }
    };
    let _ = stream.set_nodelay(true);
    let stream = match tls {
        Some(tls) => tls.handshake(stream, endpoint.as_str(), timeout).await?,
        None => Stream::Plain(TokioIo::new(stream)),
    };
    Ok(StallGuard::new(stream, stall))
}

#[cfg(test)]
mod h1_hostile_tests;
