//! The header fields that frame a message (`Content-Length`, `Transfer-Encoding`,
//! `Connection`), read one value at a time as a head is parsed ([`FramingFields`]).
//!
//! Why not read them from the `HeaderMap` afterwards: a response head was parsed, then looked
//! up three times (a hash and a walk each) and each value checked as a string again: 900
//! instructions of a proxied request's 40,000. Folding each value as the parser yields it costs
//! a length comparison per header. The request side folds its map's values with the same rules.

/// What the framing fields of one head say, folded value by value.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FramingFields {
    /// `Content-Length`: `None` absent; `Some(None)` invalid or values differing;
    /// `Some(Some(n))` every value says `n`.
    pub content_length: Option<Option<u64>>,
    /// A `Transfer-Encoding` field is present.
    pub transfer_encoding: bool,
    /// The last coding of the last `Transfer-Encoding` field is `chunked`.
    pub chunked: bool,
    /// A `Connection` token says `close`.
    pub close: bool,
    /// A `Connection` token says `keep-alive`.
    pub keep_alive: bool,
}

impl FramingFields {
    /// Notes one header field (`name` in any case, as it came).
    pub fn note(&mut self, name: &[u8], value: &[u8]) {
        // Lengths first: most fields are none of the three and cost one comparison.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => self.note_length(value),
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => self.note_coding(value),
            10 if name.eq_ignore_ascii_case(b"connection") => self.note_connection(value),
            _ => {}
        }
    }

    /// A `Content-Length` value: digits only, a comma-separated list allowed if all agree.
    pub fn note_length(&mut self, value: &[u8]) {
        let mut agreed = match self.content_length {
            Some(None) => return,
            Some(Some(n)) => Some(n),
            None => None,
        };
        // The usual value, one number: no list to split.
        if let Some(len) = parse_digits(value) {
            self.content_length = Some(match agreed {
                Some(a) if a != len => None,
                _ => Some(len),
            });
            return;
        }
        for part in value.split(|&b| b == b',') {
            let len = parse_digits(part.trim_ascii());
            match (len, agreed) {
                (Some(len), Some(a)) if a != len => agreed = None,
                (Some(len), _) => agreed = Some(len),
                (None, _) => agreed = None,
            }
            if agreed.is_none() {
                break;
            }
        }
        self.content_length = Some(agreed);
    }

    /// A request's `Content-Length` value: digits only (no list, unlike a response's: a
    /// proxy must not forward `3, 3`, RFC 9110 8.6, and hyper refuses it).
    pub fn note_single_length(&mut self, value: &[u8]) {
        let len = parse_digits(value.trim_ascii());
        self.content_length = match (self.content_length, len) {
            (None, Some(len)) => Some(Some(len)),
            (Some(Some(a)), Some(len)) if a == len => Some(Some(a)),
            _ => Some(None),
        };
    }

    /// A `Transfer-Encoding` value: only the last coding of the last field counts.
    pub fn note_coding(&mut self, value: &[u8]) {
        self.transfer_encoding = true;
        let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
        self.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
    }

    /// A `Connection` value's tokens.
    pub fn note_connection(&mut self, value: &[u8]) {
        // The usual value, one token: no list to split.
        if value.eq_ignore_ascii_case(b"keep-alive") {
            self.keep_alive = true;
            return;
        }
        if value.eq_ignore_ascii_case(b"close") {
            self.close = true;
            return;
        }
        for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }

    /// HTTP/1.1 keeps the connection unless a token says `close`; HTTP/1.0 only if one says
    /// `keep-alive` (and none `close`).
    pub fn keeps_alive(&self, version: http::Version) -> bool {
        !self.close && (version == http::Version::HTTP_11 || self.keep_alive)
    }
}

/// A decimal number of ASCII digits only (no sign, no space), within `u64`.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head's fields, as a test case writes them.
    type Fields = &'static [(&'static str, &'static str)];

    fn fields(headers: &[(&str, &str)]) -> FramingFields {
        let mut f = FramingFields::default();
        for (n, v) in headers {
            f.note(n.as_bytes(), v.as_bytes());
        }
        f
    }

    #[test]
    fn content_length_values_agree_or_are_invalid() {
        let cases: &[(Fields, Option<Option<u64>>)] = &[
            (&[], None),
            (&[("Content-Length", "17")], Some(Some(17))),
            (&[("content-length", " 5 ")], Some(Some(5))),
            (&[("content-length", "5, 5")], Some(Some(5))),
            (
                &[("content-length", "5"), ("Content-Length", "5")],
                Some(Some(5)),
            ),
            (
                &[("content-length", "5"), ("content-length", "6")],
                Some(None),
            ),
            (&[("content-length", "5, 6")], Some(None)),
            (&[("content-length", "+5")], Some(None)),
            (&[("content-length", "")], Some(None)),
            (&[("content-length", "5,")], Some(None)),
            (&[("content-length", "1 2")], Some(None)),
            (&[("content-length", "18446744073709551616")], Some(None)),
            (
                &[("content-length", "x"), ("content-length", "5")],
                Some(None),
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(fields(headers).content_length, *want, "{headers:?}");
        }
    }

    #[test]
    fn only_the_last_coding_of_the_last_field_decides_chunked() {
        let cases: &[(Fields, bool, bool)] = &[
            (&[], false, false),
            (&[("Transfer-Encoding", "chunked")], true, true),
            (&[("transfer-encoding", "gzip, Chunked ")], true, true),
            (&[("transfer-encoding", "chunked, gzip")], true, false),
            (
                &[
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "gzip"),
                ],
                true,
                false,
            ),
            (
                &[
                    ("transfer-encoding", "gzip"),
                    ("transfer-encoding", "chunked"),
                ],
                true,
                true,
            ),
        ];
        for (headers, present, chunked) in cases {
            let f = fields(headers);
            assert_eq!(
                (f.transfer_encoding, f.chunked),
                (*present, *chunked),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_tokens() {
        const HTTP_10: http::Version = http::Version::HTTP_10;
        const HTTP_11: http::Version = http::Version::HTTP_11;
        let cases: &[(Fields, http::Version, bool)] = &[
            (&[], HTTP_11, true),
            (&[], HTTP_10, false),
            (&[("Connection", "close")], HTTP_11, false),
            (&[("connection", "Keep-Alive")], HTTP_10, true),
            (&[("connection", "keep-alive, close")], HTTP_10, false),
            (
                &[("connection", "upgrade"), ("connection", " CLOSE ")],
                HTTP_11,
                false,
            ),
            (&[("connection", "closed")], HTTP_11, true),
        ];
        for (headers, version, keep) in cases {
            assert_eq!(fields(headers).keeps_alive(*version), *keep, "{headers:?}");
        }
    }
}
