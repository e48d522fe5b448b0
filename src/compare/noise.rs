//! Noise: differences that are not the candidate's fault, after Twitter's Diffy.
//!
//! - **With a secondary**: a mirror to the primary's own version is a secondary. A field on
//!   which this request's secondary differed from the primary is noise for this pair; and a
//!   field on which secondaries differ at least half as often as the candidate does is noise
//!   for the whole group.
//! - **Without one** (repeat noise): one primary in [`REPEAT_SAMPLE`] is diffed with the
//!   primary's previous answer to the same request (method and path); fields that differ
//!   between two answers of the same version are noise on that route.
//!
//! The rule is [`Evidence::is_noise`]; pairs and reports both ask it.

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

use super::diff::{Ignore, diff_pair};
use super::groups::Group;
use super::kind::Difference;
use super::observed::Observed;

/// Bytes of body kept per remembered answer.
pub const REPEAT_BODY_BYTES: usize = 8 * 1024;
/// Primary answers remembered for repeat-noise detection.
pub const REPEAT_KEYS: usize = 256;
/// One primary in this many teaches repeat noise (a diff with the previous identical request).
pub const REPEAT_SAMPLE: u64 = 8;

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
    previous: HashMap<(String, String), Observed>,
    previous_order: VecDeque<(String, String)>,
    fields: HashMap<(String, String), BTreeSet<Difference>>,
    primaries_seen: u64,
}

impl RepeatNoise {
    /// Fields learnt as noise on `service`'s `route`.
    pub fn fields(&self, service: &str, route: &str) -> Option<&BTreeSet<Difference>> {
        self.fields.get(&(service.to_string(), route.to_string()))
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
        self.previous.insert(key, kept);
    }
}
