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

use http::{StatusCode, Version, response};

use crate::upstream::wire::fields::FramingFields;
use crate::upstream::wire::passed::PassedFields;

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
        let dated = write_fields(parts, out, None);
        finish_head(dated, out);
        return Written {
            framing: Framing::None,
            keep_alive: false,
        };
    }
    // The framing fields are the connection's: noted in the pass that writes the others.
    let mut fields = FramingFields::default();
    let dated = write_fields(parts, out, Some(&mut fields));
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
    finish_head(dated, out);
    Written {
        framing,
        keep_alive,
    }
}

/// Writes each field, one line per value: those an upstream's head passed on as they came,
/// first, in their order and as they were written (the name's case kept, as nginx keeps it:
/// one copy per line); then the map's. With `framing`, the framing fields (the connection's,
/// see [`is_framing`]) are noted there instead of written. Whether a `date` was written.
fn write_fields(
    parts: &response::Parts,
    out: &mut Vec<u8>,
    mut framing: Option<&mut FramingFields>,
) -> bool {
    let mut dated = false;
    // Whether a field is written; a framing field is noted instead.
    let mut write = |name: &[u8], value: &[u8]| match &mut framing {
        Some(fields) if is_framing(name) => {
            fields.note(name, value);
            false
        }
        _ => {
            dated |= is_date(name);
            true
        }
    };
    if let Some(passed) = parts.extensions.get::<PassedFields>() {
        for (name, value, line) in passed.lines() {
            if write(name, value) {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    for (name, value) in &parts.headers {
        let name = name.as_str().as_bytes();
        if write(name, value.as_bytes()) {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    dated
}

fn is_date(name: &[u8]) -> bool {
    name.len() == 4 && name.eq_ignore_ascii_case(b"date")
}

/// `Connection`, `Content-Length`, `Transfer-Encoding`: the connection's, written by
/// [`encode_head`] itself.
fn is_framing(name: &[u8]) -> bool {
    match name.len() {
        10 => name.eq_ignore_ascii_case(b"connection"),
        14 => name.eq_ignore_ascii_case(b"content-length"),
        17 => name.eq_ignore_ascii_case(b"transfer-encoding"),
        _ => false,
    }
}

/// A `date` if the service gave none, and the blank line.
fn finish_head(dated: bool, out: &mut Vec<u8>) {
    if !dated {
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
