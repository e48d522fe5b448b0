//! JSON-aware body diff: the paths (JSON Pointer, RFC 6901 as RFC 6902 patches use them, e.g.
//! `/factors/2`) where two documents differ, with ignored paths left out.
//!
//! Arrays of equal length are compared element by element; arrays of different lengths differ
//! at the array itself (`/factors`), since every index after the first change would differ too.

use serde_json::Value;

/// At most this many paths are reported for one pair.
pub const MAX_PATHS: usize = 32;

/// Paths where `a` and `b` differ, skipping those `ignored` matches.
pub fn json_diff(a: &Value, b: &Value, ignored: &IgnoreList) -> Vec<String> {
    let mut out = Vec::new();
    walk(a, b, &mut String::new(), ignored, &mut out);
    out
}

fn walk(a: &Value, b: &Value, path: &mut String, ignored: &IgnoreList, out: &mut Vec<String>) {
    if out.len() >= MAX_PATHS || ignored.matches(path) {
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
                    (Some(va), Some(vb)) => walk(va, vb, path, ignored, out),
                    _ => {
                        if !ignored.matches(path) && out.len() < MAX_PATHS {
                            out.push(path.clone());
                        }
                    }
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                walk(va, vb, path, ignored, out);
                path.truncate(len);
            }
        }
        (x, y) => {
            if x != y {
                out.push(if path.is_empty() {
                    "/".to_string()
                } else {
                    path.clone()
                });
            }
        }
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
/// `/items/3/price` becomes `/items/*/price`.
pub fn normalize(path: &str) -> String {
    if path == "/" {
        return "/".into();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(a: Value, b: Value, ignore: &[&str]) -> Vec<String> {
        json_diff(&a, &b, &IgnoreList::new(ignore.iter().copied()))
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
    fn arrays_of_different_lengths_differ_as_a_whole() {
        let a = json!({"factors": [2, 2, 3, 3]});
        let b = json!({"factors": [2, 3]});
        assert_eq!(diff(a, b, &[]), vec!["/factors"]);
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
    }
}
