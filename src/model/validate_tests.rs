//! Validation in the spirit of `istioctl analyze`: each broken config gives an error naming the
//! file, the resource and the field path, and all errors are reported together.

use std::path::{Path, PathBuf};

use crate::config::Diagnostic;
use crate::config::{ConfigSet, parse_into};
use crate::model::test_fixtures::compile_with_seed;

fn diagnostics(broken: &str) -> Vec<Diagnostic> {
    compile_with_seed(&[("broken.yaml", broken)]).1
}

fn errors(broken: &str) -> Vec<Diagnostic> {
    diagnostics(broken)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect()
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: backend-vs\n  namespace: challengeistio\nspec:\n  hosts: [calcbackendsvc]\n  http:\n{http}"
    )
}

/// Asserts exactly one error, at `field` of the VirtualService in broken.yaml, saying `says`.
fn assert_one(broken: &str, field: &str, says: &str) {
    let errs = errors(broken);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = &errs[0];
    assert_eq!(
        e.file.as_deref(),
        Some(PathBuf::from("broken.yaml").as_path()),
        "{e}"
    );
    assert_eq!(
        e.resource.as_deref(),
        Some("VirtualService challengeistio/backend-vs"),
        "{e}"
    );
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert!(e.message.contains(says), "{e} should say {says:?}");
}

const V1: &str = "{host: calcbackendsvc, subset: v1}";

#[test]
fn unknown_subset() {
    assert_one(
        &vs(&format!(
            "  - route: [{{destination: {V1}}}]\n  - route: [{{destination: {{host: calcbackendsvc, subset: v9}}}}]\n"
        )),
        "spec.http[1].route[0].destination.subset",
        "Referenced host+subset in destinationrule not found: \"calcbackendsvc.challengeistio.svc.cluster.local+v9\" (DestinationRule challengeistio/calcbackend-rule defines v1, v2, v3)",
    );
}

/// Findings about how resources refer to each other carry `istioctl analyze`'s code, and the
/// message names both resources where there are two.
#[test]
fn cross_resource_findings_carry_istioctl_analyze_codes() {
    let cases = [
        (
            "  - route: [{destination: {host: nosuchsvc}}]\n",
            "IST0101",
            "Referenced host not found: \"nosuchsvc\"",
        ),
        (
            "  - route: [{destination: {host: calcbackendsvc, subset: v9}}]\n",
            "IST0101",
            "(DestinationRule challengeistio/calcbackend-rule defines v1, v2, v3)",
        ),
    ];
    let twice = format!(
        "{}\n---\n{}",
        vs("  - route: [{destination: {host: calcbackendsvc}}]\n"),
        vs("  - route: [{destination: {host: calcbackendsvc}}]\n")
            .replace("backend-vs", "backend-vs-2")
    );
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: lost, namespace: challengeistio}\nspec: {host: nowhere}\n";
    let cases = cases.map(|(http, code, says)| (vs(http), code, says)).into_iter().chain([
        (
            twice,
            "IST0109",
            "The VirtualServices VirtualService challengeistio/backend-vs and VirtualService challengeistio/backend-vs-2 define the same host",
        ),
        (
            dr.to_string(),
            "IST0174",
            "The host nowhere.challengeistio.svc.cluster.local defined in the DestinationRule does not match any services",
        ),
    ]);
    for (yaml, code, says) in cases {
        let found = diagnostics(&yaml);
        let d = found.iter().find(|d| d.code == Some(code));
        let d = d.unwrap_or_else(|| panic!("no {code} in {found:#?}"));
        assert!(d.message.contains(says), "{d} should say {says:?}");
        assert!(
            d.to_string().contains(&format!("{code} {says}"))
                || d.to_string().contains(&format!("{code} ")),
            "{d}"
        );
    }
}

