//! Istio's `TestValidateTLS`, `TestValidateLocalityLbSetting`, `TestValidateZoneAwareLbSetting`
//! and `TestValidateLocalities` (agent/validation_test.go), as YAML under a DestinationRule's
//! `trafficPolicy`.

use super::{Case, Table, Want::*, run, with_policy};

const TLS: &[Case] = &[
    (
        "SIMPLE: Credential Name set correctly",
        "{mode: SIMPLE, credentialName: some credential, clientCertificate: '', privateKey: '', caCertificates: ''}",
        Ok,
    ),
    (
        "SIMPLE CredentialName set with ClientCertificate specified",
        "{mode: SIMPLE, credentialName: credential, clientCertificate: cert}",
        Err("credentialName"),
    ),
    (
        "SIMPLE: CredentialName set with PrivateKey specified",
        "{mode: SIMPLE, credentialName: credential, privateKey: key}",
        Err("credentialName"),
    ),
    (
        "SIMPLE: CredentialName set with CACertficiates specified",
        "{mode: SIMPLE, credentialName: credential, caCertificates: ca}",
        Err("credentialName"),
    ),
    (
        "MUTUAL: Credential Name set correctly",
        "{mode: MUTUAL, credentialName: some credential}",
        Ok,
    ),
    (
        "MUTUAL CredentialName set with ClientCertificate specified",
        "{mode: MUTUAL, credentialName: credential, clientCertificate: cert}",
        Err("credentialName"),
    ),
    (
        "MUTUAL: CredentialName set with PrivateKey specified",
        "{mode: MUTUAL, credentialName: credential, privateKey: key}",
        Err("credentialName"),
    ),
    (
        "MUTUAL: CredentialName set with CACertficiates specified",
        "{mode: MUTUAL, credentialName: credential, caCertificates: ca}",
        Err("credentialName"),
    ),
    (
        "MUTUAL: CredentialName set with CACRL specified",
        "{mode: MUTUAL, credentialName: credential, caCrl: ca}",
        Err("credentialName"),
    ),
    (
        "MUTUAL: CredentialName not set with ClientCertificate and Key specified",
        "{mode: MUTUAL, clientCertificate: cert, privateKey: key}",
        Ok,
    ),
    (
        "MUTUAL: CredentialName not set with ClientCertificate specified and Key missing",
        "{mode: MUTUAL, clientCertificate: cert, privateKey: ''}",
        Err("privateKey"),
    ),
    (
        "MUTUAL: CredentialName not set with ClientCertificate missing and Key specified",
        "{mode: MUTUAL, clientCertificate: '', privateKey: key}",
        Err("clientCertificate"),
    ),
    // Beyond Istio's Go table: the CRD's mode names and the configmap:// rule of ValidateTLS.
    ("crd: unknown mode", "{mode: STRICT}", Err("mode")),
    ("extra: ISTIO_MUTUAL alone", "{mode: ISTIO_MUTUAL}", Ok),
    (
        "extra: configmap credential of another namespace",
        "{mode: SIMPLE, credentialName: 'configmap://other/ca'}",
        Err("credentialName"),
    ),
    (
        "extra: configmap credential of this namespace",
        "{mode: SIMPLE, credentialName: 'configmap://default/ca'}",
        Ok,
    ),
];

#[test]
fn tls() {
    run(
        &Table {
            test: "TestValidateTLS",
            kind: "DestinationRule",
            spec: &|tls| with_policy(&format!("{{tls: {tls}}}")),
            prefix: "spec.trafficPolicy.tls",
            disagree: &[],
            warnings: false,
        },
        TLS,
    );
}

/// A locality or zone-aware case: `NOOD` at the start means "no outlier detection".
fn lb_with(setting: &'static str) -> impl Fn(&str) -> String {
    move |yaml: &str| {
        let (od, yaml) = match yaml.strip_prefix("NOOD") {
            Some(rest) => ("", rest),
            None => (", outlierDetection: {}", yaml),
        };
        with_policy(&format!("{{loadBalancer: {{{setting}: {yaml}}}{od}}}"))
    }
}

