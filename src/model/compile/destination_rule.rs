//! DestinationRules: a host's subsets (labels selecting endpoints) and the traffic policy of the
//! rule and of each subset. One rule per host.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::collections::BTreeMap;

use crate::config::diag::Reporter;
use crate::config::wire::{DestinationRuleSpec, Subset};
use crate::config::{Diagnostic, Resource};
use crate::model::cluster::ClusterPolicy;
use crate::model::host::qualify;
use crate::model::services::{Resolution, ServiceDef};

use super::Compiler;
use super::traffic_policy::merge_policy;

/// A subset: the labels its endpoints carry and its merged policy.
pub(super) struct SubsetDef {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) policy: ClusterPolicy,
}

/// The rule of one host.
pub(super) struct RuleDef {
    /// `DestinationRule ns/name`, for messages.
    pub(super) source: String,
    pub(super) policy: ClusterPolicy,
    pub(super) subsets: BTreeMap<String, SubsetDef>,
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
        let policy = merge_policy(
            &ClusterPolicy::default(),
            dr.spec.traffic_policy.as_ref(),
            &mut r,
            "spec.trafficPolicy",
        );
        let subsets = subsets(&dr.spec.subsets, service, &policy, &mut r);
        let def = RuleDef {
            source: dr.id.to_string(),
            policy,
            subsets,
        };
        if let Some(prev) = self.rules.insert(host.clone(), def) {
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
    service: &ServiceDef,
    policy: &ClusterPolicy,
    r: &mut Reporter<'_>,
) -> BTreeMap<String, SubsetDef> {
    let mut subsets = BTreeMap::new();
    for (i, s) in wire.iter().enumerate() {
        let field = format!("spec.subsets[{i}]");
        if s.name.is_empty() || subsets.contains_key(&s.name) {
            continue;
        }
        let subset_policy = merge_policy(
            policy,
            s.traffic_policy.as_ref(),
            r,
            &format!("{field}.trafficPolicy"),
        );
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
        };
        subsets.insert(s.name.clone(), def);
    }
    subsets
}
