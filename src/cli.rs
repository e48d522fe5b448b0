//! The command line (`clap`): `run`, `validate`. Each command's options map onto
//! [`crate::app::RunOptions`] and friends; this module only parses and reports.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, ListenSpec, RunOptions, StartError};
use crate::compare::CompareConfig;
use crate::compare::engine::EngineConfig;
use crate::compare::verdict::Thresholds;
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
    /// Run a sample service (the seeds' backends, or a benchmark upstream).
    Sample(SampleArgs),
    /// Loop mode: send a steady mix of desktop and Mobile requests and summarize the answers.
    Load(LoadArgs),
    /// Print the comparison report of a running proxy.
    Report(ReportArgs),
    /// The seeds' scenario on loopback, end to end, in one command.
    Demo(DemoArgs),
}

/// `shadowmesh demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Loop-mode duration (seconds, or 20s, 1m).
    #[arg(long, default_value = "20", value_parser = parse_secs)]
    duration: Duration,
    /// Loop-mode requests per second.
    #[arg(long, default_value_t = 40.0)]
    rate: f64,
    /// flawed: v3 is wrong on perfect powers (the verdict says why latency alone is not
    /// enough); good: a promotable v3.
    #[arg(long, value_enum, default_value = "flawed")]
    candidate: crate::demo::Candidate,
    /// Leave everything running at the end and print the URLs to try.
    #[arg(long)]
    keep_running: bool,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs < 86_400.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err(format!("{s} is not a positive number of seconds")),
        Err(_) => parse_duration(s),
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

/// `shadowmesh report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Admin address of the running proxy.
    #[arg(long, default_value = "127.0.0.1:15000")]
    admin: SocketAddr,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
}

/// How `report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A readable table.
    Text,
    /// The JSON of `GET /compare`.
    Json,
}

/// `shadowmesh sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// calc (seed 000), greeter (seed 004) or echo (benchmarks).
    #[arg(value_enum)]
    kind: crate::sample::Kind,
    /// Version it answers as.
    #[arg(long, default_value = "v1")]
    version: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9081")]
    listen: SocketAddr,
    /// A deliberate bug (calc v3 only): perfect-powers.
    #[arg(long, value_enum)]
    flaw: Option<crate::sample::Flaw>,
    /// Wait this long before each answer (e.g. 1s: a slow mirror).
    #[arg(long, default_value = "0s", value_parser = parse_dur)]
    delay: Duration,
    /// Do not log each request.
    #[arg(long)]
    quiet: bool,
}

/// `shadowmesh load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Target URL.
    #[arg(long, default_value = "http://calcbackendsvc/api/calculation")]
    target: http::Uri,
    /// Proxy to send through (e.g. http://127.0.0.1:15001).
    #[arg(long)]
    proxy: Option<http::Uri>,
    /// Requests per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// How long to run.
    #[arg(long, default_value = "10s", value_parser = parse_dur)]
    duration: Duration,
    /// At most this many requests.
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Share of Mobile user agents (0 to 1).
    #[arg(long, default_value_t = 0.3)]
    mobile_share: f64,
    /// Range of numbers to factor, LOW-HIGH.
    #[arg(long, default_value = "1000000000-1000000000000000", value_parser = parse_range)]
    numbers: (u64, u64),
    /// Share of perfect powers among the numbers (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    powers_share: f64,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?} is not LOW-HIGH"))?;
    let lo = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a number"))?;
    let hi = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?} is not a number"))?;
    if lo > hi {
        return Err(format!("{lo} is above {hi}"));
    }
    Ok((lo, hi))
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
    #[command(flatten)]
    compare: CompareArgs,
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
            block_on(run(args))
        }
        Command::Sample(args) => {
            init_tracing(LogFormat::Text);
            block_on(sample(args))
        }
        Command::Load(args) => block_on(load(args)),
        Command::Report(args) => block_on(report(args)),
        Command::Demo(args) => block_on(crate::demo::run(crate::demo::DemoOptions {
            duration: args.duration,
            rate: args.rate.clamp(1.0, 2000.0),
            candidate: args.candidate,
            keep_running: args.keep_running,
        })),
    }
}

async fn report(args: ReportArgs) -> ExitCode {
    let url = format!("http://{}/compare", args.admin);
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let fetched = async {
        let resp = client.get(url.parse().ok()?).await.ok()?;
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .ok()?
            .to_bytes();
        Some((status, body))
    };
    let Some((status, body)) = tokio::time::timeout(Duration::from_secs(10), fetched)
        .await
        .ok()
        .flatten()
    else {
        eprintln!(
            "error: no answer from {url}: is `shadowmesh run --admin {}` running?",
            args.admin
        );
        return ExitCode::FAILURE;
    };
    if !status.is_success() {
        eprintln!(
            "error: {url} answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
        return ExitCode::FAILURE;
    }
    match args.format {
        ReportFormat::Json => println!("{}", String::from_utf8_lossy(&body)),
        ReportFormat::Text => match serde_json::from_slice::<crate::compare::Report>(&body) {
            Ok(r) => print!("{}", crate::compare::text::render(&r)),
            Err(e) => {
                eprintln!("error: {url} sent a report this version cannot read: {e}");
                return ExitCode::FAILURE;
            }
        },
    }
    ExitCode::SUCCESS
}

fn block_on(f: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn sample(args: SampleArgs) -> ExitCode {
    let config = crate::sample::SampleConfig {
        kind: args.kind,
        version: args.version.clone(),
        flaw: args.flaw,
        delay: args.delay,
        log: !args.quiet,
    };
    match crate::sample::start(args.listen, config).await {
        Ok(s) => {
            eprintln!(
                "sample {:?} {} listening on http://{}",
                args.kind, args.version, s.addr
            );
            wait_for_signal().await;
            s.stop();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            ExitCode::FAILURE
        }
    }
}

async fn load(args: LoadArgs) -> ExitCode {
    let proxy = match &args.proxy {
        Some(uri) => match uri.authority().map(|a| a.as_str().parse::<SocketAddr>()) {
            Some(Ok(addr)) => Some(addr),
            _ => {
                eprintln!("error: --proxy {uri} must be http://IP:PORT");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    if args.target.authority().is_none() {
        eprintln!(
            "error: --target {} needs a host, e.g. http://calcbackendsvc/api/calculation",
            args.target
        );
        return ExitCode::FAILURE;
    }
    let cfg = crate::load::LoadConfig {
        target: args.target,
        proxy,
        rate: args.rate,
        duration: args.duration,
        max_requests: args.requests,
        mobile_share: args.mobile_share.clamp(0.0, 1.0),
        numbers: args.numbers,
        powers_share: args.powers_share.clamp(0.0, 1.0),
        concurrency: 64,
        progress: true,
    };
    let report = crate::load::run(cfg).await;
    println!("{}", report.summary());
    if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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
        compare: args
            .compare
            .config(args.mirror_timeout, args.request_timeout),
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