const LOCALITY: &[Case] = &[
    (
        "invalid LocalityLoadBalancerSetting_Distribute total weight > 100",
        "{distribute: [{from: a/b/c, to: {a/b/c: 80, a/b1: 25}}]}",
        Err("distribute[0].to"),
    ),
    (
        "invalid LocalityLoadBalancerSetting_Distribute total weight < 100",
        "{distribute: [{from: a/b/c, to: {a/b/c: 80, a/b1: 15}}]}",
        Err("distribute[0].to"),
    ),
    (
        "invalid LocalityLoadBalancerSetting_Distribute weight = 0",
        "{distribute: [{from: a/b/c, to: {a/b/c: 0, a/b1: 100}}]}",
        Err("distribute[0].to"),
    ),
    (
        "invalid LocalityLoadBalancerSetting specify both distribute and failover",
        "{distribute: [{from: a/b/c, to: {a/b/c: 80, a/b1: 20}}], failover: [{from: region1, to: region2}]}",
        Err(""),
    ),
    (
        "invalid failover src and dst have same region",
        "{failover: [{from: region1, to: region1}]}",
        Err("failover[0]"),
    ),
    (
        "invalid failover src contain '*' wildcard",
        "{failover: [{from: '*', to: region2}]}",
        Err("failover[0]"),
    ),
    (
        "invalid failover dst contain '*' wildcard",
        "{failover: [{from: region1, to: '*'}]}",
        Err("failover[0]"),
    ),
    (
        "invalid failover src contain '/' separator",
        "{failover: [{from: region1/zone1, to: region2}]}",
        Err("failover[0]"),
    ),
    (
        "invalid failover dst contain '/' separator",
        "{failover: [{from: region1, to: region2/zone1}]}",
        Err("failover[0]"),
    ),
    (
        "failover priority provided without outlier detection policy",
        "NOOD{failoverPriority: [topology.istio.io/network, topology.kubernetes.io/region, topology.kubernetes.io/zone, topology.istio.io/subzone]}",
        Warn(""),
    ),
    (
        "failover provided without outlier detection policy",
        "NOOD{failover: [{from: us-east, to: eu-west}, {from: us-west, to: eu-east}]}",
        Warn(""),
    ),
    (
        "invalid LocalityLoadBalancerSetting specify both failoverPriority and region in failover",
        "{failover: [{from: region1, to: region2}], failoverPriority: [topology.kubernetes.io/region]}",
        Err("failoverPriority"),
    ),
    // TestValidateLocalities, through `distribute[].from`.
    (
        "multi wildcard locality",
        "{distribute: [{from: '*/zone/*', to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "wildcard not in suffix",
        "{distribute: [{from: '*/zone', to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "explicit wildcard region overlap",
        "{distribute: [{from: '*', to: {a: 100}}, {from: a/b/c, to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "implicit wildcard region overlap",
        "{distribute: [{from: a, to: {a: 100}}, {from: a/b/c, to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "explicit wildcard zone overlap",
        "{distribute: [{from: a/*, to: {a: 100}}, {from: a/b/c, to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "implicit wildcard zone overlap",
        "{distribute: [{from: a/b, to: {a: 100}}, {from: a/b/c, to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "explicit wildcard subzone overlap",
        "{distribute: [{from: a/b/*, to: {a: 100}}, {from: a/b/c, to: {a: 100}}]}",
        Err("distribute"),
    ),
    (
        "valid localities",
        "{distribute: [{from: a1/*, to: {a: 100}}, {from: a2/*, to: {a: 100}}, {from: a3/b3/c3, to: {a: 100}}, {from: a4/b4, to: {a: 100}}, {from: a5/b5/*, to: {a: 100}}]}",
        Ok,
    ),
];

#[test]
fn locality_lb_setting() {
    run(
        &Table {
            test: "TestValidateLocalityLbSetting",
            kind: "DestinationRule",
            spec: &lb_with("localityLbSetting"),
            prefix: "spec.trafficPolicy.loadBalancer.localityLbSetting",
            disagree: &[],
            warnings: true,
        },
        LOCALITY,
    );
}

const ZONE_AWARE: &[Case] = &[
    ("enabled only is valid", "{enabled: true}", Ok),
    (
        "valid region-level failover",
        "{failover: [{from: us-east, to: eu-west}]}",
        Ok,
    ),
    (
        "failover same src and dst region",
        "{failover: [{from: region1, to: region1}]}",
        Err("failover[0]"),
    ),
    (
        "failover src has '/' (zone scope) is rejected",
        "{failover: [{from: region1/zone1, to: region2}]}",
        Err("failover[0]"),
    ),
    (
        "failover dst has '/' (zone scope) is rejected",
        "{failover: [{from: region1, to: region2/zone1}]}",
        Err("failover[0]"),
    ),
    (
        "failover src has '*' wildcard is rejected",
        "{failover: [{from: '*', to: region2}]}",
        Err("failover[0]"),
    ),
    (
        "failover dst has '*' wildcard is rejected",
        "{failover: [{from: region1, to: '*'}]}",
        Err("failover[0]"),
    ),
    (
        "failover and failoverPriority both set with topology region",
        "{failover: [{from: region1, to: region2}], failoverPriority: [topology.kubernetes.io/region]}",
        Err("failoverPriority"),
    ),
    (
        "failoverPriority with region label is rejected",
        "{failoverPriority: [topology.kubernetes.io/region]}",
        Err("failoverPriority"),
    ),
    (
        "failoverPriority with zone label is rejected",
        "{failoverPriority: [topology.kubernetes.io/zone]}",
        Err("failoverPriority"),
    ),
    (
        "failoverPriority with subzone label is rejected",
        "{failoverPriority: [topology.istio.io/subzone]}",
        Err("failoverPriority"),
    ),
    (
        "failoverPriority with non-topology labels is valid",
        "{failoverPriority: [version, app=ratings]}",
        Ok,
    ),
    (
        "failover without outlier detection warns",
        "NOOD{failover: [{from: us-east, to: eu-west}]}",
        Warn(""),
    ),
    (
        "failoverPriority without outlier detection warns",
        "NOOD{failoverPriority: [version]}",
        Warn(""),
    ),
];

#[test]
fn zone_aware_lb_setting() {
    run(
        &Table {
            test: "TestValidateZoneAwareLbSetting",
            kind: "DestinationRule",
            spec: &lb_with("zoneAwareLbSetting"),
            prefix: "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting",
            disagree: &[],
            warnings: true,
        },
        ZONE_AWARE,
    );
}
