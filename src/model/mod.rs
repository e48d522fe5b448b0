//! The checked, compiled model: a [`Snapshot`] is one generation of configuration, built from
//! the files by [`build_snapshot`] and swapped atomically (arc-swap) by the proxy. The data path
//! loads it once per request and never locks.
//!
//! - [`compile`]: wire resources to a [`RouteTable`], with diagnostics (DestinationRule traffic
//!   policies included);
//! - [`services`]: ServiceEntry/WorkloadEntry to services and endpoints;
//! - [`cluster`]: endpoints, load balancing, outlier detection;
//! - [`table`]: the compiled routes;
//! - [`matchers`]: request matchers (string, header, query, match block), each from its wire type;
//! - [`distribute`]: weighted choice among a route's destinations;
//! - [`host`]: qualified host names and the request-host index;
//! - [`http_policy`]: a route's fault injection and CORS policy;
//! - [`retry`]: a route's retry policy and Envoy's retry conditions;
//! - [`validation`]: per-resource rules as Istio's validation has them, run before compiling;
//! - [`dump`]: the JSON shown by `/config_dump`.
//!
//! Layering: `model` imports only [`crate::config`] (and `crate::telemetry` for the metrics slot
//! of a [`Cluster`]); it never imports `route`, which walks the table, nor anything above it.

pub mod cluster;
pub mod compile;
pub mod distribute;
pub mod dump;
pub mod duration;
pub mod host;
pub mod http_policy;
pub mod matchers;
pub mod methods;
pub mod path_index;
pub mod retry;
pub mod services;
mod suggest;
pub mod table;
pub mod validation;

#[cfg(test)]
mod accept_tests;
#[cfg(test)]
mod compile_parity_tests;
#[cfg(test)]
pub(crate) mod test_fixtures;
#[cfg(test)]
mod validate_tests;

use std::path::PathBuf;
use std::time::SystemTime;

pub use cluster::{Cluster, Endpoint, Protocol};
pub use compile::{Prior, ProxyIdentity, Validation, compile, compile_set};
pub use table::{
    Action, ClusterChoice, MirrorPolicy, Route, RouteDestination, RouteTable, VirtualHost,
};

use crate::config::{self, Diagnostic};

/// One generation of configuration.
#[derive(Debug)]
pub struct Snapshot {
    /// 1 for the first config loaded, +1 for each one applied after it.
    pub generation: u64,
    /// The YAML files it was read from.
    pub files: Vec<PathBuf>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// The routes.
    pub table: RouteTable,
    /// Warnings found while compiling.
    pub warnings: Vec<Diagnostic>,
    /// One line saying what was loaded.
    pub summary: String,
    /// Documents of kinds shadowmesh does not read.
    pub skipped: Vec<config::Skipped>,
}

impl Snapshot {
    /// One info line per skipped document.
    pub fn skipped_lines(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|s| {
                format!(
                    "info: {}: skipped {} {} ({}): shadowmesh reads only VirtualService, DestinationRule, ServiceEntry and WorkloadEntry",
                    s.file.display(),
                    s.kind,
                    s.name.as_deref().unwrap_or("(unnamed)"),
                    s.api_version
                )
            })
            .collect()
    }
}

impl Snapshot {
    /// An empty snapshot (generation 0): every request gets 404. Used before the first config.
    pub fn empty() -> Self {
        Self {
            generation: 0,
            files: Vec::new(),
            loaded_at: SystemTime::now(),
            table: RouteTable::default(),
            warnings: Vec::new(),
            summary: "no configuration".into(),
            skipped: Vec::new(),
        }
    }
}

/// The result of loading: a snapshot, or every error (warnings are included either way).
pub type BuildResult = Result<Snapshot, Vec<Diagnostic>>;

/// Reads and compiles the configuration at `paths`, exactly as `run` and `validate` do.
pub fn build_snapshot(paths: &[PathBuf], identity: &ProxyIdentity, generation: u64) -> BuildResult {
    let mut diags = Vec::new();
    let set = config::read_files(paths, &identity.namespace, &mut diags);
    build_from_set(set, identity, generation, diags)
}

