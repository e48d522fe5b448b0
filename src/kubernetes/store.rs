//! The cluster's objects as last listed and watched: per kind, by namespace and name, the JSON
//! the API server sent, kept as compact text with its `resourceVersion` beside it (a parsed
//! `serde_json::Value` takes about ten times the bytes, and an object is parsed again only when
//! it changed: see `memo`). Watch events apply to it; a (re-)list replaces the kind's objects
//! within the namespace watched. Pure data: no client, no clock.

use std::collections::BTreeMap;

use serde_json::Value;

/// The kinds read from the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjKind {
    /// networking.istio.io VirtualService.
    VirtualService,
    /// networking.istio.io DestinationRule.
    DestinationRule,
    /// networking.istio.io ServiceEntry.
    ServiceEntry,
    /// networking.istio.io WorkloadEntry.
    WorkloadEntry,
    /// core/v1 Service.
    Service,
    /// discovery.k8s.io EndpointSlice.
    EndpointSlice,
    /// core/v1 Pod.
    Pod,
}

impl ObjKind {
    /// Every kind, Istio's first.
    pub const ALL: [Self; 7] = [
        Self::VirtualService,
        Self::DestinationRule,
        Self::ServiceEntry,
        Self::WorkloadEntry,
        Self::Service,
        Self::EndpointSlice,
        Self::Pod,
    ];

    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VirtualService => "VirtualService",
            Self::DestinationRule => "DestinationRule",
            Self::ServiceEntry => "ServiceEntry",
            Self::WorkloadEntry => "WorkloadEntry",
            Self::Service => "Service",
            Self::EndpointSlice => "EndpointSlice",
            Self::Pod => "Pod",
        }
    }

    /// True for the `networking.istio.io` kinds.
    pub fn is_istio(self) -> bool {
        matches!(
            self,
            Self::VirtualService | Self::DestinationRule | Self::ServiceEntry | Self::WorkloadEntry
        )
    }
}

/// (namespace, name) of an object.
pub type Key = (String, String);

/// The key of `obj` (empty strings when its metadata lacks them).
pub fn key_of(obj: &Value) -> Key {
    let field = |f: &str| {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (field("namespace"), field("name"))
}

/// One object as the API server sent it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// (namespace, name).
    pub key: Key,
    /// `metadata.resourceVersion` (empty when absent).
    pub resource_version: String,
    json: Box<str>,
}

impl Stored {
    /// An object already serialized: `json` must be the object whose key and version are given.
    pub fn from_parts(key: Key, resource_version: String, json: String) -> Self {
        Self {
            key,
            resource_version,
            json: json.into_boxed_str(),
        }
    }

    /// The object, parsed again.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    /// The object read as `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.json)
    }
}

impl From<Value> for Stored {
    fn from(obj: Value) -> Self {
        let resource_version = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Self::from_parts(key_of(&obj), resource_version, obj.to_string())
    }
}

/// Every object read from the cluster.
#[derive(Debug, Default, Clone)]
pub struct Objects {
    by_kind: BTreeMap<ObjKind, BTreeMap<Key, Stored>>,
}

impl Objects {
    /// An object was added or changed.
    pub fn apply(&mut self, kind: ObjKind, obj: impl Into<Stored>) {
        let obj = obj.into();
        self.by_kind
            .entry(kind)
            .or_default()
            .insert(obj.key.clone(), obj);
    }

    /// The object `key` of `kind` was deleted.
    pub fn delete(&mut self, kind: ObjKind, key: &Key) {
        if let Some(m) = self.by_kind.get_mut(&kind) {
            m.remove(key);
        }
    }

    /// A full list of `kind` in `namespace` (all namespaces when `None`) replaces what was known.
    pub fn replace(&mut self, kind: ObjKind, namespace: Option<&str>, objs: Vec<Stored>) {
        let m = self.by_kind.entry(kind).or_default();
        m.retain(|(ns, _), _| namespace.is_some_and(|n| n != ns));
        for obj in objs {
            m.insert(obj.key.clone(), obj);
        }
    }

    /// The objects of `kind`, by key.
    pub fn of(&self, kind: ObjKind) -> impl Iterator<Item = (&Key, &Stored)> {
        self.by_kind.get(&kind).into_iter().flatten()
    }

    /// The object `key` of `kind`, if known.
    pub fn get(&self, kind: ObjKind, key: &Key) -> Option<&Stored> {
        self.by_kind.get(&kind).and_then(|m| m.get(key))
    }

    /// How many objects of `kind` are known.
    pub fn count(&self, kind: ObjKind) -> usize {
        self.by_kind.get(&kind).map_or(0, BTreeMap::len)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(ns: &str, name: &str, rv: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name, "resourceVersion": rv}})
    }

    #[test]
    fn events_and_relists_keep_the_latest() {
        let mut o = Objects::default();
        o.apply(ObjKind::Pod, obj("a", "p1", "1"));
        o.apply(ObjKind::Pod, obj("b", "p2", "1"));
        o.apply(ObjKind::Pod, obj("a", "p1", "2"));
        assert_eq!(o.count(ObjKind::Pod), 2);
        // A relist of namespace a drops what a no longer has and keeps b.
        o.replace(ObjKind::Pod, Some("a"), vec![obj("a", "p3", "3").into()]);
        let keys: Vec<&Key> = o.of(ObjKind::Pod).map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [&("a".into(), "p3".into()), &("b".into(), "p2".into())]
        );
        o.delete(ObjKind::Pod, &("b".into(), "p2".into()));
        // A relist of all namespaces replaces everything.
        o.replace(ObjKind::Pod, None, vec![obj("c", "p4", "5").into()]);
        assert_eq!(o.count(ObjKind::Pod), 1);
        assert_eq!(o.count(ObjKind::Service), 0);
    }
}
