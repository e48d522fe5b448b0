//! The proxy: one request's life, from the client to the primary upstream and the mirrors.
//!
//! The life of a request is written as steps ([`steps`]), one method each over the request's
//! context ([`RequestCtx`]); each may end the request with a local answer. In order:
//! 1. **authority**: absolute-form URI (`http_proxy` use), else the listener's bound host
//!    (`--listen ADDR=HOST`), else `Host`/`:authority`; none or a malformed one gives 400,
//!    `CONNECT` 405; an HTTP/1.1 WebSocket upgrade is taken ([`upgrade`]), another upgrade
//!    protocol refused (403, as Envoy);
//! 2. **route**: the snapshot is loaded once (lock-free) and [`crate::route::find`] decides;
//!    404 `NR` when nothing matches; redirects and direct responses are answered here;
//! 3. **cors** ([`cors`], Envoy's CORS filter): a preflight from an allowed origin is answered
//!    200 with the policy's headers (never mirrored); one from another origin goes on
//!    (`FORWARD`) or is answered 200 bare (`IGNORE`); other requests from an allowed origin get
//!    `access-control-allow-origin` (and expose/credentials) on their answer;
//! 4. **fault** ([`fault`], Envoy's fault filter, before the router): the rolled delay (`DI`),
//!    then the rolled abort (`FI`: the status, or a gRPC status to a gRPC client); an aborted
//!    request is never forwarded nor mirrored, a delayed one's mirrors go out after the delay;
//! 5. **prepare**: hop-by-hop headers removed, `x-forwarded-for` appended, `x-request-id`
//!    added, route and destination header operations and rewrites applied (the host: `rewrite.authority`,
//!    else the route's `:authority` header, else the destination's);
//! 6. **endpoint**: the cluster's load balancer picks one, a consistent-hash cluster by the
//!    request's key ([`hash_key`], taken from the client's head before step 5) (503 `UH` when
//!    none; 503 `UO` over the connection pool limit);
//! 7. **mirrors**: each selected mirror takes a permit and a tap on the request body, and is
//!    sent from its own task with the same headers (Host `-shadow`); never awaited
//!    ([`mirror_step`], [`mirror`]);
//! 8. **forward** ([`retry`]): the primary is sent through the pooled client under the route
//!    timeout (connect failure 503 `UF`, reset 503 `UC`, timeout 504 `UT`), and retried as the
//!    route's retry policy (Istio's default when it has none) says: each try classified, the
//!    body replayed from a bounded copy, other hosts preferred, `URX` when retries ran out;
//! 9. **respond**: hop-by-hop headers removed, response header operations applied, the body
//!    streamed back through an [`body::ObservedBody`] that records the exchange when it ends.
//!    A WebSocket upgrade keeps its `Upgrade`/`Connection` headers, is never mirrored, and a 101
//!    from the upstream becomes a tunnel recorded when it closes ([`upgrade`]).
//!
//! Whatever happens, the exchange is recorded exactly once ([`record`]).

pub mod body;
mod cors;
mod fault;
mod hash_key;
pub mod headers;
pub mod local;
pub mod mirror;
mod mirror_step;
mod prepare;
mod record;
mod retry;
mod rewrite;
pub mod server;
mod steps;
mod try_limits;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{Request, Response};
use tokio::time::Instant;

use crate::model::Snapshot;
use crate::model::methods::MethodSet;
use crate::telemetry::{Exchange, Telemetry};
use crate::upstream::wire::passed;
use crate::upstream::{UpstreamBody, Upstreams};
use mirror::Mirrorer;
use record::ExchangeRecord;
pub use retry::RetryMetrics;
use server::ClientBody;

/// Proxy-wide settings.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Time limit for the primary's response headers, counted from the end of the client's
    /// body, when the route sets no timeout.
    pub request_timeout: Option<Duration>,
    /// The client's body fails (408) when no byte of it comes for this long.
    pub upload_idle_timeout: Option<Duration>,
    /// Methods mirrored where a route says nothing (`--mirror-methods`; default all, as Istio).
    pub mirror_methods: MethodSet,
    /// Methods whose mirrored answers are compared where a route says nothing.
    pub compare_methods: MethodSet,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            request_timeout: Some(Duration::from_secs(60)),
            upload_idle_timeout: Some(Duration::from_secs(60)),
            mirror_methods: MethodSet::All,
            compare_methods: MethodSet::All,
        }
    }
}

