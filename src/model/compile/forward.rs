//! Where a forwarded request goes: a route's weighted destinations (weights checked, the
//! [`Distribution`] built once) and its mirrors (`mirror` + `mirrorPercentage`, or `mirrors`),
//! each with a percentage from 0 to 100.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use crate::config::diag::Reporter;
use crate::config::wire::{Destination, HttpMirrorPolicy, HttpRoute};
use crate::model::distribute::Distribution;
use crate::model::table::{MirrorPolicy, RouteDestination, WeightedDestinations};

use super::header_ops::header_rules;
use super::{Compiler, MAX_MIRRORS};

impl Compiler<'_> {
    /// The route's `route` entries; `None` when any has errors or all weights are zero.
    pub(super) fn weighted(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<WeightedDestinations> {
        let lone = route.route.len() == 1;
        let mut destinations = Vec::with_capacity(route.route.len());
        let mut ok = true;
        for (j, rd) in route.route.iter().enumerate() {
            let field = format!("{f}.route[{j}]");
            let weight = match rd.weight {
                Some(w) if w < 0 => {
                    r.error(format!("{field}.weight"), format!("weight {w} is negative"));
                    ok = false;
                    0
                }
                Some(w) if w > i64::from(i32::MAX) => {
                    r.error(
                        format!("{field}.weight"),
                        format!(
                            "weight {w} is over {} (Istio's weights are int32)",
                            i32::MAX
                        ),
                    );
                    ok = false;
                    0
                }
                Some(w) => w as u64,
                None => 0,
            };
            let weight = if lone { 100 } else { weight };
            let Some(dest) = &rd.destination else {
                r.error(
                    format!("{field}.destination"),
                    "a route entry needs a destination",
                );
                ok = false;
                continue;
            };
            let target = self.destination(dest, ns, r, &format!("{field}.destination"));
            let headers = header_rules(rd.headers.as_deref(), r, &format!("{field}.headers"));
            match target {
                Some(target) => destinations.push(RouteDestination {
                    target,
                    weight,
                    headers,
                }),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let weights: Vec<u64> = destinations.iter().map(|d| d.weight).collect();
        let Some(distribution) = Distribution::new(&weights) else {
            r.error(
                format!("{f}.route"),
                "all destination weights are zero (or missing): give at least one a positive weight",
            );
            return None;
        };
        if !lone && distribution.total() != 100 {
            r.warning(
                format!("{f}.route"),
                format!(
                    "weights add up to {}, not 100; each destination gets weight/{} of the traffic",
                    distribution.total(),
                    distribution.total()
                ),
            );
        }
        Some(WeightedDestinations {
            destinations,
            distribution,
        })
    }

    /// The route's mirrors, checked whether or not its action is valid.
    pub(super) fn mirrors(
        &mut self,
        route: &HttpRoute,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Vec<MirrorPolicy> {
        if route.mirror.is_some() && route.mirrors.is_some() {
            r.error(
                format!("{f}.mirrors"),
                "use either mirror or mirrors, not both",
            );
            return Vec::new();
        }
        if let Some(m) = &route.mirror {
            self.single_mirror(route, m, ns, r, f).into_iter().collect()
        } else if let Some(list) = &route.mirrors {
            self.mirror_list(route, list, ns, r, f)
        } else {
            if route.mirror_percentage.is_some() || route.mirror_percent.is_some() {
                r.warning(
                    format!("{f}.mirrorPercentage"),
                    "set without a mirror; ignored",
                );
            }
            Vec::new()
        }
    }

    /// `mirror` with `mirrorPercentage` (or the deprecated `mirrorPercent`).
    fn single_mirror(
        &mut self,
        route: &HttpRoute,
        m: &Destination,
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Option<MirrorPolicy> {
        let percent = match (&route.mirror_percentage, route.mirror_percent) {
            // Validation warns that mirrorPercent is deprecated.
            (Some(p), _) => percentage(p.value, r, &format!("{f}.mirrorPercentage.value")),
            (None, Some(legacy)) => percentage(legacy as f64, r, &format!("{f}.mirrorPercent")),
            (None, None) => Some(100.0),
        };
        let target = self.destination(m, ns, r, &format!("{f}.mirror"));
        Some(MirrorPolicy {
            target: target?,
            percent: percent?,
        })
    }

    /// `mirrors`: each entry with its own percentage.
    fn mirror_list(
        &mut self,
        route: &HttpRoute,
        list: &[HttpMirrorPolicy],
        ns: &str,
        r: &mut Reporter<'_>,
        f: &str,
    ) -> Vec<MirrorPolicy> {
        let mut out = Vec::with_capacity(list.len().min(MAX_MIRRORS));
        if route.mirror_percentage.is_some() || route.mirror_percent.is_some() {
            r.warning(
                format!("{f}.mirrorPercentage"),
                "does not apply to mirrors: set each entry's percentage",
            );
        }
        if list.len() > MAX_MIRRORS {
            r.error(
                format!("{f}.mirrors"),
                format!("at most {MAX_MIRRORS} mirrors per route"),
            );
            return out;
        }
        for (k, m) in list.iter().enumerate() {
            let field = format!("{f}.mirrors[{k}]");
            let percent = match &m.percentage {
                Some(p) => percentage(p.value, r, &format!("{field}.percentage.value")),
                None => Some(100.0),
            };
            let Some(dest) = &m.destination else {
                r.error(
                    format!("{field}.destination"),
                    "a mirror needs a destination",
                );
                continue;
            };
            let target = self.destination(dest, ns, r, &format!("{field}.destination"));
            if let (Some(target), Some(percent)) = (target, percent) {
                out.push(MirrorPolicy { target, percent });
            }
        }
        out
    }
}

fn percentage(v: f64, r: &mut Reporter<'_>, field: &str) -> Option<f64> {
    if (0.0..=100.0).contains(&v) {
        Some(v)
    } else {
        r.error(field, format!("{v} is outside 0 to 100"));
        None
    }
}
