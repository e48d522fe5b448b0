//! The cluster's objects as resources, each on its own: an Istio object parsed into the typed
//! resource the files give (same parser, so the same field errors), a Service with its
//! EndpointSlices and Pods as the ServiceEntry it amounts to. Each [`Candidate`] carries the
//! object it came from, so a rejection can be reported on it (an `Event`), and the errors of
//! checking it alone once they are known. What is unchanged since the last build is reused
//! ([`super::memo`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

use super::memo::Memo;
use super::services::{PodLabels, service_entry, source};
use super::slices::EndpointSlice;
use super::store::{Key, ObjKind, Objects, Stored};
use crate::config::{ConfigSet, Diagnostic, parse_object};
use crate::model::validation;

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
    /// The resource alone (empty when it could not be read); shared by the memo, the last good
    /// versions and the build.
    pub set: Arc<ConfigSet>,
    /// What reading it reported.
    pub diags: Vec<Diagnostic>,
    /// The object, for resources of the cluster.
    pub object: Option<ObjectRef>,
    /// What reading it and validating it alone reported (errors and warnings), once computed.
    pub alone: Option<Arc<Vec<Diagnostic>>>,
}

impl Candidate {
    /// A candidate with nothing checked yet.
    pub fn new(key: String, source: String, set: ConfigSet, diags: Vec<Diagnostic>) -> Self {
        Self {
            key,
            source,
            set: Arc::new(set),
            diags,
            object: None,
            alone: None,
        }
    }

    /// Checks it alone (reading, then Istio's validation) and keeps the result.
    pub fn check_alone(&mut self) {
        if self.alone.is_none() {
            self.alone = Some(Arc::new(self.diags_alone()));
        }
    }

    /// The errors of reading it and of validating it alone.
    pub fn errors_alone(&self) -> Vec<Diagnostic> {
        self.alone_where(Diagnostic::is_error)
    }

    /// The warnings of reading it and of validating it alone: the build does not validate
    /// again, so they are handed to it.
    pub fn warnings_alone(&self) -> Vec<Diagnostic> {
        self.alone_where(|d| !d.is_error())
    }

    fn alone_where(&self, keep: impl Fn(&Diagnostic) -> bool) -> Vec<Diagnostic> {
        match &self.alone {
            Some(known) => known.iter().filter(|d| keep(d)).cloned().collect(),
            None => self.diags_alone().into_iter().filter(keep).collect(),
        }
    }

    /// Reading's diagnostics, then validation's when reading found no error.
    fn diags_alone(&self) -> Vec<Diagnostic> {
        let mut diags = self.diags.clone();
        if !diags.iter().any(Diagnostic::is_error) {
            validation::validate(&self.set, &mut diags);
        }
        diags
    }
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
    let key = format!("{} {}/{}", kind.as_str(), r.namespace, r.name);
    let mut c = Candidate::new(key, src.display().to_string(), set, diags);
    c.object = Some(r);
    c
}

/// Every resource of the cluster: its Istio objects (with the version each kind is served as)
/// and its Services; what is unchanged since the last build comes from `memo`.
pub fn candidates(
    objects: &Objects,
    versions: &BTreeMap<ObjKind, String>,
    memo: &mut Memo,
) -> Vec<Candidate> {
    memo.start();
    let mut out = Vec::new();
    for kind in ObjKind::ALL.into_iter().filter(|k| k.is_istio()) {
        let api_version = versions
            .get(&kind)
            .map_or("networking.istio.io/v1", String::as_str);
        for (key, obj) in objects.of(kind) {
            let fingerprint = format!("{api_version}@{}", obj.resource_version);
            out.push(memo.candidate(kind, key, &fingerprint, || {
                istio_candidate(obj.value(), kind, api_version)
            }));
        }
    }
    out.extend(service_candidates(objects, memo));
    let made = memo.finish();
    tracing::debug!(made, reused = out.len() - made, "cluster resources read");
    out
}

