//! What came back from loop mode: answers by version, failures by cause (each HTTP status, and
//! connection refused, timeout, unresolvable host...), latency, and the summary printed at the
//! end with a hint at what to check when requests fail.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;

/// Why one request did not get a 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// An answer with a status other than 2xx.
    Status(u16),
    /// The TCP connection was refused: nothing listens there.
    Refused,
    /// The host name did not resolve.
    Unresolved,
    /// No complete answer within the request timeout.
    TimedOut,
    /// The connection was reset or closed before a whole answer came.
    Reset,
    /// Anything else, with its message.
    Other(String),
}

impl Failure {
    /// Classifies a client error by walking its causes.
    pub fn of(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
        let mut text = err.to_string();
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                match io.kind() {
                    K::ConnectionRefused => return Self::Refused,
                    K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                        return Self::Reset;
                    }
                    K::TimedOut => return Self::TimedOut,
                    _ => {}
                }
                let msg = io.to_string();
                if msg.contains("failed to lookup address") || msg.contains("Name or service") {
                    return Self::Unresolved;
                }
            }
            text = e.to_string();
            cause = e.source();
        }
        if text.contains("dns error") {
            return Self::Unresolved;
        }
        if text.contains("closed") || text.contains("incomplete") {
            return Self::Reset;
        }
        Self::Other(text)
    }

    /// `HTTP 503`, `connection refused`, ...
    pub fn words(&self) -> String {
        match self {
            Self::Status(s) => format!("HTTP {s}"),
            Self::Refused => "connection refused".into(),
            Self::Unresolved => "host name does not resolve".into(),
            Self::TimedOut => format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            Self::Reset => "connection closed before the answer".into(),
            Self::Other(text) => text.clone(),
        }
    }
}

/// Time limit of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What came back.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests sent.
    pub sent: u64,
    /// 2xx answers.
    pub ok: u64,
    /// Non-2xx answers and failed requests.
    pub errors: u64,
    /// Failures by cause.
    pub failures: BTreeMap<Failure, u64>,
    /// Answers by the `version` field of their JSON body (`-` when absent).
    pub versions: BTreeMap<String, u64>,
    /// Answers to Mobile user agents, by version.
    pub mobile_versions: BTreeMap<String, u64>,
    /// Latency in microseconds.
    pub latency_us: Histogram<u64>,
    /// Wall time.
    pub elapsed: Duration,
    /// Where requests went: the proxy, or the target itself (for hints).
    pub sent_to: String,
    /// Whether requests went through a proxy.
    pub through_proxy: bool,
}

impl LoadReport {
    /// An empty report for requests sent to `sent_to`.
    pub fn new(sent_to: String, through_proxy: bool) -> Self {
        Self {
            sent: 0,
            ok: 0,
            errors: 0,
            failures: BTreeMap::new(),
            versions: BTreeMap::new(),
            mobile_versions: BTreeMap::new(),
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            elapsed: Duration::ZERO,
            sent_to,
            through_proxy,
        }
    }

    /// A latency percentile in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Answers from `version`.
    pub fn answered_by(&self, version: &str) -> u64 {
        self.versions.get(version).copied().unwrap_or(0)
    }

    /// Counts one answer (or failure) that took `took`.
    pub fn add(&mut self, took: Duration, outcome: Result<(u16, Bytes), Failure>, mobile: bool) {
        let _ = self.latency_us.record((took.as_micros() as u64).max(1));
        match outcome {
            Ok((status, body)) if (200..300).contains(&status) => {
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
            Ok((status, _)) => self.fail(Failure::Status(status)),
            Err(failure) => self.fail(failure),
        }
    }

    fn fail(&mut self, failure: Failure) {
        self.errors += 1;
        *self.failures.entry(failure).or_default() += 1;
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
        let mut out = format!(
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
        );
        if !self.failures.is_empty() {
            out.push_str("\nfailed: ");
            out.push_str(&self.failure_breakdown());
            for hint in self.hints() {
                out.push_str("\nhint: ");
                out.push_str(&hint);
            }
        }
        out
    }

    /// `HTTP 503 x 12, connection refused x 3`, most frequent first.
    pub fn failure_breakdown(&self) -> String {
        let mut causes: Vec<(&Failure, &u64)> = self.failures.iter().collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        causes
            .iter()
            .map(|(f, n)| format!("{} x {n}", f.words()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What to check, for the causes seen.
    fn hints(&self) -> Vec<String> {
        let mut hints = Vec::new();
        let seen = |f: &Failure| self.failures.contains_key(f);
        if seen(&Failure::Refused) {
            hints.push(if self.through_proxy {
                format!(
                    "nothing listens on {}: is `shadowmesh run` running there (its --listen)?",
                    self.sent_to
                )
            } else {
                format!("nothing listens on {}", self.sent_to)
            });
        }
        if seen(&Failure::Unresolved) && !self.through_proxy {
            hints.push(format!(
                "{} is a service name, not a DNS name: send through the proxy with --proxy http://127.0.0.1:15001",
                self.sent_to
            ));
        }
        if self
            .failures
            .keys()
            .any(|f| matches!(f, Failure::Status(404)))
        {
            hints.push(
                "404 from the proxy: run `curl -x PROXY URL` once to read which service it looked for"
                    .into(),
            );
        }
        if self
            .failures
            .keys()
            .any(|f| matches!(f, Failure::Status(503)))
        {
            hints.push("503: the service's endpoints refuse connections or are ejected; the proxy's access log names them".into());
        }
        hints
    }
}
