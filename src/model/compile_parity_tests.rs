//! What Istio accepts compiles: delegate VirtualServices (one no root names, a root whose child
//! is missing: warned), `:authority` in header operations,
//! `redirect.prefixRewrite`, `regex: "*"` in `withoutHeaders`, pseudo-header matches, `tls`,
//! `tcp`, `exportTo`, `retries`. What shadowmesh acts on (`:authority`, `prefixRewrite`,
//! pseudo-headers, `retries`) gets no warning; what it does not act on gets one warning naming the
//! field, never an error; and a problem both validation and the compiler see is one error.

use std::path::Path;

use crate::config::Diagnostic;
use crate::model::test_fixtures::compile_with_seed;

fn compiled(spec: &str) -> (bool, Vec<Diagnostic>) {
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: challengeistio}}\nspec: {spec}\n"
    );
    let (table, diags) = compile_with_seed(&[("vs.yaml", &vs)]);
    (table.is_some(), diags)
}

const V1: &str = "route: [{destination: {host: calcbackendsvc, subset: v1}}]";

#[test]
fn istio_valid_features_compile_with_one_warning_per_field() {
    let cases: [(&str, String, &[&str]); 11] = [
        ("delegate VirtualService", format!("{{http: [{{{V1}}}]}}"), &["spec.hosts"]),
        ("root route with a delegate", "{hosts: [calcbackendsvc], http: [{delegate: {name: d, namespace: challengeistio}}]}".into(), &["spec.http[0].delegate"]),
        (":authority in header operations", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, headers: {{request: {{set: {{':authority': a.example}}}}}}}}]}}"), &[]),
        ("redirect.prefixRewrite", "{hosts: [calcbackendsvc], http: [{match: [{uri: {prefix: /old}}], redirect: {prefixRewrite: /new}}]}".into(), &[]),
        ("regex * in withoutHeaders", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, match: [{{withoutHeaders: {{x-a: {{regex: '*'}}}}}}]}}]}}"), &[]),
        ("pseudo-header match", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, match: [{{headers: {{':method': {{exact: GET}}}}}}]}}]}}"), &[]),
        ("tcp, tls, exportTo, other gateways", format!("{{hosts: [calcbackendsvc], gateways: [mesh, ns/gw], exportTo: ['.'], http: [{{{V1}}}], tcp: [{{route: [{{destination: {{host: calcbackendsvc}}}}]}}], tls: [{{match: [{{sniHosts: [calcbackendsvc]}}], route: [{{destination: {{host: calcbackendsvc}}}}]}}]}}"), &["spec.tls", "spec.tcp", "spec.exportTo", "spec.gateways"]),
        ("Envoy variable in a header value", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, headers: {{response: {{add: {{x-host: '%HOSTNAME%'}}}}}}}}]}}"), &["spec.http[0].headers.response.add.x-host"]),
        ("statPrefix", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, match: [{{statPrefix: api}}]}}]}}"), &["spec.http[0].match[0].statPrefix"]),
        ("queryParams prefix", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, match: [{{queryParams: {{q: {{prefix: a}}}}}}]}}]}}"), &[]),
        ("retries", format!("{{hosts: [calcbackendsvc], http: [{{{V1}, retries: {{attempts: 3, perTryTimeout: 2s, retryOn: '5xx,503', retryRemoteLocalities: true}}}}]}}"), &[]),
    ];
    for (name, spec, warned) in cases {
        let (ok, diags) = compiled(&spec);
        assert!(ok, "{name}: {diags:#?}");
        let mine: Vec<&str> = diags
            .iter()
            .filter(|d| d.file.as_deref() == Some(Path::new("vs.yaml")))
            .filter_map(|d| d.field.as_deref())
            .collect();
        assert_eq!(mine, warned, "{name}: {diags:#?}");
    }
}

#[test]
fn a_problem_seen_by_validation_and_the_compiler_is_one_error() {
    for (spec, field) in [
        (
            format!("{{hosts: [calcbackendsvc], http: [{{{V1}, redirect: {{uri: /x}}}}]}}"),
            "spec.http[0]",
        ),
        (
            format!(
                "{{hosts: [calcbackendsvc], http: [{{{V1}, match: [{{headers: {{X-A: {{exact: a}}}}}}]}}]}}"
            ),
            "spec.http[0].match[0].headers.X-A",
        ),
        (
            format!(
                "{{hosts: [calcbackendsvc], http: [{{{V1}, mirror: {{host: calcbackendsvc}}, mirrorPercentage: {{value: 101}}}}]}}"
            ),
            "spec.http[0].mirrorPercentage.value",
        ),
        (
            "{hosts: [calcbackendsvc], http: [{redirect: {uri: /x, redirectCode: 200}}]}".into(),
            "spec.http[0].redirect.redirectCode",
        ),
        (
            format!("{{hosts: [calcbackendsvc, calcbackendsvc], http: [{{{V1}}}]}}"),
            "spec.hosts[1]",
        ),
    ] {
        let (ok, diags) = compiled(&spec);
        let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
        assert!(!ok);
        assert_eq!(errors.len(), 1, "{spec}: {errors:#?}");
        assert_eq!(errors[0].field.as_deref(), Some(field), "{spec}");
    }
}

#[test]
fn a_compiler_error_inside_a_route_keeps_validations_error_on_the_route() {
    let (_, diags) = compiled("{hosts: [calcbackendsvc], http: [{match: [{uri: {regex: '('}}]}]}");
    let mut fields: Vec<&str> = diags
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.field.as_deref())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["spec.http[0]", "spec.http[0].match[0].uri"],
        "{diags:#?}"
    );
}

#[test]
fn mirror_percentage_out_of_range_without_mirror_is_an_error() {
    let (ok, diags) = compiled(&format!(
        "{{hosts: [calcbackendsvc], http: [{{{V1}, mirrorPercentage: {{value: 150}}}}]}}"
    ));
    assert!(!ok);
    assert!(
        diags
            .iter()
            .any(|d| d.is_error()
                && d.field.as_deref() == Some("spec.http[0].mirrorPercentage.value"))
    );
}
