//! Wire types: serde structs shaped exactly like Istio's `networking.istio.io` YAML.
//!
//! They say nothing about meaning: [`crate::model`] turns them into a checked, compiled model.
//! Every struct refuses unknown fields so a typo (`mirorr:`) is an error with its field path
//! rather than a silently ignored setting. Fields Istio has but shadowmesh does not act on are
//! accepted as opaque values so that real Istio YAML loads; the compiler warns about them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// `metadata` of any Kubernetes object (only what shadowmesh reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Resource name; required for the kinds shadowmesh reads.
    pub name: Option<String>,
    /// Namespace; absent means the proxy's `--namespace`.
    pub namespace: Option<String>,
    /// Labels (not used for routing).
    pub labels: BTreeMap<String, String>,
    /// Annotations; `shadowmesh.io/*` ones tune shadowmesh.
    pub annotations: BTreeMap<String, String>,
    /// Everything else Kubernetes puts in metadata (uid, resourceVersion, ...), ignored.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `VirtualService.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualServiceSpec {
    /// Hosts the routes apply to (short names are relative to the resource's namespace).
    pub hosts: Vec<String>,
    /// Gateways; shadowmesh is a sidecar-style proxy (`mesh`).
    pub gateways: Vec<String>,
    /// HTTP routes, tried in order.
    pub http: Vec<HttpRoute>,
    /// TLS routes (not supported: warned).
    pub tls: Option<Value>,
    /// TCP routes (not supported: warned).
    pub tcp: Option<Value>,
    /// Visibility (ignored: one proxy sees everything it loads).
    pub export_to: Option<Value>,
}

/// One entry of `VirtualService.spec.http`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// Route name, used in logs and reports.
    pub name: Option<String>,
    /// Match blocks, OR'ed; absent matches every request.
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    pub route: Vec<HttpRouteDestination>,
    /// Redirect instead of forwarding.
    pub redirect: Option<HttpRedirect>,
    /// Answer directly instead of forwarding.
    pub direct_response: Option<HttpDirectResponse>,
    /// Delegation to another VirtualService (not supported).
    pub delegate: Option<Value>,
    /// Rewrite of the path and authority before forwarding.
    pub rewrite: Option<HttpRewrite>,
    /// Request timeout, e.g. `10s`, `500ms`.
    pub timeout: Option<String>,
    /// Retries (not supported: warned).
    pub retries: Option<Value>,
    /// Fault injection (not supported: warned).
    pub fault: Option<Value>,
    /// One mirror destination.
    pub mirror: Option<Destination>,
    /// Several mirror destinations, each with its own percentage (Istio 1.19+).
    pub mirrors: Option<Vec<HttpMirrorPolicy>>,
    /// Legacy integer mirror percentage (deprecated).
    pub mirror_percent: Option<i64>,
    /// Percentage of requests mirrored to `mirror`.
    pub mirror_percentage: Option<Percent>,
    /// CORS (not supported: warned).
    pub cors_policy: Option<Value>,
    /// Header manipulation for requests and responses.
    pub headers: Option<Headers>,
}

/// `HTTPMatchRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    /// Name of the match block (logs only).
    pub name: Option<String>,
    /// Path match (without the query string).
    pub uri: Option<StringMatch>,
    /// `:scheme` match.
    pub scheme: Option<StringMatch>,
    /// Method match.
    pub method: Option<StringMatch>,
    /// `Host`/`:authority` match.
    pub authority: Option<StringMatch>,
    /// Header matches; keys must be lower-case.
    pub headers: BTreeMap<String, StringMatch>,
    /// Port the request was addressed to.
    pub port: Option<u32>,
    /// Labels of the source workload (this proxy's `--label`s).
    pub source_labels: BTreeMap<String, String>,
    /// Gateways; only `mesh` applies to shadowmesh.
    pub gateways: Vec<String>,
    /// Query parameter matches (`exact` and `regex` only).
    pub query_params: BTreeMap<String, StringMatch>,
    /// Makes `uri` exact and prefix matches case-insensitive.
    pub ignore_uri_case: bool,
    /// Header matches that must NOT hold.
    pub without_headers: BTreeMap<String, StringMatch>,
    /// Namespace of the source workload (this proxy's `--namespace`).
    pub source_namespace: Option<String>,
    /// Stats prefix (ignored).
    pub stat_prefix: Option<String>,
}

