//! Assembling a running proxy: config loaded (from files, or from a cluster and files in
//! Kubernetes mode), listeners and admin bound, file watching started. Used by
//! `shadowmesh run` and by the integration tests (so they run the real thing). The data-plane
//! threads and their listeners: [`data_plane`].

mod data_plane;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use prometheus_client::registry::Registry;

use crate::admin::Admin;
use crate::compare::CompareMetrics;
use crate::compare::{Comparator, CompareConfig};
use crate::config::Diagnostic;
use crate::kubernetes::{self, KubeError, KubeOptions};
use crate::model::ProxyIdentity;
use crate::proxy::mirror::{MirrorConfig, Mirrorer};
use crate::proxy::server::balance::ConnectionBalance;
use crate::proxy::server::workers::Workers;
use crate::proxy::server::{self, ClientLimits};
use crate::proxy::{Proxy, ProxyOptions, RetryMetrics};
use crate::reload::{self, Reloader};
use crate::telemetry::metrics::{IstioMetrics, SourceIdentity};
use crate::telemetry::{AccessLog, LogFormat, Telemetry};
use crate::upstream::{self, Upstreams};

/// A listener: an address and, optionally, the service host it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpec {
    /// Address to bind (port 0 picks one).
    pub addr: SocketAddr,
    /// `--listen ADDR=HOST`: requests on this port go to HOST.
    pub host: Option<String>,
}

impl std::str::FromStr for ListenSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, host) = match s.split_once('=') {
            Some((a, h)) if !h.is_empty() => (a, Some(h.to_string())),
            Some(_) => return Err(format!("{s:?}: the host after = is empty")),
            None => (s, None),
        };
        let addr = addr
            .parse()
            .map_err(|e| format!("{addr:?} is not an address like 127.0.0.1:15001: {e}"))?;
        // Checked here, once, so requests on the port need not check it again.
        if let Some(h) = &host
            && !matches!(h.parse::<http::uri::Authority>(), Ok(a) if !a.as_str().contains('@'))
        {
            return Err(format!("{s:?}: {h:?} after = is not a host[:port]"));
        }
        Ok(Self { addr, host })
    }
}

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Config files and folders.
    pub paths: Vec<PathBuf>,
    /// Proxy listeners.
    pub listen: Vec<ListenSpec>,
    /// Admin address.
    pub admin: SocketAddr,
    /// Who this proxy is.
    pub identity: ProxyIdentity,
    /// `--workload` (telemetry).
    pub workload: Option<String>,
    /// Mirroring limits.
    pub mirror: MirrorConfig,
    /// Proxy settings.
    pub proxy: ProxyOptions,
    /// Limits of client connections.
    pub client: ClientLimits,
    /// Access log format.
    pub log_format: LogFormat,
    /// Bound on the drain at shutdown.
    pub drain_timeout: Duration,
    /// Poll interval for config changes (events make it faster).
    pub reload_poll: Duration,
    /// Record Istio's and shadowmesh's metrics (served on `/metrics`).
    pub metrics: bool,
    /// Compare primary and mirrored answers (none: off).
    pub compare: Option<CompareConfig>,
    /// Kubernetes mode: read the cluster (the files' resources add to it).
    pub kubernetes: Option<KubeOptions>,
    /// Data-plane threads (`--workers`; default: one per core).
    pub workers: usize,
    /// Each data-plane thread bound to one CPU (`--pin-workers`).
    pub pin_workers: bool,
    /// How each listen address's connections are spread over the data-plane threads.
    pub connection_balance: ConnectionBalance,
}

