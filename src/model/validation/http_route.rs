//! One `http` route of a VirtualService, as Istio's `validateHTTPRoute` checks it: what the
//! route does (route, redirect, directResponse, delegate; root and delegate routes), its match
//! blocks, header operations, mirrors, destinations and weights, timeout. Redirect, rewrite,
//! direct response and retries are in [`super::http_action`].
//!
//! Imports only [`crate::config`] and [`crate::model`].

use crate::config::diag::Reporter;
use crate::config::wire::{
    Destination, Headers, HttpMatchRequest, HttpRoute, HttpRouteDestination, StringMatch,
};

use super::fields;
use super::http_action;
use super::report;

/// What a route's rules depend on beyond the route itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct RouteContext {
    /// The VirtualService is a delegate (it has no hosts).
    pub delegate: bool,
    /// The VirtualService applies to gateways only (no `mesh`).
    pub for_gateway: bool,
}

/// Checks route `route` at field `f` (`spec.http[i]`).
pub(super) fn validate(route: &HttpRoute, ctx: RouteContext, r: &mut Reporter<'_>, f: &str) {
    conflicts(route, ctx, r, f);
    for (j, m) in route.matches.iter().enumerate() {
        match_request(m, ctx, r, &format!("{f}.match[{j}]"));
    }
    header_operations(route.headers.as_deref(), r, &format!("{f}.headers"));
    authority_set_once(route, r, f);
    if route.mirror_percent.is_some() {
        let what = if route.mirror_percentage.is_some() {
            "deprecated and overridden by mirrorPercentage"
        } else {
            "deprecated: use mirrorPercentage.value"
        };
        r.warning(format!("{f}.mirrorPercent"), what);
    }
    if let Some(p) = route.mirror_percent
        && !(0..=100).contains(&p)
    {
        r.error(
            format!("{f}.mirrorPercent"),
            format!("mirror_percent must be from 0 to 100 (it has {p})"),
        );
    }
    if let Some(p) = &route.mirror_percentage {
        report(
            r,
            format!("{f}.mirrorPercentage.value"),
            fields::percentage_range(p.value),
        );
    }
    if let Some(m) = &route.mirror {
        destination(m, r, &format!("{f}.mirror"));
    }
    for (k, m) in route.mirrors.iter().flatten().enumerate() {
        let mf = format!("{f}.mirrors[{k}]");
        let Some(d) = &m.destination else {
            r.error(
                format!("{mf}.destination"),
                "destination is required for mirrors",
            );
            continue;
        };
        destination(d, r, &format!("{mf}.destination"));
        if let Some(p) = &m.percentage {
            report(
                r,
                format!("{mf}.percentage.value"),
                fields::percentage_range(p.value),
            );
        }
    }
    if let Some(rd) = &route.redirect {
        http_action::redirect(rd, &route.matches, r, &format!("{f}.redirect"));
    }
    if let Some(d) = &route.direct_response {
        http_action::direct_response(d, r, &format!("{f}.directResponse"));
    }
    if let Some(retry) = &route.retries {
        http_action::retries(retry, r, &format!("{f}.retries"));
    }
    if let Some(rw) = &route.rewrite {
        http_action::rewrite(rw, r, &format!("{f}.rewrite"));
    }
    route_destinations(&route.route, r, f);
    if let Some(t) = &route.timeout {
        let hint = |e: String| {
            if crate::model::duration::parse_duration(t).is_ok_and(|d| d.is_zero()) {
                format!(
                    "{e} (Istio refuses 0s; to outlast the proxy-wide limit give a long timeout, e.g. 1h)"
                )
            } else {
                e
            }
        };
        report(
            r,
            format!("{f}.timeout"),
            fields::duration(t).map(|_| ()).map_err(hint),
        );
    }
}

