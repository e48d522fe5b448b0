//! Istio's `TestValidateHTTPRoute` (validation_test.go), `TestValidateRootHTTPRoute` and
//! `TestValidateDelegateHTTPRoute` (virtualservice_test.go), ported case by case.

use super::vs_cases::{Case, Want::*, delegate_route, route, run};

const T: &str = "TestValidateHTTPRoute";
const ROOT: &str = "TestValidateRootHTTPRoute";
const DEL: &str = "TestValidateDelegateHTTPRoute";
const TO_BAZ: &str = "route: [{destination: {host: foo.baz}}]";
const TO_BAR: &str = "route: [{destination: {host: foo.bar}}]";
const WEIGHTED: &str = "route: [{destination: {host: foo.baz.south}, weight: 25}, {destination: {host: foo.baz.east}, weight: 75}]";
const REDIRECT: &str = "redirect: {uri: /lerp, authority: foo.biz}";
const DELEGATE: &str = "delegate: {name: test, namespace: test}";
const VALID_HEADERS: &str = "headers: {request: {add: {name: ''}, set: {name: ''}, remove: [name]}, response: {add: {name: ''}, set: {name: ''}, remove: [name]}}";

fn header_op(side: &str, op: &str) -> String {
    let ops = if op == "remove" {
        "remove: ['']".to_string()
    } else {
        format!("{op}: {{'': value}}")
    };
    format!("{{route: [{{destination: {{host: foo.baz}}, headers: {{{side}: {{{ops}}}}}}}]}}")
}

fn value_op(op: &str, value: &str) -> String {
    format!(
        "{{route: [{{destination: {{host: foo.baz}}, headers: {{response: {{{op}: {{name: '{value}'}}}}}}}}]}}"
    )
}

/// The cases `TestValidateHTTPRoute` and `TestValidateDelegateHTTPRoute` share; `mk` puts a
/// route in a VirtualService (with hosts, or a delegate).
#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
fn common(
    from: &'static str,
    mk: fn(&'static str, &'static str, &str, super::vs_cases::Want) -> Case,
) -> Vec<Case> {
    let dest_headers = |side: &str, op: &str| -> String { header_op(side, op) };
    let mut c = vec![
        mk(from, "empty", "{}", Error("spec.http[0]")),
        mk(from, "simple", &format!("{{{TO_BAZ}}}"), Valid),
        mk(
            from,
            "no destination",
            "{route: [{}]}",
            Error("spec.http[0].route[0].destination"),
        ),
        mk(from, "weighted", &format!("{{{WEIGHTED}}}"), Valid),
        mk(
            from,
            "total weight < 100",
            "{route: [{destination: {host: foo.baz.south}, weight: 49}, {destination: {host: foo.baz.east}, weight: 50}]}",
            Valid,
        ),
        mk(from, "simple redirect", &format!("{{{REDIRECT}}}"), Valid),
        mk(
            from,
            "conflicting redirect and route",
            &format!("{{{TO_BAZ}, {REDIRECT}}}"),
            Error("spec.http[0].route"),
        ),
        mk(
            from,
            "request response headers",
            &format!("{{{TO_BAZ}}}"),
            Valid,
        ),
        mk(
            from,
            "valid headers",
            &format!("{{route: [{{destination: {{host: foo.baz}}, {VALID_HEADERS}}}]}}"),
            Valid,
        ),
        mk(
            from,
            "null header match",
            &format!("{{{TO_BAR}, match: [{{headers: {{header: null}}}}]}}"),
            Error("spec.http[0].match[0].headers"),
        ),
        mk(from, "nil match", &format!("{{{TO_BAR}}}"), Valid),
        mk(
            from,
            "match with nil element",
            &format!("{{{TO_BAR}, match: [{{}}]}}"),
            Valid,
        ),
        mk(
            from,
            "invalid mirror percent",
            &format!("{{{TO_BAR}, mirrorPercent: 101}}"),
            Error("spec.http[0].mirrorPercent"),
        ),
        mk(
            from,
            "invalid mirror percentage",
            &format!("{{{TO_BAR}, mirrorPercentage: {{value: 101}}}}"),
            Error("spec.http[0].mirrorPercentage.value"),
        ),
        mk(
            from,
            "valid mirror percentage",
            &format!("{{{TO_BAR}, mirrorPercentage: {{value: 1}}}}"),
            Valid,
        ),
        mk(
            from,
            "negative mirror percentage",
            &format!("{{{TO_BAR}, mirrorPercentage: {{value: -1}}}}"),
            Error("spec.http[0].mirrorPercentage.value"),
        ),
    ];
    for (side, op) in [
        ("request", "add"),
        ("request", "set"),
        ("request", "remove"),
        ("response", "add"),
        ("response", "set"),
        ("response", "remove"),
    ] {
        let name: &'static str =
            Box::leak(format!("empty header name - {side} {op}").into_boxed_str());
        let field: &'static str = Box::leak(
            if op == "remove" {
                format!("spec.http[0].route[0].headers.{side}.remove[0]")
            } else {
                format!("spec.http[0].route[0].headers.{side}.{op}.")
            }
            .into_boxed_str(),
        );
        c.push(mk(from, name, &dest_headers(side, op), Error(field)));
    }
    c
}

