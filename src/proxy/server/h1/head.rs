//! A client's HTTP/1.1 request head, parsed from the connection's read buffer with httparse and
//! checked as hyper's server and Envoy check it: the request line, at most `max_headers` fields
//! within `max_bytes`, the body's framing (`Content-Length` digits only and agreeing,
//! `Transfer-Encoding` ending in `chunked`, never both), keep-alive, `Expect: 100-continue`
//! and whether an upgrade is asked for. Pure: no I/O, every rule unit-tested.
//!
//! Header values are slices of the read buffer (no copies): the head is parsed in place,
//! each value's place noted, then the head is split off the buffer and frozen and the values
//! sliced from it.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri, Version, request};

use crate::upstream::wire::fields::FramingFields;
use crate::upstream::wire::response::BodyFraming;
use crate::upstream::wire::spare;

/// httparse's header slots on the stack; a larger `max_headers` takes them from the heap.
const STACK_HEADERS: usize = 100;
/// Fields the proxy adds to a request before sending it on.
const PROXY_ADDS: usize = 6;
/// The longest request target `http::Uri` takes (longer: 414, as hyper answers).
const MAX_TARGET: usize = u16::MAX as usize - 1;

/// The limits a head is parsed under.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_headers: usize,
    pub max_bytes: usize,
}

/// A parsed request head and what it says about its body and its connection.
#[derive(Debug)]
pub struct RequestHead {
    pub parts: request::Parts,
    /// `Length(0)` for no body; never `UntilClose` (requests are not close-delimited).
    pub body: BodyFraming,
    /// The connection may carry another request after this one.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on HTTP/1.1 with a body: the client waits for `100 Continue`.
    pub expect_continue: bool,
    /// An `Upgrade` field on HTTP/1.1: the connection may be handed over after a 101.
    pub upgrade: bool,
}

/// A head refused: the status to answer with (then the connection closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
}

impl Refusal {
    fn bad(reason: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            reason,
        }
    }

    fn too_large(reason: &'static str) -> Self {
        Self {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            reason,
        }
    }
}

/// Where a field's name and value sit in the head.
#[derive(Debug)]
pub struct Field {
    name: HeaderName,
    value: Range<usize>,
}

/// What the fields say besides the framing.
#[derive(Debug, Default)]
struct Marks {
    framing: FramingFields,
    expect_continue: bool,
    upgrade: bool,
}

/// Parses the request head at the start of `buf`, removing it from `buf`. `Ok(None)`: not all
/// of it has arrived (and it is still within the limits). `fields` is scratch space kept by the
/// connection so a request costs no allocation for it.
pub fn parse(
    buf: &mut BytesMut,
    limits: HeadLimits,
    fields: &mut Vec<Field>,
) -> Result<Option<RequestHead>, Refusal> {
    let mut stack = [const { MaybeUninit::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize_with(limits.max_headers, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_bytes => {
            return Err(Refusal::too_large("request head too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::too_large("too many request headers"));
        }
        Err(_) => return Err(Refusal::bad("malformed request head")),
    };
    if len > limits.max_bytes {
        return Err(Refusal::too_large("request head too large"));
    }
    let base = buf.as_ptr() as usize;
    let place = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let method = (req.method.map(str::as_bytes))
        .and_then(|m| Method::from_bytes(m).ok())
        .ok_or(Refusal::bad("invalid method"))?;
    let target = place(req.path.unwrap_or_default().as_bytes());
    if target.len() > MAX_TARGET {
        return Err(Refusal {
            status: StatusCode::URI_TOO_LONG,
            reason: "request target too long",
        });
    }
    let version = match req.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    fields.clear();
    let mut marks = Marks::default();
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Refusal::bad("invalid header name"))?;
        if marks.note(&name, h.value) {
            fields.push(Field {
                name,
                value: place(h.value),
            });
        }
    }
    let head = buf.split_to(len).freeze();
    let parts = build_parts(&head, method, target, version, fields)?;
    finish(parts, &marks)
}

impl Marks {
    /// Notes a field; `false`: it is not passed on (a `Content-Length` equal to one before it:
    /// the request goes on with one).
    fn note(&mut self, name: &HeaderName, value: &[u8]) -> bool {
        use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING, UPGRADE};
        if name == CONTENT_LENGTH {
            let first = self.framing.content_length.is_none();
            self.framing.note_single_length(value);
            return first;
        } else if name == TRANSFER_ENCODING {
            self.framing.note_coding(value);
        } else if name == CONNECTION {
            self.framing.note_connection(value);
        } else if name == EXPECT {
            self.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        } else if name == UPGRADE {
            self.upgrade = true;
        }
        true
    }
}

/// The request's parts, its field values sliced from `head`.
fn build_parts(
    head: &Bytes,
    method: Method,
    target: Range<usize>,
    version: Version,
    fields: &mut Vec<Field>,
) -> Result<request::Parts, Refusal> {
    let uri = Uri::from_maybe_shared(head.slice(target))
        .map_err(|_| Refusal::bad("invalid request target"))?;
    // Room for what the proxy adds (x-forwarded-*, x-request-id, the attempt count): a map
    // sized to the client's fields alone grew three times a request, each a reallocation and
    // a rehash of every field (2,700 instructions of a proxied GET's 35,000).
    let mut headers = spare::take(fields.len() + PROXY_ADDS);
    for field in fields.drain(..) {
        let value = HeaderValue::from_maybe_shared(head.slice(field.value))
            .map_err(|_| Refusal::bad("invalid header value"))?;
        headers.append(field.name, value);
    }
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(parts)
}

/// The body's framing and the connection's fate, as RFC 9112 6.3 and Envoy decide them.
fn finish(parts: request::Parts, marks: &Marks) -> Result<Option<RequestHead>, Refusal> {
    let f = &marks.framing;
    let http11 = parts.version == Version::HTTP_11;
    let body = match (f.transfer_encoding, f.content_length) {
        (true, _) if !http11 => return Err(Refusal::bad("transfer-encoding on HTTP/1.0")),
        // Envoy refuses both (unless `allow_chunked_length`): a request smuggling vector.
        (true, Some(_)) => {
            return Err(Refusal::bad("both content-length and transfer-encoding"));
        }
        (true, None) if !f.chunked => {
            return Err(Refusal::bad("transfer-encoding does not end in chunked"));
        }
        (true, None) => BodyFraming::Chunked,
        (false, Some(None)) => return Err(Refusal::bad("invalid content-length")),
        (false, Some(Some(n))) => BodyFraming::Length(n),
        (false, None) => BodyFraming::Length(0),
    };
    let has_body = body != BodyFraming::Length(0);
    Ok(Some(RequestHead {
        keep_alive: f.keeps_alive(parts.version),
        expect_continue: marks.expect_continue && http11 && has_body,
        upgrade: marks.upgrade && http11,
        body,
        parts,
    }))
}

/// Could the bytes from `from` on complete a head (a blank line among them)? A head arriving
/// byte by byte is parsed again only when this says so, not once per byte.
pub fn may_complete(buf: &[u8], from: usize) -> bool {
    let start = from.saturating_sub(3);
    buf.get(start..).is_some_and(|tail| {
        tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
    })
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
