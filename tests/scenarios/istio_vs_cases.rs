//! User story: "Istio's own traffic tests pass here": the cases of `virtualServiceCases` in
//! Istio's `tests/integration/pilot/common/routing.go` that other files do not already hold
//! (`istio_routing.rs`: host rewrites, redirects, pseudo-header and `withoutHeaders` matches,
//! URI rewrites; `cors.rs`, `fault.rs`, `consistent_hash.rs`), each as Istio writes it: the
//! VirtualService's `http` rules, the call, and Istio's check. docs/istio-traffic-cases.md maps
//! every case to the test that holds it.

use crate::support::backend::{self, Backend};
use crate::support::client::{Answer, H2c};
use crate::support::config;
use crate::support::proxy::{self, Proxy};

/// A proxy for seed 000's service (v1, v2, v3 on the three backends) whose VirtualService has
/// the `http` rules given (YAML lines indented under `http:`), as Istio's cases template them
/// with `{{ .dstSvc }}` = `calcbackendsvc`.
async fn proxy_with(backends: &[Backend; 3], http: &str) -> Proxy {
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: default, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n{http}"
    );
    let [v1, v2, v3] = backends.each_ref().map(Backend::port);
    let files = config::seed(v1, v2, v3).file("virtualservice.yaml", vs);
    proxy::with_config(files).run().await
}

async fn backends() -> [Backend; 3] {
    [
        backend::http1("v1").run().await,
        backend::http1("v2").run().await,
        backend::http1("v3").run().await,
    ]
}

const ROUTE: &str = "    route: [{destination: {host: calcbackendsvc}}]\n";

/// One call of a case: method, path, extra headers; and Istio's check of the answer and of
/// what the backend saw (its last request), `Err` saying what differs.
struct Call {
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    check: fn(&Answer, Option<&backend::Seen>) -> Result<(), String>,
}

fn status(a: &Answer, want: u16) -> Result<(), String> {
    (a.status.as_u16() == want)
        .then_some(())
        .ok_or(format!("status {} (want {want}): {}", a.status, a.body))
}

fn ok_with_header(
    a: &Answer,
    seen: Option<&backend::Seen>,
    name: &str,
    value: &str,
) -> Result<(), String> {
    status(a, 200)?;
    let got = seen.map_or("", |s| s.header(name));
    (got == value)
        .then_some(())
        .ok_or(format!("backend saw {name}: {got:?} (want {value:?})"))
}

fn get(
    path: &'static str,
    check: fn(&Answer, Option<&backend::Seen>) -> Result<(), String>,
) -> Call {
    Call {
        method: "GET",
        path,
        headers: &[],
        check,
    }
}

