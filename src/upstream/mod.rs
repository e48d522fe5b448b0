//! Upstream connections, pooled, surviving config reloads: sending one request to one chosen
//! endpoint. Errors are named the way Envoy's response flags name them ([`error`]); the
//! subsystem's own figures are registered by [`metrics::register`].
//!
//! - HTTP/1.1: hyper-util's pooled client, one pool per distinct (connect timeout, idle timeout);
//!   the request goes to the endpoint's address with the service's `Host` header.
//! - h2c (ServiceEntry port protocol `HTTP2`/`GRPC`): one multiplexed connection per endpoint,
//!   with `:authority` set to the service host (as Envoy sends it), not the endpoint address.

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

pub use error::{Failure, UpstreamError, root_cause};
use stall::{GuardedConnector, StallGuard};

/// Error type of bodies sent upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;
/// A pooled client.
pub type HttpClient = Client<GuardedConnector, UpstreamBody>;

/// A pool: protocol, connect timeout, idle timeout, and whether it carries mirrored copies
/// (whose connections never share a pool with user traffic and close when the mirror stalls).
type PoolKey = (Protocol, Duration, Option<Duration>, bool);

/// All upstream pools.
pub struct Upstreams {
    clients: ArcSwap<HashMap<PoolKey, HttpClient>>,
    /// h2 connections by (endpoint, for mirrors): mirrors never share a connection (and its
    /// stream limit and flow-control window) with user traffic.
    h2: ArcSwap<HashMap<(Authority, bool), http2::SendRequest<UpstreamBody>>>,
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
        mut req: Request<UpstreamBody>,
        mirror: bool,
    ) -> Result<Response<Incoming>, UpstreamError> {
        if protocol == Protocol::Http1 {
            return Ok(self.client(protocol, policy, mirror).request(req).await?);
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
        let key = (endpoint.clone(), mirror);
        let mut sender = self.h2_sender(&key, policy.connect_timeout).await?;
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
        key: &(Authority, bool),
        connect_timeout: Duration,
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
        // Pings find peers that vanished without a reset; the connection then closes.
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .handshake(StallGuard::new(TokioIo::new(stream), stall))
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

    /// The client for a cluster's protocol and policy, for user traffic or for mirrored copies
    /// (created on first use).
    pub fn client(&self, protocol: Protocol, policy: &ClusterPolicy, mirror: bool) -> HttpClient {
        let key = (
            protocol,
            policy.connect_timeout,
            policy.idle_timeout,
            mirror,
        );
        if let Some(c) = self.clients.load().get(&key) {
            return c.clone();
        }
        let client = self.build(&key);
        self.clients.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(key).or_insert_with(|| client.clone());
            map
        });
        self.clients.load().get(&key).cloned().unwrap_or(client)
    }

    /// Number of distinct pools (for metrics).
    pub fn pool_count(&self) -> usize {
        self.clients.load().len() + self.h2.load().len()
    }

    fn build(&self, key: &PoolKey) -> HttpClient {
        let (protocol, connect_timeout, idle, mirror) = *key;
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(true);
        let connector = GuardedConnector::new(http, mirror.then_some(self.mirror_stall));
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
