//! Services and their endpoints, from `ServiceEntry` and `WorkloadEntry` resources: the stand-in
//! for Kubernetes Services and Pods when there is no Kubernetes.
//!
//! A ServiceEntry host written as a short name (`calcbackendsvc`) is a Kubernetes-style service
//! of the entry's namespace (`calcbackendsvc.NS.svc.cluster.local`), so the VirtualServices of
//! the seeds, written for Kubernetes, find it under the same name.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::borrow::Cow;
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

/// An endpoint before ports are applied, borrowed from the resources it was read from (a big
/// mesh has tens of thousands, and a compile copies only those of clusters that changed).
#[derive(Debug, Clone)]
pub struct EndpointDef<'a> {
    /// IP or host name.
    pub address: &'a str,
    /// Port name to number.
    pub ports: &'a BTreeMap<String, u32>,
    /// Labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Workload name (WorkloadEntry name, else `app-version`, else the address).
    pub workload: Cow<'a, str>,
    /// Namespace.
    pub namespace: &'a str,
}

/// Ports or labels of an endpoint that has none.
static NONE_PORTS: BTreeMap<String, u32> = BTreeMap::new();
static NONE_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl EndpointDef<'_> {
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
pub struct ServiceDef<'a> {
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
    pub endpoints: Vec<EndpointDef<'a>>,
    /// The ServiceEntry.
    pub source: &'a ResourceId,
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

/// Builds services from ServiceEntries (and the WorkloadEntries they select). Each resource
/// was checked on its own by [`super::validation`]; what it reported is skipped here without a
/// second error.
pub fn build_services<'a>(
    set: &'a ConfigSet,
    namespaces: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, ServiceDef<'a>> {
    let mut services: BTreeMap<String, ServiceDef<'a>> = BTreeMap::new();
    for se in &set.service_entries {
        let mut r = Reporter::new(diags, se.file.clone(), se.id.to_string());
        let spec = &se.spec;
        let ns = &se.id.namespace;
        let Some(resolution) = resolution(spec.resolution.as_deref()) else {
            continue;
        };
        warn_ignored(spec, &mut r);
        let ports = service_ports(spec, &mut r);
        let endpoints = endpoints(set, spec, ns, resolution, &mut r);
        let entry = Entry {
            id: &se.id,
            spec,
            ports,
            resolution,
            endpoints,
        };
        add_hosts(&mut services, entry, namespaces, &mut r);
    }
    services
}

/// One warning per field of the entry (or of its inline endpoints) Istio acts on and
/// shadowmesh does not. `location` is not among them: in Istio it decides mTLS and how
/// telemetry names the peer, neither of which a plain-text proxy has, so it changes nothing.
fn warn_ignored(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) {
    const IGNORED: &str = "not acted on by shadowmesh; ignored";
    for (field, set) in [
        ("addresses", !spec.addresses.is_empty()),
        ("exportTo", !spec.export_to.is_empty()),
        ("subjectAltNames", !spec.subject_alt_names.is_empty()),
    ] {
        if set {
            r.warning(format!("spec.{field}"), IGNORED);
        }
    }
    for (i, e) in spec.endpoints.iter().enumerate() {
        for (field, set) in [
            ("weight", e.weight.is_some()),
            ("locality", e.locality.is_some()),
            ("serviceAccount", e.service_account.is_some()),
        ] {
            if set {
                r.warning(format!("spec.endpoints[{i}].{field}"), IGNORED);
            }
        }
    }
}

/// `resolution`; `None` when unknown (validation's error). `DYNAMIC_DNS` forwards to the host
/// each request names, as `NONE` does here.
fn resolution(name: Option<&str>) -> Option<Resolution> {
    match name.unwrap_or("NONE") {
        "STATIC" => Some(Resolution::Static),
        "DNS" | "DNS_ROUND_ROBIN" => Some(Resolution::Dns),
        "NONE" | "DYNAMIC_DNS" => Some(Resolution::None),
        _ => None,
    }
}

/// `ports`, each with its protocol and target port; bad numbers are validation's errors.
fn service_ports(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) -> Vec<PortDef> {
    let mut ports = Vec::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let Some(number) = u16::try_from(p.number).ok().filter(|n| *n > 0) else {
            continue;
        };
        ports.push(PortDef {
            number,
            name: p.name.clone(),
            protocol: protocol(p.protocol.as_deref(), r, &format!("spec.ports[{i}]")),
            target_port: p
                .target_port
                .and_then(|t| u16::try_from(t).ok())
                .filter(|t| *t > 0),
        });
    }
    if spec.ports.is_empty() {
        r.warning(
            "spec.ports",
            "no ports: no route reaches this service (Istio allows it; shadowmesh routes by port)",
        );
    }
    ports
}

/// A port's `protocol` (HTTP when absent; `HTTPS` and `TLS` carry HTTP/1.1 inside the TLS a
/// DestinationRule originates, as in Istio's egress TLS origination; other known ones are
/// warned about and treated as HTTP; unknown ones are validation's errors).
fn protocol(name: Option<&str>, r: &mut Reporter<'_>, field: &str) -> Protocol {
    let upper = name.unwrap_or("HTTP").to_ascii_uppercase();
    match upper.as_str() {
        "HTTP" | "HTTP_PROXY" | "HTTPS" | "TLS" => Protocol::Http1,
        "HTTP2" | "GRPC" | "GRPC-WEB" => Protocol::Http2,
        // TCP is warned about by validation (with Istio's own warning for it).
        "TCP" => Protocol::Http1,
        known @ ("UDP" | "MONGO" | "REDIS" | "MYSQL") => {
            r.warning(
                format!("{field}.protocol"),
                format!("protocol {known} is not proxied by shadowmesh (HTTP, HTTP2 and GRPC are); treating it as HTTP"),
            );
            Protocol::Http1
        }
        _ => Protocol::Http1,
    }
}

