//! Header work of a forwarding proxy: hop-by-hop headers removed (RFC 9110 section 7.6.1),
//! `x-forwarded-for` appended, `x-forwarded-proto` set, `x-request-id` added when missing; which
//! connection upgrade a request asks for ([`upgrade_request`]) and putting a kept one back
//! ([`keep_upgrade`]).

use http::HeaderMap;
use http::header::{self, Entry, HeaderName, HeaderValue};

/// `x-request-id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Envoy's try number on an upstream request (Istio's sidecars send it: 1, then 2, ...).
pub static X_ENVOY_ATTEMPT_COUNT: HeaderName = HeaderName::from_static("x-envoy-attempt-count");
/// `x-forwarded-for`.
/// A gRPC answer's status (read by the retry conditions).
pub static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// Set by an upstream Envoy that rate-limited the request (retry condition `envoy-ratelimited`).
pub static X_ENVOY_RATELIMITED: HeaderName = HeaderName::from_static("x-envoy-ratelimited");
/// Proxies the request passed through.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-forwarded-proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// A `static`, not a `const`: a `const` array of names is built and dropped at every use
/// (eight drops a request, twice).
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// A gRPC request? (`content-type: application/grpc`, `application/grpc+proto`, ...)
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
///
/// Runs twice per request (its head and its answer's), and most heads carry none: one pass
/// over the names (a comparison of interned names each, no hashing) decides whether there is
/// anything to remove. A profile had this at 7% of the proxy's instructions when it removed
/// each of the eight names by string (a parse and a hash each) unconditionally.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut present = 0u8;
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    // `te: trailers` is end to end in practice (gRPC servers require it), unless `Connection`
    // names `te`.
    const TE_PRESENT: u8 = 1 << 4;
    let mut te_trailers = present & TE_PRESENT != 0
        && (headers.get(header::TE))
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    if present & 1 != 0 {
        te_trailers &= !remove_connection_named(headers);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// The tokens of `Connection` values.
fn connection_tokens<'a>(
    values: impl IntoIterator<Item = &'a HeaderValue>,
) -> impl Iterator<Item = &'a str> {
    (values.into_iter().filter_map(|v| v.to_str().ok()))
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Removes the headers `Connection` names (RFC 9110 section 7.6.1: even `close` names a header
/// to remove); whether it names `te`. The usual tokens (`keep-alive` and the other hop-by-hop
/// names, removed anyway) are read in place: only a head naming another header pays for a copy
/// of its `Connection` values.
fn remove_connection_named(headers: &mut HeaderMap) -> bool {
    let usual = |t: &str| {
        t.is_empty()
            || HOP_BY_HOP
                .iter()
                .any(|h| t.eq_ignore_ascii_case(h.as_str()))
    };
    let listed = headers.get_all(header::CONNECTION);
    let names_te = connection_tokens(&listed).any(|t| t.eq_ignore_ascii_case("te"));
    if connection_tokens(&listed).all(usual) {
        return names_te;
    }
    let values: Vec<HeaderValue> = listed.iter().cloned().collect();
    for token in connection_tokens(&values) {
        if !usual(token) {
            headers.remove(token);
        }
    }
    names_te
}

/// The connection upgrade an HTTP/1.1 request asks for (`Connection: upgrade` and an `Upgrade`
/// header, both case-insensitive, as Envoy's `Utility::isUpgrade`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeRequest {
    /// None: a plain request (or an `h2c` upgrade, which Envoy strips and serves as plain).
    None,
    /// `Upgrade: websocket`, with the client's spelling of it.
    WebSocket(HeaderValue),
    /// Another protocol, which Envoy refuses (403) where only WebSocket is configured (Istio).
    Other(String),
}

/// What `version` and `headers` ask to upgrade to.
pub fn upgrade_request(version: http::Version, headers: &HeaderMap) -> UpgradeRequest {
    // `Upgrade` first: it is rare, so the common request never scans `Connection`.
    let Some(p) = headers.get(header::UPGRADE) else {
        return UpgradeRequest::None;
    };
    let asks = version == http::Version::HTTP_11
        && (headers.get_all(header::CONNECTION).iter())
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !asks {
        return UpgradeRequest::None;
    }
    let name = String::from_utf8_lossy(p.as_bytes()).trim().to_string();
    if name.eq_ignore_ascii_case("websocket") {
        UpgradeRequest::WebSocket(p.clone())
    } else if name.eq_ignore_ascii_case("h2c") {
        UpgradeRequest::None
    } else {
        UpgradeRequest::Other(name)
    }
}

