//! One `http` route of a VirtualService: its match blocks (see
//! [`crate::model::matchers::request`]), its action (weighted destinations, redirect or direct
//! response), its mirrors, timeout, retry policy, rewrite and header operations. Every diagnostic is at
//! `spec.http[i]...`.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::time::Duration;

use http::header::HeaderValue;

use crate::config::diag::Reporter;
use crate::config::wire::{
    HttpMatchRequest, HttpRewrite, HttpRoute, RegexRewrite as WireRegexRewrite,
};
use crate::model::duration::parse_duration;
use crate::model::matchers::RequestMatch;
use crate::model::matchers::request::InvalidRequestMatch;
use crate::model::matchers::string::MAX_REGEX_LEN;
use crate::model::retry;
use crate::model::table::{Action, RegexRewrite, Rewrite, Route};

use super::header_ops::header_rules;
use super::http_policy;
use super::local_response::{direct, redirect};
use super::{Compiler, ProxyIdentity};

impl Compiler<'_> {
    /// Compiles route `i`; `None` when it has errors or never applies to this proxy, or when it
    /// delegates (its child's routes replace it: [`super::delegate`]).
    pub(super) fn route(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        i: usize,
    ) -> Option<Route> {
        let f = format!("spec.http[{i}]");
        // Checked first: Istio refuses a bad fault or CORS policy whoever the route is for.
        let fault = http_policy::fault(route, r, &f);
        let cors = http_policy::cors(route, r, &f);
        if route.delegate.is_some() {
            return None;
        }
        let matches = self.matches(route, r, &f)?;
        let action = self.action(route, ns, r, &f);
        // Mirrors are checked even when the action has errors, so all are reported at once.
        let mirrors = self.mirrors(route, ns, r, &f);
        let action = action?;
        if !mirrors.is_empty() && !matches!(action, Action::Forward(_)) {
            r.error(
                format!("{f}.mirror"),
                "mirroring needs a route (not redirect or directResponse)",
            );
        }
        let timeout = timeout(route.timeout.as_deref(), r, &f);
        let rewrite = route.rewrite.as_ref().and_then(|rw| rewrite(rw, r, &f));
        let retry = match retry::compile(route.retries.as_deref()) {
            Ok(policy) => policy,
            Err(e) => {
                r.error(format!("{f}.retries.{}", e.field), e.message);
                return None;
            }
        };
        let (Ok(fault), Ok(cors)) = (fault, cors) else {
            return None;
        };
        Some(Route {
            name: (route.name.clone()).map_or_else(|| format!("http[{i}]").into(), Into::into),
            matches,
            action,
            mirrors,
            timeout,
            rewrite: rewrite.map(Box::new),
            headers: header_rules(route.headers.as_deref(), r, &format!("{f}.headers")),
            fault,
            cors: cors.map(Box::new),
            retry,
        })
    }

    /// The blocks that apply to this proxy. `None` when the route has blocks and none of them
    /// does (each is for another source or gateway): the route never applies here.
    fn matches(
        &self,
        route: &HttpRoute,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<Vec<RequestMatch>> {
        let mut matches = Vec::with_capacity(route.matches.len());
        let mut dropped = 0;
        for (j, m) in route.matches.iter().enumerate() {
            match request_match(m, self.identity, r, &format!("{f}.match[{j}]")) {
                Some(Some(m)) => matches.push(m),
                Some(None) => dropped += 1,
                None => {}
            }
        }
        (dropped == 0 || !matches.is_empty()).then_some(matches)
    }

    /// Exactly one of `route`, `redirect` and `directResponse`.
    fn action(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<Action> {
        let kinds = [
            !route.route.is_empty(),
            route.redirect.is_some(),
            route.direct_response.is_some(),
        ];
        match kinds {
            [true, false, false] => self.weighted(route, ns, r, f).map(Action::Forward),
            [false, true, false] => route
                .redirect
                .as_ref()
                .and_then(|rd| redirect(rd, r, f))
                .map(Action::Redirect),
            [false, false, true] => route
                .direct_response
                .as_ref()
                .and_then(|d| direct(d, r, f))
                .map(Action::Direct),
            [false, false, false] => {
                r.error(f, "a route needs one of route, redirect or directResponse");
                None
            }
            _ => {
                r.error(f, "use only one of route, redirect and directResponse");
                None
            }
        }
    }
}

/// `None`: the block has errors. `Some(None)`: the block can never hold for this proxy.
fn request_match(
    m: &HttpMatchRequest,
    identity: &ProxyIdentity,
    r: &mut Reporter<'_>,
    f: &str,
) -> Option<Option<RequestMatch>> {
    let m = &routable(m, r, f);
    let compiled = match RequestMatch::try_from(m) {
        Ok(compiled) => compiled,
        Err(InvalidRequestMatch(errors)) => {
            for e in errors {
                r.error(format!("{f}.{}", e.field), e.error.to_string());
            }
            return None;
        }
    };
    Some(applies_to(m, identity).then_some(compiled))
}

/// The block as the matchers take it: `port: 0` is unset (proto3), and JWT-claim keys
/// (`@request.auth.claims.*`, which need Istio's authentication) are dropped with a warning
/// naming them. Pseudo-headers and `regex: "*"` are the header matcher's.
fn routable(m: &HttpMatchRequest, r: &mut Reporter<'_>, f: &str) -> HttpMatchRequest {
    let mut m = m.clone();
    if m.stat_prefix.is_some() {
        r.warning(
            format!("{f}.statPrefix"),
            "per-match stats are not kept; ignored",
        );
    }
    m.port = m.port.filter(|p| *p != 0);
    for (field, map) in [
        ("headers", &mut m.headers),
        ("withoutHeaders", &mut m.without_headers),
    ] {
        map.retain(|name, _| {
            let claim = name.starts_with('@');
            if claim {
                r.warning(
                    format!("{f}.{field}.{name}"),
                    "JWT claims need Istio's request authentication, which shadowmesh does not do; this condition is ignored",
                );
            }
            !claim
        });
    }
    m
}

/// Do the block's source conditions (`gateways`, `sourceNamespace`, `sourceLabels`) hold for
/// this proxy? They do not vary per request, so they are settled here.
fn applies_to(m: &HttpMatchRequest, identity: &ProxyIdentity) -> bool {
    let for_other_gateway = !m.gateways.is_empty() && !m.gateways.iter().any(|g| g == "mesh");
    let other_namespace = m
        .source_namespace
        .as_ref()
        .is_some_and(|ns| *ns != identity.namespace);
    let other_labels = !m
        .source_labels
        .iter()
        .all(|(k, v)| identity.labels.get(k) == Some(v));
    !(for_other_gateway || other_namespace || other_labels)
}

/// `timeout` (validation has checked it is at least 1 ms, as Istio requires).
fn timeout(text: Option<&str>, r: &mut Reporter<'_>, f: &str) -> Option<Duration> {
    match parse_duration(text?) {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(format!("{f}.timeout"), e);
            None
        }
    }
}

