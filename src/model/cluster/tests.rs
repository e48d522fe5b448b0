//! Balancing and outlier detection, on clusters built by hand.

use super::*;
use crate::model::cluster::outlier::Outcome;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn endpoint(port: u16, version: &str) -> Endpoint {
    let labels = [("version".to_string(), version.to_string())].into();
    Endpoint::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        labels,
        format!("w{port}"),
        "default".into(),
    )
}

fn cluster(lb: LbPolicy, n: u16, outlier: Option<OutlierPolicy>) -> Cluster {
    Cluster::new(
        "svc.default.svc.cluster.local".into(),
        "svc".into(),
        "default".into(),
        80,
        None,
        None,
        Protocol::Http1,
        (0..n).map(|i| endpoint(1000 + i, "v1")).collect(),
        false,
        ClusterPolicy {
            lb,
            outlier,
            ..Default::default()
        },
    )
}

#[test]
fn round_robin_visits_each_endpoint_in_turn() {
    let c = cluster(LbPolicy::RoundRobin, 3, None);
    let ports: Vec<u16> = (0..6)
        .map(|_| c.pick(0.5).unwrap().authority.port_u16().unwrap())
        .collect();
    assert_eq!(ports, vec![1000, 1001, 1002, 1000, 1001, 1002]);
}

#[test]
fn least_request_avoids_the_busy_endpoint() {
    let c = cluster(LbPolicy::LeastRequest, 2, None);
    c.endpoints[0].active.store(10, Ordering::Relaxed);
    for i in 0..20 {
        let e = c.pick(i as f64 / 20.0).unwrap();
        assert_eq!(e.authority.port_u16(), Some(1001));
    }
}

#[test]
fn random_uses_the_roll() {
    let c = cluster(LbPolicy::Random, 4, None);
    assert_eq!(c.pick(0.0).unwrap().authority.port_u16(), Some(1000));
    assert_eq!(c.pick(0.99).unwrap().authority.port_u16(), Some(1003));
}

#[test]
fn outlier_detection_ejects_after_consecutive_errors() {
    let c = cluster(
        LbPolicy::RoundRobin,
        2,
        Some(OutlierPolicy {
            consecutive_5xx: Some(2),
            consecutive_gateway: None,
            base_ejection: Duration::from_secs(30),
            max_ejection_percent: 50,
        }),
    );
    let bad = &c.endpoints[0];
    c.record(bad, Outcome::Status(500));
    assert!(!c.is_ejected(bad));
    c.record(bad, Outcome::Status(200)); // a success resets the count
    c.record(bad, Outcome::Status(503));
    assert!(!c.is_ejected(bad));
    c.record(bad, Outcome::Failure);
    assert!(c.is_ejected(bad));
    for _ in 0..4 {
        assert_eq!(c.pick(0.1).unwrap().authority.port_u16(), Some(1001));
    }
    // max_ejection_percent stops the second endpoint from being ejected too
    let other = &c.endpoints[1];
    for _ in 0..3 {
        c.record(other, Outcome::Status(500));
    }
    assert!(!c.is_ejected(other));
}

#[test]
fn every_policy_still_answers_when_all_endpoints_are_ejected() {
    let outlier = || {
        Some(OutlierPolicy {
            consecutive_5xx: Some(1),
            consecutive_gateway: None,
            base_ejection: Duration::from_secs(30),
            max_ejection_percent: 100,
        })
    };
    for lb in [
        LbPolicy::RoundRobin,
        LbPolicy::LeastRequest,
        LbPolicy::Random,
    ] {
        let c = cluster(lb, 2, outlier());
        for e in &c.endpoints {
            c.record(e, Outcome::Status(503));
        }
        assert!(c.endpoints.iter().all(|e| c.is_ejected(e)), "{lb:?}");
        // Envoy's panic mode: with no healthy endpoint, any endpoint beats none.
        assert!(c.pick(0.7).is_some(), "{lb:?}");
    }
}

#[test]
fn version_comes_from_subset_or_common_label() {
    let c = cluster(LbPolicy::RoundRobin, 2, None);
    assert_eq!(c.version(), "v1");
    assert_eq!(c.to_string(), "svc");
}
