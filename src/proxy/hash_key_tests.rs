//! Hash keys as Envoy computes them: which part of the request, absent keys, generated cookies.

use super::*;

fn head(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn cookie_key(ttl_secs: Option<u64>) -> HashKey {
    HashKey::Cookie(HashCookie {
        name: "user".into(),
        path: "/app".into(),
        ttl_secs,
        attributes: vec![
            ("SameSite".into(), "Lax".into()),
            ("Secure".into(), "".into()),
        ],
    })
}

const REMOTE: &str = "127.0.0.2:40000";

fn hash_of(key: &HashKey, head: &http::request::Parts) -> Option<u64> {
    hash(key, head, REMOTE.parse().unwrap(), None)
}

fn h(s: &str) -> Option<u64> {
    Some(xxh64(s.as_bytes(), 0))
}

/// (key, URI, headers, hash expected)
type Case<'a> = (&'a HashKey, &'a str, &'a [(&'a str, &'a str)], Option<u64>);

#[test]
fn each_key_hashes_its_part_of_the_request() {
    let header = HashKey::Header("x-user".into());
    let query = HashKey::QueryParameter("user".into());
    let cookie = cookie_key(None);
    // A name no header can have (pseudo-headers are not in the map): no key, no panic.
    let pseudo = HashKey::Header(":authority".into());
    let cases: [Case<'_>; 15] = [
        (&pseudo, "/", &[("host", "web")], None),
        (&header, "/", &[("x-user", "alice")], h("alice")),
        (&header, "/", &[("x-other", "alice")], None),
        (&header, "/", &[("x-user", "")], h("")),
        (&query, "/p?a=1&user=bob&user=eve", &[], h("bob")),
        (&query, "/p?user", &[], h("")),
        (&query, "/p?users=bob", &[], None),
        (&query, "/p", &[], None),
        (&query, "/p?user=a%20b", &[], h("a%20b")),
        (
            &cookie,
            "/",
            &[("cookie", "a=1; user=carol; b=2")],
            h("carol"),
        ),
        (
            &cookie,
            "/",
            &[("cookie", "a=1"), ("cookie", "user=\"dan\"")],
            h("dan"),
        ),
        (&cookie, "/", &[("cookie", "user=; a=1")], None),
        (&cookie, "/", &[("cookie", "users=x")], None),
        (&cookie, "/", &[], None),
        (&HashKey::SourceIp, "/", &[], h("127.0.0.2")),
    ];
    for (key, uri, headers, want) in cases {
        assert_eq!(
            hash_of(key, &head(uri, headers)),
            want,
            "{key:?} {uri} {headers:?}"
        );
    }
}

#[test]
fn a_headers_values_hash_in_any_order() {
    let key = HashKey::Header("x-user".into());
    let ab = hash_of(&key, &head("/", &[("x-user", "a"), ("x-user", "b")]));
    let ba = hash_of(&key, &head("/", &[("x-user", "b"), ("x-user", "a")]));
    assert_eq!(ab, ba);
    assert_ne!(ab, h("a"));
    assert_eq!(ab, Some(xxh64(b"b", xxh64(b"a", 0))));
}

#[test]
fn a_missing_cookie_with_a_ttl_is_made_and_set() {
    for (ttl, want) in [
        (
            3600,
            "; Max-Age=3600; Path=/app; SameSite=Lax; Secure; HttpOnly",
        ),
        (0, "; Path=/app; SameSite=Lax; Secure; HttpOnly"),
    ] {
        let key = cookie_key(Some(ttl));
        let mut made = None;
        let remote: SocketAddr = REMOTE.parse().unwrap();
        let hashed = hash(&key, &head("/", &[]), remote, Some(&mut made));
        let made = made.expect("a cookie is made");
        assert_eq!(made.value.len(), 16);
        assert_eq!(hashed, h(&made.value));
        // The same connection gets the same cookie.
        let mut again = None;
        hash(&key, &head("/", &[]), remote, Some(&mut again));
        assert_eq!(again.unwrap().value, made.value);
        let HashKey::Cookie(c) = &key else {
            unreachable!()
        };
        let header = set_cookie(c, &made.value).unwrap();
        let expected = format!("user=\"{}\"{want}", made.value);
        assert_eq!(header.to_str().unwrap(), expected);
        // Sent back, it hashes as the cookie the proxy made.
        let back = head("/", &[("cookie", &format!("user=\"{}\"", made.value))]);
        assert_eq!(hash_of(&key, &back), hashed);
        // A mirror of the first request hashes as the primary did.
        assert_eq!(
            hash_mirror(&key, &head("/", &[]), remote, Some(&made)),
            hashed
        );
    }
    // Without a ttl nothing is made.
    let mut made = None;
    let none = hash(
        &cookie_key(None),
        &head("/", &[]),
        REMOTE.parse().unwrap(),
        Some(&mut made),
    );
    assert!(none.is_none() && made.is_none());
}
