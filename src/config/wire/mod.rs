//! Wire types: serde structs shaped exactly like Istio's `networking.istio.io` YAML.
//!
//! They say nothing about meaning: [`crate::model`] turns them into a checked, compiled model.
//! Every struct refuses unknown fields so a typo (`mirorr:`) is an error with its field path
//! rather than a silently ignored setting. Fields Istio has but shadowmesh does not act on are
//! accepted as opaque values so that real Istio YAML loads; the compiler warns about them.
//!
//! One file per kind ([`VirtualServiceSpec`], [`DestinationRuleSpec`], [`ServiceEntrySpec`] and
//! [`WorkloadEntrySpec`]), the DestinationRule's traffic policy split into `load_balancer` and
//! `connection_pool` (with outlier detection); all are re-exported here. Imports nothing of
//! the crate.

mod connection_pool;
mod destination_rule;
mod http_action;
mod http_policy;
mod l4_route;
mod load_balancer;
mod service_entry;
mod virtual_service;

pub use connection_pool::*;
pub use destination_rule::*;
pub use http_action::*;
pub use http_policy::*;
pub use l4_route::*;
pub use load_balancer::*;
pub use service_entry::*;
pub use virtual_service::*;

use std::collections::BTreeMap;

use serde::Deserialize;

/// `metadata` of any Kubernetes object (only what shadowmesh reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Resource name; required for the kinds shadowmesh reads.
    pub name: Option<String>,
    /// Namespace; absent means the proxy's `--namespace`.
    pub namespace: Option<String>,
    /// Labels (not used for routing).
    pub labels: BTreeMap<String, String>,
    /// Annotations; `shadowmesh.io/*` ones tune shadowmesh.
    pub annotations: BTreeMap<String, String>,
    /// When the API server created it (RFC 3339, UTC): where two resources conflict, the older
    /// one wins, as in Istio.
    pub creation_timestamp: Option<String>,
    // Everything else Kubernetes puts in metadata (uid, resourceVersion, ...) is accepted and
    // not kept: no field here refuses unknown keys, and a cluster's thousands of objects would
    // each carry it through every build.
}
