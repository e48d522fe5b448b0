//! Consistent hashing: the ring's and Maglev's spread, stability and walk past ejected endpoints.

use std::time::Duration;

use xxhash_rust::xxh64::xxh64;

use super::hash_table::{DEFAULT_MAGLEV_TABLE_SIZE, DEFAULT_MIN_RING_SIZE, HashTable};
use super::*;
use crate::model::cluster::outlier::Outcome;

const KEYS: u64 = 20_000;

fn addresses(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.0.0.{}:8080", i + 1)).collect()
}

fn build(maglev: bool, addrs: &[String], size: u64) -> HashTable {
    let keys: Vec<&str> = addrs.iter().map(String::as_str).collect();
    if maglev {
        HashTable::maglev(&keys, size)
    } else {
        HashTable::ring(&keys, size)
    }
}

/// The address each of [`KEYS`] request keys goes to.
fn owners(table: &HashTable, addrs: &[String]) -> Vec<String> {
    (0..KEYS)
        .map(|k| xxh64(format!("user-{k}").as_bytes(), 0))
        .map(|h| addrs[table.endpoint_at(table.position(h).unwrap())].clone())
        .collect()
}

const TABLES: [(&str, bool, u64); 2] = [
    ("ring", false, DEFAULT_MIN_RING_SIZE),
    ("maglev", true, DEFAULT_MAGLEV_TABLE_SIZE),
];

#[test]
fn xxhash64_is_envoys() {
    // xxHash64's published test vector: what Envoy's HashUtil::xxHash64("") returns.
    assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
}

#[test]
fn sizes_are_envoys() {
    for n in 3..=10 {
        let ring = build(false, &addresses(n), DEFAULT_MIN_RING_SIZE);
        assert_eq!(ring.len(), 1024usize.div_ceil(n) * n, "{n} endpoints");
        let maglev = build(true, &addresses(n), DEFAULT_MAGLEV_TABLE_SIZE);
        assert_eq!(maglev.len(), 65537);
    }
    assert_eq!(build(false, &addresses(3), 30).len(), 30);
    assert!(build(false, &[], 1024).is_empty());
    assert_eq!(build(false, &[], 1024).position(7), None);
}

#[test]
fn keys_spread_evenly_over_3_to_10_endpoints() {
    // Ring: ~1024/n points per endpoint, so shares vary by some 10%; Maglev is near exact.
    for (name, maglev, size) in TABLES {
        let tolerance = if maglev { 0.15 } else { 0.35 };
        for n in 3..=10 {
            let addrs = addresses(n);
            let owners = owners(&build(maglev, &addrs, size), &addrs);
            for a in &addrs {
                let share = owners.iter().filter(|o| *o == a).count() as f64 / KEYS as f64;
                let fair = 1.0 / n as f64;
                assert!(
                    (share - fair).abs() <= fair * tolerance,
                    "{name}, {n} endpoints: {a} has {share:.3}, fair {fair:.3}"
                );
            }
        }
    }
}

#[test]
fn the_same_key_finds_the_same_endpoint_in_every_build() {
    for (name, maglev, size) in TABLES {
        let addrs = addresses(5);
        let a = owners(&build(maglev, &addrs, size), &addrs);
        let mut reversed = addrs.clone();
        reversed.reverse();
        // Same endpoints listed in another order: the same owners (keys are addresses).
        let b = owners(&build(maglev, &reversed, size), &reversed);
        assert_eq!(a, b, "{name}");
    }
}

