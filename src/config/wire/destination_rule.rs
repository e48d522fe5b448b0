//! `DestinationRule`: host, subsets, export and workload selection, and the `TrafficPolicy`
//! shell (per-port settings, TLS, tunnel, PROXY protocol, retry budget). Load balancing is in
//! [`super::load_balancer`], connection pools and outlier detection in
//! [`super::connection_pool`]. Every field of `networking.istio.io/v1` is here, with its JSON
//! name. Imports nothing of the crate.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, PortSelector};

/// `DestinationRule.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRuleSpec {
    /// Service host the rule applies to.
    pub host: String,
    /// Policy for all subsets.
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named subsets, selected by endpoint labels.
    pub subsets: Vec<Subset>,
    /// Namespaces the rule is visible in (`.`, `*` or names); checked, not acted on.
    pub export_to: Vec<String>,
    /// Workloads the rule applies to (checked; the rule applies to this proxy).
    pub workload_selector: Option<MatchLabelsSelector>,
}

/// `istio.type.v1beta1.WorkloadSelector`: `matchLabels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchLabelsSelector {
    /// Labels a workload must carry.
    pub match_labels: BTreeMap<String, String>,
}

/// `Subset`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    /// Subset name, e.g. `v1`.
    pub name: String,
    /// Endpoint labels that select the subset's members.
    pub labels: BTreeMap<String, String>,
    /// Policy overriding the rule's.
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `TrafficPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<ClientTlsSettings>,
    /// Per-port settings.
    pub port_level_settings: Option<Vec<PortTrafficPolicy>>,
    /// Tunnel settings (not acted on: warned).
    pub tunnel: Option<TunnelSettings>,
    /// PROXY protocol (not acted on: warned).
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Retry budget (not acted on: warned).
    pub retry_budget: Option<RetryBudget>,
}

/// `TrafficPolicy.PortTrafficPolicy`: a policy for one port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PortTrafficPolicy {
    /// The port the policy applies to (required).
    pub port: Option<PortSelector>,
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<ClientTlsSettings>,
}

/// `TrafficPolicy.TunnelSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TunnelSettings {
    /// `CONNECT` (default) or `POST`.
    pub protocol: Option<String>,
    /// Host the connection is tunneled to (required).
    pub target_host: Option<String>,
    /// Port the connection is tunneled to (required).
    pub target_port: Option<u32>,
}

/// `TrafficPolicy.ProxyProtocol`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyProtocol {
    /// `V1` (default) or `V2`.
    pub version: Option<String>,
}

/// `TrafficPolicy.RetryBudget`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudget {
    /// Share of active requests that may be retries.
    pub percent: Option<f64>,
    /// Retries always allowed, whatever the share.
    pub min_retry_concurrency: Option<u32>,
    /// Window the share is computed over.
    pub budget_interval: Option<String>,
}

/// `ClientTLSSettings`: TLS towards the upstream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTlsSettings {
    /// `DISABLE` (default), `SIMPLE`, `MUTUAL`, `ISTIO_MUTUAL`.
    pub mode: Option<String>,
    /// Client certificate file (MUTUAL).
    pub client_certificate: String,
    /// Client private key file (MUTUAL).
    pub private_key: String,
    /// CA bundle file.
    pub ca_certificates: String,
    /// Secret holding the certificates.
    pub credential_name: String,
    /// Accepted subject alternative names of the server.
    pub subject_alt_names: Vec<String>,
    /// SNI sent in the handshake.
    pub sni: String,
    /// Skip verifying the server certificate.
    pub insecure_skip_verify: Option<bool>,
    /// Certificate revocation list file.
    pub ca_crl: String,
}
