//! `shadowmesh report`: the comparison report of a running proxy, fetched from its admin port
//! (several `--admin`: each replica's raw counts merged into one verdict, see
//! [`crate::compare::merge`]); the exit code carries the verdict ([`exit`]), so a CI step can
//! gate a release on it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::compare::Report;
use crate::compare::verdict::Verdict;

/// `shadowmesh report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Admin address of the running proxy; repeat it for several replicas, whose pairs are
    /// merged into one verdict.
    #[arg(long, default_value = "127.0.0.1:15000", value_name = "ADDR")]
    admin: Vec<SocketAddr>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Ask again every second until the verdict leaves `hold`, for at most this long (e.g.
    /// 5m); then print and exit with the verdict's code.
    #[arg(long, value_parser = super::parse_dur, value_name = "DUR")]
    wait: Option<Duration>,
}

/// How `report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A readable table.
    Text,
    /// The JSON of `GET /compare`.
    Json,
}

/// Exit codes of `report`, stable for CI gates: the verdict over every candidate (the worst
/// wins: reject, then hold).
pub mod exit {
    /// Every candidate is promoted.
    pub const PROMOTE: u8 = 0;
    /// A candidate is rejected.
    pub const REJECT: u8 = 1;
    /// Usage error, or the proxy could not be asked.
    pub const ERROR: u8 = 2;
    /// Not decided yet (too few pairs, or no candidate yet).
    pub const HOLD: u8 = 3;
}

pub(super) async fn report(args: ReportArgs) -> ExitCode {
    let deadline = tokio::time::Instant::now() + args.wait.unwrap_or_default();
    loop {
        let report = match ask(&args.admin).await {
            Ok(report) => report,
            Err(message) => {
                eprintln!("{message}");
                return ExitCode::from(exit::ERROR);
            }
        };
        let verdict = overall(&report);
        if verdict == Verdict::Hold && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        match args.format {
            ReportFormat::Json => match serde_json::to_string_pretty(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => {
                    eprintln!("error: cannot write the report as JSON: {e}");
                    return ExitCode::from(exit::ERROR);
                }
            },
            ReportFormat::Text => {
                if args.admin.len() > 1 {
                    let from: Vec<String> = args.admin.iter().map(ToString::to_string).collect();
                    println!("merged from {} replicas: {}\n", from.len(), from.join(", "));
                }
                print!(
                    "{}",
                    crate::compare::text::render(&report, super::colour_on_stdout())
                );
            }
        }
        return ExitCode::from(match verdict {
            Verdict::Promote => exit::PROMOTE,
            Verdict::Reject => exit::REJECT,
            Verdict::Hold => exit::HOLD,
        });
    }
}

/// The report of one proxy, or of several merged.
async fn ask(admins: &[SocketAddr]) -> Result<Report, String> {
    if let [admin] = admins {
        let url = format!("http://{admin}/compare");
        return parse(&url, &fetch(&url, *admin).await?);
    }
    let mut reports = Vec::with_capacity(admins.len());
    for admin in admins {
        let url = format!("http://{admin}/compare?samples=1");
        let report = parse(&url, &fetch(&url, *admin).await?)?;
        reports.push((admin.to_string(), report));
    }
    crate::compare::merge::merge(&reports).map_err(|e| format!("error: {e}"))
}

fn parse(url: &str, body: &[u8]) -> Result<Report, String> {
    serde_json::from_slice::<Report>(body)
        .map_err(|e| format!("error: {url} sent a report this version cannot read: {e}"))
}

/// The verdict over all candidates: reject if any is rejected, else hold if any holds (or
/// there is none yet), else promote.
fn overall(report: &Report) -> Verdict {
    let verdicts = report.candidates.iter().map(|c| c.verdict);
    if report.candidates.is_empty() {
        Verdict::Hold
    } else if verdicts.clone().any(|v| v == Verdict::Reject) {
        Verdict::Reject
    } else if verdicts.clone().any(|v| v == Verdict::Hold) {
        Verdict::Hold
    } else {
        Verdict::Promote
    }
}

/// `GET url`'s body, or a message saying what to check.
async fn fetch(url: &str, admin: SocketAddr) -> Result<bytes::Bytes, String> {
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
    let answer = tokio::time::timeout(Duration::from_secs(10), fetched).await;
    let Some((status, body)) = answer.ok().flatten() else {
        return Err(format!(
            "error: no answer from {url}: is `shadowmesh run --admin {admin}` running?"
        ));
    };
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("error: {url} answered {status}: {}", text.trim()));
    }
    Ok(body)
}