/// One of Istio's cases: its name, its `http` rules, its calls.
type Case = (&'static str, String, Vec<Call>);

/// Istio's cases about request headers: operations and matches.
fn header_cases() -> Vec<Case> {
    vec![
        (
            "added header",
            format!(
                "  - {}    headers: {{request: {{add: {{istio-custom-header: user-defined-value}}}}}}\n",
                &ROUTE[4..]
            ),
            vec![get("/", |a, s| {
                ok_with_header(a, s, "istio-custom-header", "user-defined-value")
            })],
        ),
        (
            "set header",
            format!(
                "  - {}    headers: {{request: {{set: {{x-custom: some-value}}}}}}\n",
                &ROUTE[4..]
            ),
            vec![get("/", |a, s| {
                ok_with_header(a, s, "x-custom", "some-value")
            })],
        ),
        (
            "set host header multi destination",
            "  - route:\n    - {destination: {host: calcbackendsvc}, headers: {request: {set: {Host: dest-authority}}}, weight: 50}\n    - {destination: {host: calcbackendsvc}, headers: {request: {set: {Host: dest-authority}}}, weight: 50}\n".to_string(),
            vec![get("/", |a, s| {
                status(a, 200)?;
                let host = s.map_or("", |s| s.authority.as_str());
                (host == "dest-authority").then_some(()).ok_or(format!("backend saw host {host}"))
            })],
        ),
        (
            "weird header matches",
            format!("  - match: [{{headers: {{\"a!#$%&'*+-.^_`|~z\": {{exact: why}}}}}}]\n{ROUTE}"),
            vec![
                get("/", |a, _| status(a, 404)),
                Call {
                    method: "GET",
                    path: "/",
                    headers: &[("a!#$%&'*+-.^_`|~z", "why")],
                    check: |a, _| status(a, 200),
                },
            ],
        ),
        (
            "pseudo header matches",
            format!("  - match: [{{headers: {{\":method\": {{exact: GET}}}}}}]\n{ROUTE}"),
            vec![
                Call {
                    method: "POST",
                    path: "/",
                    headers: &[],
                    check: |a, _| status(a, 404),
                },
                get("/", |a, _| status(a, 200)),
            ],
        ),
    ]
}

/// Istio's cases about rewrites, faults and rule order.
fn route_cases() -> Vec<Case> {
    vec![
        (
            "rewrite uri",
            format!(
                "  - match: [{{uri: {{exact: /foo}}}}]\n    rewrite: {{uri: /new/path}}\n{ROUTE}"
            ),
            vec![get("/foo?key=value", |a, s| {
                status(a, 200)?;
                let path = s.map_or("", |s| s.path.as_str());
                (path == "/new/path?key=value")
                    .then_some(())
                    .ok_or(format!("backend saw {path}"))
            })],
        ),
        (
            "rewrite authority",
            format!(
                "  - match: [{{uri: {{exact: /foo}}}}]\n    rewrite: {{authority: new-authority}}\n{ROUTE}"
            ),
            vec![get("/foo", |a, s| {
                status(a, 200)?;
                let host = s.map_or("", |s| s.authority.as_str());
                (host == "new-authority")
                    .then_some(())
                    .ok_or(format!("backend saw host {host}"))
            })],
        ),
        (
            "retry conditions",
            format!(
                "  - {}    retries: {{attempts: 3, perTryTimeout: 2s, retryOn: \"gateway-error,connect-failure,refused-stream,reset-before-request\", retryRemoteLocalities: true}}\n",
                &ROUTE[4..]
            ),
            vec![get("/", |a, _| status(a, 200))],
        ),
        (
            "fault abort",
            format!(
                "  - {}    fault: {{abort: {{percentage: {{value: 100}}, httpStatus: 418}}}}\n",
                &ROUTE[4..]
            ),
            vec![get("/", |a, _| status(a, 418))],
        ),
        (
            "catch all route short circuit the other routes",
            format!(
                "  - match: [{{uri: {{regex: .*}}}}]\n{ROUTE}    fault: {{abort: {{percentage: {{value: 100}}, httpStatus: 418}}}}\n  - {}",
                &ROUTE[4..]
            ),
            vec![get("/", |a, _| status(a, 418))],
        ),
    ]
}

#[tokio::test]
async fn virtual_service_cases_answer_as_istio_checks_them() {
    let mut failed = Vec::new();
    for (name, http, calls) in header_cases().into_iter().chain(route_cases()) {
        let backends = backends().await;
        let proxy = proxy_with(&backends, &http).await;
        for call in calls {
            let mut request = proxy.client().request(call.method, call.path);
            for (k, v) in call.headers {
                request = request.header(k, v);
            }
            let answer = request.send().await;
            let seen = backends.iter().flat_map(Backend::seen).last();
            if let Err(why) = (call.check)(&answer, seen.as_ref()) {
                failed.push(format!("{name} ({} {}): {why}", call.method, call.path));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "Istio's cases that fail here:\n{}",
        failed.join("\n")
    );
}

/// Istio's `shifting-50` and `shifting-80`: calls over three weighted destinations, each
/// destination's share within 10 points of its weight as Istio checks it, here within 5 points
/// over 2,000 calls (Istio's 100 calls and 10 points fail about one run in 30 by chance alone,
/// and its framework retries them; 5 points of 2,000 calls is 5 standard deviations).
#[tokio::test]
async fn weighted_shifting_lands_within_ten_of_each_weight() {
    for split in [[50, 25, 25], [80, 10, 10]] {
        let backends = backends().await;
        let routes: Vec<String> = ["v1", "v2", "v3"]
            .iter()
            .zip(split)
            .map(|(subset, w)| {
                format!("{{destination: {{host: calcbackendsvc, subset: {subset}}}, weight: {w}}}")
            })
            .collect();
        let proxy = proxy_with(&backends, &format!("  - route: [{}]\n", routes.join(", "))).await;
        const CALLS: usize = 2_000;
        for _ in 0..CALLS {
            assert_eq!(proxy.client().get("/").send().await.status, 200);
        }
        let counts = backends.each_ref().map(Backend::count);
        for (got, want) in counts.iter().zip(split) {
            // Within 5 points of the weight: 5 standard deviations at these shares.
            assert!(
                got.abs_diff(want * CALLS / 100) <= CALLS * 5 / 100,
                "shifting-{}: {counts:?} for {split:?}",
                split[0]
            );
        }
    }
}

/// Istio's `destinationRuleCases` "only idletimeout specified in DR": a DestinationRule whose
/// traffic policy is only `tls: DISABLE` and an HTTP idle timeout, called by an HTTP/2 client.
#[tokio::test]
async fn a_rule_with_only_an_idle_timeout_serves_an_http2_client() {
    let backends = backends().await;
    let [v1, v2, v3] = backends.each_ref().map(Backend::port);
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: idletimeout-dr, namespace: challengeistio}\nspec:\n  host: calcbackendsvc\n  trafficPolicy:\n    tls: {mode: DISABLE}\n    connectionPool: {http: {idleTimeout: 100s}}\n";
    let files = config::seed(v1, v2, v3)
        .file("destinationrule.yaml", rule)
        .file("virtualservice.yaml", format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: default, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - {}", &ROUTE[4..]));
    let proxy = proxy::with_config(files).run().await;
    let mut h2 = H2c::connect(proxy.addr()).await;
    let answer = h2.get("http://calcbackendsvc/").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.http_version, http::Version::HTTP_2);
}
