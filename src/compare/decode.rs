//! Bodies decoded per their `content-encoding` (gzip, deflate, br, in the order applied) before
//! they are compared, so a candidate that stops compressing, or compresses otherwise, is judged
//! on what it says and not on its bytes.
//!
//! A decoded body is cut at the comparison's body limit (a small compressed body may expand
//! a thousandfold). A body that cannot be decoded is reported as a difference of kind
//! `encoding` at `/`, never a crash. A capture already cut by the body limit decodes as far as
//! its bytes go: what came out is kept and counts as decoded.

use std::io::Read;

use bytes::Bytes;
use http::HeaderMap;

/// A body as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Decoded (or sent as is): the bytes, and whether they are the whole body.
    Body {
        /// The decoded bytes, at most the limit.
        bytes: Bytes,
        /// The whole body was decoded within the limit.
        complete: bool,
    },
    /// The body does not decode per its `content-encoding`: why.
    Failed(String),
}

/// The codings of `headers`' `content-encoding`, in the order they were applied, lower case,
/// `identity` left out.
pub fn codings(headers: Option<&HeaderMap>) -> Vec<String> {
    let Some(h) = headers else {
        return Vec::new();
    };
    h.get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

/// Decodes `body` (whose capture is whole when `whole`) per `codings`, keeping at most `limit`
/// bytes.
pub fn decode(body: &Bytes, whole: bool, codings: &[String], limit: usize) -> Decoded {
    if codings.is_empty() {
        return Decoded::Body {
            bytes: body.clone(),
            complete: whole,
        };
    }
    let mut data = body.to_vec();
    let mut complete = whole;
    for coding in codings.iter().rev() {
        let reader: Box<dyn Read + '_> = match coding.as_str() {
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&data[..])),
            "deflate" if looks_like_zlib(&data) => {
                Box::new(flate2::read::ZlibDecoder::new(&data[..]))
            }
            "deflate" => Box::new(flate2::read::DeflateDecoder::new(&data[..])),
            "br" => Box::new(brotli::Decompressor::new(&data[..], 4096)),
            other => return Decoded::Failed(format!("unknown content-encoding {other}")),
        };
        let mut out = Vec::new();
        // One byte more than the limit tells a body that fits from one that does not.
        let read = reader.take(limit as u64 + 1).read_to_end(&mut out);
        match read {
            Err(e) if complete => return Decoded::Failed(format!("{coding}: {e}")),
            // A cut capture ends early: keep what decoded.
            Err(_) => {}
            Ok(_) => {}
        }
        if out.len() > limit {
            out.truncate(limit);
            complete = false;
        }
        data = out;
    }
    Decoded::Body {
        bytes: Bytes::from(data),
        complete,
    }
}

/// A zlib stream starts with a header whose two bytes are a multiple of 31 (RFC 1950); HTTP's
/// `deflate` is zlib, though some servers send raw deflate.
fn looks_like_zlib(data: &[u8]) -> bool {
    data.len() >= 2
        && data[0] & 0x0f == 8
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    fn codings_of(v: &str) -> Vec<String> {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_ENCODING, v.parse().unwrap());
        codings(Some(&h))
    }

    fn body(d: Decoded) -> Bytes {
        match d {
            Decoded::Body { bytes, .. } => bytes,
            Decoded::Failed(why) => panic!("{why}"),
        }
    }

    #[test]
    fn gzip_deflate_and_br_decode() {
        let json = br#"{"a":1}"#;
        assert_eq!(
            body(decode(&gzip(json), true, &codings_of("gzip"), 1024)),
            &json[..]
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let z = Bytes::from(z.finish().unwrap());
        assert_eq!(
            body(decode(&z, true, &codings_of("deflate"), 1024)),
            &json[..]
        );
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
            .write_all(json)
            .unwrap();
        assert_eq!(
            body(decode(&Bytes::from(br), true, &codings_of("br"), 1024)),
            &json[..]
        );
        assert_eq!(codings_of("identity"), Vec::<String>::new());
    }

    #[test]
    fn decoding_is_capped_at_the_limit() {
        let big = vec![b'x'; 1 << 20];
        let d = decode(&gzip(&big), true, &codings_of("gzip"), 1000);
        assert_eq!(
            d,
            Decoded::Body {
                bytes: Bytes::from(vec![b'x'; 1000]),
                complete: false
            }
        );
    }

    #[test]
    fn garbage_fails_and_a_cut_capture_keeps_what_decoded() {
        let garbage = Bytes::from_static(b"not gzip at all");
        assert!(matches!(
            decode(&garbage, true, &codings_of("gzip"), 1024),
            Decoded::Failed(_)
        ));
        assert!(matches!(
            decode(&garbage, true, &codings_of("zstd"), 1024),
            Decoded::Failed(_)
        ));
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let g = gzip(&data);
        let cut = g.slice(..g.len() / 2);
        match decode(&cut, false, &codings_of("gzip"), 1 << 20) {
            Decoded::Body { bytes, complete } => {
                assert!(!complete && !bytes.is_empty() && data.starts_with(&bytes));
            }
            other => panic!("{other:?}"),
        }
    }
}
