//! Compare and decide: every mirrored response is paired with its primary by the proxy-made
//! pair id (`Exchange.pair`, unique per request; a client's `x-request-id` may repeat),
//! compared (status, headers, body decoded then JSON by path, each difference with its kind),
//! and aggregated per (service, route, primary
//! version, candidate version) into latency statistics, error rates, noise-filtered
//! differences and a verdict (`promote`, `hold`, `reject`).
//!
//! The comparison **samples under load**: at most `max_rate` requests per second are compared
//! ([`ExchangeHook::sample_pair`]); the rest are counted `sampled_out` and the data path keeps
//! no bodies for them. The data path only hands over exchanges through a bounded channel
//! (`try_send`; a full channel counts as dropped, never waits). One background task owns the
//! [`engine::Engine`] and counts results in [`CompareMetrics`].
//!
//! - [`observed`]: one exchange as the comparison sees it;
//! - [`pairing`]: primaries and mirrors waiting by pair id, memory budget, timeout;
//! - [`decode`]: bodies decoded per `content-encoding` (gzip, deflate, br) within the limit;
//! - [`kind`]: what kind a difference is (value, type, missing, extra, length, ...);
//! - [`json_diff`]: JSON pointer diff, ignore lists, arrays compared as sets;
//! - [`diff`]: one pair;
//! - [`noise`]: Diffy-style noise with a secondary, repeat noise without one;
//! - [`outcome`]: a pair's result (`match`, `body_mismatch`, ...);
//! - [`example`]: a differing pair's example, with the values at the differing place;
//! - [`groups`]: statistics per (service, route, primary, candidate);
//! - [`engine`]: pairing, diff, noise and aggregation in that order;
//! - [`stats`]: paired latency and bootstrap intervals;
//! - [`verdict`]: thresholds and plain-words reasons;
//! - [`report`]: the report and how a group becomes one;
//! - [`merge`]: several replicas' reports as one (their raw counts summed);
//! - [`metrics`]: the `shadowmesh_compare_total` and `shadowmesh_compare_differences_total`
//!   counters;
//! - [`text`]: the report as a table (`shadowmesh report`).

pub mod decode;
pub mod diff;
pub mod engine;
pub mod example;
pub mod groups;
pub mod json_diff;
pub mod kind;
pub mod merge;
pub mod metrics;
pub mod noise;
pub mod observed;
pub mod outcome;
pub mod pairing;
pub mod report;
pub mod stats;
pub mod text;
pub mod verdict;

#[cfg(test)]
mod engine_semantics_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod merge_tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::telemetry::{Exchange, ExchangeHook};
use engine::{Engine, EngineConfig, Observed};
pub use metrics::CompareMetrics;
pub use report::Report;
use verdict::Thresholds;

/// Comparison settings (flags of `run`).
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// Bytes of each response body captured for comparison.
    pub body_limit: usize,
    /// Engine limits (memory budget, pair timeout, ignored fields).
    pub engine: EngineConfig,
    /// Verdict thresholds.
    pub thresholds: Thresholds,
    /// Exchanges queued for the comparison task at most.
    pub queue: usize,
    /// Mirrored requests compared per second at most (0: all). Beyond it requests are sampled
    /// out: a comparison does not need every pair of a busy service, and the data path then
    /// keeps no bodies for them.
    pub max_rate: u32,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            engine: EngineConfig::default(),
            thresholds: Thresholds::default(),
            queue: 10_000,
            max_rate: 2000,
        }
    }
}

/// Request lines longer than this are cut in reports (a client controls their length).
const MAX_REQUEST_LINE: usize = 512;

/// The comparison hook and its background task.
pub struct Comparator {
    tx: mpsc::Sender<Observed>,
    engine: Arc<Mutex<Engine>>,
    thresholds: Thresholds,
    body_limit: usize,
    dropped: AtomicU64,
    max_rate: u32,
    /// The current second (since start) and the pairs admitted in it.
    window: AtomicU64,
    admitted: std::sync::atomic::AtomicU32,
    sampled_out: AtomicU64,
    started: std::time::Instant,
}

