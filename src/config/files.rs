//! Reading configuration files: files and folders of multi-document YAML, as `kubectl apply -f`
//! takes it.
//!
//! Owns turning bytes on disk into typed resources ([`ConfigSet`]): YAML syntax errors (with line
//! and column), the `apiVersion`/`kind` dispatch, unknown fields (with their path), default
//! namespaces. Meaning (subsets, hosts, weights) is checked by `model`, which this module must
//! not import (nor anything else of the crate outside `config`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::diag::Diagnostic;
use super::precheck::{MAX_FLOW_DEPTH, flow_depth, has_content};
use super::resources::{
    ConfigSet, ISTIO_GROUP, ISTIO_VERSIONS, Kind, Resource, ResourceId, Skipped,
};
use super::wire::ObjectMeta;

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
pub fn read_files(
    paths: &[PathBuf],
    default_namespace: &str,
    diags: &mut Vec<Diagnostic>,
) -> ConfigSet {
    let mut set = ConfigSet::default();
    let files = match list_files(paths) {
        Ok(files) => files,
        Err(errors) => {
            diags.extend(errors);
            return set;
        }
    };
    if files.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        diags.push(Diagnostic::error(format!(
            "no YAML files in {}: -f takes *.yaml/*.yml files or folders holding them (subfolders are not read)",
            named.join(", ")
        )));
    }
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) if !has_content(&text) => diags.push(
                Diagnostic::error(
                    "the file is empty: it holds no resource (kubectl apply refuses it too); \
                     delete the file to remove its resources",
                )
                .in_file(file.clone()),
            ),
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
    let depth = flow_depth(text);
    if depth > MAX_FLOW_DEPTH {
        diags.push(
            Diagnostic::error(format!(
                "YAML nested {depth} levels deep (at most {MAX_FLOW_DEPTH}): not a config shadowmesh reads"
            ))
            .in_file(file),
        );
        return;
    }
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

/// Parses one object already decoded (as a Kubernetes API server returns it) into `set`;
/// `source` names where it came from in diagnostics (`kubernetes: ns/name@resourceVersion`).
pub fn parse_object(
    set: &mut ConfigSet,
    source: &Path,
    value: Value,
    default_namespace: &str,
    diags: &mut Vec<Diagnostic>,
) {
    parse_document(set, source, 0, value, default_namespace, diags);
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
    let doc = Document {
        file,
        index,
        api_version,
        kind_name,
        default_namespace,
    };
    let Some(ctx) = doc.identify(&mut map, set, diags) else {
        return;
    };
    let spec = map.remove("spec").unwrap_or(Value::Null);
    match ctx.id.kind {
        Kind::VirtualService => push_typed(&mut set.virtual_services, ctx, spec, diags),
        Kind::DestinationRule => push_typed(&mut set.destination_rules, ctx, spec, diags),
        Kind::ServiceEntry | Kind::Service => {
            push_typed(&mut set.service_entries, ctx, spec, diags)
        }
        Kind::WorkloadEntry => push_typed(&mut set.workload_entries, ctx, spec, diags),
    }
}

/// One object of a file, before its metadata is read.
struct Document<'a> {
    file: &'a Path,
    index: usize,
    api_version: String,
    kind_name: String,
    default_namespace: &'a str,
}

impl<'a> Document<'a> {
    /// Reads `metadata` and names the resource. `None` when it is of a kind shadowmesh does not
    /// read (recorded in `set.skipped`) or cannot be named (reported).
    fn identify(
        self,
        map: &mut serde_yaml_ng::Mapping,
        set: &mut ConfigSet,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Ctx<'a>> {
        let (file, index) = (self.file, self.index);
        let meta = self.metadata(map, diags)?;
        let api_version = self.api_version;
        let (group, version) = api_version
            .split_once('/')
            .unwrap_or(("", api_version.as_str()));
        let kind = match Kind::parse(&self.kind_name) {
            Some(kind) if group == ISTIO_GROUP => kind,
            _ => {
                set.skipped.push(Skipped {
                    file: file.to_path_buf(),
                    api_version: api_version.clone(),
                    kind: self.kind_name,
                    name: meta.name.clone(),
                });
                return None;
            }
        };
        let namespace = meta
            .namespace
            .clone()
            .unwrap_or_else(|| self.default_namespace.to_string());
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
            return None;
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
            return None;
        }
        Some(Ctx {
            file,
            id,
            api_version,
            meta,
        })
    }

    /// `metadata`, empty when absent; `None` (reported) when malformed.
    fn metadata(
        &self,
        map: &mut serde_yaml_ng::Mapping,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<ObjectMeta> {
        let meta_value = map.remove("metadata").unwrap_or(Value::Null);
        if meta_value.is_null() {
            return Some(ObjectMeta::default());
        }
        match serde_yaml_ng::from_value(meta_value) {
            Ok(meta) => Some(meta),
            Err(e) => {
                diags.push(
                    Diagnostic::error(format!("{e}"))
                        .in_file(self.file)
                        .in_resource(format!("{} (document {})", self.kind_name, self.index + 1))
                        .at("metadata"),
                );
                None
            }
        }
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
            spec: spec.into(),
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
