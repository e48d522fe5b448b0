//! `loadBalancer` of a traffic policy as Istio's `validateLoadBalancer` checks it: `simple` vs
//! `consistentHash`, hash keys, ring and maglev sizes, locality and zone-aware settings
//! (`agent.ValidateLocalityLbSetting`, `ValidateZoneAwareLbSetting`, `validateLocalities`),
//! warm-up; plus the CRD's one-of rules and enum names.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::diag::Reporter;
use crate::config::wire::{
    ConsistentHashLb, LoadBalancerSettings, LocalityFailover, LocalityLbSetting, OutlierDetection,
    WarmupConfiguration, ZoneAwareLbSetting,
};

use super::traffic_policy::duration;

const SIMPLE: [&str; 6] = [
    "UNSPECIFIED",
    "LEAST_CONN",
    "RANDOM",
    "PASSTHROUGH",
    "ROUND_ROBIN",
    "LEAST_REQUEST",
];
const TOPOLOGY: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// Checks `lb` (at `f`); `outlier` is the same policy's outlier detection.
pub(super) fn load_balancer(
    lb: &LoadBalancerSettings,
    outlier: Option<&OutlierDetection>,
    r: &mut Reporter<'_>,
    f: &str,
) {
    if let Some(simple) = lb.simple.as_deref()
        && !SIMPLE.contains(&simple)
    {
        r.error(
            format!("{f}.simple"),
            format!(
                "unknown load balancer {simple:?}: use {}",
                SIMPLE.join(", ")
            ),
        );
    }
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        r.error(f, "only one of simple or consistentHash can be set");
    }
    if let Some(ch) = &lb.consistent_hash {
        consistent_hash(ch, r, &format!("{f}.consistentHash"));
    }
    if lb.locality_lb_setting.is_some() && lb.zone_aware_lb_setting.is_some() {
        r.error(
            f,
            "only one of localityLbSetting and zoneAwareLbSetting can be set",
        );
    }
    if let Some(l) = &lb.locality_lb_setting {
        locality(l, outlier, r, &format!("{f}.localityLbSetting"));
    }
    if let Some(z) = &lb.zone_aware_lb_setting {
        zone_aware(z, outlier, r, &format!("{f}.zoneAwareLbSetting"));
    }
    if let Some(w) = &lb.warmup {
        warmup(w, r, &format!("{f}.warmup"));
    }
    duration(
        r,
        &format!("{f}.warmupDurationSecs"),
        lb.warmup_duration_secs.as_deref(),
    );
}

fn consistent_hash(ch: &ConsistentHashLb, r: &mut Reporter<'_>, f: &str) {
    let keys = [
        ch.http_header_name.is_some(),
        ch.http_cookie.is_some(),
        ch.use_source_ip.is_some(),
        ch.http_query_parameter_name.is_some(),
    ];
    if keys.iter().filter(|k| **k).count() > 1 {
        r.error(f, "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName can be set");
    }
    if ch.ring_hash.is_some() && ch.maglev.is_some() {
        r.error(f, "only one of ringHash or maglev can be set");
    }
    if let Some(cookie) = &ch.http_cookie {
        if cookie.name.is_empty() {
            r.error(
                format!("{f}.httpCookie.name"),
                "name required for HttpCookie",
            );
        }
        let mut names = BTreeSet::new();
        for (i, a) in cookie.attributes.iter().enumerate() {
            let field = format!("{f}.httpCookie.attributes[{i}].name");
            if a.name.is_empty() {
                r.error(field, "cookie attribute name cannot be empty");
            } else if !names.insert(a.name.as_str()) {
                r.error(
                    field,
                    format!("duplicate cookie attribute name: {}", a.name),
                );
            }
        }
    }
    if ch.minimum_ring_size.is_some_and(|n| n != 0) {
        let field = format!("{f}.minimumRingSize");
        r.warning(field.clone(), "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead");
        if ch.ring_hash.is_some() || ch.maglev.is_some() {
            r.error(
                field,
                "only one of MinimumRingSize or Maglev/Ringhash can be specified",
            );
        }
    }
    if let Some(maglev) = &ch.maglev {
        let field = format!("{f}.maglev.tableSize");
        let size = maglev.table_size.unwrap_or(0);
        if size == 0 {
            r.error(field.clone(), "tableSize must be set for maglev");
        }
        if size >= 5_000_011 {
            r.error(
                field.clone(),
                "tableSize must be less than 5000011 for maglev",
            );
        }
        if !is_prime(size) {
            r.error(field, "tableSize must be a prime number for maglev");
        }
    }
}

/// Envoy's (and Istio's) primality test, 0 excluded and 1 included as theirs do.
fn is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x & 1 == 0 {
        return false;
    }
    let limit = (x as f64).sqrt() as u64;
    (3..=limit)
        .step_by(2)
        .all(|factor| !x.is_multiple_of(factor))
}

