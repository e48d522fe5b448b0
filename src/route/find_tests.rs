//! Table-driven tests of [`super::find`] over tables compiled from Istio YAML: the order of
//! routes, OR/AND of matches, Istio's corner cases, weights and mirror percentages.

use http::HeaderMap;

use super::{NoRoute, RequestHead, Target, find};
use crate::model::test_fixtures::SEED_SERVICES;
use crate::model::{ProxyIdentity, RouteTable, compile_text};

fn table_with(identity: &ProxyIdentity, routes: &str) -> RouteTable {
    let (table, diags) = compile_text(
        "test.yaml",
        &format!("{SEED_SERVICES}---\n{routes}"),
        identity,
    );
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    table.expect("compiles")
}

fn table(routes: &str) -> RouteTable {
    let identity = ProxyIdentity {
        namespace: "challengeistio".into(),
        ..Default::default()
    };
    table_with(&identity, routes)
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n{http}"
    )
}

struct Req<'a> {
    method: &'a str,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
}

fn req(path: &str) -> Req<'_> {
    Req {
        method: "GET",
        authority: "calcbackendsvc",
        path,
        query: None,
        headers: Vec::new(),
    }
}

/// The subset the request is routed to, or the routing error.
fn route_of(t: &RouteTable, r: &Req<'_>, roll: f64) -> Result<String, NoRoute> {
    let mut headers = HeaderMap::new();
    for (k, v) in &r.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (host, port) = crate::model::host::split_authority(r.authority);
    let head = RequestHead {
        method: r.method,
        scheme: "http",
        authority: r.authority,
        host,
        port,
        path: r.path,
        query: r.query,
        headers: &headers,
    };
    let d = find(t, &head, &mut || roll)?;
    Ok(match d.target {
        Target::Forward { cluster, .. } => cluster.subset.clone().unwrap_or_else(|| "all".into()),
        Target::Local => "local".into(),
    })
}

/// `GET path` to calcbackendsvc with `headers`.
fn get<'a>(headers: &'a HeaderMap, path: &'a str) -> RequestHead<'a> {
    RequestHead {
        method: "GET",
        scheme: "http",
        authority: "calcbackendsvc",
        host: "calcbackendsvc",
        port: None,
        path,
        query: None,
        headers,
    }
}

fn subset(t: &RouteTable, r: &Req<'_>) -> String {
    route_of(t, r, 0.5).unwrap_or_else(|e| format!("404: {e}"))
}

#[test]
fn seed_000_user_agent_regex() {
    let t = table(&vs(
        "  - match: [{headers: {user-agent: {regex: .*Mobile.*}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - route: [{destination: {host: calcbackendsvc, subset: v1}, weight: 100}]\n",
    ));
    let cases = [
        ("Mozilla/5.0 (iPhone) Mobile Safari", "v2"),
        ("Foo Mobile Bar", "v2"),
        ("Mozilla/5.0 (X11; Linux)", "v1"),
        ("mobile", "v1"), // regexes are case-sensitive
    ];
    for (ua, want) in cases {
        let mut r = req("/api/calculation");
        r.headers.push(("User-Agent", ua)); // header names are case-insensitive
        assert_eq!(subset(&t, &r), want, "{ua}");
    }
    assert_eq!(subset(&t, &req("/")), "v1", "no user agent at all");
}

#[test]
fn first_matching_route_wins_even_if_a_later_one_is_more_specific() {
    let t = table(&vs(
        "  - match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: calcbackendsvc, subset: v1}}]\n  - match: [{uri: {exact: /api/calculation}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n",
    ));
    assert_eq!(subset(&t, &req("/api/calculation")), "v1");
    assert!(
        subset(&t, &req("/other")).starts_with("404: no route of VirtualService challengeistio/vs")
    );
}

