//! Responses the proxy makes itself: errors (404 no route, 503 no healthy upstream, ...), as
//! plain text or, to a gRPC client, as a gRPC status; redirects and direct responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::model::table::{DirectResponse, Redirect, RedirectPort};
use crate::upstream::UpstreamBody;

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<UpstreamBody> {
    let mut resp = Response::new(
        Full::new(body.into())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// An error answer to a gRPC client, as Envoy gives it: trailers-only (`200`,
/// `content-type: application/grpc`, `grpc-status` mapped from `status`, `grpc-message` the
/// percent-encoded `reason`), no body. A gRPC client reads a plain-text error body as a
/// malformed message (`INTERNAL`), so it would never see, say, `UNAVAILABLE` and retry.
pub fn grpc(status: StatusCode, reason: &str) -> Response<UpstreamBody> {
    grpc_code(grpc_status(status), reason)
}

/// A trailers-only gRPC answer with gRPC status `code` and `reason` as its `grpc-message`.
pub fn grpc_code(code: u16, reason: &str) -> Response<UpstreamBody> {
    let mut resp = text(StatusCode::OK, Bytes::new());
    let headers = resp.headers_mut();
    let content_type = HeaderValue::from_static("application/grpc");
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(v) = HeaderValue::from_str(&percent_encode(reason)) {
        headers.insert("grpc-message", v);
    }
    resp
}

/// The gRPC status for an HTTP status (gRPC's `http-grpc-status-mapping`, as Envoy's
/// `httpToGrpcStatus`).
fn grpc_status(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 => 13,                   // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => 2,                      // UNKNOWN
    }
}

/// `grpc-message` encoding: printable ASCII but `%` as is, every other byte `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response with `status`, no body and no headers (a CORS preflight's answer).
pub fn empty(status: StatusCode) -> Response<UpstreamBody> {
    let mut resp = Response::new(
        Full::new(Bytes::new())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp
}

/// A `directResponse`.
pub fn direct(d: &DirectResponse) -> Response<UpstreamBody> {
    let mut resp = Response::new(
        Full::new(d.body.clone())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *resp.status_mut() = d.status;
    resp
}

/// A `redirect`, as Istio configures Envoy and Envoy builds the `Location`: the scheme is the
/// redirect's or `http`; the port is `port`, or the request's with `FROM_REQUEST_PORT`, dropped
/// when it is the scheme's default; the host is the redirect's `authority`, else the request's
/// own `authority` (its port dropped when a new port is given, or when the scheme changes away
/// from `http` and it is `:80`); `path_and_query` is already rewritten.
pub fn redirect(
    r: &Redirect,
    authority: &str,
    request_port: Option<u16>,
    path_and_query: &str,
) -> Response<UpstreamBody> {
    let scheme = r.scheme.as_deref().unwrap_or("http");
    let port = match r.port {
        RedirectPort::Unset => None,
        RedirectPort::FromRequest => request_port,
        RedirectPort::Fixed(p) => Some(p),
    }
    .filter(|p| !matches!((scheme, *p), ("http", 80) | ("https", 443)));
    let host = match &r.authority {
        Some(a) => a.as_str(),
        None => request_host(authority, scheme, port.is_some()),
    };
    let mut location = format!("{scheme}://{host}");
    if let Some(p) = port {
        location.push_str(&format!(":{p}"));
    }
    if !path_and_query.starts_with('/') {
        location.push('/');
    }
    location.push_str(path_and_query);
    let mut resp = text(r.status, Bytes::new());
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Envoy's `processRequestHost`: the request's host for a redirect, its port removed when a new
/// port replaces it, or when the scheme changes from `http` and the port is `:80`.
fn request_host<'a>(authority: &'a str, new_scheme: &str, new_port: bool) -> &'a str {
    let port_at = if authority.starts_with('[') {
        authority.rfind("]:").map(|i| i + 1)
    } else {
        authority.rfind(':')
    };
    let Some(i) = port_at else {
        return authority;
    };
    let remove = new_port || (new_scheme != "http" && &authority[i..] == ":80");
    if remove { &authority[..i] } else { authority }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_errors_are_trailers_only_with_envoys_status_mapping() {
        let resp = grpc(
            StatusCode::SERVICE_UNAVAILABLE,
            "no healthy upstream: 100%\n",
        );
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/grpc");
        assert_eq!(h["grpc-status"], "14");
        assert_eq!(h["grpc-message"], "no healthy upstream: 100%25%0A");
        let codes = [
            (400, 13),
            (401, 16),
            (403, 7),
            (404, 12),
            (429, 14),
            (504, 14),
            (500, 2),
        ];
        for (http, grpc) in codes {
            assert_eq!(
                grpc_status(StatusCode::from_u16(http).unwrap()),
                grpc,
                "{http}"
            );
        }
    }

    #[test]
    fn redirect_locations_follow_istio_and_envoy() {
        use RedirectPort::*;
        let rd = |scheme: Option<&str>, authority: Option<&str>, port| Redirect {
            uri: None,
            prefix_rewrite: None,
            authority: authority.map(str::to_string),
            port,
            scheme: scheme.map(str::to_string),
            status: StatusCode::MOVED_PERMANENTLY,
        };
        // (redirect, request authority, request port, Location): Istio's routing.go cases first.
        let cases = [
            (
                rd(Some("https"), None, FromRequest),
                "b",
                80,
                "https://b:80/foo",
            ),
            (rd(None, None, FromRequest), "b", 80, "http://b/foo"),
            (rd(None, None, FromRequest), "b:80", 80, "http://b:80/foo"),
            (rd(None, None, FromRequest), "b:85", 85, "http://b:85/foo"),
            (rd(None, None, Fixed(9090)), "b:85", 85, "http://b:9090/foo"),
            (rd(Some("https"), None, Unset), "b:80", 80, "https://b/foo"),
            (
                rd(Some("https"), None, Unset),
                "b:8080",
                8080,
                "https://b:8080/foo",
            ),
            (
                rd(Some("https"), None, Fixed(443)),
                "b:80",
                80,
                "https://b/foo",
            ),
            (rd(None, Some("c"), Unset), "b:8080", 8080, "http://c/foo"),
            (rd(None, Some("c"), Fixed(81)), "b", 80, "http://c:81/foo"),
            (
                rd(None, None, Fixed(81)),
                "[::1]:80",
                80,
                "http://[::1]:81/foo",
            ),
        ];
        for (r, authority, port, want) in cases {
            let resp = redirect(&r, authority, Some(port), "/foo");
            assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
            assert_eq!(resp.headers()["location"], want, "{r:?} {authority}");
        }
    }
}
