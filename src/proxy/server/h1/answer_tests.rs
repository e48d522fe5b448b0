//! Tests of `answer.rs`.

use super::*;

const GET_11: Asked = Asked {
    head: false,
    version: Version::HTTP_11,
    keep_alive: true,
};

fn parts(status: u16, headers: &[(&str, &str)]) -> response::Parts {
    let mut b = http::Response::builder().status(status);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(()).unwrap().into_parts().0
}

const fn hint(end_stream: bool, exact: Option<u64>) -> BodyHint {
    BodyHint { end_stream, exact }
}

/// The head written, without its `date` line (checked on its own below).
fn written(parts: &response::Parts, asked: Asked, hint: BodyHint) -> (String, Written) {
    let mut out = Vec::new();
    let w = encode_head(parts, asked, hint, &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = (text.split("\r\n"))
        .filter(|l| !l.starts_with("date: "))
        .collect();
    (lines.join("|"), w)
}

#[test]
fn a_known_length_is_written_and_the_connection_kept() {
    let (head, w) = written(&parts(200, &[("x-a", "1")]), GET_11, hint(false, Some(5)));
    assert_eq!(head, "HTTP/1.1 200 OK|x-a: 1|content-length: 5||");
    assert_eq!(
        w,
        Written {
            framing: Framing::Length(5),
            keep_alive: true
        }
    );
    let (head, w) = written(&parts(404, &[]), GET_11, hint(true, Some(0)));
    assert_eq!(head, "HTTP/1.1 404 Not Found|content-length: 0||");
    assert_eq!(w.framing, Framing::Length(0));
}

#[test]
fn an_unknown_length_is_chunked_to_1_1_and_until_close_to_1_0() {
    let (head, w) = written(&parts(200, &[]), GET_11, hint(false, None));
    assert_eq!(head, "HTTP/1.1 200 OK|transfer-encoding: chunked||");
    assert_eq!(
        w,
        Written {
            framing: Framing::Chunked,
            keep_alive: true
        }
    );
    let old = Asked {
        version: Version::HTTP_10,
        ..GET_11
    };
    let (head, w) = written(&parts(200, &[]), old, hint(false, None));
    assert_eq!(head, "HTTP/1.0 200 OK|connection: close||");
    assert_eq!(
        w,
        Written {
            framing: Framing::UntilClose,
            keep_alive: false
        }
    );
    let (head, w) = written(&parts(200, &[]), old, hint(false, Some(3)));
    assert_eq!(
        head,
        "HTTP/1.0 200 OK|content-length: 3|connection: keep-alive||"
    );
    assert!(w.keep_alive);
}

#[test]
fn the_services_length_wins_and_its_framing_fields_are_the_connections() {
    let given = parts(
        200,
        &[
            ("content-length", "7"),
            ("transfer-encoding", "chunked"),
            ("connection", "close"),
        ],
    );
    let (head, w) = written(&given, GET_11, hint(false, None));
    assert_eq!(
        head,
        "HTTP/1.1 200 OK|content-length: 7|connection: close||"
    );
    assert_eq!(
        w,
        Written {
            framing: Framing::Length(7),
            keep_alive: false
        }
    );
    let bad = parts(200, &[("content-length", "x")]);
    let (head, _) = written(&bad, GET_11, hint(false, Some(2)));
    assert_eq!(
        head, "HTTP/1.1 200 OK|content-length: 2||",
        "an invalid length is replaced"
    );
}

#[test]
fn head_204_and_304_answers_carry_no_body() {
    let head_req = Asked {
        head: true,
        ..GET_11
    };
    let (head, w) = written(
        &parts(200, &[("content-length", "42")]),
        head_req,
        hint(true, None),
    );
    assert_eq!(
        head, "HTTP/1.1 200 OK|content-length: 42||",
        "a HEAD keeps the length"
    );
    assert_eq!(w.framing, Framing::None);
    let (head, _) = written(&parts(200, &[]), head_req, hint(false, Some(9)));
    assert_eq!(head, "HTTP/1.1 200 OK|content-length: 9||");
    // An upstream's HEAD answer without a length (its GET is chunked): none is made up.
    let (head, _) = written(&parts(200, &[]), head_req, hint(true, Some(0)));
    assert_eq!(head, "HTTP/1.1 200 OK||");
    let (head, w) = written(
        &parts(204, &[("content-length", "3")]),
        GET_11,
        hint(false, Some(3)),
    );
    assert_eq!(head, "HTTP/1.1 204 No Content||");
    assert_eq!(w.framing, Framing::None);
    let (head, _) = written(
        &parts(304, &[("content-length", "3")]),
        GET_11,
        hint(true, None),
    );
    assert_eq!(head, "HTTP/1.1 304 Not Modified|content-length: 3||");
}

#[test]
fn a_101_is_written_as_given_and_ends_http_on_the_connection() {
    let up = parts(101, &[("connection", "upgrade"), ("upgrade", "websocket")]);
    let (head, w) = written(&up, GET_11, hint(true, None));
    assert_eq!(
        head,
        "HTTP/1.1 101 Switching Protocols|connection: upgrade|upgrade: websocket||"
    );
    assert_eq!(
        w,
        Written {
            framing: Framing::None,
            keep_alive: false
        }
    );
}

#[test]
fn a_closing_connection_says_so_and_unknown_codes_have_a_reason() {
    let closing = Asked {
        keep_alive: false,
        ..GET_11
    };
    let (head, _) = written(&parts(599, &[]), closing, hint(true, None));
    assert_eq!(
        head,
        "HTTP/1.1 599 Unknown|content-length: 0|connection: close||"
    );
}

#[test]
fn every_answer_has_a_date_unless_the_service_gave_one() {
    let mut out = Vec::new();
    encode_head(&parts(200, &[]), GET_11, hint(true, None), &mut out);
    let text = String::from_utf8(out).unwrap();
    let date = text
        .lines()
        .find_map(|l| l.strip_prefix("date: "))
        .expect("a date");
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    let mut out = Vec::new();
    let given = parts(200, &[("date", "Tue, 01 Dec 2026 00:00:00 GMT")]);
    encode_head(&given, GET_11, hint(true, None), &mut out);
    assert_eq!(String::from_utf8(out).unwrap().matches("date: ").count(), 1);
}

#[test]
fn refusals_close_and_sizes_are_written_in_their_bases() {
    let mut out = Vec::new();
    encode_refusal(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(
        "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: "
    ));
    assert!(text.ends_with("\r\n\r\n"));
    let mut out = Vec::new();
    for n in [0, 1, 15, 16, 4096, 65_535, usize::MAX] {
        let (line, len) = chunk_size_line(n);
        out.extend_from_slice(&line[..usize::from(len)]);
    }
    assert_eq!(
        out,
        b"0\r\n1\r\nf\r\n10\r\n1000\r\nffff\r\nffffffffffffffff\r\n"
    );
    let mut out = Vec::new();
    push_decimal(0, &mut out);
    push_decimal(u64::MAX, &mut out);
    assert_eq!(out, b"018446744073709551615");
}

/// The parts of an upstream's answer whose fields were passed on as they came, with `added`
/// in the map beside them (what the proxy's steps add).
fn passed_parts(wire: &str, added: &[(&str, &str)]) -> response::Parts {
    let mut buf = bytes::BytesMut::from(wire);
    let head = crate::upstream::wire::response::parse(&mut buf, &http::Method::GET)
        .unwrap()
        .unwrap();
    let mut parts = parts(head.status.as_u16(), added);
    parts.extensions = head.extensions;
    assert!(
        parts.extensions.get::<PassedFields>().is_some(),
        "passed on"
    );
    parts
}

#[test]
fn passed_fields_are_written_first_in_their_order_as_written_and_framed_here() {
    let parts = passed_parts(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nSet-Cookie: a=1\r\nContent-Type: text/plain\r\nSet-Cookie: b=2\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\n",
        &[("set-cookie", "hash=1")],
    );
    let (head, w) = written(&parts, GET_11, hint(false, Some(17)));
    assert_eq!(
        head,
        "HTTP/1.1 200 OK|Server: nginx|Set-Cookie: a=1|Content-Type: text/plain|Set-Cookie: b=2|set-cookie: hash=1|content-length: 17||"
    );
    assert_eq!(w.framing, Framing::Length(17));
    assert!(w.keep_alive);
}

#[test]
fn a_passed_date_is_kept_and_none_added() {
    let parts = passed_parts(
        "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n",
        &[],
    );
    let mut out = Vec::new();
    encode_head(&parts, GET_11, hint(true, Some(0)), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.to_lowercase().matches("date: ").count(), 1, "{text}");
    assert!(
        text.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
        "{text}"
    );
}

#[test]
fn a_passed_content_length_is_the_services_and_a_head_answer_keeps_it() {
    let parts = passed_parts("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", &[]);
    let head_asked = Asked {
        head: true,
        ..GET_11
    };
    let (head, w) = written(&parts, head_asked, hint(true, Some(0)));
    assert_eq!(head, "HTTP/1.1 200 OK|content-length: 42||");
    assert_eq!(w.framing, Framing::None);
}

#[test]
fn an_upstreams_connection_close_is_its_own_and_the_clients_connection_stays() {
    // `Connection: close` is plain (left out as the head is parsed), so the head is passed on
    // and the proxy's own keep-alive decides: the client's connection stays.
    let parts = passed_parts(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        &[],
    );
    let (head, w) = written(&parts, GET_11, hint(true, Some(0)));
    assert_eq!(head, "HTTP/1.1 200 OK|content-length: 0||");
    assert!(
        w.keep_alive,
        "the upstream's connection is not the client's"
    );
}
