//! `loadBalancer` to a cluster's balancing: consistent hashing's algorithm, size and key, and a
//! subset's `loadBalancer` replacing the rule's whole.

use std::path::PathBuf;

use super::traffic_policy::merge_policy;
use crate::config::Diagnostic;
use crate::config::diag::Reporter;
use crate::config::wire::TrafficPolicy;
use crate::model::cluster::{ClusterPolicy, HashCookie, HashKey, LbPolicy};

/// `policy` (YAML) merged over `base`; the policy and the diagnostics.
fn merged(base: &ClusterPolicy, policy: &str) -> (ClusterPolicy, Vec<Diagnostic>) {
    let tp: TrafficPolicy = serde_yaml_ng::from_str(policy).expect(policy);
    let mut diags = Vec::new();
    let mut r = Reporter::new(
        &mut diags,
        PathBuf::from("dr.yaml"),
        "DestinationRule".into(),
    );
    let out = merge_policy(base, Some(&tp), &mut r, "spec.trafficPolicy");
    (out, diags)
}

const RING_1024: LbPolicy = LbPolicy::RingHash {
    minimum_ring_size: 1024,
};

#[test]
fn consistent_hash_becomes_a_ring_or_maglev_with_its_key() {
    let cookie = |ttl_secs| {
        Some(HashKey::Cookie(HashCookie {
            name: "user".into(),
            path: "/".into(),
            ttl_secs,
            attributes: vec![
                ("SameSite".into(), "Strict".into()),
                ("Secure".into(), "".into()),
            ],
        }))
    };
    let cases = [
        (
            "{loadBalancer: {consistentHash: {httpHeaderName: X-User}}}",
            RING_1024,
            Some(HashKey::Header("x-user".into())),
        ),
        (
            "{loadBalancer: {consistentHash: {httpCookie: {name: user, path: /, ttl: 3600s, attributes: [{name: SameSite, value: Strict}, {name: Secure}]}}}}",
            RING_1024,
            cookie(Some(3600)),
        ),
        (
            "{loadBalancer: {consistentHash: {httpCookie: {name: user, path: /, attributes: [{name: SameSite, value: Strict}, {name: Secure}]}}}}",
            RING_1024,
            cookie(None),
        ),
        (
            "{loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 4096}}}}",
            LbPolicy::RingHash {
                minimum_ring_size: 4096,
            },
            Some(HashKey::SourceIp),
        ),
        (
            "{loadBalancer: {consistentHash: {httpQueryParameterName: user, minimumRingSize: 2048}}}",
            LbPolicy::RingHash {
                minimum_ring_size: 2048,
            },
            Some(HashKey::QueryParameter("user".into())),
        ),
        (
            "{loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 1031}}}}",
            LbPolicy::Maglev { table_size: 1031 },
            Some(HashKey::Header("x-user".into())),
        ),
        (
            "{loadBalancer: {consistentHash: {maglev: {}}}}",
            LbPolicy::Maglev { table_size: 65537 },
            None,
        ),
        (
            "{loadBalancer: {consistentHash: {useSourceIp: false}}}",
            RING_1024,
            None,
        ),
    ];
    for (policy, lb, key) in cases {
        let (out, diags) = merged(&ClusterPolicy::default(), policy);
        assert!(diags.is_empty(), "{policy}: {diags:#?}");
        assert_eq!(out.lb, lb, "{policy}");
        assert_eq!(out.hash_key, key, "{policy}");
    }
}

#[test]
fn a_ring_over_envoys_maximum_is_an_error_at_its_field() {
    let (out, diags) = merged(
        &ClusterPolicy::default(),
        "{loadBalancer: {consistentHash: {httpHeaderName: x, ringHash: {minimumRingSize: 9000000}}}}",
    );
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].is_error());
    assert_eq!(
        diags[0].field.as_deref(),
        Some("spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize")
    );
    assert_eq!(
        out.lb,
        LbPolicy::RingHash {
            minimum_ring_size: 8 * 1024 * 1024
        }
    );
}

#[test]
fn a_subsets_load_balancer_replaces_the_rules_whole() {
    let (rule, _) = merged(
        &ClusterPolicy::default(),
        "{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}",
    );
    let cases = [
        // No loadBalancer: the rule's hashing is inherited.
        ("{}", RING_1024, Some(HashKey::Header("x-user".into()))),
        ("{loadBalancer: {simple: RANDOM}}", LbPolicy::Random, None),
        // A loadBalancer without simple or consistentHash: the default, not the rule's.
        (
            "{loadBalancer: {warmupDurationSecs: 10s}}",
            LbPolicy::RoundRobin,
            None,
        ),
        (
            "{loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 7}}}}",
            LbPolicy::Maglev { table_size: 7 },
            Some(HashKey::SourceIp),
        ),
    ];
    for (policy, lb, key) in cases {
        let (out, _) = merged(&rule, policy);
        assert_eq!(out.lb, lb, "{policy}");
        assert_eq!(out.hash_key, key, "{policy}");
    }
}