/// The entry's `endpoints`, or the WorkloadEntries its `workloadSelector` selects (the
/// selector wins when both are set: validation's error). Endpoints shadowmesh cannot reach are
/// left out with a warning.
fn endpoints<'a>(
    set: &'a ConfigSet,
    spec: &'a ServiceEntrySpec,
    ns: &'a str,
    resolution: Resolution,
    r: &mut Reporter<'_>,
) -> Vec<EndpointDef<'a>> {
    let Some(selector) = &spec.workload_selector else {
        return spec
            .endpoints
            .iter()
            .enumerate()
            .filter(|(i, e)| reachable(e, &format!("spec.endpoints[{i}].address"), r))
            .map(|(_, e)| endpoint_def(e, None, ns))
            .collect();
    };
    let mut endpoints = Vec::new();
    let selected = set.workload_entries.iter().filter(|we| {
        we.id.namespace == ns
            && selector
                .labels
                .iter()
                .all(|(k, v)| we.spec.labels.get(k) == Some(v))
    });
    for we in selected {
        let field = format!("WorkloadEntry {}", we.id);
        if !reachable(&we.spec, &field, r) {
            continue;
        }
        if resolution == Resolution::Static && we.spec.address.parse::<IpAddr>().is_err() {
            r.error(
                field,
                format!(
                    "{:?} is not an IP address; resolution STATIC needs IPs (use DNS for names)",
                    we.spec.address
                ),
            );
            continue;
        }
        endpoints.push(endpoint_def(&we.spec, Some(&we.id.name), ns));
    }
    if endpoints.is_empty() {
        r.warning(
            "spec.workloadSelector",
            format!("selects no WorkloadEntry in namespace {ns}: the service has no endpoints"),
        );
    }
    endpoints
}

/// False, with a warning at `field`, for unix socket endpoints (Istio accepts them, shadowmesh
/// cannot reach them); false without a word for an empty address (validation warns about a
/// workload known only by its `network`, or refuses one with neither).
fn reachable(e: &WorkloadEntrySpec, field: &str, r: &mut Reporter<'_>) -> bool {
    if e.address.is_empty() {
        return false;
    }
    if e.address.starts_with("unix://") {
        r.warning(
            field,
            "unix socket endpoints are not supported by shadowmesh; ignored",
        );
        return false;
    }
    true
}

/// One ServiceEntry, checked, before its hosts become services.
struct Entry<'a> {
    id: &'a ResourceId,
    spec: &'a ServiceEntrySpec,
    ports: Vec<PortDef>,
    resolution: Resolution,
    endpoints: Vec<EndpointDef<'a>>,
}

/// One service per host of the entry; a host defined twice is an error.
fn add_hosts<'a>(
    services: &mut BTreeMap<String, ServiceDef<'a>>,
    mut entry: Entry<'a>,
    namespaces: &BTreeSet<String>,
    r: &mut Reporter<'_>,
) {
    let ns = entry.id.namespace.as_str();
    let last = entry.spec.hosts.len().saturating_sub(1);
    for (i, host) in entry.spec.hosts.iter().enumerate() {
        let fqdn = qualify(host, ns, namespaces);
        let name = split_cluster_local(&fqdn)
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| fqdn.clone());
        // The last host takes the endpoints; the others copy them.
        let mut svc_endpoints = if i == last {
            std::mem::take(&mut entry.endpoints)
        } else {
            entry.endpoints.clone()
        };
        if svc_endpoints.is_empty() && entry.resolution == Resolution::Dns && !fqdn.starts_with('*')
        {
            // DNS without endpoints: the host itself is the endpoint.
            svc_endpoints.push(EndpointDef {
                address: host,
                ports: &NONE_PORTS,
                labels: &NONE_LABELS,
                workload: Cow::Borrowed(host),
                namespace: ns,
            });
        }
        let def = ServiceDef {
            fqdn: fqdn.clone(),
            name,
            namespace: ns.to_string(),
            ports: entry.ports.clone(),
            resolution: entry.resolution,
            endpoints: svc_endpoints,
            source: entry.id,
        };
        if let Some(prev) = services.insert(fqdn.clone(), def) {
            r.error(
                format!("spec.hosts[{i}]"),
                format!("host {fqdn} is already defined by {}", prev.source),
            );
        }
    }
}

fn endpoint_def<'a>(
    spec: &'a WorkloadEntrySpec,
    name: Option<&'a str>,
    ns: &'a str,
) -> EndpointDef<'a> {
    let workload = name.map(Cow::Borrowed).unwrap_or_else(|| {
        match (spec.labels.get("app"), spec.labels.get("version")) {
            (Some(app), Some(v)) => Cow::Owned(format!("{app}-{v}")),
            (Some(app), None) => Cow::Borrowed(app.as_str()),
            _ => Cow::Borrowed(spec.address.as_str()),
        }
    });
    EndpointDef {
        address: &spec.address,
        ports: &spec.ports,
        labels: &spec.labels,
        workload,
        namespace: ns,
    }
}
