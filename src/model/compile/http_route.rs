//! One `http` route of a VirtualService: its match blocks (see
//! [`crate::model::matchers::request`]), its action (weighted destinations, redirect or direct
//! response), its mirrors, timeout, rewrite and header operations. Every diagnostic is at
//! `spec.http[i]...`.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::time::Duration;

use http::header::HeaderValue;

use crate::config::diag::Reporter;
use crate::config::wire::{HttpMatchRequest, HttpRewrite, HttpRoute, StringMatch};
use crate::model::duration::parse_duration;
use crate::model::matchers::RequestMatch;
use crate::model::matchers::request::InvalidRequestMatch;
use crate::model::table::{Action, Rewrite, Route};

use super::header_ops::header_rules;
use super::local_response::{direct, redirect};
use super::{Compiler, ProxyIdentity};

impl Compiler<'_> {
    /// Compiles route `i`; `None` when it has errors or never applies to this proxy.
    pub(super) fn route(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        i: usize,
    ) -> Option<Route> {
        let f = format!("spec.http[{i}]");
        warn_unsupported(route, r, &f);
        if route.delegate.is_some() {
            return None;
        }
        let matches = self.matches(route, r, &f)?;
        let action = self.action(route, ns, r, &f);
        // Mirrors are checked even when the action has errors, so all are reported at once.
        let mirrors = self.mirrors(route, ns, r, &f);
        let action = action?;
        if !mirrors.is_empty() && !matches!(action, Action::Forward(_)) {
            r.error(
                format!("{f}.mirror"),
                "mirroring needs a route (not redirect or directResponse)",
            );
        }
        let timeout = timeout(route.timeout.as_deref(), r, &f);
        let rewrite = route.rewrite.as_ref().and_then(|rw| rewrite(rw, r, &f));
        Some(Route {
            name: route.name.clone().unwrap_or_else(|| format!("http[{i}]")),
            matches,
            action,
            mirrors,
            timeout,
            rewrite,
            headers: header_rules(route.headers.as_ref(), r, &format!("{f}.headers")),
        })
    }

    /// The blocks that apply to this proxy. `None` when the route has blocks and none of them
    /// does (each is for another source or gateway): the route never applies here.
    fn matches(
        &self,
        route: &HttpRoute,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<Vec<RequestMatch>> {
        let mut matches = Vec::new();
        let mut dropped = 0;
        for (j, m) in route.matches.iter().enumerate() {
            match request_match(m, self.identity, r, &format!("{f}.match[{j}]")) {
                Some(Some(m)) => matches.push(m),
                Some(None) => dropped += 1,
                None => {}
            }
        }
        (dropped == 0 || !matches.is_empty()).then_some(matches)
    }

    /// Exactly one of `route`, `redirect` and `directResponse`.
    fn action(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<Action> {
        let kinds = [
            !route.route.is_empty(),
            route.redirect.is_some(),
            route.direct_response.is_some(),
        ];
        match kinds {
            [true, false, false] => self.weighted(route, ns, r, f).map(Action::Forward),
            [false, true, false] => route
                .redirect
                .as_ref()
                .and_then(|rd| redirect(rd, r, f))
                .map(Action::Redirect),
            [false, false, true] => route
                .direct_response
                .as_ref()
                .and_then(|d| direct(d, r, f))
                .map(Action::Direct),
            [false, false, false] => {
                r.error(f, "a route needs one of route, redirect or directResponse");
                None
            }
            _ => {
                r.error(f, "use only one of route, redirect and directResponse");
                None
            }
        }
    }
}

/// Warns about the route features shadowmesh does not act on.
fn warn_unsupported(route: &HttpRoute, r: &mut Reporter<'_>, f: &str) {
    for (name, present, what) in [
        (
            "retries",
            route.retries.is_some(),
            "retries are not performed (each request is tried once)",
        ),
        (
            "fault",
            route.fault.is_some(),
            "fault injection is not supported; ignored",
        ),
        (
            "corsPolicy",
            route.cors_policy.is_some(),
            "CORS is not handled; ignored",
        ),
        (
            "delegate",
            route.delegate.is_some(),
            "delegation is not acted on yet; this route is skipped",
        ),
    ] {
        if present {
            r.warning(format!("{f}.{name}"), what);
        }
    }
}

/// `None`: the block has errors. `Some(None)`: the block can never hold for this proxy.
fn request_match(
    m: &HttpMatchRequest,
    identity: &ProxyIdentity,
    r: &mut Reporter<'_>,
    f: &str,
) -> Option<Option<RequestMatch>> {
    let m = &routable(m, r, f);
    let compiled = match RequestMatch::try_from(m) {
        Ok(compiled) => compiled,
        Err(InvalidRequestMatch(errors)) => {
            for e in errors {
                r.error(format!("{f}.{}", e.field), e.error.to_string());
            }
            return None;
        }
    };
    Some(applies_to(m, identity).then_some(compiled))
}

/// The block as the matchers take it: `port: 0` is unset (proto3), `regex: "*"` in
/// `withoutHeaders` means "present" (Istio's reading), and header keys the matchers do not
/// handle yet (pseudo-headers, JWT claims) are dropped with a warning naming them.
fn routable(m: &HttpMatchRequest, r: &mut Reporter<'_>, f: &str) -> HttpMatchRequest {
    let mut m = m.clone();
    m.port = m.port.filter(|p| *p != 0);
    for value in m.without_headers.values_mut() {
        if value.regex.as_deref() == Some("*") {
            *value = StringMatch::default();
        }
    }
    for (field, map) in [
        ("headers", &mut m.headers),
        ("withoutHeaders", &mut m.without_headers),
    ] {
        map.retain(|name, _| {
            let unhandled = name.starts_with(':') || name.starts_with('@');
            if unhandled {
                r.warning(
                    format!("{f}.{field}.{name}"),
                    "matching on pseudo-headers and JWT claims is not implemented yet; this condition is ignored",
                );
            }
            !unhandled
        });
    }
    m
}

/// Do the block's source conditions (`gateways`, `sourceNamespace`, `sourceLabels`) hold for
/// this proxy? They do not vary per request, so they are settled here.
fn applies_to(m: &HttpMatchRequest, identity: &ProxyIdentity) -> bool {
    let for_other_gateway = !m.gateways.is_empty() && !m.gateways.iter().any(|g| g == "mesh");
    let other_namespace = m
        .source_namespace
        .as_ref()
        .is_some_and(|ns| *ns != identity.namespace);
    let other_labels = !m
        .source_labels
        .iter()
        .all(|(k, v)| identity.labels.get(k) == Some(v));
    !(for_other_gateway || other_namespace || other_labels)
}

/// `timeout` (validation has checked it is at least 1 ms, as Istio requires).
fn timeout(text: Option<&str>, r: &mut Reporter<'_>, f: &str) -> Option<Duration> {
    match parse_duration(text?) {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(format!("{f}.timeout"), e);
            None
        }
    }
}

/// `rewrite`: a new path (or prefix) and authority; `None` when it changes nothing.
fn rewrite(rw: &HttpRewrite, r: &mut Reporter<'_>, f: &str) -> Option<Rewrite> {
    if rw.uri_regex_rewrite.is_some() {
        r.warning(
            format!("{f}.rewrite.uriRegexRewrite"),
            "not supported; ignored",
        );
    }
    let authority = match &rw.authority {
        Some(a) => match HeaderValue::from_str(a) {
            Ok(v) => Some(v),
            Err(_) => {
                r.error(
                    format!("{f}.rewrite.authority"),
                    format!("{a:?} is not a valid authority"),
                );
                None
            }
        },
        None => None,
    };
    (rw.uri.is_some() || authority.is_some()).then(|| Rewrite {
        uri: rw.uri.clone(),
        authority,
    })
}