/// One data-plane thread per core the process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl RunOptions {
    /// Defaults for `paths`, listening on `127.0.0.1:0` with the admin on `127.0.0.1:0`.
    pub fn for_test(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            listen: vec!["127.0.0.1:0".parse().expect("valid")],
            admin: "127.0.0.1:0".parse().expect("valid"),
            identity: ProxyIdentity::default(),
            workload: None,
            mirror: MirrorConfig::default(),
            proxy: ProxyOptions::default(),
            client: ClientLimits::default(),
            log_format: LogFormat::Text,
            drain_timeout: Duration::from_secs(5),
            reload_poll: Duration::from_secs(1),
            metrics: true,
            compare: Some(CompareConfig::default()),
            kubernetes: None,
            workers: default_workers(),
            pin_workers: false,
            connection_balance: ConnectionBalance::default(),
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config has errors.
    #[error("the configuration has errors")]
    Config(Vec<Diagnostic>),
    /// The cluster cannot be read.
    #[error("{0}")]
    Kubernetes(#[from] KubeError),
    /// The data-plane threads could not be started.
    #[error("cannot start the data-plane threads: {0}")]
    Threads(std::io::Error),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// A running proxy.
pub struct Running {
    /// Bound proxy addresses, in `--listen` order.
    pub listen_addrs: Vec<SocketAddr>,
    /// Bound admin address.
    pub admin_addr: SocketAddr,
    /// The shared proxy state.
    pub proxy: Arc<Proxy>,
    /// The config source.
    pub reloader: Arc<Reloader>,
    /// The metrics registry (`/metrics`), when metrics are on.
    pub registry: Option<Arc<Registry>>,
    /// The comparison, when on.
    pub compare: Option<Arc<Comparator>>,
    ready: Arc<AtomicBool>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The data-plane threads (taken by `shutdown`; dropped, they stop at once).
    workers: Option<Workers>,
}

impl Running {
    /// Stops accepting, drains connections (bounded) and returns when all servers are done.
    pub async fn shutdown(mut self) {
        self.ready.store(false, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        if let Some(workers) = self.workers.take() {
            workers.finish().await;
        }
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The `source_*` labels of this proxy: `--workload` (default `shadowmesh`), `--namespace`, and
/// the `app`/`version` of its `--label`s.
fn source_identity(opts: &RunOptions) -> SourceIdentity {
    let label = |k: &str| {
        opts.identity
            .labels
            .get(k)
            .cloned()
            .unwrap_or_else(|| "unknown".into())
    };
    SourceIdentity {
        workload: opts.workload.clone().unwrap_or_else(|| "shadowmesh".into()),
        namespace: opts.identity.namespace.clone(),
        app: label("app"),
        version: label("version"),
    }
}

/// Starts the proxy: loads the config (refusing a bad one), binds every listener, starts the
/// admin server and the config watcher.
pub async fn start(opts: RunOptions) -> Result<Running, StartError> {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let reloader = match &opts.kubernetes {
        None => {
            Reloader::load(opts.paths.clone(), opts.identity.clone()).map_err(StartError::Config)?
        }
        Some(kube) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let reloader = Reloader::for_cluster(opts.paths.clone(), opts.identity.clone(), tx);
            let source = kubernetes::start(kube, reloader.clone(), rx, shutdown_rx.clone()).await?;
            tasks.spawn(source);
            reloader
        }
    };
    let bound = data_plane::bind_listeners(&opts)?;
    let admin_listener = bind(opts.admin).await?;
    let admin_addr = local_addr(&admin_listener, opts.admin)?;
    let parts = assemble(&opts, &reloader);
    let listen_addrs = bound.iter().map(|b| b.addr).collect();
    let workers = data_plane::start_workers(&opts, bound, &parts.proxy, &shutdown_rx)?;
    let ready = Arc::new(AtomicBool::new(false));
    let admin = Arc::new(Admin {
        ready: ready.clone(),
        reloader: reloader.clone(),
        mirrorer: parts.proxy.mirrorer.clone(),
        registry: parts.registry.clone(),
        compare: parts.compare.clone(),
    });
    let admin_limits = ClientLimits::default();
    tasks.spawn(server::serve(
        admin_listener,
        shutdown_rx.clone(),
        server::Admission::new(opts.drain_timeout, admin_limits.slots()),
        admin_limits,
        move |_, _| {
            let admin = admin.clone();
            service_fn(move |req| admin.clone().handle(req))
        },
    ));
    tasks.spawn(reloader.clone().watch(shutdown_rx, opts.reload_poll));
    ready.store(true, Ordering::Relaxed);
    Ok(Running {
        compare: parts.compare,
        registry: parts.registry,
        listen_addrs,
        admin_addr,
        proxy: parts.proxy,
        reloader,
        ready,
        shutdown,
        tasks,
        workers: Some(workers),
    })
}

/// The proxy's parts, wired: telemetry hooks, upstreams, mirroring, the comparison, and the
/// metrics registry each subsystem registered its own families into.
struct Parts {
    proxy: Arc<Proxy>,
    registry: Option<Arc<Registry>>,
    compare: Option<Arc<Comparator>>,
}

fn assemble(opts: &RunOptions, reloader: &Arc<Reloader>) -> Parts {
    let mut registry = opts.metrics.then(Registry::default);
    let mut telemetry = Telemetry::new(AccessLog::new(opts.log_format));
    if let Some(r) = registry.as_mut() {
        let istio = IstioMetrics::new(r, source_identity(opts));
        telemetry.add_hook(Arc::new(istio));
        reload::metrics::register(r, reloader.clone());
    }
    let compare = opts.compare.clone().map(|cfg| {
        let metrics = registry.as_mut().map(CompareMetrics::new);
        Comparator::start(cfg, metrics)
    });
    if let Some(c) = &compare {
        telemetry.add_hook(c.clone());
    }
    let telemetry = Arc::new(telemetry);
    let upstreams = Upstreams::new(Duration::from_secs(90), opts.mirror.timeout, opts.workers);
    let upstreams = Arc::new(upstreams);
    if let Some(r) = registry.as_mut() {
        upstream::metrics::register(r, upstreams.clone(), reloader.snapshot.clone());
    }
    let mirrorer = Arc::new(Mirrorer::new(
        opts.mirror.clone(),
        upstreams.clone(),
        telemetry.clone(),
        registry.as_mut(),
    ));
    let proxy = Arc::new(Proxy {
        snapshot: reloader.snapshot.clone(),
        upstreams,
        mirrorer,
        telemetry,
        options: opts.proxy.clone(),
        retry_metrics: registry
            .as_mut()
            .map(RetryMetrics::register)
            .unwrap_or_default(),
    });
    Parts {
        proxy,
        registry: registry.map(Arc::new),
        compare,
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_specs_parse() {
        let plain: ListenSpec = "127.0.0.1:15001".parse().unwrap();
        assert_eq!(plain.host, None);
        let bound: ListenSpec = "127.0.0.1:8080=calcbackendsvc".parse().unwrap();
        assert_eq!(bound.host.as_deref(), Some("calcbackendsvc"));
        assert!("127.0.0.1:8080=".parse::<ListenSpec>().is_err());
        assert!("localhost".parse::<ListenSpec>().is_err());
    }
}
