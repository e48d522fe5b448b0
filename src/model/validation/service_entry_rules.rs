//! The parts of Istio's `ValidateServiceEntry` that depend on `resolution` (`NONE`, `STATIC`,
//! `DNS`, `DNS_ROUND_ROBIN`, `DYNAMIC_DNS`): what endpoints, hosts, addresses and port
//! protocols each allows; and Istio's protocol names (`protocol.Parse`).

use std::collections::BTreeSet;

use crate::config::diag::Reporter;
use crate::config::wire::ServiceEntrySpec;

use super::fields;
use super::service_entry::{endpoint_ports, workload_entry};

/// A protocol Istio knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    Tcp,
    Udp,
    Grpc,
    GrpcWeb,
    Http,
    HttpProxy,
    Http2,
    Https,
    Tls,
    Mongo,
    Redis,
    MySql,
}

impl Proto {
    fn is_http(self) -> bool {
        matches!(
            self,
            Proto::Http | Proto::Http2 | Proto::HttpProxy | Proto::Grpc | Proto::GrpcWeb
        )
    }

    fn is_tcp(self) -> bool {
        matches!(
            self,
            Proto::Tcp | Proto::Https | Proto::Tls | Proto::Mongo | Proto::Redis | Proto::MySql
        )
    }

    fn is_tls(self) -> bool {
        matches!(self, Proto::Https | Proto::Tls)
    }
}

/// Istio's `protocol.Parse`, case-insensitive; `None` for unsupported names (and for `""`,
/// which means "sniffed").
pub(super) fn protocol(name: &str) -> Option<Proto> {
    Some(match name.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "grpc" => Proto::Grpc,
        "grpc-web" => Proto::GrpcWeb,
        "http" => Proto::Http,
        "http_proxy" => Proto::HttpProxy,
        "http2" => Proto::Http2,
        "https" => Proto::Https,
        "tls" => Proto::Tls,
        "mongo" => Proto::Mongo,
        "redis" => Proto::Redis,
        "mysql" => Proto::MySql,
        _ => return None,
    })
}

fn port_protocols(spec: &ServiceEntrySpec) -> impl Iterator<Item = Option<Proto>> + '_ {
    spec.ports
        .iter()
        .map(|p| protocol(p.protocol.as_deref().unwrap_or("")))
}

/// The rules of `resolution` (already defaulted to `NONE`).
pub(super) fn resolution_rules(
    spec: &ServiceEntrySpec,
    resolution: &str,
    port_names: &BTreeSet<String>,
    r: &mut Reporter<'_>,
) {
    match resolution {
        "NONE" => {
            if !spec.endpoints.is_empty() {
                r.error("spec.endpoints", "no endpoints should be provided for resolution type none");
            }
            if spec.workload_selector.is_some() {
                r.warning("spec.workloadSelector", "workloadSelector should not be set when resolution mode is NONE");
            }
        }
        "STATIC" => {
            for (i, e) in spec.endpoints.iter().enumerate() {
                workload_entry(e, Some(port_names), false, r, &format!("spec.endpoints[{i}]"));
            }
        }
        "DNS" | "DNS_ROUND_ROBIN" => dns(spec, resolution, port_names, r),
        "DYNAMIC_DNS" => dynamic_dns(spec, r),
        other => r.error(
            "spec.resolution",
            format!("unsupported resolution type {other:?}: use NONE, STATIC, DNS, DNS_ROUND_ROBIN or DYNAMIC_DNS"),
        ),
    }
    if resolution != "NONE"
        && spec.hosts.len() > 1
        && port_protocols(spec).any(|p| !p.is_some_and(|p| p.is_http() || p.is_tls()))
    {
        r.error(
            "spec.ports",
            "multiple hosts provided with non-HTTP, non-TLS ports",
        );
    }
}

fn dns(
    spec: &ServiceEntrySpec,
    resolution: &str,
    port_names: &BTreeSet<String>,
    r: &mut Reporter<'_>,
) {
    if spec.endpoints.is_empty()
        && let Some((i, e)) = spec
            .hosts
            .iter()
            .enumerate()
            .find_map(|(i, h)| fields::fqdn(h).err().map(|e| (i, e)))
    {
        r.error(
            format!("spec.hosts[{i}]"),
            format!("hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode {resolution}, {e}"),
        );
    }
    if resolution == "DNS_ROUND_ROBIN" && spec.endpoints.len() > 1 {
        r.error(
            "spec.endpoints",
            format!("there must only be 0 or 1 endpoint for resolution mode {resolution}"),
        );
    }
    for (i, e) in spec.endpoints.iter().enumerate() {
        let f = format!("spec.endpoints[{i}]");
        if !fields::is_ip_address(&e.address) && fields::fqdn(&e.address).is_err() {
            r.error(
                format!("{f}.address"),
                format!(
                    "endpoint address {:?} is not a valid FQDN or an IP address",
                    e.address
                ),
            );
        }
        if let Err(err) = fields::labels(&e.labels) {
            r.error(format!("{f}.labels"), err);
        }
        endpoint_ports(e, Some(port_names), r, &f);
    }
    if !spec.addresses.is_empty()
        && spec.hosts.len() > 1
        && port_protocols(spec).any(|p| p.is_some_and(Proto::is_tcp))
    {
        r.warning("spec.hosts", "service entry can not have more than one host specified simultaneously with address and tcp port");
    }
}

fn dynamic_dns(spec: &ServiceEntrySpec, r: &mut Reporter<'_>) {
    const WHAT: &str = "resolution type DYNAMIC_DNS";
    if spec.hosts.is_empty() {
        r.error(
            "spec.hosts",
            format!("at least one wildcard host must be provided for {WHAT}"),
        );
    }
    for (i, h) in spec.hosts.iter().enumerate() {
        if !h.starts_with('*') {
            r.error(
                format!("spec.hosts[{i}]"),
                "host must be wildcarded for resolution mode DYNAMIC_DNS",
            );
        }
    }
    if !spec.addresses.is_empty() {
        r.error("spec.addresses", format!("addresses cannot be set for {WHAT}: HTTP route domains are generated from the hosts field values only"));
    }
    if !spec.endpoints.is_empty() {
        r.error("spec.endpoints", format!("endpoints cannot be set for {WHAT}: the destination IP address is determined from the hosts field values"));
    }
    for (i, p) in port_protocols(spec).enumerate() {
        if !matches!(
            p,
            Some(Proto::Http | Proto::Tls | Proto::Grpc | Proto::Http2)
        ) {
            r.error(
                format!("spec.ports[{i}].protocol"),
                format!("only HTTP, TLS, GRPC, and HTTP2 protocols are supported for {WHAT}"),
            );
        }
    }
}
