//! Comparing one primary response with one mirrored response: status, headers (minus an ignore
//! list) and body (decoded per `content-encoding` beforehand, see [`decode`](super::decode);
//! JSON-aware by path, else by bytes and size), each difference with its [`DiffKind`].

use std::collections::BTreeSet;

use bytes::Bytes;
use http::HeaderMap;

use super::json_diff::{IgnoreList, JsonRules, json_diff};
use super::kind::{DiffKind, Difference};

/// Headers that differ between any two answers and say nothing about correctness.
pub const DEFAULT_IGNORED_HEADERS: [&str; 12] = [
    "date",
    "server",
    "x-request-id",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "age",
    "expires",
    "via",
    "x-envoy-upstream-service-time",
    "x-served-by",
];

/// What a comparison ignores.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    /// Lower-case header names.
    pub headers: BTreeSet<String>,
    /// JSON paths ignored, and arrays compared as sets.
    pub json: JsonRules,
}

impl Ignore {
    /// The default header list plus `extra` entries: those starting with `/` are JSON paths,
    /// the others header names.
    pub fn new<'a>(extra: impl IntoIterator<Item = &'a str> + Clone) -> Self {
        let mut headers: BTreeSet<String> = DEFAULT_IGNORED_HEADERS
            .iter()
            .map(|h| h.to_string())
            .collect();
        headers.extend(
            extra
                .clone()
                .into_iter()
                .filter(|e| !e.starts_with('/'))
                .map(str::to_ascii_lowercase),
        );
        Self {
            headers,
            json: JsonRules {
                ignore: IgnoreList::new(extra.into_iter().filter(|e| e.starts_with('/'))),
                unordered: IgnoreList::default(),
            },
        }
    }

    /// The same, with the arrays at `paths` compared as multisets.
    pub fn unordered<'a>(mut self, paths: impl IntoIterator<Item = &'a str>) -> Self {
        self.json.unordered = IgnoreList::new(paths);
        self
    }
}

/// One side of a pair.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// Status; 0 when there was no response.
    pub status: u16,
    /// Response headers, when captured.
    pub headers: Option<&'a HeaderMap>,
    /// The body's first bytes, when captured.
    pub body: Option<&'a Bytes>,
    /// The body's full size.
    pub size: u64,
    /// The body did not decode per its `content-encoding`.
    pub undecodable: bool,
}

/// How two responses differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairDiff {
    /// The statuses differ.
    pub status: bool,
    /// Names of differing headers.
    pub headers: Vec<String>,
    /// Differing body fields by JSON pointer (`/` for a whole non-JSON body), with their kinds.
    pub body: Vec<Difference>,
}

impl PairDiff {
    /// No difference at all.
    pub fn is_empty(&self) -> bool {
        !self.status && self.headers.is_empty() && self.body.is_empty()
    }

    /// Every difference, each as found and as counted ([`Found`]), normalized once.
    pub fn found(&self) -> Vec<Found> {
        (self.fields().into_iter())
            .map(|at| Found {
                field: at.normalized(),
                at,
            })
            .collect()
    }

    /// Every difference, its field named `status`, `header:NAME`, or by the JSON pointer.
    pub fn fields(&self) -> Vec<Difference> {
        let mut out = Vec::new();
        if self.status {
            out.push(Difference::new("status", DiffKind::Status));
        }
        out.extend(
            (self.headers.iter()).map(|h| Difference::new(format!("header:{h}"), DiffKind::Header)),
        );
        out.extend(self.body.iter().cloned());
        out
    }
}

/// One difference as found (`at`, `/items/3/price`) and as counted (`field`,
/// `/items/*/price`).
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it was found.
    pub at: Difference,
    /// The field it counts under ([`Difference::normalized`]).
    pub field: Difference,
}

/// Compares `a` and `b`.
pub fn diff_pair(a: Side<'_>, b: Side<'_>, ignore: &Ignore) -> PairDiff {
    let mut d = PairDiff {
        status: a.status != b.status,
        ..Default::default()
    };
    if let (Some(ha), Some(hb)) = (a.headers, b.headers) {
        d.headers = differing_headers(ha, hb, ignore);
    }
    if let (Some(ba), Some(bb)) = (a.body, b.body) {
        if a.undecodable || b.undecodable {
            if !(a.undecodable && b.undecodable && ba == bb) {
                d.body = vec![Difference::new("/", DiffKind::Encoding)];
            }
            return d;
        }
        d.body = differing_body(a, ba, b, bb, ignore);
    }
    d
}

/// Names of the headers (not ignored) whose values differ, sorted. Walks each map once
/// (most pairs differ in no header: nothing is collected for them).
fn differing_headers(ha: &HeaderMap, hb: &HeaderMap, ignore: &Ignore) -> Vec<String> {
    let mut names = Vec::new();
    for name in ha.keys() {
        if !ignore.headers.contains(name.as_str()) && !ha.get_all(name).iter().eq(hb.get_all(name))
        {
            names.push(name.to_string());
        }
    }
    for name in hb.keys() {
        if !ha.contains_key(name) && !ignore.headers.contains(name.as_str()) {
            names.push(name.to_string());
        }
    }
    names.sort_unstable();
    names
}

