//! `shadowmesh validate --kubernetes`: every kind listed once, each resource checked alone and
//! then compiled together, as the running proxy would; bad resources are named as
//! `KIND ns/name: field: problem`.

use std::path::PathBuf;

use kube::api::{Api, ListParams};

use super::raw::RawObject;

use super::candidates::{candidates, file_candidates};
use super::gate::{Gate, describe};
use super::memo::Memo;
use super::store::Objects;
use super::{KubeError, KubeOptions, client, watch};
use crate::config::Diagnostic;
use crate::model::ProxyIdentity;

/// What `validate --kubernetes` found.
#[derive(Debug, Default)]
pub struct ClusterReport {
    /// One line per problem of a bad resource: `KIND ns/name: field: problem`.
    pub bad: Vec<String>,
    /// Cross-resource findings and warnings of what would be applied.
    pub findings: Vec<Diagnostic>,
    /// What would be applied, when anything would.
    pub summary: Option<String>,
}

/// Lists the cluster once (and reads `files`) and checks everything.
pub async fn validate_cluster(
    opts: &KubeOptions,
    identity: &ProxyIdentity,
    files: &[PathBuf],
) -> Result<ClusterReport, KubeError> {
    let client = client(opts).await?;
    let served = watch::discover(&client).await?;
    let mut objects = Objects::default();
    let mut versions = std::collections::BTreeMap::new();
    let scopes: Vec<Option<&String>> = if opts.namespaces.is_empty() {
        vec![None]
    } else {
        opts.namespaces.iter().map(Some).collect()
    };
    for (kind, ar) in &served {
        versions.insert(*kind, ar.api_version.clone());
        for scope in &scopes {
            let api: Api<RawObject> = match scope {
                Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
                None => Api::all_with(client.clone(), ar),
            };
            let list = api.list(&ListParams::default()).await?;
            let items = list
                .items
                .into_iter()
                .map(|o| watch::stored(o, *kind))
                .collect();
            objects.replace(*kind, scope.map(String::as_str), items);
        }
    }
    let mut all = candidates(&objects, &versions, &mut Memo::default());
    let (from_files, whole_file) = file_candidates(files, &identity.namespace);
    all.extend(from_files);
    let outcome = Gate::default().build(all, identity);
    let mut report = ClusterReport {
        findings: whole_file,
        ..Default::default()
    };
    for r in &outcome.rejections {
        for e in &r.errors {
            report
                .bad
                .push(format!("{}: {}", r.candidate.key, describe(e)));
        }
    }
    report.findings.extend(outcome.errors);
    if let Some(snap) = outcome.snapshot {
        report.findings.extend(snap.warnings);
        report.summary = Some(snap.summary);
    }
    Ok(report)
}
