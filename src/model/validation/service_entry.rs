//! `ServiceEntry` and `WorkloadEntry` rules of Istio's `pkg/config/validation`
//! (`ValidateServiceEntry`, `validateWorkloadEntry`) and of their CRDs that need only the
//! resource itself: hosts, addresses and CIDRs, ports, resolution against endpoints and
//! addresses, endpoint address forms (IP, FQDN, `unix://`), `network`-only endpoints,
//! location, workload selector, `exportTo`.

use std::collections::BTreeSet;

use crate::config::diag::Reporter;
use crate::config::wire::{ServiceEntrySpec, WorkloadEntrySpec};
use crate::config::{Diagnostic, Resource};

use super::fields::{self, ExportToOf};
use super::service_entry_rules::{protocol, resolution_rules};

/// Checks one ServiceEntry; pushes what it finds to `diags`.
pub(super) fn validate_service_entry(
    resource: &Resource<ServiceEntrySpec>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut r = Reporter::new(diags, resource.file.clone(), resource.id.to_string());
    let spec = &resource.spec;
    selector(spec, &mut r);
    hosts(spec, &mut r);
    let mut cidr = false;
    for (i, a) in spec.addresses.iter().enumerate() {
        cidr |= a.contains('/');
        if let Err(e) = fields::ip_subnet(a) {
            r.error(format!("spec.addresses[{i}]"), e);
        }
    }
    let resolution = spec.resolution.as_deref().unwrap_or("NONE");
    if cidr && resolution != "NONE" && resolution != "STATIC" {
        r.error(
            "spec.addresses",
            "CIDR addresses are allowed only for NONE/STATIC resolution types",
        );
    }
    let port_names = ports(spec, &mut r);
    if let Some(location) = spec.location.as_deref()
        && location != "MESH_EXTERNAL"
        && location != "MESH_INTERNAL"
    {
        r.error(
            "spec.location",
            format!("unknown location {location:?}: use MESH_EXTERNAL or MESH_INTERNAL"),
        );
    }
    resolution_rules(spec, resolution, &port_names, &mut r);
    if resolution == "DYNAMIC_DNS"
        && spec.location.as_deref() == Some("MESH_INTERNAL")
        && uses_waypoint(resource)
    {
        r.error(
            "spec.location",
            "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints",
        );
    }
    let ns = resource.id.namespace.as_str();
    for (i, e) in fields::export_to(ns, &spec.export_to, ExportToOf::ServiceEntry) {
        let field = i.map_or("spec.exportTo".to_string(), |i| {
            format!("spec.exportTo[{i}]")
        });
        r.error(field, e);
    }
}

/// Istio's `usesWaypoint`: the `istio.io/use-waypoint` label names a waypoint (not `none`).
fn uses_waypoint(resource: &Resource<ServiceEntrySpec>) -> bool {
    resource
        .meta
        .labels
        .get("istio.io/use-waypoint")
        .is_some_and(|w| !w.is_empty() && !w.eq_ignore_ascii_case("none"))
}

/// `workloadSelector`: no empty keys or wildcards; no labels is a warning; not with
/// `endpoints`.
fn selector(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) {
    let Some(sel) = &spec.workload_selector else {
        return;
    };
    let f = "spec.workloadSelector.labels";
    for (field, error) in fields::selector_labels(&sel.labels, f) {
        r.error(field, error);
    }
    if sel.labels.is_empty() {
        r.warning(
            "spec.workloadSelector",
            "service entry: workload selector specified without labels, will be applied to all services in namespace",
        );
    }
    if !spec.endpoints.is_empty() {
        r.error(
            "spec.workloadSelector",
            "only one of WorkloadSelector or Endpoints is allowed in Service Entry",
        );
    }
}

fn hosts(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) {
    if spec.hosts.is_empty() {
        r.error("spec.hosts", "service entry must have at least one host");
    }
    let dynamic = spec.resolution.as_deref() == Some("DYNAMIC_DNS");
    for (i, h) in spec.hosts.iter().enumerate() {
        let f = format!("spec.hosts[{i}]");
        if h == "*" {
            r.error(f, format!("invalid host {h}"));
            continue;
        }
        if let Err(e) = fields::wildcard_domain(h) {
            r.error(f.clone(), e);
        }
        if !dynamic && h.contains('*') && !h.starts_with("*.") {
            r.warning(f, format!("partial wildcard {h:?} not allowed"));
        }
    }
}

