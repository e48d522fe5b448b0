//! A rejected resource as a Kubernetes `Event` on its object (`kubectl describe` shows it):
//! type `Warning`, reason `ShadowmeshRejected`, the fields and problems as message. One per
//! object and resourceVersion: the Event's name is derived from both, so replicas posting the
//! same one get `AlreadyExists`, which is fine.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, PostParams};

use super::candidates::ObjectRef;

/// The Event's reason.
pub const REASON: &str = "ShadowmeshRejected";

/// The Event for `object`, refused for `message`.
pub fn event(object: &ObjectRef, message: &str) -> Event {
    let mut h = DefaultHasher::new();
    (&object.kind, &object.uid, &object.resource_version).hash(&mut h);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut message = message.to_string();
    if message.len() > 1000 {
        let mut end = 1000;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.shadowmesh-{:016x}", object.name, h.finish())),
            namespace: Some(object.namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(object.api_version.clone()),
            kind: Some(object.kind.clone()),
            name: Some(object.name.clone()),
            namespace: Some(object.namespace.clone()),
            uid: Some(object.uid.clone()).filter(|u| !u.is_empty()),
            resource_version: Some(object.resource_version.clone()),
            ..Default::default()
        },
        reason: Some(REASON.into()),
        message: Some(message),
        type_: Some("Warning".into()),
        source: Some(EventSource {
            component: Some("shadowmesh".into()),
            host: None,
        }),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Default::default()
    }
}

/// Posts the Event (in its own task: the config never waits for it).
pub fn post(client: &Client, object: &ObjectRef, message: &str) {
    let ev = event(object, message);
    let api: Api<Event> = Api::namespaced(client.clone(), &object.namespace);
    tokio::spawn(async move {
        match api.create(&PostParams::default(), &ev).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => tracing::warn!(error = %e, "cannot post the Event for a rejected resource"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_name_per_object_version() {
        let mut o = ObjectRef {
            api_version: "networking.istio.io/v1".into(),
            kind: "VirtualService".into(),
            namespace: "ns".into(),
            name: "vs".into(),
            uid: "u1".into(),
            resource_version: "7".into(),
        };
        let a = event(&o, "spec.http[0].retries.attempts: must be >= 0");
        assert_eq!(a.metadata.name, event(&o, "other").metadata.name);
        assert_eq!(a.reason.as_deref(), Some(REASON));
        assert_eq!(a.involved_object.uid.as_deref(), Some("u1"));
        o.resource_version = "8".into();
        assert_ne!(a.metadata.name, event(&o, "x").metadata.name);
    }
}
