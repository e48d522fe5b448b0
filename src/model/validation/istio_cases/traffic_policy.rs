//! Istio's `TestValidateConnectionPool`, `TestValidateLoadBalancer` and
//! `TestValidateOutlierDetection`, as YAML under a DestinationRule's `trafficPolicy`.

use super::{Case, Table, Want::*, run, with_policy};

const CONNECTION_POOL: &[Case] = &[
    (
        "valid connection pool, tcp and http",
        "{maxConnections: 7, connectTimeout: 2s}, http: {http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, idleTimeout: 30s, maxConcurrentStreams: 5}}",
        Ok,
    ),
    (
        "valid connection pool, tcp only",
        "{maxConnections: 7, connectTimeout: 2s}}",
        Ok,
    ),
    (
        "valid connection pool, http only",
        "HTTP{http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, idleTimeout: 30s, maxConcurrentStreams: 5}}",
        Ok,
    ),
    (
        "valid connection pool, http only with empty idle timeout",
        "HTTP{http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, maxConcurrentStreams: 5}}",
        Ok,
    ),
    (
        "valid connection pool, http2 keepalive",
        "HTTP{http2KeepAlive: {interval: 15s, timeout: 5s}}}",
        Ok,
    ),
    ("invalid connection pool, empty", "EMPTY", Err("")),
    (
        "invalid connection pool, bad max connections",
        "{maxConnections: -1}}",
        Err("tcp.maxConnections"),
    ),
    (
        "invalid connection pool, bad connect timeout",
        "{connectTimeout: 2.000000005s}}",
        Err("tcp.connectTimeout"),
    ),
    (
        "invalid connection pool, bad max pending requests",
        "HTTP{http1MaxPendingRequests: -1}}",
        Err("http.http1MaxPendingRequests"),
    ),
    (
        "invalid connection pool, bad max requests",
        "HTTP{http2MaxRequests: -1}}",
        Err("http.http2MaxRequests"),
    ),
    (
        "invalid connection pool, bad max requests per connection",
        "HTTP{maxRequestsPerConnection: -1}}",
        Err("http.maxRequestsPerConnection"),
    ),
    (
        "invalid connection pool, bad max retries",
        "HTTP{maxRetries: -1}}",
        Err("http.maxRetries"),
    ),
    (
        "invalid connection pool, bad idle timeout",
        "HTTP{idleTimeout: 30.000000005s}}",
        Err("http.idleTimeout"),
    ),
    (
        "valid connection pool, tcp timeout disabled",
        "{idleTimeout: 0s}}",
        Ok,
    ),
    (
        "invalid connection pool, bad max concurrent streams",
        "HTTP{maxConcurrentStreams: -1}}",
        Err("http.maxConcurrentStreams"),
    ),
    (
        "invalid connection pool, http2 keepalive without interval",
        "HTTP{http2KeepAlive: {timeout: 5s}}}",
        Err("http.http2KeepAlive.interval"),
    ),
    (
        "invalid connection pool, http2 keepalive without timeout",
        "HTTP{http2KeepAlive: {interval: 15s}}}",
        Err("http.http2KeepAlive.timeout"),
    ),
    (
        "invalid connection pool, bad http2 keepalive interval",
        "HTTP{http2KeepAlive: {interval: 15.000000005s, timeout: 5s}}}",
        Err("http.http2KeepAlive.interval"),
    ),
];

/// A connection pool case's YAML: `{tcp: ...`, `HTTP{...` for http only, `EMPTY` for `{}`.
fn pool(case: &str) -> String {
    let pool = if case == "EMPTY" {
        "{}".to_string()
    } else if let Some(http) = case.strip_prefix("HTTP") {
        format!("{{http: {http}")
    } else {
        format!("{{tcp: {case}")
    };
    with_policy(&format!("{{connectionPool: {pool}}}"))
}

#[test]
fn connection_pool() {
    run(
        &Table {
            test: "TestValidateConnectionPool",
            kind: "DestinationRule",
            spec: &pool,
            prefix: "spec.trafficPolicy.connectionPool",
            disagree: &[],
            warnings: false,
        },
        CONNECTION_POOL,
    );
}

const COOKIE: &str = "httpCookie: {name: test-cookie, ttl: 3600s, attributes: ";

