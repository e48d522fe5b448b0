//! Tests of `gate`: one bad resource is left out alone, its last good version stays, and a
//! resource the compiler refuses is dropped without blocking the others.

use serde_json::{Value, json};

use super::*;
use crate::kubernetes::candidates::istio_candidate;
use crate::kubernetes::store::ObjKind;

fn vs(name: &str, rv: &str, attempts: i64, subset: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv, "uid": name},
        "spec": {"hosts": [format!("{name}.example.com")], "http": [{
            "retries": {"attempts": attempts},
            "route": [{"destination": {"host": "backend", "subset": subset}}]
        }]}
    })
}

fn dr() -> Value {
    json!({
        "metadata": {"name": "backend", "namespace": "ns", "resourceVersion": "1"},
        "spec": {"host": "backend", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}
    })
}

fn se() -> Value {
    json!({
        "metadata": {"name": "backend", "namespace": "ns", "resourceVersion": "1"},
        "spec": {"hosts": ["backend"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                 "resolution": "STATIC", "endpoints": [{"address": "127.0.0.1", "labels": {"version": "v1"}}]}
    })
}

fn candidates(vss: &[Value]) -> Vec<Candidate> {
    let v = "networking.istio.io/v1";
    let mut out = vec![
        istio_candidate(dr(), ObjKind::DestinationRule, v),
        istio_candidate(se(), ObjKind::ServiceEntry, v),
    ];
    out.extend(
        vss.iter()
            .map(|o| istio_candidate(o.clone(), ObjKind::VirtualService, v)),
    );
    out
}

fn state(o: &Outcome, resource: &str) -> ResourceState {
    o.statuses
        .iter()
        .find(|s| s.resource == resource)
        .unwrap_or_else(|| panic!("{resource} has no status: {:?}", o.statuses))
        .state
}

fn vs_names(o: &Outcome) -> Vec<String> {
    let snap = o.snapshot.as_ref().expect("a snapshot");
    let mut names: Vec<String> = snap
        .table
        .virtual_hosts
        .iter()
        .filter_map(|v| v.source.as_ref().map(|s| s.to_string()))
        .collect();
    names.sort();
    names
}

#[test]
fn a_bad_resource_is_skipped_alone_and_its_last_good_version_stays() {
    let id = ProxyIdentity {
        namespace: "ns".into(),
        ..Default::default()
    };
    let mut gate = Gate::default();
    let first = gate.build(
        candidates(&[vs("a", "1", 2, "v1"), vs("b", "1", 2, "v1")]),
        &id,
    );
    assert!(first.rejections.is_empty(), "{:?}", first.rejections);
    assert_eq!(vs_names(&first).len(), 2);

    // a turns bad (negative attempts): its version 1 stays; c is new and bad: left out.
    let second = gate.build(
        candidates(&[
            vs("a", "2", -1, "v1"),
            vs("b", "1", 2, "v1"),
            vs("c", "1", -1, "v1"),
        ]),
        &id,
    );
    assert_eq!(
        state(&second, "VirtualService ns/a"),
        ResourceState::RejectedKeptLastGood
    );
    assert_eq!(
        state(&second, "VirtualService ns/b"),
        ResourceState::Accepted
    );
    assert_eq!(
        state(&second, "VirtualService ns/c"),
        ResourceState::Rejected
    );
    let rejected: Vec<String> = second
        .rejections
        .iter()
        .map(|r| format!("{} {}", r.candidate.key, describe(&r.errors[0])))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected[0].starts_with("VirtualService ns/a spec.http[0].retries.attempts: "),
        "{rejected:?}"
    );
    let a = second
        .statuses
        .iter()
        .find(|s| s.resource == "VirtualService ns/a")
        .unwrap();
    assert_eq!(
        a.source, "kubernetes: ns/a@1",
        "the last good version serves"
    );
    assert_eq!(vs_names(&second).len(), 2);
}

