//! JSON-aware body diff: the paths (JSON Pointer, RFC 6901 as RFC 6902 patches use them, e.g.
//! `/factors/2`) where two documents differ, each with its [`DiffKind`], ignored paths left out.
//!
//! Arrays of equal length are compared element by element; arrays of different lengths differ
//! at the array itself (`/factors`, kind `length`), since every index after the first change
//! would differ too. Arrays at an **unordered** path (`/items`, `/items/*/tags`) are compared as
//! multisets of their elements' canonical JSON (object keys sorted, unordered arrays inside
//! sorted, ignored paths inside left out): they differ at the array itself, kind `length` when
//! the counts differ, else `value`.

use serde_json::Value;

use super::kind::{DiffKind, Difference};

/// At most this many paths are reported for one pair.
pub const MAX_PATHS: usize = 32;

/// How a JSON body is compared: paths ignored, arrays compared as sets.
#[derive(Debug, Clone, Default)]
pub struct JsonRules {
    /// Paths ignored, with everything below them.
    pub ignore: IgnoreList,
    /// Arrays compared as multisets (exact paths, `*` for any one segment).
    pub unordered: IgnoreList,
}

/// Differences between `a` and `b` under `rules`.
pub fn json_diff(a: &Value, b: &Value, rules: &JsonRules) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(a, b, &mut String::new(), rules, &mut out);
    out
}

fn push(out: &mut Vec<Difference>, path: &str, kind: DiffKind) {
    if out.len() < MAX_PATHS {
        let field = if path.is_empty() { "/" } else { path };
        out.push(Difference::new(field, kind));
    }
}

fn walk(a: &Value, b: &Value, path: &mut String, rules: &JsonRules, out: &mut Vec<Difference>) {
    if out.len() >= MAX_PATHS || rules.ignore.matches(path) {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x
                .keys()
                .chain(y.keys().filter(|k| !x.contains_key(*k)))
                .collect();
            keys.sort();
            for key in keys {
                let len = path.len();
                path.push('/');
                push_escaped(path, key);
                match (x.get(key), y.get(key)) {
                    (Some(va), Some(vb)) => walk(va, vb, path, rules, out),
                    (Some(v), None) | (None, Some(v)) if !rules.ignore.matches(path) => {
                        push(out, path, DiffKind::one_sided(v, x.contains_key(key)));
                    }
                    _ => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y))
            if !path.is_empty() && rules.unordered.matches_exactly(path) =>
        {
            let canon = |items: &Vec<Value>| {
                let mut c: Vec<String> = items
                    .iter()
                    .map(|v| canonical(v, &mut format!("{path}/*"), rules))
                    .collect();
                c.sort_unstable();
                c
            };
            if x.len() != y.len() {
                push(out, path, DiffKind::Length);
            } else if canon(x) != canon(y) {
                push(out, path, DiffKind::Value);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                walk(va, vb, path, rules, out);
                path.truncate(len);
            }
        }
        (x, y) => {
            if let Some(kind) = DiffKind::between(x, y) {
                push(out, path, kind);
            }
        }
    }
}

/// `v` at `path` as canonical JSON: object keys sorted, ignored members left out, arrays at
/// unordered paths sorted (array elements are at `*`).
fn canonical(v: &Value, path: &mut String, rules: &JsonRules) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut parts = Vec::with_capacity(keys.len());
            for k in keys {
                let len = path.len();
                path.push('/');
                push_escaped(path, k);
                if !rules.ignore.matches(path) {
                    let key = Value::String(k.clone()).to_string();
                    parts.push(format!("{key}:{}", canonical(&m[k], path, rules)));
                }
                path.truncate(len);
            }
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let unordered = rules.unordered.matches_exactly(path);
            let len = path.len();
            path.push_str("/*");
            let mut parts: Vec<String> = items.iter().map(|i| canonical(i, path, rules)).collect();
            path.truncate(len);
            if unordered {
                parts.sort_unstable();
            }
            format!("[{}]", parts.join(","))
        }
        scalar => scalar.to_string(),
    }
}

fn push_escaped(path: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// The path with array indices replaced by `*`, for counting "the same field" across pairs:
/// `/items/3/price` becomes `/items/*/price`. Other fields (`status`, `header:NAME`) are kept.
pub fn normalize(path: &str) -> String {
    if path == "/" || !path.starts_with('/') {
        return path.into();
    }
    path.split('/')
        .skip(1)
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                seg
            }
        })
        .fold(String::new(), |mut acc, seg| {
            acc.push('/');
            acc.push_str(seg);
            acc
        })
}

/// JSON paths to ignore: a path ignores itself and everything below it; `*` matches any one
/// segment (`/items/*/id`).
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    patterns: Vec<Vec<String>>,
}