/// Puts back the upgrade headers [`strip_hop_by_hop`] removed: `Connection: upgrade` and
/// `Upgrade: protocol`.
pub fn keep_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Appends the client's address to `x-forwarded-for` and sets `x-forwarded-proto` to the
/// scheme the client used (`http`: a client's own value is not trusted, as Envoy's default).
pub fn add_forwarded(headers: &mut HeaderMap, client: &HeaderValue) {
    // One lookup through the entry, not a get and an insert (each hashes the name).
    match headers.entry(X_FORWARDED_FOR.clone()) {
        Entry::Occupied(mut entry) => {
            let appended = match entry.get().to_str() {
                Ok(prev) if !prev.is_empty() => {
                    let client = client.to_str().unwrap_or("unknown");
                    HeaderValue::try_from(format!("{prev}, {client}")).ok()
                }
                _ => Some(client.clone()),
            };
            if let Some(v) = appended {
                entry.insert(v);
            }
        }
        Entry::Vacant(entry) => {
            entry.insert(client.clone());
        }
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
}

/// Returns the request's `x-request-id`, adding a random UUID when there is none. The value
/// is shared with the header (a reference count, not a copy).
pub fn ensure_request_id(headers: &mut HeaderMap) -> HeaderValue {
    // One lookup through the entry, not a get and an insert (each hashes the name).
    match headers.entry(X_REQUEST_ID.clone()) {
        Entry::Occupied(entry) if !entry.get().is_empty() && entry.get().to_str().is_ok() => {
            entry.get().clone()
        }
        Entry::Occupied(mut entry) => {
            let id = new_request_id();
            entry.insert(id.clone());
            id
        }
        Entry::Vacant(entry) => entry.insert(new_request_id()).clone(),
    }
}

/// A random (version 4) UUID, lower-case and hyphenated.
fn new_request_id() -> HeaderValue {
    let uuid = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    // Encoded on the stack, not through `Display`: this runs for nearly every request.
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid.hyphenated().encode_lower(&mut buf);
    // One shared allocation for the header and the exchange's copy (`HeaderValue::from_str`
    // makes a plain one, and its first clone a second).
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(buf))
        .expect("a UUID is a valid header value")
}

