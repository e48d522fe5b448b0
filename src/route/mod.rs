//! Routing: a pure function from a request head to a [`Decision`] over the compiled
//! [`RouteTable`](crate::model::RouteTable). No sockets, no clocks, no locks: randomness comes in
//! as a `roll` function so tests are exact.
//!
//! Order of work for one request, as Istio's sidecar does it:
//! 1. the host names a virtual host ([`HostIndex`](crate::model::host::HostIndex); 404 when
//!    unknown or ambiguous);
//! 2. the virtual host's routes are tried in order, the first whose match blocks hold wins
//!    (blocks OR'ed, conditions in a block AND'ed, no block = all requests; 404 when none);
//!    blocks on an exact path alone are found by hashing the path
//!    ([`PathIndex`](crate::model::path_index::PathIndex)), with the same answer;
//! 3. a weighted destination is picked ([`Distribution`](crate::model::distribute::Distribution));
//! 4. each mirror is rolled against its percentage, then the route's fault delay and abort
//!    (Envoy's fault filter: parts per million).
//!
//! The matchers and the host index it walks are built by [`crate::model`]; this module imports
//! only `model`, never `config`, and nothing above it (proxy, upstream, telemetry).

#[cfg(test)]
mod find_tests;
#[cfg(test)]
mod props_gen;
#[cfg(test)]
mod props_tests;

use std::sync::Arc;

use crate::model::host::HostLookupError;
use crate::model::http_policy::selected;
use crate::model::{Action, Cluster, Route, RouteDestination, RouteTable, VirtualHost};

pub use crate::model::matchers::RequestHead;

/// Why no upstream was chosen (all are answered 404, with this as the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRoute {
    /// The host is unknown or ambiguous.
    #[error(transparent)]
    Host(#[from] HostLookupError),
    /// The virtual host has no route matching the request.
    #[error("no route of {0} matches this request")]
    NoMatch(String),
    /// The request names a port the service does not have.
    #[error("service {service} has no port {port}")]
    Port {
        /// Service.
        service: String,
        /// Port asked for.
        port: u16,
    },
}

/// What to do with a request.
#[derive(Debug)]
pub struct Decision<'t> {
    /// The virtual host the request's host named.
    pub vhost: &'t VirtualHost,
    /// The route that matched.
    pub route: &'t Route,
    /// Index of `route` in the virtual host (for names like `http[1]`).
    pub route_index: usize,
    /// Index of the match block that held (`None`: the route has none).
    pub matched_block: Option<usize>,
    /// The port the request addressed (explicit or the service's default).
    pub port: Option<u16>,
    /// Where the request goes.
    pub target: Target<'t>,
    /// Bit `i` set: mirror to `route.mirrors[i]`.
    pub mirrors: u64,
    /// The route's fault injection, rolled for this request.
    pub faults: FaultRolls,
}

/// Which of the route's faults apply to this request (each rolled against its share).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultRolls {
    /// Delay it.
    pub delay: bool,
    /// Abort it.
    pub abort: bool,
}

/// The chosen action.
#[derive(Debug)]
pub enum Target<'t> {
    /// Forward to this cluster via this destination.
    Forward {
        /// The weighted destination picked.
        destination: &'t RouteDestination,
        /// Its cluster for the request's port.
        cluster: &'t Arc<Cluster>,
    },
    /// Answer with a redirect or a direct response (see `route.action`).
    Local,
}

impl Decision<'_> {
    /// Each mirror of the route that has a cluster for the request's port, and whether its
    /// percentage selected it for this request.
    pub fn mirror_choices(&self) -> impl Iterator<Item = (&Arc<Cluster>, bool)> + '_ {
        (self.route.mirrors.iter().enumerate())
            .filter_map(|(i, m)| Some((m.target.resolve(self.port)?, self.mirrors & (1 << i) != 0)))
    }

    /// The mirror clusters selected for this request.
    pub fn mirror_clusters(&self) -> impl Iterator<Item = &Arc<Cluster>> + '_ {
        self.mirror_choices()
            .filter_map(|(cluster, selected)| selected.then_some(cluster))
    }
}

/// Routes a request. `roll` returns uniform numbers in `[0, 1)`.
pub fn find<'t>(
    table: &'t RouteTable,
    req: &RequestHead<'_>,
    roll: &mut impl FnMut() -> f64,
) -> Result<Decision<'t>, NoRoute> {
    let vhost_index = table.hosts.lookup(req.host, &table.proxy_namespace)?;
    let vhost = &table.virtual_hosts[vhost_index];
    let port = vhost
        .effective_port(req.port)
        .ok_or_else(|| NoRoute::Port {
            service: vhost.name.clone(),
            port: req.port.unwrap_or(80),
        })?;
    let effective = RequestHead {
        port: Some(port),
        ..*req
    };
    let (route_index, matched_block) = vhost
        .path_index
        .first(&vhost.routes, req.path, |m| m.matches(&effective))
        .ok_or_else(|| NoRoute::NoMatch(vhost.name.clone()))?;
    let route = &vhost.routes[route_index];
    let target = match &route.action {
        Action::Forward(weighted) => {
            let destination = &weighted.destinations[weighted.distribution.pick(roll())];
            let cluster = destination
                .target
                .resolve(Some(port))
                .ok_or_else(|| NoRoute::Port {
                    service: destination.target.service().to_string(),
                    port,
                })?;
            Target::Forward {
                destination,
                cluster,
            }
        }
        Action::Redirect(_) | Action::Direct(_) => Target::Local,
    };
    let mut mirrors = 0u64;
    for (i, m) in route.mirrors.iter().enumerate() {
        if m.percent >= 100.0 || (m.percent > 0.0 && roll() * 100.0 < m.percent) {
            mirrors |= 1 << i;
        }
    }
    let faults = route
        .fault
        .as_ref()
        .map_or(FaultRolls::default(), |f| FaultRolls {
            delay: (f.delay.as_ref()).is_some_and(|d| selected(d.per_million, roll())),
            abort: (f.abort.as_ref()).is_some_and(|a| selected(a.per_million, roll())),
        });
    Ok(Decision {
        vhost,
        route,
        route_index,
        matched_block,
        port: Some(port),
        target,
        mirrors,
        faults,
    })
}
