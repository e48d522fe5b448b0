//! User story: "a user's requests stick to one backend, as Istio's `consistentHash` makes Envoy
//! do": Istio's `consistentHashCases` (tests/integration/pilot/common/routing.go) with three
//! backends in one subset: the same header, cookie, source IP or query parameter always reaches
//! one backend, different ones spread; a cookie with a `ttl` is made on the first answer and
//! sticks from then on; without a key requests spread; an ejected endpoint's keys move, and only
//! they.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::support::backend::{self, Backend};
use crate::support::client::Client;
use crate::support::config::{self, Files};
use crate::support::proxy::{self, Proxy};
use crate::support::refusing_port;

/// The `web` service with `ports` as endpoints of one subset `v1`, its traffic policy `policy`
/// (one line of YAML) on the rule or on the subset, and every request routed to `v1`.
fn web(ports: &[u16], policy: &str, on_subset: bool) -> Files {
    let mut service = config::service_entry("web");
    for port in ports {
        service = service.endpoint("v1", *port);
    }
    let (rule_policy, subset_policy) = if on_subset {
        (String::new(), format!(", trafficPolicy: {policy}"))
    } else {
        (format!("  trafficPolicy: {policy}\n"), String::new())
    };
    let rule = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: web, namespace: challengeistio}}\nspec:\n  host: web\n{rule_policy}  subsets:\n  - {{name: v1, labels: {{version: v1}}{subset_policy}}}\n"
    );
    let routes = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: challengeistio}\nspec:\n  hosts: [web]\n  http:\n  - route: [{destination: {host: web, subset: v1}}]\n";
    config::files()
        .file("web.yaml", service.yaml())
        .file("rule.yaml", rule)
        .file("routes.yaml", routes)
}

async fn backends() -> [Backend; 3] {
    [
        backend::http1("a").run().await,
        backend::http1("b").run().await,
        backend::http1("c").run().await,
    ]
}

async fn proxy_for(backends: &[Backend], policy: &str, on_subset: bool) -> Proxy {
    let ports: Vec<u16> = backends.iter().map(Backend::port).collect();
    proxy::with_config(web(&ports, policy, on_subset))
        .run()
        .await
}

/// The backends that answered `n` requests made by `request(i)`.
async fn answered<F, Fut>(n: usize, mut request: F) -> BTreeSet<String>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = String>,
{
    let mut seen = BTreeSet::new();
    for i in 0..n {
        seen.insert(request(i).await);
    }
    seen
}

/// A GET of `path` with `headers`; the backend that answered.
async fn get(client: &Client, path: &str, headers: &[(&str, &str)]) -> String {
    let mut req = client.get(path);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let answer = req.send().await;
    assert_eq!(answer.status, 200, "{path} {headers:?}: {answer:?}");
    answer.version()
}

#[tokio::test]
async fn the_same_header_or_query_parameter_sticks_and_different_ones_spread() {
    let cases = [
        (
            "{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}",
            true,
        ),
        (
            "{loadBalancer: {consistentHash: {httpHeaderName: X-User, maglev: {tableSize: 65537}}}}",
            true,
        ),
        (
            "{loadBalancer: {consistentHash: {httpQueryParameterName: user, ringHash: {minimumRingSize: 2048}}}}",
            false,
        ),
    ];
    for (policy, by_header) in cases {
        let b = backends().await;
        let proxy = proxy_for(&b, policy, false).await;
        let client = proxy.client().host("web");
        let request = |user: String| {
            let client = client.clone();
            async move {
                if by_header {
                    get(&client, "/", &[("x-user", &user)]).await
                } else {
                    get(&client, &format!("/?other=1&user={user}"), &[]).await
                }
            }
        };
        let same = answered(20, |_| request("alice".into())).await;
        assert_eq!(same.len(), 1, "{policy}: one user, one backend: {same:?}");
        let many = answered(30, |i| request(format!("user-{i}"))).await;
        assert!(many.len() > 1, "{policy}: users spread: {many:?}");
        // No key at all: Envoy hashes at random, so requests spread.
        let keyless = answered(30, |_| {
            let client = client.clone();
            async move { get(&client, "/", &[]).await }
        })
        .await;
        assert!(keyless.len() > 1, "{policy}: keyless spread: {keyless:?}");
    }
}

