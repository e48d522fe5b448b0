//! A `Destination` (host, subset, port) to its cluster(s): the host must be a known service
//! with endpoints, the port one of its ports, the subset defined by its DestinationRule. Each
//! (service, port, subset) gets one [`Cluster`], shared by every route that names it.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::sync::Arc;

use crate::config::diag::Reporter;
use crate::config::wire::Destination;
use http::uri::Authority;

use crate::model::cluster::{Cluster, ClusterPolicy, Endpoint, Protocol};
use crate::model::host::qualify;
use crate::model::services::{EndpointDef, Resolution, ServiceDef};
use crate::model::table::ClusterChoice;

use super::Compiler;

impl Compiler<'_> {
    /// The cluster for service `fqdn`, `port` and `subset`, made once; the previous
    /// generation's when nothing it is made of changed (see [`unchanged`]).
    pub(super) fn cluster(&mut self, fqdn: &str, port: u16, subset: Option<&str>) -> Arc<Cluster> {
        let key = (fqdn.to_string(), port, subset.map(str::to_string));
        if let Some(c) = self.clusters.get(&key) {
            return c.clone();
        }
        let svc = &self.services[fqdn];
        let port_def = svc.ports.iter().find(|p| p.number == port);
        let rule = self.rules.get(fqdn);
        let subset_def = subset.and_then(|s| rule.and_then(|r| r.subsets.get(s)));
        let default_policy = ClusterPolicy::default();
        let policy = rule.map_or(&default_policy, |r| r.policy_for(port, subset_def));
        let members: Vec<(Authority, &EndpointDef<'_>)> = svc
            .endpoints
            .iter()
            .filter(|e| {
                subset_def.is_none_or(|s| s.labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
            })
            .filter_map(|e| {
                let target = port_def.map_or(port, |p| e.port_for(p));
                let authority = if e.address.contains(':') {
                    format!("[{}]:{target}", e.address)
                } else {
                    format!("{}:{target}", e.address)
                };
                Some((authority.parse().ok()?, e))
            })
            .collect();
        let made = Made {
            svc,
            port,
            subset,
            version: subset_def.and_then(|s| s.labels.get("version")),
            protocol: port_def.map_or(Protocol::Http1, |p| p.protocol),
            passthrough: svc.resolution == Resolution::None && svc.endpoints.is_empty(),
            policy,
            members: &members,
        };
        let cluster = match self.previous_cluster(fqdn, port, subset) {
            Some(prev) if unchanged(prev, &made) => prev.clone(),
            _ => Arc::new(made.build()),
        };
        self.clusters.insert(key, cluster.clone());
        cluster
    }

    /// The previous generation's cluster for the key (its list is sorted by it).
    fn previous_cluster(
        &self,
        fqdn: &str,
        port: u16,
        subset: Option<&str>,
    ) -> Option<&Arc<Cluster>> {
        let found = self.previous.binary_search_by(|c| {
            (c.service.as_str(), c.port, c.subset.as_deref()).cmp(&(fqdn, port, subset))
        });
        found.ok().map(|i| &self.previous[i])
    }

    /// One cluster per port of service `fqdn` (fixed when it has a single port).
    pub(super) fn all_ports(&mut self, fqdn: &str, subset: Option<&str>) -> Option<ClusterChoice> {
        let ports: Vec<u16> = self
            .services
            .get(fqdn)?
            .ports
            .iter()
            .map(|p| p.number)
            .collect();
        match ports.as_slice() {
            [] => None,
            [one] => Some(ClusterChoice::Fixed(self.cluster(fqdn, *one, subset))),
            many => Some(ClusterChoice::ByPort(
                many.iter()
                    .map(|p| self.cluster(fqdn, *p, subset))
                    .collect(),
            )),
        }
    }

    /// The cluster(s) of destination `d` (at `field`) written in namespace `ns`.
    pub(super) fn destination(
        &mut self,
        d: &Destination,
        ns: &str,
        r: &mut Reporter<'_>,
        field: &str,
    ) -> Option<ClusterChoice> {
        if d.host.is_empty() {
            r.error(format!("{field}.host"), "a destination needs a host");
            return None;
        }
        let fqdn = qualify(&d.host, ns, &self.namespaces);
        let Some(svc) = self.services.get(&fqdn) else {
            r.error_coded(
                "IST0101",
                format!("{field}.host"),
                format!(
                    "Referenced host not found: {:?} ({fqdn} has no endpoints: no ServiceEntry defines it; add one with its endpoints)",
                    d.host
                ),
            );
            return None;
        };
        if svc.endpoints.is_empty() && svc.resolution != Resolution::None {
            // As in Istio: the route stands, and what it sends there gets 503 (`UH`) until the
            // service has endpoints (a Deployment scaled to zero, pods not ready yet); a mirror
            // there is not sent.
            r.warning(
                format!("{field}.host"),
                format!(
                    "host {fqdn} has no endpoints ({} lists none): requests routed to it are answered 503 until it has some",
                    svc.source
                ),
            );
        }
        let port = match &d.port {
            Some(p) => Some(service_port(svc, p.number, r, field)?),
            None => None,
        };
        if let Some(subset) = &d.subset {
            self.check_subset(&fqdn, subset, r, field)?;
        }
        match port {
            Some(p) => Some(ClusterChoice::Fixed(self.cluster(
                &fqdn,
                p,
                d.subset.as_deref(),
            ))),
            None => self.all_ports(&fqdn, d.subset.as_deref()),
        }
    }

    /// `Some(())` when `subset` is defined for `fqdn`; reports it otherwise.
    fn check_subset(
        &self,
        fqdn: &str,
        subset: &str,
        r: &mut Reporter<'_>,
        field: &str,
    ) -> Option<()> {
        let Some(rule) = self.rules.get(fqdn) else {
            r.error_coded(
                "IST0101",
                format!("{field}.subset"),
                format!(
                    "Referenced host+subset in destinationrule not found: \"{fqdn}+{subset}\": no DestinationRule configures host {fqdn}"
                ),
            );
            return None;
        };
        if rule.subsets.contains_key(subset) {
            return Some(());
        }
        let names: Vec<String> = rule.subsets.keys().cloned().collect();
        r.error_coded(
            "IST0101",
            format!("{field}.subset"),
            format!(
                "Referenced host+subset in destinationrule not found: \"{fqdn}+{subset}\" ({} defines {})",
                rule.source,
                names.join(", ")
            ),
        );
        None
    }
}

/// The port `number` of `svc`; reports it when the service has no such port.
fn service_port(
    svc: &ServiceDef<'_>,
    number: u32,
    r: &mut Reporter<'_>,
    field: &str,
) -> Option<u16> {
    if let Some(port) = svc.ports.iter().find(|sp| u32::from(sp.number) == number) {
        return Some(port.number);
    }
    let known: Vec<u16> = svc.ports.iter().map(|p| p.number).collect();
    r.error(
        format!("{field}.port.number"),
        format!(
            "service {} has no port {number} (it has {known:?})",
            svc.fqdn
        ),
    );
    None
}

/// What a cluster is made of, before it is made.
struct Made<'a> {
    svc: &'a ServiceDef<'a>,
    port: u16,
    subset: Option<&'a str>,
    version: Option<&'a String>,
    protocol: Protocol,
    passthrough: bool,
    policy: &'a ClusterPolicy,
    /// The endpoints, each with the authority to connect to.
    members: &'a [(Authority, &'a EndpointDef<'a>)],
}

