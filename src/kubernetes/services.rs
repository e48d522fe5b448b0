//! A Kubernetes `Service` as Istio sees it, written as the ServiceEntry shadowmesh already
//! compiles: host `NAME.NS.svc.cluster.local`, its ports with the protocol Istio infers, and
//! as endpoints the addresses of its EndpointSlices that get traffic, each labelled with its
//! Pod's labels (so DestinationRule subsets select pods), `ExternalName` Services resolved by
//! DNS. The resource is named `Service ns/name` and its source `kubernetes: ns/name@version`.
//!
//! An endpoint whose Pod (`targetRef`) is not known yet is left out until it is, as Istio does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Service, ServicePort as KubePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::protocol::convert_protocol;
use super::slices::EndpointSlice;
use crate::config::wire::{ObjectMeta, ServiceEntrySpec, ServicePort, WorkloadEntrySpec};
use crate::config::{Kind, Resource, ResourceId};

/// Pod labels by (namespace, name).
pub type PodLabels = BTreeMap<(String, String), BTreeMap<String, String>>;

/// `kubernetes: ns/name@resourceVersion`: how a cluster resource names its source.
pub fn source(ns: &str, name: &str, resource_version: &str) -> PathBuf {
    PathBuf::from(format!("kubernetes: {ns}/{name}@{resource_version}"))
}

/// The ServiceEntry standing for `svc`, with the endpoints of `slices` (those labelled with its
/// name in its namespace) and the labels of `pods`.
pub fn service_entry(
    svc: &Service,
    slices: &[&EndpointSlice],
    pods: &PodLabels,
) -> Option<Resource<ServiceEntrySpec>> {
    let ns = svc.metadata.namespace.clone()?;
    let name = svc.metadata.name.clone()?;
    let rv = svc.metadata.resource_version.as_deref().unwrap_or("");
    let spec = svc.spec.clone().unwrap_or_default();
    let kube_ports = spec.ports.clone().unwrap_or_default();
    let ports: Vec<ServicePort> = kube_ports.iter().map(entry_port).collect();
    let external = spec.type_.as_deref() == Some("ExternalName");
    let endpoints = if external {
        let host = spec.external_name.clone().unwrap_or_default();
        vec![WorkloadEntrySpec {
            address: host,
            ..Default::default()
        }]
    } else {
        let publish = spec.publish_not_ready_addresses.unwrap_or(false);
        endpoints(&kube_ports, &ports, slices, pods, publish)
    };
    let se = ServiceEntrySpec {
        hosts: vec![format!("{name}.{ns}.svc.cluster.local")],
        ports,
        location: Some("MESH_INTERNAL".into()),
        resolution: Some(if external { "DNS" } else { "STATIC" }.into()),
        endpoints,
        ..Default::default()
    };
    Some(Resource {
        file: source(&ns, &name, rv),
        meta: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: svc.metadata.labels.clone().unwrap_or_default(),
            creation_timestamp: (svc.metadata.creation_timestamp.as_ref()).map(|t| t.0.to_string()),
            ..Default::default()
        },
        id: ResourceId {
            kind: Kind::Service,
            namespace: ns,
            name,
        },
        api_version: "v1".into(),
        spec: se.into(),
    })
}

/// The ServiceEntry port for a Service port: the same name (`port-N` for the one unnamed
/// port a Service may have) and number, the inferred protocol, a numeric `targetPort`.
fn entry_port(p: &KubePort) -> ServicePort {
    let name = p.name.clone().unwrap_or_default();
    let protocol = convert_protocol(
        p.port,
        &name,
        p.protocol.as_deref(),
        p.app_protocol.as_deref(),
    );
    ServicePort {
        number: u32::try_from(p.port).unwrap_or(0),
        protocol: protocol.map(str::to_string),
        name: Some(if name.is_empty() {
            format!("port-{}", p.port)
        } else {
            name
        }),
        target_port: match &p.target_port {
            Some(IntOrString::Int(n)) => u32::try_from(*n).ok(),
            _ => None,
        },
    }
}

/// The endpoints of `slices` that get traffic, with their ports named as the entry's ports.
fn endpoints(
    kube_ports: &[KubePort],
    ports: &[ServicePort],
    slices: &[&EndpointSlice],
    pods: &PodLabels,
    publish_not_ready: bool,
) -> Vec<WorkloadEntrySpec> {
    let mut out = Vec::new();
    for slice in slices.iter().filter(|s| s.address_type != "FQDN") {
        let mut port_map = BTreeMap::new();
        for sp in &slice.ports {
            let sp_name = sp.name.as_deref().unwrap_or("");
            let entry_name = kube_ports
                .iter()
                .zip(ports)
                .find(|(k, _)| k.name.as_deref().unwrap_or("") == sp_name)
                .and_then(|(_, p)| p.name.clone());
            if let (Some(n), Some(num)) = (entry_name, sp.port.and_then(|p| u32::try_from(p).ok()))
            {
                port_map.insert(n, num);
            }
        }
        let ns = slice.metadata.namespace.as_str();
        for e in &slice.endpoints {
            let Some(address) = e.addresses.first() else {
                continue;
            };
            if !e.gets_traffic(publish_not_ready) {
                continue;
            }
            let labels = match e.pod(ns) {
                Some((pns, pname)) => match pods.get(&(pns.to_string(), pname.to_string())) {
                    Some(labels) => labels.clone(),
                    None => continue,
                },
                None => BTreeMap::new(),
            };
            out.push(WorkloadEntrySpec {
                address: address.clone(),
                ports: port_map.clone(),
                labels,
                ..Default::default()
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
