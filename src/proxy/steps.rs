//! The steps of a request's life, in order (the list is in the [module doc](super)). Each step
//! is one method over the request's [`RequestCtx`]; `Err` carries the local answer that ends the
//! request, already recorded.

use std::sync::Arc;

use http::header;
use http::uri::{Authority, PathAndQuery};
use http::{Response, StatusCode, Version};
use http_body_util::BodyExt;

use super::body::ObservedBody;
use super::record::InFlight;
use super::rewrite::{redirect_path, rewritten_path};
use super::server::ClientBody;
use super::{ConnInfo, Proxy, RequestCtx, headers, local};
use crate::model::host::split_authority;
use crate::model::{Action, Cluster, RouteDestination, RouteTable};
use crate::route::{self, Decision, RequestHead, Target};
use crate::telemetry::Flag;
use crate::upstream::wire::passed::{self, PassedFields};
use crate::upstream::{ResponseBody, UpstreamBody};

/// A step's result: go on with `T`, or end with this (recorded) answer. Boxed: local answers
/// are the rare path, and a small `Result` keeps the common one cheap to move.
pub(super) type Step<T> = Result<T, Box<Response<UpstreamBody>>>;

/// Where routing sent the request.
pub(super) struct Routed<'t> {
    pub(super) decision: Decision<'t>,
    pub(super) destination: &'t RouteDestination,
    pub(super) cluster: &'t Arc<Cluster>,
}

/// The primary's upstream request, ready to send.
pub(super) struct Upstream {
    /// `http://ENDPOINT` + the path and query sent (after rewrites).
    pub(super) uri: http::Uri,
    /// The cluster's endpoint chosen (none: passthrough to the named host).
    pub(super) endpoint: Option<usize>,
}

impl Upstream {
    /// The same request to another `authority` (a retry's new endpoint).
    pub(super) fn to(&self, authority: http::uri::Authority, endpoint: Option<usize>) -> Self {
        let mut parts = self.uri.clone().into_parts();
        parts.authority = Some(authority);
        let uri = http::Uri::from_parts(parts).unwrap_or_else(|_| self.uri.clone());
        Self { uri, endpoint }
    }
}

