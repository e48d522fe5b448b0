//! A response head's fields passed on as the upstream wrote them ([`PassedFields`]): the
//! head's bytes, shared, and where each name and value lies in them. They ride in the
//! response's extensions, with its `HeaderMap` empty, until something has to read or change
//! them; then [`into_map`] moves them into the map. The HTTP/1.1 server writes them as they
//! are, in the order they came.
//!
//! Why: an upstream's answer was parsed into a `HeaderMap` (a name interned and hashed, a
//! shared slice made and inserted per field) only for the HTTP/1.1 server to write the same
//! fields out again and drop the map: about 3,700 of a proxied request's 32,000 instructions
//! went there, most requests reading none of them. A head is passed this way only when it carries
//! no hop-by-hop field to remove (a plain `Connection: keep-alive` is left out as it is
//! parsed) and no more than [`INLINE`] fields; every other head gets its map at once.
//!
//! The rule for readers: a response's fields are its extension's [`PassedFields`], if any,
//! then its map's. [`field`] reads both; a step that changes fields calls [`into_map`] first.

use bytes::Bytes;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue};

/// At most this many fields are passed on as they came (a head with more gets its map).
pub const INLINE: usize = 24;

/// Where one name and its value lie in the head: `(start, length)` each.
type Span = ((u16, u16), (u16, u16));

/// A head's fields as the upstream wrote them (names in their own case).
#[derive(Clone, Debug)]
pub struct PassedFields {
    head: Bytes,
    spans: [Span; INLINE],
    len: u8,
}

impl PassedFields {
    /// The fields of `head` at `spans` (offsets into `head`; at most [`INLINE`]). A span
    /// whose value does not follow its name inside `head` is left out (the parser makes none),
    /// so reading a field never slices out of bounds.
    pub fn new(head: Bytes, spans: &[Span]) -> Self {
        let mut kept = [((0, 0), (0, 0)); INLINE];
        let mut len = 0;
        let fits = |&((n, n_len), (v, v_len)): &Span| {
            n.checked_add(n_len).is_some_and(|name_end| name_end <= v)
                && usize::from(v) + usize::from(v_len) <= head.len()
        };
        for span in spans.iter().filter(|span| fits(span)).take(INLINE) {
            kept[len] = *span;
            len += 1;
        }
        Self {
            head,
            spans: kept,
            len: len as u8,
        }
    }

    /// Each field's name, value and whole line as written (name to value's end, without
    /// the line's end), in the order they came.
    pub fn lines(&self) -> impl Iterator<Item = (&[u8], &[u8], &[u8])> + '_ {
        self.spans[..usize::from(self.len)]
            .iter()
            .map(|&((n, n_len), (v, v_len))| {
                let (n, n_len, v, v_len) = (
                    usize::from(n),
                    usize::from(n_len),
                    usize::from(v),
                    usize::from(v_len),
                );
                let line = &self.head[n..v + v_len];
                (&line[..n_len], &line[v - n..], line)
            })
    }

    /// The first value of `name` (lowercase, as `HeaderName`s are).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        let at = |(start, len): (u16, u16)| {
            &self.head[usize::from(start)..usize::from(start) + usize::from(len)]
        };
        // Lengths first: most fields are compared no further.
        (self.spans[..usize::from(self.len)].iter())
            .find(|&&(n, _)| usize::from(n.1) == name.len() && at(n).eq_ignore_ascii_case(name))
            .map(|&(_, v)| at(v))
    }

    /// How many fields there are.
    fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Appends the fields to `map`, each value a slice of the head (no copy).
    fn append_to(&self, map: &mut HeaderMap) {
        for &((name_at, name_len), (value_at, value_len)) in &self.spans[..usize::from(self.len)] {
            let (name_at, name_len) = (usize::from(name_at), usize::from(name_len));
            let (value_at, value_len) = (usize::from(value_at), usize::from(value_len));
            let name = HeaderName::from_bytes(&self.head[name_at..name_at + name_len]);
            let value =
                HeaderValue::from_maybe_shared(self.head.slice(value_at..value_at + value_len));
            // httparse admits exactly the names and values `http` does (tokens; visible
            // ASCII, obs-text and tabs): a test below holds both to it.
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
        }
    }
}

/// The first value of `name` among a response's fields: its passed ones (its extensions'
/// [`PassedFields`], looked up once by the caller), then its map's.
pub fn field<'a>(
    headers: &'a HeaderMap,
    passed: Option<&'a PassedFields>,
    name: &HeaderName,
) -> Option<&'a [u8]> {
    (passed.and_then(|passed| passed.get(name.as_str())))
        .or_else(|| headers.get(name).map(HeaderValue::as_bytes))
}

/// A copy of a response's fields, `passed`'s then the map's, that owns its bytes (for the
/// comparison, which may hold it long after the connection's read buffer has moved on): the
/// head copied once, each value a slice of the copy. The map's own fields are the proxy's
/// (header operations, a hash cookie), not slices of a read buffer: shared, not copied.
pub fn detached(headers: &HeaderMap, passed: &PassedFields) -> HeaderMap {
    let own = PassedFields {
        head: Bytes::copy_from_slice(&passed.head),
        ..passed.clone()
    };
    let mut map = HeaderMap::with_capacity(own.len() + headers.len());
    own.append_to(&mut map);
    append_all(&mut map, headers.clone());
    map
}

/// Appends every value of `from` to `map`, in order.
fn append_all(map: &mut HeaderMap, from: HeaderMap) {
    let mut last = None;
    for (name, value) in from {
        // `HeaderMap`'s iterator names only the first of each name's values.
        if let Some(name) = name {
            last = Some(name);
        }
        if let Some(name) = &last {
            map.append(name.clone(), value);
        }
    }
}

/// Moves a response's passed fields, if it has any, into its map, ahead of those the map
/// already holds.
pub fn into_map(headers: &mut HeaderMap, extensions: &mut Extensions) {
    let Some(passed) = extensions.remove::<PassedFields>() else {
        return;
    };
    // The set came from the thread's stash and holds nothing else now: back it goes, or the
    // stash drains and every passed head pays for a new set.
    if extensions.is_empty() {
        super::spare::give_extensions(std::mem::take(extensions));
    }
    if headers.is_empty() {
        headers.reserve(passed.len());
        passed.append_to(headers);
        return;
    }
    let mut map = HeaderMap::with_capacity(passed.len() + headers.len());
    passed.append_to(&mut map);
    append_all(&mut map, std::mem::take(headers));
    *headers = map;
}

/// A field a proxy removes before passing an answer on (RFC 9110 7.6.1), by its name in any
/// case. A `Connection` field is one; it may also name others, which are then hop-by-hop too.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    match name.len() {
        2 => is(b"te"),
        7 => is(b"trailer") || is(b"upgrade"),
        10 => is(b"connection") || is(b"keep-alive"),
        16 => is(b"proxy-connection"),
        17 => is(b"transfer-encoding"),
        19 => is(b"proxy-authorization"),
        _ => false,
    }
}

#[cfg(test)]
#[path = "passed_tests.rs"]
mod tests;
