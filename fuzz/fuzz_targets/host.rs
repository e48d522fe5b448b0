//! Host names and authorities. Input: lines (UTF-8, lossy). Line 0 is the proxy's namespace;
//! a line starting with `+` is a host written in a resource: qualified (`qualify`) and inserted
//! into a `HostIndex`; a line starting with `=` names a namespace known to `qualify`; any other
//! line is a request authority: split (`split_authority`) and looked up. Must never panic, and a
//! host once inserted must be found by its qualified name.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use shadowmesh::model::host::{HostIndex, qualify, split_authority, split_cluster_local};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let proxy_ns = lines.next().unwrap_or("");
    let mut namespaces = BTreeSet::new();
    let mut index = HostIndex::default();
    for (i, line) in lines.enumerate() {
        if let Some(ns) = line.strip_prefix('=') {
            namespaces.insert(ns.to_string());
        } else if let Some(host) = line.strip_prefix('+') {
            let fqdn = qualify(host, proxy_ns, &namespaces);
            let _ = split_cluster_local(&fqdn);
            index.insert(&fqdn, i);
            if !fqdn.starts_with('*') {
                assert!(index.lookup(&fqdn, proxy_ns).is_ok(), "{fqdn:?} not found");
            }
        } else {
            let (host, port) = split_authority(line);
            assert!(line.contains(host), "{host:?} is not part of {line:?}");
            if let Some(p) = port {
                assert!(line.contains(&p.to_string()), "{line:?} gave port {p}");
            }
            if let Err(e) = index.lookup(host, proxy_ns) {
                let _ = e.to_string();
            }
        }
    }
});
