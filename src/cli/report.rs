//! `shadowmesh report`: the comparison report of a running proxy, fetched from its admin port.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

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

pub(super) async fn report(args: ReportArgs) -> ExitCode {
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
