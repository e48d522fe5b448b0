//! The prepare step: the upstream request's head, from the client's. Hop-by-hop headers go,
//! `x-forwarded-for`, `x-request-id` and `x-envoy-attempt-count` are added, the host is rewritten (`rewrite.authority`,
//! else the route's `:authority`/`Host` header operation, else the destination's, as Istio
//! orders them) and the route's then the destination's header operations are applied.

use http::header::{self, HeaderValue};

use super::steps::Routed;
use super::{ConnInfo, RequestCtx, headers};

impl RequestCtx {
    /// 5. prepare: the upstream request's headers.
    pub(super) fn prepare(&mut self, conn: &ConnInfo, routed: &Routed<'_>, authority: &str) {
        let headers = &mut self.parts.headers;
        headers::strip_hop_by_hop(headers);
        headers::add_forwarded(headers, &conn.client_ip);
        self.record.exchange.request_id = Some(headers::ensure_request_id(headers));
        // The first try's number (mirrored copies carry it too); a retry sends its own.
        headers.insert(
            headers::X_ENVOY_ATTEMPT_COUNT.clone(),
            headers::attempt_count(1),
        );
        let route = routed.decision.route;
        // Istio's precedence: `rewrite.authority`, then the route's `:authority`/`Host`
        // header, then the destination's.
        let rewritten = (route.rewrite.as_ref().and_then(|r| r.authority.as_ref()))
            .or(route.headers.authority.as_ref())
            .or(routed.destination.headers.authority.as_ref());
        match rewritten {
            Some(a) => {
                headers.insert(header::HOST, a.clone());
            }
            // The client's own `Host` is the authority (the common case): it stays as it is.
            None if (headers.get(header::HOST)).is_some_and(|h| h == authority) => {}
            None => {
                let host = match &conn.bound_host_header {
                    Some(bound) if bound.as_bytes() == authority.as_bytes() => bound.clone(),
                    _ => HeaderValue::from_str(authority)
                        .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
                };
                headers.insert(header::HOST, host);
            }
        }
        route.headers.request.apply(headers);
        routed.destination.headers.request.apply(headers);
    }
}
