//! Reading the cluster: which versions the API server serves (discovery: `networking.istio.io`
//! v1, else v1beta1, else v1alpha3; `discovery.k8s.io` v1, else v1beta1 as on Kubernetes
//! before 1.21), then one list+watch per kind and namespace (kube-rs watchers, re-listing with
//! backoff after errors and `410 Gone`), each sending [`Update`]s to the controller.

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::mpsc;

use super::store::ObjKind;

/// The Istio API group.
const ISTIO: &str = "networking.istio.io";
/// The EndpointSlice API group.
const DISCOVERY: &str = "discovery.k8s.io";

/// What a watcher reports.
#[derive(Debug)]
pub enum Update {
    /// A full list of `kind` in `scope` (a namespace, or all).
    Listed {
        /// Kind.
        kind: ObjKind,
        /// Namespace watched (`None`: all).
        scope: Option<String>,
        /// The objects.
        objects: Vec<Value>,
    },
    /// An object was added or changed.
    Applied(ObjKind, Value),
    /// An object was deleted.
    Deleted(ObjKind, Value),
    /// The watch failed (it retries with backoff).
    Failed(ObjKind, String),
}

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
    let api: Api<DynamicObject> = match &scope {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut listing: Vec<Value> = Vec::new();
    let to_value = |o: DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
    while let Some(event) = stream.next().await {
        let update = match event {
            Ok(watcher::Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(watcher::Event::InitApply(o)) => {
                listing.push(to_value(o));
                continue;
            }
            Ok(watcher::Event::InitDone) => Update::Listed {
                kind,
                scope: scope.clone(),
                objects: std::mem::take(&mut listing),
            },
            Ok(watcher::Event::Apply(o)) => Update::Applied(kind, to_value(o)),
            Ok(watcher::Event::Delete(o)) => Update::Deleted(kind, to_value(o)),
            Err(e) => Update::Failed(kind, e.to_string()),
        };
        if tx.send(update).is_err() {
            return;
        }
    }
}
