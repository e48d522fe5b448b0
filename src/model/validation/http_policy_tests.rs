//! Istio's table tests for fault injection and CORS (`TestValidateHTTPFaultInjectionAbort`,
//! `TestValidateHTTPFaultInjectionDelay`, `TestValidateHTTPStatus`, `TestValidateCORSPolicy`),
//! ported: the same inputs, written as YAML, must be valid or not as in Istio.

use std::path::PathBuf;

use super::*;
use crate::config::Diagnostic;

/// Runs `check` on `yaml` and returns (usable, error fields).
fn run<T: serde::de::DeserializeOwned>(
    yaml: &str,
    check: fn(&T, &mut Reporter<'_>, &str) -> bool,
) -> (bool, Vec<String>) {
    let wire: T = serde_yaml_ng::from_str(yaml).unwrap();
    let mut out: Vec<Diagnostic> = Vec::new();
    let ok = check(
        &wire,
        &mut Reporter::new(&mut out, PathBuf::from("vs.yaml"), "vs".into()),
        "f",
    );
    let errors: Vec<String> = (out.iter().filter(|d| d.is_error()))
        .map(|d| d.field.clone().unwrap_or_default())
        .collect();
    assert_eq!(ok, errors.is_empty(), "{out:#?}");
    (ok, errors)
}

#[test]
fn validate_http_fault_injection_abort() {
    let cases = [
        ("valid", "{percentage: {value: 20}, httpStatus: 200}", true),
        ("valid default", "{httpStatus: 200}", true),
        (
            "invalid http status",
            "{percentage: {value: 20}, httpStatus: 9000}",
            false,
        ),
        (
            "invalid low http status",
            "{percentage: {value: 20}, httpStatus: 100}",
            false,
        ),
        (
            "valid percentage",
            "{percentage: {value: 0.001}, httpStatus: 200}",
            true,
        ),
        (
            "invalid fractional percent",
            "{percentage: {value: -10.0}, httpStatus: 200}",
            false,
        ),
        (
            "grpc: valid",
            "{percentage: {value: 20}, grpcStatus: DEADLINE_EXCEEDED}",
            true,
        ),
        (
            "grpc: valid default percentage",
            "{grpcStatus: DEADLINE_EXCEEDED}",
            true,
        ),
        (
            "grpc: invalid status",
            "{percentage: {value: 20}, grpcStatus: BAD_STATUS}",
            false,
        ),
        (
            "grpc: valid percentage",
            "{percentage: {value: 0.001}, grpcStatus: INTERNAL}",
            true,
        ),
        (
            "grpc: invalid fractional",
            "{percentage: {value: -10.0}, grpcStatus: INTERNAL}",
            false,
        ),
        ("http2 error", "{http2Error: CANCEL}", false),
        (
            "two kinds",
            "{httpStatus: 500, grpcStatus: INTERNAL}",
            false,
        ),
        (
            "tiny percentage",
            "{percentage: {value: 0.00001}, httpStatus: 500}",
            false,
        ),
    ];
    for (name, abort, valid) in cases {
        let (ok, _) = run(&format!("{{abort: {abort}}}"), check_fault);
        assert_eq!(ok, valid, "{name}");
    }
}

#[test]
fn validate_http_status() {
    for (status, valid) in [
        (-100, false),
        (0, false),
        (200, true),
        (600, true),
        (601, false),
    ] {
        let (ok, errors) = run(&format!("{{abort: {{httpStatus: {status}}}}}"), check_fault);
        assert_eq!(ok, valid, "{status}");
        if !valid {
            assert_eq!(errors, ["f.abort.httpStatus"]);
        }
    }
}

#[test]
fn validate_http_fault_injection_delay() {
    let cases = [
        (
            "valid fixed",
            "{percentage: {value: 20}, fixedDelay: 3s}",
            true,
        ),
        ("valid default", "{fixedDelay: 3s}", true),
        (
            "invalid percent",
            "{percentage: {value: 101}, fixedDelay: 3s}",
            false,
        ),
        (
            "invalid delay",
            "{percentage: {value: 20}, fixedDelay: 3.000000042s}",
            false,
        ),
        (
            "valid fractional",
            "{percentage: {value: 0.001}, fixedDelay: 3s}",
            true,
        ),
        (
            "invalid fractional",
            "{percentage: {value: -10.0}, fixedDelay: 3s}",
            false,
        ),
        ("under a millisecond", "{fixedDelay: 500us}", false),
        ("exponential", "{exponentialDelay: 1s}", false),
        ("legacy percent", "{percent: 50, fixedDelay: 1s}", true),
        (
            "legacy percent too big",
            "{percent: 150, fixedDelay: 1s}",
            false,
        ),
        (
            "both kinds",
            "{fixedDelay: 1s, exponentialDelay: 1s}",
            false,
        ),
    ];
    for (name, delay, valid) in cases {
        let (ok, _) = run(&format!("{{delay: {delay}}}"), check_fault);
        assert_eq!(ok, valid, "{name}");
    }
}

#[test]
fn a_fault_needs_an_abort_or_a_delay() {
    assert_eq!(run("{}", check_fault), (false, vec!["f".to_string()]));
}

#[test]
fn an_abort_without_an_error_type_is_only_a_warning() {
    assert!(run("{abort: {percentage: {value: 10}}}", check_fault).0);
}

#[test]
fn validate_cors_policy() {
    let rest = "allowMethods: [GET, POST], allowHeaders: [header1, header2]";
    let cases = [
        (
            "valid",
            format!("{{{rest}, exposeHeaders: [header3], maxAge: 2s}}"),
            true,
        ),
        (
            "bad method",
            "{allowMethods: [GET, PUTT], exposeHeaders: [header3], maxAge: 2s}".into(),
            false,
        ),
        (
            "bad header",
            format!("{{{rest}, exposeHeaders: [\"\"], maxAge: 2s}}"),
            false,
        ),
        (
            "bad max age",
            format!("{{{rest}, maxAge: 2.000000042s}}"),
            false,
        ),
        (
            "max age not whole seconds",
            format!("{{{rest}, maxAge: 1500ms}}"),
            false,
        ),
        (
            "empty matchType AllowOrigins",
            format!(
                "{{{rest}, allowOrigins: [{{exact: \"\"}}, {{prefix: \"\"}}, {{regex: \"\"}}]}}"
            ),
            false,
        ),
        (
            "non empty matchType AllowOrigins",
            format!(
                "{{{rest}, allowOrigins: [{{exact: exact}}, {{prefix: prefix}}, {{regex: regex}}]}}"
            ),
            true,
        ),
        (
            "bad regex origin",
            "{allowOrigins: [{regex: \"(\"}]}".into(),
            false,
        ),
        (
            "wildcard header",
            "{allowHeaders: [\"*\"], exposeHeaders: [\"*\"]}".into(),
            true,
        ),
        (
            "header with space",
            "{allowHeaders: [\"x foo\"]}".into(),
            false,
        ),
        (
            "ignore unmatched",
            "{unmatchedPreflights: IGNORE}".into(),
            true,
        ),
        (
            "unknown unmatched",
            "{unmatchedPreflights: DROP}".into(),
            false,
        ),
    ];
    for (name, cors, valid) in cases {
        assert_eq!(run(&cors, check_cors).0, valid, "{name}: {cors}");
    }
}

#[test]
fn cors_errors_name_each_entry() {
    let (_, errors) = run(
        "{allowOrigins: [{exact: a}, {exact: \"\"}], allowMethods: [GET, get]}",
        check_cors,
    );
    assert_eq!(errors, ["f.allowOrigins[1]", "f.allowMethods[1]"]);
}