fn locality(
    lb: &LocalityLbSetting,
    outlier: Option<&OutlierDetection>,
    r: &mut Reporter<'_>,
    f: &str,
) {
    if !lb.distribute.is_empty() && !lb.failover.is_empty() {
        r.error(
            f,
            "can not simultaneously specify 'distribute' and 'failover'",
        );
        return;
    }
    if !lb.failover.is_empty()
        && let Some(label) = lb
            .failover_priority
            .iter()
            .find(|l| TOPOLOGY.contains(&l.as_str()))
    {
        r.error(
            format!("{f}.failoverPriority"),
            format!("can not simultaneously set 'failover' and topology label '{label}' in 'failover_priority'"),
        );
        return;
    }
    for (i, d) in lb.distribute.iter().enumerate() {
        let field = format!("{f}.distribute[{i}].to");
        if d.to.values().any(|w| *w == 0 || *w > 100) {
            r.error(field, "locality weight must be in range [1, 100]");
            return;
        }
        let total: u64 = d.to.values().map(|w| u64::from(*w)).sum();
        if total != 100 {
            r.error(field, format!("total locality weight {total} != 100"));
            return;
        }
        if let Err(e) = localities(d.to.keys().map(String::as_str)) {
            r.error(field, e);
        }
    }
    if let Err(e) = localities(lb.distribute.iter().map(|d| d.from.as_str())) {
        r.error(format!("{f}.distribute"), e);
    }
    failover(
        &lb.failover,
        !lb.failover_priority.is_empty(),
        outlier,
        "locality lb",
        r,
        f,
    );
}

fn zone_aware(
    lb: &ZoneAwareLbSetting,
    outlier: Option<&OutlierDetection>,
    r: &mut Reporter<'_>,
    f: &str,
) {
    for label in lb
        .failover_priority
        .iter()
        .filter(|l| TOPOLOGY.contains(&l.as_str()))
    {
        r.error(
            format!("{f}.failoverPriority"),
            format!("'failover_priority' for zone aware lb must not use topology label '{label}'; region- and zone-level routing are handled automatically"),
        );
    }
    failover(
        &lb.failover,
        !lb.failover_priority.is_empty(),
        outlier,
        "zone aware lb",
        r,
        f,
    );
}

/// The failover rules shared by locality and zone-aware settings.
fn failover(
    list: &[LocalityFailover],
    has_priority: bool,
    outlier: Option<&OutlierDetection>,
    what: &str,
    r: &mut Reporter<'_>,
    f: &str,
) {
    if (!list.is_empty() || has_priority) && outlier.is_none() {
        r.warning(f, "outlier detection policy must be provided for failover");
    }
    for (i, fo) in list.iter().enumerate() {
        let field = format!("{f}.failover[{i}]");
        if fo.from == fo.to {
            r.error(
                field.clone(),
                format!("{what} failover settings must specify different regions"),
            );
        }
        if fo.from.contains('/') || fo.to.contains('/') {
            r.error(
                field.clone(),
                format!("{what} failover only specify region"),
            );
        }
        if fo.from.contains('*') || fo.to.contains('*') {
            r.error(
                field,
                format!("{what} failover region should not contain '*' wildcard"),
            );
        }
    }
}

type Zones = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Istio's `validateLocalities`: `region[/zone[/subzone]]`, one trailing `*` at most, none
/// overlapping another.
fn localities<'a>(list: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen: Zones = BTreeMap::new();
    for locality in list {
        let stars = locality.matches('*').count();
        if stars > 1 || (stars == 1 && !locality.ends_with('*')) {
            return Err(format!(
                "locality {locality} wildcard '*' number can not exceed 1 and must be in the end"
            ));
        }
        let overlap = || format!("locality {locality} overlap with previous specified ones");
        if seen.contains_key("*") {
            return Err(overlap());
        }
        let items: Vec<&str> = locality.splitn(3, '/').collect();
        if items.iter().any(|i| i.is_empty()) {
            return Err(format!(
                "locality {locality} must not contain empty region/zone/subzone info"
            ));
        }
        let star = || BTreeSet::from(["*".to_string()]);
        match items.as_slice() {
            [region] => {
                if seen.contains_key(*region) {
                    return Err(overlap());
                }
                seen.insert(
                    region.to_string(),
                    BTreeMap::from([("*".to_string(), star())]),
                );
            }
            [region, zone] => {
                let zones = seen.entry(region.to_string()).or_default();
                if zones.contains_key("*") || zones.contains_key(*zone) {
                    return Err(overlap());
                }
                zones.insert(zone.to_string(), star());
            }
            [region, zone, subzone] => {
                let zones = seen.entry(region.to_string()).or_default();
                if zones.contains_key("*") {
                    return Err(overlap());
                }
                let subzones = zones.entry(zone.to_string()).or_default();
                if subzones.contains("*") || !subzones.insert(subzone.to_string()) {
                    return Err(overlap());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn warmup(w: &WarmupConfiguration, r: &mut Reporter<'_>, f: &str) {
    match &w.duration {
        None => r.error(format!("{f}.duration"), "duration is required"),
        Some(d) => duration(r, &format!("{f}.duration"), Some(d)),
    }
    if let Some(p) = w.minimum_percent
        && !(0.0..=100.0).contains(&p)
    {
        r.error(
            format!("{f}.minimumPercent"),
            "minimumPercent value should be between 0 and 100",
        );
    }
    if w.aggression.is_some_and(|a| a <= 0.0) {
        r.error(
            format!("{f}.aggression"),
            "aggression should be greater than 0",
        );
    }
}
