//! Examples of a differing pair ([`Example`]): the request, both (decoded) bodies cut to
//! [`EXAMPLE_BYTES`], and the values at the differing place (`primary_value`,
//! `candidate_value`: the JSON at the pointer, the header's values, the status) so a reader, or
//! the page, can find them in the bodies.

use serde_json::Value;

use super::kind::{DiffKind, Difference};
use super::observed::Observed;
use super::report::Example;

/// Bytes of each body kept in an example.
pub const EXAMPLE_BYTES: usize = 1024;
/// Bytes of each differing value kept in an example.
pub const VALUE_BYTES: usize = 200;
/// What an example shows for a value that is not there.
pub const ABSENT: &str = "(absent)";

/// One pair's two answers, their bodies parsed on first need (once per pair at most).
pub struct PairValues<'a> {
    primary: &'a Observed,
    candidate: &'a Observed,
    parsed: Option<(Option<Value>, Option<Value>)>,
}

impl<'a> PairValues<'a> {
    /// The pair, nothing parsed yet.
    pub fn new(primary: &'a Observed, candidate: &'a Observed) -> Self {
        Self {
            primary,
            candidate,
            parsed: None,
        }
    }

    /// An example of the difference `at` (its concrete field, indices not generalized).
    pub fn example(&mut self, at: &Difference) -> Example {
        let (primary_value, candidate_value) = self.values(at);
        let (p, c) = (self.primary, self.candidate);
        Example {
            request: p.request.clone(),
            primary_status: p.status,
            primary: snippet(p.body.as_deref(), EXAMPLE_BYTES),
            candidate_status: c.status,
            candidate: snippet(c.body.as_deref(), EXAMPLE_BYTES),
            path: at.field.clone(),
            primary_value,
            candidate_value,
        }
    }

    fn values(&mut self, at: &Difference) -> (String, String) {
        let (p, c) = (self.primary, self.candidate);
        if at.kind == DiffKind::Status {
            return (p.status.to_string(), c.status.to_string());
        }
        if let Some(name) = at.field.strip_prefix("header:") {
            return (header(p, name), header(c, name));
        }
        if at.kind == DiffKind::Encoding {
            let said = |o: &Observed| {
                if o.undecodable {
                    "undecodable"
                } else {
                    "decoded"
                }
            };
            return (said(p).into(), said(c).into());
        }
        let (pv, cv) = self.parsed.get_or_insert_with(|| (parse(p), parse(c)));
        if pv.is_none() || cv.is_none() {
            // Not JSON: the bodies themselves are the values.
            return (
                snippet(p.body.as_deref(), VALUE_BYTES),
                snippet(c.body.as_deref(), VALUE_BYTES),
            );
        }
        let pointer = if at.field == "/" { "" } else { &at.field };
        let at = |v: &Option<Value>| {
            v.as_ref()
                .and_then(|v| v.pointer(pointer))
                .map_or_else(|| ABSENT.to_string(), |v| cut(v.to_string(), VALUE_BYTES))
        };
        (at(pv), at(cv))
    }
}

fn parse(o: &Observed) -> Option<Value> {
    serde_json::from_slice(o.body.as_deref()?).ok()
}

fn header(o: &Observed, name: &str) -> String {
    let values: Vec<String> = o
        .headers
        .iter()
        .flat_map(|h| h.get_all(name))
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    if values.is_empty() {
        ABSENT.into()
    } else {
        cut(values.join(", "), VALUE_BYTES)
    }
}

fn snippet(b: Option<&[u8]>, limit: usize) -> String {
    b.map_or_else(String::new, |b| {
        String::from_utf8_lossy(&b[..b.len().min(limit)]).into_owned()
    })
}

/// `s` cut at `limit` bytes (on a character boundary), with `…` when cut.
pub(super) fn cut(mut s: String, limit: usize) -> String {
    if s.len() > limit {
        let mut end = limit;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::kind::JsonType;
    use std::sync::Arc;

    fn ob(body: &str, status: u16) -> Observed {
        Observed {
            pair: 1,
            mirror: false,
            service: "s".into(),
            route: "r".into(),
            version: "v1".into(),
            status,
            flag: crate::telemetry::Flag::None,
            headers: None,
            body: Some(bytes::Bytes::from(body.to_string())),
            size: body.len() as u64,
            duration: std::time::Duration::ZERO,
            request: "GET /".into(),
            mirrors_sent: 1,
            ignore: Arc::new(Vec::new()),
            unordered: Arc::new(Vec::new()),
            undecodable: false,
        }
    }

    #[test]
    fn examples_show_the_values_at_the_differing_place() {
        let (p, c) = (ob(r#"{"f":[2,3],"x":1}"#, 200), ob(r#"{"f":[2.0,3]}"#, 500));
        let mut v = PairValues::new(&p, &c);
        let t = DiffKind::Type(JsonType::Integer, JsonType::Float);
        let e = v.example(&Difference::new("/f/0", t));
        assert_eq!((e.path.as_str(), e.primary_value.as_str()), ("/f/0", "2"));
        assert_eq!(e.candidate_value, "2.0");
        let e = v.example(&Difference::new("/x", DiffKind::Missing));
        assert_eq!(
            (e.primary_value.as_str(), e.candidate_value.as_str()),
            ("1", ABSENT)
        );
        let e = v.example(&Difference::new("status", DiffKind::Status));
        assert_eq!(
            (e.primary_value.as_str(), e.candidate_value.as_str()),
            ("200", "500")
        );
        assert_eq!(cut("ab".repeat(200), 5), "ababa…");
    }
}
