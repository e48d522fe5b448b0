//! Istio's merge tables (`pilot/pkg/model/virtualservice_test.go`: `TestHasConflict`,
//! `TestMergeHTTPMatchRequests`, `TestMergeHttpRoutes`) ported case by case, with a few cases
//! for rules Istio's code has and its tables do not show.

use crate::config::wire::{HttpMatchRequest, HttpRoute};

use super::delegate_merge::{has_conflict, merge_matches, merge_route};

fn block(yaml: &str) -> HttpMatchRequest {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn blocks(yaml: &str) -> Vec<HttpMatchRequest> {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn http(yaml: &str) -> HttpRoute {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

#[test]
#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
fn conflicts_are_istios() {
    let cases = [
        (
            "regex uri",
            "{uri: {regex: ^/productpage}}",
            "{uri: {prefix: /productpage/v2}}",
            true,
        ),
        (
            "regex uri in root and delegate does not have uri",
            "{uri: {regex: ^/productpage}}",
            "{}",
            false,
        ),
        (
            "regex uri in delegate and root does not have uri",
            "{}",
            "{uri: {regex: ^/productpage}}",
            false,
        ),
        (
            "regex uri in root and delegate has conflicting uri match",
            "{uri: {regex: ^/productpage}}",
            "{uri: {prefix: /productpage}}",
            true,
        ),
        (
            "regex uri in delegate and root has conflicting uri match",
            "{uri: {prefix: /productpage}}",
            "{uri: {regex: ^/productpage}}",
            true,
        ),
        (
            "match uri",
            "{uri: {prefix: /productpage}}",
            "{uri: {prefix: /productpage/v2}}",
            false,
        ),
        (
            "mismatch uri",
            "{uri: {prefix: /productpage/v2}}",
            "{uri: {prefix: /productpage}}",
            true,
        ),
        (
            "match uri exact under prefix",
            "{uri: {prefix: /productpage/v2}}",
            "{uri: {exact: /productpage/v2}}",
            false,
        ),
        (
            "headers not equal",
            "{headers: {header: {exact: h1}}}",
            "{headers: {header: {exact: h2}}}",
            true,
        ),
        (
            "headers equal",
            "{headers: {header: {exact: h1}}}",
            "{headers: {header: {exact: h1}}}",
            false,
        ),
        (
            "headers match",
            "{headers: {header: {prefix: h1}}}",
            "{headers: {header: {exact: h1-v1}}}",
            false,
        ),
        (
            "headers mismatch",
            "{headers: {header: {prefix: h1}}}",
            "{headers: {header: {exact: h2}}}",
            true,
        ),
        (
            "headers prefix mismatch",
            "{headers: {header: {prefix: h1}}}",
            "{headers: {header: {prefix: h2}}}",
            true,
        ),
        (
            "diff headers",
            "{headers: {header: {exact: h1}}}",
            "{headers: {header-2: {exact: h2}}}",
            false,
        ),
        (
            "withoutHeaders mismatch",
            "{withoutHeaders: {header: {prefix: h1}}}",
            "{withoutHeaders: {header: {exact: h2}}}",
            true,
        ),
        ("port unset in root", "{port: 0}", "{port: 8080}", false),
        ("port unset in delegate", "{port: 8080}", "{port: 0}", false),
        ("port", "{port: 8080}", "{port: 8090}", true),
        (
            "sourceLabels mismatch",
            "{sourceLabels: {a: b}}",
            "{sourceLabels: {a: c}}",
            true,
        ),
        (
            "sourceNamespace mismatch",
            "{sourceNamespace: test1}",
            "{sourceNamespace: test2}",
            true,
        ),
        (
            "root has less gateways than delegate",
            "{gateways: [ingress-gateway]}",
            "{gateways: [ingress-gateway, mesh]}",
            true,
        ),
        // Beyond Istio's table: the rules its code has.
        (
            "exact root, same exact",
            "{uri: {exact: /a}}",
            "{uri: {exact: /a}}",
            false,
        ),
        (
            "exact root, other exact",
            "{uri: {exact: /a}}",
            "{uri: {exact: /b}}",
            true,
        ),
        (
            "exact root, prefix",
            "{uri: {exact: /a}}",
            "{uri: {prefix: /a}}",
            true,
        ),
        ("ignoreUriCase differs", "{ignoreUriCase: true}", "{}", true),
        (
            "query param outside the root's",
            "{queryParams: {v: {prefix: a}}}",
            "{queryParams: {v: {exact: b}}}",
            true,
        ),
        ("method under none", "{}", "{method: {exact: GET}}", false),
    ];
    for (name, root, leaf, want) in cases {
        assert_eq!(has_conflict(&block(root), &block(leaf)), want, "{name}");
    }
}

#[test]
#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
fn match_blocks_merge_as_istio_merges_them() {
    let cases = [
        (
            "url match",
            "[{uri: {prefix: /productpage}}]",
            "[{uri: {exact: /productpage/v1}}]",
            Some("[{uri: {exact: /productpage/v1}}]"),
        ),
        (
            "url regex noconflict",
            "[{uri: {regex: ^/productpage}}]",
            "[{}]",
            Some("[{uri: {regex: ^/productpage}}]"),
        ),
        (
            "url regex conflict",
            "[{uri: {regex: ^/productpage}}]",
            "[{uri: {prefix: /productpage}}]",
            None,
        ),
        (
            "multi url match",
            "[{uri: {prefix: /productpage}}, {uri: {prefix: /reviews}}]",
            "[{uri: {exact: /productpage/v1}}, {uri: {exact: /reviews/v1}}]",
            Some("[{uri: {exact: /productpage/v1}}, {uri: {exact: /reviews/v1}}]"),
        ),
        (
            "url mismatch",
            "[{uri: {prefix: /productpage}}]",
            "[{uri: {exact: /reviews}}]",
            None,
        ),
        (
            "url match with one conflicting block",
            "[{uri: {prefix: /productpage}}]",
            "[{uri: {exact: /productpage/v1}}, {uri: {exact: /reviews}}]",
            None,
        ),
        (
            "headers, no delegate blocks",
            "[{headers: {header: {exact: h1}}}]",
            "[]",
            Some("[{headers: {header: {exact: h1}}}]"),
        ),
        (
            "headers conflict",
            "[{headers: {header: {exact: h1}}}]",
            "[{headers: {header: {exact: h2}}}]",
            None,
        ),
        (
            "headers",
            "[{headers: {header: {exact: h1}}}]",
            "[{headers: {header-2: {exact: h2}}}]",
            Some("[{headers: {header: {exact: h1}, header-2: {exact: h2}}}]"),
        ),
        (
            "complicated merge",
            "[{uri: {prefix: /productpage}, headers: {header: {exact: h1}}, port: 8080, authority: {exact: productpage.com}}]",
            "[{uri: {exact: /productpage/v1}}, {uri: {exact: /productpage/v2}}]",
            Some(
                "[{uri: {exact: /productpage/v1}, headers: {header: {exact: h1}}, port: 8080, authority: {exact: productpage.com}}, {uri: {exact: /productpage/v2}, headers: {header: {exact: h1}}, port: 8080, authority: {exact: productpage.com}}]",
            ),
        ),
        (
            "conflicted merge",
            "[{uri: {prefix: /productpage}, headers: {header: {exact: h1}}, port: 8080, authority: {exact: productpage.com}}]",
            "[{uri: {exact: /productpage/v1}}, {uri: {exact: /productpage/v2}, port: 9090}]",
            None,
        ),
        (
            "gateway merge",
            "[{uri: {prefix: /productpage}, gateways: [ingress-gateway, mesh]}]",
            "[{uri: {exact: /productpage/v1}, gateways: [ingress-gateway]}, {uri: {exact: /productpage/v2}, gateways: [mesh]}]",
            Some(
                "[{uri: {exact: /productpage/v1}, gateways: [ingress-gateway]}, {uri: {exact: /productpage/v2}, gateways: [mesh]}]",
            ),
        ),
        (
            "gateway conflicted merge",
            "[{uri: {prefix: /productpage}, gateways: [ingress-gateway]}]",
            "[{uri: {exact: /productpage/v1}, gateways: [ingress-gateway]}, {uri: {exact: /productpage/v2}, gateways: [mesh]}]",
            None,
        ),
        (
            "source labels merge",
            "[{sourceLabels: {app: test}}]",
            "[{sourceLabels: {version: v1}}]",
            Some("[{sourceLabels: {app: test, version: v1}}]"),
        ),
        // Beyond Istio's table: block names joined, as its code does.
        (
            "names joined",
            "[{name: root, uri: {prefix: /a}}]",
            "[{name: leaf, uri: {prefix: /a/b}}]",
            Some("[{name: root-leaf, uri: {prefix: /a/b}}]"),
        ),
    ];
    for (name, root, child, want) in cases {
        let got = merge_matches(&blocks(root), &blocks(child)).map(|(m, _)| m);
        assert_eq!(got, want.map(blocks), "{name}");
    }
}

#[test]
fn routes_merge_as_istio_merges_them() {
    let v = |n: u8| {
        format!(
            "route: [{{destination: {{host: productpage.org, port: {{number: 80}}, subset: v{n}}}}}]"
        )
    };
    let m = |n: u8| {
        format!(
            "mirrors: [{{destination: {{host: productpage-mirror.org, port: {{number: 80}}, subset: v{n}}}}}]"
        )
    };
    let headers = "headers: {request: {add: {istio: test}, remove: [trace-id]}}";
    let delegate = "delegate: {name: delegate, namespace: default}";
    let v1_block = "{uri: {prefix: /productpage/v1}, headers: {version: {exact: v1}}}";
    let v2_blocks = "{uri: {prefix: /productpage/v2}, headers: {version: {exact: v2}}}, {headers: {version: {exact: v2}}, queryParams: {version: {exact: v2}}}";
    let cases: Vec<(&str, String, Vec<String>, Vec<String>)> = vec![
        ("root catch all",
            format!("{{timeout: 10s, {headers}, {delegate}}}"),
            vec![format!("{{match: [{v1_block}], {}}}", v(1)), format!("{{match: [{v2_blocks}], {}}}", v(2))],
            vec![format!("{{match: [{v1_block}], {}, timeout: 10s, {headers}}}", v(1)), format!("{{match: [{v2_blocks}], {}, timeout: 10s, {headers}}}", v(2))]),
        ("delegate with empty match",
            format!("{{match: [{{uri: {{prefix: /productpage}}, port: 8080}}], {delegate}}}"),
            vec![format!("{{match: [{v1_block}], {}}}", v(1)), format!("{{match: [{v2_blocks}], {}}}", v(2)), format!("{{{}}}", v(3))],
            vec![
                format!("{{match: [{{uri: {{prefix: /productpage/v1}}, headers: {{version: {{exact: v1}}}}, port: 8080}}], {}}}", v(1)),
                format!("{{match: [{{uri: {{prefix: /productpage/v2}}, headers: {{version: {{exact: v2}}}}, port: 8080}}, {{uri: {{prefix: /productpage}}, headers: {{version: {{exact: v2}}}}, queryParams: {{version: {{exact: v2}}}}, port: 8080}}], {}}}", v(2)),
                format!("{{match: [{{uri: {{prefix: /productpage}}, port: 8080}}], {}}}", v(3)),
            ]),
        ("delegate with mirrors",
            format!("{{{}, {delegate}}}", m(3)),
            vec![format!("{{match: [{{uri: {{prefix: /productpage/v1}}}}], {}, {}}}", m(1), v(1)), format!("{{match: [{{uri: {{prefix: /productpage/v2}}}}], {}, {}}}", m(2), v(2)), format!("{{{}}}", v(3))],
            vec![format!("{{match: [{{uri: {{prefix: /productpage/v1}}}}], {}, {}}}", m(1), v(1)), format!("{{match: [{{uri: {{prefix: /productpage/v2}}}}], {}, {}}}", m(2), v(2)), format!("{{{}, {}}}", m(3), v(3))]),
        ("multiple header merge",
            format!("{{match: [{{headers: {{header1: {{regex: regex}}}}}}, {{headers: {{header2: {{exact: exact}}}}}}], {delegate}}}"),
            vec!["{match: [{uri: {prefix: /}}]}".into()],
            vec!["{match: [{uri: {prefix: /}, headers: {header1: {regex: regex}}}, {uri: {prefix: /}, headers: {header2: {exact: exact}}}]}".into()]),
        // Beyond Istio's table: names joined; a conflicting child route dropped.
        ("names joined, conflicting child dropped",
            format!("{{name: root, match: [{{uri: {{prefix: /a}}}}], {delegate}}}"),
            vec![format!("{{name: leaf, match: [{{uri: {{prefix: /a/b}}}}], {}}}", v(1)), format!("{{match: [{{uri: {{prefix: /b}}}}], {}}}", v(2)), format!("{{{}}}", v(3))],
            vec![format!("{{name: root-leaf, match: [{{uri: {{prefix: /a/b}}}}], {}}}", v(1)), format!("{{name: root, match: [{{uri: {{prefix: /a}}}}], {}}}", v(3))]),
        // A root's directResponse: Envoy takes a redirect first, then a direct response, then
        // the route, so it replaces a child's route (and its mirrors) and loses to a redirect.
        ("root directResponse",
            format!("{{directResponse: {{status: 418}}, timeout: 2s, {delegate}}}"),
            vec![format!("{{{}, {}}}", v(1), m(1)), "{redirect: {uri: /x}}".into(), "{directResponse: {status: 204}}".into()],
            vec!["{directResponse: {status: 418}, timeout: 2s}".into(), "{redirect: {uri: /x}, timeout: 2s}".into(), "{directResponse: {status: 204}, timeout: 2s}".into()]),
    ];
    for (name, root, children, want) in cases {
        let root = http(&root);
        let got: Vec<String> = children
            .iter()
            .filter_map(|c| merge_route(&root, &http(c)))
            .map(|m| {
                let mut r = m.route;
                r.delegate = None;
                format!("{r:?}")
            })
            .collect();
        let want: Vec<String> = want.iter().map(|w| format!("{:?}", http(w))).collect();
        assert_eq!(got, want, "{name}");
    }
}
