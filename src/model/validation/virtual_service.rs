//! `VirtualService` rules of Istio's `pkg/config/validation` (`ValidateVirtualService` and what
//! it calls) that need only the resource itself: hosts (FQDNs, wildcards, duplicates, `*` only
//! for gateways), delegate VirtualServices (no hosts), gateways, `exportTo`, JWT-claim routing
//! (gateways only) and the `tls` and `tcp` routes; rules that are never used are warned
//! ([`super::unreachable`]). Each `http` route is checked by
//! [`super::http_route`].
//!
//! Imports only [`crate::config`] and [`crate::model`].

use crate::config::diag::Reporter;
use crate::config::wire::{
    L4MatchAttributes, RouteDestination, TlsMatchAttributes, TlsRoute, VirtualServiceSpec,
};
use crate::config::{Diagnostic, Resource};

use super::fields::{self, ExportToOf};
use super::http_route::{self, RouteContext};
use super::{report, unreachable};

/// Checks one VirtualService; pushes what it finds to `diags`.
pub(super) fn validate(resource: &Resource<VirtualServiceSpec>, diags: &mut Vec<Diagnostic>) {
    let mut r = Reporter::new(diags, resource.file.clone(), resource.id.to_string());
    validate_spec(&resource.spec, &resource.id.namespace, &mut r);
}

/// Checks `spec` of a VirtualService in `namespace`.
pub(super) fn validate_spec(spec: &VirtualServiceSpec, namespace: &str, r: &mut Reporter<'_>) {
    let delegate = spec.hosts.is_empty();
    if delegate {
        for (field, present, what) in [
            ("gateways", !spec.gateways.is_empty(), "gateways"),
            ("tls", !spec.tls.is_empty(), "tls route"),
            ("tcp", !spec.tcp.is_empty(), "tcp route"),
        ] {
            if present {
                r.error(
                    format!("spec.{field}"),
                    format!("a delegate VirtualService (one with no hosts) must have no {what} specified"),
                );
            }
        }
    }
    gateways(&spec.gateways, r, "spec.gateways");
    let for_gateway = !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == "mesh");
    hosts(spec, for_gateway, r);
    if spec.http.is_empty() && spec.tcp.is_empty() && spec.tls.is_empty() {
        r.error(
            "spec",
            "http, tcp or tls must be provided in virtual service",
        );
    }
    let ctx = RouteContext {
        delegate,
        for_gateway,
    };
    for (i, route) in spec.http.iter().enumerate() {
        http_route::validate(route, ctx, r, &format!("spec.http[{i}]"));
    }
    for (i, tls) in spec.tls.iter().enumerate() {
        tls_route(tls, spec, for_gateway, r, &format!("spec.tls[{i}]"));
    }
    for (i, tcp) in spec.tcp.iter().enumerate() {
        let f = format!("spec.tcp[{i}]");
        for (j, m) in tcp.matches.iter().enumerate() {
            let mf = format!("{f}.match[{j}]");
            l4_match(&m.destination_subnets, m.port, r, &mf);
            report(
                r,
                format!("{mf}.sourceLabels"),
                fields::labels(&m.source_labels),
            );
            gateways(&m.gateways, r, &format!("{mf}.gateways"));
        }
        if tcp.route.is_empty() {
            r.error(format!("{f}.route"), "TCP route is required");
        }
        route_destinations(&tcp.route, r, &f);
    }
    unreachable::http(&spec.http, r);
    let tcp: Vec<&[L4MatchAttributes]> = spec.tcp.iter().map(|t| t.matches.as_slice()).collect();
    unreachable::rules(&tcp, "tcp", r);
    let tls: Vec<&[TlsMatchAttributes]> = spec.tls.iter().map(|t| t.matches.as_slice()).collect();
    unreachable::rules(&tls, "tls", r);
    for (index, message) in fields::export_to(namespace, &spec.export_to, ExportToOf::Config) {
        let field = match index {
            Some(i) => format!("spec.exportTo[{i}]"),
            None => "spec.exportTo".into(),
        };
        r.error(field, message);
    }
}

/// `hosts`: each a valid (wildcard) domain or an IP, `*` only for gateways, no two overlapping.
fn hosts(spec: &VirtualServiceSpec, for_gateway: bool, r: &mut Reporter<'_>) {
    let sni = spec
        .tls
        .iter()
        .any(|t| t.matches.iter().any(|m| !m.sni_hosts.is_empty()));
    let mut all_valid = true;
    for (i, host) in spec.hosts.iter().enumerate() {
        let check = if for_gateway {
            gateway_domain(sni, host)
        } else {
            fields::wildcard_domain(host)
        };
        match check {
            Err(e) if !fields::is_ip_address(host) => {
                r.error(format!("spec.hosts[{i}]"), e);
                all_valid = false;
            }
            Ok(()) if !for_gateway && host == "*" => {
                r.error(
                    format!("spec.hosts[{i}]"),
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                );
                all_valid = false;
            }
            _ => {}
        }
    }
    if !all_valid {
        return;
    }
    for (j, b) in spec.hosts.iter().enumerate() {
        if let Some(a) = spec.hosts[..j].iter().find(|a| fields::hosts_overlap(a, b)) {
            r.error(
                format!("spec.hosts[{j}]"),
                format!("duplicate hosts in virtual service: {a} & {b}"),
            );
        }
    }
}