/// Everything a request needs; shared by all connections.
pub struct Proxy {
    /// The active configuration.
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Upstream pools.
    pub upstreams: Arc<Upstreams>,
    /// Mirroring.
    pub mirrorer: Arc<Mirrorer>,
    /// Access log and hooks.
    pub telemetry: Arc<Telemetry>,
    /// Settings.
    pub options: ProxyOptions,
    /// Retry counters.
    pub retry_metrics: RetryMetrics,
}

/// A client connection's facts.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Client address.
    pub remote: SocketAddr,
    /// The host this listener is bound to (`--listen ADDR=HOST`), parsed once per connection
    /// (a request shares it: a reference count, not a copy).
    pub bound_host: Option<http::uri::Authority>,
    /// The bound host as a `Host` value, for a request whose own `Host` names another (the
    /// listener's address, usually): shared, not made per request.
    bound_host_header: Option<http::HeaderValue>,
    /// The client's IP as a header value, formatted once per connection (`x-forwarded-for`).
    client_ip: http::HeaderValue,
}

impl ConnInfo {
    /// A connection from `remote` to a listener bound to `bound_host`.
    pub fn new(remote: SocketAddr, bound_host: Option<Arc<str>>) -> Self {
        let client_ip = http::HeaderValue::try_from(remote.ip().to_string())
            .unwrap_or_else(|_| http::HeaderValue::from_static("unknown"));
        // Checked when `--listen ADDR=HOST` was read; both share one buffer.
        let bound = bound_host.map(|h| bytes::Bytes::from(h.to_string()));
        let bound_host =
            (bound.clone()).and_then(|b| http::uri::Authority::from_maybe_shared(b).ok());
        let bound_host_header = bound.and_then(|b| http::HeaderValue::from_maybe_shared(b).ok());
        Self {
            remote,
            bound_host,
            bound_host_header,
            client_ip,
        }
    }
}

/// One request's state as it goes through the steps.
pub(crate) struct RequestCtx {
    /// The request head, changed by the steps into the upstream request's head.
    parts: http::request::Parts,
    /// The exchange, recorded once (boxed: see its `OnBodyEnd`).
    record: Box<ExchangeRecord>,
    /// CORS headers the answer gets (the origin is allowed; see [`cors`]).
    cors_marks: http::HeaderMap,
    /// The `Set-Cookie` of a consistent-hash cookie the proxy made ([`hash_key`]).
    hash_cookie: Option<http::HeaderValue>,
}

impl RequestCtx {
    /// The context of a request with head `parts`, its exchange started at `started`.
    fn new(parts: http::request::Parts, telemetry: Arc<Telemetry>, started: Instant) -> Self {
        let record = ExchangeRecord::new(telemetry, started, || {
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut exchange = Exchange::new(parts.method.clone(), path);
            exchange.grpc = headers::is_grpc(&parts.headers);
            exchange.request_id = parts.headers.get(&headers::X_REQUEST_ID).cloned();
            exchange
        });
        Self {
            parts,
            record,
            cors_marks: http::HeaderMap::new(),
            hash_cookie: None,
        }
    }
}

impl Proxy {
    /// Handles one request; never fails (errors are HTTP answers).
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    pub fn handle(
        self: Arc<Self>,
        req: Request<ClientBody>,
        conn: ConnInfo,
    ) -> impl Future<Output = Result<Response<UpstreamBody>, Infallible>> {
        async move {
            let started = Instant::now();
            let (parts, body) = req.into_parts();
            let h2 = parts.version == http::Version::HTTP_2;
            let cx = RequestCtx::new(parts, self.telemetry.clone(), started);
            let snapshot = self.snapshot.load_full();
            // Pinned where it is made: built in this future's state, not on the stack and then
            // copied in (ARCHITECTURE.md, "Small futures").
            let mut resp = match std::pin::pin!(self.proxy(&snapshot, cx, body, &conn)).await {
                Ok(resp) => resp,
                Err(answer) => *answer,
            };
            if h2 {
                // hyper's HTTP/2 server writes the map alone; the project's HTTP/1.1 server
                // writes the fields an upstream's head passed on as they came.
                let (mut parts, body) = resp.into_parts();
                passed::into_map(&mut parts.headers, &mut parts.extensions);
                resp = Response::from_parts(parts, body);
            }
            Ok(resp)
        }
    }
}
