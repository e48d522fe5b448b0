//! Istio's dashboards on shadowmesh, proved with a real Prometheus (Debian's `prometheus`):
//! the Istio Service Dashboard's "Incoming Request Duration By Source" query, the same per
//! `destination_version` (v1, v2 and v3 side by side, counts exact), and every query of our own
//! Grafana dashboard.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use serde_json::Value;
use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::support::*;

const SERVICE: &str = "calcbackendsvc.challengeistio.svc.cluster.local";

fn prometheus_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("prometheus"))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!(
            "this test needs a real Prometheus server and none is on PATH; install it with: \
             sudo apt-get install -y prometheus (CI's .ci/run does)"
        )
    })
}

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    async fn start(target: std::net::SocketAddr) -> Self {
        let binary = prometheus_binary();
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shadowmesh\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = refusing_port().await;
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let p = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        for _ in 0..150 {
            if let Some((StatusCode::OK, _)) = http_get(&format!("{}/-/ready", p.url)).await {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("prometheus did not become ready within 30 s");
    }

    /// An instant query's result vector.
    async fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!("{}/api/v1/query?query={}", self.url, url_encode(promql));
        let (status, body) = http_get(&url).await.expect("prometheus answers");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200, "{promql}: {body}");
        assert_eq!(v["status"], "success", "{promql}: {body}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `promql` until `check` holds on its result (at most 30 s).
    async fn until(&self, promql: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..150 {
            last = self.query(promql).await;
            if check(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{promql}: condition never held; last result {last:#?}");
    }
}

fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

fn by_label<'a>(result: &'a [Value], label: &str, want: &str) -> Option<&'a Value> {
    result.iter().find(|s| s["metric"][label] == want)
}

#[tokio::test]
async fn istio_dashboards_queries_work_on_shadowmesh_metrics() {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    let v2 = Backend::start("v2", Behavior::Answer).await;
    let v3 = Backend::start("v3", Behavior::Answer).await;
    let dir = seed_config(v1.addr.port(), v2.addr.port(), v3.addr.port());
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        o.workload = Some("frontend".into())
    })
    .await;
    let prometheus = Prometheus::start(proxy.admin_addr).await;
    prometheus
        .until("up{job=\"shadowmesh\"}", |r| {
            r.first().is_some_and(|s| value(s) == 1.0)
        })
        .await;

    // Loop mode while Prometheus scrapes: 3 desktop requests for each Mobile one.
    let addr = proxy.listen_addrs[0];
    let stop = Arc::new(AtomicBool::new(false));
    let (desktop, mobile) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, desktop, mobile) = (stop.clone(), desktop.clone(), mobile.clone());
        tokio::spawn(async move {
            for i in 0..3000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (ua, counter) = if i % 4 == 3 {
                    ("Foo Mobile Bar", &mobile)
                } else {
                    ("Mozilla/5.0 (X11)", &desktop)
                };
                let a = get(
                    addr,
                    "calcbackendsvc",
                    &format!("/api/calculation?number={i}"),
                    Some(ua),
                )
                .await;
                assert_eq!(a.status, 200);
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    // The Istio Service Dashboard, "Incoming Request Duration By Source" (plain-text variant:
    // shadowmesh reports connection_security_policy="none", not "mutual_tls"), $qrep=destination.
    let by_source = format!(
        "(histogram_quantile(0.50, sum(irate(istio_request_duration_milliseconds_bucket{{reporter=~\"destination\", connection_security_policy!=\"mutual_tls\", destination_service=~\"{SERVICE}\", source_workload=~\".*\", source_workload_namespace=~\".*\"}}[1m])) by (source_workload, source_workload_namespace, le)) / 1000) or histogram_quantile(0.50, sum(irate(istio_request_duration_seconds_bucket{{reporter=~\"destination\", connection_security_policy!=\"mutual_tls\", destination_service=~\"{SERVICE}\", source_workload=~\".*\", source_workload_namespace=~\".*\"}}[1m])) by (source_workload, source_workload_namespace, le))"
    );
    let result = prometheus
        .until(&by_source, |r| r.iter().any(|s| value(s).is_finite()))
        .await;
    let frontend = by_label(&result, "source_workload", "frontend")
        .expect("a series for the proxy's workload");
    assert_eq!(
        frontend["metric"]["source_workload_namespace"],
        "challengeistio"
    );
    assert!(value(frontend) > 0.0);

    // The same, per destination_version: v1 and v3 (and v2) side by side.
    let by_version = format!(
        "histogram_quantile(0.50, sum(irate(istio_request_duration_milliseconds_bucket{{reporter=\"destination\", destination_service=\"{SERVICE}\"}}[1m])) by (destination_version, le))"
    );
    let result = prometheus
        .until(&by_version, |r| {
            ["v1", "v2", "v3"]
                .iter()
                .all(|v| by_label(r, "destination_version", v).is_some())
        })
        .await;
    assert_eq!(result.len(), 3, "{result:#?}");

    // Every query of our own dashboard returns data.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("../deploy/grafana/shadowmesh-mirror.json"))
            .unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$service", SERVICE)
                .replace("$primary", "v1")
                .replace("$candidate", "v3")
                .replace("$__rate_interval", "1m");
            let title = panel["title"].as_str().unwrap();
            prometheus.until(&expr, |r| !r.is_empty()).await;
            checked += 1;
            eprintln!("dashboard query ok: {title}");
        }
    }
    assert_eq!(checked, 13);

    // Counts are exact: v1 = desktop requests, v2 = Mobile requests, v3 = mirrored copies.
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let mirrorer = proxy.proxy.mirrorer.clone();
    assert!(
        eventually(Duration::from_secs(5), || mirrorer
            .stats
            .get(MirrorOutcome::Sent)
            == desktop.load(Ordering::Relaxed) as u64)
        .await
    );
    let (d, m) = (
        desktop.load(Ordering::Relaxed) as f64,
        mobile.load(Ordering::Relaxed) as f64,
    );
    let counts = format!(
        "sum(istio_requests_total{{reporter=\"destination\", destination_service=\"{SERVICE}\"}}) by (destination_version)"
    );
    let want = [("v1", d), ("v2", m), ("v3", d)];
    prometheus
        .until(&counts, |r| {
            want.iter()
                .all(|(v, n)| by_label(r, "destination_version", v).is_some_and(|s| value(s) == *n))
        })
        .await;
    assert_eq!(v3.count() as f64, d);
    assert_eq!(v2.count() as f64, m);
    proxy.shutdown().await;
}
