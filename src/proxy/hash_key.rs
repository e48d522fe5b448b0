//! A request's consistent-hash key, computed as Envoy's hash policies compute it from what
//! Istio's `consistentHashToHashPolicy` configures, with xxHash64:
//! - `httpHeaderName`: the header's values, sorted, chained (absent: no key);
//! - `httpCookie`: the cookie's value (quotes stripped; empty counts as absent). Absent with a
//!   `ttl`, the proxy makes one (16 hex digits from the client's address: the same for a
//!   connection) and hashes that; the answer then carries
//!   `Set-Cookie: name="value"; Max-Age=ttl; Path=path; attributes; HttpOnly`, so the client
//!   sticks from its next request on;
//! - `useSourceIp`: the client's IP address;
//! - `httpQueryParameterName`: the parameter's first raw value (`?k` alone is `""`).
//!
//! No key: the cluster hashes at random, as Envoy does. Computed from the client's head before
//! the prepare step, as Envoy hashes the downstream headers before the route's header
//! operations. Each mirror's cluster hashes the same request with its own key (a cookie the
//! primary made counts as sent); Envoy's shadows, which carry no hash policy, choose at random.

use std::net::SocketAddr;

use http::header::{COOKIE, HeaderMap, HeaderValue};
use xxhash_rust::xxh64::xxh64;

use super::steps::Routed;
use super::{ConnInfo, RequestCtx};
use crate::model::Cluster;
use crate::model::cluster::{HashCookie, HashKey};
use crate::model::matchers::query::query_value;

/// The hashes of one request: the primary's and, by mirror (in the route's order), each
/// mirror's; empty when no mirror's cluster hashes.
pub(super) struct RequestHashes {
    pub(super) primary: Option<u64>,
    pub(super) mirrors: Vec<Option<u64>>,
}

/// A cookie the proxy made for this request.
struct Generated {
    name: String,
    value: String,
}

impl RequestCtx {
    /// The request's hashes for its clusters; a generated cookie's `Set-Cookie` is kept for the
    /// answer.
    pub(super) fn hash_keys(&mut self, routed: &Routed<'_>, conn: &ConnInfo) -> RequestHashes {
        let mut generated = None;
        let primary = key_of(routed.cluster)
            .and_then(|k| hash(k, &self.parts, conn.remote, Some(&mut generated)));
        self.hash_cookie = match (&generated, key_of(routed.cluster)) {
            (Some(g), Some(HashKey::Cookie(c))) => set_cookie(c, &g.value),
            _ => None,
        };
        let choices = || routed.decision.mirror_choices();
        let mirrors = if choices().any(|(c, _)| key_of(c).is_some()) {
            choices()
                .map(|(c, _)| {
                    let parts = &self.parts;
                    key_of(c).and_then(|k| hash_mirror(k, parts, conn.remote, generated.as_ref()))
                })
                .collect()
        } else {
            Vec::new()
        };
        RequestHashes { primary, mirrors }
    }
}

/// The key of a cluster that chooses by hash.
fn key_of(cluster: &Cluster) -> Option<&HashKey> {
    let hashing = cluster.policy.lb.is_hash() && !cluster.passthrough;
    cluster.policy.hash_key.as_ref().filter(|_| hashing)
}

/// The hash of `key` for the request `head` from `remote`; a cookie policy with a ttl makes a
/// cookie (into `generate`) when the request has none.
fn hash(
    key: &HashKey,
    head: &http::request::Parts,
    remote: SocketAddr,
    generate: Option<&mut Option<Generated>>,
) -> Option<u64> {
    match key {
        HashKey::Header(name) => header_hash(&head.headers, name),
        HashKey::Cookie(cookie) => match cookie_value(&head.headers, &cookie.name) {
            Some(v) => Some(xxh64(v.as_bytes(), 0)),
            None => {
                cookie.ttl_secs?;
                let generate = generate?;
                let value = format!("{:016x}", xxh64(remote.to_string().as_bytes(), 0));
                let hash = xxh64(value.as_bytes(), 0);
                *generate = Some(Generated {
                    name: cookie.name.clone(),
                    value,
                });
                Some(hash)
            }
        },
        HashKey::SourceIp => Some(xxh64(remote.ip().to_canonical().to_string().as_bytes(), 0)),
        HashKey::QueryParameter(name) => {
            query_value(head.uri.query()?, name).map(|v| xxh64(v.as_bytes(), 0))
        }
    }
}

/// A mirror's hash: like the primary's, a cookie the primary made counting as sent.
fn hash_mirror(
    key: &HashKey,
    head: &http::request::Parts,
    remote: SocketAddr,
    generated: Option<&Generated>,
) -> Option<u64> {
    match (key, generated) {
        (HashKey::Cookie(c), Some(g))
            if c.name == g.name && cookie_value(&head.headers, &c.name).is_none() =>
        {
            Some(xxh64(g.value.as_bytes(), 0))
        }
        _ => hash(key, head, remote, None),
    }
}

/// Envoy's header hash: every value of the header, sorted, each hashed with the previous
/// hash as seed.
fn header_hash(headers: &HeaderMap, name: &str) -> Option<u64> {
    let mut values: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values.iter().fold(0, |seed, v| xxh64(v, seed)))
}

/// The value of cookie `name` (Envoy's `parseCookieValue`: the first one, double quotes
/// stripped); an empty value counts as absent.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = (headers.get_all(COOKIE).iter())
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim_start_matches(' ').split_once('='))
        .find(|(k, _)| *k == name)
        .map(
            |(_, v)| match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(unquoted) => unquoted,
                None => v,
            },
        )?;
    (!value.is_empty()).then_some(value)
}

/// Envoy's `makeSetCookieValue` for a generated cookie: `name="value"`, `Max-Age` unless the
/// ttl is 0, `Path` when set, the attributes, `HttpOnly`.
fn set_cookie(cookie: &HashCookie, value: &str) -> Option<HeaderValue> {
    let mut out = format!("{}=\"{value}\"", cookie.name);
    if let Some(ttl) = cookie.ttl_secs.filter(|t| *t > 0) {
        out.push_str(&format!("; Max-Age={ttl}"));
    }
    if !cookie.path.is_empty() {
        out.push_str(&format!("; Path={}", cookie.path));
    }
    for (name, value) in &cookie.attributes {
        if value.is_empty() {
            out.push_str(&format!("; {name}"));
        } else {
            out.push_str(&format!("; {name}={value}"));
        }
    }
    out.push_str("; HttpOnly");
    HeaderValue::from_str(&out).ok()
}

#[cfg(test)]
#[path = "hash_key_tests.rs"]
mod tests;
