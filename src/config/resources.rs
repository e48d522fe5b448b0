//! The typed resources read from the configuration: [`ConfigSet`], each [`Resource`] named by
//! its [`ResourceId`], and the documents of other kinds ([`Skipped`]). Also the one check that
//! needs every resource at once: duplicate names.
//!
//! Imports only [`crate::config`]'s own modules.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::diag::Diagnostic;
use super::wire::{
    DestinationRuleSpec, ObjectMeta, ServiceEntrySpec, VirtualServiceSpec, WorkloadEntrySpec,
};

/// The API group whose kinds shadowmesh reads.
pub const ISTIO_GROUP: &str = "networking.istio.io";
/// The versions of that group shadowmesh reads (all share one schema for these kinds).
pub const ISTIO_VERSIONS: [&str; 3] = ["v1alpha3", "v1beta1", "v1"];

/// The kinds of resource shadowmesh reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `VirtualService`: routes.
    VirtualService,
    /// `DestinationRule`: subsets and policies.
    DestinationRule,
    /// `ServiceEntry`: services and endpoints.
    ServiceEntry,
    /// `WorkloadEntry`: one endpoint with labels.
    WorkloadEntry,
    /// A Kubernetes core/v1 `Service` (with its endpoints), held as the ServiceEntry it
    /// amounts to; never read from files.
    Service,
}

impl Kind {
    /// The kind named `s` as written in YAML, if shadowmesh reads it.
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "VirtualService" => Self::VirtualService,
            "DestinationRule" => Self::DestinationRule,
            "ServiceEntry" => Self::ServiceEntry,
            "WorkloadEntry" => Self::WorkloadEntry,
            _ => return None,
        })
    }

    /// The kind as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VirtualService => "VirtualService",
            Self::DestinationRule => "DestinationRule",
            Self::ServiceEntry => "ServiceEntry",
            Self::WorkloadEntry => "WorkloadEntry",
            Self::Service => "Service",
        }
    }
}

/// Names a resource: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId {
    /// Kind.
    pub kind: Kind,
    /// Namespace (defaulted).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

/// A typed resource and where it came from.
#[derive(Debug, Clone)]
pub struct Resource<T> {
    /// Kind, namespace, name.
    pub id: ResourceId,
    /// The file it was read from.
    pub file: PathBuf,
    /// `apiVersion` as written.
    pub api_version: String,
    /// Metadata (annotations are read by some features).
    pub meta: ObjectMeta,
    /// The typed `spec`, shared: a build in Kubernetes mode gathers every resource into one
    /// set, and sharing makes that a count increment instead of a copy of each spec.
    pub spec: std::sync::Arc<T>,
}

/// A document of a kind shadowmesh does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// File it was in.
    pub file: PathBuf,
    /// `apiVersion` as written.
    pub api_version: String,
    /// `kind` as written.
    pub kind: String,
    /// `metadata.name`, if any.
    pub name: Option<String>,
}

/// Everything read from the configuration paths.
#[derive(Debug, Clone, Default)]
pub struct ConfigSet {
    /// The YAML files read, in order.
    pub files: Vec<PathBuf>,
    /// VirtualServices, in file order.
    pub virtual_services: Vec<Resource<VirtualServiceSpec>>,
    /// DestinationRules, in file order.
    pub destination_rules: Vec<Resource<DestinationRuleSpec>>,
    /// ServiceEntries, in file order.
    pub service_entries: Vec<Resource<ServiceEntrySpec>>,
    /// WorkloadEntries, in file order.
    pub workload_entries: Vec<Resource<WorkloadEntrySpec>>,
    /// Documents of other kinds.
    pub skipped: Vec<Skipped>,
}

/// Reports resources of the same kind, namespace and name defined more than once.
pub fn check_duplicates(set: &ConfigSet, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&ResourceId, &Path> = BTreeMap::new();
    let all = set
        .virtual_services
        .iter()
        .map(|r| (&r.id, r.file.as_path()))
        .chain(
            set.destination_rules
                .iter()
                .map(|r| (&r.id, r.file.as_path())),
        )
        .chain(
            set.service_entries
                .iter()
                .map(|r| (&r.id, r.file.as_path())),
        )
        .chain(
            set.workload_entries
                .iter()
                .map(|r| (&r.id, r.file.as_path())),
        );
    for (id, file) in all {
        if let Some(first) = seen.insert(id, file) {
            diags.push(
                Diagnostic::error(format!(
                    "defined twice: first in {}; give one of them another name",
                    first.display()
                ))
                .in_file(file)
                .in_resource(id.to_string())
                .at("metadata.name"),
            );
        }
    }
}
