//! A VirtualService to a [`VirtualHost`]: hosts qualified, ports taken from the service when it
//! names one host, each `http` route compiled in order ([`super::http_route`]), a route with
//! `delegate` replaced by its child's routes ([`super::delegate`]). A VirtualService bound only
//! to gateways (no `mesh`) is skipped, and so is a delegate (one with no hosts): it is routed
//! only through the roots that delegate to it.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::sync::Arc;

use crate::config::diag::Reporter;
use crate::config::wire::VirtualServiceSpec;
use crate::config::{Diagnostic, Resource};
use crate::model::host::qualify;
use crate::model::path_index::PathIndex;
use crate::model::table::{Route, VirtualHost};

use super::delegate::is_delegated_to;
use super::{
    COMPARE_IGNORE_ANNOTATION, COMPARE_METHODS_ANNOTATION, COMPARE_UNORDERED_ANNOTATION, Compiler,
    MIRROR_METHODS_ANNOTATION,
};

impl Compiler<'_> {
    /// Compiles `vs`; `None` when it does not apply to this proxy.
    pub(super) fn virtual_service(
        &mut self,
        vs: &Resource<VirtualServiceSpec>,
        all: &[Resource<VirtualServiceSpec>],
        diags: &mut Vec<Diagnostic>,
    ) -> Option<VirtualHost> {
        let spec = &vs.spec;
        let ns = vs.id.namespace.as_str();
        let delegated_to = spec.hosts.is_empty() && is_delegated_to(vs, all);
        let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
        if !warn_unused(spec, delegated_to, &mut r) {
            return None;
        }
        let routes = self.routes(vs, all, diags);
        let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
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
        // With no tcp or tls routes either, validation has already refused it.
        if spec.http.is_empty() && !(spec.tcp.is_empty() && spec.tls.is_empty()) {
            r.warning(
                "spec.http",
                "no http routes: requests for these hosts get 404",
            );
        }
        let list = |annotation: &str| {
            let items = (vs.meta.annotations.get(annotation))
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Arc::new(items)
        };
        let compare_ignore = list(COMPARE_IGNORE_ANNOTATION);
        let compare_unordered = list(COMPARE_UNORDERED_ANNOTATION);
        let mut methods = |annotation: &str| {
            let value = vs.meta.annotations.get(annotation)?;
            let field = format!("metadata.annotations[{annotation}]");
            value.parse().map_err(|e: String| r.error(field, e)).ok()
        };
        let mirror_methods = methods(MIRROR_METHODS_ANNOTATION);
        let compare_methods = methods(COMPARE_METHODS_ANNOTATION);
        Some(VirtualHost {
            name: vs.id.to_string(),
            hosts,
            source: Some(vs.id.clone()),
            ports,
            path_index: PathIndex::new(&routes),
            routes,
            compare_ignore,
            compare_unordered,
            mirror_methods,
            compare_methods,
        })
    }
}

impl Compiler<'_> {
    /// The routes of `vs` in order, each delegating route replaced by its child's.
    fn routes(
        &mut self,
        vs: &Resource<VirtualServiceSpec>,
        all: &[Resource<VirtualServiceSpec>],
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Route> {
        // Sized exactly: a push-grown vector holds four 776-byte routes for a VirtualService's
        // one (31 MB at 10,000 hosts, 3 of each 5 KB a host cost).
        let mut routes = Vec::with_capacity(vs.spec.http.len());
        for (i, route) in vs.spec.http.iter().enumerate() {
            let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
            if let Some(route) = self.route(route, &vs.id.namespace, &mut r, i) {
                routes.push(route);
            }
            if route.delegate.is_some() {
                routes.extend(self.delegated(vs, i, all, diags));
            }
        }
        // A delegate's routes may have grown it past its length.
        routes.shrink_to_fit();
        routes
    }
}

/// One warning per field shadowmesh reads but does not act on. `false` when the
/// VirtualService does not apply to this proxy (gateways only, or a delegate: `delegated_to`
/// says whether a root routes through it).
fn warn_unused(spec: &VirtualServiceSpec, delegated_to: bool, r: &mut Reporter<'_>) -> bool {
    for (name, present, what) in [
        (
            "tls",
            !spec.tls.is_empty(),
            "only http routes are proxied; ignored",
        ),
        (
            "tcp",
            !spec.tcp.is_empty(),
            "only http routes are proxied; ignored",
        ),
        (
            "exportTo",
            // A delegate's is acted on: it decides which roots may delegate to it.
            !spec.export_to.is_empty() && !spec.hosts.is_empty(),
            "visibility is not acted on (this proxy sees every resource it loads); ignored",
        ),
    ] {
        if present {
            r.warning(format!("spec.{name}"), what);
        }
    }
    if !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == "mesh") {
        r.warning(
            "spec.gateways",
            "applies to gateways only (no \"mesh\"), so not to shadowmesh; skipped",
        );
        return false;
    }
    if spec.gateways.iter().any(|g| g != "mesh") {
        r.warning(
            "spec.gateways",
            "only \"mesh\" applies to shadowmesh; the other gateways are ignored",
        );
    }
    if spec.hosts.is_empty() {
        if !delegated_to {
            r.warning(
                "spec.hosts",
                "no hosts: a delegate VirtualService, but no root VirtualService delegates to it; not routed",
            );
        }
        return false;
    }
    true
}
