//! Host names: qualifying the hosts written in resources, and finding the virtual host a
//! request's host names, as Istio's sidecar does within a namespace.
//!
//! A Kubernetes-style service `name.ns.svc.cluster.local` answers to that name, `name.ns.svc`,
//! `name.ns` and, from the proxy's own namespace, the short `name`. A short name not in the
//! proxy's namespace still resolves when only one namespace has it; when several do, the lookup
//! says so (a 404 naming them). Wildcard hosts (`*.example.com`) match by suffix, longest first;
//! a lone `*` matches any host.
//!
//! Imports nothing of the crate: `route` looks hosts up, `compile` qualifies them.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

/// The cluster domain suffix of Kubernetes service names.
pub const CLUSTER_SUFFIX: &str = ".svc.cluster.local";

/// Qualifies a host written in a resource of namespace `ns`: `reviews` becomes
/// `reviews.ns.svc.cluster.local`; `reviews.other` (where `other` is one of `namespaces`) becomes
/// `reviews.other.svc.cluster.local`; `reviews.ns.svc` is completed; anything else (FQDNs,
/// wildcards) is kept, lower-cased.
///
/// ```
/// use std::collections::BTreeSet;
/// use shadowmesh::model::host::qualify;
///
/// let namespaces: BTreeSet<String> = ["challengeistio".to_string()].into();
/// assert_eq!(qualify("calcbackendsvc", "challengeistio", &namespaces),
///            "calcbackendsvc.challengeistio.svc.cluster.local");
/// assert_eq!(qualify("api.example.com", "challengeistio", &namespaces), "api.example.com");
/// ```
pub fn qualify(host: &str, ns: &str, namespaces: &BTreeSet<String>) -> String {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h.starts_with('*') {
        return h;
    }
    // Request hosts are looked up lower-cased: a namespace written `Prod` must qualify as `prod`.
    let ns = ns.to_ascii_lowercase();
    let labels: Vec<&str> = h.split('.').collect();
    let known = |other: &str| namespaces.iter().any(|n| n.eq_ignore_ascii_case(other));
    match labels.as_slice() {
        [name] => format!("{name}.{ns}{CLUSTER_SUFFIX}"),
        [name, other] if known(other) => format!("{name}.{other}{CLUSTER_SUFFIX}"),
        [name, other, "svc"] => format!("{name}.{other}{CLUSTER_SUFFIX}"),
        _ => h,
    }
}

/// Splits `name.ns.svc.cluster.local` into `(name, ns)`.
pub fn split_cluster_local(fqdn: &str) -> Option<(&str, &str)> {
    let rest = fqdn.strip_suffix(CLUSTER_SUFFIX)?;
    let (name, ns) = rest.split_once('.')?;
    (!ns.contains('.')).then_some((name, ns))
}

/// Why a request host names no virtual host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostLookupError {
    /// Nothing is known by that name.
    #[error("no service or VirtualService host is named {host:?}{hint}")]
    NotFound {
        /// The host asked for.
        host: String,
        /// What to do next: the closest known names, or how to name a service.
        hint: String,
    },
    /// A short name shared by services in several namespaces, none in the proxy's.
    #[error("{host:?} is ambiguous: it names {candidates:?}; use a namespace-qualified name")]
    Ambiguous {
        /// The host asked for.
        host: String,
        /// Fully qualified names it could mean.
        candidates: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct Entry<T> {
    /// For a short-name alias, the namespace it belongs to.
    short_ns: Option<String>,
    fqdn: String,
    target: T,
}

/// Maps request hosts to targets (virtual host indices).
#[derive(Debug, Clone)]
pub struct HostIndex<T> {
    exact: HashMap<String, Vec<Entry<T>>>,
    /// `(".example.com", target)`, longest suffix first.
    wildcards: Vec<(String, String, T)>,
    catch_all: Option<(String, T)>,
}

impl<T> Default for HostIndex<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            wildcards: Vec::new(),
            catch_all: None,
        }
    }
}

