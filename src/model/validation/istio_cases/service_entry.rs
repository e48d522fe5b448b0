//! Istio's `TestValidateServiceEntries`, first half (DNS, NONE, STATIC, unix sockets), as YAML
//! `spec`s; the rest is in `service_entry_more`.

use super::{Case, Table, Want::*, run};

/// Expands the shorthands of the ServiceEntry cases: `P1`/`P2` (one or two HTTP ports
/// `http-valid1`/`http-valid2` on 80 and 8080), `E2` (endpoints `lon.google.com` and
/// `in.google.com` on those ports).
pub(super) fn expand(yaml: &str) -> String {
    yaml.replace(
        "P2",
        "ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: http-valid2}]",
    )
    .replace("P1", "ports: [{number: 80, protocol: http, name: http-valid1}]")
    .replace(
        "E2",
        "endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}, {address: in.google.com, ports: {http-valid2: 9080}}]",
    )
}

/// The table's frame: the Istio test, shorthands expanded, fields from `spec`.
pub(super) fn table<'a>(disagree: &'a [(&'a str, &'a str)]) -> Table<'a> {
    Table {
        test: "TestValidateServiceEntries",
        kind: "ServiceEntry",
        spec: &expand,
        prefix: "spec",
        disagree,
        warnings: true,
    }
}