/// The upstream URI `http://AUTHORITY` + `path`, built from parts (no formatting and parsing
/// on the hot path): the request's own path and query shared when no rewrite changed it.
fn upstream_uri(authority: Authority, path: &str, original: &http::Uri) -> Option<http::Uri> {
    let path_and_query = match original.path_and_query() {
        Some(p) if p.as_str() == path => p.clone(),
        _ => PathAndQuery::try_from(path).ok()?,
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(authority);
    parts.path_and_query = Some(path_and_query);
    http::Uri::from_parts(parts).ok()
}

impl Proxy {
    /// The steps, in order.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    pub(super) fn proxy(
        &self,
        snapshot: &crate::model::Snapshot,
        mut cx: RequestCtx,
        body: ClientBody,
        conn: &ConnInfo,
    ) -> impl Future<Output = Step<Response<UpstreamBody>>> {
        async move {
            let authority = cx.authority(conn)?;
            let upgrade = cx.upgrade()?;
            let authority = authority.as_str();
            let routed = cx.route(&snapshot.table, authority)?;
            cx.cors(routed.decision.route)?;
            cx.fault(&routed).await?;
            let hashes = cx.hash_keys(&routed, conn);
            cx.prepare(conn, &routed, authority);
            cx.keep_upgrade(upgrade.as_ref(), &routed);
            let upstream = cx.choose_endpoint(&routed, authority, hashes.primary)?;
            let taps = match upgrade {
                None => self.start_mirrors(&mut cx, &routed, &body, &upstream.uri, &hashes),
                Some(_) => self.skip_mirrors(&routed),
            };
            let response = std::pin::pin!(self.forward(
                &mut cx,
                &routed,
                upstream,
                body,
                taps,
                hashes.primary
            ))
            .await?;
            Ok(match upgrade {
                None => self.respond(cx, &routed, response),
                Some(client) => self.respond_upgrade(cx, &routed, response, client),
            })
        }
    }

    /// 9. respond: response headers cleaned and rewritten, the body streamed back observed; the
    ///    exchange is recorded when the body ends.
    pub(super) fn respond(
        &self,
        cx: RequestCtx,
        routed: &Routed<'_>,
        response: Response<ResponseBody>,
    ) -> Response<UpstreamBody> {
        let (mut parts, body) = response.into_parts();
        // The client's connection is the proxy's: answered in HTTP/1.1 (HTTP/2 on h2)
        // whatever the upstream spoke, as Envoy does. hyper writes the response's version in
        // the status line, so an HTTP/1.0 upstream ended the client's keep-alive.
        parts.version = Version::HTTP_11;
        let mut record = cx.record;
        record.exchange.status = parts.status.as_u16();
        let capture = if record.exchange.compare {
            self.telemetry.capture_limit()
        } else {
            0
        };
        let (destination, route) = (
            &routed.destination.headers.response,
            &routed.decision.route.headers.response,
        );
        // Fields passed on as they came (none hop-by-hop) stay so unless a step changes them
        // (CORS marks replace the upstream's); a `Set-Cookie` the proxy adds goes after them.
        if !cx.cors_marks.is_empty() || !destination.is_empty() || !route.is_empty() {
            passed::into_map(&mut parts.headers, &mut parts.extensions);
        }
        headers::strip_hop_by_hop(&mut parts.headers);
        if let Some(cookie) = cx.hash_cookie {
            parts.headers.append(header::SET_COOKIE, cookie);
        }
        destination.apply(&mut parts.headers);
        route.apply(&mut parts.headers);
        parts.headers.extend(cx.cors_marks);
        if capture > 0 {
            match parts.extensions.get::<PassedFields>() {
                Some(fields) => {
                    (record.exchange).keep_captured(passed::detached(&parts.headers, fields))
                }
                None => record.exchange.capture_headers(&parts.headers),
            }
        }
        let observed = ObservedBody::new(body, capture, record);
        Response::from_parts(parts, observed.boxed_unsync())
    }
}

impl RequestCtx {
    /// 1. authority: what the request is for (see the module doc for the order).
    fn authority(&mut self, conn: &ConnInfo) -> Step<Authority> {
        let parts = &self.parts;
        if parts.method == http::Method::CONNECT {
            let reason = "CONNECT tunnels are not supported".to_string();
            return Err(self.answer(StatusCode::METHOD_NOT_ALLOWED, Flag::None, reason));
        }
        if parts.headers.get_all(header::HOST).iter().nth(1).is_some() {
            let reason = "the request has more than one Host header".to_string();
            return Err(self.answer(StatusCode::BAD_REQUEST, Flag::None, reason));
        }
        if !parts.uri.path().starts_with('/') {
            let reason = "the request target must be a path (`*` is not proxied)".to_string();
            return Err(self.answer(StatusCode::BAD_REQUEST, Flag::None, reason));
        }
        let absolute = parts.version != Version::HTTP_2 && parts.uri.authority().is_some();
        // Shared with the request's head or the connection, not copied (`Bytes` underneath);
        // a `Host` header's is copied once (`HeaderValue` does not give up its bytes).
        let named = if absolute {
            parts.uri.authority().cloned().ok_or(None)
        } else if let Some(bound) = &conn.bound_host {
            return Ok(bound.clone());
        } else if let Some(a) = parts.uri.authority() {
            Ok(a.clone())
        } else if let Some(host) = parts.headers.get(header::HOST) {
            // Only a well-formed authority (no path, query or userinfo smuggled in) is routed.
            Authority::try_from(host.as_bytes())
                .map_err(|_| Some(String::from_utf8_lossy(host.as_bytes()).into_owned()))
        } else {
            Err(None)
        };
        let bad = match named {
            Ok(a) if !a.as_str().contains('@') => return Ok(a),
            Ok(a) => a.as_str().to_string(),
            Err(Some(bad)) => bad,
            Err(None) => {
                let reason = "the request names no host: send a Host header".to_string();
                return Err(self.answer(StatusCode::BAD_REQUEST, Flag::None, reason));
            }
        };
        let reason = format!("{bad:?} is not a valid host[:port]");
        Err(self.answer(StatusCode::BAD_REQUEST, Flag::None, reason))
    }

