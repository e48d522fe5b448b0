//! Generators for the routing property tests ([`super::props_tests`]): route tables written as
//! Istio YAML, requests, and a naive evaluator of the generated matches that shares no code
//! with the compiled matchers (so a property compares two independent readings of one table).

use http::HeaderMap;
use proptest::prelude::*;
use proptest::sample::select;

use crate::model::test_fixtures::SEED_SERVICES;
use crate::model::{ProxyIdentity, RouteTable, compile_text};

/// The service every route forwards to (subsets v1, v2, v3 from [`SEED_SERVICES`]).
pub(super) const HOST: &str = "calcbackendsvc";
/// A service only ever mirrored to.
pub(super) const SHADOW: &str = "shadowsvc";
/// The forward subsets a destination may name.
pub(super) const SUBSETS: [&str; 3] = ["v1", "v2", "v3"];

const SHADOW_SERVICE: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: shadow, namespace: challengeistio}\nspec:\n  hosts: [shadowsvc]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.1, ports: {http: 9099}}]\n";

/// What a value must be for a regex to match it, written out by hand.
type Meaning = fn(&str) -> bool;

/// Regexes with their meaning (RE2, whole value).
const REGEXES: &[(&str, Meaning)] = &[
    ("/a.*", |p| p.starts_with("/a")),
    ("/a|/ab", |p| p == "/a" || p == "/ab"),
    ("/[ab]", |p| p == "/a" || p == "/b"),
    ("/b/c+", |p| {
        p.strip_prefix("/b/")
            .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b == b'c'))
    }),
    ("1|2", |v| v == "1" || v == "2"),
];

/// A generated `StringMatch`.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    Exact(&'static str),
    Prefix(&'static str),
    /// Index into [`REGEXES`].
    Regex(usize),
    /// `{}`: present.
    Present,
}

impl Cond {
    fn yaml(&self) -> String {
        match self {
            Self::Exact(s) => format!("{{exact: \"{s}\"}}"),
            Self::Prefix(s) => format!("{{prefix: \"{s}\"}}"),
            Self::Regex(i) => format!("{{regex: \"{}\"}}", REGEXES[*i].0),
            Self::Present => "{}".into(),
        }
    }

    fn holds(&self, value: Option<&str>) -> bool {
        let Some(v) = value else { return false };
        match self {
            Self::Exact(s) => v == *s,
            Self::Prefix(s) => v.starts_with(s),
            Self::Regex(i) => (REGEXES[*i].1)(v),
            Self::Present => true,
        }
    }
}

/// One match block: its conditions AND'ed; none at all holds for every request.
#[derive(Debug, Clone)]
pub(super) struct Block {
    uri: Option<Cond>,
    method: Option<&'static str>,
    /// On header `x-h`.
    header: Option<Cond>,
    /// Exact value of query parameter `q`.
    query: Option<&'static str>,
}

/// One generated `http` route, named `r{index}`.
#[derive(Debug, Clone)]
pub(super) struct GenRoute {
    pub blocks: Vec<Block>,
    /// `(subset index, weight)`; at least one weight is positive.
    pub destinations: Vec<(usize, u64)>,
    /// Mirror percentages; mirror `k` goes to [`SHADOW`] (even `k`) or to subset `v3`, which no
    /// destination of a route with mirrors names (odd `k`).
    pub mirrors: Vec<f64>,
}

/// A generated request.
#[derive(Debug, Clone)]
pub(super) struct GenRequest {
    pub method: &'static str,
    pub path: &'static str,
    pub header: Option<&'static str>,
    pub query: Option<&'static str>,
}

fn cond(values: &'static [&'static str], present: bool) -> impl Strategy<Value = Cond> {
    let kinds = if present { 4 } else { 3 };
    (0..kinds, select(values), 0..REGEXES.len()).prop_map(|(k, s, r)| match k {
        0 => Cond::Exact(s),
        1 => Cond::Prefix(s),
        2 => Cond::Regex(r),
        _ => Cond::Present,
    })
}

fn block() -> impl Strategy<Value = Block> {
    (
        proptest::option::of(cond(&["/", "/a", "/ab", "/b/c"], false)),
        proptest::option::of(select(&["GET", "POST"][..])),
        proptest::option::of(cond(&["1", "12", "2"], true)),
        proptest::option::of(select(&["1", "2", ""][..])),
    )
        .prop_map(|(uri, method, header, query)| Block {
            uri,
            method,
            header,
            query,
        })
}

/// Weighted destinations: 1 to 4, subsets `v1`/`v2` only when `avoid_v3`.
pub(super) fn destinations(avoid_v3: bool) -> impl Strategy<Value = Vec<(usize, u64)>> {
    let subsets: usize = if avoid_v3 { 2 } else { 3 };
    prop::collection::vec((0..subsets, 0..=100u64), 1..=4).prop_map(|mut d| {
        if d.iter().all(|(_, w)| *w == 0) {
            d[0].1 = 1;
        }
        d
    })
}

