//! `shadowmesh run`: the proxy, until SIGTERM/SIGINT (then it drains and exits 0).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::validate::{ConfigArgs, print_diagnostics};
use super::{parse_dur, wait_for_signal};
use crate::app::{self, ListenSpec, RunOptions, StartError};
use crate::compare::CompareConfig;
use crate::compare::engine::EngineConfig;
use crate::compare::verdict::Thresholds;
use crate::model::methods::MethodSet;
use crate::proxy::ProxyOptions;
use crate::proxy::mirror::MirrorConfig;
use crate::proxy::server::ClientLimits;
use crate::proxy::server::balance::ConnectionBalance;
use crate::telemetry::LogFormat;

/// `shadowmesh run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub(super) config: ConfigArgs,
    /// Proxy listener, ADDR or ADDR=HOST to bind the port to one service; repeatable.
    #[arg(long, value_name = "ADDR[=HOST]", default_value = "127.0.0.1:15001")]
    listen: Vec<ListenSpec>,
    /// Admin listener (/ready, /config_dump).
    #[arg(long, default_value = "127.0.0.1:15000")]
    admin: SocketAddr,
    /// Workload name of this proxy in telemetry (source_workload).
    #[arg(long)]
    workload: Option<String>,
    /// Mirrored requests in flight at once; more are dropped and counted.
    #[arg(long, default_value_t = 1024)]
    mirror_max_in_flight: usize,
    /// Time limit of one mirrored exchange.
    #[arg(long, default_value = "10s", value_parser = parse_dur)]
    mirror_timeout: Duration,
    /// Request bodies larger than this many bytes are not mirrored.
    #[arg(long, default_value_t = 1 << 20)]
    mirror_body_limit: usize,
    /// Methods mirrored (all, none, or a list like GET,HEAD), where a VirtualService's
    /// `shadowmesh.io/mirror-methods` says nothing.
    #[arg(long, default_value = "all", value_name = "METHODS")]
    mirror_methods: MethodSet,
    /// Methods whose mirrored answers are compared, where `shadowmesh.io/compare-methods` says
    /// nothing.
    #[arg(long, default_value = "all", value_name = "METHODS")]
    compare_methods: MethodSet,
    /// Bytes of mirrored request bodies held at once (all mirrors); a copy beyond it is dropped.
    #[arg(long, default_value_t = 64 << 20)]
    mirror_memory: usize,
    /// Keep the Host of mirrored copies as is (Istio 1.28+ default) instead of appending -shadow.
    #[arg(long)]
    no_shadow_host_suffix: bool,
    /// Time limit for the primary's response headers, from the end of the client's body, when
    /// the route sets no timeout (0: none).
    #[arg(long, default_value = "60s", value_parser = parse_dur)]
    request_timeout: Duration,
    #[command(flatten)]
    client: ClientArgs,
    /// Access log format (`off` disables it).
    #[arg(long, value_enum, default_value = "text")]
    pub(super) log_format: LogFormat,
    /// Do not record metrics (/metrics answers 404).
    #[arg(long)]
    no_metrics: bool,
    #[command(flatten)]
    compare: CompareArgs,
    /// Data-plane threads, each accepting on its own socket of every listen address and keeping
    /// its own upstream connections (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<std::num::NonZeroUsize>,
    /// Bind each data-plane thread to one CPU the process may use, in order (for cores given
    /// to the proxy; a pinned thread cannot move off a core something else keeps busy).
    #[arg(long)]
    pin_workers: bool,
    /// How connections are spread over the data-plane threads: `exact` keeps each listen
    /// address's open connections even across them (Envoy's `exact_balance`), `kernel` leaves
    /// it to `SO_REUSEPORT`.
    #[arg(long, value_enum, default_value = "exact")]
    connection_balance: ConnectionBalance,
    /// Bound on draining connections at shutdown.
    #[arg(long, default_value = "10s", value_parser = parse_dur)]
    drain_timeout: Duration,
}

/// Limits of client connections (`docs/limits.md`).
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// A request body with no byte for this long fails with 408 (0: no limit).
    #[arg(long, default_value = "60s", value_parser = parse_dur)]
    upload_idle_timeout: Duration,
    /// A request's headers, once begun, must arrive within this (HTTP/1.1), or 408 and the
    /// connection is closed.
    #[arg(long, default_value = "60s", value_parser = parse_dur)]
    client_header_timeout: Duration,
    /// A client connection with no request in flight and no byte for this long is closed.
    #[arg(long, default_value = "300s", value_parser = parse_dur)]
    client_idle_timeout: Duration,
    /// Client connections open at once; more wait in the kernel's accept queue.
    #[arg(long, default_value_t = 100_000)]
    max_connections: usize,
}

impl ClientArgs {
    fn limits(&self) -> ClientLimits {
        let positive = |d: Duration| d.max(Duration::from_millis(1));
        ClientLimits {
            header_timeout: positive(self.client_header_timeout),
            idle_timeout: positive(self.client_idle_timeout),
            max_connections: self.max_connections.max(1),
            ..ClientLimits::default()
        }
    }
}

