//! DestinationRule `trafficPolicy` to [`ClusterPolicy`]: load balancing, connection pool limits,
//! outlier detection, TLS ([`super::tls`]). A subset's policy overrides the rule's, field by
//! field (as Istio merges); a `portLevelSettings` entry replaces them whole ([`port_policy`]).
//!
//! Values are checked beforehand by [`crate::model::validation`], which reports every bad one;
//! here a value that does not parse is skipped silently, so the user gets one error, not two.
//! Each field Istio has and shadowmesh does not act on gets one warning naming it.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::time::Duration;

use crate::config::diag::Reporter;
use crate::config::wire::{
    ConnectionPoolSettings, ConsistentHashLb, LoadBalancerSettings, OutlierDetection,
    PortTrafficPolicy, TrafficPolicy,
};
use crate::model::cluster::hash_table::{
    DEFAULT_MAGLEV_TABLE_SIZE, DEFAULT_MIN_RING_SIZE, MAX_RING_SIZE,
};
use crate::model::cluster::{ClusterPolicy, HashCookie, HashKey, LbPolicy, OutlierPolicy};
use crate::model::duration::parse_duration;

use super::tls::compile_tls;

const IGNORED: &str = "not supported by shadowmesh; ignored";

/// Applies `tp` (at `field`) on top of `base`.
pub(super) fn merge_policy(
    base: &ClusterPolicy,
    tp: Option<&TrafficPolicy>,
    r: &mut Reporter<'_>,
    field: &str,
) -> ClusterPolicy {
    let mut out = base.clone();
    let Some(tp) = tp else {
        return out;
    };
    warn_ignored(
        r,
        field,
        &[
            ("tunnel", tp.tunnel.is_some()),
            ("proxyProtocol", tp.proxy_protocol.is_some()),
            ("retryBudget", tp.retry_budget.is_some()),
        ],
    );
    if let Some(lb) = &tp.load_balancer {
        load_balancer(&mut out, lb, r, &format!("{field}.loadBalancer"));
    }
    if let Some(pool) = &tp.connection_pool {
        connection_pool(&mut out, pool, r, &format!("{field}.connectionPool"));
    }
    if let Some(od) = &tp.outlier_detection {
        out.outlier = Some(outlier_detection(
            od,
            r,
            &format!("{field}.outlierDetection"),
        ));
    }
    if let Some(tls) = &tp.tls {
        out.tls = compile_tls(tls, r, &format!("{field}.tls"));
    }
    out
}

/// A `portLevelSettings` entry as the policy it stands for: per Istio's
/// `GetPortLevelTrafficPolicy`, it replaces the load balancer, connection pool, outlier
/// detection and TLS whole (what it leaves out is the default, not the rule's).
pub(super) fn port_policy(p: &PortTrafficPolicy) -> TrafficPolicy {
    TrafficPolicy {
        load_balancer: p.load_balancer.clone(),
        connection_pool: p.connection_pool.clone(),
        outlier_detection: p.outlier_detection.clone(),
        tls: p.tls.clone(),
        ..TrafficPolicy::default()
    }
}

/// One warning per field of `fields` that is set, at `{field}.{name}`.
fn warn_ignored(r: &mut Reporter<'_>, field: &str, fields: &[(&str, bool)]) {
    for (name, present) in fields {
        if *present {
            r.warning(format!("{field}.{name}"), IGNORED);
        }
    }
}

/// `loadBalancer` (at `f`): the `simple` policies or consistent hashing. A subset's
/// `loadBalancer` replaces the rule's whole (Istio's `MergeTrafficPolicy`), so what it leaves
/// out is the default, not the rule's.
fn load_balancer(
    out: &mut ClusterPolicy,
    lb: &LoadBalancerSettings,
    r: &mut Reporter<'_>,
    f: &str,
) {
    warn_ignored(
        r,
        f,
        &[
            ("localityLbSetting", lb.locality_lb_setting.is_some()),
            ("zoneAwareLbSetting", lb.zone_aware_lb_setting.is_some()),
            ("warmupDurationSecs", lb.warmup_duration_secs.is_some()),
            ("warmup", lb.warmup.is_some()),
        ],
    );
    let default = ClusterPolicy::default();
    out.hash_key = None;
    out.lb = match lb.simple.as_deref() {
        Some("LEAST_REQUEST" | "LEAST_CONN") => LbPolicy::LeastRequest,
        Some("RANDOM") => LbPolicy::Random,
        Some("PASSTHROUGH") => {
            r.warning(
                format!("{f}.simple"),
                "PASSTHROUGH is not supported; using ROUND_ROBIN",
            );
            LbPolicy::RoundRobin
        }
        // ROUND_ROBIN, UNSPECIFIED, absent; an unknown name is validation's error.
        _ => default.lb,
    };
    // Istio applies consistentHash after simple (validation refuses both at once).
    if let Some(ch) = &lb.consistent_hash {
        consistent_hash(out, ch, r, &format!("{f}.consistentHash"));
    }
}

