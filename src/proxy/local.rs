//! Responses the proxy makes itself: errors (404 no route, 503 no healthy upstream, ...), as
//! plain text or, to a gRPC client, as a gRPC status; redirects and direct responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::model::table::{DirectResponse, Redirect};
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
    let mut resp = text(StatusCode::OK, Bytes::new());
    let headers = resp.headers_mut();
    let content_type = HeaderValue::from_static("application/grpc");
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert("grpc-status", HeaderValue::from(grpc_status(status)));
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

/// A `redirect`, computed from the request's scheme, host, port and path.
pub fn redirect(
    r: &Redirect,
    host: &str,
    port: Option<u16>,
    path: &str,
    query: Option<&str>,
) -> Response<UpstreamBody> {
    let scheme = r.scheme.as_deref().unwrap_or("http");
    let authority = r.authority.as_deref().unwrap_or(host);
    let port = r
        .port
        .or(port)
        .filter(|p| !matches!((scheme, *p), ("http", 80) | ("https", 443)));
    let path = r.uri.as_deref().unwrap_or(path);
    let mut location = format!("{scheme}://{authority}");
    if let Some(p) = port {
        location.push_str(&format!(":{p}"));
    }
    location.push_str(path);
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    let mut resp = text(r.status, Bytes::new());
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
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
}
