//! Tests of `services`: recorded API JSON of a Service, EndpointSlices (v1 and v1beta1) and
//! Pods, converted as Istio would see them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};

use super::*;

/// `kubectl get svc -o json`: named ports, one with `appProtocol`, one unnamed-prefix.
const SERVICE: &str = r#"{
  "apiVersion": "v1", "kind": "Service",
  "metadata": {"name": "calcbackendsvc", "namespace": "challengeistio", "resourceVersion": "4711",
    "uid": "0b6f", "labels": {"app": "backend"}, "creationTimestamp": "2026-11-30T08:15:02Z"},
  "spec": {"clusterIP": "10.96.12.7", "type": "ClusterIP", "selector": {"app": "backend"},
    "ports": [
      {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
      {"name": "web", "port": 81, "protocol": "TCP", "targetPort": "metrics", "appProtocol": "kubernetes.io/h2c"},
      {"name": "grpc-api", "port": 9090, "protocol": "TCP", "targetPort": 9090}
    ]},
  "status": {"loadBalancer": {}}
}"#;

/// `kubectl get pod -o json`, trimmed to what matters.
const POD: &str = r#"{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "calcbackend-v1-5d9c", "namespace": "challengeistio", "resourceVersion": "5001",
    "labels": {"app": "backend", "version": "v1", "pod-template-hash": "5d9c"}},
  "spec": {"containers": [{"name": "app", "image": "calc:1"}]},
  "status": {"phase": "Running", "podIP": "10.244.0.12",
    "conditions": [{"type": "Ready", "status": "True"}]}
}"#;

fn pods() -> PodLabels {
    let pod: Pod = serde_json::from_str(POD).unwrap();
    let key = (
        pod.metadata.namespace.clone().unwrap(),
        pod.metadata.name.clone().unwrap(),
    );
    [(key, pod.metadata.labels.unwrap())].into()
}

#[test]
fn service_becomes_an_entry_with_istio_protocols() {
    let svc: Service = serde_json::from_str(SERVICE).unwrap();
    let slice: EndpointSlice =
        serde_json::from_str(crate::kubernetes::slices::tests::V1_SLICE).unwrap();
    let se = service_entry(&svc, &[&slice], &pods()).unwrap();
    assert_eq!(se.id.to_string(), "Service challengeistio/calcbackendsvc");
    assert_eq!(
        se.file.display().to_string(),
        "kubernetes: challengeistio/calcbackendsvc@4711"
    );
    // Written as the API server writes an Istio object's, so the two sort by age together.
    assert_eq!(
        se.meta.creation_timestamp.as_deref(),
        Some("2026-11-30T08:15:02Z")
    );
    assert_eq!(
        se.spec.hosts,
        ["calcbackendsvc.challengeistio.svc.cluster.local"]
    );
    let ports: Vec<(u32, Option<&str>, Option<u32>)> = se
        .spec
        .ports
        .iter()
        .map(|p| (p.number, p.protocol.as_deref(), p.target_port))
        .collect();
    assert_eq!(
        ports,
        [
            (80, Some("HTTP"), Some(8080)),
            (81, Some("HTTP2"), None),
            (9090, Some("GRPC"), Some(9090))
        ]
    );
    // Only the ready endpoint, labelled with its pod's labels, its port named as the Service's.
    assert_eq!(se.spec.endpoints.len(), 1);
    let e = &se.spec.endpoints[0];
    assert_eq!(e.address, "10.244.0.12");
    assert_eq!(e.labels.get("version").map(String::as_str), Some("v1"));
    assert_eq!(e.ports, BTreeMap::from([("http".to_string(), 8080)]));
}

#[test]
fn endpoint_of_an_unknown_pod_waits_for_it() {
    let svc: Service = serde_json::from_str(SERVICE).unwrap();
    let slice: EndpointSlice =
        serde_json::from_str(crate::kubernetes::slices::tests::V1_SLICE).unwrap();
    let se = service_entry(&svc, &[&slice], &PodLabels::new()).unwrap();
    assert!(se.spec.endpoints.is_empty());
}

#[test]
fn unnamed_port_and_v1beta1_slice_without_pods() {
    let svc: Service = serde_json::from_str(
        r#"{"metadata": {"name": "reviews", "namespace": "default", "resourceVersion": "9"},
            "spec": {"ports": [{"port": 9080, "targetPort": 9080}],
                     "publishNotReadyAddresses": false}}"#,
    )
    .unwrap();
    let slice: EndpointSlice =
        serde_json::from_str(crate::kubernetes::slices::tests::V1BETA1_SLICE).unwrap();
    let se = service_entry(&svc, &[&slice], &PodLabels::new()).unwrap();
    assert_eq!(se.spec.ports[0].name.as_deref(), Some("port-9080"));
    assert_eq!(se.spec.ports[0].protocol, None);
    let addrs: Vec<&str> = se
        .spec
        .endpoints
        .iter()
        .map(|e| e.address.as_str())
        .collect();
    assert_eq!(addrs, ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(
        se.spec.endpoints[0].ports,
        BTreeMap::from([("port-9080".to_string(), 9080)])
    );
}

#[test]
fn publish_not_ready_addresses_sends_to_every_endpoint() {
    let mut svc: Service = serde_json::from_str(SERVICE).unwrap();
    svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    let slice: EndpointSlice =
        serde_json::from_str(crate::kubernetes::slices::tests::V1_SLICE).unwrap();
    let mut pods = pods();
    for n in ["calcbackend-v2-77f1", "calcbackend-v3-1a2b"] {
        pods.insert(("challengeistio".into(), n.into()), BTreeMap::new());
    }
    let se = service_entry(&svc, &[&slice], &pods).unwrap();
    assert_eq!(se.spec.endpoints.len(), 3);
}

#[test]
fn external_name_resolves_by_dns() {
    let svc: Service = serde_json::from_str(
        r#"{"metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "api.example.com",
                     "ports": [{"name": "http", "port": 80}]}}"#,
    )
    .unwrap();
    let se = service_entry(&svc, &[], &PodLabels::new()).unwrap();
    assert_eq!(se.spec.resolution.as_deref(), Some("DNS"));
    assert_eq!(se.spec.endpoints[0].address, "api.example.com");
}
