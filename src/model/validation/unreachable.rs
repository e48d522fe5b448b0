//! Warnings about rules that can never be used, as Istio's `analyzeUnreachableHTTPRules` (and
//! its TCP and TLS twins) finds them: a rule after one with no `match` (which takes every
//! request), a match block identical to an earlier one, and an HTTP prefix match covered by an
//! earlier, shorter prefix with the same other conditions. Warnings only: the config stays
//! valid. Imports only [`crate::config`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

use crate::config::diag::Reporter;
use crate::config::wire::{HttpMatchRequest, HttpRoute, StringMatch};

/// Warns about the unreachable rules of one route list (`kind` is `http`, `tcp` or `tls`);
/// `routes` holds each rule's match blocks.
pub(super) fn rules<M: PartialEq + Debug>(routes: &[&[M]], kind: &str, r: &mut Reporter<'_>) {
    let mut seen: Seen<'_, M, usize> = Seen::default();
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
            if let Some(earlier) = seen.get(m) {
                r.warning_coded(
                    "IST0131",
                    format!("{f}.match[{j}]"),
                    format!("VirtualService rule #{i} match #{j} is not used (duplicate/overlapping match in rule #{earlier})"),
                );
                duplicates += 1;
            } else {
                seen.insert(m, i);
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

/// Match blocks seen so far, found by a hash of their `Debug` text and confirmed equal: a
/// VirtualService of 10,000 rules is checked in linear time (Istio keys a map by each match's
/// JSON for the same reason), not by comparing every pair.
struct Seen<'a, M, V> {
    by_hash: HashMap<u64, Vec<(&'a M, V)>>,
}

impl<M, V> Default for Seen<'_, M, V> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
        }
    }
}

impl<'a, M: PartialEq + Debug, V: Copy> Seen<'a, M, V> {
    fn hash(m: &M) -> u64 {
        let mut h = DefaultHasher::new();
        format!("{m:?}").hash(&mut h);
        h.finish()
    }

    /// What was recorded with a block equal to `m`.
    fn get(&self, m: &M) -> Option<V> {
        let bucket = self.by_hash.get(&Self::hash(m))?;
        bucket.iter().find(|(s, _)| *s == m).map(|(_, v)| *v)
    }

    fn insert(&mut self, m: &'a M, value: V) {
        self.by_hash
            .entry(Self::hash(m))
            .or_default()
            .push((m, value));
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
    let mut seen: Seen<'_, HttpMatchRequest, ()> = Seen::default();
    for (i, route) in routes.iter().enumerate() {
        if route.matches.is_empty() {
            break;
        }
        for (j, m) in route.matches.iter().enumerate() {
            if seen.get(m).is_some() {
                continue;
            }
            seen.insert(m, ());
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

#[cfg(test)]
mod tests {
    use crate::model::test_fixtures::compile_with_seed;

    /// (field, code) of each warning for a VirtualService with these `http` rules.
    fn warnings(http: &str) -> Vec<(String, String)> {
        let vs = format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n{http}"
        );
        let (_, diags) = compile_with_seed(&[("vs.yaml", &vs)]);
        diags
            .iter()
            .filter(|d| !d.is_error())
            .filter_map(|d| Some((d.field.clone()?, d.code?.to_string())))
            .collect()
    }

    const TO_V1: &str = "    route: [{destination: {host: calcbackendsvc, subset: v1}}]\n";

    #[test]
    fn a_repeated_match_a_rule_after_a_catch_all_and_a_covered_prefix_are_warned() {
        let rule = |m: &str| format!("  - match: [{m}]\n{TO_V1}");
        let http = [
            rule("{uri: {exact: /a}}"),
            rule("{uri: {prefix: /api}}"),
            rule("{uri: {exact: /a}}"),
            rule("{uri: {prefix: /api/v2}}"),
            format!("  -{}", &TO_V1[3..]),
            rule("{uri: {exact: /late}}"),
        ]
        .concat();
        assert_eq!(
            warnings(&http),
            [
                ("spec.http[2].match[0]".to_string(), "IST0131".to_string()),
                ("spec.http[5]".to_string(), "IST0130".to_string()),
                ("spec.http[3].match[0]".to_string(), "IST0131".to_string()),
            ]
        );
    }

    #[test]
    fn ten_thousand_distinct_rules_have_no_warning() {
        let http: String = (0..10_000)
            .map(|k| format!("  - match: [{{uri: {{exact: /r{k}}}}}]\n{TO_V1}"))
            .collect();
        assert!(warnings(&http).is_empty());
    }
}