/// (name, Maglev?, size for n endpoints, bound on keys moved between the others)
type RemovalCase = (&'static str, bool, fn(usize) -> u64, f64);

#[test]
fn removing_an_endpoint_moves_little_more_than_its_share() {
    let cases: [RemovalCase; 3] = [
        // The same number of points per endpoint before and after: nothing else moves.
        ("ring, 100 points each", false, |n| 100 * n as u64, 0.0),
        // Envoy's default: 1024/n points each, so the others gain points and some keys.
        ("ring, default size", false, |_| DEFAULT_MIN_RING_SIZE, 0.25),
        ("maglev", true, |_| DEFAULT_MAGLEV_TABLE_SIZE, 0.05),
    ];
    for (name, maglev, size, bound) in cases {
        for n in 3..=10 {
            let all = addresses(n);
            let gone = &all[n / 2];
            let rest: Vec<String> = all.iter().filter(|a| *a != gone).cloned().collect();
            let before = owners(&build(maglev, &all, size(n)), &all);
            let after = owners(&build(maglev, &rest, size(n - 1)), &rest);
            let mut others_moved = 0;
            for (b, a) in before.iter().zip(&after) {
                assert_ne!(a, gone, "{name}");
                if b != gone && a != b {
                    others_moved += 1;
                }
            }
            let moved = others_moved as f64 / KEYS as f64;
            assert!(moved <= bound, "{name}, {n} endpoints: {moved:.3} moved");
        }
    }
}

fn hashing_cluster(lb: LbPolicy, n: u16) -> Cluster {
    let endpoints = (0..n)
        .map(|i| {
            Endpoint::new(
                format!("127.0.0.1:{}", 2000 + i).parse().unwrap(),
                Default::default(),
                format!("w{i}"),
                "default".into(),
            )
        })
        .collect();
    let policy = ClusterPolicy {
        lb,
        outlier: Some(OutlierPolicy {
            consecutive_5xx: Some(1),
            consecutive_gateway: None,
            base_ejection: Duration::from_secs(30),
            max_ejection_percent: 100,
        }),
        ..Default::default()
    };
    Cluster::new(
        "svc.default.svc.cluster.local".into(),
        "svc".into(),
        "default".into(),
        80,
        None,
        None,
        Protocol::Http1,
        endpoints,
        false,
        policy,
    )
}

const POLICIES: [LbPolicy; 2] = [
    LbPolicy::RingHash {
        minimum_ring_size: 1024,
    },
    LbPolicy::Maglev { table_size: 65537 },
];

#[test]
fn an_ejected_endpoints_keys_move_and_only_they() {
    for lb in POLICIES {
        let c = hashing_cluster(lb, 4);
        let hashes: Vec<u64> = (0..2000).map(|k| xxh64(&u64::to_le_bytes(k), 0)).collect();
        let before: Vec<usize> = (hashes.iter())
            .map(|h| c.pick_hashed(Some(*h), 0.5).unwrap())
            .collect();
        c.record(&c.endpoints[1], Outcome::Status(503));
        assert!(c.is_ejected(&c.endpoints[1]));
        let after: Vec<usize> = (hashes.iter())
            .map(|h| c.pick_hashed(Some(*h), 0.5).unwrap())
            .collect();
        let mut moved_to = std::collections::BTreeSet::new();
        for (b, a) in before.iter().zip(&after) {
            assert_ne!(*a, 1, "{lb:?}");
            if *b == 1 {
                moved_to.insert(*a);
            } else {
                assert_eq!(a, b, "{lb:?}: a key of a healthy endpoint moved");
            }
        }
        assert!(moved_to.len() > 1, "{lb:?}: its keys spread: {moved_to:?}");
        // All ejected: the key's own endpoint (Envoy's panic mode).
        for e in &c.endpoints {
            c.record(e, Outcome::Status(503));
        }
        assert_eq!(c.pick_hashed(Some(hashes[0]), 0.5), Some(before[0]));
    }
}

#[test]
fn without_a_key_the_roll_decides() {
    for lb in POLICIES {
        let c = hashing_cluster(lb, 5);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            let roll = f64::from(i) / 200.0;
            let pick = c.pick_hashed(None, roll).unwrap();
            assert_eq!(c.pick_hashed(None, roll), Some(pick), "{lb:?}");
            seen.insert(pick);
        }
        assert_eq!(
            seen.len(),
            5,
            "{lb:?}: every endpoint gets keyless requests"
        );
        // With a key, the roll does not matter.
        let h = Some(42);
        assert_eq!(c.pick_hashed(h, 0.1), c.pick_hashed(h, 0.9), "{lb:?}");
    }
}

#[test]
fn a_tiny_or_refused_maglev_size_still_builds() {
    // 1 is "prime" to Istio's check; 1000 is what validation refuses, compiled all the same.
    for size in [1, 2, 3, 1000] {
        let t = build(true, &addresses(5), size);
        assert_eq!(t.len(), size as usize);
        assert!((0..t.len()).all(|i| t.endpoint_at(i) < 5));
    }
}