/// `rewrite`: a new path (or prefix, or regex rewrite) and authority; `None` when it changes
/// nothing.
fn rewrite(rw: &HttpRewrite, r: &mut Reporter<'_>, f: &str) -> Option<Rewrite> {
    let regex = rw
        .uri_regex_rewrite
        .as_ref()
        .and_then(|re| regex_rewrite(re, r, &format!("{f}.rewrite.uriRegexRewrite")));
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
    (rw.uri.is_some() || authority.is_some() || regex.is_some()).then(|| Rewrite {
        uri: rw.uri.clone(),
        authority,
        regex,
    })
}

/// `uriRegexRewrite`: the pattern compiled as RE2 (unanchored, as Envoy's `regex_rewrite`), the
/// substitution's `\N` groups turned into the `regex` crate's `${N}`.
fn regex_rewrite(wire: &WireRegexRewrite, r: &mut Reporter<'_>, f: &str) -> Option<RegexRewrite> {
    if wire.pattern.len() > MAX_REGEX_LEN {
        r.error(
            format!("{f}.match"),
            format!("regex is over {MAX_REGEX_LEN} characters"),
        );
        return None;
    }
    match crate::model::matchers::regex_cache::compiled(&wire.pattern) {
        Ok(pattern) => Some(RegexRewrite {
            pattern,
            substitution: substitution(&wire.rewrite),
        }),
        Err(e) => {
            r.error(format!("{f}.match"), format!("invalid regex: {e}"));
            None
        }
    }
}

