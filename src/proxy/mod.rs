//! The proxy: one request's life, from the client to the primary upstream and the mirrors.
//!
//! Lifecycle of a request (each step may end it with a local answer):
//! 1. **host**: absolute-form URI (`http_proxy` use), else the listener's bound host
//!    (`--listen ADDR=HOST`), else `Host`/`:authority`; none gives 400;
//! 2. **route**: the snapshot is loaded once (lock-free) and [`crate::route::find`] decides;
//!    404 when nothing matches; redirects and direct responses are answered here;
//! 3. **prepare**: hop-by-hop headers removed, `x-forwarded-for` appended, `x-request-id`
//!    added, route and destination header operations and rewrites applied;
//! 4. **endpoint**: the cluster's load balancer picks one (503 `UH` when none; 503 `UO` over
//!    the connection pool limit);
//! 5. **mirrors**: each selected mirror takes a permit and a tap on the request body, and is
//!    sent from its own task with the same headers (Host `-shadow`); never awaited;
//! 6. **forward**: the primary is sent through the pooled client under the route timeout
//!    (connect failure 503 `UF`, reset 502 `UC`, timeout 504 `UT`);
//! 7. **respond**: hop-by-hop headers removed, response header operations applied, the body
//!    streamed back through an [`body::ObservedBody`] that records the exchange when it ends.

pub mod body;
pub mod headers;
pub mod local;
pub mod server;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use tokio::time::Instant;

use crate::mirror::{MirrorOutcome, Mirrorer, protocol_name};
use crate::model::cluster::Outcome;
use crate::model::host::split_authority;
use crate::model::{Action, Cluster, Protocol, Snapshot};
use crate::route::{self, RequestHead, Target};
use crate::telemetry::{Exchange, Flag, Telemetry};
use crate::upstream::{UpstreamBody, Upstreams, classify};
use body::{BodySummary, ObservedBody, OnBodyEnd, TeeBody};

/// Proxy-wide settings.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Time limit for the primary's response headers when the route sets no timeout.
    pub request_timeout: Option<Duration>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            request_timeout: Some(Duration::from_secs(60)),
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
}

/// A client connection's facts.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Client address.
    pub remote: SocketAddr,
    /// The host this listener is bound to (`--listen ADDR=HOST`).
    pub bound_host: Option<Arc<str>>,
}

