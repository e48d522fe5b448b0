//! Compiling a [`ConfigSet`] into a [`RouteTable`]: hosts qualified, subsets resolved to
//! endpoints, regexes built, weights and percentages checked. Every problem becomes a
//! [`Diagnostic`] naming file, resource and field; compilation goes on so all are reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};

use crate::config::diag::Reporter;
use crate::config::wire::{self, Destination, HttpRoute};
use crate::config::{ConfigSet, Diagnostic, Resource};

use super::cluster::{Cluster, ClusterPolicy, Endpoint};
use super::distribute::Distribution;
use super::duration::parse_duration;
use super::host::qualify;
use super::matchers::RequestMatch;
use super::matchers::request::InvalidRequestMatch;
use super::policy::merge_policy;
use super::services::{Resolution, ServiceDef, build_services, namespaces};
use super::table::{
    Action, ClusterChoice, DirectResponse, HeaderOps, HeaderRules, MirrorPolicy, Redirect, Rewrite,
    Route, RouteDestination, RouteTable, VirtualHost, WeightedDestinations,
};

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

/// At most this many mirrors per route.
pub const MAX_MIRRORS: usize = 64;

struct SubsetDef {
    labels: BTreeMap<String, String>,
    policy: ClusterPolicy,
}

struct RuleDef {
    source: String,
    policy: ClusterPolicy,
    subsets: BTreeMap<String, SubsetDef>,
}

struct Compiler<'a> {
    services: BTreeMap<String, ServiceDef>,
    rules: HashMap<String, RuleDef>,
    namespaces: BTreeSet<String>,
    identity: &'a ProxyIdentity,
    clusters: HashMap<(String, u16, Option<String>), Arc<Cluster>>,
}

/// Compiles `set`. Returns the table when there is no error; diagnostics (warnings included)
/// are pushed to `diags` either way.
pub fn compile(
    set: &ConfigSet,
    identity: &ProxyIdentity,
    diags: &mut Vec<Diagnostic>,
) -> Option<RouteTable> {
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    crate::config::load::check_duplicates(set, diags);
    let namespaces = namespaces(set, &identity.namespace);
    let services = build_services(set, &namespaces, diags);
    let mut c = Compiler {
        services,
        rules: HashMap::new(),
        namespaces,
        identity,
        clusters: HashMap::new(),
    };
    for dr in &set.destination_rules {
        c.add_rule(dr, diags);
    }
    let mut table = RouteTable {
        proxy_namespace: identity.namespace.clone(),
        ..Default::default()
    };
    for vs in &set.virtual_services {
        if let Some(vhost) = c.virtual_service(vs, diags) {
            let index = table.virtual_hosts.len();
            let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
            for (i, host) in vhost.hosts.iter().enumerate() {
                if !table.hosts.insert(host, index) {
                    r.error(
                        format!("spec.hosts[{i}]"),
                        format!(
                            "host {host} is already routed by another VirtualService; merge the two"
                        ),
                    );
                }
            }
            table.virtual_hosts.push(vhost);
        }
    }
    // Services no VirtualService names get Istio's default route: all traffic, all endpoints.
    let fqdns: Vec<String> = c.services.keys().cloned().collect();
    for fqdn in fqdns {
        let index = table.virtual_hosts.len();
        if table.hosts.lookup(&fqdn, &identity.namespace).is_ok() {
            continue;
        }
        let svc = &c.services[&fqdn];
        let ports = svc.ports.iter().map(|p| p.number).collect();
        let choice = c.all_ports(&fqdn, None);
        let Some(choice) = choice else { continue };
        let Some(distribution) = Distribution::new(&[1]) else {
            continue;
        };
        table.virtual_hosts.push(VirtualHost {
            name: format!("{fqdn} (default route)"),
            hosts: vec![fqdn.clone()],
            source: None,
            ports,
            routes: vec![Route {
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
            }],
            compare_ignore: Arc::new(Vec::new()),
        });
        table.hosts.insert(&fqdn, index);
    }
    let mut clusters: Vec<Arc<Cluster>> = c.clusters.into_values().collect();
    clusters.sort_by(|a, b| (&a.service, a.port, &a.subset).cmp(&(&b.service, b.port, &b.subset)));
    table.clusters = clusters;
    let errors_after = diags.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(table)
}

