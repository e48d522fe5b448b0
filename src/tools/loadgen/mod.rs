//! Loop mode (the seed's "run the application in loop-mode"): a steady stream of requests with a
//! mix of desktop and Mobile user agents, bounded in time and count, with a progress bar and a
//! summary of what answered ([`tally`]). `shadowmesh load` and the demo use it.

mod tally;

pub use tally::{Failure, LoadReport, REQUEST_TIMEOUT};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The desktop user agent sent.
pub const DESKTOP_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
/// The Mobile user agent sent (matches the seed's `.*Mobile.*`).
pub const MOBILE_AGENT: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1";

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Target URL, e.g. `http://calcbackendsvc/api/calculation`.
    pub target: http::Uri,
    /// Send through this proxy address (its Host header names the target).
    pub proxy: Option<SocketAddr>,
    /// Requests per second.
    pub rate: f64,
    /// How long.
    pub duration: Duration,
    /// At most this many requests.
    pub max_requests: u64,
    /// Share of requests with a Mobile user agent.
    pub mobile_share: f64,
    /// `number` values drawn uniformly from this range...
    pub numbers: (u64, u64),
    /// ...except this share, which are perfect powers (`m^k`).
    pub powers_share: f64,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Draw a progress bar on the terminal.
    pub progress: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            target: http::Uri::from_static("http://calcbackendsvc/api/calculation"),
            proxy: None,
            rate: 50.0,
            duration: Duration::from_secs(10),
            max_requests: 100_000,
            mobile_share: 0.3,
            numbers: (1_000_000_000, 1_000_000_000_000_000),
            powers_share: 0.1,
            concurrency: 64,
            progress: false,
        }
    }
}

/// A number to ask about.
fn pick_number(cfg: &LoadConfig, rng: &mut fastrand::Rng) -> u64 {
    if rng.f64() < cfg.powers_share {
        let base = rng.u64(2..=3000);
        let exp = rng.u32(2..=4);
        return base.pow(exp);
    }
    let (lo, hi) = cfg.numbers;
    rng.u64(lo.min(hi)..=hi.max(lo))
}

/// How many requests a run sends: one per tick for its duration, at most `max_requests`.
pub fn planned_requests(cfg: &LoadConfig) -> u64 {
    ((cfg.rate * cfg.duration.as_secs_f64()).ceil() as u64)
        .min(cfg.max_requests)
        .max(1)
}

/// Runs the load and returns the report.
pub async fn run(cfg: LoadConfig) -> LoadReport {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let planned = planned_requests(&cfg);
    let bar = progress_bar(cfg.progress, planned);
    let sent_to = match cfg.proxy {
        Some(proxy) => proxy.to_string(),
        None => cfg
            .target
            .authority()
            .map_or_else(String::new, |a| a.to_string()),
    };
    let tally = Arc::new(Mutex::new(LoadReport::new(sent_to, cfg.proxy.is_some())));
    let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / cfg.rate.max(0.1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = fastrand::Rng::new();
    let mut sent = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    while sent < planned && started.elapsed() < cfg.duration {
        ticker.tick().await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let mobile = rng.f64() < cfg.mobile_share;
        let req = build_request(&cfg, pick_number(&cfg, &mut rng), mobile);
        let (client, tally, bar) = (client.clone(), tally.clone(), bar.clone());
        sent += 1;
        tasks.spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            let outcome = match req {
                Some(req) => send(&client, req).await,
                None => Err(Failure::Other("the target URL cannot be sent".into())),
            };
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            t.add(t0.elapsed(), outcome, mobile);
            if t.errors > 0 {
                bar.set_message(format!("failed {}", t.failure_breakdown()));
            }
            bar.inc(1);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    bar.finish_and_clear();
    let mut report = tally.lock().unwrap_or_else(|e| e.into_inner()).clone();
    report.sent = sent;
    report.elapsed = started.elapsed();
    report
}

fn progress_bar(shown: bool, expected: u64) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(expected);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} loop mode [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// Sends one request: its status and body, or why there is none.
async fn send(client: &HttpClient, req: Request<Empty<Bytes>>) -> Result<(u16, Bytes), Failure> {
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| Failure::of(&e))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::of(&e))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(Failure::TimedOut))
}

fn build_request(cfg: &LoadConfig, number: u64, mobile: bool) -> Option<Request<Empty<Bytes>>> {
    let path = cfg.target.path();
    let query = match cfg.target.query() {
        Some(q) => format!("{q}&number={number}"),
        None => format!("number={number}"),
    };
    let authority = cfg.target.authority()?.as_str();
    let uri = match cfg.proxy {
        Some(proxy) => format!("http://{proxy}{path}?{query}"),
        None => format!("http://{authority}{path}?{query}"),
    };
    Request::builder()
        .uri(uri)
        .header(http::header::HOST, authority)
        .header(
            http::header::USER_AGENT,
            if mobile { MOBILE_AGENT } else { DESKTOP_AGENT },
        )
        .body(Empty::new())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_agent_matches_the_seed_regex() {
        let re = crate::model::matchers::string::compile_regex(".*Mobile.*").unwrap();
        assert!(re.is_match(MOBILE_AGENT));
        assert!(!re.is_match(DESKTOP_AGENT));
    }

    #[test]
    fn numbers_stay_in_range_and_include_perfect_powers() {
        let cfg = LoadConfig {
            numbers: (1000, 2000),
            powers_share: 0.5,
            ..Default::default()
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let picks: Vec<u64> = (0..1000).map(|_| pick_number(&cfg, &mut rng)).collect();
        let powers = picks
            .iter()
            .filter(|n| crate::tools::sample::factor::perfect_power(**n).is_some())
            .count();
        assert!(powers >= 400, "{powers}");
        assert!(picks.iter().all(|n| (1000..=2000).contains(n)
            || crate::tools::sample::factor::perfect_power(*n).is_some()));
    }

    #[test]
    fn a_run_plans_rate_times_duration_requests() {
        let cfg = LoadConfig {
            rate: 40.0,
            duration: Duration::from_secs(20),
            ..Default::default()
        };
        assert_eq!(planned_requests(&cfg), 800);
        let capped = LoadConfig {
            max_requests: 5,
            ..cfg
        };
        assert_eq!(planned_requests(&capped), 5);
    }

    #[tokio::test]
    async fn a_dead_target_is_reported_as_connection_refused_with_a_hint() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let report = run(LoadConfig {
            target: "http://calcbackendsvc/api".parse().unwrap(),
            proxy: Some(addr),
            rate: 100.0,
            duration: Duration::from_secs(1),
            max_requests: 5,
            ..Default::default()
        })
        .await;
        assert_eq!(report.sent, 5);
        assert_eq!(
            report.failures.get(&Failure::Refused),
            Some(&5),
            "{report:?}"
        );
        let summary = report.summary();
        assert!(
            summary.contains("failed: connection refused x 5"),
            "{summary}"
        );
        assert!(
            summary.contains(&format!(
                "hint: nothing listens on {addr}: is `shadowmesh run`"
            )),
            "{summary}"
        );
    }

    #[tokio::test]
    async fn answers_other_than_2xx_are_counted_by_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = sock.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let answer =
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
                        if sock.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let report = run(LoadConfig {
            target: format!("http://{addr}/api").parse().unwrap(),
            rate: 100.0,
            duration: Duration::from_secs(1),
            max_requests: 4,
            ..Default::default()
        })
        .await;
        assert_eq!(report.errors, 4);
        assert!(
            report.summary().contains("failed: HTTP 503 x 4"),
            "{}",
            report.summary()
        );
    }
}