fn http_route_cases() -> Vec<Case> {
    let mut c = common(T, route);
    c.extend([
        route(T, "total weight > 100", "{route: [{destination: {host: foo.baz.south}, weight: 550}, {destination: {host: foo.baz.east}, weight: 500}]}", Valid),
        route(T, "prefix_rewrite redirect with prefix URI match", "{match: [{uri: {prefix: /foo}}], redirect: {prefixRewrite: /bar}}", Valid),
        route(T, "prefix_rewrite redirect with exact URI match is invalid", "{match: [{uri: {exact: /foo}}], redirect: {prefixRewrite: /bar}}", Error("spec.http[0].redirect.prefixRewrite")),
        route(T, "prefix_rewrite redirect with regex URI match is invalid", "{match: [{uri: {regex: /foo.*}}], redirect: {prefixRewrite: /bar}}", Error("spec.http[0].redirect.prefixRewrite")),
        route(T, "prefix_rewrite redirect with no URI match (wildcard) is valid", "{match: [{headers: {x-foo: {exact: bar}}}], redirect: {prefixRewrite: /bar}}", Valid),
        route(T, "envoy escaped % set", &value_op("set", "100%%"), Valid),
        route(T, "envoy variable set", &value_op("set", "%HOSTNAME%"), Valid),
        route(T, "envoy unescaped % set", &value_op("set", "abcd%oijasodifj"), Error("spec.http[0].route[0].headers.response.set.name")),
        route(T, "envoy escaped % add", &value_op("add", "100%% and more"), Valid),
        route(T, "envoy variable add", &value_op("add", "hello %HOSTNAME%"), Valid),
        route(T, "envoy unescaped % add", &value_op("add", "abcd%oijasodifj"), Error("spec.http[0].route[0].headers.response.add.name")),
        route(T, "empty prefix header match", &format!("{{{TO_BAR}, match: [{{headers: {{emptyprefix: {{prefix: ''}}}}}}]}}"), Error("spec.http[0].match[0].headers.emptyprefix")),
        route(T, "mirrors without destination", &format!("{{{TO_BAR}, mirrors: [{{}}]}}"), Error("spec.http[0].mirrors[0].destination")),
        route(T, "mirrors invalid mirror percentage", &format!("{{{TO_BAR}, mirrors: [{{destination: {{host: foo.baz}}}}, {{destination: {{host: foo.baz}}, percentage: {{value: 101}}}}]}}"), Error("spec.http[0].mirrors[1].percentage.value")),
        route(T, "mirrors valid mirror percentage", &format!("{{{TO_BAR}, mirrors: [{{destination: {{host: foo.baz}}, percentage: {{value: 1}}}}, {{destination: {{host: foo.baz}}, percentage: {{value: 50}}}}]}}"), Valid),
        route(T, "mirrors negative mirror percentage", &format!("{{{TO_BAR}, mirrors: [{{destination: {{host: foo.baz}}, percentage: {{value: -1}}}}]}}"), Error("spec.http[0].mirrors[0].percentage.value")),
        route(T, "conflicting mirror and mirrors", &format!("{{{TO_BAZ}, mirror: {{host: foo.baz}}, mirrors: [{{destination: {{host: foo.bar}}}}]}}"), Error("spec.http[0].mirrors")),
    ]);
    c
}

