//! A VirtualService to a [`VirtualHost`]: hosts qualified, ports taken from the service when it
//! names one host, each `http` route compiled in order ([`super::http_route`]). A VirtualService
//! bound only to gateways (no `mesh`) is skipped, and so is a delegate (one with no hosts).
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::sync::Arc;

use crate::config::diag::Reporter;
use crate::config::wire::VirtualServiceSpec;
use crate::config::{Diagnostic, Resource};
use crate::model::host::qualify;
use crate::model::table::VirtualHost;

use super::{
    COMPARE_IGNORE_ANNOTATION, COMPARE_METHODS_ANNOTATION, COMPARE_UNORDERED_ANNOTATION, Compiler,
    MIRROR_METHODS_ANNOTATION,
};

impl Compiler<'_> {
    /// Compiles `vs`; `None` when it does not apply to this proxy.
    pub(super) fn virtual_service(
        &mut self,
        vs: &Resource<VirtualServiceSpec>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<VirtualHost> {
        let mut r = Reporter::new(diags, vs.file.clone(), vs.id.to_string());
        let spec = &vs.spec;
        let ns = vs.id.namespace.as_str();
        if !warn_unused(spec, &mut r) {
            return None;
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
            routes,
            compare_ignore,
            compare_unordered,
            mirror_methods,
            compare_methods,
        })
    }
}

/// One warning per field shadowmesh reads but does not act on. `false` when the
/// VirtualService does not apply to this proxy (gateways only, or a delegate).
fn warn_unused(spec: &VirtualServiceSpec, r: &mut Reporter<'_>) -> bool {
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
            !spec.export_to.is_empty(),
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
        r.warning(
            "spec.hosts",
            "no hosts: a delegate VirtualService; delegation is not acted on yet, so it is validated but not routed",
        );
        return false;
    }
    true
}
