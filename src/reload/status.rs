//! What the config sources say beyond the snapshot: each resource's state (accepted, or
//! rejected with its errors, and whether a last good version stays in force), where it came
//! from (a file, or `kubernetes: ns/name@resourceVersion`), whether every source has been read
//! once (`synced`: `/ready` waits for it), and since when the cluster source is stale.

use std::time::SystemTime;

/// The state of one resource in the active config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceState {
    /// In force as read.
    Accepted,
    /// Refused; its last good version stays in force.
    RejectedKeptLastGood,
    /// Refused; not in force at all.
    Rejected,
}

impl ResourceState {
    /// Every state, for the metric.
    pub const ALL: [Self; 3] = [Self::Accepted, Self::RejectedKeptLastGood, Self::Rejected];

    /// The metric label and dump value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::RejectedKeptLastGood => "rejected_kept_last_good",
            Self::Rejected => "rejected",
        }
    }

    /// True for both rejected states.
    pub fn is_rejected(self) -> bool {
        self != Self::Accepted
    }
}

/// One resource of the active config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceStatus {
    /// `KIND ns/name`.
    pub resource: String,
    /// The file, or `kubernetes: ns/name@resourceVersion`.
    pub source: String,
    /// Accepted or rejected.
    pub state: ResourceState,
    /// Why it was rejected (field and problem), empty when accepted.
    pub errors: Vec<String>,
}

/// The sources' state, swapped whole by the source that owns it.
#[derive(Debug, Clone, Default)]
pub struct SourceStatus {
    /// Cluster mode (per-resource states are tracked only there).
    pub kubernetes: bool,
    /// Every source has been read in full once.
    pub synced: bool,
    /// The cluster source has failed since then (the last config keeps serving).
    pub stale_since: Option<SystemTime>,
    /// Why it is stale.
    pub stale_reason: Option<String>,
    /// Every resource, with its state.
    pub resources: Vec<ResourceStatus>,
}

impl SourceStatus {
    /// File mode: synced from the start (the first load is refused whole or applied).
    pub fn files() -> Self {
        Self {
            synced: true,
            ..Self::default()
        }
    }

    /// Cluster mode, before the first full read.
    pub fn cluster() -> Self {
        Self {
            kubernetes: true,
            ..Self::default()
        }
    }

    /// How many resources are in `state`.
    pub fn count(&self, state: ResourceState) -> usize {
        self.resources.iter().filter(|r| r.state == state).count()
    }
}
