//! `rewrite.uri`: the path and query sent upstream. A prefix match has its prefix replaced,
//! any other match the whole path (Envoy's `prefix_rewrite` and path replacement).

use crate::route::Decision;

/// The path and query sent upstream for `uri`, after the route's `rewrite.uri`, if any.
pub(super) fn rewritten_path(decision: &Decision<'_>, uri: &http::Uri) -> String {
    let Some(new) = (decision.route.rewrite.as_ref()).and_then(|r| r.uri.as_deref()) else {
        return uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    };
    let matched_prefix = decision
        .matched_block
        .and_then(|i| decision.route.matches.get(i))
        .and_then(|m| m.uri.as_ref())
        .and_then(|u| u.prefix());
    replace_path(uri.path(), uri.query(), matched_prefix, new)
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
}