const SERVICE_ENTRIES: &[Case] = &[
    (
        "discovery type DNS",
        "{hosts: ['*.google.com'], P2, E2, resolution: DNS}",
        Ok,
    ),
    (
        "discovery type DNS Round Robin",
        "{hosts: ['*.istio.io'], P2, endpoints: [{address: api-v1.istio.io, ports: {http-valid1: 8080}}], resolution: DNS_ROUND_ROBIN}",
        Ok,
    ),
    (
        "discovery type DNS, label tlsMode: istio",
        "{hosts: ['*.google.com'], P2, endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}, labels: {security.istio.io/tlsMode: istio}}, {address: in.google.com, ports: {http-valid2: 9080}, labels: {security.istio.io/tlsMode: istio}}], resolution: DNS}",
        Ok,
    ),
    (
        "discovery type DNS, one host set with IP address and https port",
        "{hosts: [httpbin.org], addresses: [10.10.10.10], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: http-valid2}, {number: 443, protocol: https, name: https}], resolution: DNS}",
        Ok,
    ),
    (
        "discovery type DNS, multi hosts set with IP address and https port",
        "{hosts: [httpbin.org, wikipedia.org], addresses: [10.10.10.10], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: http-valid2}, {number: 443, protocol: https, name: https}], resolution: DNS}",
        Warn("hosts"),
    ),
    (
        "discovery type DNS, IP address set",
        "{hosts: ['*.google.com'], addresses: [10.10.10.10], P2, E2, resolution: DNS}",
        Ok,
    ),
    (
        "discovery type DNS, IP in endpoints",
        "{hosts: ['*.google.com'], P2, endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, {address: in.google.com, ports: {http-valid2: 9080}}], resolution: DNS}",
        Ok,
    ),
    (
        "discovery type DYNAMIC_DNS",
        "{hosts: ['*.google.com'], P2, resolution: DYNAMIC_DNS}",
        Ok,
    ),
    (
        "empty hosts",
        "{P1, endpoints: [{address: in.google.com, ports: {http-valid2: 9080}}], resolution: DNS}",
        Err("hosts"),
    ),
    (
        "bad hosts",
        "{hosts: ['-'], P1, endpoints: [{address: in.google.com, ports: {http-valid2: 9080}}], resolution: DNS}",
        Err("hosts[0]"),
    ),
    (
        "full wildcard host",
        "{hosts: [foo.com, '*'], P1, endpoints: [{address: in.google.com, ports: {http-valid2: 9080}}], resolution: DNS}",
        Err("hosts[1]"),
    ),
    (
        "short name host",
        "{hosts: [foo, bar.com], P1, endpoints: [{address: in.google.com, ports: {http-valid1: 9080}}], resolution: DNS}",
        Ok,
    ),
    (
        "undefined endpoint port",
        "{hosts: [google.com], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 80, protocol: http, name: http-valid2}], endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}, {address: in.google.com, ports: {http-dne: 9080}}], resolution: DNS}",
        Err("endpoints[1].ports.http-dne"),
    ),
    (
        "discovery type DNS, non-FQDN endpoint",
        "{hosts: ['*.google.com'], P2, endpoints: [{address: '*.lon.google.com', ports: {http-valid1: 8080}}, {address: in.google.com, ports: {http-dne: 9080}}], resolution: DNS}",
        Err("endpoints[0].address"),
    ),
    (
        "discovery type DNS, non-FQDN host",
        "{hosts: ['*.google.com'], P2, resolution: DNS}",
        Err("hosts[0]"),
    ),
    (
        "discovery type DNS, no endpoints",
        "{hosts: [google.com], P2, resolution: DNS}",
        Ok,
    ),
    (
        "discovery type DNS, unix endpoint",
        "{hosts: ['*.google.com'], P1, endpoints: [{address: 'unix:///lon/google/com'}], resolution: DNS}",
        Err("endpoints[0].address"),
    ),
    (
        "discovery type none",
        "{hosts: [google.com], P2, resolution: NONE}",
        Ok,
    ),
    (
        "discovery type none, endpoints provided",
        "{hosts: [google.com], P2, endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}], resolution: NONE}",
        Err("endpoints"),
    ),
    (
        "discovery type none, cidr addresses",
        "{hosts: [google.com], addresses: [172.1.2.16/16], P2, resolution: NONE}",
        Ok,
    ),
    (
        "discovery type static, cidr addresses with endpoints",
        "{hosts: [google.com], addresses: [172.1.2.16/16], P2, endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, {address: 2.2.2.2, ports: {http-valid2: 9080}}], resolution: STATIC}",
        Ok,
    ),
    (
        "discovery type static",
        "{hosts: [google.com], addresses: [172.1.2.16], P2, endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, {address: 2.2.2.2, ports: {http-valid2: 9080}}], resolution: STATIC}",
        Ok,
    ),
    (
        "discovery type static, FQDN in endpoints",
        "{hosts: [google.com], addresses: [172.1.2.16], P2, endpoints: [{address: google.com, ports: {http-valid1: 8080}}, {address: 2.2.2.2, ports: {http-valid2: 9080}}], resolution: STATIC}",
        Err("endpoints[0].address"),
    ),
    (
        "discovery type static, missing endpoints",
        "{hosts: [google.com], addresses: [172.1.2.16], P2, resolution: STATIC}",
        Ok,
    ),
    (
        "discovery type static, bad endpoint port name",
        "{hosts: [google.com], addresses: [172.1.2.16], P2, endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, {address: 2.2.2.2, ports: {http-dne: 9080}}], resolution: STATIC}",
        Err("endpoints[1].ports.http-dne"),
    ),
    (
        "discovery type none, conflicting port names",
        "{hosts: [google.com], ports: [{number: 80, protocol: http, name: http-conflict}, {number: 8080, protocol: http, name: http-conflict}], resolution: NONE}",
        Err("ports[1].name"),
    ),
    (
        "discovery type none, conflicting port numbers",
        "{hosts: [google.com], ports: [{number: 80, protocol: http, name: http-conflict1}, {number: 80, protocol: http, name: http-conflict2}], resolution: NONE}",
        Err("ports[1].number"),
    ),
    (
        "unix socket",
        "{hosts: [uds.cluster.local], ports: [{number: 6553, protocol: grpc, name: grpc-service1}], resolution: STATIC, endpoints: [{address: 'unix:///path/to/socket'}]}",
        Ok,
    ),
    (
        "unix socket, relative path",
        "{hosts: [uds.cluster.local], ports: [{number: 6553, protocol: grpc, name: grpc-service1}], resolution: STATIC, endpoints: [{address: 'unix://./relative/path.sock'}]}",
        Err("endpoints[0].address"),
    ),
    (
        "unix socket, endpoint ports",
        "{hosts: [uds.cluster.local], ports: [{number: 6553, protocol: grpc, name: grpc-service1}], resolution: STATIC, endpoints: [{address: 'unix:///path/to/socket', ports: {grpc-service1: 6553}}]}",
        Err("endpoints[0].ports"),
    ),
    (
        "unix socket, multiple service ports",
        "{hosts: [uds.cluster.local], ports: [{number: 6553, protocol: grpc, name: grpc-service1}, {number: 80, protocol: http, name: http-service2}], resolution: STATIC, endpoints: [{address: 'unix:///path/to/socket'}]}",
        Err("endpoints[0].address"),
    ),
    (
        "empty protocol",
        "{hosts: [google.com], addresses: [172.1.2.16/16], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, name: http-valid2}], resolution: NONE}",
        Ok,
    ),
];

#[test]
fn service_entries() {
    run(&table(&[]), SERVICE_ENTRIES);
}
