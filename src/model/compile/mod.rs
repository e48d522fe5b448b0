//! Compiling a [`ConfigSet`] into a [`RouteTable`]: hosts qualified, subsets resolved to
//! endpoints, regexes built, weights and percentages checked. Every problem becomes a
//! [`Diagnostic`] naming file, resource and field; compilation goes on so all are reported.
//!
//! - this file: the [`compile`] entry, [`ProxyIdentity`], default routes;
//! - [`destination_rule`]: subsets, per-host rules and per-port settings;
//! - [`traffic_policy`]: `trafficPolicy` to a cluster policy;
//! - [`tls`]: its `tls` to an upstream TLS setting, the certificate files read;
//! - [`destination`]: a `Destination` to its cluster(s);
//! - [`virtual_service`]: a VirtualService to a virtual host;
//! - [`delegate`]: a root route with `delegate` as its child's routes, merged by
//!   [`delegate_merge`] as Istio merges them;
//! - [`http_route`]: one `http` route (matches, action, timeout, rewrite);
//! - [`http_policy`]: its `fault` and `corsPolicy`;
//! - [`forward`]: weighted destinations and mirrors;
//! - [`local_response`]: `redirect` and `directResponse`;
//! - [`header_ops`]: header `set`/`add`/`remove`.
//!
//! Imports only [`crate::config`] and the rest of [`crate::model`]; never `route`.

mod delegate;
mod delegate_merge;
#[cfg(test)]
mod delegate_merge_tests;
#[cfg(test)]
mod delegate_tests;
mod destination;
mod destination_rule;
#[cfg(test)]
mod destination_tests;
mod forward;
mod header_ops;
mod http_policy;
mod http_route;
mod local_response;
mod tls;
#[cfg(test)]
mod tls_tests;
mod traffic_policy;
#[cfg(test)]
mod traffic_policy_tests;
mod virtual_service;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::config::diag::Reporter;
use crate::config::{ConfigSet, Diagnostic};

use super::cluster::Cluster;
use super::distribute::Distribution;
use super::path_index::PathIndex;
use super::retry::RetryPolicy;
use super::services::{ServiceDef, build_services, namespaces};
use super::table::{
    Action, HeaderRules, Route, RouteDestination, RouteTable, VirtualHost, WeightedDestinations,
};
use destination_rule::RuleDef;

/// Who this proxy is: decides `sourceLabels`, `sourceNamespace` and short-name lookups.
#[derive(Debug, Clone)]
pub struct ProxyIdentity {
    /// `--namespace`.
    pub namespace: String,
    /// `--label k=v`.
    pub labels: BTreeMap<String, String>,
}

impl Default for ProxyIdentity {
    fn default() -> Self {
        Self {
            namespace: "default".into(),
            labels: BTreeMap::new(),
        }
    }
}

/// The annotation listing JSON paths and headers the comparison ignores.
pub const COMPARE_IGNORE_ANNOTATION: &str = "shadowmesh.io/compare-ignore";

/// The annotation listing JSON paths of arrays the comparison compares as sets.
pub const COMPARE_UNORDERED_ANNOTATION: &str = "shadowmesh.io/compare-unordered";
/// Annotation on a VirtualService: the methods its routes mirror (`GET,HEAD`, `all`, `none`).
pub const MIRROR_METHODS_ANNOTATION: &str = "shadowmesh.io/mirror-methods";
/// Annotation on a VirtualService: the methods whose mirrored answers are compared.
pub const COMPARE_METHODS_ANNOTATION: &str = "shadowmesh.io/compare-methods";

/// At most this many mirrors per route.
pub const MAX_MIRRORS: usize = 64;

/// What compiling one config set has learned so far: services, rules and the clusters made.
struct Compiler<'a> {
    services: BTreeMap<String, ServiceDef<'a>>,
    rules: HashMap<String, RuleDef>,
    namespaces: BTreeSet<String>,
    identity: &'a ProxyIdentity,
    clusters: HashMap<(String, u16, Option<String>), Arc<Cluster>>,
    /// The previous generation's clusters ([`Prior::clusters`]).
    previous: &'a [Arc<Cluster>],
}

/// What a compile may take from before it: the validation already done, the clusters made.
#[derive(Debug, Clone, Copy)]
pub struct Prior<'a> {
    /// Whether to run Istio's per-resource validation first.
    pub validation: Validation,
    /// The previous generation's clusters, sorted as [`RouteTable::clusters`] is: each one
    /// that would be made the same is kept (its state too).
    pub clusters: &'a [Arc<Cluster>],
}

impl Default for Prior<'_> {
    fn default() -> Self {
        Self {
            validation: Validation::Run,
            clusters: &[],
        }
    }
}

/// Whether [`compile_set`] runs Istio's per-resource validation first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Validate every resource, then compile (files, `validate`).
    Run,
    /// Each resource was validated on its own already and its warnings are in `diags`
    /// (Kubernetes mode checks each object alone and keeps the result while it is unchanged).
    AlreadyDone,
}

/// Compiles `set`. Returns the table when there is no error; diagnostics (warnings included)
/// are pushed to `diags` either way.
pub fn compile(
    set: &ConfigSet,
    identity: &ProxyIdentity,
    diags: &mut Vec<Diagnostic>,
) -> Option<RouteTable> {
    compile_set(set, identity, diags, Prior::default())
}

