//! The cluster's objects as last listed and watched: per kind, by namespace and name, the JSON
//! the API server sent. Watch events apply to it; a (re-)list replaces the kind's objects within
//! the namespace watched. Pure data: no client, no clock.

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

/// Every object read from the cluster.
#[derive(Debug, Default, Clone)]
pub struct Objects {
    by_kind: BTreeMap<ObjKind, BTreeMap<Key, Value>>,
}

impl Objects {
    /// An object was added or changed.
    pub fn apply(&mut self, kind: ObjKind, obj: Value) {
        self.by_kind
            .entry(kind)
            .or_default()
            .insert(key_of(&obj), obj);
    }

    /// An object was deleted.
    pub fn delete(&mut self, kind: ObjKind, obj: &Value) {
        if let Some(m) = self.by_kind.get_mut(&kind) {
            m.remove(&key_of(obj));
        }
    }

    /// A full list of `kind` in `namespace` (all namespaces when `None`) replaces what was known.
    pub fn replace(&mut self, kind: ObjKind, namespace: Option<&str>, objs: Vec<Value>) {
        let m = self.by_kind.entry(kind).or_default();
        m.retain(|(ns, _), _| namespace.is_some_and(|n| n != ns));
        for obj in objs {
            m.insert(key_of(&obj), obj);
        }
    }

    /// The objects of `kind`, by key.
    pub fn of(&self, kind: ObjKind) -> impl Iterator<Item = (&Key, &Value)> {
        self.by_kind.get(&kind).into_iter().flatten()
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
        o.replace(ObjKind::Pod, Some("a"), vec![obj("a", "p3", "3")]);
        let keys: Vec<&Key> = o.of(ObjKind::Pod).map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [&("a".into(), "p3".into()), &("b".into(), "p2".into())]
        );
        o.delete(ObjKind::Pod, &obj("b", "p2", "4"));
        // A relist of all namespaces replaces everything.
        o.replace(ObjKind::Pod, None, vec![obj("c", "p4", "5")]);
        assert_eq!(o.count(ObjKind::Pod), 1);
        assert_eq!(o.count(ObjKind::Service), 0);
    }
}
