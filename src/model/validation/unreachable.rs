//! Warnings about rules that can never be used, as Istio's `analyzeUnreachableHTTPRules` (and
//! its TCP and TLS twins) finds them: a rule after one with no `match` (which takes every
//! request), a match block identical to an earlier one, and an HTTP prefix match covered by an
//! earlier, shorter prefix with the same other conditions. Warnings only: the config stays
//! valid. Imports only [`crate::config`].

use std::collections::BTreeMap;

use crate::config::diag::Reporter;
use crate::config::wire::{HttpMatchRequest, HttpRoute, StringMatch};

/// Warns about the unreachable rules of one route list (`kind` is `http`, `tcp` or `tls`);
/// `routes` holds each rule's match blocks.
pub(super) fn rules<M: PartialEq>(routes: &[&[M]], kind: &str, r: &mut Reporter<'_>) {
    let mut seen: Vec<(&M, usize)> = Vec::new();
    let mut catch_all: Option<usize> = None;
    for (i, matches) in routes.iter().enumerate() {
        let f = format!("spec.{kind}[{i}]");
        if matches.is_empty() {
            if let Some(before) = catch_all {
                r.warning_coded("IST0130", f, format!("VirtualService rule #{i} not used (only the last rule can have no matches; rule #{before} has none)"));
            }
            catch_all = Some(i);
            continue;
        }
        if let Some(before) = catch_all {
            r.warning_coded("IST0130", f, format!("VirtualService rule #{i} not used (rule #{before} before it has no matches and takes every request)"));
            continue;
        }
        let mut duplicates = 0;
        for (j, m) in matches.iter().enumerate() {
            if let Some((_, earlier)) = seen.iter().find(|(s, _)| *s == m) {
                r.warning_coded(
                    "IST0131",
                    format!("{f}.match[{j}]"),
                    format!("VirtualService rule #{i} match #{j} is not used (duplicate/overlapping match in rule #{earlier})"),
                );
                duplicates += 1;
            } else {
                seen.push((m, i));
            }
        }
        if duplicates == matches.len() && duplicates > 1 {
            r.warning_coded(
                "IST0130",
                f,
                format!(
                    "VirtualService rule #{i} not used (all its matches are used by prior rules)"
                ),
            );
        }
    }
}

/// What Istio compares of an HTTP match with a `uri` prefix to find one covering another.
struct PrefixMatch<'a> {
    at: String,
    prefix: &'a str,
    port: u32,
    method: String,
    authority: String,
    headers: BTreeMap<&'a str, String>,
    query: BTreeMap<&'a str, String>,
    without: BTreeMap<&'a str, String>,
}

fn exact_or_prefix(m: Option<&StringMatch>) -> String {
    match m {
        Some(StringMatch { exact: Some(e), .. }) if !e.is_empty() => format!("exact:{e}"),
        Some(StringMatch {
            prefix: Some(p), ..
        }) if !p.is_empty() => format!("prefix:{p}"),
        _ => String::new(),
    }
}

fn summary(map: &BTreeMap<String, StringMatch>) -> BTreeMap<&str, String> {
    map.iter()
        .map(|(k, v)| (k.as_str(), exact_or_prefix(Some(v))))
        .collect()
}

fn prefix_match(m: &HttpMatchRequest, at: String) -> Option<PrefixMatch<'_>> {
    let prefix = m
        .uri
        .as_ref()?
        .prefix
        .as_deref()
        .filter(|p| !p.is_empty())?;
    let method = match exact_or_prefix(m.method.as_ref()) {
        none if none.is_empty() => "exact:GET".to_string(),
        method => method,
    };
    Some(PrefixMatch {
        at,
        prefix,
        port: m.port.unwrap_or(0),
        method,
        authority: exact_or_prefix(m.authority.as_ref()),
        headers: summary(&m.headers),
        query: summary(&m.query_params),
        without: summary(&m.without_headers),
    })
}

/// Istio's `coveredValidation`: does `a` (earlier) take every request `b` (later) would?
fn covers(a: &PrefixMatch<'_>, b: &PrefixMatch<'_>) -> bool {
    let value = |va: &String, vb: &String| va == vb || va.starts_with(vb.as_str());
    let map = |ma: &BTreeMap<&str, String>, mb: &BTreeMap<&str, String>| {
        ma.len() == mb.len()
            && ma
                .iter()
                .all(|(k, va)| mb.get(k).is_some_and(|vb| value(va, vb)))
    };
    b.prefix.starts_with(a.prefix)
        && a.port == b.port
        && value(&a.method, &b.method)
        && value(&a.authority, &b.authority)
        && map(&a.headers, &b.headers)
        && map(&a.query, &b.query)
        && map(&a.without, &b.without)
}

/// Warns about the unreachable `http` rules, prefix overlaps included.
pub(super) fn http(routes: &[HttpRoute], r: &mut Reporter<'_>) {
    let matches: Vec<&[HttpMatchRequest]> = routes.iter().map(|h| h.matches.as_slice()).collect();
    rules(&matches, "http", r);
    let mut prefixes = Vec::new();
    let mut seen: Vec<&HttpMatchRequest> = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        if route.matches.is_empty() {
            break;
        }
        for (j, m) in route.matches.iter().enumerate() {
            if seen.contains(&m) {
                continue;
            }
            seen.push(m);
            prefixes.extend(prefix_match(m, format!("spec.http[{i}].match[{j}]")));
        }
    }
    for (k, a) in prefixes.iter().enumerate() {
        for b in &prefixes[k + 1..] {
            if a.prefix != b.prefix && covers(a, b) {
                r.warning_coded(
                    "IST0131",
                    &b.at,
                    format!("is not used (duplicate/overlapping match: prefix {} is covered by prefix {} at {}, and the first matching rule wins)", b.prefix, a.prefix, a.at),
                );
            }
        }
    }
}
