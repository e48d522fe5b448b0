//! DestinationRules: a host's subsets (labels selecting endpoints) and the traffic policy of the
//! rule and of each subset, for every port and for the ports `portLevelSettings` names (as
//! Istio's `MergeSubsetTrafficPolicy`: the rule's port settings, else its policy; then the
//! subset's port settings replace that whole, else the subset's policy overrides it field by
//! field). One rule per host.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::collections::BTreeMap;

use crate::config::diag::Reporter;
use crate::config::wire::{DestinationRuleSpec, Subset, TrafficPolicy};
use crate::config::{Diagnostic, Resource};
use crate::model::cluster::ClusterPolicy;
use crate::model::host::qualify;
use crate::model::services::{Resolution, ServiceDef};

use super::Compiler;
use super::traffic_policy::{merge_policy, port_policy};

/// A subset: the labels its endpoints carry and its merged policy.
pub(super) struct SubsetDef {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) policy: ClusterPolicy,
    /// The policy of the ports that port-level settings (the rule's or the subset's) name.
    pub(super) ports: BTreeMap<u16, ClusterPolicy>,
}

/// The rule of one host.
pub(super) struct RuleDef {
    /// `DestinationRule ns/name`, for messages.
    pub(super) source: String,
    pub(super) policy: ClusterPolicy,
    /// The policy of the ports the rule's `portLevelSettings` name.
    pub(super) ports: BTreeMap<u16, ClusterPolicy>,
    pub(super) subsets: BTreeMap<String, SubsetDef>,
    /// Where its namespace is on the lookup path (see [`lookup_rank`]).
    rank: u8,
}

/// Istio's root configuration namespace.
const ROOT_NAMESPACE: &str = "istio-system";

/// Where a DestinationRule in namespace `ns` stands on Istio's lookup path for a service of
/// `service_ns` seen from a proxy in `proxy_ns`: the client's namespace first, then the
/// service's, then the root namespace. `None`: not on the path, so it applies to nothing here
/// (whatever its `exportTo`).
fn lookup_rank(ns: &str, proxy_ns: &str, service_ns: &str) -> Option<u8> {
    if ns == proxy_ns {
        Some(0)
    } else if ns == service_ns {
        Some(1)
    } else if ns == ROOT_NAMESPACE {
        Some(2)
    } else {
        None
    }
}

impl RuleDef {
    /// The policy of service port `port`, narrowed to `subset` when given.
    pub(super) fn policy_for<'a>(
        &'a self,
        port: u16,
        subset: Option<&'a SubsetDef>,
    ) -> &'a ClusterPolicy {
        match subset {
            Some(s) => s.ports.get(&port).unwrap_or(&s.policy),
            None => self.ports.get(&port).unwrap_or(&self.policy),
        }
    }
}

impl Compiler<'_> {
    /// Records the rule `dr` for its host.
    pub(super) fn add_rule(
        &mut self,
        dr: &Resource<DestinationRuleSpec>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut r = Reporter::new(diags, dr.file.clone(), dr.id.to_string());
        if dr.spec.host.is_empty() {
            return; // validation's error
        }
        let host = qualify(&dr.spec.host, &dr.id.namespace, &self.namespaces);
        let Some(service) = self.services.get(&host) else {
            r.warning_coded(
                "IST0174",
                "spec.host",
                format!(
                    "The host {host} defined in the DestinationRule does not match any services in the mesh (no ServiceEntry defines it), so this rule applies to nothing"
                ),
            );
            return;
        };
        for (field, set) in [
            ("exportTo", !dr.spec.export_to.is_empty()),
            (
                "workloadSelector",
                // Without labels, validation has warned already.
                dr.spec
                    .workload_selector
                    .as_ref()
                    .is_some_and(|s| !s.match_labels.is_empty()),
            ),
        ] {
            if set {
                r.warning(
                    format!("spec.{field}"),
                    "not acted on by shadowmesh (the rule applies to this proxy); ignored",
                );
            }
        }
        let proxy_ns = &self.identity.namespace;
        let Some(rank) = lookup_rank(&dr.id.namespace, proxy_ns, &service.namespace) else {
            r.warning(
                "metadata.namespace",
                format!(
                    "applies to nothing here: Istio looks a DestinationRule up in the client's namespace ({proxy_ns}), the service's ({}) and {ROOT_NAMESPACE}, in that order",
                    service.namespace
                ),
            );
            return;
        };
        if let Some(first) = self.rules.get(&host).filter(|prev| prev.rank < rank) {
            r.warning(
                "metadata.namespace",
                format!("{} comes first for host {host} (nearer on Istio's lookup path); this one is not used", first.source),
            );
            return;
        }
        let tp = dr.spec.traffic_policy.as_ref();
        let policy = merge_policy(&ClusterPolicy::default(), tp, &mut r, "spec.trafficPolicy");
        let ports = port_policies(tp, &mut r, "spec.trafficPolicy");
        let subsets = subsets(&dr.spec.subsets, service, (&policy, &ports), &mut r);
        let def = RuleDef {
            source: dr.id.to_string(),
            policy,
            ports,
            subsets,
            rank,
        };
        if let Some(prev) = self.rules.insert(host.clone(), def)
            && prev.rank == rank
        {
            r.error(
                "spec.host",
                format!(
                    "{} already configures host {host}; merge the two rules",
                    prev.source
                ),
            );
        }
    }
}

