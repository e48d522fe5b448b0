//! User story: "the routing cases Istio tests pass here too": Istio's routing.go cases for host
//! rewrites through `headers` (`:authority`/`Host`, route over destination), redirects (port,
//! `derivePort`, scheme, `prefixRewrite`), pseudo-header matches, `withoutHeaders` with
//! `regex: "*"` and `.*`, and `uriRegexRewrite`: each as config, request, what the backend saw
//! and what the client got.

use crate::support::backend::{self, Backend};
use crate::support::client::Answer;
use crate::support::config;
use crate::support::proxy::{self, Proxy};

/// A proxy for seed 000's service (v1, v2, v3 all on `b`) with a VirtualService of `http`
/// rules (YAML lines indented under `http:`).
async fn proxy_with(b: &Backend, http: &str) -> Proxy {
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: default, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n{http}"
    );
    let files = config::seed(b.port(), b.port(), b.port()).file("virtualservice.yaml", vs);
    proxy::with_config(files).run().await
}

fn location(a: &Answer) -> &str {
    a.headers
        .get("location")
        .map_or("", |v| v.to_str().unwrap())
}

const TO_V1: &str = "    route: [{destination: {host: calcbackendsvc, subset: v1}}]\n";

/// `headers:` setting (or adding) the request's `:authority`/`Host`.
fn authority(op: &str, name: &str, value: &str) -> String {
    format!("headers: {{request: {{{op}: {{\"{name}\": {value}}}}}}}")
}

#[tokio::test]
async fn authority_headers_rewrite_the_host_route_over_destination() {
    let dest = |subset: &str, headers: &str| {
        format!(
            "{{destination: {{host: calcbackendsvc, subset: {subset}}}, weight: 50, {headers}}}"
        )
    };
    let lone = |headers: &str| format!("  - route: [{}]\n", dest("v1", headers));
    let route_level =
        |routes: &str, headers: &str| format!("  - route: [{routes}]\n    {headers}\n");
    let plain = "{destination: {host: calcbackendsvc}}";
    let cases = [
        (
            "set authority header",
            route_level(plain, &authority("set", ":authority", "custom")),
            "custom",
        ),
        (
            "set host header in destination",
            lone(&authority("set", "Host", "custom")),
            "custom",
        ),
        (
            "set authority header in destination",
            lone(&authority("set", ":authority", "custom")),
            "custom",
        ),
        (
            "set host header in route and destination",
            route_level(
                &dest("v1", &authority("set", "Host", "dest")),
                &authority("set", ":authority", "route"),
            ),
            "route",
        ),
        (
            "set host header in route and multi destination",
            route_level(
                &format!(
                    "{}, {}",
                    dest("v1", &authority("set", "Host", "dest")),
                    dest("v2", "")
                ),
                &authority("set", ":authority", "route"),
            ),
            "route",
        ),
        (
            "add authority",
            route_level(plain, &authority("add", ":authority", "added")),
            "added",
        ),
    ];
    for (name, http, want) in cases {
        let b = backend::http1("v1").run().await;
        let proxy = proxy_with(&b, &http).await;
        for _ in 0..6 {
            assert_eq!(proxy.client().get("/").send().await.status, 200, "{name}");
        }
        for seen in b.seen() {
            assert_eq!(seen.authority, want, "{name}");
            assert_eq!(seen.headers.get_all("host").iter().count(), 1, "{name}");
        }
    }
}

#[tokio::test]
async fn redirects_build_their_location_as_envoy_does() {
    let b = backend::http1("v1").run().await;
    let http = concat!(
        "  - match: [{uri: {exact: /foo}}]\n    redirect: {uri: /new/path}\n",
        "  - match: [{uri: {exact: /scheme}}]\n",
        "    redirect: {derivePort: FROM_REQUEST_PORT, scheme: https}\n",
        "  - match: [{uri: {exact: /port}}]\n    redirect: {derivePort: FROM_REQUEST_PORT}\n",
        "  - match: [{uri: {prefix: /old/}}]\n    redirect: {prefixRewrite: /new/, redirectCode: 308}\n",
        "  - match: [{uri: {exact: /elsewhere}}]\n",
        "    redirect: {authority: other.example, port: 8443, scheme: https, redirectCode: 302}\n",
    );
    let proxy = proxy_with(&b, http).await;
    // (path, Host, status, Location): Istio's "redirect", "redirect port and scheme",
    // "redirect request port" (to default, with host port) and "redirect prefix_rewrite".
    for (path, host, status, want) in [
        (
            "/foo?key=value",
            "calcbackendsvc",
            301,
            "http://calcbackendsvc/new/path?key=value",
        ),
        (
            "/scheme",
            "calcbackendsvc",
            301,
            "https://calcbackendsvc:80/scheme",
        ),
        ("/port", "calcbackendsvc", 301, "http://calcbackendsvc/port"),
        (
            "/port",
            "calcbackendsvc:80",
            301,
            "http://calcbackendsvc:80/port",
        ),
        (
            "/old/bar?x=1",
            "calcbackendsvc",
            308,
            "http://calcbackendsvc/new/bar?x=1",
        ),
        (
            "/elsewhere",
            "calcbackendsvc:80",
            302,
            "https://other.example:8443/elsewhere",
        ),
    ] {
        let a = proxy.client().host(host).get(path).send().await;
        assert_eq!(
            (a.status.as_u16(), location(&a)),
            (status, want),
            "{path} {host}"
        );
    }
    assert_eq!(b.count(), 0, "redirects are answered by the proxy");
}