#[test]
fn hashed_exact_paths_keep_first_match_order() {
    // r0 exact /a (hashed), r1 prefix /a (tried), r2 exact /ab and /a (hashed), r3 catch-all.
    let t = table(&vs(concat!(
        "  - match: [{uri: {exact: /a}}]\n    route: [{destination: {host: calcbackendsvc, subset: v1}}]\n",
        "  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n",
        "  - match: [{uri: {exact: /zz}}, {uri: {exact: /ab}}]\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n",
        "  - route: [{destination: {host: calcbackendsvc}}]\n",
    )));
    let vhost = &t.virtual_hosts[0];
    assert_eq!(subset(&t, &req("/a")), "v1", "the hashed route comes first");
    assert_eq!(
        subset(&t, &req("/ab")),
        "v2",
        "the prefix route before the hashed one wins"
    );
    assert_eq!(
        subset(&t, &req("/zz")),
        "v3",
        "the second block of a hashed route"
    );
    assert_eq!(
        subset(&t, &req("/A")),
        "all",
        "exact paths are case-sensitive"
    );
    let headers = HeaderMap::new();
    let head = get(&headers, "/zz");
    let d = find(&t, &head, &mut || 0.5).expect("routed");
    assert_eq!((d.route_index, d.matched_block), (2, Some(0)));
    assert_eq!(vhost.routes.len(), 4);
}

#[test]
fn match_blocks_are_ored_and_conditions_anded() {
    let t = table(&vs(
        "  - match:\n    - {uri: {prefix: /a}, method: {exact: POST}}\n    - {headers: {x-canary: {exact: \"yes\"}}}\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n",
    ));
    let mut post_a = req("/a/1");
    post_a.method = "POST";
    assert_eq!(subset(&t, &post_a), "v3", "first block: both conditions");
    assert_eq!(subset(&t, &req("/a/1")), "v1", "first block needs POST too");
    let mut canary = req("/zzz");
    canary.headers.push(("x-canary", "yes"));
    assert_eq!(subset(&t, &canary), "v3", "second block alone");
}

#[test]
fn istio_string_match_corner_cases() {
    let t = table(&vs(
        "  - match: [{uri: {prefix: /usrv}}]\n    route: [{destination: {host: calcbackendsvc, subset: v1}}]\n  - match: [{uri: {regex: \"/(a|ab)\"}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - match: [{uri: {exact: /Exact}, ignoreUriCase: true}]\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n",
    ));
    let cases = [
        ("/usrv-expand", "v1"), // plain string prefix, not a path segment prefix
        ("/usrv", "v1"),
        ("/ab", "v2"), // full-match regex: a|ab must take ab whole
        ("/a", "v2"),
        ("/abc", "404"),
        ("/EXACT", "v3"),
        ("/exact/", "404"),
    ];
    for (path, want) in cases {
        let got = subset(&t, &req(path));
        assert!(got.starts_with(want), "{path}: got {got}, want {want}");
    }
}

#[test]
fn query_params_without_headers_port_and_authority() {
    let t = table(&vs(
        "  - match: [{queryParams: {debug: {exact: \"1\"}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n  - match: [{withoutHeaders: {x-user: {}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - match: [{port: 80, authority: {prefix: calcbackendsvc}}]\n    route: [{destination: {host: calcbackendsvc, subset: v1}}]\n",
    ));
    let mut debug = req("/");
    debug.query = Some("x=2&debug=1");
    debug.headers.push(("x-user", "u"));
    assert_eq!(subset(&t, &debug), "v3");
    assert_eq!(subset(&t, &req("/")), "v2", "no x-user header");
    let mut user = req("/");
    user.headers.push(("x-user", "u"));
    assert_eq!(
        subset(&t, &user),
        "v1",
        "implicit port 80 and authority prefix"
    );
    user.authority = "calcbackendsvc:80";
    assert_eq!(subset(&t, &user), "v1");
}

#[test]
fn source_conditions_are_settled_by_the_proxy_identity() {
    let routes = vs(
        "  - match: [{sourceLabels: {app: frontend}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - match: [{sourceNamespace: other}]\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n  - match: [{gateways: [my-gateway]}]\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n",
    );
    let plain = table(&routes);
    assert_eq!(subset(&plain, &req("/")), "v1");
    let frontend = ProxyIdentity {
        namespace: "challengeistio".into(),
        labels: [("app".to_string(), "frontend".to_string())].into(),
    };
    assert_eq!(subset(&table_with(&frontend, &routes), &req("/")), "v2");
}