#[tokio::test]
async fn a_cookie_with_a_ttl_is_made_once_then_sticks() {
    // On the subset: a subset's traffic policy is its cluster's, as for `simple`.
    let policy =
        "{loadBalancer: {consistentHash: {httpCookie: {name: session, path: /, ttl: 3600s}}}}";
    let b = backends().await;
    let proxy = proxy_for(&b, policy, true).await;
    let client = proxy.client().host("web");
    let first = client.get("/").send().await;
    assert_eq!(first.status, 200);
    let set = first.headers.get("set-cookie").expect("a cookie is set");
    let set = set.to_str().unwrap();
    assert!(
        set.starts_with("session=\"") && set.ends_with("\"; Max-Age=3600; Path=/; HttpOnly"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let sticky = answered(20, |_| {
        let (client, cookie) = (client.clone(), cookie.clone());
        async move { get(&client, "/", &[("cookie", &cookie)]).await }
    })
    .await;
    assert_eq!(sticky.len(), 1, "{sticky:?}");
    assert!(
        sticky.contains(&first.version()),
        "the first answer's backend"
    );
    // A request carrying the cookie is not given another.
    let again = client.get("/").header("cookie", &cookie).send().await;
    assert!(again.headers.get("set-cookie").is_none());
    let many = answered(30, |i| {
        let cookie = format!("session=s{i}");
        let client = client.clone();
        async move { get(&client, "/", &[("cookie", &cookie)]).await }
    })
    .await;
    assert!(many.len() > 1, "sessions spread: {many:?}");
}

#[tokio::test]
async fn a_cookie_without_a_ttl_is_never_made() {
    let policy = "{loadBalancer: {consistentHash: {httpCookie: {name: session}}}}";
    let b = backends().await;
    let proxy = proxy_for(&b, policy, false).await;
    let client = proxy.client().host("web");
    let first = client.get("/").send().await;
    assert!(first.headers.get("set-cookie").is_none());
    let keyless = answered(30, |_| get(&client, "/", &[])).await;
    assert!(keyless.len() > 1, "no cookie, no key: {keyless:?}");
    let sticky = answered(20, |_| get(&client, "/", &[("cookie", "session=bob")])).await;
    assert_eq!(sticky.len(), 1, "{sticky:?}");
}

/// A GET of `/` from `source` (a loopback address) on its own connection; the backend.
async fn get_from(source: &str, proxy: SocketAddr) -> String {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(proxy).await.unwrap();
    let request = "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    ["a", "b", "c"]
        .into_iter()
        .find(|v| answer.contains(&format!("\"version\":\"{v}\"")))
        .unwrap_or("?")
        .to_string()
}

#[tokio::test]
async fn the_source_ip_sticks_across_connections() {
    let policy = "{loadBalancer: {consistentHash: {useSourceIp: true}}}";
    let b = backends().await;
    let proxy = proxy_for(&b, policy, false).await;
    let addr = proxy.addr();
    // Each request on a new connection (a new source port): the IP alone decides.
    let same = answered(20, |_| get_from("127.0.0.1", addr)).await;
    assert_eq!(same.len(), 1, "{same:?}");
    let many = answered(30, |i| get_from_owned(format!("127.0.0.{}", i + 2), addr)).await;
    assert!(many.len() > 1, "sources spread: {many:?}");
}

async fn get_from_owned(source: String, proxy: SocketAddr) -> String {
    get_from(&source, proxy).await
}

#[tokio::test]
async fn an_ejected_endpoints_keys_move_and_the_others_stay() {
    let policy = "{loadBalancer: {consistentHash: {httpHeaderName: x-user}}, outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 60s, maxEjectionPercent: 100}}";
    let [a, b, _] = backends().await;
    let dead = refusing_port().await;
    let mut ports = vec![a.port(), b.port(), dead];
    ports.sort_unstable();
    // Retries off: Istio's default policy would retry the connect failure at once, on the
    // endpoint the ring walks on to once the dead one is ejected.
    let routes = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: challengeistio}\nspec:\n  hosts: [web]\n  http:\n  - route: [{destination: {host: web, subset: v1}}]\n    retries: {attempts: 0}\n";
    let files = web(&ports, policy, false).file("routes.yaml", routes);
    let proxy = proxy::with_config(files).run().await;
    let client = proxy.client().host("web");
    // Where 30 users go while all three are up: the dead endpoint's users get 503.
    let mut before = Vec::new();
    for i in 0..30 {
        let user = format!("user-{i}");
        let answer = client.get("/").header("x-user", &user).send().await;
        before.push((user, answer.status.as_u16(), answer.version()));
        if answer.status == 503 {
            break; // its first failure ejects it
        }
    }
    let (lost, _, _) = before
        .iter()
        .find(|(_, status, _)| *status == 503)
        .expect("some user hashes to the dead endpoint")
        .clone();
    // Ejected: its user moves to a live backend and stays there; the others never moved.
    let moved = answered(10, |_| {
        let (client, lost) = (client.clone(), lost.clone());
        async move { get(&client, "/", &[("x-user", &lost)]).await }
    })
    .await;
    assert_eq!(moved.len(), 1, "{moved:?}");
    for (user, status, version) in before.iter().filter(|(_, s, _)| *s == 200) {
        let now = get(&client, "/", &[("x-user", user)]).await;
        assert_eq!(&now, version, "{user} ({status}) moved");
    }
}

#[tokio::test]
async fn mirrors_hash_the_same_key_on_their_own_cluster() {
    let primaries = backends().await;
    let mirrors = [
        backend::http1("d").run().await,
        backend::http1("e").run().await,
        backend::http1("f").run().await,
    ];
    let mut service = config::service_entry("web");
    for b in &primaries {
        service = service.endpoint("v1", b.port());
    }
    for b in &mirrors {
        service = service.endpoint("v2", b.port());
    }
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: challengeistio}\nspec:\n  host: web\n  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";
    let routes = config::virtual_service("web", "web")
        .route("v1")
        .mirror("v2");
    let files = config::files()
        .file("web.yaml", service.yaml())
        .file("rule.yaml", rule)
        .file("routes.yaml", routes.yaml());
    let proxy = proxy::with_config(files).run().await;
    let client = proxy.client().host("web");
    let mirrored = |mirrors: &[Backend]| mirrors.iter().map(Backend::count).collect::<Vec<_>>();
    let same = answered(20, |_| get(&client, "/", &[("x-user", "alice")])).await;
    assert_eq!(same.len(), 1, "{same:?}");
    crate::assert_eventually!(
        mirrored(&mirrors).iter().sum::<usize>() == 20,
        "every copy arrives: {:?}",
        mirrored(&mirrors)
    );
    let reached = mirrored(&mirrors).iter().filter(|n| **n > 0).count();
    assert_eq!(
        reached,
        1,
        "one user's copies, one mirror: {:?}",
        mirrored(&mirrors)
    );
    answered(30, |i| {
        let client = client.clone();
        async move { get(&client, "/", &[("x-user", &format!("user-{i}"))]).await }
    })
    .await;
    crate::assert_eventually!(
        mirrored(&mirrors).iter().sum::<usize>() == 50,
        "every copy arrives: {:?}",
        mirrored(&mirrors)
    );
    let reached = mirrored(&mirrors).iter().filter(|n| **n > 0).count();
    assert!(
        reached > 1,
        "users' copies spread: {:?}",
        mirrored(&mirrors)
    );
}
