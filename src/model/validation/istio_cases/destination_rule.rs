//! Istio's `TestValidateDestinationRule` and `TestValidateTrafficPolicy`, as YAML.

use super::{Case, Table, Want::*, run, with_policy};

const SUBSETS: &str =
    "subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]";
const GOOD_TP: &str = "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnections: 7}, http: {http2MaxRequests: 11}}, outlierDetection: {minHealthPercent: 20}}";
const BAD_TP: &str = "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {}, outlierDetection: {minHealthPercent: 20}}";
const SUBSET_TP: &str = "subsets: [{name: v1, labels: {version: v1}, trafficPolicy: TP}, {name: v2, labels: {version: v2}}]";

/// `SUBSETS`, `GOOD_TP`, `BAD_TP`, `SUBSET_TP` and `SAN` expanded in a case's YAML.
fn expand(yaml: &str) -> String {
    yaml.replace("SUBSET_TP", SUBSET_TP)
        .replace("SUBSETS", SUBSETS)
        .replace("GOOD_TP", GOOD_TP)
        .replace("BAD_TP", BAD_TP)
        .replace("SAN", "subjectAltNames: [reviews.default.svc]")
}

const DESTINATION_RULE: &[Case] = &[
    ("simple destination rule", "{host: reviews, SUBSETS}", Ok),
    (
        "simple destination rule with empty selector labels",
        "{host: reviews, SUBSETS, workloadSelector: {}}",
        Warn("spec.workloadSelector"),
    ),
    (
        "missing destination name",
        "{host: '', SUBSETS}",
        Err("spec.host"),
    ),
    (
        "missing subset name",
        "{host: reviews, subsets: [{name: '', labels: {version: v1}}, {name: v2, labels: {version: v2}}]}",
        Err("spec.subsets[0].name"),
    ),
    (
        "duplicate subset names",
        "{host: reviews, subsets: [{name: foo, labels: {version: v1}}, {name: foo, labels: {version: v2}}]}",
        Err("spec.subsets[1].name"),
    ),
    (
        "valid traffic policy, top level",
        "{host: reviews, trafficPolicy: GOOD_TP, SUBSETS}",
        Ok,
    ),
    (
        "invalid traffic policy, top level",
        "{host: reviews, trafficPolicy: BAD_TP, SUBSETS}",
        Err("spec.trafficPolicy.connectionPool"),
    ),
    (
        "valid traffic policy, subset level",
        "{host: reviews, SUBSET_TP}",
        Ok,
    ),
    (
        "invalid traffic policy, subset level",
        "{host: reviews, BADSUB}",
        Err("spec.subsets[0].trafficPolicy.connectionPool"),
    ),
    (
        "valid traffic policy, both levels",
        "{host: reviews, trafficPolicy: GOOD_TP, SUBSET_TP}",
        Ok,
    ),
    (
        "InsecureSkipVerify is not specified with tls mode simple, and the ca cert is specified by CaCertificates",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: test, SAN}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is not specified with tls mode simple, and the ca cert is specified by CredentialName",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, credentialName: test, SAN}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set false with tls mode simple, and the ca cert is specified by CaCertificates",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: test, SAN, insecureSkipVerify: false}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set false with tls mode simple, and the ca cert is specified by CredentialName",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, credentialName: test, SAN, insecureSkipVerify: false}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set true with tls mode simple, and the ca cert is specified by CaCertificates",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, credentialName: test, insecureSkipVerify: true}}}",
        Err("spec.trafficPolicy.tls.insecureSkipVerify"),
    ),
    (
        "InsecureSkipVerify is set true with tls mode simple, and the ca cert is specified by CredentialName",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: test, insecureSkipVerify: true}}}",
        Err("spec.trafficPolicy.tls.insecureSkipVerify"),
    ),
    (
        "InsecureSkipVerify is set true with tls mode simple, and the san is specified",
        "{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, SAN, insecureSkipVerify: true}}}",
        Err("spec.trafficPolicy.tls.insecureSkipVerify"),
    ),
    (
        "InsecureSkipVerify is not specified with tls mode mutual, and the ca cert is specified by CaCertificates",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, caCertificates: test, privateKey: key, clientCertificate: cert, SAN}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is not specified with tls mode mutual, and the ca cert is specified by CredentialName",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, credentialName: test, SAN}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set false with tls mode mutual, and the ca cert is specified by CaCertificates",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, caCertificates: test, privateKey: key, clientCertificate: cert, SAN, insecureSkipVerify: false}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set false with tls mode mutual, and the ca cert is specified by CredentialName",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, credentialName: test, SAN, insecureSkipVerify: false}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set true with tls mode mutual, and the ca cert is specified by CaCertificates",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, caCertificates: test, privateKey: key, clientCertificate: cert, insecureSkipVerify: true}}}",
        Err("spec.trafficPolicy.tls.insecureSkipVerify"),
    ),
    (
        "InsecureSkipVerify is set true with tls mode mutual, and the ca cert is specified by CaCertificates #2",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, credentialName: test, insecureSkipVerify: true}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set true with tls mode mutual, and the ca cert is not specified",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, privateKey: key, clientCertificate: cert, insecureSkipVerify: true}}}",
        Ok,
    ),
    (
        "InsecureSkipVerify is set true with tls mode mutual, and the san is specified",
        "{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, privateKey: key, clientCertificate: cert, SAN, insecureSkipVerify: true}}}",
        Err("spec.trafficPolicy.tls.insecureSkipVerify"),
    ),
    // Beyond Istio's Go table: subset and selector rules of validateSubset and the CRD.
    (
        "extra: subset name not a DNS label",
        "{host: reviews, subsets: [{name: V_1}]}",
        Err("spec.subsets[0].name"),
    ),
    (
        "extra: subset label value invalid",
        "{host: reviews, subsets: [{name: v1, labels: {version: -v1}}]}",
        Err("spec.subsets[0].labels"),
    ),
    (
        "extra: wildcard in selector",
        "{host: reviews, workloadSelector: {matchLabels: {app: '*'}}}",
        Err("spec.workloadSelector.matchLabels.app"),
    ),
    (
        "extra: wildcard host",
        "{host: '*.example.com', SUBSETS}",
        Ok,
    ),
    (
        "extra: bad host",
        "{host: 'a..b', SUBSETS}",
        Err("spec.host"),
    ),
];

