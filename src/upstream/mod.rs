//! Upstream connections, pooled, surviving config reloads: sending one request to one chosen
//! endpoint. Errors are named the way Envoy's response flags name them ([`error`]); the
//! subsystem's own figures are registered by [`metrics::register`].
//!
//! - HTTP/1.1: hyper-util's pooled client, one pool per distinct (connect timeout, idle timeout);
//!   the request goes to the endpoint's address with the service's `Host` header.
//! - h2c (ServiceEntry port protocol `HTTP2`/`GRPC`): one multiplexed connection per endpoint,
//!   with `:authority` set to the service host (as Envoy sends it), not the endpoint address.
//! - TLS ([`tls`]) when the cluster's policy originates it: the handshake within the connect
//!   timeout, ALPN `h2` or `http/1.1` by protocol, SNI from the setting or the request's host.
//!   Pools and h2 connections are keyed by the TLS setting and SNI too, so different settings
//!   or server names never share a connection. A TLS failure logs one line (endpoint, SNI,
//!   reason) and is answered as Envoy does ([`error`]).

use std::collections::HashMap;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use http::uri::Authority;
use http::{Request, Response, header};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;

use crate::model::cluster::{ClusterPolicy, Protocol};

mod error;
pub mod metrics;
mod stall;
mod tls;

pub use error::{Failure, UpstreamError, root_cause};
use stall::{GuardedConnector, StallGuard};
use tls::{Origination, Stream, TlsKey};

/// Error type of bodies sent upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;
/// A pooled client.
pub type HttpClient = Client<GuardedConnector, UpstreamBody>;

/// A pool: protocol, connect timeout, idle timeout, whether it carries mirrored copies (whose
/// connections never share a pool with user traffic and close when the mirror stalls), and
/// the TLS setting and SNI of its connections.
type PoolKey = (Protocol, Duration, Option<Duration>, bool, TlsKey);

/// An h2 connection: endpoint, for mirrors, TLS setting and SNI.
type H2Key = (Authority, bool, TlsKey);

/// All upstream pools.
pub struct Upstreams {
    clients: ArcSwap<HashMap<PoolKey, HttpClient>>,
    /// h2 connections by (endpoint, for mirrors): mirrors never share a connection (and its
    /// stream limit and flow-control window) with user traffic.
    h2: ArcSwap<HashMap<H2Key, http2::SendRequest<UpstreamBody>>>,
    /// Connections idle longer than this are closed (when the policy sets none).
    default_idle: Duration,
    /// A mirror connection whose writes make no progress for this long is closed.
    mirror_stall: Duration,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new(Duration::from_secs(90), Duration::from_secs(10))
    }
}

impl Upstreams {
    /// Pools closing idle connections after `default_idle`, and mirror connections whose writes
    /// stall for `mirror_stall`.
    pub fn new(default_idle: Duration, mirror_stall: Duration) -> Self {
        Self {
            clients: ArcSwap::from_pointee(HashMap::new()),
            h2: ArcSwap::from_pointee(HashMap::new()),
            default_idle,
            mirror_stall,
        }
    }

    /// Sends `req` (its URI names the endpoint, its `Host` the service) to `endpoint` using the
    /// cluster's protocol and policy. `mirror`: a mirrored copy (own h2 connections).
    pub async fn send(
        &self,
        protocol: Protocol,
        policy: &ClusterPolicy,
        endpoint: &Authority,
        req: Request<UpstreamBody>,
        mirror: bool,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let tls = match &policy.tls {
            Some(t) => {
                let host = (req.headers().get(header::HOST)).and_then(|h| h.to_str().ok());
                let host = host.unwrap_or(endpoint.as_str());
                Some(Origination::new(t, protocol, host).map_err(UpstreamError::Connect)?)
            }
            None => None,
        };
        let sent = self.send_on(protocol, policy, endpoint, req, (mirror, tls.as_ref()));
        let result = sent.await;
        if let (Err(e), Some(tls)) = (&result, &tls)
            && let Some(reason) = error::tls_reason(e)
        {
            let sni = tls.sni();
            tracing::warn!(%endpoint, %sni, %reason, mirror, "upstream TLS failed");
        }
        result
    }

    async fn send_on(
        &self,
        protocol: Protocol,
        policy: &ClusterPolicy,
        endpoint: &Authority,
        mut req: Request<UpstreamBody>,
        (mirror, tls): (bool, Option<&Origination>),
    ) -> Result<Response<Incoming>, UpstreamError> {
        if protocol == Protocol::Http1 {
            let client = self.client(protocol, policy, mirror, tls);
            return Ok(client.request(req).await?);
        }
        // h2: `:authority` is the service host; the connection goes to the endpoint.
        if let Some(authority) = req
            .headers_mut()
            .remove(header::HOST)
            .and_then(|h| Authority::try_from(h.as_bytes()).ok())
        {
            let mut parts = req.uri().clone().into_parts();
            parts.authority = Some(authority);
            parts.scheme = Some(http::uri::Scheme::HTTP);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        let key = (endpoint.clone(), mirror, Origination::key(tls));
        let mut sender = self.h2_sender(&key, policy.connect_timeout, tls).await?;
        let sent = async {
            sender.ready().await?;
            sender.send_request(req).await
        };
        match sent.await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                // A failed connection is not handed out again.
                self.h2.rcu(|map| {
                    let mut map = HashMap::clone(map);
                    map.remove(&key);
                    map
                });
                Err(e.into())
            }
        }
    }

    async fn h2_sender(
        &self,
        key: &H2Key,
        connect_timeout: Duration,
        tls: Option<&Origination>,
    ) -> Result<http2::SendRequest<UpstreamBody>, UpstreamError> {
        if let Some(s) = self.h2.load().get(key)
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        let (endpoint, mirror) = (&key.0, key.1);
        let stall = mirror.then_some(self.mirror_stall);
        let connect = tokio::net::TcpStream::connect(endpoint.as_str());
        let stream = match tokio::time::timeout(connect_timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(UpstreamError::Connect(e.to_string())),
            Err(_) => {
                return Err(UpstreamError::Connect(format!(
                    "no connection within {connect_timeout:?}"
                )));
            }
        };
        let _ = stream.set_nodelay(true);
        let stream = match tls {
            Some(tls) => {
                (tls.handshake(stream, endpoint.as_str(), connect_timeout)
                    .await)?
            }
            None => Stream::Plain(TokioIo::new(stream)),
        };
        // Pings find peers that vanished without a reset; the connection then closes.
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .handshake(StallGuard::new(stream, stall))
            .await
            .map_err(|e| UpstreamError::Connect(format!("h2 handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "h2 upstream connection ended");
            }
        });
        self.h2.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.retain(|_, s| !s.is_closed());
            map.insert(key.clone(), sender.clone());
            map
        });
        Ok(sender)
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
        if let Some(c) = self.clients.load().get(&key) {
            return c.clone();
        }
        let client = self.build(&key, tls);
        self.clients.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(key.clone()).or_insert_with(|| client.clone());
            map
        });
        (self.clients.load().get(&key).cloned()).unwrap_or(client)
    }

    /// Number of distinct pools (for metrics).
    pub fn pool_count(&self) -> usize {
        self.clients.load().len() + self.h2.load().len()
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
