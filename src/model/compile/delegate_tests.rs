//! Delegation compiled from whole configs: children found in the root's and another
//! namespace, missing, hidden by `exportTo` or with hosts, a delegate no root names, and
//! problems reported where they were written (Istio's merge tables are in
//! `delegate_merge_tests.rs`).

use std::path::Path;

use http::HeaderMap;

use crate::config::Diagnostic;
use crate::model::matchers::request::RequestHead;
use crate::model::table::{Action, RouteTable};
use crate::model::test_fixtures::compile_with_seed;

const ROOT: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: root, namespace: challengeistio}\nspec: {hosts: [calcbackendsvc], http: [{name: api, match: [{uri: {prefix: /api}}], delegate: {name: child, namespace: NS}}, {name: rest, route: [{destination: {host: calcbackendsvc, subset: v3}}]}]}\n";

fn child(ns: &str, extra: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: child, namespace: {ns}}}\nspec: {{{extra}http: [{{name: calc, match: [{{uri: {{prefix: /api/calculation}}}}], route: [{{destination: {{host: calcbackendsvc.challengeistio.svc.cluster.local, subset: v1}}}}], mirror: {{host: calcbackendsvc.challengeistio.svc.cluster.local, subset: v3}}}}, {{match: [{{uri: {{exact: /api/other}}}}], route: [{{destination: {{host: calcbackendsvc.challengeistio.svc.cluster.local, subset: v2}}}}]}}, {{match: [{{uri: {{prefix: /elsewhere}}}}], route: [{{destination: {{host: calcbackendsvc.challengeistio.svc.cluster.local, subset: v2}}}}]}}]}}\n"
    )
}

fn compiled(files: &[(&str, String)]) -> (Option<RouteTable>, Vec<Diagnostic>) {
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    compile_with_seed(&files)
}

/// `(route name, subset)` per path, in the root's virtual host.
fn routed(table: &RouteTable, path: &str) -> Option<(String, String)> {
    let vhost = table
        .virtual_hosts
        .iter()
        .find(|v| v.name.contains("root"))?;
    let headers = HeaderMap::new();
    let head = RequestHead {
        method: "GET",
        scheme: "http",
        authority: "calcbackendsvc",
        host: "calcbackendsvc.challengeistio.svc.cluster.local",
        port: None,
        path,
        query: None,
        headers: &headers,
    };
    let route = vhost
        .routes
        .iter()
        .find(|r| r.matches.is_empty() || r.matches.iter().any(|m| m.matches(&head)))?;
    let Action::Forward(w) = &route.action else {
        return None;
    };
    let cluster = w.destinations[0].target.resolve(Some(80))?;
    Some((
        route.name.to_string(),
        cluster.subset.clone().unwrap_or_default(),
    ))
}

fn warnings(diags: &[Diagnostic]) -> Vec<(String, String)> {
    diags
        .iter()
        .map(|d| (d.field.clone().unwrap_or_default(), d.message.clone()))
        .collect()
}

#[test]
fn children_in_the_roots_and_another_namespace_replace_the_delegating_route() {
    for ns in ["challengeistio", "team"] {
        let (table, diags) = compiled(&[
            ("root.yaml", ROOT.replace("NS", ns)),
            ("child.yaml", child(ns, "")),
        ]);
        let table = table.unwrap_or_else(|| panic!("{ns}: {diags:#?}"));
        let route = |p| routed(&table, p);
        let s = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(route("/api/calculation/x"), s("api/calc", "v1"), "{ns}");
        assert_eq!(
            route("/api/other"),
            s(&format!("api/{ns}/child.http[1]"), "v2"),
            "{ns}"
        );
        // The third child route is outside /api: Istio drops it; the root's next route serves.
        assert_eq!(route("/api/others"), s("rest", "v3"), "{ns}");
        assert_eq!(route("/elsewhere"), s("rest", "v3"), "{ns}");
        let vhost = table
            .virtual_hosts
            .iter()
            .find(|v| v.name.contains("root"))
            .unwrap();
        assert_eq!(vhost.routes[0].mirrors.len(), 1, "{ns}");
        let w = warnings(&diags);
        assert_eq!(w.len(), 1, "{ns}: {w:#?}");
        assert_eq!(w[0].0, "spec.http[0].delegate", "{ns}");
        assert!(
            w[0].1.contains(&format!("{ns}/child.http[2]")),
            "{ns}: {w:#?}"
        );
    }
}

#[test]
fn a_child_not_found_hidden_or_with_hosts_drops_the_route_with_a_warning() {
    let cases = [
        ("missing", "elsewhere", String::new(), "not found"),
        (
            "with hosts",
            "team",
            child("team", "hosts: [other], "),
            "a root is never a delegate",
        ),
        (
            "exported elsewhere",
            "team",
            child("team", "exportTo: ['.'], "),
            "not exported to namespace challengeistio",
        ),
    ];
    for (name, ns, text, says) in cases {
        let mut files = vec![("root.yaml", ROOT.replace("NS", ns))];
        if !text.is_empty() {
            files.push(("child.yaml", text));
        }
        let (table, diags) = compiled(&files);
        let table = table.unwrap_or_else(|| panic!("{name}: {diags:#?}"));
        let found = diags.iter().any(|d| {
            d.file.as_deref() == Some(Path::new("root.yaml"))
                && d.field.as_deref() == Some("spec.http[0].delegate")
                && d.message.contains(says)
        });
        assert!(found, "{name}: {diags:#?}");
        assert_eq!(
            routed(&table, "/api/calculation"),
            Some(("rest".into(), "v3".into())),
            "{name}"
        );
    }
    // Exported to the root's namespace by name: routed.
    let visible = child("team", "exportTo: [challengeistio], ");
    let (table, diags) = compiled(&[
        ("root.yaml", ROOT.replace("NS", "team")),
        ("child.yaml", visible),
    ]);
    let table = table.unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(
        routed(&table, "/api/calculation").map(|r| r.1),
        Some("v1".into())
    );
}

#[test]
fn a_delegate_no_root_names_is_warned_about() {
    let (table, diags) = compiled(&[("child.yaml", child("team", ""))]);
    assert!(table.is_some(), "{diags:#?}");
    let w = warnings(&diags);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].0, "spec.hosts");
    assert!(w[0].1.contains("no root VirtualService delegates to it"));
}

#[test]
fn problems_are_reported_where_they_were_written() {
    // An unknown subset in the child's route is the child's; one in the root's mirror, which
    // every child route takes, is the root's, once.
    let root = ROOT.replace("NS", "team").replace(
        "delegate:",
        "mirror: {host: calcbackendsvc, subset: nope}, delegate:",
    );
    let bad_child = child("team", "")
        .replacen("subset: v1", "subset: v9", 1)
        .replace(
            ", mirror: {host: calcbackendsvc.challengeistio.svc.cluster.local, subset: v3}",
            "",
        );
    let (table, diags) = compiled(&[("root.yaml", root), ("child.yaml", bad_child)]);
    assert!(table.is_none());
    let errors: Vec<(String, String)> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            (
                d.file.as_ref().unwrap().display().to_string(),
                d.field.clone().unwrap_or_default(),
            )
        })
        .collect();
    let want = |f: &str, field: &str| (f.to_string(), field.to_string());
    assert_eq!(
        errors,
        [
            want("child.yaml", "spec.http[0].route[0].destination.subset"),
            want("root.yaml", "spec.http[0].mirror.subset"),
        ],
        "{diags:#?}"
    );
}
