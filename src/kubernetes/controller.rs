//! The cluster source's loop: watch updates and file changes come in; a burst is coalesced
//! (quiet for 100 ms, at most 500 ms) into one rebuild; nothing is applied before every kind
//! has been listed once (then `/ready` turns 200). A failing watch marks the config stale (log
//! and metric) while the last config keeps serving; that watch's next event or list marks it
//! fresh again (a failing watcher lists again as soon as its list answers). Rejections are logged and posted as Events once per version.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kube::Client;
use tokio::sync::{mpsc, watch};

use super::candidates::candidates;
use super::events;
use super::files::Files;
use super::gate::{Gate, describe};
use super::memo::Memo;
use super::store::{ObjKind, Objects};
use super::watch::{Change, Update};
use crate::reload::{Reloader, SourceStatus};

/// Quiet time that ends a burst.
const QUIET: Duration = Duration::from_millis(100);
/// Longest a burst is held back.
const MAX_HOLD: Duration = Duration::from_millis(500);

/// The cluster source.
pub struct Controller {
    pub(super) client: Client,
    pub(super) reloader: Arc<Reloader>,
    pub(super) objects: Objects,
    pub(super) gate: Gate,
    /// The `-f` files' resources.
    pub(super) files: Files,
    /// What the last build made of each object.
    pub(super) memo: Memo,
    /// The `apiVersion` each Istio kind is read as.
    pub(super) versions: BTreeMap<ObjKind, String>,
    /// (kind, scope) streams still to list once.
    pub(super) pending: BTreeSet<(ObjKind, Option<String>)>,
    /// Watches failing now, by (kind, scope), with their error.
    pub(super) stale: BTreeMap<(ObjKind, Option<String>), String>,
    pub(super) stale_since: Option<SystemTime>,
    pub(super) reported: HashSet<(String, String)>,
    /// The watchers, stopped with the controller.
    pub(super) watchers: Vec<tokio::task::AbortHandle>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        for w in &self.watchers {
            w.abort();
        }
    }
}

impl Controller {
    /// Runs until `shutdown` turns true.
    pub async fn run(
        mut self,
        mut updates: mpsc::UnboundedReceiver<Update>,
        mut files: mpsc::UnboundedReceiver<()>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            // Whether objects or files changed: a watch failing or recovering changes only
            // the status.
            let mut changed = tokio::select! {
                Some(u) = updates.recv() => self.take(u),
                Some(()) = files.recv() => true,
                _ = shutdown.changed() => return,
            };
            let start = tokio::time::Instant::now();
            while start.elapsed() < MAX_HOLD {
                match tokio::time::timeout(QUIET, updates.recv()).await {
                    Ok(Some(u)) => changed |= self.take(u),
                    _ => break,
                }
            }
            while files.try_recv().is_ok() {
                changed = true;
            }
            if self.pending.is_empty() && changed {
                // Compiling a big mesh takes a while: let the runtime move this worker's other
                // tasks (requests) elsewhere meanwhile (a single-threaded runtime cannot).
                let flavor = tokio::runtime::Handle::current().runtime_flavor();
                if flavor == tokio::runtime::RuntimeFlavor::MultiThread {
                    tokio::task::block_in_place(|| self.rebuild());
                } else {
                    self.rebuild();
                }
            } else {
                self.publish_status();
            }
        }
    }

    /// Applies one update to the objects and the watch's freshness; whether objects changed.
    fn take(&mut self, u: Update) -> bool {
        let Update {
            kind,
            scope,
            change,
        } = u;
        match change {
            Change::Listed(objects) => {
                self.objects.replace(kind, scope.as_deref(), objects);
                tracing::debug!(
                    kind = kind.as_str(),
                    known = self.objects.count(kind),
                    "listed"
                );
                self.pending.remove(&(kind, scope.clone()));
            }
            Change::Applied(obj) => self.objects.apply(kind, obj),
            Change::Deleted(obj) => self.objects.delete(kind, &obj.key),
            Change::Failed(error) => {
                if self.stale.insert((kind, scope), error.clone()).is_none() {
                    tracing::warn!(kind = kind.as_str(), %error,
                        "kubernetes watch failed; the last config keeps serving (stale) while it retries");
                }
                self.stale_since.get_or_insert_with(SystemTime::now);
                return false;
            }
        }
        if self.stale.remove(&(kind, scope)).is_some() && self.stale.is_empty() {
            self.stale_since = None;
            tracing::info!("kubernetes watches are back; the config is fresh again");
        }
        true
    }

    /// Builds and applies the config from the cluster and the files.
    fn rebuild(&mut self) {
        let mut all = candidates(&self.objects, &self.versions, &mut self.memo);
        let identity = self.reloader.identity().clone();
        let (files, file_statuses) = self.files.read(self.reloader.paths(), &identity.namespace);
        all.extend(files);
        let outcome = self.gate.build(all, &identity);
        // Forget rejections no longer current, so the set stays as big as what is rejected now.
        let current: HashSet<(&str, &str)> = (outcome.rejections.iter())
            .map(|r| (r.candidate.key.as_str(), r.candidate.source.as_str()))
            .collect();
        (self.reported).retain(|(key, source)| current.contains(&(key.as_str(), source.as_str())));
        for r in &outcome.rejections {
            let c = &r.candidate;
            if !self.reported.insert((c.key.clone(), c.source.clone())) {
                continue;
            }
            let problems: Vec<String> = r.errors.iter().map(describe).collect();
            tracing::error!(resource = %c.key, source = %c.source,
                "resource rejected, the others apply: {}", problems.join("; "));
            if let Some(object) = &c.object {
                events::post(&self.client, object, &problems.join("; "));
            }
        }
        match outcome.snapshot {
            Some(snapshot) => self.reloader.publish(snapshot),
            None => {
                for d in &outcome.errors {
                    tracing::error!("{d}");
                }
                tracing::error!("config change refused; the last config stays active");
                self.reloader.refuse(outcome.errors);
            }
        }
        let mut status = self.status();
        status.resources = outcome.statuses;
        status.resources.extend(file_statuses);
        status.resources.sort_by(|a, b| a.resource.cmp(&b.resource));
        self.reloader.status.store(Arc::new(status));
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            kubernetes: true,
            synced: self.pending.is_empty(),
            stale_since: self.stale_since,
            stale_reason: self
                .stale
                .iter()
                .next()
                .map(|((k, _), e)| format!("{}: {e}", k.as_str())),
            resources: Vec::new(),
        }
    }

    /// Updates freshness and sync without rebuilding.
    fn publish_status(&self) {
        let mut status = self.status();
        status.synced = status.synced && self.reloader.status.load().synced;
        status.resources = self.reloader.status.load().resources.clone();
        self.reloader.status.store(Arc::new(status));
    }
}
