//! The proxy started in-process on loopback: `proxy::with_config(files)`, option setters
//! (`.mirror_timeout(d)`, `.max_mirrors_in_flight(n)`, `.mirror_body_limit(n)`,
//! `.request_timeout(d)`, `.upload_idle_timeout(d)`, `.mirror_memory(n)`,
//! `.client_header_timeout(d)`, `.client_idle_timeout(d)`, `.max_connections(n)`,
//! `.min_pairs(n)`, ...) and `.run().await`, which returns a [`Proxy`]
//! with `.client()`, `.metrics()`, `.compare_report()` and the mirror and reload counters.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use shadowmesh::app::{self, RunOptions, Running};
use shadowmesh::compare::engine::CandidateReport;
use shadowmesh::compare::{CompareConfig, Report};
use shadowmesh::proxy::mirror::MirrorOutcome;

use super::client::{Client, fetch};
use super::config::{Files, replace_file};
use super::eventually;
use super::metrics::Scrape;

/// A proxy to be started.
#[must_use]
pub struct Builder {
    files: Files,
    opts: RunOptions,
}

/// A proxy reading `files` from a fresh folder, in namespace `challengeistio`, logging nothing,
/// polling for config changes every 200 ms.
pub fn with_config(files: Files) -> Builder {
    let mut opts = RunOptions::for_test(Vec::new());
    opts.log_format = shadowmesh::telemetry::LogFormat::Off;
    opts.identity.namespace = "challengeistio".into();
    opts.reload_poll = Duration::from_millis(200);
    Builder { files, opts }
}

impl Builder {
    /// The proxy's own namespace.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.opts.identity.namespace = ns.to_string();
        self
    }

    /// `--workload` (the `source_workload` label).
    pub fn workload(mut self, workload: &str) -> Self {
        self.opts.workload = Some(workload.to_string());
        self
    }

    /// Another listener, as `--listen` takes it (`127.0.0.1:0=calcbackendsvc`).
    pub fn also_listen(mut self, spec: &str) -> Self {
        self.opts.listen.push(spec.parse().unwrap());
        self
    }

    /// Proxy-wide request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.opts.proxy.request_timeout = Some(timeout);
        self
    }

    /// `--upload-idle-timeout`: a client body with no byte for this long fails (408 `SI`).
    pub fn upload_idle_timeout(mut self, timeout: Duration) -> Self {
        self.opts.proxy.upload_idle_timeout = Some(timeout);
        self
    }

    /// `--client-header-timeout`: a request head must arrive within this.
    pub fn client_header_timeout(mut self, timeout: Duration) -> Self {
        self.opts.client.header_timeout = timeout;
        self
    }

    /// `--client-idle-timeout`: a client connection with nothing in flight is closed after this.
    pub fn client_idle_timeout(mut self, timeout: Duration) -> Self {
        self.opts.client.idle_timeout = timeout;
        self
    }

    /// `--max-connections`: client connections open at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.opts.client.max_connections = n;
        self
    }

    /// `--workers`: data-plane threads (each keeps its own upstream connections).
    pub fn workers(mut self, n: usize) -> Self {
        self.opts.workers = n;
        self
    }

    /// `--mirror-memory`: bytes of mirrored bodies held at once.
    pub fn mirror_memory(mut self, bytes: usize) -> Self {
        self.opts.mirror.memory_budget = bytes;
        self
    }

    /// Time limit for one mirrored exchange.
    pub fn mirror_timeout(mut self, timeout: Duration) -> Self {
        self.opts.mirror.timeout = timeout;
        self
    }

    /// Mirrors in flight at once.
    pub fn max_mirrors_in_flight(mut self, n: usize) -> Self {
        self.opts.mirror.max_in_flight = n;
        self
    }

    /// Request bodies larger than this are not mirrored.
    pub fn mirror_body_limit(mut self, bytes: usize) -> Self {
        self.opts.mirror.body_limit = bytes;
        self
    }

    /// Pairs the comparison needs before it decides.
    pub fn min_pairs(self, n: u64) -> Self {
        self.compare(|c| c.thresholds.min_pairs = n)
    }

    /// The largest significant p99 slowdown (percent) that still promotes.
    pub fn max_slowdown(self, pct: f64) -> Self {
        self.compare(|c| c.thresholds.max_slowdown_pct = pct)
    }

    /// Pairs compared per second at most.
    pub fn compare_max_rate(self, per_second: u32) -> Self {
        self.compare(|c| c.max_rate = per_second)
    }

    fn compare(mut self, tweak: impl FnOnce(&mut CompareConfig)) -> Self {
        tweak(self.opts.compare.as_mut().expect("the comparison is on"));
        self
    }

    /// Writes the files and starts the proxy; panics with the diagnostics on a bad config.
    pub async fn run(self) -> Proxy {
        let dir = self.files.write();
        let mut opts = self.opts;
        opts.paths = vec![dir.path().to_path_buf()];
        match app::start(opts).await {
            Ok(running) => Proxy { running, dir },
            Err(app::StartError::Config(d)) => panic!("config errors: {d:#?}"),
            Err(e) => panic!("{e}"),
        }
    }
}

