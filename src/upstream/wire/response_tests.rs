//! Response heads as upstreams send them, and the framing and keep-alive each one gets.

use super::*;

fn parse_all(wire: &str, method: Method) -> (ResponseHead, BytesMut) {
    let mut buf = BytesMut::from(wire.as_bytes());
    let head = parse(&mut buf, &method).unwrap().expect("a whole head");
    (head, buf)
}

/// Every field of a head, passed on or not, in a map.
fn fields_of(head: ResponseHead) -> HeaderMap {
    let (mut headers, mut extensions) = (head.headers, head.extensions);
    passed::into_map(&mut headers, &mut extensions);
    headers
}

#[test]
fn a_head_is_taken_from_the_buffer_and_the_body_left_in_it() {
    let (head, rest) = parse_all(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nok",
        Method::GET,
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.framing, BodyFraming::Length(2));
    assert!(head.keep_alive);
    let fields = fields_of(head);
    let values: Vec<_> = fields.get_all("x-a").iter().collect();
    assert_eq!(values, ["1", "2"]);
    assert_eq!(&rest[..], b"ok");
}

#[test]
fn a_head_not_all_there_is_waited_for() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Le"[..]);
    assert!(parse(&mut buf, &Method::GET).unwrap().is_none());
    assert_eq!(buf.len(), 27, "nothing taken");
}

#[test]
fn informational_answers_are_skipped_for_the_final_one() {
    let (head, rest) = parse_all(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
        Method::POST,
    );
    assert_eq!(head.status, 201);
    assert!(!fields_of(head).contains_key("link"));
    assert!(rest.is_empty());
}

#[test]
fn framing_and_keep_alive_follow_rfc_9112() {
    use BodyFraming::*;
    let cases: &[(&str, Method, BodyFraming, bool)] = &[
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            Method::GET,
            Chunked,
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
            Method::GET,
            UntilClose,
            false,
        ),
        ("HTTP/1.1 200 OK\r\n\r\n", Method::GET, UntilClose, false),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n",
            Method::HEAD,
            Length(0),
            true,
        ),
        (
            "HTTP/1.1 204 No Content\r\n\r\n",
            Method::GET,
            Length(0),
            true,
        ),
        (
            "HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n",
            Method::GET,
            Length(0),
            true,
        ),
        (
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            Method::GET,
            Length(0),
            false,
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\n",
            Method::GET,
            Length(3),
            false,
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: Upgrade, CLOSE\r\n\r\n",
            Method::GET,
            Length(3),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\n",
            Method::GET,
            Length(3),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\n",
            Method::GET,
            Length(3),
            true,
        ),
        // Transfer-Encoding wins over Content-Length; such a connection is not reused.
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
            Method::GET,
            Chunked,
            false,
        ),
    ];
    for (wire, method, framing, keep_alive) in cases {
        let (head, _) = parse_all(wire, method.clone());
        assert_eq!(head.framing, *framing, "{wire}");
        assert_eq!(head.keep_alive, *keep_alive, "{wire}");
    }
}

#[test]
fn heads_that_break_the_protocol_are_refused() {
    let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
    let too_many = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
    let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD_BYTES + 1));
    for wire in [
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        &too_many,
        &huge,
    ] {
        let mut buf = BytesMut::from(wire.as_bytes());
        let err = parse(&mut buf, &Method::GET).expect_err(&wire[..wire.len().min(60)]);
        assert!(err.is_protocol(), "{err}");
    }
}

#[test]
fn a_content_length_beside_a_transfer_encoding_is_dropped_not_forwarded() {
    // RFC 9112 6.3 (3): an intermediary removes it before forwarding.
    let (head, _) = parse_all(
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
        Method::GET,
    );
    assert_eq!(head.framing, BodyFraming::Chunked);
    assert!(!fields_of(head).contains_key(CONTENT_LENGTH));
}

#[test]
fn a_plain_connection_field_is_used_here_and_one_naming_fields_is_passed_on() {
    let (head, _) = parse_all(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        Method::GET,
    );
    assert!(head.keep_alive);
    let fields = fields_of(head);
    assert!(!fields.contains_key("connection"), "{fields:?}");
    assert_eq!(fields["content-length"], "0");
    let (head, _) = parse_all(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        Method::GET,
    );
    assert!(!head.keep_alive);
    assert!(!fields_of(head).contains_key("connection"));
    // The proxy removes the fields a Connection header names: it must see this one.
    let (head, _) = parse_all(
        "HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: 1\r\nContent-Length: 0\r\n\r\n",
        Method::GET,
    );
    assert_eq!(fields_of(head)["connection"], "x-secret");
}