    /// 2. route: the pure decision; redirects and direct responses are answered here.
    fn route<'t>(&mut self, table: &'t RouteTable, authority: &str) -> Step<Routed<'t>> {
        let (host, port) = split_authority(authority);
        let head = RequestHead {
            method: self.parts.method.as_str(),
            scheme: "http",
            authority,
            host,
            port,
            path: self.parts.uri.path(),
            query: self.parts.uri.query(),
            headers: &self.parts.headers,
        };
        let decision = match route::find(table, &head, &mut || fastrand::f64()) {
            Ok(d) => d,
            Err(no_route) => {
                let reason = format!("no route: {no_route}");
                return Err(self.answer(StatusCode::NOT_FOUND, Flag::NoRoute, reason));
            }
        };
        self.record.exchange.route = Some(decision.route.name.clone());
        let route = decision.route;
        let local = match (&decision.target, &route.action) {
            (
                Target::Forward {
                    destination,
                    cluster,
                },
                _,
            ) => {
                return Ok(Routed {
                    destination,
                    cluster,
                    decision,
                });
            }
            (Target::Local, Action::Redirect(r)) => {
                let path = redirect_path(&decision, r, &self.parts.uri);
                local::redirect(r, authority, decision.port, &path)
            }
            (Target::Local, Action::Direct(d)) => local::direct(d),
            (Target::Local, Action::Forward(_)) => {
                unreachable!("forward routes always target a cluster")
            }
        };
        // Envoy's CORS filter runs before the router's redirect or direct response.
        self.cors(route)?;
        Err(Box::new(self.marked(local)))
    }

    /// 6. endpoint: the load balancer's pick (or the named host for passthrough), held in
    ///    flight against the cluster's limit.
    fn choose_endpoint(
        &mut self,
        routed: &Routed<'_>,
        authority: &str,
        hash: Option<u64>,
    ) -> Step<Upstream> {
        let cluster = routed.cluster;
        let ex = &mut self.record.exchange;
        ex.protocol = cluster.protocol.name();
        // The exchange already holds the client's path and query (since `Proxy::handle`).
        if let Some(path) = rewritten_path(&routed.decision, &self.parts.uri) {
            ex.path = path;
        }
        let (target, endpoint) = if cluster.passthrough {
            let (host, _) = split_authority(authority);
            let port = routed.decision.port.unwrap_or(80);
            let target = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            (Authority::try_from(target).ok(), None)
        } else {
            let Some(i) = cluster.pick_hashed(hash, fastrand::f64()) else {
                ex.peer = Some(cluster.peer(None).clone());
                let reason = "no healthy upstream".to_string();
                return Err(self.answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Flag::NoHealthyUpstream,
                    reason,
                ));
            };
            (Some(cluster.endpoints[i].authority.clone()), Some(i))
        };
        ex.peer = Some(cluster.peer(endpoint).clone());
        let Some(guard) = InFlight::enter(cluster, endpoint) else {
            let reason = "upstream connection pool overflow".to_string();
            return Err(self.answer(StatusCode::SERVICE_UNAVAILABLE, Flag::Overflow, reason));
        };
        self.record.in_flight = Some(guard);
        let path = &self.record.exchange.path;
        match target.and_then(|t| upstream_uri(t, path, &self.parts.uri)) {
            Some(uri) => Ok(Upstream { uri, endpoint }),
            None => {
                let reason = "the request path is not valid".to_string();
                Err(self.answer(StatusCode::BAD_REQUEST, Flag::None, reason))
            }
        }
    }

    pub(super) fn answer(
        &mut self,
        status: StatusCode,
        flag: Flag,
        reason: String,
    ) -> Box<Response<UpstreamBody>> {
        Box::new(self.record.answer(status, flag, reason))
    }
}
