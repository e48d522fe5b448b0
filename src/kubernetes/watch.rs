//! Reading the cluster: which versions the API server serves (discovery: `networking.istio.io`
//! v1, else v1beta1, else v1alpha3; `discovery.k8s.io` v1, else v1beta1 as on Kubernetes
//! before 1.21), then one list+watch per kind and namespace (kube-rs watchers, re-listing with
//! backoff after errors and `410 Gone`), each sending [`Update`]s to the controller. What is
//! never read is dropped as objects arrive ([`slim`]): `managedFields`, kubectl's
//! last-applied copy, a Service's status, everything of a Pod but its metadata.

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::mpsc;

use super::raw::RawObject;
use super::store::{ObjKind, Stored};

/// The Istio API group.
const ISTIO: &str = "networking.istio.io";
/// The EndpointSlice API group.
const DISCOVERY: &str = "discovery.k8s.io";

/// What a watcher reports: a change to `kind` in `scope` (a namespace, or all).
#[derive(Debug)]
pub struct Update {
    /// Kind.
    pub kind: ObjKind,
    /// Namespace watched (`None`: all).
    pub scope: Option<String>,
    /// What happened.
    pub change: Change,
}

/// What happened to a watch.
#[derive(Debug)]
pub enum Change {
    /// A full list of the objects.
    Listed(Vec<Stored>),
    /// An object was added or changed.
    Applied(Stored),
    /// An object was deleted.
    Deleted(Stored),
    /// The watch failed (it retries with backoff, and lists again as soon as its list
    /// answers: then [`Change::Listed`] says it is back).
    Failed(String),
}

/// How often a failed watch checks whether its list answers again.
const PROBE: std::time::Duration = std::time::Duration::from_secs(1);

/// The resource each kind is read as; kinds the server does not serve are left out.
pub async fn discover(client: &Client) -> Result<Vec<(ObjKind, ApiResource)>, kube::Error> {
    let discovery = Discovery::new(client.clone())
        .filter(&[ISTIO, DISCOVERY])
        .run()
        .await?;
    let mut out = vec![
        (ObjKind::Service, ApiResource::erase::<Service>(&())),
        (ObjKind::Pod, ApiResource::erase::<Pod>(&())),
    ];
    let pick = |group: &str, kind: ObjKind, versions: &[&str]| {
        let g = discovery.get(group)?;
        versions.iter().find_map(|v| {
            g.versioned_resources(v)
                .into_iter()
                .find(|(ar, _)| ar.kind == kind.as_str())
                .map(|(ar, _)| ar)
        })
    };
    for kind in ObjKind::ALL.into_iter().filter(|k| k.is_istio()) {
        if let Some(ar) = pick(ISTIO, kind, &["v1", "v1beta1", "v1alpha3"]) {
            out.push((kind, ar));
        }
    }
    if let Some(ar) = pick(DISCOVERY, ObjKind::EndpointSlice, &["v1", "v1beta1"]) {
        out.push((ObjKind::EndpointSlice, ar));
    }
    Ok(out)
}

/// Lists and watches `kind` in `scope` until the receiver goes away.
pub async fn watch_kind(
    client: Client,
    ar: ApiResource,
    kind: ObjKind,
    scope: Option<String>,
    tx: mpsc::UnboundedSender<Update>,
) {
    let api: Api<RawObject> = match &scope {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let start = || Box::pin(watcher(api.clone(), watcher::Config::default()).default_backoff());
    let mut stream = start();
    let mut listing: Vec<Stored> = Vec::new();
    let mut failing = false;
    let mut probe = tokio::time::interval(PROBE);
    let send = |change| {
        let update = Update {
            kind,
            scope: scope.clone(),
            change,
        };
        tx.send(update).is_ok()
    };
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = probe.tick(), if failing => {
                // The request the watcher starts with, with its rights and in its scope. When
                // it answers, list again now rather than after the watcher's backoff (which
                // grows while the API server is away): what changed meanwhile applies at once.
                if api.list(&ListParams::default().limit(1)).await.is_ok() {
                    failing = false;
                    stream = start();
                }
                continue;
            }
        };
        let Some(event) = event else { return };
        let failed = event.is_err();
        if failed && !failing {
            probe.reset();
        }
        failing = failed;
        let change = match event {
            Ok(watcher::Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(watcher::Event::InitApply(o)) => {
                listing.push(stored(o, kind));
                continue;
            }
            Ok(watcher::Event::InitDone) => Change::Listed(std::mem::take(&mut listing)),
            Ok(watcher::Event::Apply(o)) => Change::Applied(stored(o, kind)),
            Ok(watcher::Event::Delete(o)) => Change::Deleted(stored(o, kind)),
            Err(e) => Change::Failed(shortened(&e.to_string())),
        };
        if !send(change) {
            return;
        }
    }
}

