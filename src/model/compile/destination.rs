//! A `Destination` (host, subset, port) to its cluster(s): the host must be a known service
//! with endpoints, the port one of its ports, the subset defined by its DestinationRule. Each
//! (service, port, subset) gets one [`Cluster`], shared by every route that names it.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::sync::Arc;

use crate::config::diag::Reporter;
use crate::config::wire::Destination;
use crate::model::cluster::{Cluster, Endpoint, Protocol};
use crate::model::host::qualify;
use crate::model::services::{Resolution, ServiceDef};
use crate::model::table::ClusterChoice;

use super::Compiler;

impl Compiler<'_> {
    /// The cluster for service `fqdn`, `port` and `subset`, made once.
    pub(super) fn cluster(&mut self, fqdn: &str, port: u16, subset: Option<&str>) -> Arc<Cluster> {
        let key = (fqdn.to_string(), port, subset.map(str::to_string));
        if let Some(c) = self.clusters.get(&key) {
            return c.clone();
        }
        let svc = &self.services[fqdn];
        let port_def = svc.ports.iter().find(|p| p.number == port).cloned();
        let rule = self.rules.get(fqdn);
        let subset_def = subset.and_then(|s| rule.and_then(|r| r.subsets.get(s)));
        let policy = subset_def
            .map(|s| s.policy.clone())
            .or_else(|| rule.map(|r| r.policy.clone()))
            .unwrap_or_default();
        let endpoints = svc
            .endpoints
            .iter()
            .filter(|e| {
                subset_def.is_none_or(|s| s.labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
            })
            .filter_map(|e| {
                let target = port_def.as_ref().map_or(port, |p| e.port_for(p));
                let authority = if e.address.contains(':') {
                    format!("[{}]:{target}", e.address)
                } else {
                    format!("{}:{target}", e.address)
                };
                let authority = authority.parse().ok()?;
                Some(Endpoint::new(
                    authority,
                    e.labels.clone(),
                    e.workload.clone(),
                    e.namespace.clone(),
                ))
            })
            .collect();
        let cluster = Arc::new(Cluster::new(
            fqdn.to_string(),
            svc.name.clone(),
            svc.namespace.clone(),
            port,
            subset.map(str::to_string),
            subset_def.and_then(|s| s.labels.get("version").cloned()),
            port_def.map_or(Protocol::Http1, |p| p.protocol),
            endpoints,
            svc.resolution == Resolution::None && svc.endpoints.is_empty(),
            policy,
        ));
        self.clusters.insert(key, cluster.clone());
        cluster
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
            r.error(
                format!("{field}.host"),
                format!("host {fqdn} has no endpoints: {} lists none", svc.source),
            );
            return None;
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
fn service_port(svc: &ServiceDef, number: u32, r: &mut Reporter<'_>, field: &str) -> Option<u16> {
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
