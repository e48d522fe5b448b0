//! Noise: differences that are not the candidate's fault, after Twitter's Diffy.
//!
//! - **With a secondary**: a mirror to the primary's own version is a secondary. A field on
//!   which this request's secondary differed from the primary is noise for this pair; and a
//!   field on which secondaries differ at least half as often as the candidate does is noise
//!   for the whole group.
//! - **Without one** (repeat noise): one primary in [`REPEAT_SAMPLE`] is diffed with the
//!   primary's previous answer to the same request (method and path); fields that differ
//!   between two answers of the same version are noise on that route.
//! - **Without one, on routes where every request differs** (volatile noise): the same sampled
//!   primary is also diffed with the previous sampled primary on its route, a *different*
//!   request. A difference there may just be the input (`/number`), so it is learnt only when
//!   it is a value change (same JSON type) between two **volatile-looking** values
//!   ([`looks_volatile`]: a number of at least 1e9, as epoch times and random ids are, a UUID,
//!   an ISO-8601 date-time, or a token of 16+ characters mixing digits and letters), and only
//!   after [`VOLATILE_EVIDENCE`] such sightings. Input-derived fields (small numbers, arrays,
//!   words) never qualify, so a candidate's real bug on them is never called noise; a random
//!   `timestamp` is learnt within about `REPEAT_SAMPLE * (VOLATILE_EVIDENCE + 1)` pairs.
//!
//! The rule is [`Evidence::is_noise`]; pairs and reports both ask it.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use super::diff::{Ignore, diff_pair};
use super::groups::Group;
use serde_json::Value;

use super::kind::{DiffKind, Difference};
use super::observed::Observed;

/// Bytes of body kept per remembered answer.
pub const REPEAT_BODY_BYTES: usize = 8 * 1024;
/// Primary answers remembered for repeat-noise detection.
pub const REPEAT_KEYS: usize = 256;
/// One primary in this many teaches repeat noise (a diff with the previous identical request).
pub const REPEAT_SAMPLE: u64 = 8;
/// Sightings of a volatile-looking value change between two different requests' primaries
/// before the field is noise on its route.
pub const VOLATILE_EVIDENCE: u32 = 3;
/// Fields tracked as possibly volatile, across routes.
const VOLATILE_TRACKED: usize = 4096;

/// Headers that say how the body travelled, not what it says: a difference there is always
/// noise (bodies are compared decoded; one that does not decode is an `encoding` difference).
pub const TRANSPORT_HEADERS: [&str; 1] = ["header:content-encoding"];

/// What is known to be noise when judging a field (normalized: `status`, `header:NAME` or a
/// JSON path with indices as `*`) with its kind: a field is noise for one kind of difference
/// only (a volatile value that changes type is not noise).
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Fields where this request's secondaries differed from the primary (none in a report).
    pub secondary_fields: &'a BTreeSet<Difference>,
    /// Fields learnt as noise on this route (repeat noise).
    pub repeat_fields: &'a BTreeSet<Difference>,
    /// Whether the group's secondary statistics count (a pair: it had a secondary itself).
    pub secondary_statistics: bool,
}

impl Evidence<'_> {
    /// Whether `field` differing in `group` is noise.
    pub fn is_noise(&self, field: &Difference, group: &Group) -> bool {
        if TRANSPORT_HEADERS.contains(&field.field.as_str())
            || self.secondary_fields.contains(field)
            || self.repeat_fields.contains(field)
        {
            return true;
        }
        // A field the secondary has differed on about as often as the candidate.
        self.secondary_statistics
            && group.secondary_pairs > 0
            && group
                .fields
                .get(field)
                .is_some_and(|s| group.secondary_rate(s) >= 0.5 * group.candidate_rate(s))
    }
}

/// Repeat noise: the primaries' previous answers and the fields learnt from them, per
/// (service, route).
#[derive(Debug, Default)]
pub struct RepeatNoise {
    /// The last answer per (service, request), body cut to [`REPEAT_BODY_BYTES`].
    previous: HashMap<(Arc<str>, String), Observed>,
    previous_order: VecDeque<(Arc<str>, String)>,
    fields: HashMap<(Arc<str>, Arc<str>), BTreeSet<Difference>>,
    primaries_seen: u64,
    /// The last sampled primary per (service, route), body cut.
    last_on_route: HashMap<(Arc<str>, Arc<str>), Observed>,
    /// Volatile-looking sightings per (service, route, field).
    volatile: HashMap<(Arc<str>, Arc<str>, Difference), u32>,
}

