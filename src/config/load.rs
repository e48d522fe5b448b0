//! Reading configuration: files and folders of multi-document YAML, as `kubectl apply -f` takes it.
//!
//! Owns turning bytes on disk into typed resources ([`ConfigSet`]): YAML syntax errors (with line
//! and column), the `apiVersion`/`kind` dispatch, unknown fields (with their path), default
//! namespaces and duplicate names. Meaning (subsets, hosts, weights) is checked by [`crate::model`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

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
}

impl Kind {
    fn parse(s: &str) -> Option<Self> {
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
    /// The typed `spec`.
    pub spec: T,
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

/// Lists the YAML files named by `paths`: files as given, folders' `*.yaml`/`*.yml` sorted by name
/// (hidden entries skipped, so a Kubernetes ConfigMap mount's `..data` folder is not read twice).
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| is_yaml_file(p))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => errors.push(
                    Diagnostic::error(format!("cannot read folder: {e}")).in_file(path.clone()),
                ),
            },
            Ok(_) => files.push(path.clone()),
            Err(e) => {
                errors.push(Diagnostic::error(format!("cannot read: {e}")).in_file(path.clone()))
            }
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

fn is_yaml_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    yaml && !name.starts_with('.') && p.is_file()
}

/// Reads every file named by `paths` into a [`ConfigSet`], pushing every problem found into
/// `diags` (reading goes on after an error so that all of them are reported at once).
pub fn load(paths: &[PathBuf], default_namespace: &str, diags: &mut Vec<Diagnostic>) -> ConfigSet {
    let mut set = ConfigSet::default();
    let files = match list_files(paths) {
        Ok(files) => files,
        Err(errors) => {
            diags.extend(errors);
            return set;
        }
    };
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => parse_into(&mut set, &file, &text, default_namespace, diags),
            Err(e) => {
                diags.push(Diagnostic::error(format!("cannot read: {e}")).in_file(file.clone()))
            }
        }
        set.files.push(file);
    }
    set
}

/// Parses one file's text (multi-document YAML) into `set`.
pub fn parse_into(
    set: &mut ConfigSet,
    file: &Path,
    text: &str,
    default_namespace: &str,
    diags: &mut Vec<Diagnostic>,
) {
    for (index, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = match Value::deserialize(doc) {
            Ok(value) => value,
            Err(e) => {
                diags.push(
                    Diagnostic::error(format!("YAML syntax error in document {}: {e}", index + 1))
                        .in_file(file),
                );
                // The parser cannot resynchronise after a syntax error.
                return;
            }
        };
        parse_document(set, file, index, value, default_namespace, diags);
    }
}

fn parse_document(
    set: &mut ConfigSet,
    file: &Path,
    index: usize,
    value: Value,
    default_namespace: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let mut map = match value {
        Value::Null => return, // an empty document (`---` at the end) is fine
        Value::Mapping(map) => map,
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "document {} is a {}, expected a Kubernetes object with apiVersion and kind",
                    index + 1,
                    value_type(&other)
                ))
                .in_file(file),
            );
            return;
        }
    };
    let api_version = take_string(&mut map, "apiVersion");
    let kind_name = take_string(&mut map, "kind");
    let (Some(api_version), Some(kind_name)) = (api_version, kind_name) else {
        diags.push(
            Diagnostic::error(format!(
                "document {} has no apiVersion or kind: every resource needs both",
                index + 1
            ))
            .in_file(file),
        );
        return;
    };
    if kind_name == "List" {
        if let Some(Value::Sequence(items)) = map.remove("items") {
            for item in items {
                parse_document(set, file, index, item, default_namespace, diags);
            }
        }
        return;
    }
    let meta_value = map.remove("metadata").unwrap_or(Value::Null);
    let meta: ObjectMeta = if meta_value.is_null() {
        ObjectMeta::default()
    } else {
        match serde_yaml_ng::from_value(meta_value) {
            Ok(meta) => meta,
            Err(e) => {
                diags.push(
                    Diagnostic::error(format!("{e}"))
                        .in_file(file)
                        .in_resource(format!("{kind_name} (document {})", index + 1))
                        .at("metadata"),
                );
                return;
            }
        }
    };
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    let kind = match Kind::parse(&kind_name) {
        Some(kind) if group == ISTIO_GROUP => kind,
        _ => {
            set.skipped.push(Skipped {
                file: file.to_path_buf(),
                api_version: api_version.clone(),
                kind: kind_name,
                name: meta.name.clone(),
            });
            return;
        }
    };
    let namespace = meta
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace.to_string());
    let Some(name) = meta.name.clone().filter(|n| !n.is_empty()) else {
        diags.push(
            Diagnostic::error("metadata.name is required")
                .in_file(file)
                .in_resource(format!(
                    "{} {namespace}/(document {})",
                    kind.as_str(),
                    index + 1
                ))
                .at("metadata.name"),
        );
        return;
    };
    let id = ResourceId {
        kind,
        namespace,
        name,
    };
    if !ISTIO_VERSIONS.contains(&version) {
        diags.push(
            Diagnostic::error(format!(
                "apiVersion {api_version} is not supported: use {ISTIO_GROUP}/v1, v1beta1 or v1alpha3"
            ))
            .in_file(file)
            .in_resource(id.to_string())
            .at("apiVersion"),
        );
        return;
    }
    let spec = map.remove("spec").unwrap_or(Value::Null);
    let ctx = Ctx {
        file,
        id,
        api_version,
        meta,
    };
    match kind {
        Kind::VirtualService => push_typed(&mut set.virtual_services, ctx, spec, diags),
        Kind::DestinationRule => push_typed(&mut set.destination_rules, ctx, spec, diags),
        Kind::ServiceEntry => push_typed(&mut set.service_entries, ctx, spec, diags),
        Kind::WorkloadEntry => push_typed(&mut set.workload_entries, ctx, spec, diags),
    }
}

struct Ctx<'a> {
    file: &'a Path,
    id: ResourceId,
    api_version: String,
    meta: ObjectMeta,
}

fn push_typed<T: DeserializeOwned>(
    out: &mut Vec<Resource<T>>,
    ctx: Ctx<'_>,
    spec: Value,
    diags: &mut Vec<Diagnostic>,
) {
    if spec.is_null() {
        diags.push(
            Diagnostic::error("spec is required")
                .in_file(ctx.file)
                .in_resource(ctx.id.to_string())
                .at("spec"),
        );
        return;
    }
    match serde_path_to_error::deserialize::<_, T>(spec) {
        Ok(spec) => out.push(Resource {
            id: ctx.id,
            file: ctx.file.to_path_buf(),
            api_version: ctx.api_version,
            meta: ctx.meta,
            spec,
        }),
        Err(e) => {
            let path = e.path().to_string();
            let field = if path == "." {
                "spec".to_string()
            } else {
                format!("spec.{path}")
            };
            diags.push(
                Diagnostic::error(e.into_inner().to_string())
                    .in_file(ctx.file)
                    .in_resource(ctx.id.to_string())
                    .at(field),
            );
        }
    }
}

fn take_string(map: &mut serde_yaml_ng::Mapping, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn value_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "mapping",
        Value::Tagged(_) => "tagged value",
    }
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