/// Istio's `StringMatch`: exactly one of `exact`, `prefix`, `regex`; `{}` means "present".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StringMatch {
    /// Whole value equals this.
    pub exact: Option<String>,
    /// Value starts with this (plain string prefix).
    pub prefix: Option<String>,
    /// RE2 regex that must match the whole value.
    pub regex: Option<String>,
}

/// One weighted destination of a route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpRouteDestination {
    /// Where to send the request.
    pub destination: Option<Destination>,
    /// Relative weight; absent on a lone destination means all traffic.
    pub weight: Option<i64>,
    /// Header manipulation for this destination.
    pub headers: Option<Headers>,
}

/// `Destination`: a service host, an optional subset and port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Destination {
    /// Service host (short names are relative to the resource's namespace).
    pub host: String,
    /// Subset name from a DestinationRule.
    pub subset: Option<String>,
    /// Service port.
    pub port: Option<PortSelector>,
}

/// `PortSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortSelector {
    /// Port number.
    pub number: u32,
}

/// `Percent`: a double from 0 to 100.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Percent {
    /// The percentage.
    pub value: f64,
}

/// `HTTPMirrorPolicy`, an entry of `mirrors`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    /// Mirror destination.
    pub destination: Option<Destination>,
    /// Share of requests mirrored; absent means 100.
    pub percentage: Option<Percent>,
}

/// `HTTPRedirect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    /// Replacement path.
    pub uri: Option<String>,
    /// Replacement authority.
    pub authority: Option<String>,
    /// Replacement port.
    pub port: Option<u32>,
    /// Derive the port (`FROM_PROTOCOL_DEFAULT`, `FROM_REQUEST_PORT`).
    pub derive_port: Option<String>,
    /// Replacement scheme.
    pub scheme: Option<String>,
    /// Status code, default 301.
    pub redirect_code: Option<u16>,
}

/// `HTTPDirectResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpDirectResponse {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Option<HttpBody>,
}

/// `HTTPBody`: `string` or `bytes` (base64).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64 body.
    pub bytes: Option<String>,
}

/// `HTTPRewrite`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    /// Replaces the matched prefix (or the whole path for other matches).
    pub uri: Option<String>,
    /// Replaces the Host/`:authority`.
    pub authority: Option<String>,
    /// Regex rewrite of the path (not supported: warned).
    pub uri_regex_rewrite: Option<Value>,
}

/// `Headers`: manipulation of request and response headers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Headers {
    /// Operations on the request.
    pub request: Option<HeaderOperations>,
    /// Operations on the response.
    pub response: Option<HeaderOperations>,
}

/// `HeaderOperations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderOperations {
    /// Overwrite these headers.
    pub set: BTreeMap<String, String>,
    /// Append these headers.
    pub add: BTreeMap<String, String>,
    /// Remove these headers.
    pub remove: Vec<String>,
}

/// `DestinationRule.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRuleSpec {
    /// Service host the rule applies to.
    pub host: String,
    /// Policy for all subsets.
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named subsets, selected by endpoint labels.
    pub subsets: Vec<Subset>,
    /// Visibility (ignored).
    pub export_to: Option<Value>,
    /// Workload selector (ignored: the rule applies to this proxy).
    pub workload_selector: Option<Value>,
}

/// `Subset`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    /// Subset name, e.g. `v1`.
    pub name: String,
    /// Endpoint labels that select the subset's members.
    pub labels: BTreeMap<String, String>,
    /// Policy overriding the rule's.
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `TrafficPolicy` (the parts shadowmesh applies; the rest is accepted and warned about).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS (not supported: warned).
    pub tls: Option<Value>,
    /// Per-port settings (not supported: warned).
    pub port_level_settings: Option<Value>,
    /// Tunnel settings (not supported: warned).
    pub tunnel: Option<Value>,
    /// PROXY protocol (not supported: warned).
    pub proxy_protocol: Option<Value>,
    /// Retry budget (not supported: warned).
    pub retry_budget: Option<Value>,
}

/// `LoadBalancerSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// `ROUND_ROBIN`, `LEAST_REQUEST`, `LEAST_CONN`, `RANDOM`, `PASSTHROUGH`, `UNSPECIFIED`.
    pub simple: Option<String>,
    /// Consistent hashing (not supported: warned).
    pub consistent_hash: Option<Value>,
    /// Locality (ignored: one machine).
    pub locality_lb_setting: Option<Value>,
    /// Warm-up (ignored).
    pub warmup_duration_secs: Option<Value>,
    /// Warm-up (ignored).
    pub warmup: Option<Value>,
}

