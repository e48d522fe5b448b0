//! Istio's standard metrics, with exactly Istio's names, 25 labels and Envoy's default buckets,
//! so Istio's Grafana dashboards work unchanged: `istio_requests_total`,
//! `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes` and
//! `istio_build`.
//!
//! No global registry: [`IstioMetrics::new`] registers its families into the `Registry` handed
//! to it, as every subsystem does with its own (`shadowmesh_*`), and [`encode`] writes the scrape
//! in the Prometheus text format (0.0.4).
//!
//! Hot path: recording an exchange takes no lock shared by all requests. Each [`Peer`] carries a
//! small lock-free cache of the metric handles for the label sets it has seen (response code,
//! flag, protocol); a miss goes to the shared families once per new label set. Histograms are
//! atomic counters.

mod histogram;
mod labels;

use std::sync::Arc;

use arc_swap::ArcSwap;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use histogram::{BUCKETS, Histo};
use labels::SeriesKey;
pub use labels::{IstioLabels, SourceIdentity};

use super::{Exchange, ExchangeHook, Peer};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    component: &'static str,
    tag: &'static str,
}

/// The metric handles of one label set, for both reporters.
struct Series {
    requests: [Counter; 2],
    duration: [Histo; 2],
    request_bytes: [Histo; 2],
    response_bytes: [Histo; 2],
}

/// A peer's cache of series, lock-free to read.
#[derive(Default)]
pub(super) struct SeriesCache {
    entries: ArcSwap<Vec<(SeriesKey, Arc<Series>)>>,
}

impl std::fmt::Debug for SeriesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeriesCache({} label sets)", self.entries.load().len())
    }
}

/// Istio's standard metrics of one proxy.
pub struct IstioMetrics {
    requests: Family<IstioLabels, Counter>,
    duration: Family<IstioLabels, Histo>,
    request_bytes: Family<IstioLabels, Histo>,
    response_bytes: Family<IstioLabels, Histo>,
    source: SourceIdentity,
    unknown_peer: Arc<Peer>,
}

impl IstioMetrics {
    /// Istio's metrics for a proxy named by `source`, registered into `registry`.
    pub fn new(registry: &mut Registry, source: SourceIdentity) -> Self {
        let this = Self {
            requests: Family::default(),
            duration: Family::default(),
            request_bytes: Family::default(),
            response_bytes: Family::default(),
            source,
            unknown_peer: Arc::new(Peer::unknown()),
        };
        registry.register(
            "istio_requests",
            "Requests, as Istio counts them",
            this.requests.clone(),
        );
        registry.register(
            "istio_request_duration_milliseconds",
            "Request duration in milliseconds",
            this.duration.clone(),
        );
        registry.register(
            "istio_request_bytes",
            "Request body sizes in bytes",
            this.request_bytes.clone(),
        );
        registry.register(
            "istio_response_bytes",
            "Response body sizes in bytes",
            this.response_bytes.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                component: "proxy",
                tag: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("istio_build", "Istio component build info", build);
        this
    }

    fn series(&self, peer: &Peer, key: SeriesKey) -> Arc<Series> {
        let cache = &peer.caches.series;
        if let Some((_, s)) = cache.entries.load().iter().find(|(k, _)| *k == key) {
            return s.clone();
        }
        let series = Arc::new(self.build_series(peer, key));
        cache.entries.rcu(|entries| {
            let mut entries = Vec::clone(entries);
            if !entries.iter().any(|(k, _)| *k == key) {
                entries.push((key, series.clone()));
            }
            entries
        });
        series
    }

    fn build_series(&self, peer: &Peer, key: SeriesKey) -> Series {
        let [src, dst] =
            ["source", "destination"].map(|r| IstioLabels::new(r, &self.source, peer, key));
        Series {
            requests: [&src, &dst].map(|l| self.requests.get_or_create(l).clone()),
            duration: [&src, &dst].map(|l| self.duration.get_or_create(l).clone()),
            request_bytes: [&src, &dst].map(|l| self.request_bytes.get_or_create(l).clone()),
            response_bytes: [&src, &dst].map(|l| self.response_bytes.get_or_create(l).clone()),
        }
    }
}

impl ExchangeHook for IstioMetrics {
    fn on_exchange(&self, ex: &Exchange) {
        let peer = ex.peer.as_deref().unwrap_or(&self.unknown_peer);
        let series = self.series(peer, (ex.status, ex.flag, ex.grpc, ex.retry_limit_exceeded));
        let ms = ex.duration.as_secs_f64() * 1000.0;
        for i in 0..2 {
            series.requests[i].inc();
            series.duration[i].observe(ms);
            series.request_bytes[i].observe(ex.request_bytes as f64);
            series.response_bytes[i].observe(ex.response_bytes as f64);
        }
    }
}

/// The scrape of `registry`, in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "metrics encoding failed");
    }
    out
}

