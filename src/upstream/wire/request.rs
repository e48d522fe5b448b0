//! A request head as written upstream, and how its body is framed: the rules hyper's client
//! follows (RFC 9112 6), so nothing changes for upstreams. A `Transfer-Encoding` chooses
//! chunked (made to end in `chunked`), else a valid `Content-Length` its length, else a body
//! of exactly known size gets a `Content-Length`, else a body of unknown size is sent chunked,
//! except for GET, HEAD and CONNECT, which are sent without one.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method};

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

/// Decides the body's framing (adjusting `headers` to say it) and writes the head into `out`:
/// the request line with `target` in origin form, the headers, the blank line.
pub fn encode_head(
    method: &Method,
    target: &str,
    headers: &mut HeaderMap,
    body: BodySize,
    out: &mut Vec<u8>,
) -> Framing {
    let framing = framing(method, headers, body);
    out.reserve(32 + target.len() + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers.iter() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    framing
}

fn framing(method: &Method, headers: &mut HeaderMap, body: BodySize) -> Framing {
    if body == BodySize::Empty {
        headers.remove(TRANSFER_ENCODING);
        return Framing::Length(0);
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        end_in_chunked(headers);
        headers.remove(CONTENT_LENGTH);
        return Framing::Chunked;
    }
    if let Some(len) = content_length(headers) {
        return Framing::Length(len);
    }
    headers.remove(CONTENT_LENGTH);
    match body {
        BodySize::Exact(len) => {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
            Framing::Length(len)
        }
        _ if matches!(*method, Method::GET | Method::HEAD | Method::CONNECT) => Framing::Length(0),
        _ => {
            headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
            Framing::Chunked
        }
    }
}

/// The length all `Content-Length` values agree on (`None`: absent, invalid or differing).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut fields = FramingFields::default();
    for value in headers.get_all(CONTENT_LENGTH) {
        fields.note_length(value.as_bytes());
    }
    fields.content_length.flatten()
}

/// Makes the last transfer coding `chunked` (`gzip` becomes `gzip, chunked`).
fn end_in_chunked(headers: &mut HeaderMap) {
    if last_coding_is_chunked(headers) {
        return;
    }
    let mut codings: Vec<String> = (headers.get_all(TRANSFER_ENCODING).iter())
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    codings.push("chunked".to_string());
    if let Ok(v) = HeaderValue::from_str(&codings.join(", ")) {
        headers.insert(TRANSFER_ENCODING, v);
    }
}

/// The last of the `Transfer-Encoding` codings is `chunked`.
fn last_coding_is_chunked(headers: &HeaderMap) -> bool {
    let mut fields = FramingFields::default();
    if let Some(last) = headers.get_all(TRANSFER_ENCODING).iter().next_back() {
        fields.note_coding(last.as_bytes());
    }
    fields.chunked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(method: Method, headers: &[(&str, &str)], body: BodySize) -> (String, Framing) {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut out = Vec::new();
        let framing = encode_head(&method, "/a?b=1", &mut map, body, &mut out);
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
    fn content_length_values_must_all_agree_and_be_digits() {
        let with = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for v in values {
                map.append(CONTENT_LENGTH, HeaderValue::from_str(v).unwrap());
            }
            content_length(&map)
        };
        assert_eq!(with(&["10"]), Some(10));
        assert_eq!(with(&["10", "10, 10"]), Some(10));
        assert_eq!(with(&["10", "11"]), None);
        assert_eq!(with(&["+1"]), None);
        assert_eq!(with(&["1 0"]), None);
        assert_eq!(with(&[]), None);
    }
}