/// Istio's `validateHTTPRouteConflict`: exactly one thing to do, and the root/delegate rules.
fn conflicts(route: &HttpRoute, ctx: RouteContext, r: &mut Reporter<'_>, f: &str) {
    let name = route.name.as_deref().unwrap_or_default();
    if route.delegate.is_some() && !ctx.delegate {
        if route.redirect.is_some() {
            r.error(
                format!("{f}.redirect"),
                format!("root HTTP route {name} must not specify redirect (it has a delegate)"),
            );
        }
        if !route.route.is_empty() {
            r.error(
                format!("{f}.route"),
                format!("root HTTP route {name} must not specify route (it has a delegate)"),
            );
        }
        return;
    }
    if ctx.delegate && route.delegate.is_some() {
        r.error(
            format!("{f}.delegate"),
            "delegate HTTP route cannot contain delegate",
        );
    }
    let mut conflict = |with: &str, field: &str, other: &str| {
        r.error(format!("{f}.{field}"), format!("HTTP route cannot contain both {other} and {with}: use only one of route, redirect and directResponse"));
    };
    if route.redirect.is_some() {
        if !route.route.is_empty() {
            conflict("redirect", "route", "route");
        }
        if route.fault.is_some() {
            conflict("redirect", "fault", "fault");
        }
        if route.rewrite.is_some() {
            conflict("redirect", "rewrite", "rewrite");
        }
        if route.direct_response.is_some() {
            conflict("redirect", "directResponse", "directResponse");
        }
    } else if route.direct_response.is_some() {
        if !route.route.is_empty() {
            conflict("directResponse", "route", "route");
        }
        if route.fault.is_some() {
            conflict("directResponse", "fault", "fault");
        }
        if route.rewrite.is_some() {
            conflict("directResponse", "rewrite", "rewrite");
        }
    } else if route.route.is_empty() {
        r.error(
            f,
            "a route needs one of route, redirect or directResponse (or delegate)",
        );
    }
    if route.mirror.is_some() && route.mirrors.is_some() {
        r.error(
            format!("{f}.mirrors"),
            "use either mirror or mirrors, not both",
        );
    }
}

/// One `match` block (Istio's `validateHTTPRouteMatchRequest`), plus shadowmesh's rule that
/// header names are lower-case.
fn match_request(m: &HttpMatchRequest, ctx: RouteContext, r: &mut Reporter<'_>, f: &str) {
    for (map, field) in [
        (&m.headers, "headers"),
        (&m.without_headers, "withoutHeaders"),
    ] {
        for (name, value) in map {
            let hf = format!("{f}.{field}.{name}");
            if let Err(e) = header_match_name(name, ctx) {
                r.error(hf, e);
                continue;
            }
            // `regex: "*"` in withoutHeaders is not RE2: Istio reads it as "present".
            if field == "withoutHeaders" && value.regex.as_deref() == Some("*") {
                continue;
            }
            report(r, hf, string_match(value, false));
        }
    }
    report(
        r,
        format!("{f}.uri"),
        string_match(m.uri.as_ref().unwrap_or(&StringMatch::default()), true),
    );
    for (field, value) in [
        ("scheme", &m.scheme),
        ("method", &m.method),
        ("authority", &m.authority),
    ] {
        if let Some(v) = value {
            report(r, format!("{f}.{field}"), string_match(v, false));
        }
    }
    for (name, value) in &m.query_params {
        report(
            r,
            format!("{f}.queryParams.{name}"),
            string_match(value, false),
        );
    }
    if let Some(p) = m.port.filter(|p| *p != 0) {
        report(r, format!("{f}.port"), fields::port(i64::from(p)));
    }
    report(
        r,
        format!("{f}.sourceLabels"),
        fields::labels(&m.source_labels),
    );
    super::virtual_service::gateways(&m.gateways, r, &format!("{f}.gateways"));
    if let Some(ns) = m.source_namespace.as_deref().filter(|ns| !ns.is_empty()) {
        report(
            r,
            format!("{f}.sourceNamespace"),
            fields::source_namespace(ns),
        );
    }
}

fn header_match_name(name: &str, ctx: RouteContext) -> fields::Check {
    fields::header_name(name)?;
    if fields::is_jwt_claim_route(name) {
        if !ctx.for_gateway {
            return Err(format!(
                "JWT claim based routing (key: {name}) is only supported for gateway"
            ));
        }
        return Ok(());
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "header names must be lower-case: write {:?}",
            name.to_ascii_lowercase()
        ));
    }
    Ok(())
}