impl Compiler<'_> {
    fn add_rule(&mut self, dr: &Resource<wire::DestinationRuleSpec>, diags: &mut Vec<Diagnostic>) {
        let mut r = Reporter::new(diags, dr.file.clone(), dr.id.to_string());
        let host = qualify(&dr.spec.host, &dr.id.namespace, &self.namespaces);
        if dr.spec.host.is_empty() {
            r.error("spec.host", "a DestinationRule needs a host");
            return;
        }
        let Some(service) = self.services.get(&host) else {
            r.warning(
                "spec.host",
                format!("host {host} has no ServiceEntry, so this rule applies to nothing"),
            );
            return;
        };
        let policy = merge_policy(
            &ClusterPolicy::default(),
            dr.spec.traffic_policy.as_ref(),
            &mut r,
            "spec.trafficPolicy",
        );
        let mut subsets = BTreeMap::new();
        for (i, s) in dr.spec.subsets.iter().enumerate() {
            let field = format!("spec.subsets[{i}]");
            if s.name.is_empty() {
                r.error(format!("{field}.name"), "a subset needs a name");
                continue;
            }
            let subset_policy = merge_policy(
                &policy,
                s.traffic_policy.as_ref(),
                &mut r,
                &format!("{field}.trafficPolicy"),
            );
            let members = service
                .endpoints
                .iter()
                .filter(|e| s.labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
                .count();
            if members == 0 && service.resolution != Resolution::None {
                r.warning(
                    format!("{field}.labels"),
                    format!(
                        "subset {} selects no endpoint of {host}: requests routed to it get 503",
                        s.name
                    ),
                );
            }
            let def = SubsetDef {
                labels: s.labels.clone(),
                policy: subset_policy,
            };
            if subsets.insert(s.name.clone(), def).is_some() {
                r.error(
                    format!("{field}.name"),
                    format!("subset {} is defined twice", s.name),
                );
            }
        }
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

    fn cluster(&mut self, fqdn: &str, port: u16, subset: Option<&str>) -> Arc<Cluster> {
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
            port_def.map_or(super::cluster::Protocol::Http1, |p| p.protocol),
            endpoints,
            svc.resolution == Resolution::None && svc.endpoints.is_empty(),
            policy,
        ));
        self.clusters.insert(key, cluster.clone());
        cluster
    }

    fn all_ports(&mut self, fqdn: &str, subset: Option<&str>) -> Option<ClusterChoice> {
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

    fn destination(
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
            r.error(
                format!("{field}.host"),
                format!(
                    "host {:?} ({fqdn}) has no endpoints: no ServiceEntry defines it; add one with its endpoints",
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
            Some(p) => {
                let Some(port) = svc.ports.iter().find(|sp| u32::from(sp.number) == p.number)
                else {
                    let known: Vec<u16> = svc.ports.iter().map(|p| p.number).collect();
                    r.error(
                        format!("{field}.port.number"),
                        format!("service {fqdn} has no port {} (it has {known:?})", p.number),
                    );
                    return None;
                };
                Some(port.number)
            }
            None => None,
        };
        if let Some(subset) = &d.subset {
            let defined = self.rules.get(&fqdn).map(|rule| {
                (
                    rule.subsets.contains_key(subset),
                    rule.subsets.keys().cloned().collect::<Vec<_>>(),
                    rule.source.clone(),
                )
            });
            match defined {
                Some((true, _, _)) => {}
                Some((false, names, source)) => {
                    r.error(
                        format!("{field}.subset"),
                        format!(
                            "subset {subset:?} is not defined for host {fqdn} ({source} defines {})",
                            names.join(", ")
                        ),
                    );
                    return None;
                }
                None => {
                    r.error(
                        format!("{field}.subset"),
                        format!(
                            "subset {subset:?} needs a DestinationRule for host {fqdn}; none exists"
                        ),
                    );
                    return None;
                }
            }
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

    fn virtual_service(
        &mut self,
        vs: &Resource<wire::VirtualServiceSpec>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<VirtualHost> {
        let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
        let spec = &vs.spec;
        let ns = vs.id.namespace.as_str();
        for (name, present) in [("tls", spec.tls.is_some()), ("tcp", spec.tcp.is_some())] {
            if present {
                r.warning(
                    format!("spec.{name}"),
                    "only http routes are proxied; ignored",
                );
            }
        }
        if !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == "mesh") {
            r.warning(
                "spec.gateways",
                "applies to gateways only (no \"mesh\"), so not to shadowmesh; skipped",
            );
            return None;
        }
        if spec.hosts.is_empty() {
            r.error("spec.hosts", "a VirtualService needs at least one host");
        }
        let hosts: Vec<String> = spec
            .hosts
            .iter()
            .map(|h| qualify(h, ns, &self.namespaces))
            .collect();
        let ports = match hosts.as_slice() {
            [one] => self
                .services
                .get(one)
                .map(|s| s.ports.iter().map(|p| p.number).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut routes = Vec::new();
        for (i, route) in spec.http.iter().enumerate() {
            if let Some(route) = self.route(route, ns, &mut r, i) {
                routes.push(route);
            }
        }
        if spec.http.is_empty() {
            r.warning(
                "spec.http",
                "no http routes: requests for these hosts get 404",
            );
        }
        let compare_ignore = vs
            .meta
            .annotations
            .get(COMPARE_IGNORE_ANNOTATION)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let compare_ignore = Arc::new(compare_ignore);
        Some(VirtualHost {
            name: vs.id.to_string(),
            hosts,
            source: Some(vs.id.clone()),
            ports,
            routes,
            compare_ignore,
        })
    }

    fn route(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        i: usize,
    ) -> Option<Route> {
        let f = format!("spec.http[{i}]");
        for (name, present, what) in [
            (
                "retries",
                route.retries.is_some(),
                "retries are not performed (each request is tried once)",
            ),
            (
                "fault",
                route.fault.is_some(),
                "fault injection is not supported; ignored",
            ),
            (
                "corsPolicy",
                route.cors_policy.is_some(),
                "CORS is not handled; ignored",
            ),
            (
                "delegate",
                route.delegate.is_some(),
                "delegation is not supported; ignored",
            ),
        ] {
            if present {
                r.warning(format!("{f}.{name}"), what);
            }
        }
        let mut matches = Vec::new();
        let mut dropped = 0;
        for (j, m) in route.matches.iter().enumerate() {
            match self.request_match(m, r, &format!("{f}.match[{j}]")) {
                Some(Some(m)) => matches.push(m),
                Some(None) => dropped += 1,
                None => {}
            }
        }
        if dropped > 0 && matches.is_empty() {
            // Every block is for another source or gateway: the route never applies here.
            return None;
        }
        let kinds = [
            !route.route.is_empty(),
            route.redirect.is_some(),
            route.direct_response.is_some(),
        ];
        let action = match kinds {
            [true, false, false] => self.weighted(route, ns, r, &f).map(Action::Forward),
            [false, true, false] => route
                .redirect
                .as_ref()
                .and_then(|rd| redirect(rd, r, &f))
                .map(Action::Redirect),
            [false, false, true] => route
                .direct_response
                .as_ref()
                .and_then(|d| direct(d, r, &f))
                .map(Action::Direct),
            [false, false, false] => {
                r.error(
                    f.clone(),
                    "a route needs one of route, redirect or directResponse",
                );
                None
            }
            _ => {
                r.error(
                    f.clone(),
                    "use only one of route, redirect and directResponse",
                );
                None
            }
        };
        // Mirrors are checked even when the action has errors, so all are reported at once.
        let mirrors = self.mirrors(route, ns, r, &f);
        let action = action?;
        if !mirrors.is_empty() && !matches!(action, Action::Forward(_)) {
            r.error(
                format!("{f}.mirror"),
                "mirroring needs a route (not redirect or directResponse)",
            );
        }
        let timeout = match route.timeout.as_deref().map(parse_duration) {
            // `0s` is Istio's "no timeout": kept as zero so it overrides the proxy-wide default.
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                r.error(format!("{f}.timeout"), e);
                None
            }
            None => None,
        };
        let rewrite = route.rewrite.as_ref().and_then(|rw| {
            if rw.uri_regex_rewrite.is_some() {
                r.warning(
                    format!("{f}.rewrite.uriRegexRewrite"),
                    "not supported; ignored",
                );
            }
            let authority = match &rw.authority {
                Some(a) => match HeaderValue::from_str(a) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        r.error(
                            format!("{f}.rewrite.authority"),
                            format!("{a:?} is not a valid authority"),
                        );
                        None
                    }
                },
                None => None,
            };
            (rw.uri.is_some() || authority.is_some()).then(|| Rewrite {
                uri: rw.uri.clone(),
                authority,
            })
        });
        Some(Route {
            name: route.name.clone().unwrap_or_else(|| format!("http[{i}]")),
            matches,
            action,
            mirrors,
            timeout,
            rewrite,
            headers: header_rules(route.headers.as_ref(), r, &format!("{f}.headers")),
        })
    }

    /// `None`: the block has errors. `Some(None)`: the block can never hold for this proxy.
    fn request_match(
        &self,
        m: &wire::HttpMatchRequest,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<Option<RequestMatch>> {
        let compiled = match RequestMatch::try_from(m) {
            Ok(compiled) => compiled,
            Err(InvalidRequestMatch(errors)) => {
                for e in errors {
                    r.error(format!("{f}.{}", e.field), e.error.to_string());
                }
                return None;
            }
        };
        let for_other_gateway = !m.gateways.is_empty() && !m.gateways.iter().any(|g| g == "mesh");
        let other_namespace = m
            .source_namespace
            .as_ref()
            .is_some_and(|ns| *ns != self.identity.namespace);
        let other_labels = !m
            .source_labels
            .iter()
            .all(|(k, v)| self.identity.labels.get(k) == Some(v));
        if for_other_gateway || other_namespace || other_labels {
            return Some(None);
        }
        Some(Some(compiled))
    }

    fn weighted(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<WeightedDestinations> {
        let lone = route.route.len() == 1;
        let mut destinations = Vec::new();
        let mut ok = true;
        for (j, rd) in route.route.iter().enumerate() {
            let field = format!("{f}.route[{j}]");
            let weight = match rd.weight {
                Some(w) if w < 0 => {
                    r.error(format!("{field}.weight"), format!("weight {w} is negative"));
                    ok = false;
                    0
                }
                Some(w) => w as u64,
                None => 0,
            };
            let weight = if lone { 100 } else { weight };
            let Some(dest) = &rd.destination else {
                r.error(
                    format!("{field}.destination"),
                    "a route entry needs a destination",
                );
                ok = false;
                continue;
            };
            let target = self.destination(dest, ns, r, &format!("{field}.destination"));
            let headers = header_rules(rd.headers.as_ref(), r, &format!("{field}.headers"));
            match target {
                Some(target) => destinations.push(RouteDestination {
                    target,
                    weight,
                    headers,
                }),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let weights: Vec<u64> = destinations.iter().map(|d| d.weight).collect();
        let Some(distribution) = Distribution::new(&weights) else {
            r.error(
                format!("{f}.route"),
                "all destination weights are zero (or missing): give at least one a positive weight",
            );
            return None;
        };
        if !lone && distribution.total() != 100 {
            r.warning(
                format!("{f}.route"),
                format!(
                    "weights add up to {}, not 100; each destination gets weight/{} of the traffic",
                    distribution.total(),
                    distribution.total()
                ),
            );
        }
        Some(WeightedDestinations {
            destinations,
            distribution,
        })
    }

    fn mirrors(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Vec<MirrorPolicy> {
        let mut out = Vec::new();
        if route.mirror.is_some() && route.mirrors.is_some() {
            r.error(
                format!("{f}.mirrors"),
                "use either mirror or mirrors, not both",
            );
            return out;
        }
        if let Some(m) = &route.mirror {
            let percent = match (&route.mirror_percentage, route.mirror_percent) {
                (Some(p), legacy) => {
                    if legacy.is_some() {
                        r.warning(
                            format!("{f}.mirrorPercent"),
                            "deprecated and overridden by mirrorPercentage",
                        );
                    }
                    percentage(p.value, r, &format!("{f}.mirrorPercentage.value"))
                }
                (None, Some(legacy)) => {
                    r.warning(
                        format!("{f}.mirrorPercent"),
                        "deprecated: use mirrorPercentage.value",
                    );
                    percentage(legacy as f64, r, &format!("{f}.mirrorPercent"))
                }
                (None, None) => Some(100.0),
            };
            let target = self.destination(m, ns, r, &format!("{f}.mirror"));
            if let (Some(target), Some(percent)) = (target, percent) {
                out.push(MirrorPolicy { target, percent });
            }
        } else if let Some(list) = &route.mirrors {
            if route.mirror_percentage.is_some() || route.mirror_percent.is_some() {
                r.warning(
                    format!("{f}.mirrorPercentage"),
                    "does not apply to mirrors: set each entry's percentage",
                );
            }
            if list.len() > MAX_MIRRORS {
                r.error(
                    format!("{f}.mirrors"),
                    format!("at most {MAX_MIRRORS} mirrors per route"),
                );
                return out;
            }
            for (k, m) in list.iter().enumerate() {
                let field = format!("{f}.mirrors[{k}]");
                let percent = match &m.percentage {
                    Some(p) => percentage(p.value, r, &format!("{field}.percentage.value")),
                    None => Some(100.0),
                };
                let Some(dest) = &m.destination else {
                    r.error(
                        format!("{field}.destination"),
                        "a mirror needs a destination",
                    );
                    continue;
                };
                let target = self.destination(dest, ns, r, &format!("{field}.destination"));
                if let (Some(target), Some(percent)) = (target, percent) {
                    out.push(MirrorPolicy { target, percent });
                }
            }
        } else if route.mirror_percentage.is_some() || route.mirror_percent.is_some() {
            r.warning(
                format!("{f}.mirrorPercentage"),
                "set without a mirror; ignored",
            );
        }
        out
    }
}

fn percentage(v: f64, r: &mut Reporter<'_>, field: &str) -> Option<f64> {
    if (0.0..=100.0).contains(&v) {
        Some(v)
    } else {
        r.error(field, format!("{v} is outside 0 to 100"));
        None
    }
}

fn header_rules(h: Option<&wire::Headers>, r: &mut Reporter<'_>, f: &str) -> HeaderRules {
    let Some(h) = h else {
        return HeaderRules::default();
    };
    HeaderRules {
        request: header_ops(h.request.as_ref(), r, &format!("{f}.request")),
        response: header_ops(h.response.as_ref(), r, &format!("{f}.response")),
    }
}

fn header_ops(ops: Option<&wire::HeaderOperations>, r: &mut Reporter<'_>, f: &str) -> HeaderOps {
    let mut out = HeaderOps::default();
    let Some(ops) = ops else {
        return out;
    };
    let pair = |k: &str, v: &str, field: String, r: &mut Reporter<'_>| match (
        HeaderName::from_bytes(k.as_bytes()),
        HeaderValue::from_str(v),
    ) {
        (Ok(name), Ok(value)) => Some((name, value)),
        _ => {
            r.error(field, format!("{k}: {v:?} is not a valid header"));
            None
        }
    };
    out.set = ops
        .set
        .iter()
        .filter_map(|(k, v)| pair(k, v, format!("{f}.set.{k}"), r))
        .collect();
    out.add = ops
        .add
        .iter()
        .filter_map(|(k, v)| pair(k, v, format!("{f}.add.{k}"), r))
        .collect();
    for (i, k) in ops.remove.iter().enumerate() {
        match HeaderName::from_bytes(k.as_bytes()) {
            Ok(name) => out.remove.push(name),
            Err(_) => r.error(
                format!("{f}.remove[{i}]"),
                format!("{k:?} is not a valid header name"),
            ),
        }
    }
    out
}

fn redirect(rd: &wire::HttpRedirect, r: &mut Reporter<'_>, f: &str) -> Option<Redirect> {
    if rd.derive_port.is_some() {
        r.warning(format!("{f}.redirect.derivePort"), "not supported; ignored");
    }
    let status = http::StatusCode::from_u16(rd.redirect_code.unwrap_or(301))
        .ok()
        .filter(|s| s.is_redirection());
    let Some(status) = status else {
        r.error(format!("{f}.redirect.redirectCode"), "must be a 3xx status");
        return None;
    };
    let port = match rd.port {
        Some(p) => match u16::try_from(p).ok().filter(|p| *p > 0) {
            Some(p) => Some(p),
            None => {
                r.error(
                    format!("{f}.redirect.port"),
                    format!("{p} is not a port number"),
                );
                return None;
            }
        },
        None => None,
    };
    Some(Redirect {
        uri: rd.uri.clone(),
        authority: rd.authority.clone(),
        port,
        scheme: rd.scheme.clone(),
        status,
    })
}

fn direct(dr: &wire::HttpDirectResponse, r: &mut Reporter<'_>, f: &str) -> Option<DirectResponse> {
    let Some(status) = http::StatusCode::from_u16(dr.status)
        .ok()
        .filter(|s| s.as_u16() >= 200)
    else {
        r.error(
            format!("{f}.directResponse.status"),
            format!("{} is not an HTTP status", dr.status),
        );
        return None;
    };
    let body = match &dr.body {
        None => Bytes::new(),
        Some(b) => match (&b.string, &b.bytes) {
            (Some(s), None) => Bytes::from(s.clone()),
            (None, Some(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    r.error(
                        format!("{f}.directResponse.body.bytes"),
                        format!("not base64: {e}"),
                    );
                    return None;
                }
            },
            _ => {
                r.error(
                    format!("{f}.directResponse.body"),
                    "set exactly one of string and bytes",
                );
                return None;
            }
        },
    };
    Some(DirectResponse { status, body })
}
