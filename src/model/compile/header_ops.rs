//! Header operations (`headers.request` / `headers.response`: `set`, `add`, `remove`) of a route
//! or a destination, with names and values checked; `:authority`/`Host` in `set` or `add` is
//! taken out as a host rewrite, as Istio does.
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
    let request = h.request.as_ref();
    HeaderRules {
        request: header_ops(request, r, &format!("{f}.request")),
        response: header_ops(h.response.as_ref(), r, &format!("{f}.response")),
        authority: request.and_then(|ops| authority(ops, r, &format!("{f}.request"))),
    }
}

/// Istio's `isAuthorityHeader`: `:authority` or `Host`, in any case.
fn is_authority(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

/// The host rewrite an `:authority`/`Host` in `set` or `add` makes (`set` wins), as Istio's
/// `TranslateHeadersOperations` turns it into Envoy's `host_rewrite_literal`.
fn authority(ops: &HeaderOperations, r: &mut Reporter<'_>, f: &str) -> Option<HeaderValue> {
    let mut found = None;
    for (map, kind) in [(&ops.add, "add"), (&ops.set, "set")] {
        for (k, v) in map.iter().filter(|(k, _)| is_authority(k)) {
            match HeaderValue::from_str(v) {
                Ok(value) => found = Some(value),
                Err(_) => r.error(
                    format!("{f}.{kind}.{k}"),
                    format!("{v:?} is not a valid authority"),
                ),
            }
        }
    }
    found
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
        for name in map
            .keys()
            .filter(|k| k.starts_with(':') && !is_authority(k))
        {
            r.warning(
                format!("{f}.{op}.{name}"),
                "setting pseudo-headers other than :authority is not implemented; ignored",
            );
        }
    }
    for (op, map) in [("set", &ops.set), ("add", &ops.add)] {
        for (name, _) in map
            .iter()
            .filter(|(k, v)| v.contains('%') && !k.starts_with(':'))
        {
            r.warning(
                format!("{f}.{op}.{name}"),
                "Envoy's %VARIABLE% substitution (and %% for %) is not implemented: the value is sent as written",
            );
        }
    }
    // `:authority`/`Host` are the host rewrite above; other pseudo-headers are not sent.
    let regular = |(k, _): &(&String, &String)| !k.starts_with(':') && !is_authority(k);
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
