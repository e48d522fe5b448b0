//! The cluster's objects as resources, each on its own: an Istio object parsed into the typed
//! resource the files give (same parser, so the same field errors), a Service with its
//! EndpointSlices and Pods as the ServiceEntry it amounts to. Each [`Candidate`] carries the
//! object it came from, so a rejection can be reported on it (an `Event`).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

use super::services::{PodLabels, service_entry, source};
use super::slices::EndpointSlice;
use super::store::{ObjKind, Objects};
use crate::config::{ConfigSet, Diagnostic, parse_object};

/// The object a resource came from, for Events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
}

/// One resource of the cluster (or of a file), before it is checked.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `KIND ns/name`.
    pub key: String,
    /// `kubernetes: ns/name@resourceVersion` or the file.
    pub source: String,
    /// The resource alone (empty when it could not be read).
    pub set: ConfigSet,
    /// What reading it reported.
    pub diags: Vec<Diagnostic>,
    /// The object, for resources of the cluster.
    pub object: Option<ObjectRef>,
}

fn meta_str(obj: &Value, field: &str) -> String {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn object_ref(obj: &Value, api_version: &str, kind: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: meta_str(obj, "namespace"),
        name: meta_str(obj, "name"),
        uid: meta_str(obj, "uid"),
        resource_version: meta_str(obj, "resourceVersion"),
    }
}

/// An Istio object of `kind` served as `api_version` (set on the object: list items may lack it).
pub fn istio_candidate(mut obj: Value, kind: ObjKind, api_version: &str) -> Candidate {
    let r = object_ref(&obj, api_version, kind.as_str());
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), kind.as_str().into());
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            meta.remove("managedFields");
        }
    }
    let src = source(&r.namespace, &r.name, &r.resource_version);
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    match serde_yaml_ng::to_value(&obj) {
        Ok(v) => parse_object(&mut set, &src, v, &r.namespace, &mut diags),
        Err(e) => diags.push(Diagnostic::error(e.to_string()).in_file(&src)),
    }
    Candidate {
        key: format!("{} {}/{}", kind.as_str(), r.namespace, r.name),
        source: src.display().to_string(),
        set,
        diags,
        object: Some(r),
    }
}

/// Every resource of the cluster: its Istio objects (with the version each kind is served as)
/// and its Services.
pub fn candidates(objects: &Objects, versions: &BTreeMap<ObjKind, String>) -> Vec<Candidate> {
    let mut out = Vec::new();
    for kind in ObjKind::ALL.into_iter().filter(|k| k.is_istio()) {
        let api_version = versions
            .get(&kind)
            .map_or("networking.istio.io/v1", String::as_str);
        for (_, obj) in objects.of(kind) {
            out.push(istio_candidate(obj.clone(), kind, api_version));
        }
    }
    out.extend(service_candidates(objects));
    out
}

/// Each Service with its slices and pods.
fn service_candidates(objects: &Objects) -> Vec<Candidate> {
    let pods: PodLabels = objects
        .of(ObjKind::Pod)
        .map(|(k, v)| {
            let labels = v
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            (k.clone(), labels)
        })
        .collect();
    let slices: Vec<EndpointSlice> = objects
        .of(ObjKind::EndpointSlice)
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .collect();
    let mut by_service: BTreeMap<(&str, &str), Vec<&EndpointSlice>> = BTreeMap::new();
    for s in &slices {
        if let Some(svc) = s.service_name() {
            by_service
                .entry((s.metadata.namespace.as_str(), svc))
                .or_default()
                .push(s);
        }
    }
    let mut out = Vec::new();
    for ((ns, name), obj) in objects.of(ObjKind::Service) {
        let r = object_ref(obj, "v1", "Service");
        let key = format!("Service {ns}/{name}");
        let src = source(ns, name, &r.resource_version);
        let mut set = ConfigSet::default();
        let mut diags = Vec::new();
        match serde_json::from_value::<Service>(obj.clone()) {
            Ok(svc) => {
                let mine = by_service
                    .get(&(ns.as_str(), name.as_str()))
                    .cloned()
                    .unwrap_or_default();
                set.service_entries
                    .extend(service_entry(&svc, &mine, &pods));
            }
            Err(e) => diags.push(
                Diagnostic::error(format!("not a Service shadowmesh can read: {e}"))
                    .in_file(Path::new(&src))
                    .in_resource(key.clone()),
            ),
        }
        out.push(Candidate {
            key,
            source: src.display().to_string(),
            set,
            diags,
            object: Some(r),
        });
    }
    out
}

/// The resources of the files at `paths`, one candidate each (a resource that could not be read
/// is a candidate with its errors), and the errors that name no resource (a whole file).
pub fn file_candidates(
    paths: &[std::path::PathBuf],
    default_ns: &str,
) -> (Vec<Candidate>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    if paths.is_empty() {
        // Kubernetes mode without `-f`: the cluster is the whole config.
        return (Vec::new(), diags);
    }
    let set = crate::config::read_files(paths, default_ns, &mut diags);
    let mut out: Vec<Candidate> = Vec::new();
    let mut push = |key: String, file: &Path, one: ConfigSet| {
        out.push(Candidate {
            key,
            source: file.display().to_string(),
            set: one,
            diags: Vec::new(),
            object: None,
        });
    };
    for r in &set.virtual_services {
        let mut one = ConfigSet::default();
        one.virtual_services.push(r.clone());
        push(r.id.to_string(), &r.file, one);
    }
    for r in &set.destination_rules {
        let mut one = ConfigSet::default();
        one.destination_rules.push(r.clone());
        push(r.id.to_string(), &r.file, one);
    }
    for r in &set.service_entries {
        let mut one = ConfigSet::default();
        one.service_entries.push(r.clone());
        push(r.id.to_string(), &r.file, one);
    }
    for r in &set.workload_entries {
        let mut one = ConfigSet::default();
        one.workload_entries.push(r.clone());
        push(r.id.to_string(), &r.file, one);
    }
    let mut whole_file = Vec::new();
    for d in diags.into_iter().filter(Diagnostic::is_error) {
        let Some(resource) = d.resource.clone() else {
            whole_file.push(d);
            continue;
        };
        match out.iter_mut().find(|c| c.key == resource) {
            Some(c) => c.diags.push(d),
            None => out.push(Candidate {
                key: resource,
                source: d
                    .file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                set: ConfigSet::default(),
                diags: vec![d],
                object: None,
            }),
        }
    }
    (out, whole_file)
}

#[cfg(test)]
mod tests {
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
        let all = candidates(&objects, &BTreeMap::new());
        assert_eq!(all.len(), 1);
        let c = &all[0];
        assert_eq!(c.key, "Service ns/svc");
        assert_eq!(c.source, "kubernetes: ns/svc@3");
        let eps = &c.set.service_entries[0].spec.endpoints;
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].address, "127.0.0.2");
        assert_eq!(eps[0].labels["version"], "v1");
    }
}