#[test]
fn destination_rule() {
    run(
        &Table {
            test: "TestValidateDestinationRule",
            kind: "DestinationRule",
            spec: &|yaml| {
                expand(&yaml.replace("BADSUB", &SUBSET_TP.replace("TP", BAD_TP)))
                    .replace("TP", GOOD_TP)
            },
            prefix: "",
            disagree: &[],
            warnings: true,
        },
        DESTINATION_RULE,
    );
}

const TRAFFIC_POLICY: &[Case] = &[
    ("valid traffic policy", "GOOD_TP", Ok),
    ("invalid traffic policy, nil entries", "{}", Err("")),
    (
        "invalid traffic policy, missing port in port level settings",
        "{portLevelSettings: [GOOD_TP]}",
        Err("portLevelSettings[0].port"),
    ),
    (
        "invalid traffic policy, bad connection pool",
        "BAD_TP",
        Err("connectionPool"),
    ),
    (
        "invalid traffic policy, bad max connection duration",
        "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnectionDuration: 500ns}}}",
        Err("connectionPool.tcp.maxConnectionDuration"),
    ),
    (
        "invalid traffic policy, panic threshold too low",
        "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnections: 7}, http: {http2MaxRequests: 11}}, outlierDetection: {minHealthPercent: -1}}",
        Err("outlierDetection.minHealthPercent"),
    ),
    (
        "invalid traffic policy, both upgrade and use client protocol set",
        "{connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}",
        Err("connectionPool.http.useClientProtocol"),
    ),
    // Beyond Istio's Go table: validateTrafficPolicy's and validatePortTrafficPolicies' other rules.
    (
        "extra: tunnel and proxyProtocol together",
        "{tunnel: {targetHost: example.com, targetPort: 443}, proxyProtocol: {version: V2}}",
        Err(""),
    ),
    (
        "extra: tunnel with a bad protocol",
        "{tunnel: {protocol: GET, targetHost: example.com, targetPort: 443}}",
        Err("tunnel.protocol"),
    ),
    (
        "extra: tunnel without a port",
        "{tunnel: {targetHost: example.com}}",
        Err("tunnel.targetPort"),
    ),
    (
        "extra: port level settings with only a port",
        "{portLevelSettings: [{port: {number: 80}}]}",
        Err("portLevelSettings[0]"),
    ),
    (
        "extra: port level settings, valid",
        "{portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: RANDOM}}]}",
        Ok,
    ),
    (
        "extra: retry budget only",
        "{retryBudget: {percent: 20, minRetryConcurrency: 3}}",
        Ok,
    ),
    (
        "extra: proxy protocol version V3",
        "{proxyProtocol: {version: V3}}",
        Err("proxyProtocol.version"),
    ),
];

