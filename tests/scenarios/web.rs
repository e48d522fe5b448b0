//! The comparison web page in a real headless Chromium (Debian's `chromium`): it loads, shows
//! the verdict and the latency chart, and updates while traffic flows. A screenshot is written
//! to `target/compare-page.png`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use shadowmesh::tools::sample::{self, Flaw, SampleConfig};

use crate::support::*;

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")
                .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()))
        })
        .unwrap_or_else(|| {
            panic!("this test needs a real browser and none is on PATH; install it with: sudo apt-get install -y chromium (CI's .ci/run does)")
        })
}

/// Loads `url` in headless Chromium, lets the page's scripts run, returns the DOM.
fn render(url: &str, screenshot: Option<&std::path::Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=3000",
        "--window-size=1280,1100",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(path) => cmd.arg(format!("--screenshot={}", path.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pairs_shown(dom: &str) -> u64 {
    let at = dom
        .find("data-pairs=\"")
        .expect("the page shows a pair count")
        + "data-pairs=\"".len();
    dom[at..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_web_page_shows_the_verdict_and_chart_and_updates_while_traffic_flows() {
    let cfg = SampleConfig::calc;
    let v1 = sample::start("127.0.0.1:0".parse().unwrap(), cfg("v1", None))
        .await
        .unwrap();
    let v3 = sample::start(
        "127.0.0.1:0".parse().unwrap(),
        cfg("v3", Some(Flaw::PerfectPowers)),
    )
    .await
    .unwrap();
    let vs = seed_file("virtualservice.yaml").replace(
        "  namespace: challengeistio\n",
        "  namespace: challengeistio\n  annotations:\n    shadowmesh.io/compare-ignore: \"/version,/host\"\n",
    );
    let dir = config_dir(&[
        ("destinationrule.yaml", &seed_file("destinationrule.yaml")),
        ("virtualservice.yaml", &vs),
        (
            "serviceentry.yaml",
            &calc_service_entry(v1.addr.port(), v1.addr.port(), v3.addr.port()),
        ),
    ]);
    let proxy = start_proxy(vec![dir.path().to_path_buf()], |o| {
        if let Some(c) = o.compare.as_mut() {
            c.thresholds.min_pairs = 20;
        }
    })
    .await;
    let addr = proxy.listen_addrs[0];
    let send = |range: std::ops::Range<u64>| async move {
        for n in range {
            get(
                addr,
                "calcbackendsvc",
                &format!("/api/calculation?number={n}"),
                None,
            )
            .await;
        }
    };
    send(1150..1200).await;
    let compare = proxy.compare.clone().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || compare
            .report()
            .candidates
            .first()
            .is_some_and(|c| c.pairs == 50))
        .await
    );

    let url = format!("http://{}/", proxy.admin_addr);
    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        move || render(&url, None)
    })
    .await
    .unwrap();
    assert!(
        dom.contains(r#"class="verdict reject""#),
        "verdict badge: {dom}"
    );
    assert!(
        dom.contains("differ at /factors (not noise)"),
        "reason in words"
    );
    assert!(
        dom.contains(r#"class="latency-chart""#) && dom.contains("bar-candidate"),
        "latency chart"
    );
    assert!(dom.contains("candidate v3"));
    assert_eq!(pairs_shown(&dom), 50);

    // More traffic: the page shows it on its next refresh.
    send(1200..1230).await;
    assert!(
        eventually(Duration::from_secs(5), || compare.report().candidates[0]
            .pairs
            == 80)
        .await
    );
    let dom = tokio::task::spawn_blocking(move || render(&url, None))
        .await
        .unwrap();
    assert_eq!(
        pairs_shown(&dom),
        80,
        "the page updates while traffic flows"
    );

    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/compare-page.png");
    let admin = format!("http://{}/", proxy.admin_addr);
    let shot_for_chromium = shot.clone();
    tokio::task::spawn_blocking(move || render(&admin, Some(&shot_for_chromium)))
        .await
        .unwrap();
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot written"
    );
    proxy.shutdown().await;
}
