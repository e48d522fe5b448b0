//! Istio's `TestValidateVirtualService` (validation_test.go) and
//! `TestValidateChainingVirtualService` (virtualservice_test.go), ported case by case; run
//! together with the cases of [`super::parity_tests`].

use super::vs_cases::{Case, Want::*, run, vs};

const T: &str = "TestValidateVirtualService";
const CHAIN: &str = "TestValidateChainingVirtualService";
const TO_BAZ: &str = "http: [{route: [{destination: {host: foo.baz}}]}]";

fn with(extra: &str) -> String {
    format!("{{{extra}, {TO_BAZ}}}")
}

#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
fn virtual_service_cases() -> Vec<Case> {
    let tls = |sni: &str| {
        format!(
            "{{hosts: [foo.bar], tls: [{{route: [{{destination: {{host: foo.baz}}}}], match: [{{port: 999, sniHosts: ['{sni}']}}]}}]}}"
        )
    };
    let two_matches = |a: &str, b: &str| {
        format!(
            "{{hosts: [foo.bar], http: [{{route: [{{destination: {{host: foo.baz}}}}], match: [{a}, {b}]}}]}}"
        )
    };
    vec![
        vs(T, "simple", &with("hosts: [foo.bar]"), Clean),
        vs(
            T,
            "allow sni based domains",
            "{hosts: [outbound_.15010_._.istiod.istio-system.svc.cluster.local], gateways: [ns1/gateway], tls: [{match: [{sniHosts: [outbound_.15010_._.istiod.istio-system.svc.cluster.local]}], route: [{destination: {host: istio.istio-system.svc.cluster.local}}]}]}",
            Clean,
        ),
        vs(
            T,
            "duplicate hosts",
            &with("hosts: ['*.foo.bar', '*.bar']"),
            Error("spec.hosts[1]"),
        ),
        vs(
            T,
            "with no destination",
            "{hosts: ['*.foo.bar', '*.bar'], http: [{route: [{}]}]}",
            Error("spec.http[0].route[0].destination"),
        ),
        vs(
            T,
            "destination with out hosts",
            "{hosts: ['*.foo.bar', '*.bar'], http: [{route: [{destination: {}}]}]}",
            Error("spec.http[0].route[0].destination.host"),
        ),
        vs(T, "delegate with no hosts", &format!("{{{TO_BAZ}}}"), Clean),
        vs(
            T,
            "bad host",
            &with("hosts: [foo.ba!r]"),
            Error("spec.hosts[0]"),
        ),
        vs(
            T,
            "no tcp or http routing",
            "{hosts: [foo.bar]}",
            Error("spec"),
        ),
        vs(
            T,
            "bad gateway",
            &with("hosts: [foo.bar], gateways: [b@dgateway]"),
            Error("spec.gateways[0]"),
        ),
        vs(
            T,
            "FQDN for gateway",
            &with("hosts: [foo.bar], gateways: [gateway.example.com]"),
            Warn,
        ),
        vs(
            T,
            "namespace/name for gateway",
            &with("hosts: [foo.bar], gateways: [ns1/gateway]"),
            Clean,
        ),
        vs(
            T,
            "namespace/* for gateway",
            &with("hosts: [foo.bar], gateways: ['ns1/*']"),
            Error("spec.gateways[0]"),
        ),
        vs(
            T,
            "*/name for gateway",
            &with("hosts: [foo.bar], gateways: ['*/gateway']"),
            Error("spec.gateways[0]"),
        ),
        vs(
            T,
            "wildcard for mesh gateway",
            &with("hosts: ['*']"),
            Error("spec.hosts[0]"),
        ),
        vs(
            T,
            "wildcard for non-mesh gateway",
            &with("hosts: ['*'], gateways: [somegateway]"),
            Clean,
        ),
        vs(
            T,
            "missing tcp route",
            "{hosts: [foo.bar], tcp: [{match: [{port: 999}]}]}",
            Error("spec.tcp[0].route"),
        ),
        vs(
            T,
            "missing tls route",
            "{hosts: [foo.bar], tls: [{match: [{port: 999, sniHosts: [foo.bar]}]}]}",
            Error("spec.tls[0].route"),
        ),
        vs(
            T,
            "deprecated mirror",
            "{hosts: [foo.bar], gateways: [ns1/gateway], http: [{mirrorPercent: 5, route: [{destination: {host: foo.baz}}]}]}",
            Warn,
        ),
        vs(
            T,
            "set authority",
            "{hosts: [foo.bar], http: [{headers: {request: {set: {':authority': foo}}}, route: [{destination: {host: foo.baz}}]}]}",
            Clean,
        ),
        vs(
            T,
            "set authority in destination",
            "{hosts: [foo.bar], http: [{route: [{destination: {host: foo.baz}, headers: {request: {set: {':authority': foo}}}}]}]}",
            Clean,
        ),
        vs(
            T,
            "set authority in rewrite and header",
            "{hosts: [foo.bar], http: [{headers: {request: {set: {':authority': foo}}}, rewrite: {authority: bar}, route: [{destination: {host: foo.baz}}]}]}",
            Error("spec.http[0].headers.request.set.:authority"),
        ),
        vs(
            T,
            "non-method-get",
            &two_matches(
                "{uri: {prefix: /api/v1/product}}",
                "{uri: {prefix: /api/v1/products}, method: {exact: GET}}",
            ),
            Warn,
        ),
        vs(
            T,
            "uri-with-prefix-exact",
            &two_matches(
                "{uri: {prefix: /}}",
                "{uri: {exact: /}, method: {exact: GET}}",
            ),
            Clean,
        ),
        vs(
            T,
            "jwt claim route without gateway",
            "{hosts: [foo.bar], gateways: [mesh], http: [{route: [{destination: {host: foo.baz}}], match: [{uri: {prefix: /}, headers: {'@request.auth.claims.foo': {exact: bar}}}]}]}",
            Error("spec.http[0].match[0].headers.@request.auth.claims.foo"),
        ),
        vs(T, "ip address as sni host", &tls("1.1.1.1"), Warn),
        vs(
            T,
            "invalid wildcard as sni host",
            &tls("foo.*.com"),
            Error("spec.tls[0].match[0].sniHosts[0]"),
        ),
    ]
}