/// Istio's `validateStringMatch` (and `validateStringMatchRegexp` for `uri`, where an empty
/// prefix matches every path); also refuses several kinds in one match.
fn string_match(m: &StringMatch, uri: bool) -> fields::Check {
    let kinds = [m.exact.is_some(), m.prefix.is_some(), m.regex.is_some()];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err("set only one of exact, prefix and regex".into());
    }
    if m.prefix.as_deref() == Some("") && !uri {
        return Err("an empty prefix matches everything: remove the match instead (Istio: prefix string match should not be empty)".into());
    }
    match m.regex.as_deref() {
        Some("") => Err("regex string match should not be empty".into()),
        Some(re) => fields::regex(re),
        None => Ok(()),
    }
}

/// `headers` of a route or of a route destination (Istio's header operation rules).
pub(super) fn header_operations(h: Option<&Headers>, r: &mut Reporter<'_>, f: &str) {
    let Some(h) = h else { return };
    for (ops, side) in [(&h.request, "request"), (&h.response, "response")] {
        let Some(ops) = ops else { continue };
        for (op, map) in [("set", &ops.set), ("add", &ops.add)] {
            for (name, value) in map {
                let field = format!("{f}.{side}.{op}.{name}");
                let name_check = if side == "request" {
                    fields::header_op_name_with_authority(name)
                } else {
                    fields::header_op_name(name)
                };
                report(r, field.clone(), name_check);
                report(r, field, fields::header_value(value));
            }
        }
        for (i, name) in ops.remove.iter().enumerate() {
            report(
                r,
                format!("{f}.{side}.remove[{i}]"),
                fields::header_op_name(name),
            );
        }
    }
}

/// Istio's `validateAuthorityRewrite`: the authority is rewritten in one place only.
fn authority_set_once(route: &HttpRoute, r: &mut Reporter<'_>, f: &str) {
    let mut current = route
        .rewrite
        .as_ref()
        .and_then(|rw| rw.authority.clone())
        .filter(|a| !a.is_empty());
    let Some(req) = route.headers.as_deref().and_then(|h| h.request.as_ref()) else {
        return;
    };
    for (op, map) in [("set", &req.set), ("add", &req.add)] {
        for (k, v) in map.iter().filter(|(k, _)| fields::is_authority_header(k)) {
            if let Some(have) = &current {
                r.error(
                    format!("{f}.headers.request.{op}.{k}"),
                    format!("authority header cannot be set multiple times: have {have:?}, attempting to set {v:?}"),
                );
                return;
            }
            current = Some(v.clone());
        }
    }
}

/// Istio's `validateHTTPRouteDestinations`.
fn route_destinations(route: &[HttpRouteDestination], r: &mut Reporter<'_>, f: &str) {
    let mut total = 0i64;
    for (j, rd) in route.iter().enumerate() {
        let field = format!("{f}.route[{j}]");
        match &rd.destination {
            None => r.error(format!("{field}.destination"), "destination is required"),
            Some(d) => destination(d, r, &format!("{field}.destination")),
        }
        header_operations(rd.headers.as_deref(), r, &format!("{field}.headers"));
        total += weight(rd.weight, r, &format!("{field}.weight"));
    }
    if route.len() > 1 && total == 0 {
        r.error(
            format!("{f}.route"),
            "all destination weights are zero (or missing): give at least one a positive weight (Istio: total destination weight = 0)",
        );
    }
}

/// A weight: 0 to `i32::MAX` (Istio's weights are int32). Returns it for the total.
pub(super) fn weight(w: Option<i64>, r: &mut Reporter<'_>, f: &str) -> i64 {
    let w = w.unwrap_or(0);
    if w < 0 {
        r.error(f, format!("weight {w} is negative"));
    } else if w > i64::from(i32::MAX) {
        let max = i32::MAX;
        r.error(
            f,
            format!("weight {w} is over {max} (Istio's weights are int32)"),
        );
    }
    // As Istio sums them: a negative weight makes the total non-zero.
    w.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

/// Istio's `validateDestination`: host (not `*`), subset name, port.
pub(super) fn destination(d: &Destination, r: &mut Reporter<'_>, f: &str) {
    if d.host == "*" {
        r.error(format!("{f}.host"), "invalid destination host *");
    } else {
        report(r, format!("{f}.host"), fields::wildcard_domain(&d.host));
    }
    if let Some(subset) = d.subset.as_deref().filter(|s| !s.is_empty()) {
        report(r, format!("{f}.subset"), fields::subset_name(subset));
    }
    if let Some(p) = &d.port {
        report(
            r,
            format!("{f}.port.number"),
            fields::port(i64::from(p.number)),
        );
    }
}
