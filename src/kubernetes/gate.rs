//! One bad resource never blocks the others: each resource is read and validated alone
//! (`model::validation`); a bad one is left out, or its last good version (the one in the
//! last applied config) stays in force. The rest are compiled together; a resource the compiler
//! finds an error in (a cross-reference) is dropped the same way and the rest compiled again.
//! What is left is the snapshot to apply, with every resource's state and every rejection.

use std::collections::HashMap;
use std::sync::Arc;

use super::candidates::Candidate;
use crate::config::{ConfigSet, Diagnostic, Resource};
use crate::model::cluster::Cluster;
use crate::model::{BuildResult, Prior, ProxyIdentity, Snapshot, Validation, build_from_set_with};
use crate::reload::{ResourceState, ResourceStatus};

/// How many times the compiler may drop resources before the change is refused whole.
const MAX_ROUNDS: usize = 8;

/// The resources in force, remembered between builds.
#[derive(Debug, Default)]
pub struct Gate {
    last_good: HashMap<String, Candidate>,
    /// The last build's clusters, kept by the next one where unchanged.
    clusters: Vec<Arc<Cluster>>,
}

/// A rejected resource and why.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The version refused.
    pub candidate: Candidate,
    /// Its errors.
    pub errors: Vec<Diagnostic>,
}

/// What a build gives.
#[derive(Debug)]
pub struct Outcome {
    /// The config to apply; `None` when an error named no resource (then `errors` say why).
    pub snapshot: Option<Snapshot>,
    /// Every resource's state.
    pub statuses: Vec<ResourceStatus>,
    /// The resources refused.
    pub rejections: Vec<Rejection>,
    /// Errors that named no resource.
    pub errors: Vec<Diagnostic>,
}

struct Chosen {
    candidate: Candidate,
    state: ResourceState,
}

impl Gate {
    /// Checks `candidates` one by one, then compiles the good ones.
    pub fn build(&mut self, candidates: Vec<Candidate>, identity: &ProxyIdentity) -> Outcome {
        let mut rejections = Vec::new();
        let mut chosen: Vec<Chosen> = Vec::new();
        for c in candidates {
            let errors = c.errors_alone();
            if errors.is_empty() {
                chosen.push(Chosen {
                    candidate: c,
                    state: ResourceState::Accepted,
                });
                continue;
            }
            let state = self.fall_back(&c.key, &mut chosen);
            rejections.push(Rejection {
                candidate: c.clone(),
                errors,
            });
            if state == ResourceState::Rejected {
                // Keep it listed (with nothing in force) for the status.
                chosen.push(Chosen {
                    candidate: Candidate {
                        set: Arc::default(),
                        ..c
                    },
                    state,
                });
            }
        }
        for _ in 0..MAX_ROUNDS {
            let diags = match self.compile(&chosen, identity) {
                Ok(snapshot) => return self.finish(snapshot, chosen, rejections),
                Err(diags) => diags,
            };
            let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
            let guilty = guilty(&chosen, &errors);
            if guilty.is_empty() {
                return refused(diags, rejections);
            }
            for i in guilty.into_iter().rev() {
                let bad = chosen.remove(i);
                let key = bad.candidate.key.clone();
                let mine: Vec<Diagnostic> = errors
                    .iter()
                    .filter(|d| d.resource.as_deref() == Some(key.as_str()))
                    .map(|d| (*d).clone())
                    .collect();
                let was_new = bad.state == ResourceState::Accepted;
                let state = if was_new {
                    self.fall_back(&key, &mut chosen)
                } else {
                    ResourceState::Rejected
                };
                if state == ResourceState::Rejected {
                    self.last_good.remove(&key);
                    chosen.push(Chosen {
                        candidate: Candidate {
                            set: Arc::default(),
                            ..bad.candidate.clone()
                        },
                        state,
                    });
                }
                rejections.push(Rejection {
                    candidate: bad.candidate,
                    errors: mine,
                });
            }
        }
        refused(Vec::new(), rejections)
    }

    /// Compiles the chosen resources together. Each was validated alone (and the result kept
    /// while it is unchanged), so only its warnings are added; the last build's clusters are
    /// kept where unchanged.
    fn compile(&self, chosen: &[Chosen], identity: &ProxyIdentity) -> BuildResult {
        let mut set = ConfigSet::default();
        for ch in chosen {
            merge(&mut set, &ch.candidate.set);
        }
        oldest_first(&mut set);
        let warnings = chosen
            .iter()
            .filter(|ch| ch.state != ResourceState::Rejected)
            .flat_map(|ch| ch.candidate.warnings_alone())
            .collect();
        let prior = Prior {
            validation: Validation::AlreadyDone,
            clusters: &self.clusters,
        };
        build_from_set_with(set, identity, 0, warnings, prior)
    }