/// [`compile`], with what is known from before.
pub fn compile_set<'a>(
    set: &'a ConfigSet,
    identity: &'a ProxyIdentity,
    diags: &mut Vec<Diagnostic>,
    prior: Prior<'a>,
) -> Option<RouteTable> {
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    crate::config::check_duplicates(set, diags);
    let validated_from = diags.len();
    if prior.validation == Validation::Run {
        super::validation::validate(set, diags);
    }
    let compiled_from = diags.len();
    let namespaces = namespaces(set, &identity.namespace);
    let services = build_services(set, &namespaces, diags);
    let mut c = Compiler {
        services,
        rules: HashMap::new(),
        namespaces,
        identity,
        clusters: HashMap::new(),
        previous: prior.clusters,
    };
    for dr in &set.destination_rules {
        c.add_rule(dr, diags);
    }
    let mut table = RouteTable {
        proxy_namespace: identity.namespace.clone(),
        ..Default::default()
    };
    c.add_virtual_services(set, &mut table, diags);
    c.add_default_routes(&mut table);
    table.virtual_hosts.shrink_to_fit();
    let mut clusters: Vec<Arc<Cluster>> = c.clusters.into_values().collect();
    clusters.sort_by(|a, b| (&a.service, a.port, &a.subset).cmp(&(&b.service, b.port, &b.subset)));
    table.clusters = clusters;
    one_error_per_field(diags, validated_from, compiled_from);
    let errors_after = diags.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(table)
}

/// Validation (`diags[validated..compiled]`) and the compiler (`diags[compiled..]`) check some
/// of the same things: where both found an error at the same field (or validation's is inside
/// the compiler's, e.g. `spec.http[0].route` in `spec.http[0]`), the compiler's is kept, so the
/// user reads each problem once and in the compiler's order.
fn one_error_per_field(diags: &mut Vec<Diagnostic>, validated: usize, compiled: usize) {
    let nested = |a: &str, b: &str| {
        a.strip_prefix(b)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    let compiler: Vec<(Option<String>, String)> = diags[compiled..]
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.resource.clone(), d.field.clone().unwrap_or_default()))
        .collect();
    let mut index = 0;
    diags.retain(|d| {
        let i = index;
        index += 1;
        if !(validated..compiled).contains(&i) || !d.is_error() {
            return true;
        }
        let field = d.field.as_deref().unwrap_or_default();
        !compiler
            .iter()
            .any(|(resource, f)| *resource == d.resource && nested(field, f))
    });
}

impl Compiler<'_> {
    /// One virtual host per VirtualService that applies to this proxy; a host routed twice is
    /// an error.
    fn add_virtual_services(
        &mut self,
        set: &ConfigSet,
        table: &mut RouteTable,
        diags: &mut Vec<Diagnostic>,
    ) {
        table.virtual_hosts.reserve(set.virtual_services.len());
        for vs in &set.virtual_services {
            if let Some(vhost) = self.virtual_service(vs, &set.virtual_services, diags) {
                let index = table.virtual_hosts.len();
                let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
                for (i, host) in vhost.hosts.iter().enumerate() {
                    // A host twice in one VirtualService is validation's error.
                    let again = vhost.hosts[..i].contains(host);
                    if !table.hosts.insert(host, index) && !again {
                        let other = table.virtual_hosts.iter().find(|v| v.hosts.contains(host));
                        let other = other.map_or("another VirtualService", |v| v.name.as_str());
                        r.error_coded(
                            "IST0109",
                            format!("spec.hosts[{i}]"),
                            format!(
                                "The VirtualServices {other} and {} define the same host {host}, which can lead to undefined behavior; merge them into one resource",
                                vs.id
                            ),
                        );
                    }
                }
                table.virtual_hosts.push(vhost);
            }
        }
    }

    /// Services no VirtualService names get Istio's default route: all traffic, all endpoints.
    fn add_default_routes(&mut self, table: &mut RouteTable) {
        let fqdns: Vec<String> = self.services.keys().cloned().collect();
        for fqdn in fqdns {
            let index = table.virtual_hosts.len();
            if table.hosts.find(&fqdn, &self.identity.namespace).is_some() {
                continue;
            }
            let ports = self.services[&fqdn]
                .ports
                .iter()
                .map(|p| p.number)
                .collect();
            let Some(choice) = self.all_ports(&fqdn, None) else {
                continue;
            };
            let Some(distribution) = Distribution::new(&[1]) else {
                continue;
            };
            let routes = vec![Route {
                name: "default".into(),
                matches: Vec::new(),
                action: Action::Forward(WeightedDestinations {
                    destinations: vec![RouteDestination {
                        target: choice,
                        weight: 100,
                        headers: HeaderRules::default(),
                    }],
                    distribution,
                }),
                mirrors: Vec::new(),
                timeout: None,
                rewrite: None,
                headers: HeaderRules::default(),
                fault: None,
                cors: None,
                // Istio's default route has its default retry policy too.
                retry: Some(RetryPolicy::istio_default()),
            }];
            table.virtual_hosts.push(VirtualHost {
                name: format!("{fqdn} (default route)"),
                hosts: vec![fqdn.clone()],
                source: None,
                ports,
                path_index: PathIndex::new(&routes),
                routes,
                compare_ignore: Arc::new(Vec::new()),
                compare_unordered: Arc::new(Vec::new()),
                mirror_methods: None,
                compare_methods: None,
            });
            table.hosts.insert(&fqdn, index);
        }
    }
}
