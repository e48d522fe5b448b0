//! A DestinationRule's `trafficPolicy` (also a subset's and a port's) as Istio's
//! `validateTrafficPolicy` checks it: at least one field, connection pool, outlier detection,
//! per-port settings, tunnel, PROXY protocol; load balancing is in [`super::load_balancer`],
//! TLS in [`super::tls`]. The CRD's extra rules (enum names, `>= 1ms` durations, required
//! fields) are checked too.

use crate::config::diag::Reporter;
use crate::config::wire::{
    ConnectionPoolSettings, HttpSettings, OutlierDetection, PortTrafficPolicy, TcpSettings,
    TrafficPolicy, TunnelSettings,
};

use super::fields;
use super::load_balancer::load_balancer;
use super::tls::client_tls;

/// Checks `tp` (at `f`) of a resource in namespace `ns`.
pub(super) fn traffic_policy(tp: &TrafficPolicy, ns: &str, r: &mut Reporter<'_>, f: &str) {
    if tp.outlier_detection.is_none()
        && tp.connection_pool.is_none()
        && tp.load_balancer.is_none()
        && tp.tls.is_none()
        && tp.port_level_settings.is_none()
        && tp.tunnel.is_none()
        && tp.proxy_protocol.is_none()
        && tp.retry_budget.is_none()
    {
        r.error(f, "traffic policy must have at least one field");
        return;
    }
    if tp.tunnel.is_some() && tp.proxy_protocol.is_some() {
        r.error(f, "tunnel and proxyProtocol must not be set together");
        return;
    }
    if let Some(od) = &tp.outlier_detection {
        outlier_detection(od, r, &format!("{f}.outlierDetection"));
    }
    if let Some(pool) = &tp.connection_pool {
        connection_pool(pool, r, &format!("{f}.connectionPool"));
    }
    if let Some(lb) = &tp.load_balancer {
        load_balancer(
            lb,
            tp.outlier_detection.as_ref(),
            r,
            &format!("{f}.loadBalancer"),
        );
    }
    if let Some(tls) = &tp.tls {
        client_tls(tls, ns, r, &format!("{f}.tls"));
    }
    for (i, p) in tp.port_level_settings.iter().flatten().enumerate() {
        port_policy(p, ns, r, &format!("{f}.portLevelSettings[{i}]"));
    }
    if let Some(t) = &tp.tunnel {
        tunnel(t, r, &format!("{f}.tunnel"));
    }
    if let Some(version) = tp
        .proxy_protocol
        .as_ref()
        .and_then(|p| p.version.as_deref())
        && version != "V1"
        && version != "V2"
    {
        r.error(
            format!("{f}.proxyProtocol.version"),
            format!("proxy protocol version is invalid: {version} (use V1 or V2)"),
        );
    }
    if let Some(budget) = &tp.retry_budget {
        if let Some(p) = budget.percent
            && !(0.0..=100.0).contains(&p)
        {
            r.error(
                format!("{f}.retryBudget.percent"),
                format!("{p} is outside 0 to 100"),
            );
        }
        duration(
            r,
            &format!("{f}.retryBudget.budgetInterval"),
            budget.budget_interval.as_deref(),
        );
    }
}

/// One entry of `portLevelSettings`: a port and at least one policy.
fn port_policy(p: &PortTrafficPolicy, ns: &str, r: &mut Reporter<'_>, f: &str) {
    if p.port.is_none() {
        r.error(
            format!("{f}.port"),
            "portTrafficPolicy must have valid port",
        );
    }
    if p.outlier_detection.is_none()
        && p.connection_pool.is_none()
        && p.load_balancer.is_none()
        && p.tls.is_none()
    {
        r.error(f, "port traffic policy must have at least one field");
        return;
    }
    if let Some(od) = &p.outlier_detection {
        outlier_detection(od, r, &format!("{f}.outlierDetection"));
    }
    if let Some(pool) = &p.connection_pool {
        connection_pool(pool, r, &format!("{f}.connectionPool"));
    }
    if let Some(lb) = &p.load_balancer {
        load_balancer(
            lb,
            p.outlier_detection.as_ref(),
            r,
            &format!("{f}.loadBalancer"),
        );
    }
    if let Some(tls) = &p.tls {
        client_tls(tls, ns, r, &format!("{f}.tls"));
    }
}

fn tunnel(t: &TunnelSettings, r: &mut Reporter<'_>, f: &str) {
    if let Some(p) = t.protocol.as_deref()
        && !matches!(p, "" | "CONNECT" | "POST")
    {
        r.error(
            format!("{f}.protocol"),
            "tunnel protocol must be \"CONNECT\" or \"POST\"",
        );
    }
    let host = t.target_host.as_deref().unwrap_or("");
    if let Err(e) = fields::fqdn(host)
        && !fields::is_ip_address(host)
    {
        r.error(
            format!("{f}.targetHost"),
            format!("tunnel target host must be valid FQDN or IP address: {e}"),
        );
    }
    if let Err(e) = fields::port(i64::from(t.target_port.unwrap_or(0))) {
        r.error(
            format!("{f}.targetPort"),
            format!("tunnel target port is invalid: {e}"),
        );
    }
}