#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
fn root_cases() -> Vec<Case> {
    let d = |extra: &str| format!("{{{DELEGATE}, {extra}}}");
    let rd = |m: &str| format!("{{redirect: {{uri: /, authority: foo.biz}}, match: [{m}]}}");
    vec![
        route(ROOT, "simple", &format!("{{{DELEGATE}}}"), Valid),
        route(
            ROOT,
            "route and delegate conflict",
            &d(TO_BAZ),
            Error("spec.http[0].route"),
        ),
        route(
            ROOT,
            "redirect and delegate conflict",
            &d(REDIRECT),
            Error("spec.http[0].redirect"),
        ),
        route(
            ROOT,
            "null header match",
            &d("match: [{headers: {header: null}}]"),
            Error("spec.http[0].match[0].headers"),
        ),
        route(
            ROOT,
            "prefix header match",
            &d("match: [{headers: {header: {prefix: test}}}]"),
            Valid,
        ),
        route(
            ROOT,
            "empty prefix header match (delegate)",
            &d("match: [{headers: {header: {prefix: ''}}}]"),
            Error("spec.http[0].match[0].headers.header"),
        ),
        route(
            ROOT,
            "exact header match",
            &d("match: [{headers: {header: {exact: test}}}]"),
            Valid,
        ),
        route(
            ROOT,
            "regex header match",
            &d("match: [{headers: {header: {regex: test}}}]"),
            Valid,
        ),
        route(
            ROOT,
            "exact without headers match",
            &rd("{withoutHeaders: {header: {exact: test}}}"),
            Valid,
        ),
        route(
            ROOT,
            "regex without headers match",
            &rd("{withoutHeaders: {header: {regex: test}}}"),
            Valid,
        ),
        route(
            ROOT,
            "regex without headers match ?",
            &rd("{withoutHeaders: {header: {regex: '?'}}}"),
            Error("spec.http[0].match[0].withoutHeaders.header"),
        ),
        route(
            ROOT,
            "regex without headers match *",
            &rd("{withoutHeaders: {header: {regex: '*'}}}"),
            Valid,
        ),
        route(
            ROOT,
            "regex uri match",
            &d("match: [{uri: {regex: test}}]"),
            Valid,
        ),
        route(
            ROOT,
            "prefix uri match",
            &d("match: [{uri: {prefix: test}}]"),
            Valid,
        ),
        route(
            ROOT,
            "exact uri match",
            &d("match: [{uri: {exact: test}}]"),
            Valid,
        ),
        route(
            ROOT,
            "prefix queryParams match",
            &d("match: [{queryParams: {q: {prefix: test}}}]"),
            Valid,
        ),
        route(
            ROOT,
            "exact queryParams match",
            &d("match: [{queryParams: {q: {exact: test}}}]"),
            Valid,
        ),
        route(
            ROOT,
            "regex queryParams match",
            &d("match: [{headers: {q: {regex: test}}}]"),
            Valid,
        ),
        route(
            ROOT,
            "empty prefix match in method",
            &rd("{method: {prefix: ''}}"),
            Error("spec.http[0].match[0].method"),
        ),
        route(
            ROOT,
            "empty regex match in method",
            &rd("{method: {regex: ''}}"),
            Error("spec.http[0].match[0].method"),
        ),
        route(
            ROOT,
            "empty prefix match in uri",
            &rd("{uri: {prefix: ''}}"),
            Valid,
        ),
        route(
            ROOT,
            "empty regex match in uri",
            &rd("{uri: {regex: ''}}"),
            Error("spec.http[0].match[0].uri"),
        ),
        route(
            ROOT,
            "empty regex match in query",
            &rd("{queryParams: {q: {regex: ''}}}"),
            Error("spec.http[0].match[0].queryParams.q"),
        ),
        route(
            ROOT,
            "empty regex match in scheme",
            &rd("{scheme: {regex: ''}}"),
            Error("spec.http[0].match[0].scheme"),
        ),
        route(
            ROOT,
            "empty prefix match in scheme",
            &rd("{scheme: {prefix: ''}}"),
            Error("spec.http[0].match[0].scheme"),
        ),
        route(
            ROOT,
            "empty prefix header match",
            "{match: [{headers: {header: {prefix: ''}}}]}",
            Error("spec.http[0].match[0].headers.header"),
        ),
    ]
}

fn delegate_cases() -> Vec<Case> {
    let mut c = common(DEL, delegate_route);
    c.extend([
        delegate_route(DEL, "total weight > 100", "{route: [{destination: {host: foo.baz.south}, weight: 55}, {destination: {host: foo.baz.east}, weight: 50}]}", Valid),
        delegate_route(DEL, "delegate route with delegate", &format!("{{{DELEGATE}}}"), Error("spec.http[0].delegate")),
    ]);
    c
}

#[test]
fn istio_http_route_tables() {
    let mut cases = http_route_cases();
    cases.extend(root_cases());
    cases.extend(delegate_cases());
    run(&cases, &[]);
}
