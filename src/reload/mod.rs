//! Live configuration: the files are watched (their folders, as Kubernetes ConfigMaps swap a
//! `..data` symlink rather than writing files) and polled as a fallback; a changed config is
//! compiled and swapped in atomically. A bad one is logged with all its errors and the last good
//! one stays active. Requests in flight keep the snapshot they started with.
//!
//! Two kinds of source feed it: the files alone (`Reloader::load`: a config with any error is
//! refused whole), or a cluster plus files (`Reloader::for_cluster`: the `kubernetes` module
//! builds each snapshot and [`Reloader::publish`]es it; a change of the files only wakes it).
//! [`status`] holds what each source says about its resources and its freshness.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use crate::config::Diagnostic;
use crate::config::list_files;
use crate::model::{ProxyIdentity, Snapshot, build_snapshot, rebuild_snapshot};

pub mod metrics;
pub mod status;

pub use status::{ResourceState, ResourceStatus, SourceStatus};

/// Reload counters.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// Configs applied (the first load included).
    pub applied: AtomicU64,
    /// Configs refused.
    pub rejected: AtomicU64,
    /// Times the files were read to see whether they changed.
    pub checks: AtomicU64,
}

/// Loads the configuration and keeps it current.
pub struct Reloader {
    paths: Vec<PathBuf>,
    identity: ProxyIdentity,
    /// The active snapshot.
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Counters.
    pub stats: ReloadStats,
    last_seen: AtomicU64,
    /// The errors of the last refused config (empty once a good one is applied).
    pub last_errors: ArcSwap<Vec<Diagnostic>>,
    /// Per-resource states and the freshness of the sources.
    pub status: ArcSwap<SourceStatus>,
    /// Cluster mode: a change of the files is sent here instead of being compiled.
    files_changed: Option<mpsc::UnboundedSender<()>>,
}