#[test]
fn negative_weight_and_all_zero_weights() {
    assert_one(
        &vs(&format!(
            "  - route:\n    - {{destination: {V1}, weight: -5}}\n    - {{destination: {V1}, weight: 105}}\n"
        )),
        "spec.http[0].route[0].weight",
        "negative",
    );
    assert_one(
        &vs(&format!(
            "  - route:\n    - {{destination: {V1}, weight: 0}}\n    - {{destination: {V1}}}\n"
        )),
        "spec.http[0].route",
        "all destination weights are zero",
    );
}

#[test]
fn weights_over_int32_are_refused_not_summed_past_u64() {
    // Istio's weight is an int32; three i64::MAX weights used to overflow the running sum
    // (a panic with overflow checks, a wrapped total without).
    let w = i64::MAX;
    let errs = errors(&vs(&format!(
        "  - route:\n    - {{destination: {V1}, weight: 1}}\n    - {{destination: {V1}, weight: {w}}}\n    - {{destination: {V1}, weight: {w}}}\n    - {{destination: {V1}, weight: {w}}}\n"
    )));
    let fields: Vec<_> = errs.iter().filter_map(|e| e.field.as_deref()).collect();
    assert_eq!(
        fields,
        [
            "spec.http[0].route[1].weight",
            "spec.http[0].route[2].weight",
            "spec.http[0].route[3].weight"
        ],
        "{errs:#?}"
    );
    assert!(
        errs.iter().all(|e| e.message.contains("over 2147483647")),
        "{errs:#?}"
    );
}

#[test]
fn weights_not_summing_to_100_are_a_warning() {
    let diags = diagnostics(&vs(&format!(
        "  - route:\n    - {{destination: {V1}, weight: 1}}\n    - {{destination: {V1}, weight: 3}}\n"
    )));
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("add up to 4, not 100"))
    );
}

#[test]
fn mirror_and_mirrors_together() {
    assert_one(
        &vs(&format!(
            "  - route: [{{destination: {V1}}}]\n    mirror: {V1}\n    mirrors: [{{destination: {V1}}}]\n"
        )),
        "spec.http[0].mirrors",
        "either mirror or mirrors",
    );
}

#[test]
fn percentages_outside_0_to_100() {
    assert_one(
        &vs(&format!(
            "  - route: [{{destination: {V1}}}]\n    mirror: {V1}\n    mirrorPercentage: {{value: 150}}\n"
        )),
        "spec.http[0].mirrorPercentage.value",
        "150 is outside 0 to 100",
    );
    assert_one(
        &vs(&format!(
            "  - route: [{{destination: {V1}}}]\n    mirrors: [{{destination: {V1}, percentage: {{value: -1}}}}]\n"
        )),
        "spec.http[0].mirrors[0].percentage.value",
        "outside 0 to 100",
    );
}

#[test]
fn legacy_mirror_percent_is_deprecated() {
    let diags = diagnostics(&vs(&format!(
        "  - route: [{{destination: {V1}}}]\n    mirror: {V1}\n    mirrorPercent: 30\n"
    )));
    assert!(diags.iter().all(|d| !d.is_error()));
    assert!(
        diags
            .iter()
            .any(|d| d.field.as_deref() == Some("spec.http[0].mirrorPercent")
                && d.message.contains("deprecated"))
    );
}

#[test]
fn bad_and_over_long_regex() {
    assert_one(
        &vs(&format!(
            "  - match: [{{headers: {{user-agent: {{regex: \"(Mobile\"}}}}}}]\n    route: [{{destination: {V1}}}]\n"
        )),
        "spec.http[0].match[0].headers.user-agent",
        "invalid regex",
    );
    let long = "a".repeat(1025);
    assert_one(
        &vs(&format!(
            "  - match: [{{uri: {{regex: {long}}}}}]\n    route: [{{destination: {V1}}}]\n"
        )),
        "spec.http[0].match[0].uri",
        "1025 characters",
    );
}

#[test]
fn upper_case_header_names_and_empty_prefixes() {
    assert_one(
        &vs(&format!(
            "  - match: [{{headers: {{User-Agent: {{regex: .*}}}}}}]\n    route: [{{destination: {V1}}}]\n"
        )),
        "spec.http[0].match[0].headers.User-Agent",
        "lower-case",
    );
    assert_one(
        &vs(&format!(
            "  - match: [{{headers: {{x-a: {{prefix: \"\"}}}}}}]\n    route: [{{destination: {V1}}}]\n"
        )),
        "spec.http[0].match[0].headers.x-a",
        "empty prefix",
    );
}