impl Proxy {
    /// Handles one request; never fails (errors are HTTP answers).
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
    ) -> Result<Response<UpstreamBody>, Infallible> {
        let started = Instant::now();
        let snapshot = self.snapshot.load_full();
        Ok(self.route_and_forward(&snapshot, req, &conn, started).await)
    }

    async fn route_and_forward(
        &self,
        snapshot: &Snapshot,
        req: Request<Incoming>,
        conn: &ConnInfo,
        started: Instant,
    ) -> Response<UpstreamBody> {
        let (mut parts, body) = req.into_parts();
        if parts.method == http::Method::CONNECT {
            return self.local_answer(
                &parts,
                started,
                StatusCode::METHOD_NOT_ALLOWED,
                Flag::None,
                "CONNECT tunnels are not supported".into(),
            );
        }
        // 1. host
        let absolute = parts.version != Version::HTTP_2 && parts.uri.authority().is_some();
        let authority: String = if absolute {
            parts
                .uri
                .authority()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default()
        } else if let Some(bound) = &conn.bound_host {
            bound.to_string()
        } else if let Some(a) = parts.uri.authority() {
            a.as_str().to_string()
        } else if let Some(h) = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            h.to_string()
        } else {
            return self.local_answer(
                &parts,
                started,
                StatusCode::BAD_REQUEST,
                Flag::None,
                "the request names no host: send a Host header".into(),
            );
        };
        // Only a well-formed authority (no path, query or userinfo smuggled in) is routed.
        match authority.parse::<http::uri::Authority>() {
            Ok(a) if !a.as_str().contains('@') => {}
            _ => {
                return self.local_answer(
                    &parts,
                    started,
                    StatusCode::BAD_REQUEST,
                    Flag::None,
                    format!("{authority:?} is not a valid host[:port]"),
                );
            }
        }
        let (host, port) = split_authority(&authority);
        // 2. route
        let head = RequestHead {
            method: parts.method.as_str(),
            scheme: "http",
            authority: &authority,
            host,
            port,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
        };
        let decision = match route::find(&snapshot.table, &head, &mut || fastrand::f64()) {
            Ok(d) => d,
            Err(no_route) => {
                return self.local_answer(
                    &parts,
                    started,
                    StatusCode::NOT_FOUND,
                    Flag::NoRoute,
                    format!("no route: {no_route}"),
                );
            }
        };
        let route = decision.route;
        let (destination, cluster) = match (&decision.target, &route.action) {
            (
                Target::Forward {
                    destination,
                    cluster,
                },
                _,
            ) => (*destination, (*cluster).clone()),
            (Target::Local, Action::Redirect(r)) => {
                return local::redirect(r, host, port, parts.uri.path(), parts.uri.query());
            }
            (Target::Local, Action::Direct(d)) => return local::direct(d),
            (Target::Local, Action::Forward(_)) => {
                unreachable!("forward routes always target a cluster")
            }
        };
        // 3. prepare
        headers::strip_hop_by_hop(&mut parts.headers);
        headers::add_forwarded(&mut parts.headers, conn.remote.ip());
        let request_id = headers::ensure_request_id(&mut parts.headers);
        let upstream_host = match route.rewrite.as_ref().and_then(|r| r.authority.clone()) {
            Some(a) => a,
            None => HeaderValue::from_str(&authority)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
        };
        parts.headers.insert(header::HOST, upstream_host);
        route.headers.request.apply(&mut parts.headers);
        destination.headers.request.apply(&mut parts.headers);
        let path_and_query = rewritten_path(&decision, &parts.uri);
        // 4. endpoint
        let (target, endpoint_index) = if cluster.passthrough {
            let port = decision.port.unwrap_or(80);
            let target = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            (target, None)
        } else {
            match cluster.pick_index(fastrand::f64()) {
                Some(i) => (cluster.endpoints[i].authority.to_string(), Some(i)),
                None => {
                    return self.upstream_failure(
                        &parts,
                        started,
                        &cluster,
                        None,
                        &request_id,
                        &route.name,
                        Flag::NoHealthyUpstream,
                        503,
                        "no healthy upstream".into(),
                    );
                }
            }
        };
        let Some(guard) = InFlight::enter(&cluster, endpoint_index) else {
            return self.upstream_failure(
                &parts,
                started,
                &cluster,
                endpoint_index,
                &request_id,
                &route.name,
                Flag::Overflow,
                503,
                "upstream connection pool overflow".into(),
            );
        };
        let uri = match format!("http://{target}{path_and_query}").parse::<http::Uri>() {
            Ok(uri) => uri,
            Err(_) => {
                return self.local_answer(
                    &parts,
                    started,
                    StatusCode::BAD_REQUEST,
                    Flag::None,
                    "the request path is not valid".into(),
                );
            }
        };
        // 5. mirrors
        let has_body = !body.is_end_stream();
        let declared_len = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut taps = Vec::new();
        let mut mirrors_sent = 0u8;
        let mut compare = false;
        let mut pair = 0;
        if !route.mirrors.is_empty() {
            let mut pending = Vec::new();
            for (i, m) in route.mirrors.iter().enumerate() {
                let Some(mc) = m.target.resolve(decision.port) else {
                    continue;
                };
                if decision.mirrors & (1 << i) == 0 {
                    self.mirrorer.count(mc, MirrorOutcome::SkippedPercentage);
                } else if let Some(p) = self.mirrorer.prepare(mc, has_body, declared_len, &mut taps)
                {
                    pending.push(p);
                }
            }
            mirrors_sent = pending.len() as u8;
            compare = mirrors_sent > 0 && self.telemetry.sample_pair();
            pair = if compare { next_pair_id() } else { 0 };
            for p in pending {
                let ids = (request_id.as_str(), route.name.as_str());
                self.mirrorer
                    .spawn(p, &parts, &path_and_query, ids, compare.then_some(pair));
            }
        }
        // 6. forward
        let request_bytes = Arc::new(AtomicU64::new(0));
        let upstream_body = TeeBody::new(body, taps, request_bytes.clone()).boxed_unsync();
        let method = parts.method.clone();
        let grpc = headers::is_grpc(&parts.headers);
        let mut upstream_req = Request::from_parts(parts, upstream_body);
        *upstream_req.uri_mut() = uri;
        *upstream_req.version_mut() = match cluster.protocol {
            Protocol::Http1 => Version::HTTP_11,
            Protocol::Http2 => Version::HTTP_2,
        };
        let timeout = match route.timeout {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => self.options.request_timeout,
        };
        let endpoint_authority = upstream_req
            .uri()
            .authority()
            .cloned()
            .expect("built with an authority");
        let sent = self.upstreams.send(
            cluster.protocol,
            &cluster.policy,
            &endpoint_authority,
            upstream_req,
            false,
        );
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, sent).await.map_err(|_| t),
            None => Ok(sent.await),
        };
        let peer = cluster.peer(endpoint_index).clone();
        let mut pending = PrimaryExchange {
            telemetry: self.telemetry.clone(),
            guard,
            started,
            request_bytes,
            exchange: Exchange {
                method,
                path: path_and_query,
                status: 0,
                duration: Duration::ZERO,
                request_bytes: 0,
                response_bytes: 0,
                peer: Some(peer),
                mirror: false,
                flag: Flag::None,
                reason: None,
                request_id,
                route: Some(route.name.clone()),
                protocol: protocol_name(cluster.protocol),
                grpc,
                body: None,
                headers: None,
                mirrors_sent,
                compare,
                pair,
                compare_ignore: compare.then(|| decision.vhost.compare_ignore.clone()),
            },
        };
        let response = match result {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                let (flag, status, reason) = classify(&e);
                return pending.fail(flag, status, reason);
            }
            Err(t) => {
                return pending.fail(
                    Flag::Timeout,
                    504,
                    format!("upstream request timeout ({t:?})"),
                );
            }
        };
        // 7. respond
        let (mut resp_parts, resp_body) = response.into_parts();
        headers::strip_hop_by_hop(&mut resp_parts.headers);
        destination.headers.response.apply(&mut resp_parts.headers);
        route.headers.response.apply(&mut resp_parts.headers);
        pending.exchange.status = resp_parts.status.as_u16();
        let capture = if compare {
            self.telemetry.capture_limit()
        } else {
            0
        };
        if capture > 0 {
            pending.exchange.headers = Some(resp_parts.headers.clone());
        }
        let observed = ObservedBody::new(resp_body, capture, Box::new(pending));
        Response::from_parts(resp_parts, observed.boxed_unsync())
    }

    fn local_answer(
        &self,
        parts: &http::request::Parts,
        started: Instant,
        status: StatusCode,
        flag: Flag,
        reason: String,
    ) -> Response<UpstreamBody> {
        let request_id = parts
            .headers
            .get(&headers::X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        let ex = Exchange {
            request_id,
            protocol: "-",
            ..failed_exchange(parts, started, status.as_u16(), flag, &reason)
        };
        self.telemetry.record(&ex);
        local::text(status, format!("{reason}\n"))
    }

    #[allow(clippy::too_many_arguments)]
    fn upstream_failure(
        &self,
        parts: &http::request::Parts,
        started: Instant,
        cluster: &Arc<Cluster>,
        endpoint: Option<usize>,
        request_id: &str,
        route: &str,
        flag: Flag,
        status: u16,
        reason: String,
    ) -> Response<UpstreamBody> {
        let ex = Exchange {
            peer: Some(cluster.peer(endpoint).clone()),
            request_id: request_id.to_string(),
            route: Some(route.to_string()),
            protocol: protocol_name(cluster.protocol),
            ..failed_exchange(parts, started, status, flag, &reason)
        };
        self.telemetry.record(&ex);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        local::text(status, format!("{reason}\n"))
    }
}

