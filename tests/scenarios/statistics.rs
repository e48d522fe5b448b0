//! User story: "the percentages and weights I write are the ones I get": mirror percentages and
//! route weights over enough requests to be statistically sound.
//!
//! Bounds are five standard deviations of the binomial count either side of the mean: a
//! correct proxy fails one in about 1.7 million runs; a proxy off by 10 points fails nearly
//! always.

use shadowmesh::proxy::mirror::MirrorOutcome;

use crate::assert_eventually;
use crate::support::backend;
use crate::support::client::Client;
use crate::support::config;
use crate::support::proxy::{self, Proxy};

const N: usize = 400;

fn within_5_sigma(count: usize, n: usize, p: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 5.0 * sd
}

/// `n` requests from 8 clients at once, each answered 200.
async fn run_requests(proxy: &Proxy, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let client: Client = proxy.client();
        tasks.spawn(async move {
            for i in 0..n / 8 {
                let a = client.get(&format!("/n/{chunk}/{i}")).send().await;
                assert_eq!(a.status, 200);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

/// Seed 000 routing to v1, mirrored to v3, with `percentage` (a field of the rule, or none).
fn mirrored(v1: u16, v3: u16, percentage: Option<&str>) -> config::Files {
    let mut routes = config::virtual_service("backend-vs", "calcbackendsvc")
        .route("v1")
        .mirror("v3");
    if let Some(field) = percentage {
        routes = routes.field(field);
    }
    config::seed(v1, v1, v3).file("virtualservice.yaml", routes.yaml())
}

#[tokio::test]
async fn mirror_percentage_0_50_100() {
    let v1 = backend::http1("v1").run().await;
    for (pct, field) in [
        (0.0, Some("mirrorPercentage: {value: 0}")),
        (50.0, Some("mirrorPercentage: {value: 50.0}")),
        (100.0, None),
        (25.0, Some("mirrorPercent: 25")),
    ] {
        let v3 = backend::http1("v3").run().await;
        let proxy = proxy::with_config(mirrored(v1.port(), v3.port(), field))
            .run()
            .await;
        run_requests(&proxy, N).await;
        let settled = || {
            proxy.mirrored(MirrorOutcome::Sent) + proxy.mirrored(MirrorOutcome::SkippedPercentage)
                == N as u64
        };
        assert_eventually!(settled(), "every request is either mirrored or skipped");
        let mirrored = v3.count();
        if pct == 0.0 {
            assert_eq!(mirrored, 0, "an explicit 0 mirrors nothing");
        } else if pct == 100.0 {
            assert_eq!(mirrored, N, "absent means 100");
        } else {
            assert!(
                within_5_sigma(mirrored, N, pct / 100.0),
                "{pct}%: {mirrored} of {N} mirrored"
            );
        }
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn weights_20_80_and_proportional_1_3() {
    for (w1, w2) in [(20, 80), (1, 3)] {
        let v1 = backend::http1("v1").run().await;
        let v2 = backend::http1("v2").run().await;
        let routes = config::virtual_service("backend-vs", "calcbackendsvc")
            .api_version("networking.istio.io/v1beta1")
            .weighted("v1", w1)
            .weighted("v2", w2);
        let files = config::seed(v1.port(), v2.port(), v2.port())
            .file("virtualservice.yaml", routes.yaml());
        let proxy = proxy::with_config(files).run().await;
        run_requests(&proxy, N).await;
        assert_eq!(v1.count() + v2.count(), N);
        let p = f64::from(w1) / f64::from(w1 + w2);
        assert!(
            within_5_sigma(v1.count(), N, p),
            "weights {w1}/{w2}: v1 got {} of {N}",
            v1.count()
        );
        proxy.shutdown().await;
    }
}