/// `consistentHash` (at `f`), as Istio's `ApplyRingHashLoadBalancer` and
/// `consistentHashToHashPolicy` configure Envoy: Maglev, else a ring (of `ringHash`'s size,
/// else the deprecated `minimumRingSize`, else 1024), hashing on the one key given.
fn consistent_hash(out: &mut ClusterPolicy, ch: &ConsistentHashLb, r: &mut Reporter<'_>, f: &str) {
    out.lb = if let Some(maglev) = &ch.maglev {
        // A size validation refuses (not a prime below 5000011) is never built.
        let size = maglev.table_size.filter(|s| *s > 0 && *s < 5_000_011);
        LbPolicy::Maglev {
            table_size: size.unwrap_or(DEFAULT_MAGLEV_TABLE_SIZE),
        }
    } else {
        let (size, field) = match &ch.ring_hash {
            Some(ring) => (ring.minimum_ring_size, "ringHash.minimumRingSize"),
            None => (ch.minimum_ring_size, "minimumRingSize"),
        };
        let size = size.filter(|s| *s > 0).unwrap_or(DEFAULT_MIN_RING_SIZE);
        if size > MAX_RING_SIZE {
            r.error(
                format!("{f}.{field}"),
                format!("{size} is over Envoy's maximum ring size {MAX_RING_SIZE}: Envoy refuses the cluster"),
            );
        }
        LbPolicy::RingHash {
            minimum_ring_size: size.min(MAX_RING_SIZE),
        }
    };
    out.hash_key = if let Some(name) = &ch.http_header_name {
        Some(HashKey::Header(name.to_ascii_lowercase()))
    } else if let Some(cookie) = &ch.http_cookie {
        Some(HashKey::Cookie(HashCookie {
            name: cookie.name.clone(),
            path: cookie.path.clone().unwrap_or_default(),
            ttl_secs: duration(cookie.ttl.as_deref()).map(|d| d.as_secs()),
            attributes: (cookie.attributes.iter())
                .map(|a| (a.name.clone(), a.value.clone().unwrap_or_default()))
                .collect(),
        }))
    } else if ch.use_source_ip == Some(true) {
        Some(HashKey::SourceIp)
    } else {
        ch.http_query_parameter_name
            .clone()
            .map(HashKey::QueryParameter)
    };
}

/// `connectionPool` (at `f`): connect timeout, request limits (HTTP/1 limit = connections +
/// pending), idle timeout.
fn connection_pool(
    out: &mut ClusterPolicy,
    pool: &ConnectionPoolSettings,
    r: &mut Reporter<'_>,
    f: &str,
) {
    let mut max_connections = None;
    if let Some(tcp) = &pool.tcp {
        warn_ignored(
            r,
            &format!("{f}.tcp"),
            &[
                ("tcpKeepalive", tcp.tcp_keepalive.is_some()),
                (
                    "maxConnectionDuration",
                    tcp.max_connection_duration.is_some(),
                ),
                ("idleTimeout", tcp.idle_timeout.is_some()),
            ],
        );
        if let Some(d) = duration(tcp.connect_timeout.as_deref()) {
            out.connect_timeout = d;
        }
        max_connections = positive(tcp.max_connections);
    }
    if let Some(http) = &pool.http {
        warn_ignored(
            r,
            &format!("{f}.http"),
            &[
                (
                    "maxRequestsPerConnection",
                    http.max_requests_per_connection.is_some(),
                ),
                ("maxRetries", http.max_retries.is_some()),
                ("h2UpgradePolicy", http.h2_upgrade_policy.is_some()),
                ("useClientProtocol", http.use_client_protocol.is_some()),
                (
                    "maxConcurrentStreams",
                    http.max_concurrent_streams.is_some(),
                ),
                ("http2KeepAlive", http.http2_keep_alive.is_some()),
            ],
        );
        let max_requests = positive(http.http2_max_requests);
        let pending = positive(http.http1_max_pending_requests);
        let h1_limit = max_connections.zip(pending).map(|(c, p)| c + p);
        out.max_requests = match (max_requests, h1_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b).or(out.max_requests),
        };
        if http.idle_timeout.is_some() {
            out.idle_timeout = duration(http.idle_timeout.as_deref());
        }
    }
}

/// `outlierDetection` (at `f`): thresholds, ejection time and cap.
fn outlier_detection(od: &OutlierDetection, r: &mut Reporter<'_>, f: &str) -> OutlierPolicy {
    warn_ignored(
        r,
        f,
        &[
            (
                "splitExternalLocalOriginErrors",
                od.split_external_local_origin_errors.is_some(),
            ),
            (
                "consecutiveLocalOriginFailures",
                od.consecutive_local_origin_failures.is_some(),
            ),
            ("interval", od.interval.is_some()),
            ("minHealthPercent", od.min_health_percent.is_some()),
            (
                "outlierDetectionHttpErrorCodes",
                !od.outlier_detection_http_error_codes.is_empty(),
            ),
        ],
    );
    let legacy = od.consecutive_errors.and_then(|n| u32::try_from(n).ok());
    let c5 = od.consecutive_5xx_errors.or(legacy).filter(|n| *n > 0);
    let cg = od.consecutive_gateway_errors.filter(|n| *n > 0);
    let base_ejection =
        duration(od.base_ejection_time.as_deref()).unwrap_or(Duration::from_secs(30));
    let max_pct = od.max_ejection_percent.unwrap_or(10).clamp(0, 100);
    // Istio's default when outlierDetection is present but names no threshold: 5 x 5xx.
    let consecutive_5xx = if c5.is_none() && cg.is_none() {
        Some(5)
    } else {
        c5
    };
    OutlierPolicy {
        consecutive_5xx,
        consecutive_gateway: cg,
        base_ejection,
        max_ejection_percent: max_pct as u32,
    }
}

/// A duration that parses; `None` when absent or bad (validation reports bad ones).
fn duration(text: Option<&str>) -> Option<Duration> {
    text.and_then(|t| parse_duration(t).ok())
}

/// A positive count; zero, negative (validation's error) and absent are `None`.
fn positive(v: Option<i64>) -> Option<usize> {
    v.filter(|n| *n > 0).and_then(|n| usize::try_from(n).ok())
}