/// The exchange of a request the proxy answered itself (its body is `reason` and a newline).
fn failed_exchange(
    parts: &http::request::Parts,
    started: Instant,
    status: u16,
    flag: Flag,
    reason: &str,
) -> Exchange {
    Exchange {
        method: parts.method.clone(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string(),
        status,
        duration: started.elapsed(),
        response_bytes: reason.len() as u64 + 1,
        flag,
        reason: Some(reason.to_string()),
        grpc: headers::is_grpc(&parts.headers),
        ..Default::default()
    }
}

/// A process-unique id pairing a primary with its mirrors.
fn next_pair_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The path and query sent upstream, after `rewrite.uri`: a prefix match has its prefix
/// replaced, any other match the whole path.
fn rewritten_path(decision: &route::Decision<'_>, uri: &http::Uri) -> String {
    let path = uri.path();
    let query = uri.query();
    let Some(new) = decision
        .route
        .rewrite
        .as_ref()
        .and_then(|r| r.uri.as_deref())
    else {
        return uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    };
    let matched_prefix = decision
        .matched_block
        .and_then(|i| decision.route.matches.get(i))
        .and_then(|m| m.uri.as_ref())
        .and_then(|u| u.prefix());
    let mut out = match matched_prefix {
        Some(prefix) if path.len() >= prefix.len() => format!("{new}{}", &path[prefix.len()..]),
        _ => new.to_string(),
    };
    if out.is_empty() {
        out.push('/');
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Counts a request against its cluster's and endpoint's in-flight figures while it lives.
struct InFlight {
    cluster: Arc<Cluster>,
    endpoint: Option<usize>,
}

impl InFlight {
    fn enter(cluster: &Arc<Cluster>, endpoint: Option<usize>) -> Option<Self> {
        let now = cluster.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        if cluster.policy.max_requests.is_some_and(|max| now > max) {
            cluster.in_flight.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        if let Some(i) = endpoint {
            cluster.endpoints[i].active.fetch_add(1, Ordering::Relaxed);
        }
        Some(Self {
            cluster: cluster.clone(),
            endpoint,
        })
    }

    fn record(&self, outcome: Outcome) {
        if let Some(i) = self.endpoint {
            self.cluster.record(&self.cluster.endpoints[i], outcome);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.cluster.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some(i) = self.endpoint {
            self.cluster.endpoints[i]
                .active
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The primary exchange, waiting for its response body to end.
struct PrimaryExchange {
    telemetry: Arc<Telemetry>,
    guard: InFlight,
    started: Instant,
    request_bytes: Arc<AtomicU64>,
    exchange: Exchange,
}

impl PrimaryExchange {
    fn fail(mut self, flag: Flag, status: u16, reason: String) -> Response<UpstreamBody> {
        let body = format!("{reason}\n");
        self.guard.record(Outcome::Failure);
        self.exchange.status = status;
        self.exchange.flag = flag;
        self.exchange.reason = Some(reason);
        self.exchange.response_bytes = body.len() as u64;
        self.exchange.duration = self.started.elapsed();
        self.exchange.request_bytes = self.request_bytes.load(Ordering::Relaxed);
        self.telemetry.record(&self.exchange);
        local::text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            body,
        )
    }
}

impl OnBodyEnd for PrimaryExchange {
    fn finish(self: Box<Self>, summary: BodySummary) {
        let mut this = *self;
        this.exchange.duration = this.started.elapsed();
        this.exchange.response_bytes = summary.bytes;
        this.exchange.request_bytes = this.request_bytes.load(Ordering::Relaxed);
        this.exchange.body = summary.captured;
        if let Some(e) = summary.error {
            this.exchange.flag = Flag::ProtocolError;
            this.exchange.reason = Some(format!("response body failed: {e}"));
            this.guard.record(Outcome::Failure);
        } else {
            if summary.dropped {
                this.exchange.flag = Flag::DownstreamClosed;
                this.exchange.reason = Some("client went away before the response ended".into());
            }
            this.guard.record(Outcome::Status(this.exchange.status));
        }
        this.telemetry.record(&this.exchange);
    }
}
