//! The parts of an `http` route that change what is sent or answered, as Istio checks them:
//! `redirect` (`validateHTTPRedirect`), `directResponse`, `rewrite` (with `uriRegexRewrite`) and
//! `retries` (`agent.ValidateHTTPRetry`). Empty strings count as unset, as in proto3.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use crate::config::diag::Reporter;
use crate::config::wire::{
    HttpDirectResponse, HttpMatchRequest, HttpRedirect, HttpRetry, HttpRewrite,
};

use super::fields;
use super::report;

fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Istio's `validateHTTPRedirect` (which stops at the first problem), plus the `port` /
/// `derivePort` oneof and `derivePort`'s values.
pub(super) fn redirect(
    rd: &HttpRedirect,
    matches: &[HttpMatchRequest],
    r: &mut Reporter<'_>,
    f: &str,
) {
    if rd.port.is_some() && rd.derive_port.is_some() {
        return r.error(f, "set only one of port and derivePort");
    }
    if let Some(d) = &rd.derive_port
        && d != "FROM_PROTOCOL_DEFAULT"
        && d != "FROM_REQUEST_PORT"
    {
        return r.error(
            format!("{f}.derivePort"),
            format!("{d:?} is not one of FROM_PROTOCOL_DEFAULT and FROM_REQUEST_PORT"),
        );
    }
    let prefix_rewrite = set(&rd.prefix_rewrite);
    if set(&rd.uri).is_some() && prefix_rewrite.is_some() {
        return r.error(f, "redirect may only specify one of uri or prefixRewrite");
    }
    if prefix_rewrite.is_some()
        && matches
            .iter()
            .any(|m| m.uri.as_ref().is_some_and(|u| u.prefix.is_none()))
    {
        return r.error(
            format!("{f}.prefixRewrite"),
            "redirect prefixRewrite requires all URI matches to use prefix match type",
        );
    }
    let port_given = rd.port.is_some() || rd.derive_port.is_some();
    if set(&rd.uri).is_none()
        && prefix_rewrite.is_none()
        && set(&rd.authority).is_none()
        && !port_given
        && set(&rd.scheme).is_none()
    {
        return r.error(f, "redirect must specify URI, authority, scheme, or port");
    }
    if let Some(code) = rd.redirect_code.filter(|c| *c != 0)
        && !(300..=399).contains(&code)
    {
        return r.error(
            format!("{f}.redirectCode"),
            format!("{code} is not a valid redirect code, must be a 3xx status"),
        );
    }
    if let Some(s) = set(&rd.scheme)
        && s != "http"
        && s != "https"
    {
        return r.error(
            format!("{f}.scheme"),
            "invalid redirect scheme, must be \"http\" or \"https\"",
        );
    }
    if let Some(p) = rd.port.filter(|p| *p > 0) {
        report(r, format!("{f}.port"), fields::port(i64::from(p)));
    }
}

/// Istio's `validateHTTPDirectResponse`: a status from 200 to 600, a body under 1 MB (a
/// warning over 100 KB).
pub(super) fn direct_response(d: &HttpDirectResponse, r: &mut Reporter<'_>, f: &str) {
    if let Some(body) = &d.body {
        let size = match (&body.string, &body.bytes) {
            (Some(s), _) => s.len(),
            (None, Some(b)) => b.len() / 4 * 3,
            (None, None) => 0,
        };
        if size > 1024 * 1024 {
            r.error(
                format!("{f}.body"),
                "large direct_responses may impact control plane performance, must be less than 1MB",
            );
        } else if size > 100 * 1024 {
            r.warning(
                format!("{f}.body"),
                "large direct_responses may impact control plane performance",
            );
        }
    }
    if !(200..=600).contains(&d.status) {
        r.error(
            format!("{f}.status"),
            format!("HTTP status {} is not in range 200-599", d.status),
        );
    }
}

/// Istio's `validateHTTPRewrite` and `validateURIRegexRewrite`.
pub(super) fn rewrite(rw: &HttpRewrite, r: &mut Reporter<'_>, f: &str) {
    let uri = set(&rw.uri).is_some();
    if uri && rw.uri_regex_rewrite.is_some() {
        return r.error(f, "rewrite may only contain one of uri or uriRegexRewrite");
    }
    if !uri && rw.uri_regex_rewrite.is_none() && set(&rw.authority).is_none() {
        return r.error(
            f,
            "rewrite must specify at least one of uri, uriRegexRewrite, or authority",
        );
    }
    if let Some(re) = &rw.uri_regex_rewrite {
        let rf = format!("{f}.uriRegexRewrite");
        if re.pattern.is_empty() || re.rewrite.is_empty() {
            return r.error(
                rf,
                "uriRegexRewrite requires both rewrite and match fields to be specified",
            );
        }
        report(r, format!("{rf}.match"), fields::regex(&re.pattern));
    }
}

/// Envoy's `x-envoy-retry-on` and `x-envoy-retry-grpc-on` conditions Istio accepts.
const RETRY_ON: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// Status codes Go's `net/http.StatusText` knows (Istio accepts them in `retryOn`).
fn known_status(code: u16) -> bool {
    matches!(code,
        100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429
        | 431 | 451 | 500..=508 | 510 | 511)
}

/// Istio's `agent.ValidateHTTPRetry`.
pub(super) fn retries(retry: &HttpRetry, r: &mut Reporter<'_>, f: &str) {
    if retry.attempts < 0 {
        r.error(format!("{f}.attempts"), "attempts cannot be negative");
    } else if retry.attempts > i64::from(i32::MAX) {
        r.error(
            format!("{f}.attempts"),
            format!("{} is over {} (an int32)", retry.attempts, i32::MAX),
        );
    }
    let retry_on = set(&retry.retry_on);
    if retry.attempts == 0
        && (retry.per_try_timeout.is_some()
            || retry_on.is_some()
            || retry.retry_remote_localities.is_some())
    {
        r.error(
            f,
            "http retry policy configured when attempts are set to 0 (disabled)",
        );
    }
    if let Some(t) = &retry.per_try_timeout {
        report(
            r,
            format!("{f}.perTryTimeout"),
            fields::duration(t).map(|_| ()),
        );
    }
    for policy in retry_on.iter().flat_map(|s| s.split(',')) {
        let status = policy.parse::<u16>().is_ok_and(known_status);
        if !status && !RETRY_ON.contains(&policy) {
            r.error(
                format!("{f}.retryOn"),
                format!("{policy:?} is not a valid retryOn policy"),
            );
        }
    }
    if let Some(b) = &retry.backoff {
        report(r, format!("{f}.backoff"), fields::duration(b).map(|_| ()));
    }
}