/// Istio's `ValidateWildcardDomainForVirtualServiceBoundToGateway`: also allows the
/// `outbound_.PORT_._.HOST` names of AUTO_PASSTHROUGH when the VirtualService matches SNI.
fn gateway_domain(sni: bool, domain: &str) -> fields::Check {
    if sni && domain.starts_with("outbound_") {
        let parts: Vec<&str> = domain.split('_').collect();
        if parts.len() < 4 {
            return Err(format!(
                "domain name {domain} invalid, should follow 'outbound_.<PORT>_._.<HOSTNAME>' format"
            ));
        }
        let port = parts[1].trim_matches('.');
        let host = parts[3].trim_matches('.');
        if !port.contains(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "domain name {domain:?} invalid (label {port:?} invalid)"
            ));
        }
        if !host.contains(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!(
                "domain name {domain:?} invalid (label {host:?} invalid)"
            ));
        }
        return Ok(());
    }
    fields::wildcard_domain(domain)
}

/// Gateway names (`namespace/name`, `mesh`, or the legacy `name.namespace`, warned).
pub(super) fn gateways(names: &[String], r: &mut Reporter<'_>, f: &str) {
    for (i, name) in names.iter().enumerate() {
        match fields::gateway_name(name) {
            Ok(None) => {}
            Ok(Some(warning)) => r.warning(format!("{f}[{i}]"), warning),
            Err(e) => r.error(format!("{f}[{i}]"), e),
        }
    }
}

/// A `tls` route: at least one match, each with SNI hosts covered by the VirtualService's hosts.
fn tls_route(
    tls: &TlsRoute,
    spec: &VirtualServiceSpec,
    for_gateway: bool,
    r: &mut Reporter<'_>,
    f: &str,
) {
    if tls.matches.is_empty() {
        r.error(
            format!("{f}.match"),
            "TLS route must have at least one match condition",
        );
    }
    for (j, m) in tls.matches.iter().enumerate() {
        let mf = format!("{f}.match[{j}]");
        if m.sni_hosts.is_empty() {
            r.error(
                format!("{mf}.sniHosts"),
                "TLS match must have at least one SNI host",
            );
        }
        for (k, sni) in m.sni_hosts.iter().enumerate() {
            sni_host(sni, spec, for_gateway, r, &format!("{mf}.sniHosts[{k}]"));
        }
        l4_match(&m.destination_subnets, m.port, r, &mf);
        report(
            r,
            format!("{mf}.sourceLabels"),
            fields::labels(&m.source_labels),
        );
        gateways(&m.gateways, r, &format!("{mf}.gateways"));
    }
    if tls.route.is_empty() {
        r.error(format!("{f}.route"), "TLS route is required");
    }
    route_destinations(&tls.route, r, f);
}

fn sni_host(
    sni: &str,
    spec: &VirtualServiceSpec,
    for_gateway: bool,
    r: &mut Reporter<'_>,
    f: &str,
) {
    let check = if for_gateway {
        gateway_domain(true, sni)
    } else {
        fields::wildcard_domain(sni)
    };
    if let Err(e) = check {
        if fields::is_ip_address(sni) {
            r.warning(
                f,
                format!("using an IP address ({sni:?}) goes against SNI spec and most clients do not support this"),
            );
        } else {
            r.error(f, e);
        }
        return;
    }
    if !spec.hosts.iter().any(|h| fields::host_subset_of(sni, h)) {
        r.error(
            f,
            format!(
                "SNI host {sni:?} is not a compatible subset of any of the virtual service hosts: [{}]",
                spec.hosts.join(", ")
            ),
        );
    }
}

/// `destinationSubnets` and `port` of a TLS or TCP match.
fn l4_match(subnets: &[String], port: Option<u32>, r: &mut Reporter<'_>, f: &str) {
    for (k, subnet) in subnets.iter().enumerate() {
        report(
            r,
            format!("{f}.destinationSubnets[{k}]"),
            fields::ip_subnet(subnet),
        );
    }
    if let Some(p) = port.filter(|p| *p != 0) {
        report(r, format!("{f}.port"), fields::port(i64::from(p)));
    }
}

/// `route` of a TLS or TCP route: destinations and weights.
fn route_destinations(route: &[RouteDestination], r: &mut Reporter<'_>, f: &str) {
    let mut total = 0i64;
    for (j, rd) in route.iter().enumerate() {
        let field = format!("{f}.route[{j}]");
        match &rd.destination {
            None => r.error(format!("{field}.destination"), "destination is required"),
            Some(d) => http_route::destination(d, r, &format!("{field}.destination")),
        }
        total += http_route::weight(rd.weight, r, &format!("{field}.weight"));
    }
    if route.len() > 1 && total == 0 {
        r.error(format!("{f}.route"), "total destination weight = 0");
    }
}
