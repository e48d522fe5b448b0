//! Services and their endpoints, from `ServiceEntry` and `WorkloadEntry` resources: the stand-in
//! for Kubernetes Services and Pods when there is no Kubernetes.
//!
//! A ServiceEntry host written as a short name (`calcbackendsvc`) is a Kubernetes-style service
//! of the entry's namespace (`calcbackendsvc.NS.svc.cluster.local`), so the VirtualServices of
//! the seeds, written for Kubernetes, find it under the same name.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::host::{qualify, split_cluster_local};
use crate::config::diag::Reporter;
use crate::config::wire::{ServiceEntrySpec, WorkloadEntrySpec};
use crate::config::{ConfigSet, Diagnostic, ResourceId};

use super::cluster::Protocol;

/// How a service's endpoints are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Endpoints are IP addresses.
    Static,
    /// Endpoints (or the host itself) are resolved by DNS when connecting.
    Dns,
    /// Forward to whatever host the request names.
    None,
}

/// A service port.
#[derive(Debug, Clone)]
pub struct PortDef {
    /// Number.
    pub number: u16,
    /// Name (endpoints map names to their own port numbers).
    pub name: Option<String>,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Port on the endpoints, if it differs.
    pub target_port: Option<u16>,
}

/// An endpoint before ports are applied.
#[derive(Debug, Clone)]
pub struct EndpointDef {
    /// IP or host name.
    pub address: String,
    /// Port name to number.
    pub ports: BTreeMap<String, u32>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Workload name (WorkloadEntry name, else `app-version`, else the address).
    pub workload: String,
    /// Namespace.
    pub namespace: String,
}

impl EndpointDef {
    /// The port to connect to for service port `port`.
    pub fn port_for(&self, port: &PortDef) -> u16 {
        port.name
            .as_ref()
            .and_then(|n| self.ports.get(n))
            .and_then(|p| u16::try_from(*p).ok())
            .or(port.target_port)
            .unwrap_or(port.number)
    }
}

/// A service: a host, ports and endpoints.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    /// Qualified host.
    pub fqdn: String,
    /// Short name for display (`calcbackendsvc`, or the fqdn).
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Ports.
    pub ports: Vec<PortDef>,
    /// Resolution.
    pub resolution: Resolution,
    /// Endpoints.
    pub endpoints: Vec<EndpointDef>,
    /// The ServiceEntry.
    pub source: ResourceId,
}

/// Every namespace named in the config, plus the default one.
pub fn namespaces(set: &ConfigSet, default_ns: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = [default_ns.to_string()].into();
    out.extend(set.virtual_services.iter().map(|r| r.id.namespace.clone()));
    out.extend(set.destination_rules.iter().map(|r| r.id.namespace.clone()));
    out.extend(set.service_entries.iter().map(|r| r.id.namespace.clone()));
    out.extend(set.workload_entries.iter().map(|r| r.id.namespace.clone()));
    out
}

/// Builds services from ServiceEntries (and the WorkloadEntries they select).
pub fn build_services(
    set: &ConfigSet,
    namespaces: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, ServiceDef> {
    let mut services: BTreeMap<String, ServiceDef> = BTreeMap::new();
    for se in &set.service_entries {
        let mut r = Reporter::new(diags, se.file.clone(), se.id.to_string());
        let spec = &se.spec;
        let ns = &se.id.namespace;
        if spec.hosts.is_empty() {
            r.error("spec.hosts", "a ServiceEntry needs at least one host");
        }
        let Some(resolution) = resolution(spec, &mut r) else {
            continue;
        };
        let ports = service_ports(spec, &mut r);
        let endpoints = endpoints(set, spec, ns, &mut r);
        check_endpoints(&endpoints, spec, resolution, &mut r);
        let entry = Entry {
            id: &se.id,
            spec,
            ports,
            resolution,
            endpoints,
        };
        add_hosts(&mut services, &entry, namespaces, &mut r);
    }
    check_workload_entries(set, diags);
    services
}

/// `resolution`; `None` (reported) when unknown.
fn resolution(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) -> Option<Resolution> {
    match spec.resolution.as_deref().unwrap_or("NONE") {
        "STATIC" => Some(Resolution::Static),
        "DNS" | "DNS_ROUND_ROBIN" => Some(Resolution::Dns),
        "NONE" => Some(Resolution::None),
        other => {
            r.error(
                "spec.resolution",
                format!("unknown resolution {other:?}: use STATIC, DNS or NONE"),
            );
            None
        }
    }
}

/// `ports`, each with its protocol and target port; at least one is needed.
fn service_ports(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) -> Vec<PortDef> {
    let mut ports = Vec::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let field = format!("spec.ports[{i}]");
        let Some(number) = u16::try_from(p.number).ok().filter(|n| *n > 0) else {
            r.error(
                format!("{field}.number"),
                format!("{} is not a port number", p.number),
            );
            continue;
        };
        let protocol = protocol(p.protocol.as_deref(), r, &field);
        let target_port = match p.target_port {
            Some(t) => match u16::try_from(t).ok().filter(|t| *t > 0) {
                Some(t) => Some(t),
                None => {
                    r.error(
                        format!("{field}.targetPort"),
                        format!("{t} is not a port number"),
                    );
                    None
                }
            },
            None => None,
        };
        ports.push(PortDef {
            number,
            name: p.name.clone(),
            protocol,
            target_port,
        });
    }
    if spec.ports.is_empty() {
        r.error("spec.ports", "a ServiceEntry needs at least one port");
    }
    ports
}