#[test]
fn weights_pick_by_roll() {
    let t = table(&vs(
        "  - route:\n    - {destination: {host: calcbackendsvc, subset: v1}, weight: 20}\n    - {destination: {host: calcbackendsvc, subset: v2}, weight: 80}\n    - {destination: {host: calcbackendsvc, subset: v3}, weight: 0}\n",
    ));
    assert_eq!(route_of(&t, &req("/"), 0.0).unwrap(), "v1");
    assert_eq!(route_of(&t, &req("/"), 0.19).unwrap(), "v1");
    assert_eq!(route_of(&t, &req("/"), 0.2).unwrap(), "v2");
    assert_eq!(
        route_of(&t, &req("/"), 0.999).unwrap(),
        "v2",
        "weight 0 gets nothing"
    );
}

#[test]
fn mirrors_roll_against_their_percentages() {
    let t = table(&vs(
        "  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n    mirrors:\n    - {destination: {host: calcbackendsvc, subset: v1}}\n    - {destination: {host: calcbackendsvc, subset: v3}, percentage: {value: 50}}\n    - {destination: {host: calcbackendsvc, subset: v2}, percentage: {value: 0}}\n",
    ));
    let headers = HeaderMap::new();
    let head = get(&headers, "/");
    let low = find(&t, &head, &mut || 0.1).unwrap();
    assert_eq!(
        low.mirrors, 0b011,
        "100% always, 50% on a low roll, 0% never"
    );
    let names: Vec<_> = low
        .mirror_clusters()
        .map(|c| c.subset.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["v1", "v3"]);
    let high = find(&t, &head, &mut || 0.9).unwrap();
    assert_eq!(high.mirrors, 0b001);
}

#[test]
fn a_service_without_virtual_service_gets_the_default_route() {
    let t = table("");
    assert_eq!(subset(&t, &req("/anything")), "all");
    let mut other_port = req("/");
    other_port.authority = "calcbackendsvc:8080";
    assert!(subset(&t, &other_port).contains("has no port 8080"));
}

#[test]
fn faults_roll_against_their_shares() {
    let t = table(&vs(
        "  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n    fault:\n      delay: {fixedDelay: 1s, percentage: {value: 50}}\n      abort: {httpStatus: 503, percentage: {value: 0.5}}\n",
    ));
    let headers = HeaderMap::new();
    let head = get(&headers, "/");
    for (roll, delay, abort) in [
        (0.001, true, true),
        (0.004_999, true, true),
        (0.005, true, false),
        (0.499, true, false),
        (0.5, false, false),
    ] {
        let d = find(&t, &head, &mut || roll).unwrap();
        let want = super::FaultRolls { delay, abort };
        assert_eq!(d.faults, want, "roll {roll}");
    }
    let legacy = table(&vs(
        "  - route: [{destination: {host: calcbackendsvc}}]\n    fault: {delay: {fixedDelay: 1s, percent: 30}}\n",
    ));
    assert!(find(&legacy, &head, &mut || 0.29).unwrap().faults.delay);
    assert!(!find(&legacy, &head, &mut || 0.3).unwrap().faults.delay);
}

#[test]
fn pseudo_header_matches_route_by_method_and_authority() {
    let t = table(&vs(
        "  - match: [{headers: {\":method\": {exact: POST}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - match: [{headers: {\":authority\": {regex: \".*:80\"}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v3}}]\n  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n",
    ));
    let mut post = req("/");
    post.method = "POST";
    assert_eq!(subset(&t, &post), "v2");
    let mut with_port = req("/");
    with_port.authority = "calcbackendsvc:80";
    assert_eq!(subset(&t, &with_port), "v3");
    assert_eq!(subset(&t, &req("/")), "v1");
}