/// The comparison task: drains the exchanges sent to it into the engine and counts the results.
///
/// While exchanges come it drains them on a 20 ms tick rather than being woken per exchange: a
/// sender never wakes it (no waker is registered), so the data path pays no cross-thread
/// wake-up. Once a drain finds nothing and no pair waits to expire, it sleeps until the next
/// exchange (one wake-up): an idle proxy does not wake 50 times a second.
async fn drain(
    mut rx: mpsc::Receiver<Observed>,
    engine: Arc<Mutex<Engine>>,
    metrics: Option<CompareMetrics>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut expire_at = Instant::now();
    let mut first = None;
    loop {
        tick.tick().await;
        let mut results = Vec::new();
        let differences;
        let idle;
        {
            let mut engine = lock(&engine);
            let now = Instant::now();
            let mut drained = 0usize;
            for ob in first
                .take()
                .into_iter()
                .chain(std::iter::from_fn(|| rx.try_recv().ok()))
            {
                results.extend(engine.ingest(ob, now));
                drained += 1;
            }
            if now >= expire_at {
                results.extend(engine.expire(now));
                expire_at = now + Duration::from_millis(500);
            }
            differences = engine.take_differences();
            idle = drained == 0 && engine.pending_len() == 0;
        }
        if let Some(m) = &metrics {
            m.count_drained(&results, &differences);
        }
        if idle {
            match rx.recv().await {
                Some(ob) => first = Some(ob),
                None => return,
            }
        }
    }
}

impl Comparator {
    /// Starts the comparison task; `metrics` counts its results (`shadowmesh_compare_total`).
    pub fn start(cfg: CompareConfig, metrics: Option<CompareMetrics>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Observed>(cfg.queue.max(1));
        let engine_cfg = EngineConfig {
            decoded_limit: cfg.body_limit,
            ..cfg.engine.clone()
        };
        let engine = Arc::new(Mutex::new(Engine::new(engine_cfg)));
        let task_engine = engine.clone();
        tokio::spawn(drain(rx, task_engine, metrics));
        Arc::new(Self {
            tx,
            engine,
            thresholds: cfg.thresholds,
            body_limit: cfg.body_limit,
            dropped: AtomicU64::new(0),
            max_rate: cfg.max_rate,
            window: AtomicU64::new(0),
            admitted: std::sync::atomic::AtomicU32::new(0),
            sampled_out: AtomicU64::new(0),
            started: std::time::Instant::now(),
        })
    }

    /// The current report.
    pub fn report(&self) -> Report {
        self.report_with(false)
    }

    /// The current report, with each group's raw counts when `samples` (for
    /// `shadowmesh report` merging several replicas: [`merge::merge`]).
    pub fn report_with(&self, samples: bool) -> Report {
        let engine = lock(&self.engine);
        Report {
            generated_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            thresholds: self.thresholds.clone(),
            unpaired: engine.unpaired.clone(),
            dropped: self.dropped.load(Ordering::Relaxed),
            sampled_out: self.sampled_out.load(Ordering::Relaxed),
            candidates: engine.report_with(&self.thresholds, samples),
        }
    }
}

fn lock(e: &Mutex<Engine>) -> std::sync::MutexGuard<'_, Engine> {
    e.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `GET /path?query`, cut at [`MAX_REQUEST_LINE`] bytes.
fn request_line(ex: &Exchange) -> String {
    example::cut(format!("{} {}", ex.method, ex.path), MAX_REQUEST_LINE)
}

impl ExchangeHook for Comparator {
    fn on_exchange(&self, ex: &Exchange) {
        if !ex.compare {
            return;
        }
        let Some(peer) = ex.peer.as_deref() else {
            return;
        };
        // Only a primary's request line is shown or keyed on (examples, repeat noise).
        let request = if ex.mirror {
            String::new()
        } else {
            request_line(ex)
        };
        let ob = Observed {
            pair: ex.pair,
            mirror: ex.mirror,
            service: peer.service_fqdn.clone(),
            route: ex.route.clone().unwrap_or_else(|| "".into()),
            version: peer.version.clone(),
            status: ex.status,
            flag: ex.flag,
            headers: ex.headers.clone(),
            body: ex.body.clone(),
            size: ex.response_bytes,
            duration: ex.duration,
            request,
            mirrors_sent: ex.mirrors_sent,
            ignore: ex.compare_ignore.clone().unwrap_or_default(),
            unordered: ex.compare_unordered.clone().unwrap_or_default(),
            undecodable: false,
        };
        if self.tx.try_send(ob).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn capture_limit(&self) -> usize {
        self.body_limit
    }

    fn sample_pair(&self) -> bool {
        if self.max_rate == 0 {
            return true;
        }
        let second = self.started.elapsed().as_secs();
        if self.window.load(Ordering::Relaxed) != second {
            self.window.store(second, Ordering::Relaxed);
            self.admitted.store(0, Ordering::Relaxed);
        }
        if self.admitted.fetch_add(1, Ordering::Relaxed) < self.max_rate {
            true
        } else {
            self.sampled_out.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}
