//! Bodies decoded from bytes arriving in pieces: lengths, chunks with extensions and trailers,
//! close-delimited, and what breaks each.

use super::*;

/// Feeds `pieces` one at a time (then, if `close`, the peer's close) and collects what comes
/// out: the data, the trailers, and whether the body ended; the bytes left after it.
fn decode_all(
    framing: BodyFraming,
    pieces: &[&str],
    close: bool,
) -> Result<(String, Option<HeaderMap>, bool, String), WireError> {
    let mut decoder = Decoder::new(framing);
    let mut buf = BytesMut::new();
    let (mut data, mut trailers, mut ended) = (String::new(), None, false);
    let mut pieces = pieces.iter();
    loop {
        let eof = pieces.len() == 0 && close;
        match decoder.decode(&mut buf, eof)? {
            Decoded::Data(d) => data.push_str(std::str::from_utf8(&d).unwrap()),
            Decoded::Trailers(t) => trailers = Some(t),
            Decoded::End => {
                ended = true;
                break;
            }
            Decoded::NeedMore => match pieces.next() {
                Some(p) => buf.extend_from_slice(p.as_bytes()),
                None => break,
            },
        }
    }
    let rest = String::from_utf8(buf.to_vec()).unwrap();
    Ok((data, trailers, ended, rest))
}

#[test]
fn a_length_is_counted_down_and_what_follows_is_left() {
    let (data, _, ended, rest) =
        decode_all(BodyFraming::Length(5), &["he", "lloHTTP/1.1"], false).unwrap();
    assert_eq!((data.as_str(), ended), ("hello", true));
    assert_eq!(rest, "HTTP/1.1");
    let (_, _, ended, _) = decode_all(BodyFraming::Length(0), &[], false).unwrap();
    assert!(ended);
}

#[test]
fn chunks_in_any_pieces_with_extensions_and_trailers() {
    let wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 42\r\n\r\nNEXT";
    // Every way of cutting the body's bytes in two gives the same body.
    for cut in 0..wire.len() - "NEXT".len() {
        let (data, trailers, ended, rest) =
            decode_all(BodyFraming::Chunked, &[&wire[..cut], &wire[cut..]], false).unwrap();
        assert_eq!(data, "hello world", "cut at {cut}");
        assert!(ended);
        assert_eq!(trailers.unwrap()["x-sum"], "42");
        assert_eq!(rest, "NEXT");
    }
    let (data, trailers, ended, _) = decode_all(
        BodyFraming::Chunked,
        &["A\r\n0123456789\r\n0\r\n\r\n"],
        false,
    )
    .unwrap();
    assert_eq!((data.as_str(), trailers, ended), ("0123456789", None, true));
}

#[test]
fn close_delimited_ends_at_the_close() {
    let (data, _, ended, _) = decode_all(BodyFraming::UntilClose, &["a", "b"], true).unwrap();
    assert_eq!((data.as_str(), ended), ("ab", true));
}

#[test]
fn a_close_before_the_end_is_incomplete() {
    for (framing, pieces) in [
        (BodyFraming::Length(5), &["hel"][..]),
        (BodyFraming::Chunked, &["5\r\nhel"][..]),
        (BodyFraming::Chunked, &["5\r\nhello\r\n"][..]),
        (BodyFraming::Chunked, &["0\r\nx-a: 1\r\n"][..]),
    ] {
        let err = decode_all(framing, pieces, true).unwrap_err();
        assert!(matches!(err, WireError::Incomplete), "{pieces:?}: {err}");
    }
}

#[test]
fn malformed_chunks_are_protocol_errors() {
    let long_line = format!("1;{}", "e".repeat(MAX_CHUNK_LINE + 1));
    for pieces in [
        &["zz\r\n"][..],
        &["5\r\nhelloXX"][..],
        &["0\r\nbad trailer\r\n\r\n"][..],
        &["fffffffffffffffff\r\n"][..],
        // No digits: not a last chunk (RFC 9112 7.1: chunk-size = 1*HEXDIG), as hyper says.
        &["2\r\nok\r\n\r\n\r\n"][..],
        &[";ext\r\n\r\n"][..],
        // A bare LF inside an extension would let two parsers disagree on the line's end.
        &["2;a\nb\r\nok\r\n0\r\n\r\n"][..],
        &[long_line.as_str()][..],
    ] {
        let err = decode_all(BodyFraming::Chunked, pieces, false).unwrap_err();
        assert!(err.is_protocol(), "{pieces:?}: {err}");
    }
}
