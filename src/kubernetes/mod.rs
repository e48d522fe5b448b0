//! Kubernetes mode: the cluster's own Istio config, Services, EndpointSlices and Pods, read
//! with list+watch and turned into the same typed resources the files give.
//!
//! - `watch`: discovery of the versions served, one watcher per kind and namespace (each
//!   object read as raw text first, `raw`, so one unreadable object fails alone);
//! - `store`: the objects as last seen; `candidates`: each object as a resource on its own
//!   (`services`: a Service with its slices (`slices`) and pods as a ServiceEntry, with
//!   `protocol` inferred as Istio does); `memo`: what is unchanged since the last build,
//!   reused (a change costs reading and checking only the objects it touched);
//! - `gate`: per-resource validation, last good versions, compiling what is left;
//! - `controller`: the loop (bursts coalesced, readiness, staleness); `files`: the `-f` files
//!   beside the cluster (a file that cannot be read keeps its last good resources); `events`:
//!   Events on rejected objects; `once`: `validate --kubernetes`.
//!
//! Imports `config`, `model` and `reload` (whose [`Reloader`] it feeds); nothing above.

mod candidates;
mod controller;
mod events;
mod files;
mod gate;
mod memo;
mod once;
mod protocol;
mod raw;
mod services;
mod slices;
mod store;
mod watch;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use tokio::sync::{mpsc, watch as signal};

pub use once::validate_cluster;

use controller::Controller;
use gate::Gate;
use memo::Memo;
use store::{ObjKind, Objects};
use watch::Update;

use crate::reload::Reloader;

/// Where the cluster is and what of it to read.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// `--kubeconfig`; else in-cluster config inside a pod, else `KUBECONFIG` or
    /// `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// `--watch-namespace` (empty: all namespaces).
    pub namespaces: Vec<String>,
}

/// Why the cluster cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No usable configuration.
    #[error("kubernetes configuration: {0}")]
    Config(String),
    /// The API server refused or could not be reached.
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
}

/// A client for the cluster `opts` names.
pub async fn client(opts: &KubeOptions) -> Result<Client, KubeError> {
    err(Client::try_from(config(opts).await?))
}

/// The connection settings for the cluster `opts` names: `--kubeconfig`, else the pod's own
/// (in a cluster), else `KUBECONFIG` or `~/.kube/config`.
async fn config(opts: &KubeOptions) -> Result<Config, KubeError> {
    err(match &opts.kubeconfig {
        Some(path) => {
            let kc = err(Kubeconfig::read_from(path))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| e.to_string())
        }
        None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
            Config::incluster().map_err(|e| e.to_string())
        }
        None => Config::infer().await.map_err(|e| e.to_string()),
    })
}

fn err<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, KubeError> {
    r.map_err(|e| KubeError::Config(e.to_string()))
}

/// Starts reading the cluster into `reloader` (made with [`Reloader::for_cluster`], whose file
/// changes arrive on `files`); returns the task to run until `shutdown`.
pub async fn start(
    opts: &KubeOptions,
    reloader: Arc<Reloader>,
    files: mpsc::UnboundedReceiver<()>,
    shutdown: signal::Receiver<bool>,
) -> Result<impl Future<Output = ()> + Send + 'static, KubeError> {
    let config = config(opts).await?;
    let url = config.cluster_url.to_string();
    let client = err(Client::try_from(config))?;
    let namespaces = opts.namespaces.clone();
    Ok(async move {
        let Some(served) = discover_until_answered(&client, &url, shutdown.clone()).await else {
            return;
        };
        let (controller, updates) = watch_all(client, reloader, &served, &namespaces);
        controller.run(updates, files, shutdown).await;
    })
}

/// Which kinds the API server serves, asked again with backoff (1 s, doubling to 30 s) while it
/// cannot be reached, so a proxy started during an outage waits (not ready) instead of
/// exiting. `None` when `shutdown` came first.
async fn discover_until_answered(
    client: &Client,
    url: &str,
    mut shutdown: signal::Receiver<bool>,
) -> Option<Vec<(ObjKind, kube::api::ApiResource)>> {
    let mut wait = Duration::from_secs(1);
    loop {
        match watch::discover(client).await {
            Ok(served) => return Some(served),
            Err(e) => tracing::warn!(api_server = url, error = %e,
                "kubernetes API server not answering discovery; not ready, retrying in {}s", wait.as_secs()),
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return None,
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// One watcher per served kind and namespace scope, and the controller they feed.
fn watch_all(
    client: Client,
    reloader: Arc<Reloader>,
    served: &[(ObjKind, kube::api::ApiResource)],
    namespaces: &[String],
) -> (Controller, mpsc::UnboundedReceiver<Update>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        let unique: BTreeSet<&String> = namespaces.iter().collect();
        unique.into_iter().cloned().map(Some).collect()
    };
    let mut pending = BTreeSet::new();
    let mut versions = BTreeMap::new();
    let mut watchers = Vec::new();
    for (kind, ar) in served {
        tracing::info!(kind = kind.as_str(), api_version = %ar.api_version, "watching");
        versions.insert(*kind, ar.api_version.clone());
        for scope in &scopes {
            pending.insert((*kind, scope.clone()));
            let task =
                watch::watch_kind(client.clone(), ar.clone(), *kind, scope.clone(), tx.clone());
            watchers.push(tokio::spawn(task).abort_handle());
        }
    }
    for kind in store::ObjKind::ALL {
        if !versions.contains_key(&kind) {
            tracing::warn!(
                kind = kind.as_str(),
                "not served by the API server: none read"
            );
        }
    }
    let controller = Controller {
        client,
        reloader,
        objects: Objects::default(),
        gate: Gate::default(),
        files: files::Files::default(),
        memo: Memo::default(),
        versions,
        pending,
        stale: BTreeMap::new(),
        stale_since: None,
        reported: HashSet::new(),
        watchers,
    };
    (controller, rx)
}
