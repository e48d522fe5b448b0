//! `shadowmesh demo`: seed 000's story on loopback, end to end, narrated step by step:
//! baseline -> deploy v3 and mirror v1's traffic to it (a live config change) -> loop-mode load
//! -> the comparison and its verdict -> the seed's check that v3 never answered a user ->
//! house-keeping: back to the baseline, and v3 receives nothing more.
//!
//! Everything runs in this process: the three sample backends, the proxy (the real one, as
//! `run` starts it) and the load. The YAML of each step is written to a folder that is kept and
//! printed, so the user sees what drives each step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::app::{self, RunOptions, Running};
use crate::telemetry::LogFormat;
use crate::tools::loadgen::{self, LoadConfig};
use crate::tools::sample::{self, Flaw, Sample, SampleConfig};

mod yaml;

use yaml::{destination_rule, service_entry, show, virtual_service, write};

/// Which v3 to deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Candidate {
    /// v3 with the perfect-powers flaw: fast, and wrong on 36, 1024, ...
    Flawed,
    /// A correct v3: promotable.
    Good,
}

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Loop-mode duration.
    pub duration: Duration,
    /// Requests per second.
    pub rate: f64,
    /// Which v3.
    pub candidate: Candidate,
    /// Leave everything running at the end.
    pub keep_running: bool,
}

const NS: &str = "challengeistio";

