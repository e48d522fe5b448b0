//! The command line (`clap`): `run`, `validate`. Each command's options map onto
//! [`crate::app::RunOptions`] and friends; this module only parses and reports.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, ListenSpec, RunOptions, StartError};
use crate::config::Diagnostic;
use crate::mirror::MirrorConfig;
use crate::model::duration::parse_duration;
use crate::model::{ProxyIdentity, build_snapshot};
use crate::proxy::ProxyOptions;
use crate::telemetry::LogFormat;

/// shadowmesh: route and mirror live HTTP traffic with Istio's own YAML, and compare the answers.
#[derive(Debug, Parser)]
#[command(name = "shadowmesh", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Run(RunArgs),
    /// Check a configuration exactly as `run` would load it.
    Validate(ValidateArgs),
}

/// Where the configuration is and who the proxy is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// YAML file or folder (all *.yaml/*.yml inside, sorted); repeatable.
    #[arg(short = 'f', long = "file", required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Namespace of this proxy; also the namespace of resources that name none.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Labels of this proxy's workload, for `sourceLabels` matches (k=v, repeatable).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

impl ConfigArgs {
    fn identity(&self) -> ProxyIdentity {
        ProxyIdentity {
            namespace: self.namespace.clone(),
            labels: self.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        }
    }
}

/// `shadowmesh validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// `shadowmesh run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
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
    /// Keep the Host of mirrored copies as is (Istio 1.28+ default) instead of appending -shadow.
    #[arg(long)]
    no_shadow_host_suffix: bool,
    /// Time limit for the primary's response headers when the route sets no timeout (0: none).
    #[arg(long, default_value = "60s", value_parser = parse_dur)]
    request_timeout: Duration,
    /// Access log format (`off` disables it).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Do not record metrics (/metrics answers 404).
    #[arg(long)]
    no_metrics: bool,
    /// Bound on draining connections at shutdown.
    #[arg(long, default_value = "10s", value_parser = parse_dur)]
    drain_timeout: Duration,
}

fn parse_dur(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not K=V"))
}

/// Entry point: parses arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Run(args) => {
            init_tracing(args.log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(run(args))
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.with_target(false).try_init()
    };
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    match build_snapshot(&args.config.files, &args.config.identity(), 1) {
        Ok(snap) => {
            for line in snap.skipped_lines() {
                eprintln!("{line}");
            }
            print_diagnostics(&snap.warnings);
            println!("valid: {}", snap.summary);
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "invalid: {errors} error{}",
                if errors == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> ExitCode {
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
        },
        proxy: ProxyOptions {
            request_timeout: (!args.request_timeout.is_zero()).then_some(args.request_timeout),
        },
        log_format: args.log_format,
        drain_timeout: args.drain_timeout,
        reload_poll: Duration::from_secs(2),
        metrics: !args.no_metrics,
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

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
