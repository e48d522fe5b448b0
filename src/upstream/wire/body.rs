//! A response body decoded from the bytes read so far: a length counted down, chunks (their
//! sizes, extensions and trailers), or everything until the peer closes. Data comes out as
//! slices of the read buffer, not copies.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::WireError;
use super::response::BodyFraming;

/// A chunk-size line (with its extensions) longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;
/// Trailer sections larger than this are refused.
const MAX_TRAILERS_BYTES: usize = 16 * 1024;
/// At most this many trailer fields.
const MAX_TRAILERS: usize = 64;

/// Where decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// This many bytes of body still to come.
    Length(u64),
    /// Until the connection closes.
    UntilClose,
    /// Before a chunk-size line.
    ChunkSize,
    /// Inside a chunk: this many bytes of it still to come.
    ChunkData(u64),
    /// After a chunk's data: its CRLF.
    ChunkEnd,
    /// After the last (zero-size) chunk: trailers, or the blank line.
    Trailers,
    /// The body has ended.
    Done,
}

/// What decoding the buffer gave.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The body has ended (everything after it is still in the buffer).
    End,
    /// More bytes must be read first.
    NeedMore,
}

impl Decoder {
    pub fn new(framing: BodyFraming) -> Self {
        match framing {
            BodyFraming::Length(0) => Self::Done,
            BodyFraming::Length(n) => Self::Length(n),
            BodyFraming::Chunked => Self::ChunkSize,
            BodyFraming::UntilClose => Self::UntilClose,
        }
    }

    /// The body has ended: nothing more to read for it.
    pub fn is_done(&self) -> bool {
        *self == Self::Done
    }

    /// The next piece of the body from `buf`; `eof`: the peer has closed the connection (no
    /// more bytes will come).
    pub fn decode(&mut self, buf: &mut BytesMut, eof: bool) -> Result<Decoded, WireError> {
        loop {
            let need_more = || {
                if eof {
                    Err(WireError::Incomplete)
                } else {
                    Ok(Decoded::NeedMore)
                }
            };
            match *self {
                Self::Done => return Ok(Decoded::End),
                Self::UntilClose if buf.is_empty() && eof => *self = Self::Done,
                Self::Length(_) | Self::ChunkData(_) | Self::UntilClose if !buf.is_empty() => {
                    return Ok(Decoded::Data(self.take_data(buf)));
                }
                Self::Length(_) | Self::ChunkData(_) | Self::UntilClose => return need_more(),
                Self::ChunkSize => match chunk_size(buf)? {
                    Some(0) => *self = Self::Trailers,
                    Some(size) => *self = Self::ChunkData(size),
                    None => return need_more(),
                },
                Self::ChunkEnd => {
                    if buf.len() < 2 {
                        return need_more();
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(WireError::Protocol("chunk data not followed by CRLF"));
                    }
                    let _ = buf.split_to(2);
                    *self = Self::ChunkSize;
                }
                Self::Trailers => {
                    let Some(trailers) = trailers(buf)? else {
                        return need_more();
                    };
                    *self = Self::Done;
                    if !trailers.is_empty() {
                        return Ok(Decoded::Trailers(trailers));
                    }
                }
            }
        }
    }
}

impl Decoder {
    /// In a data state with bytes in `buf`: as many of them as belong to the body.
    fn take_data(&mut self, buf: &mut BytesMut) -> Bytes {
        let left = match *self {
            Self::Length(left) | Self::ChunkData(left) => left,
            _ => u64::MAX,
        };
        let take = (buf.len() as u64).min(left);
        let data = buf.split_to(take as usize).freeze();
        *self = match *self {
            Self::Length(_) if left == take => Self::Done,
            Self::Length(_) => Self::Length(left - take),
            Self::ChunkData(_) if left == take => Self::ChunkEnd,
            Self::ChunkData(_) => Self::ChunkData(left - take),
            other => other,
        };
        data
    }
}

/// A whole chunk-size line taken from `buf`: the size (`None`: not all of it yet).
fn chunk_size(buf: &mut BytesMut) -> Result<Option<u64>, WireError> {
    match httparse::parse_chunk_size(buf) {
        Ok(httparse::Status::Complete((len, size))) => {
            // httparse takes an empty size as 0 and a bare LF inside an extension; hyper
            // refuses both (RFC 9112 7.1: chunk-size = 1*HEXDIG).
            if !buf[0].is_ascii_hexdigit() || buf[..len - 2].contains(&b'\n') {
                return Err(WireError::Protocol("invalid chunk size"));
            }
            let _ = buf.split_to(len);
            Ok(Some(size))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => {
            Err(WireError::Protocol("chunk-size line too long"))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(WireError::Protocol("invalid chunk size")),
    }
}

/// The trailer section (possibly empty) taken from `buf`, up to and with its blank line.
fn trailers(buf: &mut BytesMut) -> Result<Option<HeaderMap>, WireError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILERS];
    let (len, fields) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) if buf.len() > MAX_TRAILERS_BYTES => {
            return Err(WireError::Protocol("trailers too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(WireError::Protocol("malformed trailers")),
    };
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes());
        let value = HeaderValue::from_bytes(field.value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(WireError::Protocol("invalid trailer field"));
        };
        map.append(name, value);
    }
    let _ = buf.split_to(len);
    Ok(Some(map))
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