async fn wait_for(
    running: &Running,
    check: impl Fn(&crate::model::Snapshot) -> bool,
) -> Option<u64> {
    for _ in 0..100 {
        let snap = running.reloader.snapshot.load();
        if check(&snap) {
            return Some(snap.generation);
        }
        drop(snap);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn mirrors_configured(snap: &crate::model::Snapshot) -> usize {
    snap.table
        .virtual_hosts
        .iter()
        .flat_map(|v| &v.routes)
        .map(|r| r.mirrors.len())
        .sum()
}

struct Failure(String);

/// Runs the demo; exit 0 when every check holds.
pub async fn run(opts: DemoOptions) -> ExitCode {
    match steps(opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(why)) => {
            println!("\nFAILED: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn start_sample(version: &str, flaw: Option<Flaw>) -> Result<Sample, Failure> {
    let cfg = SampleConfig::calc(version, flaw);
    sample::start("127.0.0.1:0".parse().expect("valid"), cfg)
        .await
        .map_err(|e| Failure(format!("cannot start sample {version}: {e}")))
}

/// The demo's config folder, removed when the demo ends however it ends.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn create() -> Result<Self, Failure> {
        let dir = std::env::temp_dir().join(format!("shadowmesh-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl std::ops::Deref for ConfigDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo's world: its config folder, the three backends and the running proxy.
struct Demo {
    opts: DemoOptions,
    dir: ConfigDir,
    flaw: Option<Flaw>,
    v1: Sample,
    v2: Sample,
    v3: Sample,
    running: Running,
}

async fn steps(opts: DemoOptions) -> Result<(), Failure> {
    println!(
        "shadowmesh demo: seed 000, \"New Service Versions with Request Mirroring\", on loopback\n"
    );
    let demo = Demo::start(opts).await?;
    demo.baseline().await;
    demo.deploy_and_mirror().await?;
    let report = demo.loop_mode().await;
    demo.compare();
    demo.check_v3_answered_nobody(&report)?;
    demo.reset_to_baseline().await?;
    demo.finish().await;
    Ok(())
}

fn io(e: std::io::Error) -> Failure {
    Failure(format!("cannot write the config: {e}"))
}

impl Demo {
    /// The backends, the baseline config and the proxy.
    async fn start(opts: DemoOptions) -> Result<Self, Failure> {
        let dir = ConfigDir::create()?;
        let v1 = start_sample("v1", None).await?;
        let v2 = start_sample("v2", None).await?;
        let flaw = (opts.candidate == Candidate::Flawed).then_some(Flaw::PerfectPowers);
        let v3 = start_sample("v3", flaw).await?;
        let se_baseline = service_entry(&[("v1", v1.addr.port()), ("v2", v2.addr.port())]);
        write(&dir, "serviceentry.yaml", &se_baseline).map_err(io)?;
        write(
            &dir,
            "destinationrule.yaml",
            &destination_rule(&["v1", "v2"]),
        )
        .map_err(io)?;
        write(&dir, "virtualservice.yaml", &virtual_service(false)).map_err(io)?;
        let mut run_opts = RunOptions::for_test(vec![dir.to_path_buf()]);
        run_opts.identity.namespace = NS.into();
        run_opts.workload = Some("frontend".into());
        run_opts.log_format = LogFormat::Off;
        run_opts.reload_poll = Duration::from_millis(500);
        let running = app::start(run_opts).await.map_err(|e| match e {
            app::StartError::Config(d) => Failure(format!(
                "config errors: {:?}",
                d.iter().map(|d| d.to_string()).collect::<Vec<_>>()
            )),
            other => Failure(other.to_string()),
        })?;
        Ok(Self {
            opts,
            dir,
            flaw,
            v1,
            v2,
            v3,
            running,
        })
    }

    fn proxy(&self) -> SocketAddr {
        self.running.listen_addrs[0]
    }

    /// 1. the baseline serves.
    async fn baseline(&self) {
        let (proxy, admin) = (self.proxy(), self.running.admin_addr);
        println!(
            "[1/6] baseline: calcbackendsvc answers desktop users with v1 and Mobile users with v2"
        );
        println!(
            "      config folder {} (the YAML of each step)",
            self.dir.display()
        );
        println!(
            "      backends v1 {}, v2 {}; proxy {proxy}; admin http://{admin}",
            self.v1.addr, self.v2.addr
        );
        let warmup = loadgen::run(load_config(proxy, 20.0, Duration::from_secs(1), false)).await;
        println!("      {} requests: {}", warmup.sent, answered(&warmup));
    }

    /// 2. deploy v3 and mirror v1's traffic to it, live.
    async fn deploy_and_mirror(&self) -> Result<(), Failure> {
        let bug = if self.flaw.is_some() {
            ", with a subtle bug"
        } else {
            ""
        };
        println!(
            "\n[2/6] deploy v3 (the new algorithm: Pollard's rho{bug}) and mirror v1's traffic to it"
        );
        let se_v3 = service_entry(&[
            ("v1", self.v1.addr.port()),
            ("v2", self.v2.addr.port()),
            ("v3", self.v3.addr.port()),
        ]);
        let vs_mirror = virtual_service(true);
        // In dependency order, so every intermediate state is valid.
        write(&self.dir, "serviceentry.yaml", &se_v3).map_err(io)?;
        let dr_v3 = destination_rule(&["v1", "v2", "v3"]);
        write(&self.dir, "destinationrule.yaml", &dr_v3).map_err(io)?;
        write(&self.dir, "virtualservice.yaml", &vs_mirror).map_err(io)?;
        show(
            "virtualservice.yaml (the route to v1 gains a mirror)",
            &vs_mirror,
        );
        let generation = wait_for(&self.running, |s| mirrors_configured(s) == 1)
            .await
            .ok_or_else(|| Failure("the mirror config was not applied within 5 s".into()))?;
        println!(
            "      applied live (config generation {generation}), no restart; v3 at {}",
            self.v3.addr
        );
        Ok(())
    }

    /// 3. loop mode: the seed's frontend, as load.
    async fn loop_mode(&self) -> loadgen::LoadReport {
        let opts = &self.opts;
        println!(
            "\n[3/6] loop mode: {:?} at {} req/s, 30% Mobile user agents, 10% perfect powers among the numbers",
            opts.duration, opts.rate
        );
        let report = loadgen::run(load_config(self.proxy(), opts.rate, opts.duration, true)).await;
        for line in report.summary().lines() {
            println!("      {line}");
        }
        settle(&self.running).await;
        report
    }

    /// 4. the comparison's verdict.
    fn compare(&self) {
        println!("\n[4/6] compare v1 (primary) and v3 (mirror): how would you decide?");
        let Some(c) = &self.running.compare else {
            println!("      (comparison is off)");
            return;
        };
        let text = crate::compare::text::render(
            &c.report(),
            crate::compare::text::colour_for(&std::io::stdout()),
        );
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            println!("      {line}");
        }
    }

    /// 5. the seed's check: v3 never answered a user.
    fn check_v3_answered_nobody(&self, report: &loadgen::LoadReport) -> Result<(), Failure> {
        let mirrored = self.v3.requests.load(Ordering::Relaxed);
        let served_by_v3 = report.answered_by("v3");
        println!("\n[5/6] check: no request is served to the frontend by v3");
        println!(
            "      v3 answered {served_by_v3} of {} user requests; v3 received {mirrored} mirrored copies",
            report.sent
        );
        if served_by_v3 != 0 {
            return Err(Failure(format!("v3 answered {served_by_v3} user requests")));
        }
        if mirrored == 0 {
            return Err(Failure("v3 received no mirrored copies".into()));
        }
        println!("      ok: every answer users saw came from v1 or v2");
        Ok(())
    }

    /// 6. house-keeping: back to the baseline, and v3 receives nothing more.
    async fn reset_to_baseline(&self) -> Result<(), Failure> {
        println!("\n[6/6] house-keeping: reset the mesh to the baseline");
        let dr_baseline = destination_rule(&["v1", "v2"]);
        write(&self.dir, "virtualservice.yaml", &virtual_service(false)).map_err(io)?;
        write(&self.dir, "destinationrule.yaml", &dr_baseline).map_err(io)?;
        show("destinationrule.yaml (no v3 subset)", &dr_baseline);
        let no_v3 = |s: &crate::model::Snapshot| {
            mirrors_configured(s) == 0
                && !(s.table.clusters.iter()).any(|c| c.subset.as_deref() == Some("v3"))
        };
        let generation = wait_for(&self.running, no_v3)
            .await
            .ok_or_else(|| Failure("the baseline was not applied within 5 s".into()))?;
        settle(&self.running).await;
        let before = self.v3.requests.load(Ordering::Relaxed);
        let load = load_config(self.proxy(), self.opts.rate, Duration::from_secs(2), false);
        let after_reset = loadgen::run(load).await;
        settle(&self.running).await;
        let after = self.v3.requests.load(Ordering::Relaxed);
        println!(
            "      baseline applied (config generation {generation}); {} more requests: {}",
            after_reset.sent,
            answered(&after_reset)
        );
        println!(
            "      v3 received {} requests after the reset",
            after - before
        );
        if after != before || after_reset.errors > 0 {
            return Err(Failure(format!(
                "after the reset v3 received {} requests and {} requests failed",
                after - before,
                after_reset.errors
            )));
        }
        println!("      ok: v3 receives nothing more");
        Ok(())
    }

    /// Keeps running when asked, then stops everything.
    async fn finish(self) {
        let (proxy, admin) = (self.proxy(), self.running.admin_addr);
        if self.opts.keep_running {
            println!("\nstill running (Ctrl-C to stop):");
            println!("  web report   http://{admin}/");
            println!("  metrics      http://{admin}/metrics");
            println!("  config       http://{admin}/config_dump");
            println!(
                "  try          curl -x http://{proxy} 'http://calcbackendsvc/api/calculation?number=36'"
            );
            println!(
                "               curl -x http://{proxy} -A 'Foo Mobile Bar' 'http://calcbackendsvc/api/calculation?number=42'"
            );
            println!("               shadowmesh report --admin {admin}");
            println!(
                "  the config   {} (edit it: changes apply live; removed at the end)",
                self.dir.display()
            );
            let _ = tokio::signal::ctrl_c().await;
        }
        self.running.shutdown().await;
        for s in [&self.v1, &self.v2, &self.v3] {
            s.stop();
        }
        println!("\ndone: everything stopped, {} removed", self.dir.display());
    }
}

fn load_config(proxy: SocketAddr, rate: f64, duration: Duration, progress: bool) -> LoadConfig {
    LoadConfig {
        proxy: Some(proxy),
        rate,
        duration,
        progress: progress && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ..Default::default()
    }
}

fn answered(r: &loadgen::LoadReport) -> String {
    let parts: Vec<String> = r.versions.iter().map(|(v, n)| format!("{v} {n}")).collect();
    format!(
        "answered by {}",
        if parts.is_empty() {
            "nobody".to_string()
        } else {
            parts.join(", ")
        }
    )
}

/// Waits until no mirror is in flight and the comparison has taken what came back.
async fn settle(running: &Running) {
    for _ in 0..100 {
        if running.proxy.mirrorer.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}
