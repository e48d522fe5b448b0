//! Header operations (`headers.request` / `headers.response`: `set`, `add`, `remove`) of a route
//! or a destination, with names and values checked.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use http::header::{HeaderName, HeaderValue};

use crate::config::diag::Reporter;
use crate::config::wire::{HeaderOperations, Headers};
use crate::model::table::{HeaderOps, HeaderRules};

/// The request and response operations of `h` (at field `f`).
pub(super) fn header_rules(h: Option<&Headers>, r: &mut Reporter<'_>, f: &str) -> HeaderRules {
    let Some(h) = h else {
        return HeaderRules::default();
    };
    HeaderRules {
        request: header_ops(h.request.as_ref(), r, &format!("{f}.request")),
        response: header_ops(h.response.as_ref(), r, &format!("{f}.response")),
    }
}

/// One direction's operations.
fn header_ops(ops: Option<&HeaderOperations>, r: &mut Reporter<'_>, f: &str) -> HeaderOps {
    let mut out = HeaderOps::default();
    let Some(ops) = ops else {
        return out;
    };
    let pair = |k: &str, v: &str, field: String, r: &mut Reporter<'_>| match (
        HeaderName::from_bytes(k.as_bytes()),
        HeaderValue::from_str(v),
    ) {
        (Ok(name), Ok(value)) => Some((name, value)),
        _ => {
            r.error(field, format!("{k}: {v:?} is not a valid header"));
            None
        }
    };
    for (op, map) in [("set", &ops.set), ("add", &ops.add)] {
        for name in map.keys().filter(|k| k.starts_with(':')) {
            r.warning(
                format!("{f}.{op}.{name}"),
                "setting pseudo-headers is not implemented yet; ignored",
            );
        }
    }
    let regular = |(k, _): &(&String, &String)| !k.starts_with(':');
    out.set = ops
        .set
        .iter()
        .filter(regular)
        .filter_map(|(k, v)| pair(k, v, format!("{f}.set.{k}"), r))
        .collect();
    out.add = ops
        .add
        .iter()
        .filter(regular)
        .filter_map(|(k, v)| pair(k, v, format!("{f}.add.{k}"), r))
        .collect();
    for (i, k) in ops.remove.iter().enumerate() {
        match HeaderName::from_bytes(k.as_bytes()) {
            Ok(name) => out.remove.push(name),
            Err(_) => r.error(
                format!("{f}.remove[{i}]"),
                format!("{k:?} is not a valid header name"),
            ),
        }
    }
    out
}
