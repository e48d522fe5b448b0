//! The active configuration as JSON, for `GET /config_dump`: generation, source files, and the
//! compiled virtual hosts, routes and clusters (with endpoints), so a user can see exactly what
//! shadowmesh made of their YAML.
//! Imports only `model` (and no `route`, `proxy` or `admin`, which serves it).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::Snapshot;
use super::cluster::Cluster;
use super::table::{Action, ClusterChoice, RedirectPort, Route, VirtualHost};

/// The dump of one snapshot: a few fields made up front (`head`, to which the admin adds its
/// own), then the virtual hosts and clusters, each made while it is written. A mesh of thousands
/// of services dumps megabytes of JSON; as one `Value` tree it took three times that at once.
pub struct ConfigDump<'a> {
    /// Fields written first.
    pub head: Map<String, Value>,
    snap: &'a Snapshot,
}

/// Renders `snap` as JSON (see [`ConfigDump`]).
pub fn config_dump(snap: &Snapshot) -> ConfigDump<'_> {
    let loaded_at = snap
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let head = json!({
        "generation": snap.generation,
        "loaded_at_unix": loaded_at,
        "sources": snap.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "summary": snap.summary,
        "warnings": snap.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "proxy_namespace": snap.table.proxy_namespace,
    });
    let Value::Object(head) = head else {
        unreachable!("json! of an object literal is an object")
    };
    ConfigDump { head, snap }
}

impl Serialize for ConfigDump<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in &self.head {
            map.serialize_entry(k, v)?;
        }
        let table = &self.snap.table;
        map.serialize_entry(
            "virtual_hosts",
            &Each(|| table.virtual_hosts.iter().map(vhost)),
        )?;
        map.serialize_entry(
            "clusters",
            &Each(|| table.clusters.iter().map(|c| cluster(c))),
        )?;
        map.end()
    }
}

/// A JSON array of the values `make()` yields, each made as it is written.
struct Each<F>(F);

impl<F, I> Serialize for Each<F>
where
    F: Fn() -> I,
    I: Iterator<Item = Value>,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

fn vhost(v: &VirtualHost) -> Value {
    json!({
        "name": v.name,
        "hosts": v.hosts,
        "ports": v.ports,
        "compare_ignore": v.compare_ignore.as_slice(),
        "compare_unordered": v.compare_unordered.as_slice(),
        "routes": v.routes.iter().map(route).collect::<Vec<_>>(),
    })
}

fn choice(c: &ClusterChoice) -> Value {
    let names: Vec<String> = c.clusters().iter().map(|c| cluster_name(c)).collect();
    json!(names)
}

fn cluster_name(c: &Cluster) -> String {
    match &c.subset {
        Some(s) => format!("{}:{}|{s}", c.service, c.port),
        None => format!("{}:{}", c.service, c.port),
    }
}

