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
    candidates: HashMap<(ObjKind, Key), Kept<Candidate>>,
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

impl Memo {
    /// Starts a build: what it does not use is dropped by [`Memo::finish`].
    pub fn start(&mut self) {
        self.build += 1;
        self.made = 0;
    }

    /// Drops what the build did not use; returns how many candidates it made afresh.
    pub fn finish(&mut self) -> usize {
        let build = self.build;
        self.candidates.retain(|_, k| k.used_in == build);
        self.slices.retain(|_, k| k.used_in == build);
        self.made
    }

    /// The candidate for `key` made from what `fingerprint` names: the kept one, or `make()`'s
    /// (checked alone once, here, so a reuse skips validation too).
    pub fn candidate(
        &mut self,
        kind: ObjKind,
        key: &Key,
        fingerprint: String,
        make: impl FnOnce() -> Candidate,
    ) -> Candidate {
        let build = self.build;
        if let Some(kept) = self.candidates.get_mut(&(kind, key.clone()))
            && kept.fingerprint == fingerprint
        {
            kept.used_in = build;
            return kept.value.clone();
        }
        let mut fresh = make();
        fresh.check_alone();
        self.made += 1;
        let kept = Kept {
            fingerprint,
            value: fresh.clone(),
            used_in: build,
        };
        self.candidates.insert((kind, key.clone()), kept);
        fresh
    }

    /// The EndpointSlice `key` at `resource_version`, parsed once (`None`: unreadable).
    pub fn slice(
        &mut self,
        key: &Key,
        resource_version: &str,
        parse: impl FnOnce() -> Option<EndpointSlice>,
    ) -> Option<Arc<EndpointSlice>> {
        let build = self.build;
        if let Some(kept) = self.slices.get_mut(key)
            && kept.fingerprint == resource_version
        {
            kept.used_in = build;
            return kept.value.clone();
        }
        let value = parse().map(Arc::new);
        let kept = Kept {
            fingerprint: resource_version.to_string(),
            value: value.clone(),
            used_in: build,
        };
        self.slices.insert(key.clone(), kept);
        value
    }
}
