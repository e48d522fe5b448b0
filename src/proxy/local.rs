//! Responses the proxy makes itself: errors (404 no route, 503 no healthy upstream, ...),
//! redirects and direct responses.

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
