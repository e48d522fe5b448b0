//! Tests of `passed.rs`: heads passed on as they came, and moved into a map when read.

use bytes::BytesMut;
use http::{HeaderValue, Method};

use super::*;
use crate::upstream::wire::response::{self, ResponseHead};

fn parse(head: &str) -> ResponseHead {
    let mut buf = BytesMut::from(head);
    response::parse(&mut buf, &Method::GET).unwrap().unwrap()
}

#[test]
fn a_plain_head_passes_its_fields_in_order_and_case_without_its_connection_field() {
    let head = parse(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-B: 2\r\nConnection: keep-alive\r\nx-a: 1\r\nX-B: 3\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(head.headers.is_empty(), "no map is built");
    let passed = head
        .extensions
        .get::<PassedFields>()
        .expect("passed on as they came");
    let fields: Vec<_> = (passed.lines())
        .map(|(n, v, _)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let want = [
        ("Server", "nginx"),
        ("X-B", "2"),
        ("x-a", "1"),
        ("X-B", "3"),
        ("Content-Length", "0"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(fields, want);
    assert_eq!(
        passed.get("x-b"),
        Some(&b"2"[..]),
        "the first value, any case"
    );
    assert_eq!(passed.get("connection"), None);
}

#[test]
fn a_head_with_a_hop_by_hop_field_gets_its_map_at_once() {
    for field in [
        "Keep-Alive: timeout=5",
        "Upgrade: h2c",
        "Connection: x-secret",
        "Trailer: x-t",
        "Proxy-Connection: close",
        "TE: trailers",
        "Proxy-Authorization: x",
    ] {
        let head = parse(&format!(
            "HTTP/1.1 200 OK\r\n{field}\r\nx-a: 1\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(head.extensions.get::<PassedFields>().is_none(), "{field}");
        assert_eq!(head.headers["x-a"], "1", "{field}");
    }
}

#[test]
fn a_head_with_more_fields_than_fit_gets_its_map() {
    let many: String = (0..=INLINE).map(|i| format!("x-{i}: {i}\r\n")).collect();
    let head = parse(&format!(
        "HTTP/1.1 200 OK\r\n{many}Content-Length: 0\r\n\r\n"
    ));
    assert!(head.extensions.get::<PassedFields>().is_none());
    assert_eq!(head.headers.len(), INLINE + 2);
    let fit: String = (0..INLINE - 1).map(|i| format!("x-{i}: {i}\r\n")).collect();
    let head = parse(&format!(
        "HTTP/1.1 200 OK\r\n{fit}Content-Length: 0\r\n\r\n"
    ));
    assert_eq!(
        head.extensions
            .get::<PassedFields>()
            .expect("exactly INLINE fit")
            .lines()
            .count(),
        INLINE
    );
}

#[test]
fn moved_into_the_map_the_passed_fields_come_before_the_maps_own() {
    let head = parse(
        "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-A: 1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
    );
    let mut resp = head.into_response();
    resp.headers_mut()
        .append("set-cookie", HeaderValue::from_static("hash=9"));
    resp.headers_mut()
        .append("x-proxy", HeaderValue::from_static("p"));
    let (mut parts, ()) = resp.into_parts();
    into_map(&mut parts.headers, &mut parts.extensions);
    assert!(
        parts.extensions.get::<PassedFields>().is_none(),
        "moved, not copied"
    );
    let cookies: Vec<_> = parts.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2", "hash=9"]);
    assert_eq!(parts.headers["x-a"], "1");
    assert_eq!(parts.headers["x-proxy"], "p");
    assert_eq!(parts.headers["content-length"], "0");
    assert_eq!(parts.headers.len(), 6);
    // Twice is once: nothing is left to move.
    into_map(&mut parts.headers, &mut parts.extensions);
    assert_eq!(parts.headers.len(), 6);
}

#[test]
fn a_field_is_read_from_the_passed_ones_then_the_map() {
    let head = parse("HTTP/1.1 200 OK\r\nGrpc-Status: 14\r\nContent-Length: 0\r\n\r\n");
    let mut resp = head.into_response();
    resp.headers_mut()
        .insert("x-envoy-ratelimited", HeaderValue::from_static("true"));
    let name = |n: &'static str| http::HeaderName::from_static(n);
    let passed = resp.extensions().get::<PassedFields>();
    let read = |n| field(resp.headers(), passed, &name(n)).map(<[u8]>::to_vec);
    assert_eq!(read("grpc-status"), Some(b"14".to_vec()));
    assert_eq!(read("x-envoy-ratelimited"), Some(b"true".to_vec()));
    assert_eq!(read("x-none"), None);
    let mapped = parse("HTTP/1.1 200 OK\r\nTE: trailers\r\nGrpc-Status: 4\r\n\r\n").into_response();
    assert!(
        mapped.extensions().get::<PassedFields>().is_none(),
        "a map, with TE"
    );
    assert_eq!(
        field(mapped.headers(), None, &name("grpc-status")),
        Some(&b"4"[..])
    );
}

/// The parser passes a field on without `http`'s checks; moved into a map later it must not
/// be lost. Every byte httparse admits in a name or a value, `http` admits too.
#[test]
fn every_name_and_value_the_parser_admits_the_map_admits() {
    let mut admitted = [0; 2];
    for b in 0..=255u8 {
        for (i, (name, value)) in [([b'x', b], [b'v', b'v']), ([b'x', b'n'], [b'v', b])]
            .into_iter()
            .enumerate()
        {
            let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
            raw.extend_from_slice(&name);
            raw.extend_from_slice(b": a");
            raw.extend_from_slice(&value);
            raw.extend_from_slice(b"b\r\nContent-Length: 0\r\n\r\n");
            let mut buf = BytesMut::from(&raw[..]);
            let Ok(Some(head)) = response::parse(&mut buf, &Method::GET) else {
                continue;
            };
            admitted[i] += 1;
            let (mut parts, ()) = head.into_response().into_parts();
            into_map(&mut parts.headers, &mut parts.extensions);
            assert_eq!(parts.headers.len(), 2, "byte {b:#04x}: a field was lost");
        }
    }
    // The 77 token bytes in names (and `:`, which ends the name early); tab, visible ASCII
    // and obs-text in values.
    assert_eq!(admitted[0], 78, "names");
    assert_eq!(admitted[1], 1 + 95 + 128, "values");
}

#[test]
fn hop_by_hop_names_are_known_in_any_case() {
    for name in [
        "connection",
        "Keep-Alive",
        "PROXY-CONNECTION",
        "Transfer-Encoding",
        "te",
        "Trailer",
        "upgrade",
        "Proxy-Authorization",
    ] {
        assert!(is_hop_by_hop(name.as_bytes()), "{name}");
    }
    for name in [
        "content-length",
        "trailers",
        "tea",
        "x-connection",
        "server",
        "date",
        "",
    ] {
        assert!(!is_hop_by_hop(name.as_bytes()), "{name}");
    }
}

#[test]
fn an_empty_value_is_passed_on_as_written() {
    let head = parse(
        "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Blank:   \r\nX-Tight:v\r\nContent-Length: 0\r\n\r\n",
    );
    let passed = head.extensions.get::<PassedFields>().expect("passed on");
    let lines: Vec<_> = (passed.lines())
        .map(|(n, v, line)| [n, v, line].map(|b| String::from_utf8_lossy(b).into_owned()))
        .collect();
    let want = [
        ["X-Empty", "", "X-Empty:"],
        // Whitespace after a field's value is allowed on the wire (RFC 9112 5: OWS).
        ["X-Blank", "", "X-Blank:   "],
        ["X-Tight", "v", "X-Tight:v"],
        ["Content-Length", "0", "Content-Length: 0"],
    ];
    assert_eq!(lines, want.map(|l| l.map(String::from)));
}

#[test]
fn a_detached_copy_has_every_field_in_order_and_none_of_the_heads_bytes() {
    let wire = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-A: 1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n";
    let head = parse(wire);
    let passed = head.extensions.get::<PassedFields>().expect("passed on");
    let mut added = http::HeaderMap::new();
    added.append("set-cookie", HeaderValue::from_static("hash=9"));
    let copy = detached(&added, passed);
    let cookies: Vec<_> = copy.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2", "hash=9"]);
    assert_eq!(copy["x-a"], "1");
    assert_eq!(copy["content-length"], "0");
    assert_eq!(copy.len(), 5);
    let (original, _, _) = passed.lines().next().unwrap();
    let original = original.as_ptr() as usize;
    for value in copy.values() {
        let at = value.as_bytes().as_ptr() as usize;
        assert!(
            at < original || at >= original + wire.len(),
            "{value:?} still points into the head it was parsed from"
        );
    }
}

#[test]
fn spans_outside_the_head_or_a_value_before_its_name_are_left_out() {
    let head = bytes::Bytes::from_static(b"X-A: 1\r\nX-B: 2\r\n");
    let spans = [
        ((0, 3), (5, 1)),
        ((10, 2), (0, 1)),
        ((8, 3), (13, 9)),
        ((8, 3), (13, 1)),
    ];
    let passed = PassedFields::new(head, &spans);
    let names: Vec<_> = passed
        .lines()
        .map(|(n, v, _)| (n.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(
        names,
        [
            (b"X-A".to_vec(), b"1".to_vec()),
            (b"X-B".to_vec(), b"2".to_vec())
        ]
    );
}
