//! A response head read from an upstream: parsed with httparse, 1xx answers skipped, the
//! body's framing decided as RFC 9112 6.3 says (and hyper's client does), and whether the
//! connection may carry another request. A head with no hop-by-hop field to remove has its
//! fields passed on as they came ([`super::passed`]) instead of parsed into a map.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::CONTENT_LENGTH;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::WireError;
use super::fields::FramingFields;
use super::passed::{self, PassedFields};

/// At most this many header fields in a response head (as hyper's default).
pub const MAX_HEADERS: usize = 100;
/// A response head larger than this is refused (Envoy's default `max_response_headers_kb`).
pub const MAX_HEAD_BYTES: usize = 60 * 1024;
const _: () = assert!(
    MAX_HEAD_BYTES < u16::MAX as usize,
    "offsets in a head are u16"
);

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// This many bytes (0: none: HEAD, 204, 304, 101).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    /// The fields, unless they are `passed`: then this is empty.
    pub headers: HeaderMap,
    /// The fields as they came, when none of them is hop-by-hop: a [`PassedFields`] in a
    /// kept extension set (see [`super::passed`]; moved here as a pointer, not 200 bytes).
    pub extensions: Extensions,
    pub framing: BodyFraming,
    /// The connection may carry another request once this exchange has ended.
    pub keep_alive: bool,
}

impl ResponseHead {
    /// The head as an `http` response, its passed fields in its extensions.
    pub fn into_response(self) -> http::Response<()> {
        let mut response = http::Response::new(());
        *response.status_mut() = self.status;
        *response.version_mut() = self.version;
        *response.headers_mut() = self.headers;
        *response.extensions_mut() = self.extensions;
        response
    }
}

/// Parses the first final response head at the start of `buf`, removing it (and any 1xx heads
/// before it) from `buf`. `Ok(None)`: not all of it has arrived yet.
pub fn parse(buf: &mut BytesMut, method: &Method) -> Result<Option<ResponseHead>, WireError> {
    loop {
        let Some(head) = parse_one(buf)? else {
            if buf.len() > MAX_HEAD_BYTES {
                return Err(WireError::Protocol("response head too large"));
            }
            return Ok(None);
        };
        // 1xx answers (100 Continue, 103 Early Hints) come before the final one.
        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            continue;
        }
        return finish(head, method).map(Some);
    }
}

/// One head, of any status, before its framing is decided.
struct Parsed {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
    fields: FramingFields,
}

fn parse_one(buf: &mut BytesMut) -> Result<Option<Parsed>, WireError> {
    let mut fields = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let parsed = config.parse_response_with_uninit_headers(&mut response, buf, &mut fields);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(WireError::Protocol("too many response headers"));
        }
        Err(_) => return Err(WireError::Protocol("malformed response head")),
    };
    if len > MAX_HEAD_BYTES {
        return Err(WireError::Protocol("response head too large"));
    }
    let status = StatusCode::from_u16(response.code.unwrap_or_default())
        .map_err(|_| WireError::Protocol("invalid response status"))?;
    let version = match response.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    // Offsets of each name and value in `buf`: the head is then split off as one shared
    // buffer and every value is a slice of it (no copy per header). A head is under 64 KiB,
    // so `u16` offsets do (and the array zeroed per response is 800 bytes, not 3,200).
    let base = buf.as_ptr() as usize;
    let offset = |s: &[u8]| ((s.as_ptr() as usize - base) as u16, s.len() as u16);
    let mut spans = [((0u16, 0u16), (0u16, 0u16)); MAX_HEADERS];
    let mut count = 0;
    let mut fields = FramingFields::default();
    let mut hop_by_hop = false;
    for field in response.headers.iter() {
        fields.note(field.name.as_bytes(), field.value);
        // `Connection: keep-alive` (or `close`), the usual one, is this connection's alone
        // and names no other field: used here, never passed on (a map insert and a removal).
        if is_plain_connection(field) {
            continue;
        }
        hop_by_hop |= passed::is_hop_by_hop(field.name.as_bytes());
        spans[count] = (offset(field.name.as_bytes()), offset(field.value));
        count += 1;
    }
    let head = buf.split_to(len).freeze();
    if !hop_by_hop && count <= passed::INLINE && status != StatusCode::SWITCHING_PROTOCOLS {
        // Given back by the HTTP/1.1 server once the head is written.
        let mut extensions = super::spare::take_extensions();
        extensions.insert(PassedFields::new(head, &spans[..count]));
        return Ok(Some(Parsed {
            status,
            version,
            headers: HeaderMap::new(),
            extensions,
            fields,
        }));
    }
    let mut headers = super::spare::take(count);
    for &((name_at, name_len), (value_at, value_len)) in &spans[..count] {
        let (name_at, name_len) = (usize::from(name_at), usize::from(name_len));
        let (value_at, value_len) = (usize::from(value_at), usize::from(value_len));
        let name = HeaderName::from_bytes(&head[name_at..name_at + name_len])
            .map_err(|_| WireError::Protocol("invalid response header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value_at..value_at + value_len))
            .map_err(|_| WireError::Protocol("invalid response header value"))?;
        headers.append(name, value);
    }
    Ok(Some(Parsed {
        status,
        version,
        headers,
        extensions: Extensions::new(),
        fields,
    }))
}

/// A `Connection` field saying only `keep-alive` or `close`.
fn is_plain_connection(field: &httparse::Header<'_>) -> bool {
    field.name.len() == 10
        && field.name.eq_ignore_ascii_case("connection")
        && (field.value.eq_ignore_ascii_case(b"keep-alive")
            || field.value.eq_ignore_ascii_case(b"close"))
}

/// Decides the framing (RFC 9112 6.3) and keep-alive of a final head.
fn finish(head: Parsed, method: &Method) -> Result<ResponseHead, WireError> {
    let Parsed {
        status,
        version,
        mut headers,
        extensions,
        fields,
    } = head;
    let mut keep_alive = fields.keeps_alive(version);
    let framing = if status == StatusCode::SWITCHING_PROTOCOLS {
        // The connection is no longer HTTP: never reused.
        keep_alive = false;
        BodyFraming::Length(0)
    } else if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        BodyFraming::Length(0)
    } else if fields.transfer_encoding {
        if version == Version::HTTP_10 {
            return Err(WireError::Protocol(
                "HTTP/1.0 response with Transfer-Encoding",
            ));
        }
        // RFC 9112 6.3 (3): TE overrides CL, and a forwarded message loses the CL.
        if headers.remove(CONTENT_LENGTH).is_some() {
            keep_alive = false;
        }
        if fields.chunked {
            BodyFraming::Chunked
        } else {
            BodyFraming::UntilClose
        }
    } else if let Some(len) = fields.content_length {
        BodyFraming::Length(len.ok_or(WireError::Protocol("invalid response Content-Length"))?)
    } else {
        BodyFraming::UntilClose
    };
    if framing == BodyFraming::UntilClose {
        keep_alive = false;
    }
    Ok(ResponseHead {
        status,
        version,
        headers,
        extensions,
        framing,
        keep_alive,
    })
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
