//! User story: "the seeds' YAML works unchanged": seed 000 (calcbackendsvc: Mobile to v2, the
//! rest to v1, mirrored to v3), reached the ways clients reach it, and seed 004
//! (greeter-service on port 3000 mirrored to v2).

use bytes::Bytes;

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::client::{Answer, Client, raw};
use crate::support::proxy;
use crate::support::{config, example_file};

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
const MOBILE: &str = "Mozilla/5.0 (iPhone) Mobile Safari/604.1";

/// Three backends, v1, v2 and v3.
async fn three_versions() -> (Backend, Backend, Backend) {
    let v1 = backend::http1("v1").run().await;
    let v2 = backend::http1("v2").run().await;
    let v3 = backend::http1("v3").run().await;
    (v1, v2, v3)
}

/// `n` calculation requests with `user_agent`; each answered 200 by `version`.
async fn answered_by(client: &Client, n: u64, user_agent: &str, version: &str) -> Vec<Answer> {
    let mut answers = Vec::new();
    for i in 0..n {
        let a = client.calculation(i).user_agent(user_agent).send().await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.version(),
            version,
            "{user_agent} is answered by {version}"
        );
        answers.push(a);
    }
    answers
}

/// Each of v1's requests has a copy at v3 with the same path, method, user agent and client
/// address, the Host suffixed `-shadow`.
fn every_primary_has_its_copy(v1: &Backend, v3: &Backend) {
    let mirrored = v3.seen();
    for p in &v1.seen() {
        let id = p.header("x-request-id");
        assert!(!id.is_empty(), "the proxy adds an x-request-id");
        let m = mirrored
            .iter()
            .find(|m| m.header("x-request-id") == id)
            .unwrap_or_else(|| panic!("no mirrored copy of request {id}"));
        assert_eq!(m.path, p.path, "same path and query");
        assert_eq!(m.method, p.method);
        assert_eq!(m.header("host"), "calcbackendsvc-shadow");
        assert_eq!(p.header("host"), "calcbackendsvc");
        assert_eq!(m.header("user-agent"), DESKTOP);
        assert_eq!(m.header("x-forwarded-for"), p.header("x-forwarded-for"));
        assert_eq!(p.header("x-forwarded-for"), "127.0.0.1");
    }
    assert!(mirrored.iter().all(|m| m.header("user-agent") != MOBILE));
}

#[tokio::test]
async fn seed_000_mobile_to_v2_desktop_to_v1_and_every_v1_request_mirrored_to_v3() {
    let (v1, v2, v3) = three_versions().await;
    let files = config::seed(v1.port(), v2.port(), v3.port()).file(
        "deployment-v3.yaml",
        config::seed_file("deployment-v3.yaml"),
    );
    let proxy = proxy::with_config(files).run().await;
    let client = proxy.client();

    let mut answers = answered_by(&client, 20, DESKTOP, "v1").await;
    answers.extend(answered_by(&client, 10, MOBILE, "v2").await);
    // No response from v3 ever reaches a client.
    assert!(
        answers
            .iter()
            .all(|a| a.version() != "v3" && a.headers["x-served-by"] != "v3")
    );

    // v3 gets a copy of every v1 request, and none of v2's.
    assert_eventually!(
        v3.count() == 20,
        "v3 saw {} mirrored requests, want 20",
        v3.count()
    );
    assert_eq!(v1.count(), 20);
    assert_eq!(v2.count(), 10);
    every_primary_has_its_copy(&v1, &v3);
    proxy.shutdown().await;
}

#[tokio::test]
async fn seed_000_reached_as_http_proxy_bound_port_and_namespace_qualified_host() {
    let (v1, v2, v3) = three_versions().await;
    let proxy = proxy::with_config(config::seed(v1.port(), v2.port(), v3.port()))
        .also_listen("127.0.0.1:0=calcbackendsvc")
        .namespace("default")
        .run()
        .await;
    let (plain, bound) = (proxy.listen_addrs[0], proxy.listen_addrs[1]);

    // `curl -x proxy http://calcbackendsvc/...`: absolute-form request line.
    let answer = raw(plain, "GET http://calcbackendsvc/api/calculation?number=7 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""version":"v1""#), "{answer}");

    // A port bound to the service needs no Host header at all.
    let answer = raw(bound, "GET /api/calculation?number=8 HTTP/1.0\r\n\r\n").await;
    assert!(answer.contains(r#""version":"v1""#), "{answer}");

    // Kubernetes name forms, from another namespace (the short name is unique).
    let client = proxy.client();
    for host in [
        "calcbackendsvc",
        "calcbackendsvc.challengeistio",
        "calcbackendsvc.challengeistio.svc.cluster.local:80",
    ] {
        assert_eq!(
            client.get("/").host(host).send().await.version(),
            "v1",
            "{host}"
        );
    }
    let wrong_port = client.get("/").host("calcbackendsvc:8080").send().await;
    assert_eq!(wrong_port.status, 404, "no such port");
    assert_eq!(client.get("/").host("elsewhere").send().await.status, 404);
    assert_eventually!(
        v3.count() == 5,
        "every v1 request is mirrored, got {}",
        v3.count()
    );
    assert!(
        v3.seen()
            .iter()
            .all(|m| m.header("host").starts_with("calcbackendsvc")
                && m.header("host").contains("-shadow"))
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn seed_004_greeter_on_port_3000_mirrors_to_v2_whose_answers_nobody_sees() {
    let v1 = backend::http1("v1").run().await;
    let v2 = backend::http1("v2").run().await;
    let service = config::service_entry("greeter-service")
        .no_namespace()
        .port(3000)
        .endpoint("v1", v1.port())
        .endpoint("v2", v2.port());
    let files = config::files()
        .file(
            "virtualservice.yaml",
            example_file("greeter/virtualservice.yaml"),
        )
        .file(
            "destinationrule.yaml",
            example_file("greeter/destinationrule.yaml"),
        )
        .file("serviceentry.yaml", service.yaml());
    let proxy = proxy::with_config(files).namespace("default").run().await;
    let client = proxy.client().host("greeter-service:3000");
    for _ in 0..4 {
        let a = client.get("/hello").send().await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1");
    }
    let a = client
        .post("/hello")
        .host("greeter-service")
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await;
    assert_eq!(a.version(), "v1", "no port: the service's only port, 3000");
    assert_eventually!(v2.count() == 5, "v2 saw {} mirrored requests", v2.count());
    let seen = v2.seen();
    assert_eq!(seen[0].path, "/hello");
    assert_eq!(
        seen.iter()
            .filter(|s| s.header("host") == "greeter-service-shadow:3000")
            .count(),
        4
    );
    let post = seen.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(post.body, Bytes::from("hi"));
    assert_eq!(post.header("host"), "greeter-service-shadow");
    proxy.shutdown().await;
}
