//! `ServiceEntry` and `WorkloadEntry`: services, ports and endpoints. Imports nothing of the
//! crate.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// `ServiceEntry.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntrySpec {
    /// Service hosts.
    pub hosts: Vec<String>,
    /// Virtual IPs (ignored).
    pub addresses: Vec<String>,
    /// Service ports.
    pub ports: Vec<ServicePort>,
    /// `MESH_EXTERNAL` or `MESH_INTERNAL` (ignored).
    pub location: Option<String>,
    /// `NONE`, `STATIC`, `DNS`, `DNS_ROUND_ROBIN`.
    pub resolution: Option<String>,
    /// Inline endpoints.
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// Selects `WorkloadEntry`s in the same namespace by labels.
    pub workload_selector: Option<WorkloadSelector>,
    /// Visibility (ignored).
    pub export_to: Option<Value>,
    /// SANs (ignored).
    pub subject_alt_names: Option<Value>,
}

/// `ServicePort`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Port number.
    pub number: u32,
    /// `HTTP`, `HTTP2`, `GRPC`, `HTTPS`, `TCP`, ...
    pub protocol: Option<String>,
    /// Port name (endpoints' `ports` map refers to it).
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
    /// IP address or host name.
    pub address: String,
    /// Port name to port number on this workload.
    pub ports: BTreeMap<String, u32>,
    /// Labels (subset membership, `app`, `version`).
    pub labels: BTreeMap<String, String>,
    /// Network (ignored).
    pub network: Option<String>,
    /// Locality (ignored).
    pub locality: Option<String>,
    /// Load balancing weight (ignored).
    pub weight: Option<u32>,
    /// Service account (ignored).
    pub service_account: Option<String>,
}
