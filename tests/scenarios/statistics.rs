//! Mirror percentages and route weights over enough requests to be statistically sound.
//!
//! Bounds are five standard deviations of the binomial count either side of the mean: a
//! correct proxy fails one in about 1.7 million runs; a proxy off by 10 points fails nearly
//! always.

use crate::assert_eventually;
use crate::support::*;

const N: usize = 400;

fn within_5_sigma(count: usize, n: usize, p: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 5.0 * sd
}

async fn run_requests(addr: std::net::SocketAddr, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        tasks.spawn(async move {
            for i in 0..n / 8 {
                let a = get(addr, "calcbackendsvc", &format!("/n/{chunk}/{i}"), None).await;
                assert_eq!(a.status, 200);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

fn mirror_config(v1: u16, v3: u16, percentage: &str) -> tempfile::TempDir {
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: backend-vs, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - route:\n    - destination: {{host: calcbackendsvc, subset: v1}}\n    mirror: {{host: calcbackendsvc, subset: v3}}\n{percentage}"
    );
    config_dir(&[
        ("destinationrule.yaml", &seed_file("destinationrule.yaml")),
        ("vs.yaml", &vs),
        ("serviceentry.yaml", &calc_service_entry(v1, v1, v3)),
    ])
}

#[tokio::test]
async fn mirror_percentage_0_50_100() {
    let v1 = Backend::start("v1", Behavior::Answer).await;
    for (pct, yaml) in [
        (0.0, "    mirrorPercentage: {value: 0}\n"),
        (50.0, "    mirrorPercentage: {value: 50.0}\n"),
        (100.0, ""),
        (25.0, "    mirrorPercent: 25\n"),
    ] {
        let v3 = Backend::start("v3", Behavior::Answer).await;
        let dir = mirror_config(v1.addr.port(), v3.addr.port(), yaml);
        let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
        run_requests(proxy.listen_addrs[0], N).await;
        let m = &proxy.proxy.mirrorer;
        let settled = || {
            m.stats.get(shadowmesh::proxy::mirror::MirrorOutcome::Sent)
                + m.stats
                    .get(shadowmesh::proxy::mirror::MirrorOutcome::SkippedPercentage)
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
        let v1 = Backend::start("v1", Behavior::Answer).await;
        let v2 = Backend::start("v2", Behavior::Answer).await;
        let vs = format!(
            "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {{name: backend-vs, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - route:\n    - destination: {{host: calcbackendsvc, subset: v1}}\n      weight: {w1}\n    - destination: {{host: calcbackendsvc, subset: v2}}\n      weight: {w2}\n"
        );
        let dir = config_dir(&[
            ("destinationrule.yaml", &seed_file("destinationrule.yaml")),
            ("vs.yaml", &vs),
            (
                "serviceentry.yaml",
                &calc_service_entry(v1.addr.port(), v2.addr.port(), v2.addr.port()),
            ),
        ]);
        let proxy = start_proxy(vec![dir.path().to_path_buf()], |_| {}).await;
        run_requests(proxy.listen_addrs[0], N).await;
        assert_eq!(v1.count() + v2.count(), N);
        let p = w1 as f64 / (w1 + w2) as f64;
        assert!(
            within_5_sigma(v1.count(), N, p),
            "weights {w1}/{w2}: v1 got {} of {N}",
            v1.count()
        );
        proxy.shutdown().await;
    }
}