#[test]
fn a_resource_the_compiler_refuses_does_not_block_the_others() {
    let id = ProxyIdentity {
        namespace: "ns".into(),
        ..Default::default()
    };
    let mut gate = Gate::default();
    // Subset v9 is defined nowhere: a cross-resource error on b alone.
    let o = gate.build(
        candidates(&[vs("a", "1", 2, "v1"), vs("b", "1", 2, "v9")]),
        &id,
    );
    assert!(o.snapshot.is_some(), "{:?}", o.errors);
    assert_eq!(state(&o, "VirtualService ns/a"), ResourceState::Accepted);
    assert_eq!(state(&o, "VirtualService ns/b"), ResourceState::Rejected);
    assert_eq!(o.rejections.len(), 1);
    let r = &o.rejections[0];
    assert_eq!(r.candidate.key, "VirtualService ns/b");
    assert!(
        describe(&r.errors[0]).starts_with("spec.http[0].route[0].destination.subset: "),
        "{:?}",
        r.errors
    );
    assert_eq!(vs_names(&o), ["VirtualService ns/a"]);
}

#[test]
fn validation_warnings_reach_the_snapshot_though_the_build_does_not_validate_again() {
    // `mirrorPercent` is deprecated: Istio's validation warns, and the VirtualService is accepted.
    let mut warned = vs("warned", "1", 2, "v1");
    warned["spec"]["http"][0]["mirror"] = json!({"host": "backend"});
    warned["spec"]["http"][0]["mirrorPercent"] = json!(50);
    let mut gate = Gate::default();
    let out = gate.build(candidates(&[warned]), &ProxyIdentity::default());
    assert_eq!(
        state(&out, "VirtualService ns/warned"),
        ResourceState::Accepted
    );
    let snap = out.snapshot.expect("a snapshot");
    assert!(
        snap.warnings
            .iter()
            .any(|w| w.field.as_deref() == Some("spec.http[0].mirrorPercent")),
        "{:?}",
        snap.warnings
    );
}

#[test]
fn of_two_resources_for_one_host_the_older_wins_whatever_their_names() {
    let for_host = |name: &str, ns: &str, created: &str| {
        json!({
            "metadata": {"name": name, "namespace": ns, "resourceVersion": "1",
                         "creationTimestamp": created},
            "spec": {"hosts": ["shared.example.com"], "http": [{
                "route": [{"destination": {"host": "backend", "subset": "v1"}}]
            }]}
        })
    };
    // "aaa" sorts first by name, but "zzz" in the other namespace was there first.
    let newer = for_host("aaa", "evil", "2026-12-06T09:00:00Z");
    let older = for_host("zzz", "ns", "2026-01-01T00:00:00Z");
    let mut gate = Gate::default();
    let out = gate.build(candidates(&[newer, older]), &ProxyIdentity::default());
    assert_eq!(
        state(&out, "VirtualService ns/zzz"),
        ResourceState::Accepted
    );
    assert_eq!(
        state(&out, "VirtualService evil/aaa"),
        ResourceState::Rejected
    );
    let rejected = &out.rejections[0];
    assert_eq!(rejected.candidate.key, "VirtualService evil/aaa");
    let says = |d: &Diagnostic| {
        d.message
            .contains("define the same host shared.example.com")
    };
    assert!(rejected.errors.iter().any(says), "{:?}", rejected.errors);
}

#[test]
fn a_refused_namesake_from_another_source_leaves_the_accepted_ones_status_clean() {
    // The same VirtualService from two sources (the cluster and a file, say): one refused.
    let id = ProxyIdentity {
        namespace: "ns".into(),
        ..Default::default()
    };
    let good = istio_candidate(
        vs("dup", "1", 2, "v1"),
        ObjKind::VirtualService,
        "networking.istio.io/v1",
    );
    let mut bad = istio_candidate(
        vs("dup", "1", -1, "v1"),
        ObjKind::VirtualService,
        "networking.istio.io/v1",
    );
    bad.source = "dup.yaml".into();
    let mut all = candidates(&[]);
    all.extend([good, bad]);
    let out = Gate::default().build(all, &id);
    let of_dup: Vec<(&str, ResourceState, usize)> = out
        .statuses
        .iter()
        .filter(|s| s.resource == "VirtualService ns/dup")
        .map(|s| (s.source.as_str(), s.state, s.errors.len()))
        .collect();
    assert!(
        of_dup.contains(&("kubernetes: ns/dup@1", ResourceState::Accepted, 0)),
        "{of_dup:?}"
    );
    assert!(
        of_dup.contains(&("dup.yaml", ResourceState::Rejected, 1)),
        "{of_dup:?}"
    );
}
