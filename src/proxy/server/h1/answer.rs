//! A response head written to an HTTP/1.1 client, and how its body is framed: pure, so every
//! rule is unit-tested.
//!
//! The rules are RFC 9112's, as hyper's server applied them (see
//! `docs/hyper-server-behaviours.md`): no body for HEAD, 1xx, 204 and 304; the service's
//! `Content-Length` kept, else a length from the body when it is known, else chunked
//! (HTTP/1.1) or until close (HTTP/1.0); `Transfer-Encoding` and `Connection` are the
//! connection's, written here; `connection: close` when the connection ends after this answer,
//! `connection: keep-alive` to an HTTP/1.0 client that keeps it; a `date` if the service gave
//! none. A 101 is written as the service gave it: its `Connection: upgrade` is the handover.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{StatusCode, Version, response};

use crate::upstream::wire::fields::FramingFields;

/// How the body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body bytes at all (HEAD, 1xx, 204, 304), whatever the body holds.
    None,
    /// Exactly this many bytes (a longer body is cut, a shorter one aborts the connection).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client, length unknown).
    UntilClose,
}

/// What the request said that shapes its answer.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub head: bool,
    pub version: Version,
    /// The connection may carry another request (the client's and the proxy's wish).
    pub keep_alive: bool,
}

/// What the body said of itself before its first frame.
#[derive(Debug, Clone, Copy)]
pub struct BodyHint {
    pub end_stream: bool,
    pub exact: Option<u64>,
}

/// The head as written: the body's framing and whether the connection stays open after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub framing: Framing,
    pub keep_alive: bool,
}

/// Writes the response head for `parts` into `out`.
pub fn encode_head(
    parts: &response::Parts,
    asked: Asked,
    hint: BodyHint,
    out: &mut Vec<u8>,
) -> Written {
    let status = parts.status;
    let http10 = asked.version == Version::HTTP_10;
    out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    if status == StatusCode::SWITCHING_PROTOCOLS {
        write_fields(parts, out, |_, _| true);
        finish_head(parts, out);
        return Written {
            framing: Framing::None,
            keep_alive: false,
        };
    }
    // The framing fields are the connection's: noted in the pass that writes the others.
    let mut fields = FramingFields::default();
    write_fields(parts, out, |name, value| {
        if *name == CONNECTION {
            fields.note_connection(value.as_bytes());
        } else if *name == CONTENT_LENGTH {
            fields.note_length(value.as_bytes());
        } else {
            return *name != TRANSFER_ENCODING;
        }
        false
    });
    let mut keep_alive = asked.keep_alive && !fields.close;
    let no_body = asked.head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let declared = fields.content_length.flatten();
    let framing = if no_body {
        // A HEAD's or a 304's length is the representation's, kept as the service gave it.
        let length = (status != StatusCode::NO_CONTENT && !status.is_informational())
            .then(|| {
                declared.or(if asked.head && !hint.end_stream {
                    hint.exact
                } else {
                    None
                })
            })
            .flatten();
        if let Some(n) = length {
            write_length(n, out);
        }
        Framing::None
    } else if let Some(n) = declared.or(if hint.end_stream { Some(0) } else { hint.exact }) {
        write_length(n, out);
        Framing::Length(n)
    } else if http10 {
        keep_alive = false;
        Framing::UntilClose
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if http10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    finish_head(parts, out);
    Written {
        framing,
        keep_alive,
    }
}

/// Writes each field `keep` accepts, one line per value.
fn write_fields(
    parts: &response::Parts,
    out: &mut Vec<u8>,
    mut keep: impl FnMut(&http::HeaderName, &http::HeaderValue) -> bool,
) {
    for (name, value) in &parts.headers {
        if keep(name, value) {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// A `date` if the service gave none, and the blank line.
fn finish_head(parts: &response::Parts, out: &mut Vec<u8>) {
    if !parts.headers.contains_key(DATE) {
        out.extend_from_slice(b"date: ");
        write_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn write_length(n: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"content-length: ");
    push_decimal(n, out);
    out.extend_from_slice(b"\r\n");
}

/// The automatic answer to a refused head (or a request that took too long to arrive): no
/// body, and the connection closes.
pub fn encode_refusal(status: StatusCode, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: 0\r\nconnection: close\r\ndate: ");
    write_date(out);
    out.extend_from_slice(b"\r\n\r\n");
}

/// The longest chunk-size line: 16 hex digits and CRLF.
pub const CHUNK_LINE: usize = 18;

/// A chunk's size line (hex digits and CRLF), and its length.
pub fn chunk_size_line(len: usize) -> ([u8; CHUNK_LINE], u8) {
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
    let mut line = [0u8; CHUNK_LINE];
    for (i, place) in line[..digits].iter_mut().enumerate() {
        *place = b"0123456789abcdef"[(len >> ((digits - 1 - i) * 4)) & 0xf];
    }
    line[digits..digits + 2].copy_from_slice(b"\r\n");
    (line, digits as u8 + 2)
}

fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

thread_local! {
    /// The `date` value, formatted once a second per thread.
    static DATE_CACHE: RefCell<(u64, [u8; 29])> = const { RefCell::new((0, [0; 29])) };
}

/// The current time as an HTTP date (IMF-fixdate).
fn write_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_CACHE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = secs;
            } else {
                out.extend_from_slice(text.as_bytes());
                return;
            }
        }
        out.extend_from_slice(&cached.1);
    });
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