/// A running proxy and its config folder. Derefs to [`Running`] for anything else.
pub struct Proxy {
    running: Running,
    dir: tempfile::TempDir,
}

impl std::ops::Deref for Proxy {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Proxy {
    /// The first listener.
    pub fn addr(&self) -> SocketAddr {
        self.running.listen_addrs[0]
    }

    /// A client of the first listener (default `Host: calcbackendsvc`).
    pub fn client(&self) -> Client {
        Client::new(self.addr())
    }

    /// `http://<admin><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin_addr)
    }

    /// The admin's `/metrics`, parsed.
    pub async fn metrics(&self) -> Scrape {
        let (status, text) = fetch(&self.admin_url("/metrics"))
            .await
            .expect("admin answers");
        assert_eq!(status, 200, "{text}");
        Scrape::parse(&text)
    }

    /// Mirrored exchanges that ended with `outcome`.
    pub fn mirrored(&self, outcome: MirrorOutcome) -> u64 {
        self.running.proxy.mirrorer.stats.get(outcome)
    }

    /// Mirrors in flight now.
    pub fn mirrors_in_flight(&self) -> usize {
        self.running.proxy.mirrorer.in_flight()
    }

    /// The comparison's report now.
    pub fn compare_report(&self) -> Report {
        self.running
            .compare
            .as_ref()
            .expect("comparison on")
            .report()
    }

    /// Pairs compared so far, over all candidates.
    pub fn pairs(&self) -> u64 {
        self.compare_report()
            .candidates
            .iter()
            .map(|c| c.pairs)
            .sum()
    }

    /// Waits (10 s at most) until `n` pairs are compared, then returns the report for the
    /// candidate `version`.
    pub async fn candidate_after(&self, n: u64, version: &str) -> CandidateReport {
        let settled = eventually(Duration::from_secs(10), || self.pairs() == n).await;
        let report = self.compare_report();
        let pairs: Vec<u64> = report.candidates.iter().map(|c| c.pairs).collect();
        assert!(settled, "not all {n} pairs were compared: {pairs:#?}");
        report
            .candidates
            .into_iter()
            .find(|c| c.candidate_version == version)
            .unwrap_or_else(|| panic!("a {version} candidate"))
    }

    /// The config folder it reads.
    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces one of its config files atomically.
    pub fn replace_file(&self, name: &str, yaml: &str) {
        replace_file(self.dir.path(), name, yaml);
    }

    /// The active config's generation (1 at start, one more per applied change).
    pub fn generation(&self) -> u64 {
        self.running.reloader.snapshot.load().generation
    }

    /// Config changes refused so far.
    pub fn reloads_rejected(&self) -> u64 {
        let stats = &self.running.reloader.stats;
        stats.rejected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Why the last refused change was refused, one line a problem.
    pub fn reload_errors(&self) -> Vec<String> {
        let errors = self.running.reloader.last_errors.load();
        errors.iter().map(ToString::to_string).collect()
    }

    /// Stops accepting, drains and returns when all servers are done.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}
