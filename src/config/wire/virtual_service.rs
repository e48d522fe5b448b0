//! `VirtualService`: hosts and ordered `http` routes (matches, destinations, mirrors, redirects,
//! direct responses, rewrites, header operations); the actions and their options are in
//! `http_action.rs`, the `tls` and `tcp` routes in `l4_route.rs`. Imports nothing of the crate.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    CorsPolicy, Headers, HttpDirectResponse, HttpFaultInjection, HttpRedirect, HttpRetry,
    HttpRewrite, TcpRoute, TlsRoute,
};

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
    /// TLS routes (validated; not proxied: warned).
    pub tls: Vec<TlsRoute>,
    /// TCP routes (validated; not proxied: warned).
    pub tcp: Vec<TcpRoute>,
    /// Visibility: `.`, `*` or namespaces (validated; one proxy sees everything it loads).
    pub export_to: Vec<String>,
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
    pub redirect: Option<Box<HttpRedirect>>,
    /// Answer directly instead of forwarding.
    pub direct_response: Option<Box<HttpDirectResponse>>,
    /// Delegation to another VirtualService (one with no hosts), whose routes replace this one.
    pub delegate: Option<Box<Delegate>>,
    /// Rewrite of the path and authority before forwarding.
    pub rewrite: Option<Box<HttpRewrite>>,
    /// Request timeout, e.g. `10s`, `500ms`.
    pub timeout: Option<String>,
    /// Retries: attempts, per-try timeout and the conditions that retry.
    pub retries: Option<Box<HttpRetry>>,
    /// Fault injection: delays and aborts.
    pub fault: Option<Box<HttpFaultInjection>>,
    /// One mirror destination.
    pub mirror: Option<Destination>,
    /// Several mirror destinations, each with its own percentage (Istio 1.19+).
    pub mirrors: Option<Vec<HttpMirrorPolicy>>,
    /// Legacy integer mirror percentage (deprecated).
    pub mirror_percent: Option<i64>,
    /// Percentage of requests mirrored to `mirror`.
    pub mirror_percentage: Option<Percent>,
    /// CORS: preflights answered, responses marked.
    pub cors_policy: Option<Box<CorsPolicy>>,
    /// Header manipulation for requests and responses.
    pub headers: Option<Box<Headers>>,
}

/// `HTTPMatchRequest`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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
    /// Header matches; keys must be lower-case; a `null` value is refused (use `{}`).
    #[serde(deserialize_with = "no_null_values")]
    pub headers: BTreeMap<String, StringMatch>,
    /// Port the request was addressed to.
    pub port: Option<u32>,
    /// Labels of the source workload (this proxy's `--label`s).
    pub source_labels: BTreeMap<String, String>,
    /// Gateways; only `mesh` applies to shadowmesh.
    pub gateways: Vec<String>,
    /// Query parameter matches.
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

/// A map of `StringMatch`es with no `null` value (Istio: "header match cannot be null").
fn no_null_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, StringMatch>, D::Error> {
    let map = BTreeMap::<String, Option<StringMatch>>::deserialize(d)?;
    map.into_iter()
        .map(|(k, v)| match v {
            Some(v) => Ok((k, v)),
            None => Err(serde::de::Error::custom(format!(
                "header match {k} cannot be null: write {{}} to match any value"
            ))),
        })
        .collect()
}

/// Istio's `StringMatch`: exactly one of `exact`, `prefix`, `regex`; `{}` means "present".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StringMatch {
    /// Whole value equals this.
    pub exact: Option<String>,
    /// Value starts with this (plain string prefix).
    pub prefix: Option<String>,
    /// RE2 regex that must match the whole value.
    pub regex: Option<String>,
}

/// `Delegate`: the VirtualService (with no hosts) an `http` route hands its matching requests to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delegate {
    /// Name of the delegate VirtualService.
    pub name: Option<String>,
    /// Its namespace; absent means the root's namespace.
    pub namespace: Option<String>,
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
    pub headers: Option<Box<Headers>>,
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
