//! Arbitrary bytes as one YAML file: parse (`config::parse_into`), compile (`model::compile`),
//! then route a few fixed requests through the table when it compiled. Must never panic; the
//! run script gives each input at most a few seconds (deep nesting is refused up front).
#![no_main]

use std::path::Path;

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use shadowmesh::config::{self, ConfigSet};
use shadowmesh::model::{self, ProxyIdentity};
use shadowmesh::route::{self, RequestHead};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let identity = ProxyIdentity::default();
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    config::parse_into(
        &mut set,
        Path::new("fuzz.yaml"),
        &text,
        &identity.namespace,
        &mut diags,
    );
    let table = model::compile(&set, &identity, &mut diags);
    for d in &diags {
        let _ = d.to_string();
    }
    let Some(table) = table else { return };
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", "Mobile".parse().unwrap());
    for vhost in &table.virtual_hosts {
        for host in &vhost.hosts {
            for path in ["/", "/api/calculation", ""] {
                let head = RequestHead {
                    method: "GET",
                    scheme: "http",
                    authority: host,
                    host,
                    port: None,
                    path,
                    query: Some("a=1"),
                    headers: &headers,
                };
                for roll in [0.0, 0.5, 0.999_999] {
                    if let Ok(d) = route::find(&table, &head, &mut || roll) {
                        let _ = d.mirror_clusters().count();
                    }
                }
            }
        }
    }
});
