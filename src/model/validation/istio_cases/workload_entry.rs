//! Istio's `TestValidateWorkloadEntry`, as YAML `spec`s.

use super::{Case, Table, Want::*, run};

const WORKLOAD_ENTRY: &[Case] = &[
    ("valid", "{address: 1.2.3.4}", Ok),
    ("missing address", "{}", Err("address")),
    (
        "missing address with network",
        "{network: network-2}",
        Warn("address"),
    ),
    (
        "valid unix endpoint",
        "{address: 'unix:///lon/google/com'}",
        Ok,
    ),
    (
        "invalid unix endpoint",
        "{address: 'unix:///lon/google/com', ports: {'7777': 7777}}",
        Err("ports"),
    ),
    (
        "valid FQDN",
        "{address: validdns.com, ports: {'7777': 7777}}",
        Ok,
    ),
    (
        "invalid FQDN",
        "{address: 'invaliddns.com:9443', ports: {'7777': 7777}}",
        Err("address"),
    ),
    (
        "valid IP",
        "{address: 172.16.1.1, ports: {'7777': 7777}}",
        Ok,
    ),
    // Beyond Istio's Go table: the CRD's and validateWorkloadEntry's other rules.
    (
        "crd: unix socket not absolute",
        "{address: 'unix://run/sock'}",
        Err("address"),
    ),
    (
        "crd: unix socket is a folder",
        "{address: 'unix:///run/'}",
        Err("address"),
    ),
    (
        "extra: abstract unix socket",
        "{address: 'unix://@sock'}",
        Ok,
    ),
    (
        "crd: port out of range",
        "{address: 1.2.3.4, ports: {http: 70000}}",
        Err("ports.http"),
    ),
    (
        "crd: port name not a DNS label",
        "{address: 1.2.3.4, ports: {http_1: 80}}",
        Err("ports.http_1"),
    ),
    (
        "extra: bad label value",
        "{address: 1.2.3.4, labels: {app: 'a b'}}",
        Err("labels"),
    ),
    (
        "extra: weight, locality, serviceAccount",
        "{address: 1.2.3.4, weight: 3, locality: us/east, serviceAccount: sa}",
        Ok,
    ),
];

#[test]
fn workload_entry() {
    run(
        &Table {
            test: "TestValidateWorkloadEntry",
            kind: "WorkloadEntry",
            spec: &str::to_string,
            prefix: "spec",
            disagree: &[],
            warnings: true,
        },
        WORKLOAD_ENTRY,
    );
}
