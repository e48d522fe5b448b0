//! The compiled route table: everything `route::find` walks, built once per config
//! generation by [`crate::model::compile`] and never changed afterwards.
//! Imports only `config` (resource ids) and `model`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};

use super::cluster::Cluster;
use super::distribute::Distribution;
use super::host::HostIndex;
use super::http_policy::{Cors, Fault};
use super::matchers::RequestMatch;
use super::path_index::PathIndex;
use super::retry::RetryPolicy;
use crate::config::ResourceId;
use crate::model::methods::MethodSet;

/// All virtual hosts, their routes and the clusters they use.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Request host to virtual host index.
    pub hosts: HostIndex<usize>,
    /// Virtual hosts: one per VirtualService, one per service without one.
    pub virtual_hosts: Vec<VirtualHost>,
    /// Every cluster, once.
    pub clusters: Vec<Arc<Cluster>>,
    /// The proxy's namespace (short names resolve here first).
    pub proxy_namespace: String,
}

/// A set of hosts sharing one ordered list of routes.
#[derive(Debug)]
pub struct VirtualHost {
    /// `VirtualService ns/name`, or the service host for a default route.
    pub name: String,
    /// Qualified hosts.
    pub hosts: Vec<String>,
    /// The VirtualService it came from (none for a default route).
    pub source: Option<ResourceId>,
    /// Ports of the service the hosts name (empty: any port).
    pub ports: Vec<u16>,
    /// Routes, tried in order.
    pub routes: Vec<Route>,
    /// The routes' exact-path blocks hashed ([`PathIndex::first`] tries them in order).
    pub path_index: PathIndex,
    /// JSON paths and headers the comparison ignores (annotation `shadowmesh.io/compare-ignore`).
    pub compare_ignore: Arc<Vec<String>>,
    /// JSON paths of arrays the comparison compares as sets (annotation
    /// `shadowmesh.io/compare-unordered`).
    pub compare_unordered: Arc<Vec<String>>,
    /// Methods mirrored on these routes (annotation `shadowmesh.io/mirror-methods`; `None`: the
    /// proxy-wide `--mirror-methods`).
    pub mirror_methods: Option<MethodSet>,
    /// Methods compared (annotation `shadowmesh.io/compare-methods`; `None`: the proxy-wide
    /// `--compare-methods`).
    pub compare_methods: Option<MethodSet>,
}

impl VirtualHost {
    /// The port a request addresses: its explicit port if the service has it, else the service's
    /// port 80 or first port. `None` when the request names a port the service lacks.
    pub fn effective_port(&self, requested: Option<u16>) -> Option<u16> {
        match (requested, self.ports.as_slice()) {
            (Some(p), []) => Some(p),
            (None, []) => Some(80),
            (Some(p), ports) => ports.contains(&p).then_some(p),
            (None, ports) => Some(if ports.contains(&80) { 80 } else { ports[0] }),
        }
    }
}

/// One `http` route.
#[derive(Debug)]
pub struct Route {
    /// `name`, or `http[i]` (shared: every exchange on the route carries it).
    pub name: std::sync::Arc<str>,
    /// Match blocks, OR'ed; empty matches all.
    pub matches: Vec<RequestMatch>,
    /// What to do.
    pub action: Action,
    /// Mirrors, each with its percentage.
    pub mirrors: Vec<MirrorPolicy>,
    /// Request timeout (none: the proxy-wide limit; zero: no limit, as Istio's `0s`).
    pub timeout: Option<Duration>,
    /// Path and authority rewrite (boxed, as `cors`: most routes have neither, and a route's
    /// size is paid by every route of every host).
    pub rewrite: Option<Box<Rewrite>>,
    /// Route-level header operations.
    pub headers: HeaderRules,
    /// `fault`: delays and aborts injected before forwarding.
    pub fault: Option<Fault>,
    /// `corsPolicy`: preflights answered, responses marked.
    pub cors: Option<Box<Cors>>,
    /// `retries` (Istio's default when absent); `None`: each request is tried once.
    pub retry: Option<RetryPolicy>,
}

/// What a route does.
#[derive(Debug)]
pub enum Action {
    /// Forward to one of the weighted destinations.
    Forward(WeightedDestinations),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer directly.
    Direct(DirectResponse),
}

/// Weighted destinations and their precomputed distribution.
#[derive(Debug)]
pub struct WeightedDestinations {
    /// Destinations, in order.
    pub destinations: Vec<RouteDestination>,
    /// Choice by weight.
    pub distribution: Distribution,
}

