//! Routes answered by the proxy itself: `redirect` (a 3xx status, port, scheme, authority, a
//! new path or prefix) and
//! `directResponse` (a status and a body given as a string or base64 bytes).
//!
//! Imports only [`crate::config`] and [`crate::model`].

use base64::Engine;
use bytes::Bytes;

use crate::config::diag::Reporter;
use crate::config::wire::{HttpDirectResponse, HttpRedirect};
use crate::model::table::{DirectResponse, Redirect, RedirectPort};

/// `redirect` of route field `f`: Istio's `ApplyRedirect` (codes 301, 302, 303, 307, 308;
/// `port` or `derivePort`).
pub(super) fn redirect(rd: &HttpRedirect, r: &mut Reporter<'_>, f: &str) -> Option<Redirect> {
    // `redirectCode: 0` is unset (proto3), as Istio reads it; Envoy knows five codes.
    let code = rd.redirect_code.filter(|c| *c != 0).unwrap_or(301);
    let status = u16::try_from(code)
        .ok()
        .filter(|c| [301, 302, 303, 307, 308].contains(c))
        .and_then(|c| http::StatusCode::from_u16(c).ok());
    let Some(status) = status else {
        r.error(
            format!("{f}.redirect.redirectCode"),
            format!("{code} is not a redirect code Envoy supports: use 301, 302, 303, 307 or 308"),
        );
        return None;
    };
    // `port: 0` is unset (proto3), as Istio reads it.
    let port = match (rd.port.filter(|p| *p != 0), rd.derive_port.as_deref()) {
        (Some(_), Some(_)) => {
            r.error(
                format!("{f}.redirect"),
                "set only one of port and derivePort",
            );
            return None;
        }
        (Some(p), None) => match u16::try_from(p).ok().filter(|p| *p > 0) {
            Some(p) => RedirectPort::Fixed(p),
            None => {
                r.error(
                    format!("{f}.redirect.port"),
                    format!("{p} is not a port number"),
                );
                return None;
            }
        },
        (None, Some("FROM_REQUEST_PORT")) => RedirectPort::FromRequest,
        (None, Some("FROM_PROTOCOL_DEFAULT") | None) => RedirectPort::Unset,
        (None, Some(other)) => {
            r.error(
                format!("{f}.redirect.derivePort"),
                format!("{other:?} is not one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT"),
            );
            return None;
        }
    };
    if rd.uri.is_some() && rd.prefix_rewrite.is_some() {
        r.error(
            format!("{f}.redirect"),
            "redirect may only specify one of uri or prefixRewrite",
        );
        return None;
    }
    Some(Redirect {
        uri: rd.uri.clone().filter(|u| !u.is_empty()),
        prefix_rewrite: rd.prefix_rewrite.clone().filter(|p| !p.is_empty()),
        authority: rd.authority.clone().filter(|a| !a.is_empty()),
        port,
        scheme: rd.scheme.clone().filter(|s| !s.is_empty()),
        status,
    })
}

/// `directResponse` of route field `f`.
pub(super) fn direct(
    dr: &HttpDirectResponse,
    r: &mut Reporter<'_>,
    f: &str,
) -> Option<DirectResponse> {
    let Some(status) = u16::try_from(dr.status)
        .ok()
        .and_then(|c| http::StatusCode::from_u16(c).ok())
        .filter(|s| s.as_u16() >= 200)
    else {
        r.error(
            format!("{f}.directResponse.status"),
            format!("{} is not an HTTP status", dr.status),
        );
        return None;
    };
    let body = match &dr.body {
        None => Bytes::new(),
        Some(b) => match (&b.string, &b.bytes) {
            (Some(s), None) => Bytes::from(s.clone()),
            (None, Some(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    r.error(
                        format!("{f}.directResponse.body.bytes"),
                        format!("not base64: {e}"),
                    );
                    return None;
                }
            },
            (None, None) => Bytes::new(),
            _ => {
                r.error(
                    format!("{f}.directResponse.body"),
                    "set only one of string and bytes",
                );
                return None;
            }
        },
    };
    Some(DirectResponse { status, body })
}
