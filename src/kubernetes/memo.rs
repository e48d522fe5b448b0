//! What the last build made of each cluster object, kept while the object is unchanged.
//!
//! A change to one VirtualService must not cost re-reading and re-validating the other
//! thousands: each candidate is kept with a fingerprint of what it was made from (an Istio
//! object's `resourceVersion` and served version; a Service's own, its EndpointSlices' and its
//! Pods' `resourceVersion`s) and the errors of checking it alone, and reused while the
//! fingerprint holds. Parsed EndpointSlices are kept the same way. An entry not used by a build
//! is dropped at its end, so the memo never outlives the objects. Pure data: no client, no clock.

use std::collections::HashMap;
use std::sync::Arc;

use super::candidates::Candidate;
use super::slices::EndpointSlice;
use super::store::{Key, ObjKind};

/// Candidates and parsed slices from the last build.
#[derive(Debug, Default)]
pub struct Memo {
    candidates: HashMap<ObjKind, HashMap<Key, Kept<Candidate>>>,
    slices: HashMap<Key, Kept<Option<Arc<EndpointSlice>>>>,
    build: u64,
    /// How many candidates the current build made afresh (for the log and tests).
    made: usize,
}

#[derive(Debug)]
struct Kept<T> {
    fingerprint: String,
    value: T,
    used_in: u64,
}

/// The value kept in `map` for `key` while its fingerprint holds, else `make()`'s, kept;
/// `true` with a fresh one. Marks the entry used by `build`.
fn kept_or_made<T: Clone>(
    map: &mut HashMap<Key, Kept<T>>,
    build: u64,
    key: &Key,
    fingerprint: &str,
    make: impl FnOnce() -> T,
) -> (T, bool) {
    if let Some(kept) = map.get_mut(key)
        && kept.fingerprint == fingerprint
    {
        kept.used_in = build;
        return (kept.value.clone(), false);
    }
    let value = make();
    let kept = Kept {
        fingerprint: fingerprint.to_string(),
        value: value.clone(),
        used_in: build,
    };
    map.insert(key.clone(), kept);
    (value, true)
}

impl Memo {
    /// Starts a build: what it does not use is dropped by [`Memo::finish`].
    pub fn start(&mut self) {
        self.build += 1;
        self.made = 0;
    }

    /// Drops what the build did not use; returns how many candidates it made afresh.
    pub fn finish(&mut self) -> usize {
        let build = self.build;
        for kind in self.candidates.values_mut() {
            kind.retain(|_, k| k.used_in == build);
        }
        self.slices.retain(|_, k| k.used_in == build);
        self.made
    }

    /// The candidate for `key` made from what `fingerprint` names: the kept one, or `make()`'s
    /// (checked alone once, here, so a reuse skips validation too).
    pub fn candidate(
        &mut self,
        kind: ObjKind,
        key: &Key,
        fingerprint: &str,
        make: impl FnOnce() -> Candidate,
    ) -> Candidate {
        let map = self.candidates.entry(kind).or_default();
        let (candidate, fresh) = kept_or_made(map, self.build, key, fingerprint, || {
            let mut c = make();
            c.check_alone();
            c
        });
        self.made += usize::from(fresh);
        candidate
    }

    /// The EndpointSlice `key` at `resource_version`, parsed once (`None`: unreadable).
    pub fn slice(
        &mut self,
        key: &Key,
        resource_version: &str,
        parse: impl FnOnce() -> Option<EndpointSlice>,
    ) -> Option<Arc<EndpointSlice>> {
        let parsed = || parse().map(Arc::new);
        kept_or_made(&mut self.slices, self.build, key, resource_version, parsed).0
    }
}