/// RE2's substitution (`\1`, `\\` for a backslash) in the `regex` crate's syntax (`${1}`, `$$`
/// for a dollar).
fn substitution(re2: &str) -> String {
    let mut out = String::with_capacity(re2.len());
    let mut chars = re2.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    out.push_str(&format!("${{{d}}}"));
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::substitution;

    #[test]
    fn regex_rewrites_replace_matching_portions_as_istio_documents() {
        use crate::model::table::RegexRewrite;
        // Istio's two examples (its first, "/customprefix/\2/\1", would give a double slash
        // in RE2 as here: `\2` starts with `/`), then Envoy's "every match" one; the query is
        // kept.
        for (pattern, rewrite, path, want) in [
            (
                r"^/service/([^/]+)(/.*)$",
                r"/customprefix\2/\1",
                "/service/update/v1/api",
                "/customprefix/v1/api/update",
            ),
            ("(?i)/xxx/", "/yyy/", "/aaa/XxX/bbb", "/aaa/yyy/bbb"),
            ("one", "two", "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/two/zzz"),
        ] {
            let re = RegexRewrite {
                pattern: regex::Regex::new(pattern).unwrap().into(),
                substitution: substitution(rewrite),
            };
            assert_eq!(re.apply(path, Some("q=1")), format!("{want}?q=1"));
        }
    }

    /// Every host's routes cost their size once: at 10,000 one-route VirtualServices, vectors
    /// grown by `push` (room for four 776-byte routes each) were 31 of 50 MB held.
    #[test]
    fn a_compiled_route_table_holds_no_spare_room() {
        let vs = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: calc, namespace: challengeistio}
spec:
  hosts: [calcbackendsvc]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: calcbackendsvc, subset: v1}}]
    mirrors: [{destination: {host: calcbackendsvc, subset: v3}}]
  - route: [{destination: {host: calcbackendsvc, subset: v2}}]
"#;
        let (table, diags) = crate::model::test_fixtures::compile_with_seed(&[("vs.yaml", vs)]);
        let table = table.unwrap_or_else(|| panic!("does not compile: {diags:?}"));
        assert_eq!(table.virtual_hosts.capacity(), table.virtual_hosts.len());
        let host = table
            .virtual_hosts
            .iter()
            .find(|v| v.source.is_some())
            .unwrap();
        assert_eq!((host.routes.len(), host.routes.capacity()), (2, 2));
        let first = &host.routes[0];
        assert_eq!((first.matches.len(), first.matches.capacity()), (1, 1));
        assert_eq!((first.mirrors.len(), first.mirrors.capacity()), (1, 1));
        let crate::model::table::Action::Forward(forward) = &first.action else {
            panic!("the first route forwards");
        };
        let destinations = &forward.destinations;
        assert_eq!((destinations.len(), destinations.capacity()), (1, 1));
    }

    #[test]
    fn re2_groups_become_regex_crate_groups() {
        assert_eq!(substitution(r"\2/instance/\1"), "${2}/instance/${1}");
        assert_eq!(substitution(r"/cost/$5\\x"), r"/cost/$$5\x");
    }
}
