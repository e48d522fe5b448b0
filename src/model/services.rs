//! Services and their endpoints, from `ServiceEntry` and `WorkloadEntry` resources: the stand-in
//! for Kubernetes Services and Pods when there is no Kubernetes.
//!
//! A ServiceEntry host written as a short name (`calcbackendsvc`) is a Kubernetes-style service
//! of the entry's namespace (`calcbackendsvc.NS.svc.cluster.local`), so the VirtualServices of
//! the seeds, written for Kubernetes, find it under the same name.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::host::{qualify, split_cluster_local};
use crate::config::diag::Reporter;
use crate::config::wire::WorkloadEntrySpec;
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
        let resolution = match spec.resolution.as_deref().unwrap_or("NONE") {
            "STATIC" => Resolution::Static,
            "DNS" | "DNS_ROUND_ROBIN" => Resolution::Dns,
            "NONE" => Resolution::None,
            other => {
                r.error(
                    "spec.resolution",
                    format!("unknown resolution {other:?}: use STATIC, DNS or NONE"),
                );
                continue;
            }
        };
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
            let protocol = match p
                .protocol
                .as_deref()
                .unwrap_or("HTTP")
                .to_ascii_uppercase()
                .as_str()
            {
                "HTTP" | "HTTP_PROXY" => Protocol::Http1,
                "HTTP2" | "GRPC" | "GRPC-WEB" => Protocol::Http2,
                other => {
                    r.warning(
                        format!("{field}.protocol"),
                        format!("protocol {other} is not proxied by shadowmesh (HTTP, HTTP2 and GRPC are); treating it as HTTP"),
                    );
                    Protocol::Http1
                }
            };
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
        let mut endpoints = Vec::new();
        if let Some(selector) = &spec.workload_selector {
            if !spec.endpoints.is_empty() {
                r.error(
                    "spec.workloadSelector",
                    "use either endpoints or workloadSelector, not both",
                );
            }
            for we in set.workload_entries.iter().filter(|we| {
                we.id.namespace == *ns
                    && selector
                        .labels
                        .iter()
                        .all(|(k, v)| we.spec.labels.get(k) == Some(v))
            }) {
                endpoints.push(endpoint_def(&we.spec, Some(&we.id.name), ns));
            }
            if endpoints.is_empty() {
                r.warning(
                    "spec.workloadSelector",
                    format!(
                        "selects no WorkloadEntry in namespace {ns}: the service has no endpoints"
                    ),
                );
            }
        } else {
            for e in &spec.endpoints {
                endpoints.push(endpoint_def(e, None, ns));
            }
        }
        for (i, e) in endpoints.iter().enumerate() {
            let field = if spec.workload_selector.is_some() {
                format!("WorkloadEntry {}/{}", ns, e.workload)
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
        for (i, host) in spec.hosts.iter().enumerate() {
            let fqdn = qualify(host, ns, namespaces);
            let name = split_cluster_local(&fqdn)
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| fqdn.clone());
            let mut svc_endpoints = endpoints.clone();
            if svc_endpoints.is_empty() && resolution == Resolution::Dns && !fqdn.starts_with('*') {
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
                ports: ports.clone(),
                resolution,
                endpoints: svc_endpoints,
                source: se.id.clone(),
            };
            if let Some(prev) = services.insert(fqdn.clone(), def) {
                r.error(
                    format!("spec.hosts[{i}]"),
                    format!("host {fqdn} is already defined by {}", prev.source),
                );
            }
        }
    }
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
    services
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
