//! Tests of `head.rs`.

use super::*;

const LIMITS: HeadLimits = HeadLimits {
    max_headers: 100,
    max_bytes: 64 * 1024,
};

fn parse_all(raw: &[u8], limits: HeadLimits) -> Result<Option<RequestHead>, Refusal> {
    let mut buf = BytesMut::from(raw);
    parse(&mut buf, limits, &mut Vec::new())
}

fn head(raw: &str) -> RequestHead {
    (parse_all(raw.as_bytes(), LIMITS).expect("accepted")).expect("complete")
}

fn refused(raw: &str) -> StatusCode {
    parse_all(raw.as_bytes(), LIMITS).expect_err(raw).status
}

#[test]
fn a_simple_get_is_parsed_and_removed_from_the_buffer() {
    let mut buf =
        BytesMut::from(&b"GET /a?b=1 HTTP/1.1\r\nHost: web\r\nX-Id: 7\r\n\r\nGET /next"[..]);
    let head = parse(&mut buf, LIMITS, &mut Vec::new()).unwrap().unwrap();
    assert_eq!(head.parts.method, Method::GET);
    assert_eq!(head.parts.uri, "/a?b=1");
    assert_eq!(head.parts.version, Version::HTTP_11);
    assert_eq!(head.parts.headers["host"], "web");
    assert_eq!(head.parts.headers["x-id"], "7");
    assert_eq!(head.body, BodyFraming::Length(0));
    assert!(head.keep_alive && !head.expect_continue && !head.upgrade);
    assert_eq!(
        &buf[..],
        b"GET /next",
        "a pipelined request stays in the buffer"
    );
}

#[test]
fn a_head_not_yet_whole_waits_and_one_too_large_is_refused() {
    assert!(
        parse_all(b"GET / HTTP/1.1\r\nHost: w", LIMITS)
            .unwrap()
            .is_none()
    );
    let small = HeadLimits {
        max_headers: 100,
        max_bytes: 32,
    };
    let partial = parse_all(b"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaa", small);
    assert_eq!(partial.unwrap_err().status, 431);
    let whole = parse_all(
        b"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaa\r\n\r\n",
        small,
    );
    assert_eq!(whole.unwrap_err().status, 431);
    let few = HeadLimits {
        max_headers: 2,
        max_bytes: 1024,
    };
    let many = parse_all(b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", few);
    assert_eq!(many.unwrap_err().status, 431);
    let heap = HeadLimits {
        max_headers: 150,
        max_bytes: 64 * 1024,
    };
    let fields: String = (0..120).map(|i| format!("x-{i}: {i}\r\n")).collect();
    let raw = format!("GET / HTTP/1.1\r\n{fields}\r\n");
    let parsed = parse_all(raw.as_bytes(), heap).unwrap().unwrap();
    assert_eq!(parsed.parts.headers.len(), 120);
}

#[test]
fn malformed_heads_are_answered_400() {
    for raw in [
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nFolded: a\r\n b\r\n\r\n",
        "G\x01T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    ] {
        assert_eq!(refused(raw), 400, "{raw:?}");
    }
}

#[test]
fn the_body_framing_follows_rfc_9112_and_envoy() {
    let cases: &[(&str, Result<BodyFraming, u16>)] = &[
        (
            "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            Ok(BodyFraming::Length(5)),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            Ok(BodyFraming::Length(0)),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
            Ok(BodyFraming::Length(5)),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Ok(BodyFraming::Chunked),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Ok(BodyFraming::Chunked),
        ),
        ("POST / HTTP/1.1\r\n\r\n", Ok(BodyFraming::Length(0))),
        (
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            Err(400),
        ),
        ("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", Err(400)),
        // A list, even of one value, is refused (hyper does; nginx too): never forwarded.
        ("POST / HTTP/1.1\r\nContent-Length: 3,3\r\n\r\n", Err(400)),
        ("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", Err(400)),
        (
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            Err(400),
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            Err(400),
        ),
    ];
    for (raw, want) in cases {
        let got = parse_all(raw.as_bytes(), LIMITS).map(|h| h.unwrap().body);
        assert_eq!(got.map_err(|r| r.status.as_u16()), *want, "{raw:?}");
    }
}

#[test]
fn keep_alive_expect_and_upgrade_are_read_by_version() {
    let cases: &[(&str, bool, bool, bool)] = &[
        // (head, keep-alive, expects 100-continue, upgrade)
        ("GET / HTTP/1.1\r\n\r\n", true, false, false),
        (
            "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            false,
            false,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
            false,
            false,
            false,
        ),
        ("GET / HTTP/1.0\r\n\r\n", false, false, false),
        (
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            true,
            false,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
            true,
            true,
            false,
        ),
        (
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            true,
            false,
            false,
        ),
        (
            "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            false,
            false,
            false,
        ),
        (
            "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            true,
            false,
            true,
        ),
        (
            "GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n",
            false,
            false,
            false,
        ),
    ];
    for (raw, keep_alive, expect, upgrade) in cases {
        let h = head(raw);
        assert_eq!(
            (h.keep_alive, h.expect_continue, h.upgrade),
            (*keep_alive, *expect, *upgrade),
            "{raw:?}"
        );
    }
}

#[test]
fn targets_of_every_form_reach_the_service_which_judges_them() {
    assert_eq!(
        head("GET http://web/p HTTP/1.1\r\n\r\n").parts.uri,
        "http://web/p"
    );
    assert_eq!(head("OPTIONS * HTTP/1.1\r\n\r\n").parts.uri, "*");
    let connect = head("CONNECT web:443 HTTP/1.1\r\n\r\n");
    assert_eq!(connect.parts.method, Method::CONNECT);
    assert_eq!(connect.parts.uri.authority().unwrap(), "web:443");
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    let big = HeadLimits {
        max_headers: 100,
        max_bytes: 128 * 1024,
    };
    assert_eq!(parse_all(long.as_bytes(), big).unwrap_err().status, 414);
}

#[test]
fn leading_blank_lines_and_bare_line_feeds_are_taken() {
    let h = head("\r\n\r\nGET / HTTP/1.1\nHost: web\n\n");
    assert_eq!(h.parts.headers["host"], "web");
}

#[test]
fn a_blank_line_in_new_bytes_is_what_triggers_another_parse() {
    assert!(!may_complete(b"GET / HTTP/1.1\r\nHost: a", 0));
    assert!(may_complete(b"GET / HTTP/1.1\r\n\r\n", 15));
    assert!(
        may_complete(b"GET / HTTP/1.1\r\n\r\n", 17),
        "the CRLF split across reads"
    );
    assert!(may_complete(b"GET / HTTP/1.1\n\n", 15));
    assert!(!may_complete(b"GET / HTTP/1.1\r\nA: b\r\n", 20));
}

#[test]
fn equal_content_lengths_go_on_as_one() {
    let h = head("POST / HTTP/1.1\r\nContent-Length: 3\r\nX: 1\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(h.body, BodyFraming::Length(3));
    let lengths: Vec<_> = h.parts.headers.get_all("content-length").iter().collect();
    assert_eq!(lengths, ["3"]);
    assert_eq!(h.parts.headers["x"], "1");
}
