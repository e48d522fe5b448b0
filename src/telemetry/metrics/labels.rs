//! Istio's 25 standard labels ([`IstioLabels`]) and this proxy's side of them
//! ([`SourceIdentity`]), filled as Istio's sidecar fills them for plain-text HTTP.

use prometheus_client::encoding::EncodeLabelSet;

use crate::telemetry::{Flag, Peer};

/// The cluster name Istio reports when there is one cluster.
const CLUSTER_ID: &str = "Kubernetes";

/// Who this proxy is, as the `source_*` labels say.
#[derive(Debug, Clone)]
pub struct SourceIdentity {
    /// `source_workload`.
    pub workload: String,
    /// `source_workload_namespace`.
    pub namespace: String,
    /// `source_app`.
    pub app: String,
    /// `source_version`.
    pub version: String,
}

/// What varies between the series of one peer: response code, flag, gRPC or not, retry limit
/// reached (`URX`) or not.
pub(super) type SeriesKey = (u16, Flag, bool, bool);

/// Istio's 25 standard labels, in Istio's order.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IstioLabels {
    reporter: &'static str,
    source_workload: String,
    source_workload_namespace: String,
    source_principal: String,
    source_app: String,
    source_version: String,
    source_canonical_service: String,
    source_canonical_revision: String,
    source_cluster: String,
    destination_workload: String,
    destination_workload_namespace: String,
    destination_principal: String,
    destination_app: String,
    destination_version: String,
    destination_service: String,
    destination_service_name: String,
    destination_service_namespace: String,
    destination_canonical_service: String,
    destination_canonical_revision: String,
    destination_cluster: String,
    request_protocol: &'static str,
    response_flags: &'static str,
    connection_security_policy: &'static str,
    response_code: String,
    grpc_response_status: String,
}

impl IstioLabels {
    /// The labels `reporter` (`source` or `destination`) gives an exchange from `source` to
    /// `peer` with `key`.
    pub(super) fn new(
        reporter: &'static str,
        source: &SourceIdentity,
        peer: &Peer,
        key: SeriesKey,
    ) -> Self {
        let (status, flag, grpc, retry_limit) = key;
        Self {
            reporter,
            source_workload: source.workload.clone(),
            source_workload_namespace: source.namespace.clone(),
            source_principal: "unknown".into(),
            source_app: source.app.clone(),
            source_version: source.version.clone(),
            source_canonical_service: source.workload.clone(),
            source_canonical_revision: match source.version.as_str() {
                "unknown" => "latest".into(),
                v => v.into(),
            },
            source_cluster: CLUSTER_ID.into(),
            destination_workload: peer.workload.clone(),
            destination_workload_namespace: peer.workload_namespace.clone(),
            destination_principal: "unknown".into(),
            destination_app: peer.app.clone(),
            destination_version: peer.version.to_string(),
            destination_service: peer.service_fqdn.to_string(),
            destination_service_name: peer.service.clone(),
            destination_service_namespace: peer.namespace.clone(),
            destination_canonical_service: peer.canonical_service.clone(),
            destination_canonical_revision: peer.canonical_revision.clone(),
            destination_cluster: CLUSTER_ID.into(),
            request_protocol: if grpc { "grpc" } else { "http" },
            response_flags: if retry_limit {
                flag.with_retry_limit()
            } else {
                flag.as_str()
            },
            // Plain-text HTTP: Istio says `none` on the server side, `unknown` on the client's.
            connection_security_policy: if reporter == "destination" {
                "none"
            } else {
                "unknown"
            },
            response_code: status.to_string(),
            grpc_response_status: String::new(),
        }
    }
}