/// `outlierDetection` (at `f`).
pub(super) fn outlier_detection(od: &OutlierDetection, r: &mut Reporter<'_>, f: &str) {
    duration(
        r,
        &format!("{f}.baseEjectionTime"),
        od.base_ejection_time.as_deref(),
    );
    if od.consecutive_errors.is_some_and(|n| n != 0) {
        r.warning(
            format!("{f}.consecutiveErrors"),
            "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead",
        );
    }
    if od.split_external_local_origin_errors != Some(true)
        && od.consecutive_local_origin_failures.is_some_and(|n| n > 0)
    {
        r.error(
            format!("{f}.consecutiveLocalOriginFailures"),
            "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false",
        );
    }
    duration(r, &format!("{f}.interval"), od.interval.as_deref());
    for (name, value) in [
        ("maxEjectionPercent", od.max_ejection_percent),
        ("minHealthPercent", od.min_health_percent),
    ] {
        if let Some(Err(e)) = value.map(fields::percent) {
            r.error(format!("{f}.{name}"), e);
        }
    }
    for (i, code) in od.outlier_detection_http_error_codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            r.error(
                format!("{f}.outlierDetectionHttpErrorCodes[{i}]"),
                format!("{code} is not an HTTP status code (100 to 599)"),
            );
        }
    }
}

/// `connectionPool` (at `f`).
pub(super) fn connection_pool(pool: &ConnectionPoolSettings, r: &mut Reporter<'_>, f: &str) {
    if pool.http.is_none() && pool.tcp.is_none() {
        r.error(f, "connection pool must have at least one field");
        return;
    }
    if let Some(http) = &pool.http {
        http_settings(http, r, &format!("{f}.http"));
    }
    if let Some(tcp) = &pool.tcp {
        tcp_settings(tcp, r, &format!("{f}.tcp"));
    }
}

fn http_settings(http: &HttpSettings, r: &mut Reporter<'_>, f: &str) {
    for (name, what, value) in [
        (
            "http1MaxPendingRequests",
            "http1 max pending requests",
            http.http1_max_pending_requests,
        ),
        (
            "http2MaxRequests",
            "http2 max requests",
            http.http2_max_requests,
        ),
        (
            "maxRequestsPerConnection",
            "max requests per connection",
            http.max_requests_per_connection,
        ),
        ("maxRetries", "max retries", http.max_retries),
        (
            "maxConcurrentStreams",
            "max concurrent streams",
            http.max_concurrent_streams,
        ),
    ] {
        non_negative(r, &format!("{f}.{name}"), what, value);
    }
    duration(r, &format!("{f}.idleTimeout"), http.idle_timeout.as_deref());
    let policy = http.h2_upgrade_policy.as_deref();
    if let Some(p) = policy
        && !matches!(p, "DEFAULT" | "DO_NOT_UPGRADE" | "UPGRADE")
    {
        r.error(
            format!("{f}.h2UpgradePolicy"),
            format!("unknown h2UpgradePolicy {p:?}: use DEFAULT, DO_NOT_UPGRADE or UPGRADE"),
        );
    }
    if policy == Some("UPGRADE") && http.use_client_protocol == Some(true) {
        r.error(
            format!("{f}.useClientProtocol"),
            "use client protocol must not be true when H2UpgradePolicy is UPGRADE",
        );
    }
    if let Some(ka) = &http.http2_keep_alive {
        for (name, value) in [("interval", &ka.interval), ("timeout", &ka.timeout)] {
            let field = format!("{f}.http2KeepAlive.{name}");
            match value {
                None => r.error(field, format!("http2 keepalive {name} is required")),
                Some(v) => duration(r, &field, Some(v)),
            }
        }
    }
}

fn tcp_settings(tcp: &TcpSettings, r: &mut Reporter<'_>, f: &str) {
    non_negative(
        r,
        &format!("{f}.maxConnections"),
        "max connections",
        tcp.max_connections,
    );
    duration(
        r,
        &format!("{f}.connectTimeout"),
        tcp.connect_timeout.as_deref(),
    );
    duration(
        r,
        &format!("{f}.maxConnectionDuration"),
        tcp.max_connection_duration.as_deref(),
    );
    // 0s turns the idle timeout off.
    if let Some(idle) = tcp.idle_timeout.as_deref() {
        let off = crate::model::duration::parse_duration(idle).is_ok_and(|d| d.as_millis() == 0);
        if !off {
            duration(r, &format!("{f}.idleTimeout"), Some(idle));
        }
    }
    if let Some(ka) = &tcp.tcp_keepalive {
        duration(r, &format!("{f}.tcpKeepalive.time"), ka.time.as_deref());
        duration(
            r,
            &format!("{f}.tcpKeepalive.interval"),
            ka.interval.as_deref(),
        );
    }
}

fn non_negative(r: &mut Reporter<'_>, field: &str, what: &str, value: Option<i64>) {
    if value.is_some_and(|n| n < 0) {
        r.error(field, format!("{what} must be non-negative"));
    }
}

/// Istio's `ValidateDuration` on a duration that is present.
pub(super) fn duration(r: &mut Reporter<'_>, field: &str, text: Option<&str>) {
    if let Some(Err(e)) = text.map(fields::duration) {
        r.error(field, e);
    }
}