/// The body's differences: none for the same bytes; by JSON path when both parse as JSON;
/// else the whole body (`/`) when bytes or sizes differ.
fn differing_body(
    a: Side<'_>,
    ba: &Bytes,
    b: Side<'_>,
    bb: &Bytes,
    ignore: &Ignore,
) -> Vec<Difference> {
    if ba == bb && a.size == b.size {
        return Vec::new();
    }
    let parse = |body: &Bytes| {
        may_be_json(body)
            .then(|| serde_json::from_slice::<serde_json::Value>(body).ok())
            .flatten()
    };
    match (parse(ba), parse(bb)) {
        (Some(ja), Some(jb)) => json_diff(&ja, &jb, &ignore.json),
        _ if ba != bb || a.size != b.size => vec![Difference::new("/", DiffKind::Value)],
        _ => Vec::new(),
    }
}

/// Whether `body` can be JSON by its first byte (after white space): a text or HTML body is
/// then not parsed (a failed parse allocates its error).
fn may_be_json(body: &[u8]) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    matches!(
        first,
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side<'a>(status: u16, headers: &'a HeaderMap, body: &'a Bytes) -> Side<'a> {
        Side {
            status,
            headers: Some(headers),
            body: Some(body),
            size: body.len() as u64,
            undecodable: false,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn default_ignored_headers_do_not_count() {
        let ha = headers(&[
            ("date", "Mon"),
            ("content-type", "application/json"),
            ("x-request-id", "a"),
        ]);
        let hb = headers(&[
            ("date", "Tue"),
            ("content-type", "application/json"),
            ("x-request-id", "a"),
        ]);
        let body = Bytes::from_static(br#"{"a":1}"#);
        let d = diff_pair(
            side(200, &ha, &body),
            side(200, &hb, &body),
            &Ignore::new([]),
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn status_headers_and_body_paths() {
        let ha = headers(&[("content-type", "application/json")]);
        let hb = headers(&[("content-type", "text/plain"), ("x-new", "1")]);
        let a = Bytes::from_static(br#"{"number":36,"factors":[2,2,3,3],"timestamp":1}"#);
        let b = Bytes::from_static(br#"{"number":36,"factors":[2,3],"timestamp":2}"#);
        let d = diff_pair(
            side(200, &ha, &a),
            side(500, &hb, &b),
            &Ignore::new(["/timestamp"]),
        );
        assert!(d.status);
        assert_eq!(d.headers, vec!["content-type", "x-new"]);
        assert_eq!(d.body, vec![Difference::new("/factors", DiffKind::Length)]);
        let fields: Vec<String> = d.fields().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            vec!["status", "header:content-type", "header:x-new", "/factors"]
        );
    }

    #[test]
    fn non_json_bodies_compare_by_bytes_and_size() {
        let h = HeaderMap::new();
        let (a, b) = (Bytes::from_static(b"hello"), Bytes::from_static(b"hellO"));
        assert_eq!(
            diff_pair(side(200, &h, &a), side(200, &h, &b), &Ignore::default()).body,
            vec![Difference::new("/", DiffKind::Value)]
        );
        assert!(diff_pair(side(200, &h, &a), side(200, &h, &a), &Ignore::default()).is_empty());
        // Same captured prefix, different full size (the capture was cut).
        let mut longer = side(200, &h, &a);
        longer.size = 9000;
        assert_eq!(
            diff_pair(side(200, &h, &a), longer, &Ignore::default()).body,
            vec![Difference::new("/", DiffKind::Value)]
        );
    }

    #[test]
    fn an_undecodable_body_is_an_encoding_difference() {
        let h = HeaderMap::new();
        let a = Bytes::from_static(b"{}");
        let mut bad = side(200, &h, &a);
        bad.undecodable = true;
        let d = diff_pair(side(200, &h, &a), bad, &Ignore::default());
        assert_eq!(d.body, vec![Difference::new("/", DiffKind::Encoding)]);
    }

    #[test]
    fn extra_ignores_split_into_headers_and_paths() {
        let i = Ignore::new(["X-Trace", "/served_by"]);
        assert!(i.headers.contains("x-trace"));
        assert!(i.json.ignore.matches("/served_by"));
    }

    #[test]
    fn only_a_body_that_can_be_json_is_parsed_as_json() {
        let cases = [
            ("{\"a\":1}", true),
            (" \n[1]", true),
            ("\"s\"", true),
            ("-1", true),
            ("7", true),
            ("true", true),
            ("false", true),
            ("null", true),
            ("hello", false),
            ("<html></html>", false),
            ("", false),
            ("  ", false),
        ];
        for (body, can) in cases {
            assert_eq!(may_be_json(body.as_bytes()), can, "{body:?}");
        }
        // JSON written differently is still the same JSON.
        let h = HeaderMap::new();
        let (a, b) = (
            Bytes::from_static(br#"{"a":1}"#),
            Bytes::from_static(br#"{ "a": 1 }"#),
        );
        assert!(diff_pair(side(200, &h, &a), side(200, &h, &b), &Ignore::default()).is_empty());
    }

    #[test]
    fn repeated_header_values_differ_by_order_and_count() {
        let body = Bytes::new();
        let ha = headers(&[("vary", "a"), ("vary", "b"), ("x-one", "1")]);
        let reordered = headers(&[("vary", "b"), ("vary", "a"), ("x-one", "1")]);
        let fewer = headers(&[("vary", "a"), ("x-one", "1")]);
        let same = headers(&[("x-one", "1"), ("vary", "a"), ("vary", "b")]);
        let names = |hb: &HeaderMap| {
            diff_pair(
                side(200, &ha, &body),
                side(200, hb, &body),
                &Ignore::default(),
            )
            .headers
        };
        assert_eq!(names(&reordered), ["vary"]);
        assert_eq!(names(&fewer), ["vary"]);
        assert!(names(&same).is_empty());
        assert_eq!(names(&HeaderMap::new()), ["vary", "x-one"]);
    }
}