/// The subsets of a rule for `service`, each with `policy` overridden by its own. Names
/// (empty, duplicate) are validation's to report; the first of two subsets with one name wins.
fn subsets(
    wire: &[Subset],
    service: &ServiceDef<'_>,
    (policy, rule_ports): (&ClusterPolicy, &BTreeMap<u16, ClusterPolicy>),
    r: &mut Reporter<'_>,
) -> BTreeMap<String, SubsetDef> {
    let mut subsets = BTreeMap::new();
    for (i, s) in wire.iter().enumerate() {
        let field = format!("spec.subsets[{i}]");
        if s.name.is_empty() || subsets.contains_key(&s.name) {
            continue;
        }
        let tp = s.traffic_policy.as_ref();
        let f = format!("{field}.trafficPolicy");
        let subset_policy = merge_policy(policy, tp, r, &f);
        let mut ports = port_policies(tp, r, &f);
        // The subset's policy over the rule's port settings: reported once above already.
        let mut repeated = Vec::new();
        let mut quiet = Reporter::new(&mut repeated, r.file().to_path_buf(), String::new());
        for (port, rule_port) in rule_ports {
            (ports.entry(*port)).or_insert_with(|| merge_policy(rule_port, tp, &mut quiet, &f));
        }
        let members = service
            .endpoints
            .iter()
            .filter(|e| s.labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
            .count();
        if members == 0 && service.resolution != Resolution::None {
            r.warning_coded(
                "IST0173",
                format!("{field}.labels"),
                format!(
                    "The Subset {} defined in the DestinationRule does not select any pods (endpoints of {}): requests routed to it get 503 UH",
                    s.name, service.fqdn
                ),
            );
        }
        let def = SubsetDef {
            labels: s.labels.clone(),
            policy: subset_policy,
            ports,
        };
        subsets.insert(s.name.clone(), def);
    }
    subsets
}

/// The policies `portLevelSettings` of `tp` (at `f`) give their ports, each replacing the
/// policy whole; the first entry for a port wins (as Istio looks it up).
fn port_policies(
    tp: Option<&TrafficPolicy>,
    r: &mut Reporter<'_>,
    f: &str,
) -> BTreeMap<u16, ClusterPolicy> {
    let mut ports = BTreeMap::new();
    let settings = tp.and_then(|tp| tp.port_level_settings.as_deref());
    for (i, p) in settings.unwrap_or_default().iter().enumerate() {
        let Some(port) = (p.port.as_ref()).and_then(|s| u16::try_from(s.number).ok()) else {
            continue; // validation's error
        };
        if ports.contains_key(&port) {
            continue;
        }
        let field = format!("{f}.portLevelSettings[{i}]");
        let policy = merge_policy(&ClusterPolicy::default(), Some(&port_policy(p)), r, &field);
        ports.insert(port, policy);
    }
    ports
}
