//! Property tests of [`super::find`] over generated route tables (Istio YAML compiled by
//! `model::compile_text`) and requests, see [`super::props_gen`]:
//!
//! - first match wins: the decision's route and block are the first whose match holds, by a naive
//!   re-reading of the generated YAML;
//! - the forward target is always one of the route's weighted destinations with a positive
//!   weight, never a mirror-only cluster, whatever the rolls;
//! - weights converge: over many rolls each destination's share is near weight/sum;
//! - mirror percentages 0 and 100 are exact, and others converge to their percentage.

use std::sync::Arc;

use proptest::prelude::*;

use super::props_gen::{
    GenRequest, GenRoute, HOST, SHADOW, compile, destinations, headers, naive_first_match, percent,
    request, route,
};
use super::{Decision, NoRoute, RequestHead, Target, find};
use crate::model::{Action, RouteTable};

/// Routes `r` with rolls taken in turn from `rolls` (cycled).
fn decide<'t>(
    table: &'t RouteTable,
    r: &GenRequest,
    rolls: &[f64],
) -> Result<Decision<'t>, NoRoute> {
    let headers = headers(r);
    let head = RequestHead {
        method: r.method,
        scheme: "http",
        authority: HOST,
        host: HOST,
        port: None,
        path: r.path,
        query: r.query,
        headers: &headers,
    };
    let mut next = rolls.iter().copied().cycle();
    find(table, &head, &mut || next.next().unwrap_or(0.0))
}

/// Rolls in `[0, 1)`, the boundaries often.
fn roll() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0 - f64::EPSILON), 0.0..1.0f64]
}

fn one_route(destinations: Vec<(usize, u64)>, mirrors: Vec<f64>) -> GenRoute {
    GenRoute {
        blocks: Vec::new(),
        destinations,
        mirrors,
    }
}

const ANY: GenRequest = GenRequest {
    method: "GET",
    path: "/",
    header: None,
    query: None,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn first_match_wins(
        routes in prop::collection::vec(route(), 1..=5),
        requests in prop::collection::vec(request(), 1..=16),
    ) {
        let table = compile(&routes);
        for r in &requests {
            let got = decide(&table, r, &[0.5]);
            match naive_first_match(&routes, r) {
                Some((index, block)) => {
                    let d = got.unwrap_or_else(|e| panic!("{r:?}: {e}"));
                    prop_assert_eq!(d.route_index, index, "{:?}", r);
                    prop_assert_eq!(d.route.name.to_string(), format!("r{index}"));
                    prop_assert_eq!(d.matched_block, block, "{:?}", r);
                }
                None => prop_assert!(
                    matches!(got, Err(NoRoute::NoMatch(_))),
                    "{:?} matched {:?}", r, got.map(|d| d.route_index)
                ),
            }
        }
    }

    #[test]
    fn the_forward_target_is_a_weighted_destination_never_a_mirror(
        routes in prop::collection::vec(route(), 1..=4),
        requests in prop::collection::vec((request(), prop::collection::vec(roll(), 1..=4)), 1..=16),
    ) {
        let table = compile(&routes);
        for (r, rolls) in &requests {
            let Ok(d) = decide(&table, r, rolls) else { continue };
            let Target::Forward { destination, cluster } = d.target else {
                panic!("every generated route forwards");
            };
            let Action::Forward(weighted) = &d.route.action else {
                panic!("every generated route forwards");
            };
            prop_assert!(weighted.destinations.iter().any(|w| std::ptr::eq(w, destination)));
            prop_assert!(destination.weight > 0, "weight 0 chosen with rolls {:?}", rolls);
            let resolved = destination.target.resolve(d.port).expect("resolves");
            prop_assert!(Arc::ptr_eq(resolved, cluster));
            prop_assert_ne!(&cluster.service, &format!("{SHADOW}.challengeistio.svc.cluster.local"));
            for (mirror, _) in d.mirror_choices() {
                prop_assert!(!Arc::ptr_eq(mirror, cluster), "forwarded to mirror {}", mirror.service);
            }
        }
    }

    #[test]
    fn weights_converge(dests in destinations(false), seed in any::<u64>()) {
        let weights: Vec<u64> = if dests.len() == 1 {
            vec![100] // a lone destination takes all traffic whatever its weight
        } else {
            dests.iter().map(|(_, w)| *w).collect()
        };
        let table = compile(&[one_route(dests, Vec::new())]);
        let mut rng = fastrand::Rng::with_seed(seed);
        const ROLLS: usize = 8_000;
        let mut counts = vec![0usize; weights.len()];
        for _ in 0..ROLLS {
            let d = decide(&table, &ANY, &[rng.f64()]).expect("routes");
            let Action::Forward(weighted) = &d.route.action else {
                unreachable!()
            };
            let Target::Forward { destination, .. } = d.target else { unreachable!() };
            let index = weighted.destinations.iter().position(|w| std::ptr::eq(w, destination));
            counts[index.expect("one of the route's")] += 1;
        }
        let total: u64 = weights.iter().sum();
        for (count, weight) in counts.iter().zip(&weights) {
            let share = *count as f64 / ROLLS as f64;
            let want = *weight as f64 / total as f64;
            prop_assert!((share - want).abs() < 0.03, "share {} for weight {}/{}", share, weight, total);
            if *weight == 0 {
                prop_assert_eq!(*count, 0);
            }
        }
    }

    #[test]
    fn mirror_percentages_0_and_100_are_exact(
        mirrors in prop::collection::vec(percent(), 1..=4),
        rolls in prop::collection::vec(prop::collection::vec(roll(), 1..=6), 1..=32),
    ) {
        let table = compile(&[one_route(vec![(0, 100)], mirrors.clone())]);
        for rolls in &rolls {
            let d = decide(&table, &ANY, rolls).expect("routes");
            for (k, p) in mirrors.iter().enumerate() {
                let on = d.mirrors & (1 << k) != 0;
                if *p == 0.0 {
                    prop_assert!(!on, "mirror {} at 0% with rolls {:?}", k, rolls);
                } else if *p == 100.0 {
                    prop_assert!(on, "mirror {} at 100% with rolls {:?}", k, rolls);
                }
            }
        }
    }

    #[test]
    fn mirror_percentages_converge(p in 0.0..=100.0f64, seed in any::<u64>()) {
        let table = compile(&[one_route(vec![(0, 100)], vec![p])]);
        let mut rng = fastrand::Rng::with_seed(seed);
        const ROLLS: usize = 4_000;
        let mirrored = (0..ROLLS)
            .filter(|_| decide(&table, &ANY, &[rng.f64()]).expect("routes").mirrors & 1 != 0)
            .count();
        let share = mirrored as f64 / ROLLS as f64;
        prop_assert!((share - p / 100.0).abs() < 0.04, "share {} for {}%", share, p);
    }
}
