//! The `tls` and `tcp` routes of a VirtualService (`TLSRoute`, `TCPRoute`, their match
//! attributes and `RouteDestination`). shadowmesh proxies HTTP only: these are read so they
//! can be validated as Istio validates them. Imports nothing of the crate.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Destination;

/// `TLSRoute`: SNI-matched TLS passthrough.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsRoute {
    /// Match blocks (at least one).
    #[serde(rename = "match")]
    pub matches: Vec<TlsMatchAttributes>,
    /// Weighted destinations.
    pub route: Vec<RouteDestination>,
}

/// `TCPRoute`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpRoute {
    /// Match blocks.
    #[serde(rename = "match")]
    pub matches: Vec<L4MatchAttributes>,
    /// Weighted destinations.
    pub route: Vec<RouteDestination>,
}

/// `TLSMatchAttributes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsMatchAttributes {
    /// SNI values; each must be covered by one of the VirtualService's hosts.
    pub sni_hosts: Vec<String>,
    /// Destination IPs or CIDR blocks.
    pub destination_subnets: Vec<String>,
    /// Destination port.
    pub port: Option<u32>,
    /// Labels of the source workload.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways the match applies to.
    pub gateways: Vec<String>,
    /// Namespace of the source workload.
    pub source_namespace: Option<String>,
}

/// `L4MatchAttributes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct L4MatchAttributes {
    /// Destination IPs or CIDR blocks.
    pub destination_subnets: Vec<String>,
    /// Destination port.
    pub port: Option<u32>,
    /// Source IP or CIDR block.
    pub source_subnet: Option<String>,
    /// Labels of the source workload.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways the match applies to.
    pub gateways: Vec<String>,
    /// Namespace of the source workload.
    pub source_namespace: Option<String>,
}

/// `RouteDestination` of a TLS or TCP route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteDestination {
    /// Where to send the connection.
    pub destination: Option<Destination>,
    /// Relative weight.
    pub weight: Option<i64>,
}