impl<T: Copy> HostIndex<T> {
    /// Adds a qualified host (see [`qualify`]). Returns false if it was already present.
    pub fn insert(&mut self, fqdn: &str, target: T) -> bool {
        if fqdn == "*" {
            let fresh = self.catch_all.is_none();
            self.catch_all.get_or_insert((fqdn.to_string(), target));
            return fresh;
        }
        if let Some(suffix) = fqdn.strip_prefix('*') {
            if self.wildcards.iter().any(|(s, _, _)| s == suffix) {
                return false;
            }
            self.wildcards
                .push((suffix.to_string(), fqdn.to_string(), target));
            self.wildcards.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
            return true;
        }
        if self
            .exact
            .get(fqdn)
            .is_some_and(|v| v.iter().any(|e| e.short_ns.is_none()))
        {
            return false;
        }
        let entry = |short_ns: Option<&str>| Entry {
            short_ns: short_ns.map(str::to_string),
            fqdn: fqdn.to_string(),
            target,
        };
        self.exact
            .entry(fqdn.to_string())
            .or_default()
            .push(entry(None));
        if let Some((name, ns)) = split_cluster_local(fqdn) {
            for alias in [format!("{name}.{ns}.svc"), format!("{name}.{ns}")] {
                self.exact.entry(alias).or_default().push(entry(None));
            }
            self.exact
                .entry(name.to_string())
                .or_default()
                .push(entry(Some(ns)));
        }
        true
    }

    /// Finds the target for a request host (without port), as seen from `proxy_ns`.
    pub fn lookup(&self, host: &str, proxy_ns: &str) -> Result<T, HostLookupError> {
        let host = normalize(host);
        self.resolve(&host, proxy_ns)
            .map_err(|ambiguous| match ambiguous {
                Some(candidates) => HostLookupError::Ambiguous {
                    host: host.to_string(),
                    candidates,
                },
                None => HostLookupError::NotFound {
                    hint: super::suggest::hint(&host, self.exact.keys()),
                    host: host.into_owned(),
                },
            })
    }

    /// [`Self::lookup`] without the error's explanation (no "did you mean" work).
    pub fn find(&self, host: &str, proxy_ns: &str) -> Option<T> {
        self.resolve(&normalize(host), proxy_ns).ok()
    }

    /// The target of normalized `host`; else the names it is ambiguous between, or `None`.
    fn resolve(&self, host: &str, proxy_ns: &str) -> Result<T, Option<Vec<String>>> {
        if let Some(entries) = self.exact.get(host) {
            if let Some(e) = entries.iter().find(|e| e.short_ns.is_none()) {
                return Ok(e.target);
            }
            if let Some(e) = entries.iter().find(|e| {
                (e.short_ns.as_deref()).is_some_and(|ns| ns.eq_ignore_ascii_case(proxy_ns))
            }) {
                return Ok(e.target);
            }
            if let [only] = entries.as_slice() {
                return Ok(only.target);
            }
            return Err(Some(entries.iter().map(|e| e.fqdn.clone()).collect()));
        }
        if let Some((_, _, target)) = self
            .wildcards
            .iter()
            .find(|(suffix, _, _)| host.ends_with(suffix.as_str()) && host.len() > suffix.len())
        {
            return Ok(*target);
        }
        match &self.catch_all {
            Some((_, target)) => Ok(*target),
            None => Err(None),
        }
    }
}

