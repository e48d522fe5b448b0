//! Prometheus metrics: Istio's standard ones, with exactly Istio's names, 25 labels and Envoy's
//! default buckets, so Istio's Grafana dashboards work unchanged; and shadowmesh's own
//! (`shadowmesh_*`: mirror outcomes, config reloads, upstream figures).
//!
//! No global registry: one [`Metrics`] per proxy, encoded in the Prometheus text format
//! (0.0.4) by prometheus-client.
//!
//! Hot path: recording an exchange takes no lock shared by all requests. Each endpoint's
//! telemetry identity ([`Peer`]) carries a small lock-free cache of the metric handles for the
//! label sets it has seen (response code, flags, protocol); a miss goes to the shared families
//! once per new label set. Histograms are atomic counters (no lock at all).

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::{Exchange, ExchangeHook, Flag, Peer};
use crate::mirror::{MirrorObserver, MirrorOutcome};
use crate::model::Cluster;

pub mod runtime;

/// Envoy's default histogram buckets, used by Istio for all its histograms.
pub const BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// A histogram of atomics: observing takes no lock.
#[derive(Debug, Clone, Default)]
pub struct Histo(Arc<HistoInner>);

#[derive(Debug, Default)]
struct HistoInner {
    /// Non-cumulative counts per bucket of [`BUCKETS`]; index 19 is above the last bound.
    counts: [AtomicU64; 20],
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl Histo {
    /// Records one value.
    pub fn observe(&self, v: f64) {
        let i = BUCKETS.partition_point(|b| *b < v);
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        self.0.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .0
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

impl TypedMetric for Histo {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histo {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // The Prometheus text encoder accumulates the per-bucket counts and adds `+Inf`.
        let buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .zip(&self.0.counts)
            .map(|(b, c)| (*b, c.load(Ordering::Relaxed)))
            .collect();
        let sum = f64::from_bits(self.0.sum_bits.load(Ordering::Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, self.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Istio's 25 standard labels, in Istio's order.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IstioLabels {
    reporter: &'static str,
    source_workload: String,
    source_workload_namespace: String,
    source_principal: String,
    source_app: String,
    source_version: String,
    source_canonical_service: String,
    source_canonical_revision: String,
    source_cluster: String,
    destination_workload: String,
    destination_workload_namespace: String,
    destination_principal: String,
    destination_app: String,
    destination_version: String,
    destination_service: String,
    destination_service_name: String,
    destination_service_namespace: String,
    destination_canonical_service: String,
    destination_canonical_revision: String,
    destination_cluster: String,
    request_protocol: &'static str,
    response_flags: &'static str,
    connection_security_policy: &'static str,
    response_code: String,
    grpc_response_status: String,
}

/// Who this proxy is, as the `source_*` labels say.
#[derive(Debug, Clone)]
pub struct SourceIdentity {
    /// `source_workload`.
    pub workload: String,
    /// `source_workload_namespace`.
    pub namespace: String,
    /// `source_app`.
    pub app: String,
    /// `source_version`.
    pub version: String,
}

/// The cluster name Istio reports when there is one cluster.
const CLUSTER_ID: &str = "Kubernetes";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MirrorLabels {
    destination_service: String,
    destination_subset: String,
    destination_version: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompareLabels {
    destination_service: String,
    primary_version: String,
    candidate_version: String,
    result: &'static str,
}

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

type SeriesKey = (u16, Flag, bool);

/// Per-peer cache of series, lock-free to read.
#[derive(Default)]
struct PeerSeries {
    entries: ArcSwap<Vec<(SeriesKey, Arc<Series>)>>,
}

/// Per-cluster mirror outcome counters.
struct MirrorCounters([Counter; 7]);

/// All metrics of one proxy.
pub struct Metrics {
    registry: Registry,
    requests: Family<IstioLabels, Counter>,
    duration: Family<IstioLabels, Histo>,
    request_bytes: Family<IstioLabels, Histo>,
    response_bytes: Family<IstioLabels, Histo>,
    mirrors: Family<MirrorLabels, Counter>,
    compare: Family<CompareLabels, Counter>,
    source: SourceIdentity,
    unknown_peer: Arc<Peer>,
    /// Scrape-time figures (config, mirrors in flight, upstreams).
    pub runtime: Arc<runtime::RuntimeCollector>,
}

impl Metrics {
    /// Metrics for a proxy named by `source`.
    pub fn new(source: SourceIdentity) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<IstioLabels, Counter>::default();
        let duration = Family::<IstioLabels, Histo>::default();
        let request_bytes = Family::<IstioLabels, Histo>::default();
        let response_bytes = Family::<IstioLabels, Histo>::default();
        let mirrors = Family::<MirrorLabels, Counter>::default();
        let compare = Family::<CompareLabels, Counter>::default();
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                component: "proxy",
                tag: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "istio_requests",
            "Requests, as Istio counts them",
            requests.clone(),
        );
        registry.register(
            "istio_request_duration_milliseconds",
            "Request duration in milliseconds",
            duration.clone(),
        );
        registry.register(
            "istio_request_bytes",
            "Request body sizes in bytes",
            request_bytes.clone(),
        );
        registry.register(
            "istio_response_bytes",
            "Response body sizes in bytes",
            response_bytes.clone(),
        );
        registry.register("istio_build", "Istio component build info", build);
        registry.register(
            "shadowmesh_mirror_requests",
            "Mirrored copies by destination and outcome",
            mirrors.clone(),
        );
        let runtime = Arc::new(runtime::RuntimeCollector::default());
        registry.register_collector(Box::new(runtime.clone()));
        Self {
            registry,
            requests,
            duration,
            request_bytes,
            response_bytes,
            mirrors,
            compare,
            source,
            unknown_peer: Arc::new(Peer::unknown()),
            runtime,
        }
    }

    /// Counts one comparison result (called by the comparison task, off the data path).
    pub fn count_compare(
        &self,
        key: &crate::compare::engine::GroupKey,
        result: crate::compare::engine::PairResult,
    ) {
        self.compare
            .get_or_create(&CompareLabels {
                destination_service: key.service.clone(),
                primary_version: key.primary.clone(),
                candidate_version: key.candidate.clone(),
                result: result.as_str(),
            })
            .inc();
    }

    /// Lets a subsystem register its own families (e.g. `CompareMetrics::new`) in this
    /// proxy's registry, before the metrics are shared.
    pub fn register(&mut self, f: impl FnOnce(&mut Registry)) {
        f(&mut self.registry);
    }

    /// The scrape, in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        out
    }

    /// The `Content-Type` of [`encode`](Self::encode)'s output.
    pub fn content_type() -> &'static str {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    }

    fn labels(&self, reporter: &'static str, peer: &Peer, key: SeriesKey) -> IstioLabels {
        let (status, flag, grpc) = key;
        IstioLabels {
            reporter,
            source_workload: self.source.workload.clone(),
            source_workload_namespace: self.source.namespace.clone(),
            source_principal: "unknown".into(),
            source_app: self.source.app.clone(),
            source_version: self.source.version.clone(),
            source_canonical_service: self.source.workload.clone(),
            source_canonical_revision: match self.source.version.as_str() {
                "unknown" => "latest".into(),
                v => v.into(),
            },
            source_cluster: CLUSTER_ID.into(),
            destination_workload: peer.workload.clone(),
            destination_workload_namespace: peer.workload_namespace.clone(),
            destination_principal: "unknown".into(),
            destination_app: peer.app.clone(),
            destination_version: peer.version.clone(),
            destination_service: peer.service_fqdn.clone(),
            destination_service_name: peer.service.clone(),
            destination_service_namespace: peer.namespace.clone(),
            destination_canonical_service: peer.canonical_service.clone(),
            destination_canonical_revision: peer.canonical_revision.clone(),
            destination_cluster: CLUSTER_ID.into(),
            request_protocol: if grpc { "grpc" } else { "http" },
            response_flags: flag.as_str(),
            // Plain-text HTTP: Istio says `none` on the server side, `unknown` on the client's.
            connection_security_policy: if reporter == "destination" {
                "none"
            } else {
                "unknown"
            },
            response_code: status.to_string(),
            grpc_response_status: String::new(),
        }
    }

    fn series(&self, peer: &Peer, key: SeriesKey) -> Arc<Series> {
        let slot = peer
            .metrics_slot
            .get_or_init(|| Arc::new(PeerSeries::default()) as Arc<dyn Any + Send + Sync>);
        let Some(cache) = slot.downcast_ref::<PeerSeries>() else {
            return Arc::new(self.build_series(peer, key));
        };
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
        let [src, dst] = ["source", "destination"].map(|r| self.labels(r, peer, key));
        Series {
            requests: [&src, &dst].map(|l| self.requests.get_or_create(l).clone()),
            duration: [&src, &dst].map(|l| self.duration.get_or_create(l).clone()),
            request_bytes: [&src, &dst].map(|l| self.request_bytes.get_or_create(l).clone()),
            response_bytes: [&src, &dst].map(|l| self.response_bytes.get_or_create(l).clone()),
        }
    }
}

impl ExchangeHook for Metrics {
    fn on_exchange(&self, ex: &Exchange) {
        let peer = ex.peer.as_deref().unwrap_or(&self.unknown_peer);
        let series = self.series(peer, (ex.status, ex.flag, ex.grpc));
        let ms = ex.duration.as_secs_f64() * 1000.0;
        for i in 0..2 {
            series.requests[i].inc();
            series.duration[i].observe(ms);
            series.request_bytes[i].observe(ex.request_bytes as f64);
            series.response_bytes[i].observe(ex.response_bytes as f64);
        }
    }
}

impl MirrorObserver for Metrics {
    fn on_mirror(&self, cluster: &Cluster, outcome: MirrorOutcome) {
        let slot = cluster.metrics_slot.get_or_init(|| {
            let counters = MirrorOutcome::ALL.map(|o| {
                self.mirrors
                    .get_or_create(&MirrorLabels {
                        destination_service: cluster.service.clone(),
                        destination_subset: cluster.subset.clone().unwrap_or_default(),
                        destination_version: cluster.version().to_string(),
                        outcome: o.as_str(),
                    })
                    .clone()
            });
            Arc::new(MirrorCounters(counters)) as Arc<dyn Any + Send + Sync>
        });
        if let Some(counters) = slot.downcast_ref::<MirrorCounters>() {
            let i = MirrorOutcome::ALL
                .iter()
                .position(|o| *o == outcome)
                .unwrap_or(0);
            counters.0[i].inc();
        }
    }
}

/// A slot where telemetry keeps its per-endpoint or per-cluster cache.
pub type MetricsSlot = OnceLock<Arc<dyn Any + Send + Sync>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{ClusterPolicy, Endpoint, Protocol};
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn cluster(subset: &str, version: &str, workload: &str) -> Cluster {
        let labels: BTreeMap<String, String> = [("app", "backend"), ("version", version)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Cluster::new(
            "calcbackendsvc.challengeistio.svc.cluster.local".into(),
            "calcbackendsvc".into(),
            "challengeistio".into(),
            80,
            Some(subset.into()),
            Some(version.into()),
            Protocol::Http1,
            vec![Endpoint::new(
                "127.0.0.1:9081".parse().unwrap(),
                labels,
                workload.into(),
                "challengeistio".into(),
            )],
            false,
            ClusterPolicy::default(),
        )
    }

    fn exchange(c: &Cluster, status: u16, ms: u64, mirror: bool) -> Exchange {
        Exchange {
            method: http::Method::GET,
            path: "/".into(),
            status,
            duration: Duration::from_millis(ms),
            response_bytes: 42,
            peer: Some(c.peer(Some(0)).clone()),
            mirror,
            request_id: "id".into(),
            protocol: "HTTP/1.1",
            ..Default::default()
        }
    }

    fn metrics() -> Metrics {
        Metrics::new(SourceIdentity {
            workload: "frontend".into(),
            namespace: "challengeistio".into(),
            app: "frontend".into(),
            version: "unknown".into(),
        })
    }

    fn scrape(m: &Metrics) -> prometheus_parse::Scrape {
        let text = m.encode();
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
        let m = metrics();
        let v1 = cluster("v1", "v1", "calcbackend-v1");
        let v3 = cluster("v3", "v3", "jscalcbackend-new-v2");
        for _ in 0..3 {
            m.on_exchange(&exchange(&v1, 200, 3, false));
            m.on_exchange(&exchange(&v3, 200, 1, true));
        }
        m.on_exchange(&exchange(&v3, 500, 700, true));
        let scrape = scrape(&m);
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
        let m = metrics();
        let v1 = cluster("v1", "v1", "calcbackend-v1");
        for ms in [0, 3, 7, 700] {
            m.on_exchange(&exchange(&v1, 200, ms, false));
        }
        let scrape = scrape(&m);
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
    fn mirror_outcomes_are_counted_per_destination() {
        let m = metrics();
        let v3 = cluster("v3", "v3", "jscalcbackend-new-v2");
        m.on_mirror(&v3, MirrorOutcome::Sent);
        m.on_mirror(&v3, MirrorOutcome::Sent);
        m.on_mirror(&v3, MirrorOutcome::Timeout);
        let text = m.encode();
        assert!(text.contains(r#"shadowmesh_mirror_requests_total{destination_service="calcbackendsvc.challengeistio.svc.cluster.local",destination_subset="v3",destination_version="v3",outcome="sent"} 2"#), "{text}");
        assert!(text.contains(r#"outcome="timeout"} 1"#));
        assert!(text.contains(r#"istio_build{component="proxy",tag=""#));
    }
}