impl IgnoreList {
    /// Builds from pointers such as `/timestamp` and `/items/*/id` (others are skipped).
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            patterns: paths
                .into_iter()
                .filter(|p| p.starts_with('/'))
                .map(|p| p.split('/').skip(1).map(str::to_string).collect())
                .collect(),
        }
    }

    /// True when `path` (a JSON pointer) is ignored.
    pub fn matches(&self, path: &str) -> bool {
        if self.patterns.is_empty() || path.is_empty() {
            return false;
        }
        let segs: Vec<&str> = path.split('/').skip(1).collect();
        self.patterns.iter().any(|pat| {
            pat.len() <= segs.len() && pat.iter().zip(&segs).all(|(p, s)| p == "*" || p == s)
        })
    }

    /// True when `path` is exactly one of the patterns (`*` matching any one segment), not
    /// merely below one.
    pub fn matches_exactly(&self, path: &str) -> bool {
        let segs: Vec<&str> = path.split('/').skip(1).collect();
        self.patterns.iter().any(|pat| {
            pat.len() == segs.len() && pat.iter().zip(&segs).all(|(p, s)| p == "*" || p == s)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::kind::JsonType;
    use serde_json::json;

    fn rules(ignore: &[&str], unordered: &[&str]) -> JsonRules {
        JsonRules {
            ignore: IgnoreList::new(ignore.iter().copied()),
            unordered: IgnoreList::new(unordered.iter().copied()),
        }
    }

    fn diff(a: Value, b: Value, ignore: &[&str]) -> Vec<String> {
        kinds(a, b, &rules(ignore, &[]))
            .into_iter()
            .map(|d| d.field)
            .collect()
    }

    fn kinds(a: Value, b: Value, rules: &JsonRules) -> Vec<Difference> {
        json_diff(&a, &b, rules)
    }

    #[test]
    fn identical_documents_do_not_differ() {
        let v = json!({"number": 36, "factors": [2, 2, 3, 3], "version": "v1"});
        assert!(diff(v.clone(), v, &[]).is_empty());
    }

    #[test]
    fn differences_are_named_by_json_pointer() {
        let a = json!({"number": 12, "factors": [2, 2, 3], "meta": {"a/b": 1, "x": true}});
        let b = json!({"number": 12, "factors": [2, 3, 3], "meta": {"a/b": 2}, "extra": null});
        assert_eq!(
            diff(a, b, &[]),
            vec!["/extra", "/factors/1", "/meta/a~1b", "/meta/x"]
        );
    }

    #[test]
    fn each_difference_has_its_kind() {
        let a = json!({"n": 1, "f": 2, "s": 3, "gone": 1, "nul": null, "arr": [1, 2], "v": "a"});
        let b = json!({"n": 1, "f": 2.0, "s": "3", "new": 1, "arr": [1], "v": "b"});
        let got: Vec<(String, DiffKind)> = kinds(a, b, &JsonRules::default())
            .into_iter()
            .map(|d| (d.field, d.kind))
            .collect();
        let t = DiffKind::Type;
        assert_eq!(
            got,
            vec![
                ("/arr".into(), DiffKind::Length),
                ("/f".into(), t(JsonType::Integer, JsonType::Float)),
                ("/gone".into(), DiffKind::Missing),
                ("/new".into(), DiffKind::Extra),
                ("/nul".into(), t(JsonType::Null, JsonType::Missing)),
                ("/s".into(), t(JsonType::Integer, JsonType::String)),
                ("/v".into(), DiffKind::Value),
            ]
        );
    }

    #[test]
    fn arrays_of_different_lengths_differ_as_a_whole() {
        let a = json!({"factors": [2, 2, 3, 3]});
        let b = json!({"factors": [2, 3]});
        assert_eq!(diff(a, b, &[]), vec!["/factors"]);
    }

    #[test]
    fn unordered_arrays_compare_as_multisets() {
        let a =
            json!({"items": [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": []}], "o": [1, 2]});
        let b =
            json!({"items": [{"id": 2, "tags": []}, {"id": 1, "tags": ["y", "x"]}], "o": [2, 1]});
        let r = rules(&[], &["/items", "/items/*/tags"]);
        let fields: Vec<String> = kinds(a.clone(), b.clone(), &r)
            .into_iter()
            .map(|d| d.field)
            .collect();
        assert_eq!(
            fields,
            vec!["/o/0", "/o/1"],
            "only the ordered array differs"
        );
        // Without the nested rule, the tags' order inside a set element counts.
        let outer_only = rules(&[], &["/items"]);
        assert_eq!(
            kinds(a, b, &outer_only)[0],
            Difference::new("/items", DiffKind::Value)
        );
        // Multisets: counts matter; another length is a length difference.
        let r = rules(&[], &["/s"]);
        assert_eq!(
            kinds(json!({"s": [1, 1, 2]}), json!({"s": [1, 2, 2]}), &r)[0].kind,
            DiffKind::Value
        );
        assert_eq!(
            kinds(json!({"s": [1, 2]}), json!({"s": [2]}), &r)[0].kind,
            DiffKind::Length
        );
        // Ignored members inside set elements do not count.
        let r = rules(&["/s/*/at"], &["/s"]);
        let (a, b) = (
            json!({"s": [{"k": 1, "at": 5}, {"k": 2}]}),
            json!({"s": [{"k": 2}, {"k": 1, "at": 6}]}),
        );
        assert!(kinds(a, b, &r).is_empty());
    }

    #[test]
    fn ignored_paths_and_wildcards() {
        let a = json!({"timestamp": 1, "served_by": "a", "items": [{"id": 1, "p": 5}, {"id": 2, "p": 6}]});
        let b = json!({"timestamp": 2, "served_by": "b", "items": [{"id": 9, "p": 5}, {"id": 8, "p": 7}]});
        assert_eq!(
            diff(
                a.clone(),
                b.clone(),
                &["/timestamp", "/served_by", "/items/*/id"]
            ),
            vec!["/items/1/p"]
        );
        assert_eq!(diff(a, b, &["/items"]).len(), 2);
    }

    #[test]
    fn type_changes_and_scalars() {
        assert_eq!(diff(json!({"a": 1}), json!({"a": "1"}), &[]), vec!["/a"]);
        assert_eq!(diff(json!(1), json!(2), &[]), vec!["/"]);
    }

    #[test]
    fn normalization_generalizes_indices() {
        assert_eq!(normalize("/items/3/price"), "/items/*/price");
        assert_eq!(normalize("/factors"), "/factors");
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize("header:x-1"), "header:x-1");
        assert_eq!(normalize("status"), "status");
    }
}
