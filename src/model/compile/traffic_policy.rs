//! DestinationRule `trafficPolicy` to [`ClusterPolicy`]: load balancing, connection pool limits,
//! outlier detection. A subset's policy overrides the rule's, field by field (as Istio merges).
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::time::Duration;

use crate::config::diag::Reporter;
use crate::config::wire::{
    ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy,
};
use crate::model::cluster::{ClusterPolicy, LbPolicy, OutlierPolicy};
use crate::model::duration::parse_duration;

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
    warn_unsupported(tp, r, field);
    if let Some(lb) = &tp.load_balancer {
        load_balancer(&mut out, lb, r, field);
    }
    if let Some(pool) = &tp.connection_pool {
        connection_pool(&mut out, pool, r, field);
    }
    if let Some(od) = &tp.outlier_detection {
        out.outlier = Some(outlier_detection(
            od,
            r,
            &format!("{field}.outlierDetection"),
        ));
    }
    out
}

fn warn_unsupported(tp: &TrafficPolicy, r: &mut Reporter<'_>, field: &str) {
    for (name, present) in [
        ("tls", tp.tls.is_some()),
        ("portLevelSettings", tp.port_level_settings.is_some()),
        ("tunnel", tp.tunnel.is_some()),
        ("proxyProtocol", tp.proxy_protocol.is_some()),
        ("retryBudget", tp.retry_budget.is_some()),
    ] {
        if present {
            r.warning(
                format!("{field}.{name}"),
                "not supported by shadowmesh; ignored",
            );
        }
    }
}

/// `loadBalancer`: the `simple` policies; consistent hashing falls back to round robin.
fn load_balancer(
    out: &mut ClusterPolicy,
    lb: &LoadBalancerSettings,
    r: &mut Reporter<'_>,
    field: &str,
) {
    if lb.consistent_hash.is_some() {
        r.warning(
            format!("{field}.loadBalancer.consistentHash"),
            "consistent hashing is not supported; using ROUND_ROBIN",
        );
    }
    if let Some(simple) = &lb.simple {
        out.lb = match simple.as_str() {
            "ROUND_ROBIN" | "UNSPECIFIED" => LbPolicy::RoundRobin,
            "LEAST_REQUEST" | "LEAST_CONN" => LbPolicy::LeastRequest,
            "RANDOM" => LbPolicy::Random,
            "PASSTHROUGH" => {
                r.warning(
                    format!("{field}.loadBalancer.simple"),
                    "PASSTHROUGH is not supported; using ROUND_ROBIN",
                );
                LbPolicy::RoundRobin
            }
            other => {
                r.error(
                    format!("{field}.loadBalancer.simple"),
                    format!(
                        "unknown load balancer {other:?}: use ROUND_ROBIN, LEAST_REQUEST or RANDOM"
                    ),
                );
                out.lb
            }
        };
    }
}

/// `connectionPool`: connect timeout, request limits (HTTP/1 limit = connections + pending),
/// idle timeout.
fn connection_pool(
    out: &mut ClusterPolicy,
    pool: &ConnectionPoolSettings,
    r: &mut Reporter<'_>,
    field: &str,
) {
    let mut max_connections = None;
    if let Some(tcp) = &pool.tcp {
        if let Some(t) = &tcp.connect_timeout
            && let Some(d) = duration(r, &format!("{field}.connectionPool.tcp.connectTimeout"), t)
        {
            out.connect_timeout = d;
        }
        max_connections = positive(
            r,
            &format!("{field}.connectionPool.tcp.maxConnections"),
            tcp.max_connections,
        );
    }
    if let Some(http) = &pool.http {
        let base = format!("{field}.connectionPool.http");
        let max_requests = positive(
            r,
            &format!("{base}.http2MaxRequests"),
            http.http2_max_requests,
        );
        let pending = positive(
            r,
            &format!("{base}.http1MaxPendingRequests"),
            http.http1_max_pending_requests,
        );
        let h1_limit = max_connections.zip(pending).map(|(c, p)| c + p);
        out.max_requests = match (max_requests, h1_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b).or(out.max_requests),
        };
        if let Some(t) = &http.idle_timeout {
            out.idle_timeout = duration(r, &format!("{base}.idleTimeout"), t);
        }
    }
}

/// `outlierDetection` (at `f`): thresholds, ejection time and cap.
fn outlier_detection(od: &OutlierDetection, r: &mut Reporter<'_>, f: &str) -> OutlierPolicy {
    let c5 = positive(
        r,
        &format!("{f}.consecutive5xxErrors"),
        od.consecutive_5xx_errors.or(od.consecutive_errors),
    );
    let cg = positive(
        r,
        &format!("{f}.consecutiveGatewayErrors"),
        od.consecutive_gateway_errors,
    );
    let base_ejection = od
        .base_ejection_time
        .as_deref()
        .and_then(|t| duration(r, &format!("{f}.baseEjectionTime"), t))
        .unwrap_or(Duration::from_secs(30));
    // Not acted on (ejection is checked on each answer), but checked as Istio checks it.
    if let Some(interval) = od.interval.as_deref() {
        duration(r, &format!("{f}.interval"), interval);
    }
    let max_pct = od.max_ejection_percent.unwrap_or(10);
    if !(0..=100).contains(&max_pct) {
        r.error(
            format!("{f}.maxEjectionPercent"),
            format!("{max_pct} is not a percentage (0 to 100)"),
        );
    }
    // Istio's default when outlierDetection is present but names no threshold: 5 x 5xx.
    let consecutive_5xx = if c5.is_none() && cg.is_none() {
        Some(5)
    } else {
        c5
    };
    OutlierPolicy {
        consecutive_5xx: consecutive_5xx.map(|n| n as u32),
        consecutive_gateway: cg.map(|n| n as u32),
        base_ejection,
        max_ejection_percent: max_pct.clamp(0, 100) as u32,
    }
}

fn duration(r: &mut Reporter<'_>, field: &str, text: &str) -> Option<Duration> {
    match parse_duration(text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(field, e);
            None
        }
    }
}

fn positive(r: &mut Reporter<'_>, field: &str, v: Option<i64>) -> Option<usize> {
    match v {
        Some(n) if n < 0 => {
            r.error(field, format!("{n} is negative"));
            None
        }
        Some(0) => None,
        Some(n) => Some(n as usize),
        None => None,
    }
}