/// One destination of a route.
#[derive(Debug)]
pub struct RouteDestination {
    /// The cluster(s).
    pub target: ClusterChoice,
    /// Weight as configured (or 100 for a lone destination).
    pub weight: u64,
    /// Destination-level header operations.
    pub headers: HeaderRules,
}

/// A destination's cluster: fixed, or by the request's port for a multi-port service named
/// without a port.
#[derive(Debug, Clone)]
pub enum ClusterChoice {
    /// One cluster.
    Fixed(Arc<Cluster>),
    /// One cluster per service port.
    ByPort(Vec<Arc<Cluster>>),
}

impl ClusterChoice {
    /// The cluster for the request's port.
    pub fn resolve(&self, port: Option<u16>) -> Option<&Arc<Cluster>> {
        match self {
            Self::Fixed(c) => Some(c),
            Self::ByPort(clusters) => match port {
                Some(p) => clusters.iter().find(|c| c.port == p),
                None => clusters.first(),
            },
        }
    }

    /// The service host.
    pub fn service(&self) -> &str {
        match self {
            Self::Fixed(c) => &c.service,
            Self::ByPort(cs) => cs.first().map_or("", |c| c.service.as_str()),
        }
    }

    /// All clusters it may resolve to.
    pub fn clusters(&self) -> &[Arc<Cluster>] {
        match self {
            Self::Fixed(c) => std::slice::from_ref(c),
            Self::ByPort(cs) => cs,
        }
    }
}

/// One mirror of a route.
#[derive(Debug)]
pub struct MirrorPolicy {
    /// Mirror cluster(s).
    pub target: ClusterChoice,
    /// Share of requests mirrored, 0 to 100.
    pub percent: f64,
}

/// Header operations for requests and responses.
#[derive(Debug, Clone, Default)]
pub struct HeaderRules {
    /// On the upstream request.
    pub request: HeaderOps,
    /// On the response to the client.
    pub response: HeaderOps,
    /// `:authority` (or `Host`) given to `set` or `add` of the request: a host rewrite, as
    /// Istio makes it (`set` wins over `add`).
    pub authority: Option<HeaderValue>,
}

/// `set`, `add`, `remove`.
#[derive(Debug, Clone, Default)]
pub struct HeaderOps {
    /// Overwrite.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Append.
    pub add: Vec<(HeaderName, HeaderValue)>,
    /// Remove.
    pub remove: Vec<HeaderName>,
}

impl HeaderOps {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Applies the operations (remove, then set, then add, as Envoy orders them).
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// `rewrite`.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// New path (or new prefix when the route matched by prefix).
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<HeaderValue>,
    /// `uriRegexRewrite` (wins over `uri`).
    pub regex: Option<RegexRewrite>,
}

/// `uriRegexRewrite`, as Envoy's `regex_rewrite`: every match of `pattern` in the path (the
/// query aside) is replaced by `substitution`.
#[derive(Debug, Clone)]
pub struct RegexRewrite {
    /// The RE2 pattern.
    pub pattern: std::sync::Arc<regex::Regex>,
    /// The replacement in the `regex` crate's syntax (`\1` written as `${1}`).
    pub substitution: String,
}

impl RegexRewrite {
    /// The path and query after the rewrite (the query is kept as is).
    pub fn apply(&self, path: &str, query: Option<&str>) -> String {
        let mut out = self
            .pattern
            .replace_all(path, self.substitution.as_str())
            .into_owned();
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

/// `redirect`.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// New path.
    pub uri: Option<String>,
    /// Replaces the matched prefix of the path (`prefixRewrite`).
    pub prefix_rewrite: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// New port.
    pub port: RedirectPort,
    /// New scheme.
    pub scheme: Option<String>,
    /// Status (301 by default).
    pub status: http::StatusCode,
}

/// The port of a redirect's `Location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectPort {
    /// None set, or `derivePort: FROM_PROTOCOL_DEFAULT`: the request's host as it came (its
    /// port dropped when the scheme changes away from its default).
    #[default]
    Unset,
    /// `derivePort: FROM_REQUEST_PORT`: the port the request was addressed to.
    FromRequest,
    /// `port`.
    Fixed(u16),
}

/// `directResponse`.
#[derive(Debug, Clone)]
pub struct DirectResponse {
    /// Status.
    pub status: http::StatusCode,
    /// Body.
    pub body: Bytes,
}