fn chaining_cases() -> Vec<Case> {
    let d = "delegate: {name: test, namespace: test}";
    vec![
        vs(
            CHAIN,
            "root simple",
            &format!("{{hosts: [foo.bar], gateways: [test-gateway], http: [{{{d}}}]}}"),
            Valid,
        ),
        vs(
            CHAIN,
            "root applies to sidecar with delegate",
            &format!("{{hosts: [foo.bar], http: [{{{d}}}]}}"),
            Valid,
        ),
        vs(
            CHAIN,
            "root with delegate and destination in one route",
            &format!(
                "{{hosts: [foo.bar], http: [{{{d}, route: [{{destination: {{host: foo.baz}}}}]}}]}}"
            ),
            Error("spec.http[0].route"),
        ),
        vs(
            CHAIN,
            "delegate with no destination",
            "{hosts: [], http: [{}]}",
            Error("spec.http[0]"),
        ),
        vs(
            CHAIN,
            "delegate with delegate",
            &format!("{{hosts: [], http: [{{{d}}}]}}"),
            Error("spec.http[0].delegate"),
        ),
        vs(
            CHAIN,
            "delegate with TCP route",
            "{hosts: [], tcp: [{route: [{destination: {host: foo.baz}}]}]}",
            Error("spec.tcp"),
        ),
        vs(
            CHAIN,
            "delegate with gateway",
            &with("hosts: [], gateways: [test]"),
            Error("spec.gateways"),
        ),
        vs(
            CHAIN,
            "delegate with sourceNamespace",
            "{hosts: [], http: [{match: [{sourceNamespace: test}], route: [{destination: {host: foo.baz}}]}]}",
            Valid,
        ),
    ]
}

#[test]
fn istio_virtual_service_tables() {
    let mut cases = virtual_service_cases();
    cases.extend(chaining_cases());
    cases.extend(super::parity_tests::parity_cases());
    run(&cases, &[]);
}
