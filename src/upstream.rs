//! Upstream connections: pooled hyper clients, HTTP/1.1 or h2c (prior knowledge) per cluster
//! protocol, one pool per distinct (protocol, connect timeout, idle timeout) so pools survive
//! config reloads. Errors are classified the way Envoy's response flags do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::model::cluster::{ClusterPolicy, Protocol};
use crate::telemetry::Flag;

/// Error type of bodies sent upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;
/// A pooled client.
pub type HttpClient = Client<HttpConnector, UpstreamBody>;

type PoolKey = (Protocol, Duration, Option<Duration>);

/// All upstream pools.
pub struct Upstreams {
    clients: ArcSwap<HashMap<PoolKey, HttpClient>>,
    /// Connections idle longer than this are closed (when the policy sets none).
    default_idle: Duration,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new(Duration::from_secs(90))
    }
}

impl Upstreams {
    /// Pools closing idle connections after `default_idle`.
    pub fn new(default_idle: Duration) -> Self {
        Self {
            clients: ArcSwap::from_pointee(HashMap::new()),
            default_idle,
        }
    }

    /// The client for a cluster's protocol and policy (created on first use).
    pub fn client(&self, protocol: Protocol, policy: &ClusterPolicy) -> HttpClient {
        let key = (protocol, policy.connect_timeout, policy.idle_timeout);
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
        self.clients.load().len()
    }

    fn build(&self, key: &PoolKey) -> HttpClient {
        let (protocol, connect_timeout, idle) = *key;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
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

/// Classifies a client error: flag, HTTP status for the client, short reason.
pub fn classify(err: &hyper_util::client::legacy::Error) -> (Flag, u16, String) {
    if err.is_connect() {
        (
            Flag::ConnectFailure,
            503,
            format!("connect failed: {}", root_cause(err)),
        )
    } else {
        (
            Flag::UpstreamReset,
            502,
            format!("upstream reset: {}", root_cause(err)),
        )
    }
}

/// The innermost error message.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Shared handle.
pub type SharedUpstreams = Arc<Upstreams>;
