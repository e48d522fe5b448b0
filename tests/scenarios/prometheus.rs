//! User story: "I keep Istio's dashboards", proved with a real Prometheus (Debian's
//! `prometheus`): the Istio Service Dashboard's "Incoming Request Duration By Source" query, the
//! same per `destination_version` (v1, v2 and v3 side by side, counts exact), and every query of
//! our own Grafana dashboard.

use std::time::Duration;

use serde_json::Value;
use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::assert_eventually;
use crate::support::backend;
use crate::support::config;
use crate::support::example_file;
use crate::support::load::Load;
use crate::support::metrics::{by_label, value};
use crate::support::prometheus::Prometheus;
use crate::support::proxy::{self, Proxy};

const SERVICE: &str = "calcbackendsvc.challengeistio.svc.cluster.local";

/// Loop mode while Prometheus scrapes: 3 desktop requests for each Mobile one. Step `i` is
/// Mobile when `i % 4 == 3`.
fn desktop_and_mobile(proxy: &Proxy) -> Load {
    let client = proxy.client();
    Load::start(3000, move |i| {
        let client = client.clone();
        async move {
            let ua = if i % 4 == 3 {
                "Foo Mobile Bar"
            } else {
                "Mozilla/5.0 (X11)"
            };
            let a = client.calculation(i).user_agent(ua).send().await;
            assert_eq!(a.status, 200);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

/// The Istio Service Dashboard, "Incoming Request Duration By Source" (plain-text variant:
/// shadowmesh reports connection_security_policy="none", not "mutual_tls"), $qrep=destination.
async fn incoming_duration_by_source(prometheus: &Prometheus) {
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
}

/// The same, per destination_version: v1 and v3 (and v2) side by side.
async fn duration_by_version(prometheus: &Prometheus) {
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
}

/// Every query of our own dashboard returns data.
async fn our_dashboard(prometheus: &Prometheus) {
    let dashboard: Value =
        serde_json::from_str(&example_file("../deploy/grafana/shadowmesh-mirror.json")).unwrap();
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
    assert_eq!(checked, 18);
}

/// Counts are exact: v1 = desktop requests, v2 = Mobile requests, v3 = mirrored copies.
async fn exact_counts(prometheus: &Prometheus, desktop: f64, mobile: f64) {
    let counts = format!(
        "sum(istio_requests_total{{reporter=\"destination\", destination_service=\"{SERVICE}\"}}) by (destination_version)"
    );
    let want = [("v1", desktop), ("v2", mobile), ("v3", desktop)];
    prometheus
        .until(&counts, |r| {
            want.iter()
                .all(|(v, n)| by_label(r, "destination_version", v).is_some_and(|s| value(s) == *n))
        })
        .await;
}

#[tokio::test]
async fn istio_dashboards_queries_work_on_shadowmesh_metrics() {
    let v1 = backend::http1("v1").run().await;
    let v2 = backend::http1("v2").run().await;
    let v3 = backend::http1("v3").run().await;
    let files = config::seed(v1.port(), v2.port(), v3.port());
    let proxy = proxy::with_config(files).workload("frontend").run().await;
    let prometheus = Prometheus::scraping(proxy.admin_addr).await;
    prometheus
        .until("up{job=\"shadowmesh\"}", |r| {
            r.first().is_some_and(|s| value(s) == 1.0)
        })
        .await;

    let load = desktop_and_mobile(&proxy);
    incoming_duration_by_source(&prometheus).await;
    duration_by_version(&prometheus).await;
    our_dashboard(&prometheus).await;

    let sent = load.stop().await;
    let (desktop, mobile) = (sent - sent / 4, sent / 4);
    assert_eventually!(
        proxy.mirrored(MirrorOutcome::Sent) == desktop as u64,
        "every desktop request is mirrored"
    );
    exact_counts(&prometheus, desktop as f64, mobile as f64).await;
    assert_eq!(v3.count(), desktop);
    assert_eq!(v2.count(), mobile);
    proxy.shutdown().await;
}