fn route(r: &Route) -> Value {
    let matches: Vec<Value> = r
        .matches
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "uri": m.uri.as_ref().map(|u| u.describe()),
                "ignore_uri_case": m.ignore_uri_case,
                "method": m.method.as_ref().map(|u| u.describe()),
                "scheme": m.scheme.as_ref().map(|u| u.describe()),
                "authority": m.authority.as_ref().map(|u| u.describe()),
                "port": m.port,
                "headers": m.headers.iter().map(|h| json!({
                    "name": h.name.as_str(), "match": h.value.describe(), "invert": h.invert,
                })).collect::<Vec<_>>(),
                "query_params": m.query.iter().map(|q| json!({
                    "name": q.name, "match": q.value.describe(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let action = match &r.action {
        Action::Forward(w) => json!({"forward": w.destinations.iter().map(|d| json!({
            "clusters": choice(&d.target), "weight": d.weight,
        })).collect::<Vec<_>>()}),
        Action::Redirect(rd) => json!({"redirect": {
            "uri": rd.uri, "prefix_rewrite": rd.prefix_rewrite, "authority": rd.authority,
            "port": match rd.port {
                RedirectPort::Unset => json!(null),
                RedirectPort::FromRequest => json!("FROM_REQUEST_PORT"),
                RedirectPort::Fixed(p) => json!(p),
            },
            "scheme": rd.scheme,
            "status": rd.status.as_u16(),
        }}),
        Action::Direct(d) => {
            json!({"direct_response": {"status": d.status.as_u16(), "body_bytes": d.body.len()}})
        }
    };
    json!({
        "name": r.name,
        "match": matches,
        "action": action,
        "mirrors": r.mirrors.iter().map(|m| json!({
            "clusters": choice(&m.target), "percent": m.percent,
        })).collect::<Vec<_>>(),
        "timeout_ms": r.timeout.map(|t| t.as_millis() as u64),
        "fault": r.fault.as_ref().map(|f| json!({
            "delay_ms": f.delay.as_ref().map(|d| d.fixed.as_millis() as u64),
            "delay_per_million": f.delay.as_ref().map(|d| d.per_million),
            "abort": f.abort.as_ref().map(|a| format!("{:?}", a.answer)),
            "abort_per_million": f.abort.as_ref().map(|a| a.per_million),
        })),
        "cors": r.cors.as_ref().map(|c| json!({
            "allow_origins": c.origins.iter().map(|o| o.describe()).collect::<Vec<_>>(),
        })),
        "retries": r.retry.as_ref().map(|p| json!({
            "num_retries": p.num_retries,
            "retry_on": p.retry_on.names(),
            "per_try_timeout_ms": p.per_try_timeout.map(|t| t.as_millis() as u64),
            "ignore_previous_hosts": p.ignore_previous_hosts,
            "backoff_base_ms": p.backoff.base.as_millis() as u64,
        })),
    })
}

fn cluster(c: &Cluster) -> Value {
    json!({
        "name": cluster_name(c),
        "service": c.service,
        "port": c.port,
        "subset": c.subset,
        "version": c.version(),
        "protocol": c.protocol,
        "passthrough": c.passthrough,
        "policy": c.policy,
        "endpoints": c.endpoints.iter().map(|e| json!({
            "address": e.authority.as_str(),
            "workload": e.workload,
            "labels": e.labels,
            "ejected": c.is_ejected(e),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigSet, parse_into};
    use crate::model::test_fixtures::SEED_SERVICES;
    use crate::model::{ProxyIdentity, build_from_set};

    #[test]
    fn the_dump_has_the_head_then_each_virtual_host_and_cluster() {
        let routes = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: calc, namespace: challengeistio}
spec:
  hosts: [calcbackendsvc]
  http:
  - route: [{destination: {host: calcbackendsvc, subset: v1}}]
    mirror: {host: calcbackendsvc, subset: v3}
"#;
        let mut set = ConfigSet::default();
        let mut diags = Vec::new();
        for text in [SEED_SERVICES, routes] {
            parse_into(&mut set, "x.yaml".as_ref(), text, "default", &mut diags);
        }
        let snap = build_from_set(set, &ProxyIdentity::default(), 7, diags).expect("compiles");
        let mut dump = config_dump(&snap);
        dump.head.insert("added".into(), json!("by the admin"));
        let text = serde_json::to_string(&dump).expect("serializes");
        let back: Value = serde_json::from_str(&text).expect("is JSON");
        assert_eq!(back["generation"], 7);
        assert_eq!(back["added"], "by the admin");
        assert_eq!(
            back["virtual_hosts"][0]["name"],
            "VirtualService challengeistio/calc"
        );
        let route = &back["virtual_hosts"][0]["routes"][0];
        assert_eq!(
            route["mirrors"][0]["clusters"][0],
            "calcbackendsvc.challengeistio.svc.cluster.local:80|v3"
        );
        let clusters: Vec<&str> = back["clusters"]
            .as_array()
            .expect("an array")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            clusters,
            [
                "calcbackendsvc.challengeistio.svc.cluster.local:80|v1",
                "calcbackendsvc.challengeistio.svc.cluster.local:80|v3"
            ]
        );
    }
}