/// A port's `protocol` (HTTP when absent; others are warned about and treated as HTTP).
fn protocol(name: Option<&str>, r: &mut Reporter<'_>, field: &str) -> Protocol {
    match name.unwrap_or("HTTP").to_ascii_uppercase().as_str() {
        "HTTP" | "HTTP_PROXY" => Protocol::Http1,
        "HTTP2" | "GRPC" | "GRPC-WEB" => Protocol::Http2,
        other => {
            r.warning(
                format!("{field}.protocol"),
                format!("protocol {other} is not proxied by shadowmesh (HTTP, HTTP2 and GRPC are); treating it as HTTP"),
            );
            Protocol::Http1
        }
    }
}

/// The entry's `endpoints`, or the WorkloadEntries its `workloadSelector` selects.
fn endpoints(
    set: &ConfigSet,
    spec: &ServiceEntrySpec,
    ns: &str,
    r: &mut Reporter<'_>,
) -> Vec<EndpointDef> {
    let Some(selector) = &spec.workload_selector else {
        return spec
            .endpoints
            .iter()
            .map(|e| endpoint_def(e, None, ns))
            .collect();
    };
    if !spec.endpoints.is_empty() {
        r.error(
            "spec.workloadSelector",
            "use either endpoints or workloadSelector, not both",
        );
    }
    let endpoints: Vec<EndpointDef> = set
        .workload_entries
        .iter()
        .filter(|we| {
            we.id.namespace == ns
                && selector
                    .labels
                    .iter()
                    .all(|(k, v)| we.spec.labels.get(k) == Some(v))
        })
        .map(|we| endpoint_def(&we.spec, Some(&we.id.name), ns))
        .collect();
    if endpoints.is_empty() {
        r.warning(
            "spec.workloadSelector",
            format!("selects no WorkloadEntry in namespace {ns}: the service has no endpoints"),
        );
    }
    endpoints
}

/// Endpoint addresses: present, not unix sockets, IPs when resolution is STATIC.
fn check_endpoints(
    endpoints: &[EndpointDef],
    spec: &ServiceEntrySpec,
    resolution: Resolution,
    r: &mut Reporter<'_>,
) {
    for (i, e) in endpoints.iter().enumerate() {
        let field = if spec.workload_selector.is_some() {
            format!("WorkloadEntry {}/{}", e.namespace, e.workload)
        } else {
            format!("spec.endpoints[{i}].address")
        };
        if e.address.is_empty() {
            r.error(field, "endpoint address is empty");
        } else if e.address.starts_with("unix://") {
            r.error(field, "unix socket endpoints are not supported");
        } else if resolution == Resolution::Static && e.address.parse::<IpAddr>().is_err() {
            r.error(
                field,
                format!(
                    "{:?} is not an IP address; resolution STATIC needs IPs (use DNS for names)",
                    e.address
                ),
            );
        }
    }
}

/// One ServiceEntry, checked, before its hosts become services.
struct Entry<'a> {
    id: &'a ResourceId,
    spec: &'a ServiceEntrySpec,
    ports: Vec<PortDef>,
    resolution: Resolution,
    endpoints: Vec<EndpointDef>,
}

/// One service per host of the entry; a host defined twice is an error.
fn add_hosts(
    services: &mut BTreeMap<String, ServiceDef>,
    entry: &Entry<'_>,
    namespaces: &BTreeSet<String>,
    r: &mut Reporter<'_>,
) {
    let ns = &entry.id.namespace;
    for (i, host) in entry.spec.hosts.iter().enumerate() {
        let fqdn = qualify(host, ns, namespaces);
        let name = split_cluster_local(&fqdn)
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| fqdn.clone());
        let mut svc_endpoints = entry.endpoints.clone();
        if svc_endpoints.is_empty() && entry.resolution == Resolution::Dns && !fqdn.starts_with('*')
        {
            // DNS without endpoints: the host itself is the endpoint.
            svc_endpoints.push(EndpointDef {
                address: host.clone(),
                ports: BTreeMap::new(),
                labels: BTreeMap::new(),
                workload: host.clone(),
                namespace: ns.clone(),
            });
        }
        let def = ServiceDef {
            fqdn: fqdn.clone(),
            name,
            namespace: ns.clone(),
            ports: entry.ports.clone(),
            resolution: entry.resolution,
            endpoints: svc_endpoints,
            source: entry.id.clone(),
        };
        if let Some(prev) = services.insert(fqdn.clone(), def) {
            r.error(
                format!("spec.hosts[{i}]"),
                format!("host {fqdn} is already defined by {}", prev.source),
            );
        }
    }
}

/// WorkloadEntries on their own: an address and valid port numbers.
fn check_workload_entries(set: &ConfigSet, diags: &mut Vec<Diagnostic>) {
    for we in &set.workload_entries {
        let mut r = Reporter::new(diags, we.file.clone(), we.id.to_string());
        if we.spec.address.is_empty() {
            r.error("spec.address", "a WorkloadEntry needs an address");
        }
        for (name, port) in &we.spec.ports {
            if u16::try_from(*port).ok().filter(|p| *p > 0).is_none() {
                r.error(
                    format!("spec.ports.{name}"),
                    format!("{port} is not a port number"),
                );
            }
        }
    }
}

fn endpoint_def(spec: &WorkloadEntrySpec, name: Option<&str>, ns: &str) -> EndpointDef {
    let workload = name.map(str::to_string).unwrap_or_else(|| {
        match (spec.labels.get("app"), spec.labels.get("version")) {
            (Some(app), Some(v)) => format!("{app}-{v}"),
            (Some(app), None) => app.clone(),
            _ => spec.address.clone(),
        }
    });
    EndpointDef {
        address: spec.address.clone(),
        ports: spec.ports.clone(),
        labels: spec.labels.clone(),
        workload,
        namespace: ns.to_string(),
    }
}