/// `ConnectionPoolSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    /// Maximum connections per endpoint set (bounds concurrent HTTP/1 requests).
    pub max_connections: Option<i64>,
    /// Connect timeout, e.g. `10s`.
    pub connect_timeout: Option<String>,
    /// Keep-alive (ignored).
    pub tcp_keepalive: Option<Value>,
    /// Maximum connection age (ignored).
    pub max_connection_duration: Option<Value>,
    /// Idle timeout (ignored; see `http.idleTimeout`).
    pub idle_timeout: Option<Value>,
}

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Maximum requests waiting for a connection.
    pub http1_max_pending_requests: Option<i64>,
    /// Maximum concurrent requests to the destination.
    pub http2_max_requests: Option<i64>,
    /// Requests per connection before it is closed (ignored).
    pub max_requests_per_connection: Option<i64>,
    /// Maximum outstanding retries (ignored).
    pub max_retries: Option<i64>,
    /// Idle time before an upstream connection is closed.
    pub idle_timeout: Option<String>,
    /// `DEFAULT`, `DO_NOT_UPGRADE`, `UPGRADE` (ignored).
    pub h2_upgrade_policy: Option<String>,
    /// Use the client's protocol upstream (ignored).
    pub use_client_protocol: Option<bool>,
    /// HTTP/2 streams per connection (ignored).
    pub max_concurrent_streams: Option<i64>,
}

/// `OutlierDetection`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated alias of `consecutive5xxErrors`.
    pub consecutive_errors: Option<i64>,
    /// 5xx answers in a row before ejection.
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<i64>,
    /// 502/503/504 and connection failures in a row before ejection.
    pub consecutive_gateway_errors: Option<i64>,
    /// (ignored)
    pub split_external_local_origin_errors: Option<bool>,
    /// (ignored)
    pub consecutive_local_origin_failures: Option<i64>,
    /// Sweep interval (ignored: ejection is checked on each answer).
    pub interval: Option<String>,
    /// Base ejection time, multiplied by the number of ejections.
    pub base_ejection_time: Option<String>,
    /// Maximum share of endpoints ejected, default 10.
    pub max_ejection_percent: Option<i64>,
    /// Below this share of healthy endpoints, ejection is off (ignored).
    pub min_health_percent: Option<i64>,
}

/// `ServiceEntry.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntrySpec {
    /// Service hosts.
    pub hosts: Vec<String>,
    /// Virtual IPs (ignored).
    pub addresses: Vec<String>,
    /// Service ports.
    pub ports: Vec<ServicePort>,
    /// `MESH_EXTERNAL` or `MESH_INTERNAL` (ignored).
    pub location: Option<String>,
    /// `NONE`, `STATIC`, `DNS`, `DNS_ROUND_ROBIN`.
    pub resolution: Option<String>,
    /// Inline endpoints.
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// Selects `WorkloadEntry`s in the same namespace by labels.
    pub workload_selector: Option<WorkloadSelector>,
    /// Visibility (ignored).
    pub export_to: Option<Value>,
    /// SANs (ignored).
    pub subject_alt_names: Option<Value>,
}

/// `ServicePort`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Port number.
    pub number: u32,
    /// `HTTP`, `HTTP2`, `GRPC`, `HTTPS`, `TCP`, ...
    pub protocol: Option<String>,
    /// Port name (endpoints' `ports` map refers to it).
    pub name: Option<String>,
    /// Port on the endpoints, when it differs.
    pub target_port: Option<u32>,
}

/// `WorkloadSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSelector {
    /// Labels a WorkloadEntry must carry.
    pub labels: BTreeMap<String, String>,
}

/// `WorkloadEntry.spec` (also the shape of a ServiceEntry's inline endpoint).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEntrySpec {
    /// IP address or host name.
    pub address: String,
    /// Port name to port number on this workload.
    pub ports: BTreeMap<String, u32>,
    /// Labels (subset membership, `app`, `version`).
    pub labels: BTreeMap<String, String>,
    /// Network (ignored).
    pub network: Option<String>,
    /// Locality (ignored).
    pub locality: Option<String>,
    /// Load balancing weight (ignored).
    pub weight: Option<u32>,
    /// Service account (ignored).
    pub service_account: Option<String>,
}