/// Comparison flags of `run`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Do not compare primary and mirrored answers.
    #[arg(long)]
    no_compare: bool,
    /// Bytes of each response body kept for comparison.
    #[arg(long, default_value_t = 64 * 1024)]
    compare_body_limit: usize,
    /// Memory for responses waiting for their pair, in bytes; beyond it the oldest are dropped
    /// and counted unpaired.
    #[arg(long, default_value_t = 64 << 20)]
    compare_memory: usize,
    /// JSON path (/timestamp, /items/*/id) or header name the comparison ignores; repeatable.
    #[arg(long = "compare-ignore", value_name = "PATH_OR_HEADER")]
    compare_ignore: Vec<String>,
    /// JSON path of an array compared as a set, order ignored (/items, /items/*/tags);
    /// repeatable.
    #[arg(long = "compare-unordered", value_name = "PATH")]
    compare_unordered: Vec<String>,
    /// Pairs needed before a verdict other than hold.
    #[arg(long, default_value_t = 100)]
    compare_min_pairs: u64,
    /// Largest share of pairs that may differ in one field (beyond noise) for promote.
    #[arg(long, default_value_t = 0.01)]
    compare_max_diff_rate: f64,
    /// Largest excess of the candidate's error rate over the primary's for promote.
    #[arg(long, default_value_t = 0.01)]
    compare_max_error_increase: f64,
    /// Largest significant p99 slowdown, in percent, for promote.
    #[arg(long, default_value_t = 20.0)]
    compare_max_slowdown: f64,
    /// Mirrored requests compared per second at most; more are sampled out (0: compare all).
    #[arg(long, default_value_t = 2000)]
    compare_max_rate: u32,
}

impl CompareArgs {
    fn config(&self, mirror_timeout: Duration, request_timeout: Duration) -> Option<CompareConfig> {
        if self.no_compare {
            return None;
        }
        let wait = mirror_timeout
            .max(request_timeout)
            .min(Duration::from_secs(115))
            + Duration::from_secs(5);
        Some(CompareConfig {
            body_limit: self.compare_body_limit,
            engine: EngineConfig {
                memory_budget: self.compare_memory,
                pair_timeout: wait,
                ignore: self.compare_ignore.clone(),
                unordered: self.compare_unordered.clone(),
                ..Default::default()
            },
            thresholds: Thresholds {
                min_pairs: self.compare_min_pairs,
                max_diff_rate: self.compare_max_diff_rate,
                max_error_increase: self.compare_max_error_increase,
                max_slowdown_pct: self.compare_max_slowdown,
                ..Default::default()
            },
            max_rate: self.compare_max_rate,
            ..Default::default()
        })
    }
}

pub(super) async fn run(args: RunArgs) -> ExitCode {
    let opts = RunOptions {
        paths: args.config.files.clone(),
        listen: args.listen.clone(),
        admin: args.admin,
        identity: args.config.identity(),
        workload: args.workload.clone(),
        mirror: MirrorConfig {
            max_in_flight: args.mirror_max_in_flight.max(1),
            timeout: args.mirror_timeout,
            body_limit: args.mirror_body_limit,
            shadow_host_suffix: !args.no_shadow_host_suffix,
            memory_budget: args.mirror_memory,
        },
        proxy: ProxyOptions {
            request_timeout: (!args.request_timeout.is_zero()).then_some(args.request_timeout),
            upload_idle_timeout: (!args.client.upload_idle_timeout.is_zero())
                .then_some(args.client.upload_idle_timeout),
            mirror_methods: args.mirror_methods.clone(),
            compare_methods: args.compare_methods.clone(),
        },
        client: args.client.limits(),
        log_format: args.log_format,
        drain_timeout: args.drain_timeout,
        reload_poll: Duration::from_secs(2),
        workers: args.workers.map_or_else(app::default_workers, usize::from),
        pin_workers: args.pin_workers,
        connection_balance: args.connection_balance,
        metrics: !args.no_metrics,
        compare: args
            .compare
            .config(args.mirror_timeout, args.request_timeout),
        kubernetes: args.config.kube_options(),
    };
    let running = match app::start(opts).await {
        Ok(r) => r,
        Err(StartError::Config(diags)) => {
            print_diagnostics(&diags);
            eprintln!(
                "error: not starting: fix the configuration (shadowmesh validate -f ... checks it)"
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let snap = running.reloader.snapshot.load();
    let listens: Vec<String> = running
        .listen_addrs
        .iter()
        .zip(&args.listen)
        .map(|(a, s)| match &s.host {
            Some(h) => format!("{a} (-> {h})"),
            None => a.to_string(),
        })
        .collect();
    tracing::info!(
        "shadowmesh listening on {} (admin http://{}); config generation {}: {}",
        listens.join(", "),
        running.admin_addr,
        snap.generation,
        snap.summary
    );
    drop(snap);
    wait_for_signal().await;
    tracing::info!("shutting down: no new connections; draining");
    running.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}
