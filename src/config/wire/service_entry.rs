//! `ServiceEntry` and `WorkloadEntry`: services, ports and endpoints. Imports nothing of the
//! crate.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `ServiceEntry.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntrySpec {
    /// Service hosts.
    pub hosts: Vec<String>,
    /// Virtual IPs or CIDR blocks (checked, not acted on).
    pub addresses: Vec<String>,
    /// Service ports.
    pub ports: Vec<ServicePort>,
    /// `MESH_EXTERNAL` (default) or `MESH_INTERNAL` (checked, not acted on).
    pub location: Option<String>,
    /// `NONE` (default), `STATIC`, `DNS`, `DNS_ROUND_ROBIN`, `DYNAMIC_DNS`.
    pub resolution: Option<String>,
    /// Inline endpoints.
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// Selects `WorkloadEntry`s in the same namespace by labels.
    pub workload_selector: Option<WorkloadSelector>,
    /// Namespaces the entry is visible in (`.`, `*`, `~` or names); checked, not acted on.
    pub export_to: Vec<String>,
    /// Accepted subject alternative names of the endpoints (not acted on).
    pub subject_alt_names: Vec<String>,
}

/// `ServicePort`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Port number.
    pub number: u32,
    /// `HTTP`, `HTTP2`, `GRPC`, `HTTPS`, `TCP`, ...
    pub protocol: Option<String>,
    /// Port name, a DNS label (required; endpoints' `ports` map refers to it).
    pub name: Option<String>,
    /// Port on the endpoints, when it differs.
    pub target_port: Option<u32>,
}

/// `WorkloadSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSelector {
    /// Labels a WorkloadEntry must carry.
    pub labels: BTreeMap<String, String>,
}

/// `WorkloadEntry.spec` (also the shape of a ServiceEntry's inline endpoint).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEntrySpec {
    /// IP address, host name or `unix://` socket; may be empty when `network` is set.
    pub address: String,
    /// Port name to port number on this workload.
    pub ports: BTreeMap<String, u32>,
    /// Labels (subset membership, `app`, `version`).
    pub labels: BTreeMap<String, String>,
    /// Network the workload is in (endpoints of another network are not reached directly).
    pub network: Option<String>,
    /// Locality `region/zone/subzone` (not acted on).
    pub locality: Option<String>,
    /// Load balancing weight (not acted on).
    pub weight: Option<u32>,
    /// Service account (not acted on).
    pub service_account: Option<String>,
}