#[test]
fn traffic_policy() {
    run(
        &Table {
            test: "TestValidateTrafficPolicy",
            kind: "DestinationRule",
            spec: &|tp| with_policy(&expand(tp)),
            prefix: "spec.trafficPolicy",
            disagree: &[],
            warnings: false,
        },
        TRAFFIC_POLICY,
    );
}

/// `Test_validateExportTo` through a DestinationRule (namespace `default` for Istio's `ns5`);
/// `SEL` adds a workload selector.
const EXPORT_TO_DR: &[Case] = &[
    ("empty exportTo is okay", "[]", Ok),
    ("* is allowed", "['*']", Ok),
    (". and ns1 are allowed", "['.', ns1]", Ok),
    (
        "bunch of namespaces in exportTo is okay",
        "[ns1, ns2, default]",
        Ok,
    ),
    (
        "~ not allowed for non service entry configs",
        "['~', ns1]",
        Err("exportTo[0]"),
    ),
    (
        ". and * together are not allowed",
        "['.', '*']",
        Err("exportTo"),
    ),
    (
        "* and ns1 together are not allowed",
        "['*', ns1]",
        Err("exportTo"),
    ),
    (
        ". and same namespace in exportTo is not okay",
        "['.', default]",
        Err("exportTo[1]"),
    ),
    (
        "duplicate namespaces in exportTo is not okay",
        "[ns1, ns2, ns1]",
        Err("exportTo[2]"),
    ),
    (
        "invalid namespace names are not okay",
        "[ns1_]",
        Err("exportTo[0]"),
    ),
    (
        "destination rule with workloadselector cannot have exportTo (*)",
        "SEL['*']",
        Err("exportTo"),
    ),
    (
        "destination rule with workloadselector can have only exportTo (.)",
        "SEL['.']",
        Ok,
    ),
    (
        "destination rule with workloadselector cannot have another ns in exportTo (.)",
        "SEL[somens]",
        Err("exportTo"),
    ),
    (
        "destination rule with workloadselector cannot have another ns in addition to own ns in exportTo (.)",
        "SEL['.', somens]",
        Err("exportTo"),
    ),
];

#[test]
fn export_to_of_destination_rules() {
    run(
        &Table {
            test: "Test_validateExportTo (DestinationRule)",
            kind: "DestinationRule",
            spec: &|e| match e.strip_prefix("SEL") {
                Some(e) => format!(
                    "{{host: reviews, workloadSelector: {{matchLabels: {{app: a}}}}, exportTo: {e}}}"
                ),
                None => format!("{{host: reviews, exportTo: {e}}}"),
            },
            prefix: "spec",
            disagree: &[],
            warnings: true,
        },
        EXPORT_TO_DR,
    );
}

/// `Test_validateExportTo` through a ServiceEntry.
const EXPORT_TO_SE: &[Case] = &[
    ("~ is allowed for service entry configs", "['~']", Ok),
    (
        "duplicate none in service entry exportTo is not okay",
        "['~', '~', ns1]",
        Err("exportTo[1]"),
    ),
    (
        "none and other namespaces cannot be combined in service entry exportTo",
        "['~', ns1]",
        Err("exportTo"),
    ),
];

#[test]
fn export_to_of_service_entries() {
    run(
        &Table {
            test: "Test_validateExportTo (ServiceEntry)",
            kind: "ServiceEntry",
            spec: &|e| {
                format!(
                    "{{hosts: [a.example.com], addresses: [10.0.0.1], ports: [{{number: 80, name: http}}], exportTo: {e}}}"
                )
            },
            prefix: "spec",
            disagree: &[],
            warnings: true,
        },
        EXPORT_TO_SE,
    );
}