/// `x-envoy-attempt-count: N`, without an allocation for the usual few tries.
pub fn attempt_count(attempt: u32) -> HeaderValue {
    const SMALL: [&str; 5] = ["1", "2", "3", "4", "5"];
    match SMALL.get((attempt as usize).wrapping_sub(1)) {
        Some(s) => HeaderValue::from_static(s),
        None => HeaderValue::from(attempt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_listed_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("user-agent", "curl".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("user-agent"));
    }

    #[test]
    fn the_strip_bits_name_connection_and_te() {
        // `strip_hop_by_hop` reads bit 0 as `Connection` and bit 4 as `TE`.
        assert_eq!(HOP_BY_HOP[0], header::CONNECTION);
        assert_eq!(HOP_BY_HOP[4], header::TE);
    }

    #[test]
    fn connection_lists_are_read_whatever_their_shape() {
        /// The names left after stripping a head of `headers` (appended in order).
        fn left_after_strip(headers: &[(&'static str, &'static str)]) -> Vec<String> {
            let mut h = HeaderMap::new();
            for (name, value) in headers {
                h.append(*name, value.parse().unwrap());
            }
            strip_hop_by_hop(&mut h);
            h.keys().map(|k| k.to_string()).collect()
        }
        // Several `Connection` headers, mixed case, empty tokens: every named header goes.
        let several = [
            ("connection", "Keep-Alive,, X-One"),
            ("connection", "close, x-two"),
            ("x-one", "1"),
            ("x-two", "1"),
            ("x-three", "1"),
            ("keep-alive", "1"),
        ];
        assert_eq!(left_after_strip(&several), ["x-three"]);
        // Only usual tokens: nothing else is touched; `close` names a header like any token.
        let usual = [("connection", "keep-alive"), ("close", "not named")];
        assert_eq!(left_after_strip(&usual), ["close"]);
        let close = [("connection", "close"), ("close", "named"), ("x-kept", "1")];
        assert_eq!(left_after_strip(&close), ["x-kept"]);
        // `Connection: te` makes even `te: trailers` hop-by-hop.
        let te = [("connection", "te"), ("te", "trailers")];
        assert!(left_after_strip(&te).is_empty());
    }

    #[test]
    fn te_trailers_survives_for_grpc() {
        let mut h = HeaderMap::new();
        h.insert("te", "trailers".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h["te"], "trailers");
        let mut h = HeaderMap::new();
        h.insert("te", "gzip".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert!(!h.contains_key("te"));
    }

    #[test]
    fn upgrade_requests_are_told_apart() {
        use UpgradeRequest::{None as Plain, Other, WebSocket};
        use http::Version;
        let ws = |v: &str| WebSocket(HeaderValue::from_str(v).unwrap());
        let cases: [(Version, &str, Option<&str>, UpgradeRequest); 9] = [
            (
                Version::HTTP_11,
                "Upgrade",
                Some("websocket"),
                ws("websocket"),
            ),
            (
                Version::HTTP_11,
                "keep-alive, UPGRADE",
                Some("WebSocket"),
                ws("WebSocket"),
            ),
            (
                Version::HTTP_11,
                "upgrade",
                Some("foo/2"),
                Other("foo/2".into()),
            ),
            (
                Version::HTTP_11,
                "Upgrade, HTTP2-Settings",
                Some("h2c"),
                Plain,
            ),
            (Version::HTTP_11, "keep-alive", Some("websocket"), Plain),
            (Version::HTTP_11, "upgrade", None, Plain),
            (Version::HTTP_11, "upgraded", Some("websocket"), Plain),
            (Version::HTTP_10, "upgrade", Some("websocket"), Plain),
            (Version::HTTP_2, "upgrade", Some("websocket"), Plain),
        ];
        for (version, connection, upgrade, want) in cases {
            let mut h = HeaderMap::new();
            h.insert("connection", connection.parse().unwrap());
            if let Some(u) = upgrade {
                h.insert("upgrade", u.parse().unwrap());
            }
            let got = upgrade_request(version, &h);
            assert_eq!(
                got, want,
                "{version:?} connection={connection} upgrade={upgrade:?}"
            );
        }
    }

    #[test]
    fn a_kept_upgrade_survives_stripping() {
        let mut h = HeaderMap::new();
        h.insert("connection", "Upgrade, x-secret".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        keep_upgrade(&mut h, HeaderValue::from_static("websocket"));
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert!(!h.contains_key("x-secret"));
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut h = HeaderMap::new();
        add_forwarded(&mut h, &HeaderValue::from_static("127.0.0.1"));
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        add_forwarded(&mut h, &HeaderValue::from_static("10.0.0.2"));
        assert_eq!(h["x-forwarded-for"], "127.0.0.1, 10.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "http");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        add_forwarded(&mut h, &HeaderValue::from_static("127.0.0.1"));
        assert_eq!(
            h["x-forwarded-proto"], "http",
            "a client's claim is not kept"
        );
    }

    #[test]
    fn request_id_is_kept_or_made() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc".parse().unwrap());
        assert_eq!(ensure_request_id(&mut h), "abc");
        let mut h = HeaderMap::new();
        let id = ensure_request_id(&mut h);
        assert_eq!(id.len(), 36);
        assert_eq!(h["x-request-id"], id);
        assert_ne!(ensure_request_id(&mut HeaderMap::new()), id);
        // An empty id is replaced, every value of it.
        let mut h = HeaderMap::new();
        h.append("x-request-id", HeaderValue::from_static(""));
        h.append("x-request-id", HeaderValue::from_static("second"));
        let id = ensure_request_id(&mut h);
        assert_eq!(id.len(), 36);
        let kept: Vec<_> = h.get_all("x-request-id").iter().collect();
        assert_eq!(kept, [id]);
    }
}