impl Made<'_> {
    fn build(&self) -> Cluster {
        let endpoints = self
            .members
            .iter()
            .map(|(authority, e)| {
                Endpoint::new(
                    authority.clone(),
                    e.labels.clone(),
                    e.workload.to_string(),
                    e.namespace.to_string(),
                )
            })
            .collect();
        Cluster::new(
            self.svc.fqdn.clone(),
            self.svc.name.clone(),
            self.svc.namespace.clone(),
            self.port,
            self.subset.map(str::to_string),
            self.version.cloned(),
            self.protocol,
            endpoints,
            self.passthrough,
            self.policy.clone(),
        )
    }
}

/// Whether `prev` is what `made` would build. Then it is kept: a change elsewhere (another
/// service, a route) neither copies its endpoints again nor resets its balancing, in-flight
/// and outlier-detection state, as Envoy keeps a cluster whose configuration did not change.
fn unchanged(prev: &Cluster, made: &Made<'_>) -> bool {
    prev.service_name == made.svc.name
        && prev.service_namespace == made.svc.namespace
        && prev.subset_version.as_ref() == made.version
        && prev.protocol == made.protocol
        && prev.passthrough == made.passthrough
        && prev.policy == *made.policy
        && prev.endpoints.len() == made.members.len()
        && prev
            .endpoints
            .iter()
            .zip(made.members)
            .all(|(p, (authority, e))| {
                p.authority.as_str() == authority.as_str()
                    && p.labels == *e.labels
                    && p.workload == e.workload
                    && p.namespace == e.namespace
            })
}