const LOAD_BALANCER: &[Case] = &[
    (
        "valid load balancer with simple load balancing",
        "{simple: ROUND_ROBIN}",
        Ok,
    ),
    (
        "valid load balancer with consistentHash load balancing",
        "{consistentHash: {minimumRingSize: 1024, httpCookie: {name: test, ttl: 3600s}}}",
        Ok,
    ),
    (
        "invalid load balancer with consistentHash load balancing, missing name",
        "{consistentHash: {minimumRingSize: 1024, httpCookie: {ttl: 3600s}}}",
        Err("consistentHash.httpCookie.name"),
    ),
    (
        "invalid load balancer with consistentHash load balancing, maglev not prime",
        "{consistentHash: {maglev: {tableSize: 1000}}}",
        Err("consistentHash.maglev.tableSize"),
    ),
    (
        "valid load balancer with consistentHash load balancing and unique cookie attributes",
        "{consistentHash: {COOKIE[{name: SameSite, value: Strict}, {name: Secure, value: 'true'}, {name: HttpOnly, value: 'true'}]}}}",
        Ok,
    ),
    (
        "invalid load balancer with consistentHash load balancing and duplicate cookie attribute names",
        "{consistentHash: {COOKIE[{name: SameSite, value: Strict}, {name: SameSite, value: Lax}, {name: Secure, value: 'true'}]}}}",
        Err("consistentHash.httpCookie.attributes[1].name"),
    ),
    (
        "invalid load balancer with consistentHash load balancing and empty cookie attribute name",
        "{consistentHash: {COOKIE[{name: SameSite, value: Strict}, {name: '', value: some-value}, {name: Secure, value: 'true'}]}}}",
        Err("consistentHash.httpCookie.attributes[1].name"),
    ),
    (
        "invalid: localityLbSetting and zoneAwareLbSetting both set",
        "{localityLbSetting: {}, zoneAwareLbSetting: {}}",
        Err(""),
    ),
    (
        "valid: zoneAwareLbSetting only",
        "{zoneAwareLbSetting: {failover: [{from: us-east, to: eu-west}]}}",
        Ok,
    ),
    // Beyond Istio's Go table: the CRD's one-of rules (Go's oneof cannot express these).
    (
        "crd: simple and consistentHash both set",
        "{simple: RANDOM, consistentHash: {useSourceIp: true}}",
        Err(""),
    ),
    (
        "crd: two hash keys",
        "{consistentHash: {useSourceIp: true, httpHeaderName: x-user}}",
        Err("consistentHash"),
    ),
    (
        "crd: unknown simple policy",
        "{simple: FASTEST}",
        Err("simple"),
    ),
];

#[test]
fn load_balancer() {
    run(
        &Table {
            test: "TestValidateLoadBalancer",
            kind: "DestinationRule",
            spec: &|lb| {
                with_policy(&format!(
                    "{{loadBalancer: {}}}",
                    lb.replace("COOKIE", COOKIE)
                ))
            },
            prefix: "spec.trafficPolicy.loadBalancer",
            disagree: &[],
            warnings: false,
        },
        LOAD_BALANCER,
    );
}

const OUTLIER_DETECTION: &[Case] = &[
    (
        "valid outlier detection",
        "{interval: 2s, baseEjectionTime: 2s, maxEjectionPercent: 50}",
        Ok,
    ),
    (
        "invalid outlier detection, bad interval",
        "{interval: 2.000000005s}",
        Err("interval"),
    ),
    (
        "invalid outlier detection, bad base ejection time",
        "{baseEjectionTime: 2.000000005s}",
        Err("baseEjectionTime"),
    ),
    (
        "invalid outlier detection, bad max ejection percent",
        "{maxEjectionPercent: 105}",
        Err("maxEjectionPercent"),
    ),
    (
        "invalid outlier detection, panic threshold too low",
        "{minHealthPercent: -1}",
        Err("minHealthPercent"),
    ),
    (
        "invalid outlier detection, panic threshold too high",
        "{minHealthPercent: 101}",
        Err("minHealthPercent"),
    ),
    (
        "deprecated outlier detection, ConsecutiveErrors",
        "{consecutiveErrors: 101}",
        Warn("consecutiveErrors"),
    ),
    (
        "consecutive local origin errors is set but split local origin errors is not set",
        "{consecutiveLocalOriginFailures: 10}",
        Err("consecutiveLocalOriginFailures"),
    ),
];

#[test]
fn outlier_detection() {
    run(
        &Table {
            test: "TestValidateOutlierDetection",
            kind: "DestinationRule",
            spec: &|od| with_policy(&format!("{{outlierDetection: {od}}}")),
            prefix: "spec.trafficPolicy.outlierDetection",
            disagree: &[],
            warnings: true,
        },
        OUTLIER_DETECTION,
    );
}