/// `ports`: unique names and numbers, DNS-label names, known protocols, valid numbers. Returns
/// the names, which endpoints' `ports` must use.
fn ports(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let f = format!("spec.ports[{i}]");
        let name = p.name.as_deref().unwrap_or("");
        if !names.insert(name.to_string()) {
            r.error(
                format!("{f}.name"),
                format!("service entry port name {name:?} already defined"),
            );
        }
        if !numbers.insert(p.number) {
            r.error(
                format!("{f}.number"),
                format!("service entry port {} already defined", p.number),
            );
        }
        if let Some(Err(e)) = p.target_port.map(|t| fields::port(i64::from(t))) {
            r.error(format!("{f}.targetPort"), e);
        }
        // Istio also warns for an unset protocol (TCP to Istio); shadowmesh reads an unset
        // protocol as HTTP and needs no address for it, so only TCP is warned about.
        if spec.addresses.is_empty() && p.protocol.as_deref() == Some("TCP") {
            r.warning(
                format!("{f}.protocol"),
                "TCP is not proxied by shadowmesh (HTTP, HTTP2 and GRPC are; this port is treated as HTTP); Istio would also need addresses for it",
            );
        }
        if !fields::is_dns1123_label(name) {
            r.error(format!("{f}.name"), format!("invalid port name: {name:?}"));
        }
        if let Some(proto) = p.protocol.as_deref().filter(|p| !p.is_empty())
            && protocol(proto).is_none()
        {
            r.error(
                format!("{f}.protocol"),
                format!("unsupported protocol: {proto}"),
            );
        }
        if let Err(e) = fields::port(i64::from(p.number)) {
            r.error(format!("{f}.number"), e);
        }
    }
    names
}

/// Checks one WorkloadEntry; pushes what it finds to `diags`.
pub(super) fn validate_workload_entry(
    resource: &Resource<WorkloadEntrySpec>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut r = Reporter::new(diags, resource.file.clone(), resource.id.to_string());
    workload_entry(&resource.spec, None, true, &mut r, "spec");
}

/// Istio's `validateWorkloadEntry` (at `f`): an address (or a network), an IP, FQDN or
/// `unix://` path, valid ports and labels. `service_ports`: the ServiceEntry's port names when
/// inline; `fqdn_ok`: whether host names are allowed (not for STATIC endpoints).
pub(super) fn workload_entry(
    we: &WorkloadEntrySpec,
    service_ports: Option<&BTreeSet<String>>,
    fqdn_ok: bool,
    r: &mut Reporter<'_>,
    f: &str,
) {
    let addr = we.address.as_str();
    let network = we.network.as_deref().unwrap_or("");
    if addr.is_empty() {
        if network.is_empty() {
            r.error(format!("{f}.address"), "address is required");
            return;
        }
        r.warning(
            format!("{f}.address"),
            format!("address is unset with network {network:?}: the workload is reached through that network's gateway, which shadowmesh does not do; it gets no traffic"),
        );
    }
    let unix = addr.strip_prefix("unix://");
    if let Some(path) = unix {
        if let Err(e) = unix_address(path) {
            r.error(format!("{f}.address"), e);
        }
        if !we.ports.is_empty() {
            r.error(
                format!("{f}.ports"),
                format!("unix endpoint {addr} must not include ports"),
            );
        }
    } else if !addr.is_empty() && !fields::is_ip_address(addr) {
        if !fqdn_ok {
            r.error(
                format!("{f}.address"),
                format!("endpoint address {addr:?} is not a valid IP address"),
            );
        } else if fields::fqdn(addr).is_err() {
            r.error(
                format!("{f}.address"),
                format!("endpoint address {addr:?} is not a valid FQDN or an IP address"),
            );
        }
    }
    endpoint_ports(we, service_ports, r, f);
    if let Err(e) = fields::labels(&we.labels) {
        r.error(format!("{f}.labels"), e);
    }
    if unix.is_some() && service_ports.is_some_and(|p| p.len() != 1) {
        r.error(
            format!("{f}.address"),
            "exactly 1 service port required for unix endpoints",
        );
    }
}

/// An endpoint's `ports`: DNS-label names the service defines, valid numbers.
pub(super) fn endpoint_ports(
    we: &WorkloadEntrySpec,
    service_ports: Option<&BTreeSet<String>>,
    r: &mut Reporter<'_>,
    f: &str,
) {
    for (name, port) in &we.ports {
        let field = format!("{f}.ports.{name}");
        if service_ports.is_some_and(|p| !p.contains(name)) {
            r.error(
                field.clone(),
                format!("endpoint port {port} is not defined by the service entry"),
            );
        }
        if !fields::is_dns1123_label(name) {
            r.error(field.clone(), format!("invalid port name: {name}"));
        }
        if let Err(e) = fields::port(i64::from(*port)) {
            r.error(field, e);
        }
    }
}

/// Istio's `ValidateUnixAddress` on the path after `unix://`.
fn unix_address(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("unix address must not be empty".into());
    }
    if path.starts_with('@') {
        return Ok(());
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(format!("{path} is not an absolute path to a file"));
    }
    Ok(())
}
