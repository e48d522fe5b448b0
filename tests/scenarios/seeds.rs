//! The seeds' stories: seed 000 (calcbackendsvc: Mobile to v2, the rest to v1, mirrored to v3)
//! and seed 004 (greeter-service on port 3000 mirrored to v2).

use bytes::Bytes;

use crate::assert_eventually;
use crate::support::*;

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
const MOBILE: &str = "Mozilla/5.0 (iPhone) Mobile Safari/604.1";

#[tokio::test]
async fn seed_000_mobile_to_v2_desktop_to_v1_and_every_v1_request_mirrored_to_v3() {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v2 = Backend::start("v2", Behavior::Answer).await;
    let v3 = Backend::start("v3", Behavior::Answer).await;
    let dir = config_dir(&[
        ("destinationrule.yaml", &seed_file("destinationrule.yaml")),
        ("virtualservice.yaml", &seed_file("virtualservice.yaml")),
        ("deployment-v3.yaml", &seed_file("deployment-v3.yaml")),
        (
            "serviceentry.yaml",
            &calc_service_entry(v1.addr.port(), v2.addr.port(), v3.addr.port()),
        ),
    ]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
    let addr = proxy.listen_addrs[0];

    let mut answers = Vec::new();
    for n in 0..20 {
        let a = get(
            addr,
            "calcbackendsvc",
            &format!("/api/calculation?number={n}"),
            Some(DESKTOP),
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1", "desktop user agents are answered by v1");
        answers.push(a);
    }
    for n in 0..10 {
        let a = get(
            addr,
            "calcbackendsvc",
            &format!("/api/calculation?number={n}"),
            Some(MOBILE),
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v2", "Mobile user agents are answered by v2");
        answers.push(a);
    }
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
    let primary = v1.seen();
    let mirrored = v3.seen();
    for p in &primary {
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
    proxy.shutdown().await;
}

#[tokio::test]
async fn seed_000_reached_as_http_proxy_bound_port_and_namespace_qualified_host() {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v2 = Backend::start("v2", Behavior::Answer).await;
    let v3 = Backend::start("v3", Behavior::Answer).await;
    let dir = seed_config(v1.addr.port(), v2.addr.port(), v3.addr.port());
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.listen.push("127.0.0.1:0=calcbackendsvc".parse().unwrap());
        o.identity.namespace = "default".into();
    })
    .await;
    let (plain, bound) = (proxy.listen_addrs[0], proxy.listen_addrs[1]);

    // `curl -x proxy http://calcbackendsvc/...`: absolute-form request line.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(plain).await.unwrap();
    s.write_all(b"GET http://calcbackendsvc/api/calculation?number=7 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains(r#""version":"v1""#), "{raw}");

    // A port bound to the service needs no Host header at all.
    let mut s = tokio::net::TcpStream::connect(bound).await.unwrap();
    s.write_all(b"GET /api/calculation?number=8 HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.contains(r#""version":"v1""#), "{raw}");

    // Kubernetes name forms, from another namespace (the short name is unique).
    for host in [
        "calcbackendsvc",
        "calcbackendsvc.challengeistio",
        "calcbackendsvc.challengeistio.svc.cluster.local:80",
    ] {
        assert_eq!(get(plain, host, "/", None).await.version(), "v1", "{host}");
    }
    assert_eq!(
        get(plain, "calcbackendsvc:8080", "/", None).await.status,
        404,
        "no such port"
    );
    assert_eq!(get(plain, "elsewhere", "/", None).await.status, 404);
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
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v2 = Backend::start("v2", Behavior::Answer).await;
    let se = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: greeter-service\nspec:\n  hosts: [greeter-service]\n  ports:\n  - {{number: 3000, name: http, protocol: HTTP}}\n  resolution: STATIC\n  endpoints:\n  - {{address: 127.0.0.1, ports: {{http: {}}}, labels: {{app: greeter-service, version: v1}}}}\n  - {{address: 127.0.0.1, ports: {{http: {}}}, labels: {{app: greeter-service, version: v2}}}}\n",
        v1.addr.port(),
        v2.addr.port()
    );
    let greeter = examples().join("greeter");
    let dir = config_dir(&[
        (
            "virtualservice.yaml",
            &std::fs::read_to_string(greeter.join("virtualservice.yaml")).unwrap(),
        ),
        (
            "destinationrule.yaml",
            &std::fs::read_to_string(greeter.join("destinationrule.yaml")).unwrap(),
        ),
        ("serviceentry.yaml", &se),
    ]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.identity.namespace = "default".into()
    })
    .await;
    let addr = proxy.listen_addrs[0];
    for _ in 0..4 {
        let a = get(addr, "greeter-service:3000", "/hello", None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version(), "v1");
    }
    let a = send(
        addr,
        "POST",
        "greeter-service",
        "/hello",
        &[("content-type", "text/plain")],
        Bytes::from("hi"),
    )
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
