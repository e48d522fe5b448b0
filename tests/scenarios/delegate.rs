//! User story: "my team owns `/api` of calcbackendsvc through a delegate VirtualService": a root
//! VirtualService hands `/api` to a child (no hosts) in its own or another namespace; the
//! child's rules, merged with the root's match as Istio merges them, route to v1 with a mirror
//! to v3 and to v2; a change to the child's file is live; a missing child is a warning and the
//! root's other rules still route.

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::client::fetch;
use crate::support::config::{self, delegate_vs, delegating_root};
use crate::support::proxy::{self, Proxy};

struct Versions {
    v1: Backend,
    v2: Backend,
    v3: Backend,
}

async fn versions() -> Versions {
    Versions {
        v1: backend::http1("v1").run().await,
        v2: backend::http1("v2").run().await,
        v3: backend::http1("v3").run().await,
    }
}

/// The seed's service and subsets, a root delegating `/api` to `ns/team-api` (the rest to v2)
/// and, when given, the child's file.
async fn proxy_with(b: &Versions, ns: &str, child: Option<String>) -> Proxy {
    let mut files = config::seed(b.v1.port(), b.v2.port(), b.v3.port()).file(
        "virtualservice.yaml",
        delegating_root("/api", ns, "team-api", "v2"),
    );
    if let Some(child) = child {
        files = files.file("child.yaml", child);
    }
    proxy::with_config(files).run().await
}

fn team_api(ns: &str) -> String {
    delegate_vs(ns, "team-api")
        .rule("calc", "{prefix: /api/calculation}", "v1")
        .mirror("v3")
        .rule("other", "{exact: /api/other}", "v2")
        // Not under the root's /api: Istio drops this rule, so /elsewhere takes the root's rest.
        .rule("outside", "{prefix: /elsewhere}", "v1")
        .yaml()
}

async fn config_dump(proxy: &Proxy) -> serde_json::Value {
    let (_, body) = fetch(&proxy.admin_url("/config_dump")).await.unwrap();
    serde_json::from_str(&body).unwrap()
}

fn route_names(dump: &serde_json::Value) -> Vec<String> {
    let hosts = dump["virtual_hosts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let root = hosts
        .iter()
        .find(|h| h["name"].as_str().unwrap_or_default().contains("/root"));
    let routes = root.map(|h| h["routes"].as_array().cloned().unwrap_or_default());
    (routes.unwrap_or_default().iter())
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_child_in_the_same_or_another_namespace_routes_and_mirrors_its_part() {
    for ns in ["challengeistio", "team"] {
        let b = versions().await;
        let proxy = proxy_with(&b, ns, Some(team_api(ns))).await;
        let client = proxy.client();
        for (path, version) in [
            ("/api/calculation?number=3", "v1"),
            ("/api/other", "v2"),
            ("/elsewhere", "v2"),
            ("/api/others", "v2"),
        ] {
            let a = client.get(path).send().await;
            assert_eq!(
                (a.status.as_u16(), a.version()),
                (200, version.into()),
                "{ns} {path}"
            );
        }
        assert_eq!(b.v1.count(), 1, "{ns}: only the calculation reached v1");
        assert_eventually!(
            b.v3.count() == 1,
            "{ns}: the mirror gets its copy of the calculation"
        );
        assert_eq!(b.v3.seen()[0].path, "/api/calculation?number=3", "{ns}");
        let dump = config_dump(&proxy).await;
        assert_eq!(
            route_names(&dump),
            ["api/calc", "api/other", "rest"],
            "{ns}: {dump}"
        );
        let warnings = dump["warnings"].to_string();
        assert!(
            warnings.contains("team-api.http[2]") || warnings.contains("outside"),
            "{ns}: {warnings}"
        );
    }
}

#[tokio::test]
async fn a_change_to_the_child_is_live() {
    let b = versions().await;
    let proxy = proxy_with(&b, "team", Some(team_api("team"))).await;
    let client = proxy.client();
    assert_eq!(client.calculation(1).send().await.version(), "v1");
    let v2_now = delegate_vs("team", "team-api")
        .rule("calc", "{prefix: /api/calculation}", "v2")
        .yaml();
    proxy.replace_file("child.yaml", &v2_now);
    assert_eventually!(proxy.generation() == 2, "the child's change is applied");
    assert_eq!(client.calculation(2).send().await.version(), "v2");
    assert_eq!(
        route_names(&config_dump(&proxy).await),
        ["api/calc", "rest"]
    );
}

#[tokio::test]
async fn a_missing_child_is_a_warning_and_the_rest_still_routes() {
    let b = versions().await;
    let proxy = proxy_with(&b, "team", None).await;
    let a = proxy.client().calculation(1).send().await;
    assert_eq!((a.status.as_u16(), a.version()), (200, "v2".into()));
    let dump = config_dump(&proxy).await;
    assert_eq!(route_names(&dump), ["rest"]);
    let warnings = dump["warnings"].to_string();
    assert!(
        warnings.contains("spec.http[0].delegate") && warnings.contains("team/team-api not found"),
        "{warnings}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(b.v3.count(), 0, "nothing is mirrored");
}
