//! Tests of `destination`: a recompile keeps each cluster nothing of which changed (the same
//! `Arc`, with its balancing and outlier state) and makes anew the ones whose service, port,
//! subset or policy changed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::config::{ConfigSet, parse_into};
use crate::model::cluster::Cluster;
use crate::model::test_fixtures::SEED_SERVICES;
use crate::model::{Prior, ProxyIdentity, RouteTable, compile_set};

const OTHER: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: other, namespace: challengeistio}
spec:
  hosts: [othersvc]
  ports: [{number: 80, name: http}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.5, labels: {version: v1}}
"#;

/// The seed's routes: Mobile to v2, the rest to v1, mirrored to v3.
const ROUTES: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: calc, namespace: challengeistio}
spec:
  hosts: [calcbackendsvc]
  http:
  - match: [{headers: {user-agent: {regex: ".*Mobile.*"}}}]
    route: [{destination: {host: calcbackendsvc, subset: v2}}]
  - route: [{destination: {host: calcbackendsvc, subset: v1}, weight: 100}]
    mirror: {host: calcbackendsvc, subset: v3}
"#;

fn compile(texts: &[&str], previous: &[Arc<Cluster>]) -> RouteTable {
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    for (i, text) in texts.iter().chain([&ROUTES]).enumerate() {
        let file = format!("{i}.yaml");
        parse_into(
            &mut set,
            std::path::Path::new(&file),
            text,
            "default",
            &mut diags,
        );
    }
    let prior = Prior {
        clusters: previous,
        ..Prior::default()
    };
    let table = compile_set(&set, &ProxyIdentity::default(), &mut diags, prior);
    table.unwrap_or_else(|| panic!("does not compile: {diags:?}"))
}

fn named<'a>(table: &'a RouteTable, service: &str, subset: Option<&str>) -> &'a Arc<Cluster> {
    let found = table
        .clusters
        .iter()
        .find(|c| c.service.starts_with(service) && c.subset.as_deref() == subset);
    found.unwrap_or_else(|| panic!("no cluster {service} {subset:?}"))
}

#[test]
fn a_recompile_keeps_unchanged_clusters_and_their_state() {
    let first = compile(&[SEED_SERVICES, OTHER], &[]);
    let v1 = named(&first, "calcbackendsvc", Some("v1"));
    v1.endpoints[0].active.store(7, Ordering::Relaxed);

    // Another service's endpoint moves: calcbackendsvc's clusters are kept as they are.
    let moved = OTHER.replace("127.0.0.5", "127.0.0.6");
    let second = compile(&[SEED_SERVICES, &moved], &first.clusters);
    let kept = named(&second, "calcbackendsvc", Some("v1"));
    assert!(Arc::ptr_eq(v1, kept), "an unchanged cluster is kept");
    assert_eq!(kept.endpoints[0].active.load(Ordering::Relaxed), 7);
    let other = named(&second, "othersvc", None);
    assert!(!Arc::ptr_eq(named(&first, "othersvc", None), other));
    assert_eq!(other.endpoints[0].authority.as_str(), "127.0.0.6:80");
}

#[test]
fn a_changed_endpoint_port_or_policy_makes_the_cluster_anew() {
    let first = compile(&[SEED_SERVICES], &[]);
    let v2 = named(&first, "calcbackendsvc", Some("v2"));

    let new_port = SEED_SERVICES.replace("9082", "9092");
    let second = compile(&[&new_port], &first.clusters);
    let remade = named(&second, "calcbackendsvc", Some("v2"));
    assert!(!Arc::ptr_eq(v2, remade));
    assert_eq!(remade.endpoints[0].authority.as_str(), "127.0.0.1:9092");
    // v1 did not change.
    let v1 = named(&first, "calcbackendsvc", Some("v1"));
    assert!(Arc::ptr_eq(
        v1,
        named(&second, "calcbackendsvc", Some("v1"))
    ));

    let balanced = SEED_SERVICES.replace(
        "  subsets:",
        "  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}\n  subsets:",
    );
    let third = compile(&[&balanced], &second.clusters);
    for c in &third.clusters {
        let before = named(&second, "calcbackendsvc", c.subset.as_deref());
        assert!(!Arc::ptr_eq(before, c), "policy changed: {c} made anew");
    }
}

/// A DestinationRule for `calcbackendsvc.challengeistio` in namespace `ns`, its subset v1
/// selecting `version: selects`.
fn rule_in(ns: &str, selects: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: calc-{ns}, namespace: {ns}}}\nspec:\n  host: calcbackendsvc.challengeistio.svc.cluster.local\n  subsets:\n  - {{name: v1, labels: {{version: {selects}}}}}\n  - {{name: v2, labels: {{version: v2}}}}\n  - {{name: v3, labels: {{version: v3}}}}\n"
    )
}

/// The port subset v1 routes to, for a proxy in `proxy_ns` with these rules (and no other).
fn v1_port(proxy_ns: &str, rules: &[String]) -> Option<String> {
    let services = SEED_SERVICES.split("---").next().unwrap();
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    for (i, text) in [services, ROUTES]
        .iter()
        .copied()
        .chain(rules.iter().map(String::as_str))
        .enumerate()
    {
        parse_into(
            &mut set,
            std::path::Path::new(&format!("{i}.yaml")),
            text,
            proxy_ns,
            &mut diags,
        );
    }
    let identity = ProxyIdentity {
        namespace: proxy_ns.into(),
        ..ProxyIdentity::default()
    };
    let table = compile_set(&set, &identity, &mut diags, Prior::default())?;
    let v1 = table
        .clusters
        .iter()
        .find(|c| c.subset.as_deref() == Some("v1"))?;
    Some(v1.endpoints[0].authority.port_u16()?.to_string())
}

#[test]
fn destination_rules_are_looked_up_as_istio_does_client_then_service_then_root_namespace() {
    let (client, service, root, other) = (
        rule_in("web", "v3"),
        rule_in("challengeistio", "v1"),
        rule_in("istio-system", "v2"),
        rule_in("elsewhere", "v2"),
    );
    let all = [client.clone(), service.clone(), root.clone(), other.clone()];
    assert_eq!(
        v1_port("web", &all).as_deref(),
        Some("9083"),
        "the client's namespace first"
    );
    assert_eq!(
        v1_port("challengeistio", &all).as_deref(),
        Some("9081"),
        "the service's namespace when the client is in it"
    );
    assert_eq!(
        v1_port("web", &[service, root.clone()]).as_deref(),
        Some("9081")
    );
    assert_eq!(
        v1_port("web", &[root, other.clone()]).as_deref(),
        Some("9082"),
        "then the root"
    );
    assert_eq!(
        v1_port("web", &[other]),
        None,
        "another namespace's rule applies to nothing: subset v1 is unknown"
    );
}
