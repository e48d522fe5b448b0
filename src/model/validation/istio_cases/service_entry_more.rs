//! Istio's `TestValidateServiceEntries`, second half (selectors, target ports, addresses,
//! round robin, partial wildcards, network-only endpoints, `DYNAMIC_DNS`, null ports), as YAML
//! `spec`s.

use super::service_entry::table;
use super::{Case, Want::*, run};

const SERVICE_ENTRIES: &[Case] = &[
    (
        "selector",
        "{hosts: [google.com], workloadSelector: {labels: {foo: bar}}, P1}",
        Warn("workloadSelector"),
    ),
    (
        "workload selector without labels",
        "{hosts: [google.com], P2, workloadSelector: {}}",
        Warn("workloadSelector"),
    ),
    (
        "selector and endpoints",
        "{hosts: [google.com], workloadSelector: {labels: {foo: bar}}, P1, endpoints: [{address: 1.1.1.1}]}",
        Err("workloadSelector"),
    ),
    (
        "selector and resolution NONE",
        "{hosts: [google.com], workloadSelector: {labels: {foo: bar}}, P1, resolution: NONE}",
        Warn("workloadSelector"),
    ),
    (
        "selector and resolution DNS",
        "{hosts: [google.com], workloadSelector: {labels: {foo: bar}}, P1, resolution: DNS}",
        Ok,
    ),
    (
        "bad selector key",
        "{hosts: [google.com], workloadSelector: {labels: {'': bar}}, P1}",
        Err("workloadSelector.labels"),
    ),
    (
        "repeat target port",
        "{hosts: [google.com], resolution: DNS, ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 80}, {number: 81, protocol: http, name: http-valid2, targetPort: 80}]}",
        Ok,
    ),
    (
        "valid target port",
        "{hosts: [google.com], resolution: DNS, ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]}",
        Ok,
    ),
    (
        "invalid target port",
        "{hosts: [google.com], resolution: DNS, ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 65536}]}",
        Err("ports[0].targetPort"),
    ),
    (
        "warn target port",
        "{hosts: [google.com], workloadSelector: {labels: {key: bar}}, ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 1234}]}",
        Warn("workloadSelector"),
    ),
    (
        "valid endpoint port",
        "{hosts: [google.com], ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}], resolution: STATIC, endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8081}}]}",
        Ok,
    ),
    (
        "invalid endpoint port",
        "{hosts: [google.com], ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}], resolution: STATIC, endpoints: [{address: 1.1.1.1, ports: {http-valid1: 65536}}]}",
        Err("endpoints[0].ports.http-valid1"),
    ),
    (
        // Deliberately not Istio's Warn("ports[1].protocol"): an unset protocol is HTTP to
        // shadowmesh, which needs no address for it.
        "protocol unset for addresses empty",
        "{hosts: [google.com], addresses: [], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, name: http-valid2}], resolution: NONE}",
        Ok,
    ),
    (
        "protocol is TCP for addresses empty",
        "{hosts: [google.com], addresses: [], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 81, protocol: TCP, name: tcp-valid1}], resolution: NONE}",
        Warn("ports[1].protocol"),
    ),
    (
        "dns round robin with more than one endpoint",
        "{hosts: [google.com], addresses: [], ports: [{number: 8081, protocol: http, name: http-valid1}], endpoints: [{address: api-v1.istio.io, ports: {http-valid1: 8081}}, {address: 1.1.1.2, ports: {http-valid1: 8081}}], resolution: DNS_ROUND_ROBIN}",
        Err("endpoints"),
    ),
    (
        "dns round robin with 0 endpoints",
        "{hosts: [google.com], addresses: [], ports: [{number: 8081, protocol: http, name: http-valid1}], endpoints: [], resolution: DNS_ROUND_ROBIN}",
        Ok,
    ),
    (
        "partial wildcard hosts",
        "{hosts: ['*.nytimes.com', '*washingtonpost.com'], addresses: [], ports: [{number: 443, protocol: HTTPS, name: https-nytimes}], endpoints: [], resolution: NONE}",
        Warn("hosts[1]"),
    ),
    (
        "network set with no address on endpoint",
        "{hosts: [www.example.com], addresses: [], ports: [{number: 443, protocol: HTTPS, name: https-example}], endpoints: [{network: cluster-1}], resolution: STATIC}",
        Warn("endpoints[0].address"),
    ),
    (
        "discovery type DYNAMIC_DNS, unsupported TCP protocol",
        "{hosts: ['*.google.com'], addresses: [], ports: [{number: 80, protocol: http, name: http-valid1}, {number: 81, protocol: TCP, name: tcp-valid1}], resolution: DYNAMIC_DNS}",
        Err("ports[1].protocol"),
    ),
    (
        "discovery type DYNAMIC_DNS, GRPC protocol",
        "{hosts: ['*.svc.cluster.local'], addresses: [], ports: [{number: 9090, protocol: GRPC, name: grpc}], resolution: DYNAMIC_DNS}",
        Ok,
    ),
    (
        "discovery type DYNAMIC_DNS, FQDN host",
        "{hosts: [google.com], addresses: [], ports: [{number: 80, protocol: http, name: http-valid}], resolution: DYNAMIC_DNS}",
        Err("hosts[0]"),
    ),
    (
        "discovery type DYNAMIC_DNS, endpoints set",
        "{hosts: ['*.google.com'], addresses: [], P1, endpoints: [{address: in.google.com, ports: {http-valid1: 9080}}], resolution: DYNAMIC_DNS}",
        Err("endpoints"),
    ),
    (
        "discovery type DYNAMIC_DNS, IP address set",
        "{hosts: ['*.google.com'], addresses: [10.10.10.10], P2, resolution: DYNAMIC_DNS}",
        Err("addresses"),
    ),
    (
        "discovery type DYNAMIC_DNS, empty hosts",
        "{hosts: [], addresses: [], P1, resolution: DYNAMIC_DNS}",
        Err("hosts"),
    ),
    (
        "discovery type DYNAMIC_DNS, multiple wildcarded hosts",
        "{hosts: ['*.google.com', '*.amazon.com'], addresses: [], P1, resolution: DYNAMIC_DNS}",
        Ok,
    ),
    (
        "discovery type DYNAMIC_DNS, internal mesh location",
        "{hosts: ['*.google.com'], addresses: [], P1, resolution: DYNAMIC_DNS, location: MESH_INTERNAL}",
        Ok,
    ),
    (
        "discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint (invalid)",
        "META{istio.io/use-waypoint: my-waypoint}|{hosts: ['*.google.com'], addresses: [], P1, resolution: DYNAMIC_DNS, location: MESH_INTERNAL}",
        Err("location"),
    ),
    // A null port reads as an empty one, refused for its missing name and number.
    (
        "discovery type DYNAMIC_DNS, nil port",
        "{hosts: ['*.google.com'], location: MESH_EXTERNAL, ports: [null], resolution: DYNAMIC_DNS}",
        Err("ports[0].name"),
    ),
    (
        "nil port in ports array",
        "{hosts: [google.com], ports: [null], resolution: NONE}",
        Err("ports[0].name"),
    ),
    (
        "discovery type DNS with addresses, nil port",
        "{hosts: [google.com], addresses: [1.2.3.4], ports: [null], resolution: DNS}",
        Err("ports[0].name"),
    ),
    // Beyond Istio's Go table: the CRD's enums and rules, and ValidatePortName/ValidateProtocol.
    (
        "crd: unknown resolution",
        "{hosts: [google.com], P1, resolution: MAGIC}",
        Err("resolution"),
    ),
    (
        "crd: unknown location",
        "{hosts: [google.com], P1, location: MESH_OUTER}",
        Err("location"),
    ),
    (
        "crd: CIDR with DNS",
        "{hosts: [google.com], addresses: [10.0.0.0/8], P1, resolution: DNS}",
        Err("addresses"),
    ),
    (
        "extra: bad address",
        "{hosts: [google.com], addresses: [10.0.0.300], P1}",
        Err("addresses[0]"),
    ),
    (
        "extra: port without a name",
        "{hosts: [google.com], addresses: [10.0.0.3], ports: [{number: 80, protocol: http}]}",
        Err("ports[0].name"),
    ),
    (
        "extra: unknown protocol",
        "{hosts: [google.com], addresses: [10.0.0.3], ports: [{number: 80, protocol: QUIC, name: q}]}",
        Err("ports[0].protocol"),
    ),
    (
        "extra: port 0",
        "{hosts: [google.com], addresses: [10.0.0.3], ports: [{number: 0, protocol: http, name: h}]}",
        Err("ports[0].number"),
    ),
    (
        "extra: two hosts with a TCP port, STATIC",
        "{hosts: [a.com, b.com], addresses: [10.0.0.3], ports: [{number: 80, protocol: TCP, name: t}], resolution: STATIC}",
        Err("ports"),
    ),
    (
        "extra: exportTo none and a namespace",
        "{hosts: [google.com], P1, exportTo: ['~', ns1]}",
        Err("exportTo"),
    ),
];

#[test]
fn service_entries() {
    run(&table(&[]), SERVICE_ENTRIES);
}