#[tokio::test]
async fn pseudo_header_and_without_header_matches() {
    let b = backend::http1("v1").run().await;
    let forbid = "    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}\n";
    let http = [
        "  - match: [{headers: {\":method\": {exact: GET}, \":path\": {regex: \"/p\\\\?q=.*\"}}}]\n",
        TO_V1,
        "  - match: [{withoutHeaders: {end-user: {regex: \"*\"}}, uri: {prefix: /star}}]\n",
        forbid,
        TO_V1,
        "  - match: [{withoutHeaders: {end-user: {regex: .*}}, uri: {prefix: /any}}]\n",
        forbid,
        TO_V1,
        "  - match: [{uri: {prefix: /star}}, {uri: {prefix: /any}}]\n",
        TO_V1,
    ]
    .concat();
    let proxy = proxy_with(&b, &http).await;
    let client = proxy.client();
    // Istio's "pseudo header matches", then "without headers regex convert to present_match"
    // and "without headers regex match any string".
    for (method, path, end_user, status) in [
        ("GET", "/p?q=1", None, 200),
        ("POST", "/p?q=1", None, 404),
        ("GET", "/p", None, 404),
        ("GET", "/star", Some("jason"), 200),
        ("GET", "/star", Some(""), 200),
        ("GET", "/star", None, 403),
        ("GET", "/any", Some("jason"), 200),
        ("GET", "/any", Some(""), 200),
        ("GET", "/any", None, 200),
    ] {
        let mut req = client.request(method, path);
        if let Some(u) = end_user {
            req = req.header("end-user", u);
        }
        assert_eq!(
            req.send().await.status,
            status,
            "{method} {path} {end_user:?}"
        );
    }
}

#[tokio::test]
async fn uri_rewrites_replace_what_envoy_replaces() {
    let b = backend::http1("v1").run().await;
    let http = [
        "  - match: [{uri: {prefix: /service/}}]\n",
        "    rewrite: {uriRegexRewrite: {match: \"^/service/([^/]+)(/.*)$\", rewrite: \"\\\\2/instance/\\\\1\"}}\n",
        TO_V1,
        "  - match: [{uri: {exact: /foo}}]\n    rewrite: {uri: /new/path}\n",
        TO_V1,
        "  - match: [{headers: {x-v2: {}}}]\n    rewrite: {uri: /v2/}\n",
        TO_V1,
        "  - rewrite: {uriRegexRewrite: {match: one, rewrite: two}}\n",
        TO_V1,
    ]
    .concat();
    let proxy = proxy_with(&b, &http).await;
    let client = proxy.client();
    // Envoy's regex_rewrite example; Istio's "rewrite uri"; a route with no `uri` match has
    // Envoy's prefix `/` replaced; every match of a regex is replaced.
    for (path, header) in [
        ("/service/foo/v1/api?x=1", None),
        ("/foo?key=value", None),
        ("/orders?id=1", Some("x-v2")),
        ("/xxx/one/yyy/one/zzz", None),
    ] {
        let mut req = client.get(path);
        if let Some(h) = header {
            req = req.header(h, "1");
        }
        assert_eq!(req.send().await.status, 200, "{path}");
    }
    let paths: Vec<String> = b.seen().into_iter().map(|s| s.path).collect();
    let want = [
        "/v1/api/instance/foo?x=1",
        "/new/path?key=value",
        "/v2/orders?id=1",
        "/xxx/two/yyy/two/zzz",
    ];
    assert_eq!(paths, want);
}
