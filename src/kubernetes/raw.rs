//! An object as the API server sent it: its identity read, the rest kept as JSON text. A list
//! read into `serde_json::Value`s fails whole when one object nests deeper than serde_json's
//! recursion limit (one object made with `--validate=false` under a CRD that keeps unknown
//! fields stopped its whole kind); raw text is skipped over without recursing, so such an
//! object fails alone, when it is read ([`super::watch::stored`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;
use kube::api::ApiResource;
use kube::core::DynamicResourceScope;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::value::RawValue;

/// One object: what list+watch needs of its metadata, and its JSON text.
#[derive(Debug, Clone)]
pub struct RawObject {
    /// Name, namespace, `resourceVersion`, uid, labels, annotations, creation time (not
    /// `managedFields`: they mirror the object's own depth).
    pub metadata: ObjectMeta,
    /// The whole object, as sent.
    pub raw: Box<RawValue>,
}

/// The metadata fields read up front.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Identity {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    uid: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    metadata: Identity,
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let head: Head = serde_json::from_str(raw.get()).map_err(D::Error::custom)?;
        let m = head.metadata;
        let metadata = ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            resource_version: m.resource_version,
            uid: m.uid,
            labels: m.labels,
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_timestamp: m.deletion_timestamp,
            ..ObjectMeta::default()
        };
        Ok(Self { metadata, raw })
    }
}

impl Resource for RawObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_with_one_object_nested_too_deep_still_reads_the_others() {
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let list = format!(
            r#"{{"items": [
              {{"metadata": {{"name": "deep", "namespace": "ns", "resourceVersion": "7"}}, "spec": {{"x": {deep}}}}},
              {{"metadata": {{"name": "fine", "namespace": "ns", "resourceVersion": "8"}}, "spec": {{"hosts": ["a"]}}}}
            ]}}"#
        );
        // As a list of `Value`s it fails whole.
        assert!(serde_json::from_str::<serde_json::Value>(&list).is_err());
        #[derive(Deserialize)]
        struct List {
            items: Vec<RawObject>,
        }
        let read: List = serde_json::from_str(&list).expect("the list reads");
        let names: Vec<_> = read
            .items
            .iter()
            .map(|o| o.metadata.name.as_deref())
            .collect();
        assert_eq!(names, [Some("deep"), Some("fine")]);
        assert_eq!(
            read.items[1].metadata.resource_version.as_deref(),
            Some("8")
        );
    }
}