/// A mirror percentage: 0 and 100 often, anything in between otherwise.
pub(super) fn percent() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(100.0), 0.0..=100.0f64]
}

pub(super) fn route() -> impl Strategy<Value = GenRoute> {
    (
        prop::collection::vec(block(), 0..=2),
        destinations(true),
        prop::collection::vec(percent(), 0..=3),
    )
        .prop_map(|(blocks, destinations, mirrors)| GenRoute {
            blocks,
            destinations,
            mirrors,
        })
}

pub(super) fn request() -> impl Strategy<Value = GenRequest> {
    (
        select(&["GET", "POST"][..]),
        select(&["/", "/a", "/ab", "/abc", "/A", "/b", "/b/c", "/b/cc"][..]),
        proptest::option::of(select(&["1", "12", "2", ""][..])),
        proptest::option::of(select(&["q=1", "q=2", "x=1&q=1", "q", "q=2&q=1"][..])),
    )
        .prop_map(|(method, path, header, query)| GenRequest {
            method,
            path,
            header,
            query,
        })
}

fn block_yaml(b: &Block) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &b.uri {
        parts.push(format!("uri: {}", c.yaml()));
    }
    if let Some(m) = b.method {
        parts.push(format!("method: {{exact: {m}}}"));
    }
    if let Some(c) = &b.header {
        parts.push(format!("headers: {{x-h: {}}}", c.yaml()));
    }
    if let Some(q) = b.query {
        parts.push(format!("queryParams: {{q: {{exact: \"{q}\"}}}}"));
    }
    format!("    - {{{}}}\n", parts.join(", "))
}

fn route_yaml(i: usize, r: &GenRoute) -> String {
    let mut y = format!("  - name: r{i}\n");
    if !r.blocks.is_empty() {
        y.push_str("    match:\n");
        r.blocks.iter().for_each(|b| y.push_str(&block_yaml(b)));
    }
    y.push_str("    route:\n");
    for (s, w) in &r.destinations {
        let subset = SUBSETS[*s];
        y.push_str(&format!(
            "    - {{destination: {{host: {HOST}, subset: {subset}}}, weight: {w}}}\n"
        ));
    }
    if !r.mirrors.is_empty() {
        y.push_str("    mirrors:\n");
    }
    for (k, p) in r.mirrors.iter().enumerate() {
        let dest = if k % 2 == 0 {
            format!("{{host: {SHADOW}}}")
        } else {
            format!("{{host: {HOST}, subset: v3}}")
        };
        y.push_str(&format!(
            "    - {{destination: {dest}, percentage: {{value: {p:?}}}}}\n"
        ));
    }
    y
}

/// Compiles the routes as one VirtualService for [`HOST`]; panics on any error.
pub(super) fn compile(routes: &[GenRoute]) -> RouteTable {
    let mut yaml = format!(
        "{SEED_SERVICES}---\n{SHADOW_SERVICE}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: challengeistio}}\nspec:\n  hosts: [{HOST}]\n  http:\n"
    );
    for (i, r) in routes.iter().enumerate() {
        yaml.push_str(&route_yaml(i, r));
    }
    let identity = ProxyIdentity {
        namespace: "challengeistio".into(),
        ..Default::default()
    };
    let (table, diags) = compile_text("props.yaml", &yaml, &identity);
    let errors: Vec<String> = (diags.iter().filter(|d| d.is_error()))
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{yaml}");
    table.expect("compiles")
}

/// The first route whose match holds, and the block that held (naive reading of the spec).
pub(super) fn naive_first_match(
    routes: &[GenRoute],
    r: &GenRequest,
) -> Option<(usize, Option<usize>)> {
    let query_q = r.query.and_then(|q| {
        q.split('&')
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .find_map(|(k, v)| (k == "q").then_some(v))
    });
    let holds = |b: &Block| {
        b.uri.as_ref().is_none_or(|c| c.holds(Some(r.path)))
            && b.method.is_none_or(|m| m == r.method)
            && b.header.as_ref().is_none_or(|c| c.holds(r.header))
            && b.query.is_none_or(|q| query_q == Some(q))
    };
    routes.iter().enumerate().find_map(|(i, route)| {
        if route.blocks.is_empty() {
            return Some((i, None));
        }
        let block = route.blocks.iter().position(holds)?;
        Some((i, Some(block)))
    })
}

/// The request's headers.
pub(super) fn headers(r: &GenRequest) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(v) = r.header {
        h.insert("x-h", v.parse().expect("valid header value"));
    }
    h
}
