//! What Istio accepts, shadowmesh accepts too, from validation through the compiler: settings
//! it does not act on get one warning naming the field (never two), per-resource mistakes one
//! error (never two), and a DestinationRule's subsets are checked even when its host has no
//! ServiceEntry.

use std::path::Path;

use crate::config::{ConfigSet, Diagnostic, parse_into};
use crate::model::{ProxyIdentity, compile};

/// `calcbackendsvc` with one endpoint, and no DestinationRule.
const SERVICE: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: calc, namespace: challengeistio}\nspec:\n  hosts: [calcbackendsvc]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.1, ports: {http: 9081}, labels: {version: v1}}]\n";

/// Compiles [`SERVICE`] plus `extra`; the diagnostics (of reading too) and whether a table
/// came out.
fn compiled(extra: &str) -> (Vec<Diagnostic>, bool) {
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    parse_into(
        &mut set,
        Path::new("svc.yaml"),
        SERVICE,
        "default",
        &mut diags,
    );
    parse_into(
        &mut set,
        Path::new("extra.yaml"),
        extra,
        "default",
        &mut diags,
    );
    let table = compile(&set, &ProxyIdentity::default(), &mut diags);
    (diags, table.is_some())
}

fn rule(policy: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: calcbackend-rule, namespace: challengeistio}}\nspec:\n  host: calcbackendsvc\n  trafficPolicy: {policy}\n  subsets: [{{name: v1, labels: {{version: v1}}}}]\n"
    )
}

fn entry(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: ext, namespace: challengeistio}}\nspec: {spec}\n"
    )
}

/// The diagnostics at `field`.
fn at<'a>(diags: &'a [Diagnostic], field: &str) -> Vec<&'a Diagnostic> {
    diags
        .iter()
        .filter(|d| d.field.as_deref() == Some(field))
        .collect()
}

fn errors(diags: &[Diagnostic]) -> Vec<&Diagnostic> {
    diags.iter().filter(|d| d.is_error()).collect()
}

#[test]
fn settings_not_acted_on_are_accepted_with_one_warning_each() {
    const TP: &str = "spec.trafficPolicy";
    let cases = [
        (
            "{connectionPool: {http: {http2KeepAlive: {interval: 15s, timeout: 5s}}}}",
            "connectionPool.http.http2KeepAlive",
        ),
        (
            "{connectionPool: {tcp: {tcpKeepalive: {time: 60s, interval: 10s, probes: 3}}}}",
            "connectionPool.tcp.tcpKeepalive",
        ),
        (
            "{loadBalancer: {zoneAwareLbSetting: {enabled: true}}, outlierDetection: {}}",
            "loadBalancer.zoneAwareLbSetting",
        ),
        ("{tls: {mode: ISTIO_MUTUAL}}", "tls.mode"),
        (
            "{tls: {mode: SIMPLE, credentialName: calc-secret}}",
            "tls.credentialName",
        ),
        (
            "{loadBalancer: {warmup: {duration: 30s, minimumPercent: 10, aggression: 2}}}",
            "loadBalancer.warmup",
        ),
        (
            "{outlierDetection: {outlierDetectionHttpErrorCodes: [500, 503]}}",
            "outlierDetection.outlierDetectionHttpErrorCodes",
        ),
        (
            "{portLevelSettings: [{port: {number: 80}, connectionPool: {tcp: {tcpKeepalive: {time: 60s}}}}]}",
            "portLevelSettings[0].connectionPool.tcp.tcpKeepalive",
        ),
        ("{retryBudget: {percent: 20}}", "retryBudget"),
    ];
    for (policy, field) in cases {
        let (diags, ok) = compiled(&rule(policy));
        assert!(ok && errors(&diags).is_empty(), "{policy}: {diags:#?}");
        let warned = at(&diags, &format!("{TP}.{field}"));
        assert_eq!(warned.len(), 1, "{policy}: {diags:#?}");
        assert!(!warned[0].is_error());
    }
}

#[test]
fn service_entries_istio_accepts_compile() {
    let cases = [
        (
            "{hosts: [x.example.com], addresses: [10.1.1.2], exportTo: ['.'], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS, endpoints: [{address: 127.0.0.1, weight: 2}]}",
            Some("spec.endpoints[0].weight"),
        ),
        (
            "{hosts: ['*.google.com'], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DYNAMIC_DNS}",
            None,
        ),
        (
            "{hosts: [www.example.com], addresses: [10.1.1.1], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, endpoints: [{network: cluster-1}, {address: 127.0.0.1}]}",
            Some("spec.endpoints[0].address"),
        ),
        (
            "{hosts: [uds.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC, endpoints: [{address: 'unix:///run/app.sock'}]}",
            Some("spec.endpoints[0].address"),
        ),
    ];
    for (spec, warned) in cases {
        let (diags, ok) = compiled(&entry(spec));
        assert!(ok && errors(&diags).is_empty(), "{spec}: {diags:#?}");
        if let Some(field) = warned {
            assert_eq!(at(&diags, field).len(), 1, "{spec}: {diags:#?}");
        }
    }
}

#[test]
fn per_resource_mistakes_are_one_error_each() {
    let cases = [
        (
            rule("{connectionPool: {tcp: {maxConnections: -1}}}"),
            "spec.trafficPolicy.connectionPool.tcp.maxConnections",
        ),
        (
            rule("{connectionPool: {tcp: {connectTimeout: 1x}}}"),
            "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        ),
        (
            rule("{outlierDetection: {maxEjectionPercent: 101}}"),
            "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
        ),
        (
            rule("{loadBalancer: {simple: FASTEST}}"),
            "spec.trafficPolicy.loadBalancer.simple",
        ),
        (
            entry(
                "{hosts: [a.example.com], ports: [{number: 70000, name: http, protocol: HTTP}], resolution: DNS}",
            ),
            "spec.ports[0].number",
        ),
        (
            entry(
                "{hosts: [a.example.com], ports: [{number: 80, name: http}], resolution: STATIC, endpoints: [{address: a.example.com}]}",
            ),
            "spec.endpoints[0].address",
        ),
        (
            entry("{hosts: [a.example.com], ports: [{number: 80, name: http}], resolution: LATER}"),
            "spec.resolution",
        ),
    ];
    for (yaml, field) in cases {
        let (diags, ok) = compiled(&yaml);
        let errs = errors(&diags);
        assert!(!ok, "{yaml}");
        assert_eq!(errs.len(), 1, "{yaml}: {errs:#?}");
        assert_eq!(errs[0].field.as_deref(), Some(field), "{yaml}: {errs:#?}");
    }
}

#[test]
fn subsets_are_checked_without_a_service_entry() {
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: challengeistio}\nspec:\n  host: nowhere.example.com\n  subsets: [{name: V_1}, {name: v2, trafficPolicy: {}}]\n";
    let (diags, ok) = compiled(dr);
    assert!(!ok);
    let fields: Vec<&str> = errors(&diags)
        .iter()
        .filter_map(|d| d.field.as_deref())
        .collect();
    assert_eq!(
        fields,
        ["spec.subsets[0].name", "spec.subsets[1].trafficPolicy"],
        "{diags:#?}"
    );
}

#[test]
fn unknown_fields_are_errors_naming_their_path() {
    let (diags, _) = compiled(&rule("{loadBalancer: {simpel: ROUND_ROBIN}}"));
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0]
            .field
            .as_deref()
            .is_some_and(|f| f.starts_with("spec.trafficPolicy.loadBalancer"))
            && errs[0].message.contains("simpel"),
        "{errs:#?}"
    );
}
