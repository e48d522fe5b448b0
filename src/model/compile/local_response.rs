//! Routes answered by the proxy itself: `redirect` (a 3xx status, optional port) and
//! `directResponse` (a status and a body given as a string or base64 bytes).
//!
//! Imports only [`crate::config`] and [`crate::model`].

use base64::Engine;
use bytes::Bytes;

use crate::config::diag::Reporter;
use crate::config::wire::{HttpDirectResponse, HttpRedirect};
use crate::model::table::{DirectResponse, Redirect};

/// `redirect` of route field `f`.
pub(super) fn redirect(rd: &HttpRedirect, r: &mut Reporter<'_>, f: &str) -> Option<Redirect> {
    if rd.derive_port.is_some() {
        r.warning(format!("{f}.redirect.derivePort"), "not supported; ignored");
    }
    if rd.prefix_rewrite.as_deref().is_some_and(|p| !p.is_empty()) {
        r.warning(
            format!("{f}.redirect.prefixRewrite"),
            "not implemented yet; ignored (the path is kept)",
        );
    }
    let code = rd.redirect_code.filter(|c| *c != 0).unwrap_or(301);
    let status = u16::try_from(code)
        .ok()
        .and_then(|c| http::StatusCode::from_u16(c).ok())
        .filter(|s| s.is_redirection());
    let Some(status) = status else {
        r.error(format!("{f}.redirect.redirectCode"), "must be a 3xx status");
        return None;
    };
    // `port: 0` is unset (proto3), as Istio reads it.
    let port = match rd.port.filter(|p| *p != 0) {
        Some(p) => match u16::try_from(p).ok().filter(|p| *p > 0) {
            Some(p) => Some(p),
            None => {
                r.error(
                    format!("{f}.redirect.port"),
                    format!("{p} is not a port number"),
                );
                return None;
            }
        },
        None => None,
    };
    Some(Redirect {
        uri: rd.uri.clone(),
        authority: rd.authority.clone(),
        port,
        scheme: rd.scheme.clone(),
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
            _ => {
                r.error(
                    format!("{f}.directResponse.body"),
                    "set exactly one of string and bytes",
                );
                return None;
            }
        },
    };
    Some(DirectResponse { status, body })
}
