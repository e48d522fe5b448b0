//! Cases the "Istio parity" issue names (hosts, `mirrorPercentage` without `mirror`,
//! `:authority` in header operations, pseudo-header matches, timeouts, `tcp`/`tls` routes,
//! `exportTo`, unknown fields) and other rules of Istio's `ValidateVirtualService` its tables
//! do not cover. Run by [`super::virtual_service_tests`].

use super::vs_cases::{Case, Want::*, vs};

const OURS: &str = "issue: Istio parity";
const TO_BAZ: &str = "http: [{route: [{destination: {host: foo.baz}}]}]";

fn with(extra: &str) -> String {
    format!("{{{extra}, {TO_BAZ}}}")
}

/// What the issue lists as refused or accepted wrongly before, and other rules of
/// `ValidateVirtualService` the Istio tables do not cover.
#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
pub(super) fn parity_cases() -> Vec<Case> {
    let r = |extra: &str| {
        format!(
            "{{hosts: [foo.bar], http: [{{route: [{{destination: {{host: foo.baz}}}}], {extra}}}]}}"
        )
    };
    vec![
        vs(
            OURS,
            "duplicate literal hosts",
            &with("hosts: [a.example.com, a.example.com]"),
            Error("spec.hosts[1]"),
        ),
        vs(
            OURS,
            "host with a wildcard in the middle",
            &with("hosts: ['foo.*.com']"),
            Error("spec.hosts[0]"),
        ),
        vs(
            OURS,
            "IP address as host",
            &with("hosts: [10.0.0.1]"),
            Valid,
        ),
        vs(OURS, "short name host", &with("hosts: [reviews]"), Valid),
        vs(
            OURS,
            "mirrorPercentage out of range without mirror",
            &r("mirrorPercentage: {value: 200}"),
            Error("spec.http[0].mirrorPercentage.value"),
        ),
        vs(
            OURS,
            ":authority added in request headers",
            &r("headers: {request: {add: {':authority': foo}}}"),
            Valid,
        ),
        vs(
            OURS,
            ":path set in request headers",
            &r("headers: {request: {set: {':path': /x}}}"),
            Error("spec.http[0].headers.request.set.:path"),
        ),
        vs(
            OURS,
            "host set in response headers",
            &r("headers: {response: {set: {host: x}}}"),
            Error("spec.http[0].headers.response.set.host"),
        ),
        vs(
            OURS,
            ":authority removed",
            &r("headers: {request: {remove: [':authority']}}"),
            Error("spec.http[0].headers.request.remove[0]"),
        ),
        vs(
            OURS,
            "header value with a newline",
            &r("headers: {request: {set: {x-a: \"a\\nb\"}}}"),
            Error("spec.http[0].headers.request.set.x-a"),
        ),
        vs(
            OURS,
            "pseudo-header matches",
            &r(
                "match: [{headers: {':method': {exact: GET}, ':authority': {exact: a}, ':scheme': {exact: http}, ':path': {prefix: /a}}}]",
            ),
            Valid,
        ),
        vs(
            OURS,
            "unknown pseudo-header match",
            &r("match: [{headers: {':foo': {exact: a}}}]"),
            Error("spec.http[0].match[0].headers.:foo"),
        ),
        vs(
            OURS,
            "upper-case header match (shadowmesh: lower-case)",
            &r("match: [{headers: {User-Agent: {exact: a}}}]"),
            Error("spec.http[0].match[0].headers.User-Agent"),
        ),
        vs(
            OURS,
            "timeout under 1ms",
            &r("timeout: 0.5ms"),
            Error("spec.http[0].timeout"),
        ),
        vs(
            OURS,
            "timeout 0s",
            &r("timeout: 0s"),
            Error("spec.http[0].timeout"),
        ),
        vs(
            OURS,
            "timeout below ms precision",
            &r("timeout: 1.0005s"),
            Error("spec.http[0].timeout"),
        ),
        vs(
            OURS,
            "timeout not a duration",
            &r("timeout: soon"),
            Error("spec.http[0].timeout"),
        ),
        vs(
            OURS,
            "match port out of range",
            &r("match: [{port: 70000}]"),
            Error("spec.http[0].match[0].port"),
        ),
        vs(
            OURS,
            "match port 0 is unset",
            &r("match: [{port: 0}]"),
            Valid,
        ),
        vs(
            OURS,
            "bad source label",
            &r("match: [{sourceLabels: {'a b': x}}]"),
            Error("spec.http[0].match[0].sourceLabels"),
        ),
        vs(
            OURS,
            "bad source namespace",
            &r("match: [{sourceNamespace: Not_A_Label}]"),
            Error("spec.http[0].match[0].sourceNamespace"),
        ),
        vs(
            OURS,
            "bad match gateway",
            &r("match: [{gateways: ['ns/Bad_Name']}]"),
            Error("spec.http[0].match[0].gateways[0]"),
        ),
        vs(
            OURS,
            "exportTo valid",
            &with("hosts: [foo.bar], exportTo: ['.', ns1]"),
            Valid,
        ),
        vs(
            OURS,
            "exportTo ~",
            &with("hosts: [foo.bar], exportTo: ['~']"),
            Error("spec.exportTo[0]"),
        ),
        vs(
            OURS,
            "exportTo * and a namespace",
            &with("hosts: [foo.bar], exportTo: ['*', ns1]"),
            Error("spec.exportTo"),
        ),
        vs(
            OURS,
            "bad subset name",
            "{hosts: [foo.bar], http: [{route: [{destination: {host: foo.baz, subset: v_1}}]}]}",
            Error("spec.http[0].route[0].destination.subset"),
        ),
        vs(
            OURS,
            "destination port out of range",
            "{hosts: [foo.bar], http: [{route: [{destination: {host: foo.baz, port: {number: 70000}}}]}]}",
            Error("spec.http[0].route[0].destination.port.number"),
        ),
        vs(
            OURS,
            "mirror host *",
            &r("mirror: {host: '*'}"),
            Error("spec.http[0].mirror.host"),
        ),
        vs(
            OURS,
            "weight over int32",
            "{hosts: [foo.bar], http: [{route: [{destination: {host: a}, weight: 3000000000}, {destination: {host: b}}]}]}",
            Error("spec.http[0].route[0].weight"),
        ),
        vs(
            OURS,
            "tcp route with bad subnet",
            "{hosts: [foo.bar], tcp: [{match: [{destinationSubnets: [10.0.0.0/33]}], route: [{destination: {host: foo.baz}}]}]}",
            Error("spec.tcp[0].match[0].destinationSubnets[0]"),
        ),
        vs(
            OURS,
            "tcp route valid",
            "{hosts: [foo.bar], tcp: [{match: [{port: 27017, destinationSubnets: [10.0.0.0/8], sourceSubnet: 1.2.3.4}], route: [{destination: {host: mongo.backup.svc.cluster.local, port: {number: 5555}}}]}]}",
            Valid,
        ),
        vs(
            OURS,
            "tcp weights all zero",
            "{hosts: [foo.bar], tcp: [{route: [{destination: {host: a}, weight: 0}, {destination: {host: b}, weight: 0}]}]}",
            Error("spec.tcp[0].route"),
        ),
        vs(
            OURS,
            "tls route without match",
            "{hosts: [foo.bar], tls: [{route: [{destination: {host: foo.baz}}]}]}",
            Error("spec.tls[0].match"),
        ),
        vs(
            OURS,
            "tls match without sniHosts",
            "{hosts: [foo.bar], tls: [{match: [{port: 443}], route: [{destination: {host: foo.baz}}]}]}",
            Error("spec.tls[0].match[0].sniHosts"),
        ),
        vs(
            OURS,
            "sni host outside the hosts",
            "{hosts: [foo.bar], tls: [{match: [{sniHosts: [other.com]}], route: [{destination: {host: foo.baz}}]}]}",
            Error("spec.tls[0].match[0].sniHosts[0]"),
        ),
        vs(
            OURS,
            "sni host under a wildcard host",
            "{hosts: ['*.bar.com'], tls: [{match: [{sniHosts: [a.bar.com]}], route: [{destination: {host: foo.baz}}]}]}",
            Valid,
        ),
        vs(
            OURS,
            "rule after a catch-all is never used",
            "{hosts: [foo.bar], http: [{route: [{destination: {host: a}}]}, {match: [{uri: {prefix: /x}}], route: [{destination: {host: b}}]}]}",
            Warn,
        ),
        vs(
            OURS,
            "duplicate match is never used",
            "{hosts: [foo.bar], http: [{match: [{uri: {exact: /x}}], route: [{destination: {host: a}}]}, {match: [{uri: {exact: /x}}], route: [{destination: {host: b}}]}]}",
            Warn,
        ),
        vs(
            OURS,
            "longer prefix after a shorter one is never used",
            "{hosts: [foo.bar], http: [{match: [{uri: {prefix: /api}}], route: [{destination: {host: a}}]}, {match: [{uri: {prefix: /api/v2}}], route: [{destination: {host: b}}]}]}",
            Warn,
        ),
        vs(
            OURS,
            "shorter prefix after a longer one is fine",
            "{hosts: [foo.bar], http: [{match: [{uri: {prefix: /api/v2}}], route: [{destination: {host: a}}]}, {match: [{uri: {prefix: /api}}], route: [{destination: {host: b}}]}]}",
            Clean,
        ),
        vs(
            OURS,
            "tcp rule after a catch-all is never used",
            "{hosts: [foo.bar], tcp: [{route: [{destination: {host: a}}]}, {match: [{port: 1}], route: [{destination: {host: b}}]}]}",
            Warn,
        ),
        vs(
            OURS,
            "unknown field named with its path",
            &r("retries: {attempts: 1, tryAgain: true}"),
            Error("spec.http[0].retries.tryAgain"),
        ),
    ]
}
