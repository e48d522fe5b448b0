//! `rewrite.uri` and `rewrite.uriRegexRewrite`: the path and query sent upstream. A prefix match
//! has its prefix replaced, a route without a `uri` match its leading `/` (Istio gives it
//! Envoy's prefix `/`), an exact or regex match the whole path (Envoy's `prefix_rewrite`); a
//! regex rewrite replaces every match in the path. Also a redirect's path.

use crate::model::table::Redirect;
use crate::route::Decision;

/// The path and query sent upstream for `uri` when the route rewrites it
/// (`rewrite.uriRegexRewrite` or `rewrite.uri`); `None`: the client's own, unchanged.
pub(super) fn rewritten_path(decision: &Decision<'_>, uri: &http::Uri) -> Option<String> {
    let rewrite = decision.route.rewrite.as_ref();
    if let Some(re) = rewrite.and_then(|r| r.regex.as_ref()) {
        return Some(re.apply(uri.path(), uri.query()));
    }
    let new = rewrite.and_then(|r| r.uri.as_deref())?;
    Some(replace_path(
        uri.path(),
        uri.query(),
        matched_prefix(decision),
        new,
    ))
}

/// The prefix Envoy's `prefix_rewrite` replaces: the matched block's `uri` prefix, `/` when it
/// has no `uri` (Istio gives such routes Envoy's prefix `/`), none for an exact or regex match
/// (the whole path is replaced).
fn matched_prefix<'t>(decision: &Decision<'t>) -> Option<&'t str> {
    let uri_match = (decision.matched_block)
        .and_then(|i| decision.route.matches.get(i))
        .and_then(|m| m.uri.as_ref());
    match uri_match {
        None => Some("/"),
        Some(m) => m.prefix(),
    }
}

/// The path and query of a redirect's `Location`, as Envoy makes it: `prefixRewrite` replaces
/// the matched prefix (`/` when the route has no `uri` match, the whole path for an exact or
/// regex one); `uri` replaces the path (and the query only when it has one); else the request's.
pub(super) fn redirect_path(
    decision: &Decision<'_>,
    redirect: &Redirect,
    uri: &http::Uri,
) -> String {
    if let Some(new) = &redirect.prefix_rewrite {
        return replace_path(uri.path(), uri.query(), matched_prefix(decision), new);
    }
    match (&redirect.uri, uri.query()) {
        (Some(new), Some(q)) if !new.contains('?') => format!("{new}?{q}"),
        (Some(new), _) => new.clone(),
        (None, _) => uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
    }
}

fn replace_path(path: &str, query: Option<&str>, prefix: Option<&str>, new: &str) -> String {
    let mut out = match prefix {
        Some(prefix) if path.len() >= prefix.len() => format!("{new}{}", &path[prefix.len()..]),
        _ => new.to_string(),
    };
    if out.is_empty() {
        out.push('/');
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::replace_path;

    #[test]
    fn a_matched_prefix_is_replaced_and_the_rest_kept() {
        assert_eq!(
            replace_path("/v1/factors", None, Some("/v1"), "/api"),
            "/api/factors"
        );
        assert_eq!(replace_path("/v1", Some("n=8"), Some("/v1"), ""), "/?n=8");
    }

    #[test]
    fn without_a_prefix_match_the_whole_path_is_replaced() {
        assert_eq!(
            replace_path("/old/x", Some("a=1"), None, "/new"),
            "/new?a=1"
        );
    }

    #[test]
    fn a_redirect_prefix_rewrite_replaces_what_the_route_matched() {
        use crate::model::{Action, test_fixtures::SEED_SERVICES};
        use crate::model::{ProxyIdentity, compile_text};
        let yaml = format!(
            "{SEED_SERVICES}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - match: [{{uri: {{prefix: /foo/}}}}]\n    redirect: {{prefixRewrite: /new/}}\n  - match: [{{headers: {{x: {{}}}}}}]\n    redirect: {{prefixRewrite: /h/}}\n  - redirect: {{uri: /u}}\n"
        );
        let identity = ProxyIdentity {
            namespace: "challengeistio".into(),
            ..Default::default()
        };
        let table = compile_text("t.yaml", &yaml, &identity).0.unwrap();
        let headers = http::HeaderMap::new();
        let mut with_x = http::HeaderMap::new();
        with_x.insert("x", http::HeaderValue::from_static("1"));
        for (target, h, want) in [
            ("/foo/bar?q=1", &headers, "/new/bar?q=1"),
            ("/any/thing", &with_x, "/h/any/thing"),
            ("/other?k=v", &headers, "/u?k=v"),
        ] {
            let uri: http::Uri = target.parse().unwrap();
            let head = crate::route::RequestHead {
                method: "GET",
                scheme: "http",
                authority: "calcbackendsvc",
                host: "calcbackendsvc",
                port: None,
                path: uri.path(),
                query: uri.query(),
                headers: h,
            };
            let d = crate::route::find(&table, &head, &mut || 0.0).unwrap();
            let Action::Redirect(r) = &d.route.action else {
                panic!("{target} is not redirected")
            };
            assert_eq!(super::redirect_path(&d, r, &uri), want, "{target}");
        }
    }
}