/// At most the first 300 characters of a watch error: a failed decode quotes the whole list
/// it was reading.
fn shortened(error: &str) -> String {
    match error.char_indices().nth(300) {
        Some((cut, _)) => format!("{}... ({} bytes)", &error[..cut], error.len()),
        None => error.to_string(),
    }
}

/// `obj`, slimmed, kept as compact JSON. One that cannot be read (nested deeper than JSON is
/// read here) is kept as its identity with a `spec` saying why: it is then refused alone, named,
/// like any object with a bad spec.
pub fn stored(obj: RawObject, kind: ObjKind) -> Stored {
    let obj = match serde_json::from_str::<DynamicObject>(obj.raw.get()) {
        Ok(read) => slim(read, kind),
        Err(e) => DynamicObject {
            types: None,
            metadata: obj.metadata,
            data: serde_json::json!({"spec": format!("not readable: {e}")}),
        },
    };
    let key = (
        obj.metadata.namespace.clone().unwrap_or_default(),
        obj.metadata.name.clone().unwrap_or_default(),
    );
    let rv = obj.metadata.resource_version.clone().unwrap_or_default();
    let json = serde_json::to_string(&obj).unwrap_or_else(|_| "null".into());
    Stored::from_parts(key, rv, json)
}

/// kubectl's copy of the whole object as last applied: never read, often the biggest field.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `obj` without what shadowmesh never reads, so the objects kept between builds stay small
/// (a Pod's spec and status are most of a cluster's bytes; only its labels are used).
fn slim(mut obj: DynamicObject, kind: ObjKind) -> DynamicObject {
    obj.metadata.managed_fields = None;
    if let Some(annotations) = obj.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
    match kind {
        ObjKind::Pod => obj.data = Value::Object(serde_json::Map::new()),
        ObjKind::Service => {
            if let Some(map) = obj.data.as_object_mut() {
                map.remove("status");
            }
        }
        _ => {}
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_too_deep_to_read_is_kept_as_its_identity_and_why() {
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let text = format!(
            r#"{{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {{"name": "deep", "namespace": "ns", "resourceVersion": "7"}},
                "spec": {{"host": "a", "x": {deep}}}}}"#
        );
        let obj: RawObject = serde_json::from_str(&text).expect("its identity reads");
        let kept = stored(obj, ObjKind::DestinationRule);
        assert_eq!(kept.key, ("ns".to_string(), "deep".to_string()));
        assert_eq!(kept.resource_version, "7");
        let spec = kept.value()["spec"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            spec.starts_with("not readable: recursion limit exceeded"),
            "{spec}"
        );
    }

    #[test]
    fn a_long_watch_error_is_cut_short() {
        assert_eq!(shortened("forbidden"), "forbidden");
        let long = format!("Error deserializing response: {}", "[".repeat(5000));
        let cut = shortened(&long);
        assert!(cut.len() < 350, "{}", cut.len());
        assert!(cut.ends_with(&format!("... ({} bytes)", long.len())));
    }

    #[test]
    fn objects_keep_only_what_is_read() {
        let pod: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "labels": {"version": "v1"},
                         "resourceVersion": "7", "managedFields": [{"manager": "kubelet"}],
                         "annotations": {LAST_APPLIED: "{...}", "keep": "me"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "status": {"podIP": "10.0.0.1"}
        }))
        .unwrap();
        let v = serde_json::to_value(slim(pod, ObjKind::Pod)).unwrap();
        assert_eq!(v["metadata"]["labels"]["version"], "v1");
        assert_eq!(v["metadata"]["resourceVersion"], "7");
        assert_eq!(v["metadata"]["annotations"]["keep"], "me");
        assert!(v["metadata"].get("managedFields").is_none(), "{v}");
        assert!(
            v["metadata"]["annotations"].get(LAST_APPLIED).is_none(),
            "{v}"
        );
        assert!(v.get("spec").is_none() && v.get("status").is_none(), "{v}");

        let svc: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]}, "status": {"loadBalancer": {}}
        }))
        .unwrap();
        let v = serde_json::to_value(slim(svc, ObjKind::Service)).unwrap();
        assert_eq!(v["spec"]["ports"][0]["port"], 80);
        assert!(v.get("status").is_none(), "{v}");
    }
}