fn normalize(host: &str) -> Cow<'_, str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// Splits an authority (`host:port`, `[::1]:8080`, `host`) into host and port.
pub fn split_authority(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((v6, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (v6, port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (authority, None),
        },
        _ => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces() -> BTreeSet<String> {
        ["challengeistio", "default"]
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn qualifies_like_istio() {
        let ns = namespaces();
        let q = |h| qualify(h, "challengeistio", &ns);
        assert_eq!(
            q("calcbackendsvc"),
            "calcbackendsvc.challengeistio.svc.cluster.local"
        );
        assert_eq!(
            q("calcbackendsvc.default"),
            "calcbackendsvc.default.svc.cluster.local"
        );
        assert_eq!(
            q("calcbackendsvc.default.svc"),
            "calcbackendsvc.default.svc.cluster.local"
        );
        assert_eq!(
            q("CalcBackendSvc.challengeistio.svc.cluster.local"),
            "calcbackendsvc.challengeistio.svc.cluster.local"
        );
        assert_eq!(q("api.example.com"), "api.example.com");
        assert_eq!(q("*.example.com"), "*.example.com");
    }

    #[test]
    fn an_upper_case_namespace_qualifies_lower_case_and_is_found() {
        // found by the `host` fuzz target: `qualify` kept the namespace's case, and lookups
        // lower-case the request host, so the service was never found
        let ns: BTreeSet<String> = ["Prod".to_string()].into();
        let fqdn = qualify("reviews", "Prod", &ns);
        assert_eq!(fqdn, "reviews.prod.svc.cluster.local");
        assert_eq!(qualify("reviews.prod", "x", &ns), fqdn);
        let mut idx = HostIndex::default();
        idx.insert(&fqdn, 1);
        idx.insert("reviews.other.svc.cluster.local", 2);
        for host in ["reviews.Prod", &fqdn, "reviews"] {
            assert_eq!(idx.lookup(host, "Prod"), Ok(1), "{host}");
        }
    }

    #[test]
    fn every_kubernetes_form_of_a_name_resolves() {
        let mut idx = HostIndex::default();
        assert!(idx.insert("calcbackendsvc.challengeistio.svc.cluster.local", 1));
        for host in [
            "calcbackendsvc",
            "calcbackendsvc.challengeistio",
            "calcbackendsvc.challengeistio.svc",
            "calcbackendsvc.challengeistio.svc.cluster.local",
            "CALCBACKENDSVC.challengeistio.svc.cluster.local.",
        ] {
            assert_eq!(idx.lookup(host, "challengeistio"), Ok(1), "{host}");
        }
        // the short name also works from elsewhere when it is the only one
        assert_eq!(idx.lookup("calcbackendsvc", "default"), Ok(1));
        assert!(matches!(
            idx.lookup("other", "default"),
            Err(HostLookupError::NotFound { .. })
        ));
    }

    #[test]
    fn short_names_prefer_the_proxy_namespace_and_refuse_ambiguity() {
        let mut idx = HostIndex::default();
        idx.insert("web.a.svc.cluster.local", 1);
        idx.insert("web.b.svc.cluster.local", 2);
        assert_eq!(idx.lookup("web", "a"), Ok(1));
        assert_eq!(idx.lookup("web", "b"), Ok(2));
        assert_eq!(idx.lookup("web.b", "a"), Ok(2));
        let err = idx.lookup("web", "c").unwrap_err();
        assert!(
            matches!(err, HostLookupError::Ambiguous { ref candidates, .. } if candidates.len() == 2)
        );
        assert!(err.to_string().contains("web.a.svc.cluster.local"));
    }

    #[test]
    fn wildcards_longest_suffix_first_then_catch_all() {
        let mut idx = HostIndex::default();
        idx.insert("*.example.com", 1);
        idx.insert("*.api.example.com", 2);
        assert_eq!(idx.lookup("www.example.com", "default"), Ok(1));
        assert_eq!(idx.lookup("v1.api.example.com", "default"), Ok(2));
        assert!(idx.lookup("example.com", "default").is_err());
        idx.insert("*", 3);
        assert_eq!(idx.lookup("example.com", "default"), Ok(3));
        // exact wins over wildcard
        idx.insert("www.example.com", 4);
        assert_eq!(idx.lookup("www.example.com", "default"), Ok(4));
    }

    #[test]
    fn duplicates_are_reported() {
        let mut idx = HostIndex::default();
        assert!(idx.insert("a.b.svc.cluster.local", 1));
        assert!(!idx.insert("a.b.svc.cluster.local", 2));
        assert!(idx.insert("*.x.com", 1));
        assert!(!idx.insert("*.x.com", 2));
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("calcbackendsvc"), ("calcbackendsvc", None));
        assert_eq!(split_authority("greeter:3000"), ("greeter", Some(3000)));
        assert_eq!(split_authority("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_authority("[::1]"), ("::1", None));
        assert_eq!(split_authority("host:notaport"), ("host:notaport", None));
    }
}
