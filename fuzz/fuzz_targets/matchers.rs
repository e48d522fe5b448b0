//! The compiled matchers from fuzzed wire values. Input: lines (UTF-8, lossy). Line 0 holds flag
//! letters: `e`, `p`, `r` set `exact`, `prefix`, `regex` of the `StringMatch` (each takes the next
//! line as its value, in that order); `u` compiles it as a `uri` match; `h` also builds a header
//! matcher whose name is the next line (`w`: `withoutHeaders`); `q` a query matcher likewise.
//! Every remaining line is a value matched by each matcher built. Must never panic.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shadowmesh::config::wire::StringMatch;
use shadowmesh::model::matchers::header::{HeaderCondition, HeaderKey};
use shadowmesh::model::matchers::{HeaderMatcher, QueryMatcher, StringMatcher};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let flags = lines.next().unwrap_or("");
    let mut take = |on: bool| on.then(|| lines.next().unwrap_or("").to_string());
    let wire = StringMatch {
        exact: take(flags.contains('e')),
        prefix: take(flags.contains('p')),
        regex: take(flags.contains('r')),
    };
    let header_name = take(flags.contains('h'));
    let query_name = take(flags.contains('q'));
    let values: Vec<&str> = lines.collect();

    let string = if flags.contains('u') {
        StringMatcher::try_from_uri(&wire)
    } else {
        StringMatcher::try_from(&wire)
    };
    if let Ok(m) = &string {
        let _ = m.describe();
        for v in &values {
            // ignoring ASCII case can only widen a match
            assert!(!m.matches(v) || m.matches_ignore_case(v), "{m:?} on {v:?}");
        }
    }
    if let Some(name) = &header_name {
        let condition = HeaderCondition {
            name,
            value: &wire,
            invert: flags.contains('w'),
        };
        if let Ok(m) = HeaderMatcher::try_from(condition) {
            let mut headers = HeaderMap::new();
            let _ = m.matches(&headers);
            // Pseudo-headers (`:method`, ...) are matched against the request line, not here.
            let header = match &m.name {
                HeaderKey::Header(name) => Some(name.clone()),
                _ => None,
            };
            for v in &values {
                if let (Some(name), Ok(value)) = (&header, HeaderValue::from_str(v)) {
                    headers.append(name.clone(), value);
                }
                let _ = m.matches(&headers);
            }
        }
    }
    if let Some(name) = &query_name
        && let Ok(m) = QueryMatcher::try_from((name.as_str(), &wire))
    {
        let _ = m.matches(None);
        for v in &values {
            let _ = m.matches(Some(v));
        }
    }
});