/// [`build_snapshot`] of the next generation after `previous`, keeping its clusters where
/// nothing they are made of changed (see [`Prior::clusters`]).
pub fn rebuild_snapshot(
    paths: &[PathBuf],
    identity: &ProxyIdentity,
    previous: &Snapshot,
) -> BuildResult {
    let mut diags = Vec::new();
    let set = config::read_files(paths, &identity.namespace, &mut diags);
    let prior = Prior {
        clusters: &previous.table.clusters,
        ..Prior::default()
    };
    build_from_set_with(set, identity, previous.generation + 1, diags, prior)
}

/// Compiles resources already read (`diags` holds what reading them reported: any error there
/// refuses the whole set, as for files).
pub fn build_from_set(
    set: config::ConfigSet,
    identity: &ProxyIdentity,
    generation: u64,
    diags: Vec<Diagnostic>,
) -> BuildResult {
    build_from_set_with(set, identity, generation, diags, Prior::default())
}

/// [`build_from_set`] with what is known from before (see [`Prior`]).
pub fn build_from_set_with(
    set: config::ConfigSet,
    identity: &ProxyIdentity,
    generation: u64,
    mut diags: Vec<Diagnostic>,
    prior: Prior<'_>,
) -> BuildResult {
    let load_failed = diags.iter().any(Diagnostic::is_error);
    let table = compile_set(&set, identity, &mut diags, prior);
    match table {
        Some(table) if !load_failed => {
            let summary = summarize(&set, &table);
            Ok(Snapshot {
                generation,
                files: set.files,
                loaded_at: SystemTime::now(),
                table,
                warnings: diags,
                summary,
                skipped: set.skipped,
            })
        }
        _ => {
            diags.sort_by_key(|d| std::cmp::Reverse(d.severity));
            Err(diags)
        }
    }
}

/// Compiles configuration given as text (one multi-document YAML named `file`), exactly as files
/// are: for tests, benchmarks and tools. Returns the table (none on errors) and every diagnostic.
pub fn compile_text(
    file: &str,
    text: &str,
    identity: &ProxyIdentity,
) -> (Option<RouteTable>, Vec<Diagnostic>) {
    let mut set = config::ConfigSet::default();
    let mut diags = Vec::new();
    config::parse_into(
        &mut set,
        std::path::Path::new(file),
        text,
        &identity.namespace,
        &mut diags,
    );
    let table = compile(&set, identity, &mut diags);
    let load_failed = diags.iter().any(Diagnostic::is_error);
    (table.filter(|_| !load_failed), diags)
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summarize(set: &config::ConfigSet, table: &RouteTable) -> String {
    let routes: usize = table
        .virtual_hosts
        .iter()
        .filter(|v| v.source.is_some())
        .map(|v| v.routes.len())
        .sum();
    let mirrors: usize = table
        .virtual_hosts
        .iter()
        .flat_map(|v| &v.routes)
        .map(|r| r.mirrors.len())
        .sum();
    let mut s = format!(
        "{}: {}, {}, {}, {}; {}, {}, {}",
        plural(set.files.len(), "file", "files"),
        plural(
            set.virtual_services.len(),
            "VirtualService",
            "VirtualServices"
        ),
        plural(
            set.destination_rules.len(),
            "DestinationRule",
            "DestinationRules"
        ),
        plural(set.service_entries.len(), "ServiceEntry", "ServiceEntries"),
        plural(
            set.workload_entries.len(),
            "WorkloadEntry",
            "WorkloadEntries"
        ),
        plural(routes, "http route", "http routes"),
        plural(mirrors, "mirror", "mirrors"),
        plural(table.clusters.len(), "cluster", "clusters"),
    );
    if !set.skipped.is_empty() {
        let kinds: Vec<&str> = set.skipped.iter().map(|k| k.kind.as_str()).collect();
        s.push_str(&format!("; skipped {}", kinds.join(", ")));
    }
    s
}
