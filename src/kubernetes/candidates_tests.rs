//! Tests of [`super`]: objects read as resources, and the memo's reuse across builds.

use serde_json::json;

use super::*;

#[test]
fn no_files_is_no_candidates_and_no_error() {
    // `run --kubernetes` without `-f`: the cluster is the whole config.
    let (candidates, errors) = file_candidates(&[], "default");
    assert!(candidates.is_empty() && errors.is_empty(), "{errors:?}");
}

#[test]
fn an_istio_object_reads_as_its_resource_with_its_source() {
    let obj = json!({
        "metadata": {"name": "backend-vs", "namespace": "challengeistio",
                     "resourceVersion": "42", "uid": "u", "managedFields": [{"manager": "kubectl"}]},
        "spec": {"hosts": ["calcbackendsvc"], "http": [{"route": [{"destination": {"host": "calcbackendsvc"}}]}]}
    });
    let c = istio_candidate(obj, ObjKind::VirtualService, "networking.istio.io/v1alpha3");
    assert!(c.diags.is_empty(), "{:?}", c.diags);
    assert_eq!(c.key, "VirtualService challengeistio/backend-vs");
    assert_eq!(c.source, "kubernetes: challengeistio/backend-vs@42");
    let vs = &c.set.virtual_services[0];
    assert_eq!(vs.api_version, "networking.istio.io/v1alpha3");
    assert_eq!(vs.id.to_string(), c.key);
    assert_eq!(c.object.unwrap().resource_version, "42");
}

#[test]
fn an_unknown_field_is_an_error_naming_source_resource_and_field() {
    let obj = json!({
        "metadata": {"name": "bad", "namespace": "ns", "resourceVersion": "7"},
        "spec": {"hosts": ["a"], "http": [{"retriez": {}}]}
    });
    let c = istio_candidate(obj, ObjKind::VirtualService, "networking.istio.io/v1");
    assert!(c.set.virtual_services.is_empty());
    let d = &c.diags[0];
    assert!(d.is_error());
    assert!(
        d.to_string().starts_with(
            "error: kubernetes: ns/bad@7: VirtualService ns/bad: spec.http[0].retriez: unknown field `retriez`"
        ),
        "{d}"
    );
}

#[test]
fn services_take_their_slices_and_pods_from_the_store() {
    let mut objects = Objects::default();
    objects.apply(
        ObjKind::Service,
        json!({"metadata": {"name": "svc", "namespace": "ns", "resourceVersion": "3"},
               "spec": {"ports": [{"name": "http", "port": 80}]}}),
    );
    objects.apply(
        ObjKind::EndpointSlice,
        json!({"metadata": {"name": "svc-1", "namespace": "ns",
                            "labels": {"kubernetes.io/service-name": "svc"}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
               "endpoints": [{"addresses": ["127.0.0.2"], "conditions": {"ready": true},
                              "targetRef": {"kind": "Pod", "name": "p"}}]}),
    );
    // A slice of another Service in the same namespace is not this one's.
    objects.apply(
        ObjKind::EndpointSlice,
        json!({"metadata": {"name": "other-1", "namespace": "ns",
                            "labels": {"kubernetes.io/service-name": "other"}},
               "endpoints": [{"addresses": ["127.0.0.9"]}]}),
    );
    objects.apply(
        ObjKind::Pod,
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"version": "v1"}}}),
    );
    let all = candidates(&objects, &BTreeMap::new(), &mut Memo::default());
    assert_eq!(all.len(), 1);
    let c = &all[0];
    assert_eq!(c.key, "Service ns/svc");
    assert_eq!(c.source, "kubernetes: ns/svc@3");
    let eps = &c.set.service_entries[0].spec.endpoints;
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].address, "127.0.0.2");
    assert_eq!(eps[0].labels["version"], "v1");
}

#[test]
fn a_change_remakes_only_what_it_touched() {
    let vs = |name: &str, rv: &str| {
        json!({"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
               "spec": {"hosts": [name], "http": [{"route": [{"destination": {"host": name}}]}]}})
    };
    let slice = |rv: &str, pod: &str| {
        json!({"metadata": {"name": "svc-1", "namespace": "ns", "resourceVersion": rv,
                            "labels": {"kubernetes.io/service-name": "svc"}},
               "ports": [{"name": "http", "port": 8080}],
               "endpoints": [{"addresses": ["127.0.0.2"], "targetRef": {"kind": "Pod", "name": pod}}]})
    };
    let pod = |rv: &str, version: &str| {
        json!({"metadata": {"name": "p", "namespace": "ns", "resourceVersion": rv,
                            "labels": {"version": version}}})
    };
    let mut objects = Objects::default();
    objects.apply(ObjKind::VirtualService, vs("a", "1"));
    objects.apply(ObjKind::VirtualService, vs("b", "1"));
    objects.apply(
        ObjKind::Service,
        json!({"metadata": {"name": "svc", "namespace": "ns", "resourceVersion": "1"},
               "spec": {"ports": [{"name": "http", "port": 80}]}}),
    );
    objects.apply(ObjKind::EndpointSlice, slice("1", "p"));
    objects.apply(ObjKind::Pod, pod("1", "v1"));
    let mut memo = Memo::default();
    let versions = BTreeMap::new();
    let first = candidates(&objects, &versions, &mut memo);
    let set_of =
        |all: &[Candidate], key: &str| Arc::clone(&all.iter().find(|c| c.key == key).unwrap().set);
    let same =
        |a: &[Candidate], b: &[Candidate], key: &str| Arc::ptr_eq(&set_of(a, key), &set_of(b, key));
    let (a, b, svc) = (
        "VirtualService ns/a",
        "VirtualService ns/b",
        "Service ns/svc",
    );

    // Nothing changed: everything is reused, checked alone already.
    let again = candidates(&objects, &versions, &mut memo);
    assert!(same(&first, &again, a) && same(&first, &again, b) && same(&first, &again, svc));
    assert!(again.iter().all(|c| c.alone.is_some()));

    // One VirtualService changed: only it is read again.
    objects.apply(ObjKind::VirtualService, vs("a", "2"));
    let next = candidates(&objects, &versions, &mut memo);
    assert!(!same(&again, &next, a));
    assert!(same(&again, &next, b) && same(&again, &next, svc));

    // The Service is remade when one of its pods changes (labels: subsets), with the
    // new labels.
    objects.apply(ObjKind::Pod, pod("2", "v2"));
    let relabelled = candidates(&objects, &versions, &mut memo);
    assert!(!same(&next, &relabelled, svc) && same(&next, &relabelled, b));
    let eps = &set_of(&relabelled, svc).service_entries[0].spec.endpoints;
    assert_eq!(eps[0].labels["version"], "v2");

    // A deleted object leaves the memo with the build that no longer sees it.
    objects.delete(ObjKind::VirtualService, &("ns".into(), "b".into()));
    let fewer = candidates(&objects, &versions, &mut memo);
    assert!(fewer.iter().all(|c| c.key != b));
}
