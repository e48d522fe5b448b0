//! Loop mode (the seed's "run the application in loop-mode"): a steady stream of requests with a
//! mix of desktop and Mobile user agents, bounded in time and count, with a progress bar and a
//! summary of what answered. `shadowmesh load` and the demo use it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
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

/// What came back.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests sent.
    pub sent: u64,
    /// 2xx answers.
    pub ok: u64,
    /// Non-2xx answers and failed requests.
    pub errors: u64,
    /// Answers by the `version` field of their JSON body (`-` when absent).
    pub versions: BTreeMap<String, u64>,
    /// Answers to Mobile user agents, by version.
    pub mobile_versions: BTreeMap<String, u64>,
    /// Latency in microseconds.
    pub latency_us: Histogram<u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl LoadReport {
    /// A latency percentile in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Answers from `version`.
    pub fn answered_by(&self, version: &str) -> u64 {
        self.versions.get(version).copied().unwrap_or(0)
    }

    /// The summary lines.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(0.001);
        let pct = |n: u64| 100.0 * n as f64 / self.sent.max(1) as f64;
        let versions: Vec<String> = self
            .versions
            .iter()
            .map(|(v, n)| format!("{v} {n} ({:.1}%)", pct(*n)))
            .collect();
        format!(
            "requests {}, errors {} ({:.1}%), {:.1} req/s\nlatency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\nanswered by: {}",
            self.sent,
            self.errors,
            pct(self.errors),
            self.sent as f64 / secs,
            self.percentile_ms(0.5),
            self.percentile_ms(0.9),
            self.percentile_ms(0.99),
            self.latency_us.max() as f64 / 1000.0,
            if versions.is_empty() {
                "-".to_string()
            } else {
                versions.join(", ")
            },
        )
    }
}

struct Tally {
    ok: u64,
    errors: u64,
    versions: BTreeMap<String, u64>,
    mobile_versions: BTreeMap<String, u64>,
    latency_us: Histogram<u64>,
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

/// Runs the load and returns the report.
pub async fn run(cfg: LoadConfig) -> LoadReport {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let expected = ((cfg.rate * cfg.duration.as_secs_f64()) as u64)
        .min(cfg.max_requests)
        .max(1);
    let bar = progress_bar(cfg.progress, expected);
    let tally = Arc::new(Mutex::new(Tally {
        ok: 0,
        errors: 0,
        versions: BTreeMap::new(),
        mobile_versions: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
    }));
    let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / cfg.rate.max(0.1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = fastrand::Rng::new();
    let mut sent = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    while sent < cfg.max_requests && started.elapsed() < cfg.duration {
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
                None => None,
            };
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            t.add(t0.elapsed(), outcome, mobile);
            bar.set_message(format!("errors {}", t.errors));
            bar.inc(1);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    bar.finish_and_clear();
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    LoadReport {
        sent,
        ok: t.ok,
        errors: t.errors,
        versions: t.versions.clone(),
        mobile_versions: t.mobile_versions.clone(),
        latency_us: t.latency_us.clone(),
        elapsed: started.elapsed(),
    }
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

/// Sends one request; its status and body, or `None` on an error or after 10 s.
async fn send(
    client: &HttpClient,
    req: Request<Empty<Bytes>>,
) -> Option<(http::StatusCode, Bytes)> {
    let exchange = async {
        let resp = client.request(req).await.ok()?;
        let status = resp.status();
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .ok()
        .flatten()
}

impl Tally {
    /// Counts one answer (or failure) that took `took`.
    fn add(&mut self, took: Duration, outcome: Option<(http::StatusCode, Bytes)>, mobile: bool) {
        let _ = self.latency_us.record((took.as_micros() as u64).max(1));
        match outcome {
            Some((status, body)) if status.is_success() => {
                self.ok += 1;
                let version = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["version"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "-".into());
                if mobile {
                    *self.mobile_versions.entry(version.clone()).or_default() += 1;
                }
                *self.versions.entry(version).or_default() += 1;
            }
            _ => self.errors += 1,
        }
    }
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
}