/// A parsed EndpointSlice with its `resourceVersion`.
type VersionedSlice = (String, Arc<EndpointSlice>);

/// Each Service with its slices and pods.
fn service_candidates(objects: &Objects, memo: &mut Memo) -> Vec<Candidate> {
    let mut by_service: BTreeMap<Key, Vec<VersionedSlice>> = BTreeMap::new();
    for (key, v) in objects.of(ObjKind::EndpointSlice) {
        let rv = v.resource_version.clone();
        let parsed = memo.slice(key, &rv, || v.parse().ok());
        if let Some(slice) = parsed
            && let Some(svc) = slice.service_name()
        {
            let service = (slice.metadata.namespace.clone(), svc.to_string());
            by_service.entry(service).or_default().push((rv, slice));
        }
    }
    let mut out = Vec::new();
    for (key, obj) in objects.of(ObjKind::Service) {
        let mine: &[VersionedSlice] = by_service.get(key).map_or(&[], Vec::as_slice);
        let fingerprint = service_fingerprint(objects, obj, mine);
        out.push(memo.candidate(ObjKind::Service, key, &fingerprint, || {
            let slices: Vec<&EndpointSlice> = mine.iter().map(|(_, s)| s.as_ref()).collect();
            service_candidate(key, obj, &slices, &pod_labels(objects, &slices))
        }));
    }
    out
}

/// What a Service's resource is made from: its own, its slices' and their pods' versions.
fn service_fingerprint(objects: &Objects, svc: &Stored, slices: &[VersionedSlice]) -> String {
    let mut fp = svc.resource_version.clone();
    for (rv, slice) in slices {
        fp.push_str(&format!("|{}@{rv}", slice.metadata.name));
        for (ns, name) in slice.pods() {
            let key = (ns.to_string(), name.to_string());
            let pod_rv = objects
                .get(ObjKind::Pod, &key)
                .map_or("", |p| p.resource_version.as_str());
            fp.push_str(&format!(",{name}@{pod_rv}"));
        }
    }
    fp
}

/// The labels of the pods `slices` name.
fn pod_labels(objects: &Objects, slices: &[&EndpointSlice]) -> PodLabels {
    let mut out = PodLabels::new();
    for slice in slices {
        for (ns, name) in slice.pods() {
            let key = (ns.to_string(), name.to_string());
            if let Some(pod) = objects.get(ObjKind::Pod, &key) {
                let labels = pod
                    .value()
                    .pointer("/metadata/labels")
                    .and_then(|l| serde_json::from_value(l.clone()).ok())
                    .unwrap_or_default();
                out.insert(key, labels);
            }
        }
    }
    out
}

/// One Service with its slices and pods as the ServiceEntry it amounts to.
fn service_candidate(
    (ns, name): &(String, String),
    stored: &Stored,
    slices: &[&EndpointSlice],
    pods: &PodLabels,
) -> Candidate {
    let obj = stored.value();
    let r = object_ref(&obj, "v1", "Service");
    let key = format!("Service {ns}/{name}");
    let src = source(ns, name, &r.resource_version);
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    match serde_json::from_value::<Service>(obj) {
        Ok(svc) => set
            .service_entries
            .extend(service_entry(&svc, slices, pods)),
        Err(e) => diags.push(
            Diagnostic::error(format!("not a Service shadowmesh can read: {e}"))
                .in_file(Path::new(&src))
                .in_resource(key.clone()),
        ),
    }
    let mut c = Candidate::new(key, src.display().to_string(), set, diags);
    c.object = Some(r);
    c
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
        out.push(Candidate::new(
            key,
            file.display().to_string(),
            one,
            Vec::new(),
        ));
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
            None => {
                let file = d.file.as_ref().map(|f| f.display().to_string());
                let source = file.unwrap_or_default();
                out.push(Candidate::new(
                    resource,
                    source,
                    ConfigSet::default(),
                    vec![d],
                ));
            }
        }
    }
    (out, whole_file)
}

#[cfg(test)]
#[path = "candidates_tests.rs"]
mod tests;