    /// Puts the last good version of `key` in force if there is one.
    fn fall_back(&self, key: &str, chosen: &mut Vec<Chosen>) -> ResourceState {
        match self.last_good.get(key) {
            Some(good) => {
                chosen.push(Chosen {
                    candidate: good.clone(),
                    state: ResourceState::RejectedKeptLastGood,
                });
                ResourceState::RejectedKeptLastGood
            }
            None => ResourceState::Rejected,
        }
    }

    fn finish(
        &mut self,
        snapshot: Snapshot,
        chosen: Vec<Chosen>,
        rejections: Vec<Rejection>,
    ) -> Outcome {
        let mut statuses = Vec::new();
        let mut last_good = HashMap::new();
        for ch in chosen {
            // The rejections of this resource: of this very version when it is in force as
            // accepted (a same-named one from another source may have been refused), else of
            // the version refused in its place. Each problem once.
            let accepted = ch.state == ResourceState::Accepted;
            let mut errors: Vec<String> = Vec::new();
            let own = rejections.iter().filter(|r| {
                r.candidate.key == ch.candidate.key
                    && (!accepted || r.candidate.source == ch.candidate.source)
            });
            for e in own.flat_map(|r| r.errors.iter().map(describe)) {
                if !errors.contains(&e) {
                    errors.push(e);
                }
            }
            statuses.push(ResourceStatus {
                resource: ch.candidate.key.clone(),
                source: ch.candidate.source.clone(),
                state: ch.state,
                errors,
            });
            if ch.state != ResourceState::Rejected {
                last_good.insert(ch.candidate.key.clone(), ch.candidate);
            }
        }
        statuses.sort_by(|a, b| a.resource.cmp(&b.resource));
        self.last_good = last_good;
        self.clusters.clone_from(&snapshot.table.clusters);
        Outcome {
            snapshot: Some(snapshot),
            statuses,
            rejections,
            errors: Vec::new(),
        }
    }
}

/// `field: problem` of a diagnostic.
pub fn describe(d: &Diagnostic) -> String {
    match &d.field {
        Some(f) => format!("{f}: {}", d.message),
        None => d.message.clone(),
    }
}

/// Indexes (ascending) of the chosen resources `errors` name; the one from the same source
/// when two share a name.
fn guilty(chosen: &[Chosen], errors: &[&Diagnostic]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, ch) in chosen.iter().enumerate() {
        if ch.state == ResourceState::Rejected {
            continue;
        }
        let c = &ch.candidate;
        let named = errors.iter().any(|d| {
            d.resource.as_deref() == Some(c.key.as_str())
                && d.file
                    .as_ref()
                    .is_none_or(|f| f.display().to_string() == c.source)
        });
        if named {
            out.push(i);
        }
    }
    out
}

fn refused(errors: Vec<Diagnostic>, rejections: Vec<Rejection>) -> Outcome {
    Outcome {
        snapshot: None,
        statuses: Vec::new(),
        rejections,
        errors,
    }
}

/// Orders each kind as Istio does where resources conflict (two VirtualServices for one host,
/// a ServiceEntry for a Service's host): by creation time, then namespace and name. The
/// compiler keeps the first and reports the later, so an object made in another namespace
/// cannot take over a host that is already routed; it is the one rejected. Resources from
/// files have no creation time and come after the cluster's.
fn oldest_first(set: &mut ConfigSet) {
    fn key<T>(r: &Resource<T>) -> (bool, Option<&str>, &str, &str) {
        let created = r.meta.creation_timestamp.as_deref();
        (created.is_none(), created, &r.id.namespace, &r.id.name)
    }
    set.virtual_services.sort_by(|a, b| key(a).cmp(&key(b)));
    set.destination_rules.sort_by(|a, b| key(a).cmp(&key(b)));
    set.service_entries.sort_by(|a, b| key(a).cmp(&key(b)));
    set.workload_entries.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// Adds the resources of `from` to `into`.
pub fn merge(into: &mut ConfigSet, from: &ConfigSet) {
    into.files.extend(from.files.iter().cloned());
    into.virtual_services
        .extend(from.virtual_services.iter().cloned());
    into.destination_rules
        .extend(from.destination_rules.iter().cloned());
    into.service_entries
        .extend(from.service_entries.iter().cloned());
    into.workload_entries
        .extend(from.workload_entries.iter().cloned());
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
