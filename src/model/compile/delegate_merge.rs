//! Istio's merge of a root `http` route that delegates with one route of its delegate
//! VirtualService (`pilot/pkg/model/virtualservice.go`: `mergeHTTPRoute`,
//! `mergeHTTPMatchRequests`, `mergeHTTPMatchRequest`, `hasConflict`). Pure wire-to-wire: the
//! child route keeps its own action and options; each option it leaves unset is the root's;
//! its match blocks are ANDed with the root's, and a block that conflicts with every root
//! block drops the whole child route. Istio's table tests are ported in `delegate_tests.rs`.
//!
//! Imports only [`crate::config`].

use crate::config::wire::{HttpMatchRequest, HttpRoute, StringMatch};

/// A child route merged with its root route.
#[derive(Debug, Clone)]
pub(super) struct Merged {
    /// The route as Istio would translate it.
    pub route: HttpRoute,
    /// The route options (JSON names) taken from the root, so a problem in them is the root's.
    pub from_root: Vec<&'static str>,
    /// For each merged block: the root block and the child block it came from.
    pub blocks: Vec<(Option<usize>, Option<usize>)>,
}

/// Istio's `mergeHTTPRoute`: `None` when a child block conflicts with every root block.
pub(super) fn merge_route(root: &HttpRoute, child: &HttpRoute) -> Option<Merged> {
    let (matches, blocks) = merge_matches(&root.matches, &child.matches)?;
    let mut out = child.clone();
    out.matches = matches;
    out.name = match (root.name.as_deref(), child.name.as_deref()) {
        (r, None | Some("")) => r.map(str::to_string),
        (None | Some(""), c) => c.map(str::to_string),
        (Some(r), Some(c)) => Some(format!("{r}-{c}")),
    };
    let mut from_root = Vec::new();
    macro_rules! inherit {
        ($($field:ident: $json:literal),*) => {$(
            if out.$field.is_none() && root.$field.is_some() {
                out.$field = root.$field.clone();
                from_root.push($json);
            }
        )*};
    }
    inherit!(
        rewrite: "rewrite", direct_response: "directResponse", timeout: "timeout",
        retries: "retries", fault: "fault", mirror: "mirror", mirror_percent: "mirrorPercent",
        mirror_percentage: "mirrorPercentage", cors_policy: "corsPolicy", mirrors: "mirrors",
        headers: "headers"
    );
    // Envoy's order is redirect, then directResponse, then route: a directResponse taken from
    // the root replaces the child's route (and so its mirrors), and loses to its redirect.
    if from_root.contains(&"directResponse") {
        if out.redirect.is_some() {
            out.direct_response = None;
            from_root.retain(|f| *f != "directResponse");
        } else {
            out.route.clear();
            (out.mirror, out.mirrors) = (None, None);
        }
    }
    Some(Merged {
        route: out,
        from_root,
        blocks,
    })
}

/// Blocks and where each came from: `(root block, child block)`.
type Blocks = (Vec<HttpMatchRequest>, Vec<(Option<usize>, Option<usize>)>);

/// Istio's `mergeHTTPMatchRequests`: every child block ANDed with each root block it does not
/// conflict with; `None` (conflict) when a child block fits no root block.
pub(super) fn merge_matches(
    root: &[HttpMatchRequest],
    child: &[HttpMatchRequest],
) -> Option<Blocks> {
    if root.is_empty() {
        let from = (0..child.len()).map(|c| (None, Some(c))).collect();
        return Some((child.to_vec(), from));
    }
    if child.is_empty() {
        let from = (0..root.len()).map(|r| (Some(r), None)).collect();
        return Some((root.to_vec(), from));
    }
    let mut out = Vec::new();
    let mut from = Vec::new();
    for (c, leaf) in child.iter().enumerate() {
        let before = out.len();
        for (r, block) in root.iter().enumerate() {
            if !has_conflict(block, leaf) {
                out.push(merge_match(block, leaf));
                from.push((Some(r), Some(c)));
            }
        }
        if out.len() == before {
            return None;
        }
    }
    Some((out, from))
}