impl RepeatNoise {
    /// Fields learnt as noise on `service`'s `route`.
    pub fn fields(&self, service: &Arc<str>, route: &Arc<str>) -> Option<&BTreeSet<Difference>> {
        self.fields.get(&(service.clone(), route.clone()))
    }

    /// Sees one primary about to be compared; without a secondary, one in [`REPEAT_SAMPLE`]
    /// teaches repeat noise.
    pub fn observe_primary(&mut self, primary: &Observed, ignore: &Ignore, has_secondary: bool) {
        self.primaries_seen += 1;
        if !has_secondary && self.primaries_seen.is_multiple_of(REPEAT_SAMPLE) {
            self.learn(primary, ignore);
        }
    }

    fn learn(&mut self, primary: &Observed, ignore: &Ignore) {
        let key = (primary.service.clone(), primary.request.clone());
        if let Some(prev) = self.previous.get(&key) {
            let fields: Vec<Difference> = diff_pair(prev.side(), primary.side(), ignore)
                .fields()
                .iter()
                .map(Difference::normalized)
                .collect();
            if !fields.is_empty() {
                self.fields
                    .entry((primary.service.clone(), primary.route.clone()))
                    .or_default()
                    .extend(fields);
            }
        } else {
            self.previous_order.push_back(key.clone());
            if self.previous_order.len() > REPEAT_KEYS
                && let Some(old) = self.previous_order.pop_front()
            {
                self.previous.remove(&old);
            }
        }
        // A compact copy: a slice would keep the connection's whole read buffer alive.
        let mut kept = primary.clone();
        kept.body = kept
            .body
            .map(|b| Bytes::copy_from_slice(&b[..b.len().min(REPEAT_BODY_BYTES)]));
        let route = (primary.service.clone(), primary.route.clone());
        if let Some(prev) = self.last_on_route.insert(route, kept.clone())
            && prev.request != primary.request
        {
            self.learn_volatile(&prev, primary, ignore);
        }
        self.previous.insert(key, kept);
    }

    /// Two different requests' primaries: counts value changes between volatile-looking values.
    fn learn_volatile(&mut self, prev: &Observed, primary: &Observed, ignore: &Ignore) {
        let parse =
            |o: &Observed| -> Option<Value> { serde_json::from_slice(o.body.as_ref()?).ok() };
        let (Some(a), Some(b)) = (parse(prev), parse(primary)) else {
            return;
        };
        for d in diff_pair(prev.side(), primary.side(), ignore).body {
            let (Some(va), Some(vb)) = (a.pointer(&d.field), b.pointer(&d.field)) else {
                continue;
            };
            if d.kind != DiffKind::Value || !looks_volatile(va) || !looks_volatile(vb) {
                continue;
            }
            let field = d.normalized();
            let key = (
                primary.service.clone(),
                primary.route.clone(),
                field.clone(),
            );
            if !self.volatile.contains_key(&key) && self.volatile.len() >= VOLATILE_TRACKED {
                continue;
            }
            let seen = self.volatile.entry(key).or_default();
            *seen += 1;
            if *seen >= VOLATILE_EVIDENCE {
                (self.fields)
                    .entry((primary.service.clone(), primary.route.clone()))
                    .or_default()
                    .insert(field);
            }
        }
    }
}

/// A value that looks made fresh for each answer rather than computed from the request: a
/// number of at least 1e9 (epoch seconds, milliseconds, random ids), a UUID, an ISO-8601
/// date-time, or a token of 16+ characters without spaces mixing digits and letters.
pub fn looks_volatile(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() >= 1e9),
        Value::String(s) => {
            let b = s.as_bytes();
            let uuid = b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                });
            let date_time = b.len() >= 19
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-'
                && b[7] == b'-'
                && matches!(b[10], b'T' | b' ');
            let token = b.len() >= 16
                && b.iter().any(u8::is_ascii_digit)
                && b.iter().any(u8::is_ascii_alphabetic)
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_:.+/=".contains(c));
            uuid || date_time || token
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::looks_volatile;
    use serde_json::json;

    #[test]
    fn volatile_looking_values() {
        for v in [
            json!(1_717_171_717),
            json!(1_717_171_717_123u64),
            json!("3f2b8c1e-9a4d-4c2b-8e7f-0123456789ab"),
            json!("2024-05-31T12:00:00Z"),
            json!("a9F3kQ0zX7bN2mL5"),
        ] {
            assert!(looks_volatile(&v), "{v}");
        }
        for v in [
            json!(36),
            json!(2.5),
            json!("v1"),
            json!("hello world, long text"),
            json!([1]),
        ] {
            assert!(!looks_volatile(&v), "{v}");
        }
    }
}
