//! The command line (`clap`): one binary, six commands. This module parses and dispatches; each
//! command lives in its own file and maps its options onto the library's types:
//! - [`run`]: the proxy (`shadowmesh run`), onto [`crate::app::RunOptions`];
//! - [`validate`]: `shadowmesh validate`, the same loading as `run`;
//! - [`report`]: `shadowmesh report`, the comparison report of a running proxy;
//! - [`tools`]: `demo`, `sample` and `load`, the tools around the product.

mod report;
mod run;
mod tools;
mod validate;

#[cfg(test)]
mod readme_tests;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::model::duration::parse_duration;
use crate::telemetry::LogFormat;
pub use report::{ReportArgs, ReportFormat};
pub use run::{CompareArgs, RunArgs};
pub use tools::{DemoArgs, LoadArgs, SampleArgs};
pub use validate::{ConfigArgs, ValidateArgs};

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
    #[command(after_help = crate::admin::ENDPOINTS)]
    Run(Box<RunArgs>),
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

/// Entry point: parses arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate::validate(&args),
        Command::Run(args) => {
            init_tracing(args.log_format);
            block_on(run::run(*args))
        }
        Command::Sample(args) => {
            init_tracing(LogFormat::Text);
            block_on(tools::sample(args))
        }
        Command::Load(args) => block_on(tools::load(args)),
        Command::Report(args) => block_on(report::report(args)),
        Command::Demo(args) => block_on(tools::demo(args)),
    }
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

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr())
        .with_writer(std::io::stderr);
    let _ = if format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.with_target(false).try_init()
    };
}

/// Colour only for a person: stderr is a terminal and `NO_COLOR` is not set (no-color.org).
pub(crate) fn colour_on_stderr() -> bool {
    crate::compare::text::colour_for(&std::io::stderr())
}

/// Colour on stdout: a terminal and `NO_COLOR` unset.
pub(crate) fn colour_on_stdout() -> bool {
    crate::compare::text::colour_for(&std::io::stdout())
}

pub(crate) fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs < 86_400.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err(format!("{s} is not a positive number of seconds")),
        Err(_) => parse_duration(s),
    }
}

pub(crate) fn parse_dur(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

pub(crate) fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not K=V"))
}

pub(crate) async fn wait_for_signal() {
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
