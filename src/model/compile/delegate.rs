//! Delegation, as Istio's `mergeVirtualServices` does it: a root `http` route with `delegate`
//! is replaced by the routes of the delegate VirtualService (no hosts; in `delegate.namespace`,
//! by default the root's), each merged with the root route ([`super::delegate_merge`]) and
//! compiled in the child's namespace. A missing child, a child with hosts (a root is not a
//! delegate) or one not exported to the root's namespace drops the root route with a warning
//! at `spec.http[i].delegate`; so does a child route whose match conflicts with the root's.
//! A problem in a merged route is reported where it was written: in the child's file at its
//! `spec.http[j]`, or in the root's for an option or match block the child took from it.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use crate::config::diag::Reporter;
use crate::config::wire::{HttpRoute, VirtualServiceSpec};
use crate::config::{Diagnostic, Resource};
use crate::model::host::qualify;
use crate::model::table::Route;

use super::Compiler;
use super::delegate_merge::{Merged, merge_route};

/// A VirtualService resource.
type Vs = Resource<VirtualServiceSpec>;

/// The delegate `vs` names from its route `route`: `(namespace, name)`.
pub(super) fn target<'a>(vs: &'a Vs, route: &'a HttpRoute) -> Option<(&'a str, &'a str)> {
    let d = route.delegate.as_ref()?;
    let ns = (d.namespace.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(&vs.id.namespace);
    Some((ns, d.name.as_deref().unwrap_or_default()))
}

/// Does any root VirtualService in `all` delegate to `child`?
pub(super) fn is_delegated_to(child: &Vs, all: &[Vs]) -> bool {
    all.iter().filter(|vs| !vs.spec.hosts.is_empty()).any(|vs| {
        (vs.spec.http.iter())
            .any(|r| target(vs, r) == Some((child.id.namespace.as_str(), child.id.name.as_str())))
    })
}

/// Istio's visibility check: is the delegate exported to `ns` (no `exportTo` is everywhere)?
fn exported_to(child: &Vs, ns: &str) -> bool {
    let to = &child.spec.export_to;
    to.is_empty()
        || to
            .iter()
            .any(|e| e == "*" || e == ns || (e == "." && child.id.namespace == ns))
}

impl Compiler<'_> {
    /// Root route `i` of `root` (which has a `delegate`) as its child's routes, merged.
    pub(super) fn delegated(
        &mut self,
        root: &Vs,
        i: usize,
        all: &[Vs],
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Route> {
        let route = &root.spec.http[i];
        let Some((ns, name)) = target(root, route) else {
            return Vec::new();
        };
        let f = format!("spec.http[{i}].delegate");
        let mut r = Reporter::new(diags, root.file.clone(), root.id.to_string());
        let found = all
            .iter()
            .find(|vs| vs.id.namespace == ns && vs.id.name == name);
        let child = match found {
            None => {
                r.warning(f, format!("delegate VirtualService {ns}/{name} not found; this route is dropped (as Istio does)"));
                return Vec::new();
            }
            Some(c) if !c.spec.hosts.is_empty() => {
                r.warning(f, format!("VirtualService {ns}/{name} has hosts: a root is never a delegate; this route is dropped (as Istio does)"));
                return Vec::new();
            }
            Some(c) if !exported_to(c, &root.id.namespace) => {
                r.warning(f, format!("delegate VirtualService {ns}/{name} is not exported to namespace {} (its exportTo); this route is dropped (as Istio does)", root.id.namespace));
                return Vec::new();
            }
            Some(c) => c,
        };
        let root_route = self.qualified_mirrors(route, &root.id.namespace);
        let mut routes = Vec::new();
        let mut scratch = Vec::new();
        for (j, child_route) in child.spec.http.iter().enumerate() {
            let label = child_route
                .name
                .clone()
                .unwrap_or_else(|| format!("{ns}/{name}.http[{j}]"));
            let Some(merged) = merge_route(&root_route, child_route) else {
                r.warning(&f, format!("route {label} of delegate {ns}/{name} has a match that conflicts with this route's match; it is dropped (as Istio does)"));
                continue;
            };
            let mut cr = Reporter::new(&mut scratch, child.file.clone(), child.id.to_string());
            if let Some(mut compiled) = self.route(&merged.route, ns, &mut cr, j) {
                let root_label = route.name.clone().unwrap_or_else(|| format!("http[{i}]"));
                compiled.name = format!("{root_label}/{label}").into();
                routes.push(compiled);
            }
            for d in scratch.drain(..) {
                r.forward(rehome(d, &merged, root, i, j));
            }
        }
        routes
    }

    /// The root route with its mirror hosts qualified in the root's namespace, as Istio
    /// resolves them before merging (the child's are qualified in the child's).
    fn qualified_mirrors(&self, route: &HttpRoute, ns: &str) -> HttpRoute {
        let mut out = route.clone();
        if let Some(m) = out.mirror.as_mut() {
            m.host = qualify(&m.host, ns, &self.namespaces);
        }
        for m in out.mirrors.iter_mut().flatten() {
            if let Some(d) = m.destination.as_mut() {
                d.host = qualify(&d.host, ns, &self.namespaces);
            }
        }
        out
    }
}

/// A diagnostic on merged route `j` moved to the root's route `i` when it is about what the
/// child took from the root (an option, or a match block the child did not write).
fn rehome(mut d: Diagnostic, merged: &Merged, root: &Vs, i: usize, j: usize) -> Diagnostic {
    let prefix = format!("spec.http[{j}].");
    let Some(rest) = d.field.as_deref().and_then(|f| f.strip_prefix(&prefix)) else {
        return d;
    };
    let head = rest.split(['.', '[']).next().unwrap_or_default();
    let new_rest = if merged.from_root.contains(&head) {
        Some(rest.to_string())
    } else if let Some(block) = rest.strip_prefix("match[") {
        let (k, tail) = block.split_once(']').unwrap_or((block, ""));
        let origin = k.parse::<usize>().ok().and_then(|k| merged.blocks.get(k));
        match origin {
            Some((_, Some(c))) => {
                d.field = Some(format!("{prefix}match[{c}]{tail}"));
                None
            }
            Some((Some(r), None)) => Some(format!("match[{r}]{tail}")),
            _ => None,
        }
    } else {
        None
    };
    if let Some(rest) = new_rest {
        d.file = Some(root.file.clone());
        d.resource = Some(root.id.to_string());
        d.field = Some(format!("spec.http[{i}].{rest}"));
    }
    d
}
