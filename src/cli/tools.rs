//! The tools' commands: `shadowmesh demo`, `sample` and `load` (see [`crate::tools`]).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{parse_dur, parse_secs, wait_for_signal};
use crate::tools::{demo, loadgen, sample};

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
    candidate: demo::Candidate,
    /// Leave everything running at the end and print the URLs to try.
    #[arg(long)]
    keep_running: bool,
}

/// `shadowmesh sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// calc (seed 000), greeter (seed 004) or echo (benchmarks).
    #[arg(value_enum)]
    kind: sample::Kind,
    /// Version it answers as.
    #[arg(long, default_value = "v1")]
    version: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9081")]
    listen: SocketAddr,
    /// A deliberate bug (calc v3 only): perfect-powers.
    #[arg(long, value_enum)]
    flaw: Option<sample::Flaw>,
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

/// Runs the demo.
pub(super) async fn demo(args: DemoArgs) -> ExitCode {
    demo::run(demo::DemoOptions {
        duration: args.duration,
        rate: args.rate.clamp(1.0, 2000.0),
        candidate: args.candidate,
        keep_running: args.keep_running,
    })
    .await
}

pub(super) async fn sample(args: SampleArgs) -> ExitCode {
    let config = sample::SampleConfig {
        kind: args.kind,
        version: args.version.clone(),
        flaw: args.flaw,
        delay: args.delay,
        log: !args.quiet,
    };
    match sample::start(args.listen, config).await {
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

pub(super) async fn load(args: LoadArgs) -> ExitCode {
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
    if proxy.is_none()
        && let Err(message) = resolves(&args.target).await
    {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    let cfg = loadgen::LoadConfig {
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
    let report = loadgen::run(cfg).await;
    println!("{}", report.summary());
    if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether `target`'s host resolves; without `--proxy` a service name such as
/// `calcbackendsvc` does not, and each request would wait for DNS to give up.
async fn resolves(target: &http::Uri) -> Result<(), String> {
    let host = target.host().unwrap_or_default();
    let port = target.port_u16().unwrap_or(80);
    let lookup = tokio::net::lookup_host((host, port));
    let found = match tokio::time::timeout(Duration::from_secs(3), lookup).await {
        Ok(Ok(addrs)) => addrs.count(),
        _ => 0,
    };
    match found {
        1.. => Ok(()),
        0 => Err(format!(
            "error: {host} does not resolve.\nhint: {host} is a service name the proxy knows, not a DNS name: send through the proxy with --proxy http://127.0.0.1:15001 (`shadowmesh run`'s --listen)"
        )),
    }
}