/// Istio's `mergeHTTPMatchRequest`: the child's conditions, and the root's where the child has
/// none; maps are unions (the child's entry wins on a shared key).
pub(super) fn merge_match(root: &HttpMatchRequest, child: &HttpMatchRequest) -> HttpMatchRequest {
    let mut out = child.clone();
    out.name = match (root.name.as_deref(), child.name.as_deref()) {
        (r, None | Some("")) => r.map(str::to_string),
        (None | Some(""), c) => c.map(str::to_string),
        (Some(r), Some(c)) => Some(format!("{r}-{c}")),
    };
    for (mine, theirs) in [
        (&mut out.uri, &root.uri),
        (&mut out.scheme, &root.scheme),
        (&mut out.method, &root.method),
        (&mut out.authority, &root.authority),
    ] {
        if mine.is_none() {
            mine.clone_from(theirs);
        }
    }
    for (mine, theirs) in [
        (&mut out.headers, &root.headers),
        (&mut out.without_headers, &root.without_headers),
        (&mut out.query_params, &root.query_params),
    ] {
        for (k, v) in theirs {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for (k, v) in &root.source_labels {
        out.source_labels
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    if out.port.unwrap_or(0) == 0 {
        out.port = root.port;
    }
    if out
        .source_namespace
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        out.source_namespace.clone_from(&root.source_namespace);
    }
    if out.gateways.is_empty() {
        out.gateways.clone_from(&root.gateways);
    }
    if out.stat_prefix.as_deref().unwrap_or_default().is_empty() {
        out.stat_prefix.clone_from(&root.stat_prefix);
    }
    out
}

/// Istio's `hasConflict`: can no request satisfy both blocks, or is the child not within the
/// root?
pub(super) fn has_conflict(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> bool {
    let strings = [
        (&root.uri, &leaf.uri),
        (&root.scheme, &leaf.scheme),
        (&root.method, &leaf.method),
        (&root.authority, &leaf.authority),
    ];
    if strings
        .iter()
        .any(|(r, l)| string_conflict(r.as_ref(), l.as_ref()))
    {
        return true;
    }
    for (roots, leaves) in [
        (&root.headers, &leaf.headers),
        (&root.without_headers, &leaf.without_headers),
        (&root.query_params, &leaf.query_params),
    ] {
        if leaves
            .iter()
            .any(|(k, l)| string_conflict(roots.get(k), Some(l)))
        {
            return true;
        }
    }
    let (rp, lp) = (root.port.unwrap_or(0), leaf.port.unwrap_or(0));
    let root_ns = root.source_namespace.as_deref().unwrap_or_default();
    let leaf_ns = leaf.source_namespace.as_deref().unwrap_or_default();
    root.ignore_uri_case != leaf.ignore_uri_case
        || (rp > 0 && lp > 0 && rp != lp)
        || (!root_ns.is_empty() && leaf_ns != root_ns)
        || leaf
            .source_labels
            .iter()
            .any(|(k, v)| root.source_labels.get(k).is_some_and(|r| r != v))
        || (!root.gateways.is_empty()
            && !leaf.gateways.is_empty()
            && !leaf.gateways.iter().all(|g| root.gateways.contains(g)))
}

/// Istio's `stringMatchConflict`: no conflict when either is unset; regexes are never merged
/// with anything; an exact root takes only the same exact; a prefix root takes a longer prefix
/// or an exact under it.
fn string_conflict(root: Option<&StringMatch>, leaf: Option<&StringMatch>) -> bool {
    let (Some(root), Some(leaf)) = (root, leaf) else {
        return false;
    };
    let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let (r_exact, r_prefix, r_regex) = (set(&root.exact), set(&root.prefix), set(&root.regex));
    let (l_exact, l_prefix, l_regex) = (set(&leaf.exact), set(&leaf.prefix), set(&leaf.regex));
    if r_regex.is_some() && (l_regex.is_some() || l_prefix.is_some() || l_exact.is_some()) {
        return true;
    }
    if l_regex.is_some() && (r_exact.is_some() || r_prefix.is_some()) {
        return true;
    }
    if let Some(exact) = r_exact {
        return l_prefix.is_some() || l_exact.as_deref() != Some(exact.as_str());
    }
    if let Some(prefix) = r_prefix {
        if let Some(p) = l_prefix {
            return !p.starts_with(&prefix);
        }
        if let Some(e) = l_exact {
            return !e.starts_with(&prefix);
        }
    }
    true
}