#[test]
fn host_with_no_endpoints() {
    assert_one(
        &vs("  - route: [{destination: {host: reviews}}]\n"),
        "spec.http[0].route[0].destination.host",
        "has no endpoints",
    );
}

#[test]
fn a_service_without_endpoints_is_a_warning_and_its_routes_stand() {
    let empty = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: canary, namespace: challengeistio}\nspec:\n  hosts: [canary]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n---\n";
    let routes = vs(&format!(
        "  - route: [{{destination: {V1}}}]\n    mirror: {{host: canary}}\n"
    ));
    let (table, diags) = compile_with_seed(&[("broken.yaml", &format!("{empty}{routes}"))]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    assert!(
        diags
            .iter()
            .any(|d| d.field.as_deref() == Some("spec.http[0].mirror.host")
                && d.message.contains("has no endpoints")),
        "{diags:#?}"
    );
    let table = table.expect("compiles");
    let canary = table
        .clusters
        .iter()
        .find(|c| c.service.starts_with("canary."));
    assert!(canary.is_some_and(|c| c.endpoints.is_empty() && !c.passthrough));
}

#[test]
fn duplicate_subset_and_resource_names() {
    let errs = errors(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: calcbackend-rule, namespace: challengeistio}\nspec:\n  host: calcbackendsvc\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v1, labels: {version: v3}}\n",
    );
    assert!(
        errs.iter()
            .any(|e| e.field.as_deref() == Some("spec.subsets[1].name")
                && e.message.contains("defined twice")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.field.as_deref() == Some("metadata.name")
                && e.message.contains("first in svc.yaml")),
        "{errs:#?}"
    );
}

#[test]
fn unknown_fields_are_named_with_their_path() {
    assert_one(
        &vs(&format!(
            "  - route: [{{destination: {V1}}}]\n    mirorr: {V1}\n"
        )),
        "spec.http[0].mirorr",
        "unknown field `mirorr`",
    );
}

#[test]
fn yaml_syntax_errors_give_line_and_column() {
    let errs = errors(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: x\n spec: [\n",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].file.as_deref(), Some(Path::new("broken.yaml")));
    assert!(errs[0].message.contains("line 5"), "{}", errs[0]);
    assert!(errs[0].message.contains("column"), "{}", errs[0]);
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let errs = errors(&vs(&format!(
        "  - route: [{{destination: {{host: calcbackendsvc, subset: v7}}}}]\n  - route: [{{destination: {V1}, weight: -1}}, {{destination: {V1}}}]\n    mirror: {{host: nowhere}}\n"
    )));
    let fields: Vec<&str> = errs.iter().filter_map(|e| e.field.as_deref()).collect();
    assert_eq!(
        fields,
        vec![
            "spec.http[0].route[0].destination.subset",
            "spec.http[1].route[0].weight",
            "spec.http[1].mirror.host",
        ]
    );
}

#[test]
fn other_kinds_are_skipped_and_versions_checked() {
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: x}\nspec: {hosts: [a]}\n";
    parse_into(&mut set, Path::new("k.yaml"), text, "default", &mut diags);
    assert_eq!(set.skipped.len(), 1);
    assert_eq!(set.skipped[0].kind, "Deployment");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].field.as_deref(), Some("apiVersion"));
    assert_eq!(
        diags[0].resource.as_deref(),
        Some("VirtualService default/x")
    );
}

#[test]
fn the_seed_config_is_valid_in_all_three_api_versions() {
    for version in ["v1alpha3", "v1beta1", "v1"] {
        let text = vs(&format!("  - route: [{{destination: {V1}, weight: 100}}]\n    mirror: {{host: calcbackendsvc, subset: v3}}\n"))
            .replace("v1alpha3", version);
        assert!(errors(&text).is_empty(), "{version}");
    }
}
