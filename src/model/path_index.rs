//! A virtual host's first-match order made cheap for big tables: blocks that match on an exact
//! path alone (the bulk of a large API's routes) are hashed by that path, and only the other
//! routes are tried one by one. The answer is the one trying every route in order gives (Istio's
//! and Envoy's first match): the hashed hit wins only where no route before it matches.
//!
//! Imports only [`crate::model`].

use std::collections::HashMap;

use super::matchers::{RequestMatch, StringMatcher};
use super::table::Route;

/// Where a request goes in a virtual host's routes, found without trying each in turn.
#[derive(Debug, Default)]
pub struct PathIndex {
    /// Exact path -> the first (route, block) matching that path and nothing else, among the
    /// routes whose every block is such a block.
    exact: HashMap<String, (usize, usize)>,
    /// The other routes, in order: each must be tried.
    tried: Vec<usize>,
}

/// A match block that holds exactly when the path equals this string.
fn exact_path_only(m: &RequestMatch) -> Option<&str> {
    let only_path = !m.ignore_uri_case
        && m.scheme.is_none()
        && m.method.is_none()
        && m.authority.is_none()
        && m.headers.is_empty()
        && m.query.is_empty()
        && m.port.is_none();
    match &m.uri {
        Some(StringMatcher::Exact(path)) if only_path => Some(path),
        _ => None,
    }
}

impl PathIndex {
    /// Indexes `routes`.
    pub fn new(routes: &[Route]) -> Self {
        let mut index = Self::default();
        for (i, route) in routes.iter().enumerate() {
            let paths: Option<Vec<&str>> = route.matches.iter().map(exact_path_only).collect();
            match paths {
                Some(paths) if !paths.is_empty() => {
                    for (block, path) in paths.into_iter().enumerate() {
                        index.exact.entry(path.to_string()).or_insert((i, block));
                    }
                }
                _ => index.tried.push(i),
            }
        }
        index
    }

    /// The first route (and the block of it that holds; `None` for a route without blocks)
    /// `holds` accepts, trying routes in order, with hashed routes answered by `path`.
    pub fn first(
        &self,
        routes: &[Route],
        path: &str,
        mut holds: impl FnMut(&RequestMatch) -> bool,
    ) -> Option<(usize, Option<usize>)> {
        let hashed = self.exact.get(path).copied();
        for &i in &self.tried {
            if hashed.is_some_and(|(h, _)| h < i) {
                break;
            }
            let route = &routes[i];
            if route.matches.is_empty() {
                return Some((i, None));
            }
            if let Some(block) = route.matches.iter().position(&mut holds) {
                return Some((i, Some(block)));
            }
        }
        hashed.map(|(i, block)| (i, Some(block)))
    }
}