/// The `Content-Type` of [`encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An endpoint of subset `version` of the seed's calcbackendsvc.
    fn peer(version: &str, workload: &str) -> Arc<Peer> {
        Arc::new(Peer {
            service: "calcbackendsvc".into(),
            service_fqdn: "calcbackendsvc.challengeistio.svc.cluster.local".into(),
            namespace: "challengeistio".into(),
            subset: Some(version.into()),
            version: version.into(),
            workload: workload.into(),
            workload_namespace: "challengeistio".into(),
            app: "backend".into(),
            canonical_service: "backend".into(),
            canonical_revision: version.into(),
            address: "127.0.0.1:9081".into(),
            ..Peer::default()
        })
    }

    fn exchange(peer: &Arc<Peer>, status: u16, ms: u64, mirror: bool) -> Exchange {
        Exchange {
            method: http::Method::GET,
            path: "/".into(),
            status,
            duration: Duration::from_millis(ms),
            response_bytes: 42,
            peer: Some(peer.clone()),
            mirror,
            request_id: Some(http::HeaderValue::from_static("id")),
            protocol: "HTTP/1.1",
            ..Default::default()
        }
    }

    fn metrics() -> (Registry, IstioMetrics) {
        let mut registry = Registry::default();
        let m = IstioMetrics::new(
            &mut registry,
            SourceIdentity {
                workload: "frontend".into(),
                namespace: "challengeistio".into(),
                app: "frontend".into(),
                version: "unknown".into(),
            },
        );
        (registry, m)
    }

    fn scrape(registry: &Registry) -> prometheus_parse::Scrape {
        let text = encode(registry);
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
    }

    const LABELS: [&str; 25] = [
        "reporter",
        "source_workload",
        "source_workload_namespace",
        "source_principal",
        "source_app",
        "source_version",
        "source_canonical_service",
        "source_canonical_revision",
        "source_cluster",
        "destination_workload",
        "destination_workload_namespace",
        "destination_principal",
        "destination_app",
        "destination_version",
        "destination_service",
        "destination_service_name",
        "destination_service_namespace",
        "destination_canonical_service",
        "destination_canonical_revision",
        "destination_cluster",
        "request_protocol",
        "response_flags",
        "connection_security_policy",
        "response_code",
        "grpc_response_status",
    ];

    #[test]
    fn istio_names_labels_and_values_parse() {
        let (registry, m) = metrics();
        let v1 = peer("v1", "calcbackend-v1");
        let v3 = peer("v3", "jscalcbackend-new-v2");
        for _ in 0..3 {
            m.on_exchange(&exchange(&v1, 200, 3, false));
            m.on_exchange(&exchange(&v3, 200, 1, true));
        }
        m.on_exchange(&exchange(&v3, 500, 700, true));
        let scrape = scrape(&registry);
        let requests: Vec<_> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "istio_requests_total")
            .collect();
        assert_eq!(requests.len(), 6, "3 label sets x 2 reporters");
        for s in &requests {
            let mut names: Vec<&str> = s.labels.keys().map(String::as_str).collect();
            names.sort();
            let mut want = LABELS.to_vec();
            want.sort();
            assert_eq!(names, want);
        }
        let count = |version: &str, code: &str, reporter: &str| -> f64 {
            requests
                .iter()
                .filter(|s| {
                    s.labels.get("destination_version") == Some(version)
                        && s.labels.get("response_code") == Some(code)
                        && s.labels.get("reporter") == Some(reporter)
                })
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v) => v,
                    _ => panic!("counter"),
                })
                .sum()
        };
        assert_eq!(count("v1", "200", "destination"), 3.0);
        assert_eq!(count("v3", "200", "source"), 3.0);
        assert_eq!(count("v3", "500", "destination"), 1.0);
        let v3_sample = requests
            .iter()
            .find(|s| s.labels.get("destination_version") == Some("v3"))
            .unwrap();
        assert_eq!(
            v3_sample.labels.get("destination_workload"),
            Some("jscalcbackend-new-v2")
        );
        assert_eq!(v3_sample.labels.get("destination_app"), Some("backend"));
        assert_eq!(
            v3_sample.labels.get("destination_service_name"),
            Some("calcbackendsvc")
        );
        assert_eq!(v3_sample.labels.get("source_workload"), Some("frontend"));
        assert_eq!(v3_sample.labels.get("response_flags"), Some("-"));
        assert_eq!(v3_sample.labels.get("request_protocol"), Some("http"));
    }

    #[test]
    fn histograms_have_envoys_buckets() {
        let (registry, m) = metrics();
        let v1 = peer("v1", "calcbackend-v1");
        for ms in [0, 3, 7, 700] {
            m.on_exchange(&exchange(&v1, 200, ms, false));
        }
        let scrape = scrape(&registry);
        let duration = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "istio_request_duration_milliseconds"
                    && s.labels.get("reporter") == Some("destination")
            })
            .expect("histogram");
        let prometheus_parse::Value::Histogram(buckets) = &duration.value else {
            panic!("not a histogram: {:?}", duration.value)
        };
        let bounds: Vec<f64> = buckets
            .iter()
            .map(|b| b.less_than)
            .filter(|b| b.is_finite())
            .collect();
        assert_eq!(bounds, BUCKETS.to_vec());
        let le = |bound: f64| buckets.iter().find(|b| b.less_than == bound).unwrap().count;
        assert_eq!(le(0.5), 1.0);
        assert_eq!(le(5.0), 2.0);
        assert_eq!(le(10.0), 3.0);
        assert_eq!(le(500.0), 3.0);
        assert_eq!(le(1000.0), 4.0);
        assert_eq!(le(f64::INFINITY), 4.0);
    }

    #[test]
    fn the_build_is_reported() {
        let (registry, _m) = metrics();
        assert!(encode(&registry).contains(r#"istio_build{component="proxy",tag=""#));
    }
}
