//! EndpointSlices, `discovery.k8s.io/v1` and `v1beta1` alike (v1beta1's `topology` is not read;
//! both share every field used here), and which of their endpoints get traffic, as Istio decides
//! (`endpointHealthStatus` in its EndpointSlice controller): an endpoint is healthy when its
//! `ready` condition is true or absent; a not-ready one (serving, terminating or neither) gets
//! no traffic unless the Service sets `publishNotReadyAddresses`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// An EndpointSlice, as far as shadowmesh reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSlice {
    /// Name, namespace and labels (the Service's name among them).
    pub metadata: SliceMeta,
    /// `IPv4`, `IPv6` or `FQDN` (Istio does not read FQDN slices).
    pub address_type: String,
    /// Ports, each named as the Service's port it serves.
    pub ports: Vec<SlicePort>,
    /// Endpoints.
    pub endpoints: Vec<SliceEndpoint>,
}

/// A slice's metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SliceMeta {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A port of a slice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlicePort {
    /// The Service port's name (empty or absent for its only unnamed port).
    pub name: Option<String>,
    /// Port number on the endpoints.
    pub port: Option<i32>,
}

/// One endpoint of a slice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceEndpoint {
    /// Addresses (Kubernetes uses the first).
    pub addresses: Vec<String>,
    /// Ready, serving, terminating.
    pub conditions: Conditions,
    /// The Pod behind it, usually.
    pub target_ref: Option<TargetRef>,
}

/// An endpoint's conditions; absent means unknown (`ready` absent counts as ready).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct Conditions {
    /// Ready for traffic.
    pub ready: Option<bool>,
    /// Serving (ready or not, while terminating).
    pub serving: Option<bool>,
    /// Shutting down.
    pub terminating: Option<bool>,
}

/// The object an endpoint stands for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TargetRef {
    /// Kind (`Pod`).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace (the slice's when absent).
    pub namespace: Option<String>,
}

impl EndpointSlice {
    /// The Service this slice belongs to, if labelled.
    pub fn service_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .get(SERVICE_NAME_LABEL)
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    /// The Pods behind its endpoints, as (namespace, name).
    pub fn pods(&self) -> impl Iterator<Item = (&str, &str)> {
        let ns = self.metadata.namespace.as_str();
        self.endpoints.iter().filter_map(move |e| e.pod(ns))
    }
}

impl SliceEndpoint {
    /// True when the endpoint gets traffic: ready (or unknown), or any endpoint of a Service
    /// that publishes not-ready addresses.
    pub fn gets_traffic(&self, publish_not_ready: bool) -> bool {
        publish_not_ready || self.conditions.ready.unwrap_or(true)
    }

    /// The Pod behind the endpoint, as (namespace, name), `slice_ns` by default.
    pub fn pod<'a>(&'a self, slice_ns: &'a str) -> Option<(&'a str, &'a str)> {
        let r = self.target_ref.as_ref().filter(|r| r.kind == "Pod")?;
        Some((r.namespace.as_deref().unwrap_or(slice_ns), r.name.as_str()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `kubectl get endpointslice -o json` of a v1 slice (Kubernetes 1.33), trimmed of
    /// managedFields.
    pub(crate) const V1_SLICE: &str = r#"{
      "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
      "metadata": {"name": "calcbackendsvc-7xk2p", "namespace": "challengeistio",
        "generateName": "calcbackendsvc-", "resourceVersion": "5121",
        "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                   "kubernetes.io/service-name": "calcbackendsvc"}},
      "addressType": "IPv4",
      "endpoints": [
        {"addresses": ["10.244.0.12"], "conditions": {"ready": true, "serving": true, "terminating": false},
         "nodeName": "kind-control-plane", "zone": "z1",
         "targetRef": {"kind": "Pod", "name": "calcbackend-v1-5d9c", "namespace": "challengeistio", "uid": "9d1c"}},
        {"addresses": ["10.244.0.13"], "conditions": {"ready": false, "serving": true, "terminating": true},
         "nodeName": "kind-control-plane",
         "targetRef": {"kind": "Pod", "name": "calcbackend-v2-77f1", "namespace": "challengeistio", "uid": "1f2e"}},
        {"addresses": ["10.244.0.14"], "conditions": {"ready": false, "serving": false, "terminating": false},
         "targetRef": {"kind": "Pod", "name": "calcbackend-v3-1a2b", "namespace": "challengeistio"}}
      ],
      "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    }"#;

    /// A v1beta1 slice as Kubernetes 1.20 serves it: `topology`, no `nodeName`/`zone`.
    pub(crate) const V1BETA1_SLICE: &str = r#"{
      "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
      "metadata": {"name": "reviews-abc12", "namespace": "default", "resourceVersion": "811",
        "labels": {"kubernetes.io/service-name": "reviews"}},
      "addressType": "IPv4",
      "ports": [{"name": "", "port": 9080, "protocol": "TCP"}],
      "endpoints": [
        {"addresses": ["192.0.2.10"], "conditions": {"ready": true},
         "topology": {"kubernetes.io/hostname": "node-a"}},
        {"addresses": ["192.0.2.11"], "conditions": {}, "topology": {"kubernetes.io/hostname": "node-b"}}
      ]
    }"#;

    #[test]
    fn v1_slice_reads_with_conditions_and_pods() {
        let s: EndpointSlice = serde_json::from_str(V1_SLICE).unwrap();
        assert_eq!(s.service_name(), Some("calcbackendsvc"));
        assert_eq!(s.ports[0].name.as_deref(), Some("http"));
        assert_eq!(s.ports[0].port, Some(8080));
        let traffic: Vec<bool> = s.endpoints.iter().map(|e| e.gets_traffic(false)).collect();
        // Ready; terminating but serving (no traffic: Istio's Terminating); not ready.
        assert_eq!(traffic, [true, false, false]);
        assert!(s.endpoints.iter().all(|e| e.gets_traffic(true)));
        assert_eq!(
            s.endpoints[0].pod("x"),
            Some(("challengeistio", "calcbackend-v1-5d9c"))
        );
    }

    #[test]
    fn v1beta1_slice_reads_and_absent_ready_counts_as_ready() {
        let s: EndpointSlice = serde_json::from_str(V1BETA1_SLICE).unwrap();
        assert_eq!(s.service_name(), Some("reviews"));
        assert_eq!(s.ports[0].name.as_deref(), Some(""));
        assert!(s.endpoints.iter().all(|e| e.gets_traffic(false)));
        assert_eq!(s.endpoints[0].pod("default"), None);
    }
}
