//! A request head as written upstream, and how its body is framed: the rules hyper's client
//! follows (RFC 9112 6), so nothing changes for upstreams. A `Transfer-Encoding` chooses
//! chunked (made to end in `chunked`), else a valid `Content-Length` its length, else a body
//! of exactly known size gets a `Content-Length`, else a body of unknown size is sent chunked,
//! except for GET, HEAD and CONNECT, which are sent without one.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method};

use super::fields::FramingFields;

/// How the request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0: no body is sent).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What is known of the body to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySize {
    /// It has nothing to send.
    Empty,
    /// Exactly this many bytes.
    Exact(u64),
    /// Not known until it ends.
    Unknown,
}

/// Decides the body's framing and writes the head into `out`: the request line with `target`
/// in origin form, the headers (with the framing fields changed to say it), the blank line.
/// The head is only read: a retry sends the same one again.
pub fn encode_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: BodySize,
    out: &mut Vec<u8>,
) -> Framing {
    let mut fields = FramingFields::default();
    for (name, value) in headers {
        // Interned names: a comparison of two enum tags each, no bytes compared.
        if name == CONTENT_LENGTH {
            fields.note_length(value.as_bytes());
        } else if name == TRANSFER_ENCODING {
            fields.note_coding(value.as_bytes());
        }
    }
    let (framing, edit) = framing(method, &fields, body);
    out.reserve(32 + target.len() + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if (edit.drop_coding && name == TRANSFER_ENCODING)
            || (edit.drop_length && name == CONTENT_LENGTH)
        {
            continue;
        }
        field(out, name.as_str(), value.as_bytes());
    }
    match edit.add {
        None => {}
        Some(Added::Length(len)) => field(out, "content-length", len.to_string().as_bytes()),
        Some(Added::Chunked) => field(out, "transfer-encoding", b"chunked"),
        Some(Added::EndInChunked) => {
            // `gzip` becomes `gzip, chunked`: every coding kept, `chunked` last.
            out.extend_from_slice(b"transfer-encoding: ");
            for value in headers.get_all(TRANSFER_ENCODING) {
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(b"chunked\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    framing
}

fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How the framing fields written differ from the head's.
#[derive(Debug, Default)]
struct Edit {
    /// Its `Transfer-Encoding` fields are left out.
    drop_coding: bool,
    /// Its `Content-Length` fields are left out.
    drop_length: bool,
    /// A field written after the head's.
    add: Option<Added>,
}

#[derive(Debug)]
enum Added {
    Length(u64),
    Chunked,
    /// The head's codings, then `chunked`.
    EndInChunked,
}

fn framing(method: &Method, fields: &FramingFields, body: BodySize) -> (Framing, Edit) {
    if body == BodySize::Empty {
        let edit = Edit {
            drop_coding: fields.transfer_encoding,
            ..Edit::default()
        };
        return (Framing::Length(0), edit);
    }
    let drop_length = fields.content_length.is_some();
    if fields.transfer_encoding {
        let edit = Edit {
            drop_coding: !fields.chunked,
            drop_length,
            add: (!fields.chunked).then_some(Added::EndInChunked),
        };
        return (Framing::Chunked, edit);
    }
    if let Some(Some(len)) = fields.content_length {
        return (Framing::Length(len), Edit::default());
    }
    let edit = |add| Edit {
        drop_length,
        add,
        ..Edit::default()
    };
    match body {
        BodySize::Exact(len) => (Framing::Length(len), edit(Some(Added::Length(len)))),
        _ if matches!(*method, Method::GET | Method::HEAD | Method::CONNECT) => {
            (Framing::Length(0), edit(None))
        }
        _ => (Framing::Chunked, edit(Some(Added::Chunked))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(method: Method, headers: &[(&str, &str)], body: BodySize) -> (String, Framing) {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut out = Vec::new();
        let framing = encode_head(&method, "/a?b=1", &map, body, &mut out);
        (String::from_utf8(out).unwrap(), framing)
    }

    #[test]
    fn the_head_is_the_request_line_the_headers_and_a_blank_line() {
        let (head, framing) = encode(
            Method::GET,
            &[("host", "web"), ("x-a", "1"), ("x-a", "2")],
            BodySize::Empty,
        );
        assert_eq!(
            head,
            "GET /a?b=1 HTTP/1.1\r\nhost: web\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
        );
        assert_eq!(framing, Framing::Length(0));
    }

    #[test]
    fn framing_follows_the_headers_then_what_is_known_of_the_body() {
        use BodySize::*;
        type Case<'a> = (Method, &'a [(&'a str, &'a str)], BodySize, Framing, &'a str);
        let cases: &[Case<'_>] = &[
            // A body of known size gets its length.
            (
                Method::POST,
                &[],
                Exact(5),
                Framing::Length(5),
                "content-length: 5",
            ),
            // A Content-Length sent by the client is kept.
            (
                Method::PUT,
                &[("content-length", "7")],
                Unknown,
                Framing::Length(7),
                "content-length: 7",
            ),
            // Unknown size: chunked, except for GET (sent without a body, as hyper does).
            (
                Method::POST,
                &[],
                Unknown,
                Framing::Chunked,
                "transfer-encoding: chunked",
            ),
            (Method::GET, &[], Unknown, Framing::Length(0), "GET"),
            // A transfer coding wins over a length and is made to end in chunked.
            (
                Method::POST,
                &[("transfer-encoding", "gzip"), ("content-length", "3")],
                Exact(3),
                Framing::Chunked,
                "transfer-encoding: gzip, chunked",
            ),
            // Differing lengths are dropped for the body's own.
            (
                Method::POST,
                &[("content-length", "3"), ("content-length", "4")],
                Exact(4),
                Framing::Length(4),
                "content-length: 4",
            ),
        ];
        for (method, headers, body, want, shows) in cases {
            let (head, framing) = encode(method.clone(), headers, *body);
            assert_eq!(framing, *want, "{head}");
            assert!(head.contains(shows), "{head}");
            assert!(head.matches("content-length").count() <= 1, "{head}");
        }
    }

    #[test]
    fn framing_edits_leave_one_framing_field_and_every_other_field_as_it_was() {
        use BodySize::*;
        let line = "POST /a?b=1 HTTP/1.1\r\n";
        type Case<'a> = (&'a [(&'a str, &'a str)], BodySize, Framing, &'a str);
        let cases: &[Case<'_>] = &[
            // A coding not ending in chunked: the codings again with chunked last; no length.
            (
                &[
                    ("transfer-encoding", "gzip"),
                    ("x-a", "1"),
                    ("content-length", "3"),
                ],
                Exact(3),
                Framing::Chunked,
                "x-a: 1\r\ntransfer-encoding: gzip, chunked\r\n",
            ),
            // Already chunked: kept where it was; the length dropped.
            (
                &[
                    ("transfer-encoding", "chunked"),
                    ("content-length", "3"),
                    ("x-a", "1"),
                ],
                Unknown,
                Framing::Chunked,
                "transfer-encoding: chunked\r\nx-a: 1\r\n",
            ),
            // Nothing to send: the coding dropped, the length kept.
            (
                &[("content-length", "0"), ("transfer-encoding", "chunked")],
                Empty,
                Framing::Length(0),
                "content-length: 0\r\n",
            ),
            // An invalid length dropped for the body's own, written last.
            (
                &[("content-length", "x"), ("x-a", "1")],
                Exact(2),
                Framing::Length(2),
                "x-a: 1\r\ncontent-length: 2\r\n",
            ),
        ];
        for (headers, body, want, fields) in cases {
            let (head, framing) = encode(Method::POST, headers, *body);
            assert_eq!(framing, *want, "{head}");
            assert_eq!(head, format!("{line}{fields}\r\n"));
        }
    }

    #[test]
    fn content_length_values_must_all_agree_and_be_digits_or_the_body_is_chunked() {
        let post = |values: &[&str]| {
            let fields: Vec<_> = values.iter().map(|v| ("content-length", *v)).collect();
            encode(Method::POST, &fields, BodySize::Unknown)
        };
        for agreed in [&["10"][..], &["10", "10, 10"]] {
            let (head, framing) = post(agreed);
            assert_eq!(framing, Framing::Length(10), "{head}");
        }
        for invalid in [&["10", "11"][..], &["+1"], &["1 0"]] {
            let (head, framing) = post(invalid);
            assert_eq!(framing, Framing::Chunked, "{head}");
            assert!(!head.contains("content-length"), "{head}");
            assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
        }
    }
}