impl Reloader {
    /// Loads the first config; its errors are returned (the caller refuses to start).
    pub fn load(
        paths: Vec<PathBuf>,
        identity: ProxyIdentity,
    ) -> Result<Arc<Self>, Vec<Diagnostic>> {
        let hash = content_hash(&paths);
        let snapshot = build_snapshot(&paths, &identity, 1)?;
        for line in snapshot.skipped_lines() {
            tracing::info!("{}", line.trim_start_matches("info: "));
        }
        for w in &snapshot.warnings {
            tracing::warn!("{w}");
        }
        let stats = ReloadStats::default();
        stats.applied.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(Self {
            paths,
            identity,
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            stats,
            last_seen: AtomicU64::new(hash),
            last_errors: ArcSwap::from_pointee(Vec::new()),
            status: ArcSwap::from_pointee(SourceStatus::files()),
            files_changed: None,
        }))
    }

    /// Cluster mode: starts empty (generation 0, not synced); whoever owns the cluster source
    /// publishes snapshots. A change of the files at `paths` is sent to `files_changed`.
    pub fn for_cluster(
        paths: Vec<PathBuf>,
        identity: ProxyIdentity,
        files_changed: mpsc::UnboundedSender<()>,
    ) -> Arc<Self> {
        Arc::new(Self {
            last_seen: AtomicU64::new(content_hash(&paths)),
            paths,
            identity,
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
            stats: ReloadStats::default(),
            last_errors: ArcSwap::from_pointee(Vec::new()),
            status: ArcSwap::from_pointee(SourceStatus::cluster()),
            files_changed: Some(files_changed),
        })
    }

    /// The config paths (`-f`).
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Who the proxy is.
    pub fn identity(&self) -> &ProxyIdentity {
        &self.identity
    }

    /// Cluster mode: swaps in `snapshot` (its generation is set to the next one).
    pub fn publish(&self, mut snapshot: Snapshot) {
        snapshot.generation = self.snapshot.load().generation + 1;
        tracing::info!(
            generation = snapshot.generation,
            "config applied: {}",
            snapshot.summary
        );
        self.snapshot.store(Arc::new(snapshot));
        self.stats.applied.fetch_add(1, Ordering::Relaxed);
        self.last_errors.store(Arc::new(Vec::new()));
    }

    /// Cluster mode: a rebuild that could not be applied at all (`diags` say why).
    pub fn refuse(&self, diags: Vec<Diagnostic>) {
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        self.last_errors.store(Arc::new(diags));
    }

    /// True once every source has been read in full at least once (always in file mode).
    pub fn synced(&self) -> bool {
        self.status.load().synced
    }

    /// Re-reads the files if their content changed. Returns true when a new config was applied.
    pub fn check(&self) -> bool {
        self.stats.checks.fetch_add(1, Ordering::Relaxed);
        let hash = content_hash(&self.paths);
        if self.last_seen.load(Ordering::Relaxed) == hash {
            return false;
        }
        // Let writers finish: compile only content that reads the same twice, 100 ms apart, so
        // a file caught between truncate and write is not applied (the next event or poll
        // retries).
        std::thread::sleep(Duration::from_millis(100));
        if content_hash(&self.paths) != hash {
            return false;
        }
        self.last_seen.store(hash, Ordering::Relaxed);
        if let Some(tx) = &self.files_changed {
            let _ = tx.send(());
            return false;
        }
        let current = self.snapshot.load_full();
        let generation = current.generation + 1;
        let built = rebuild_snapshot(&self.paths, &self.identity, &current);
        drop(current);
        match built {
            Ok(snapshot) => {
                for w in &snapshot.warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!(generation, "config applied: {}", snapshot.summary);
                self.snapshot.store(Arc::new(snapshot));
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
                self.last_errors.store(Arc::new(Vec::new()));
                true
            }
            Err(diags) => {
                let active = self.snapshot.load().generation;
                tracing::error!(
                    "config change refused ({}); generation {active} stays active",
                    crate::model::plural(
                        diags.iter().filter(|d| d.is_error()).count(),
                        "error",
                        "errors"
                    )
                );
                for d in &diags {
                    tracing::error!("{d}");
                }
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                self.last_errors.store(Arc::new(diags));
                false
            }
        }
    }

    /// Watches the files until `shutdown` turns true: on a change event (debounced) and every
    /// `poll` as a fallback for file systems without events.
    pub async fn watch(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, poll: Duration) {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Opening and reading a file is an event too (inotify's IN_OPEN, IN_ACCESS): taken
            // as a change, the check's own reads set off the next check, ten times a second.
            if res.is_ok_and(|event| !event.kind.is_access()) {
                let _ = tx.send(());
            }
        });
        let _watcher = match watcher {
            Ok(mut w) => {
                for dir in self.watch_dirs() {
                    if let Err(e) = w.watch(&dir, RecursiveMode::NonRecursive) {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch; polling only");
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "file watching unavailable; polling only");
                None
            }
        };
        let mut ticker = tokio::time::interval(poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(()) = rx.recv() => {
                    // Editors write in several steps: let them finish.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    while rx.try_recv().is_ok() {}
                }
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let this = self.clone();
            let _ = tokio::task::spawn_blocking(move || this.check()).await;
        }
    }

    fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in &self.paths {
            let dir = if p.is_dir() {
                p.clone()
            } else {
                match p.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                    _ => PathBuf::from("."),
                }
            };
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }
}

/// A hash of the names and contents of every config file (missing files hash as absent).
fn content_hash(paths: &[PathBuf]) -> u64 {
    let mut h = DefaultHasher::new();
    match list_files(paths) {
        Ok(files) => {
            for f in files {
                f.hash(&mut h);
                std::fs::read(&f).ok().hash(&mut h);
            }
        }
        Err(e) => e.len().hash(&mut h),
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: web}\nspec:\n  hosts: [web]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.1}]\n";

    #[tokio::test]
    async fn reading_the_files_is_not_a_change_but_writing_them_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yaml");
        std::fs::write(&file, SERVICE).unwrap();
        let reloader = Reloader::load(vec![dir.path().into()], ProxyIdentity::default()).unwrap();
        let (stop, stopped) = watch::channel(false);
        let watching = tokio::spawn(reloader.clone().watch(stopped, Duration::from_secs(60)));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // One check when watching starts; its own reads of the files must not set off more.
        let checks = reloader.stats.checks.load(Ordering::Relaxed);
        assert!(
            checks <= 2,
            "the unchanged files were read {checks} times in 1.5 s"
        );
        // A write is seen at once, not at the 60 s poll.
        std::fs::write(&file, SERVICE.replace("name: web}", "name: web2}")).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while reloader.stats.applied.load(Ordering::Relaxed) < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the write was not applied"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        watching.await.unwrap();
    }
}
