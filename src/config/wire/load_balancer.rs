//! `LoadBalancerSettings` of a DestinationRule's traffic policy: the simple policies,
//! consistent hashing, locality and zone-aware balancing, warm-up. Imports nothing of the
//! crate.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `LoadBalancerSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// `UNSPECIFIED`, `ROUND_ROBIN`, `LEAST_REQUEST`, `LEAST_CONN`, `RANDOM`, `PASSTHROUGH`.
    pub simple: Option<String>,
    /// Consistent hashing.
    pub consistent_hash: Option<ConsistentHashLb>,
    /// Locality-weighted balancing and failover (not acted on: warned).
    pub locality_lb_setting: Option<LocalityLbSetting>,
    /// Zone-aware balancing (not acted on: warned).
    pub zone_aware_lb_setting: Option<ZoneAwareLbSetting>,
    /// Warm-up of new endpoints, older form (not acted on: warned).
    pub warmup_duration_secs: Option<String>,
    /// Warm-up of new endpoints (not acted on: warned).
    pub warmup: Option<WarmupConfiguration>,
}

/// `LoadBalancerSettings.ConsistentHashLB`: one hash key and at most one algorithm.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHashLb {
    /// Hash on this request header.
    pub http_header_name: Option<String>,
    /// Hash on this cookie (generated when absent).
    pub http_cookie: Option<HttpCookie>,
    /// Hash on the source IP.
    pub use_source_ip: Option<bool>,
    /// Hash on this query parameter.
    pub http_query_parameter_name: Option<String>,
    /// Ring hash algorithm.
    pub ring_hash: Option<RingHash>,
    /// Maglev algorithm.
    pub maglev: Option<MagLev>,
    /// Deprecated ring size (use `ringHash.minimumRingSize`).
    pub minimum_ring_size: Option<u64>,
}

/// `ConsistentHashLB.RingHash`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RingHash {
    /// Minimum number of virtual nodes on the ring.
    pub minimum_ring_size: Option<u64>,
}

/// `ConsistentHashLB.MagLev`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct MagLev {
    /// Lookup table size: a prime below 5000011.
    pub table_size: Option<u64>,
}

/// `ConsistentHashLB.HTTPCookie`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCookie {
    /// Cookie name (required).
    pub name: String,
    /// Cookie path.
    pub path: Option<String>,
    /// Lifetime of a generated cookie.
    pub ttl: Option<String>,
    /// Extra attributes of a generated cookie.
    pub attributes: Vec<CookieAttribute>,
}

/// `HTTPCookie.Attribute`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieAttribute {
    /// Attribute name (required).
    pub name: String,
    /// Attribute value.
    pub value: Option<String>,
}

/// `LocalityLoadBalancerSetting`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityLbSetting {
    /// Traffic shares from a locality to others.
    pub distribute: Vec<LocalityDistribute>,
    /// Region to fail over to, per region.
    pub failover: Vec<LocalityFailover>,
    /// Labels ordering endpoints for failover.
    pub failover_priority: Vec<String>,
    /// Turns locality balancing on or off.
    pub enabled: Option<bool>,
}

/// `LocalityLoadBalancerSetting.Distribute`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalityDistribute {
    /// Origin locality (`region/zone/subzone`, may end in `*`).
    pub from: String,
    /// Destination locality to weight; weights sum to 100.
    pub to: BTreeMap<String, u32>,
}

/// `LocalityLoadBalancerSetting.Failover` (also `ZoneAwareLoadBalancerSetting.Failover`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalityFailover {
    /// Origin region.
    pub from: String,
    /// Region to fail over to.
    pub to: String,
}

/// `ZoneAwareLoadBalancerSetting`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneAwareLbSetting {
    /// Turns zone-aware balancing on or off.
    pub enabled: Option<bool>,
    /// Cross-region failover order.
    pub failover: Vec<LocalityFailover>,
    /// Labels ordering endpoints for failover (not the topology labels).
    pub failover_priority: Vec<String>,
    /// Minimum cluster size in the local region.
    pub min_cluster_size: Option<u64>,
}

/// `WarmupConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmupConfiguration {
    /// Warm-up duration (required).
    pub duration: Option<String>,
    /// Share of traffic a new endpoint starts with (0 to 100).
    pub minimum_percent: Option<f64>,
    /// Curve of the increase (greater than 0).
    pub aggression: Option<f64>,
}
