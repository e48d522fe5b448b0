//! User story: "I watch the comparison in my browser": the web page in a real headless Chromium
//! (Debian's `chromium`) loads, shows the verdict and the latency chart, and updates while
//! traffic flows. A screenshot is written to `target/compare-page.png`.

use std::path::PathBuf;

use shadowmesh::tools::sample::Flaw;

use crate::assert_eventually;
use crate::support::backend;
use crate::support::browser::render_async;
use crate::support::config;
use crate::support::proxy::{self, Proxy};

fn pairs_shown(dom: &str) -> u64 {
    let at = dom
        .find("data-pairs=\"")
        .expect("the page shows a pair count")
        + "data-pairs=\"".len();
    dom[at..].split('"').next().unwrap().parse().unwrap()
}

/// Calculation requests for each of `numbers`.
async fn send(proxy: &Proxy, numbers: std::ops::Range<u64>) {
    let client = proxy.client();
    for n in numbers {
        client.calculation(n).send().await;
    }
}

/// The page shows a reject badge, the reason in words, the latency chart and the pair count.
fn shows_the_verdict_and_chart(dom: &str) {
    assert!(
        dom.contains(r#"class="verdict reject""#),
        "verdict badge: {dom}"
    );
    assert!(
        dom.contains("/factors: array length differs in"),
        "reason in words"
    );
    assert!(
        dom.contains(r#"data-kind="length""#) && dom.contains(r#"<mark class="diff">"#),
        "the kind and the differing value highlighted"
    );
    assert!(
        dom.contains(r#"class="latency-chart""#) && dom.contains("bar-candidate"),
        "latency chart"
    );
    assert!(dom.contains("candidate v3"));
    assert_eq!(pairs_shown(dom), 50);
    assert!(
        dom.contains(r#"<th class="num">rate (limit 1.0%)</th>"#),
        "the threshold beside the rates, headers aligned with their numbers"
    );
    assert!(
        dom.contains("Rejects when a field differs (beyond noise) in more than 1.0% of pairs"),
        "what makes a verdict, in words"
    );
    assert!(
        dom.contains("<b>noise</b>: this field also changes"),
        "noise explained"
    );
    assert!(dom.contains(",<wbr>"), "long JSON wraps between values");
}

#[tokio::test]
async fn the_web_page_shows_the_verdict_and_chart_and_updates_while_traffic_flows() {
    let v1 = backend::calc("v1").run().await;
    let v3 = backend::calc("v3").flaw(Flaw::PerfectPowers).run().await;
    // The seed's own VirtualService, annotated.
    let routes = config::seed_file("virtualservice.yaml").replace(
        "  namespace: challengeistio\n",
        "  namespace: challengeistio\n  annotations:\n    shadowmesh.io/compare-ignore: \"/version,/host\"\n",
    );
    let files = config::seed(v1.addr.port(), v1.addr.port(), v3.addr.port())
        .file("virtualservice.yaml", routes);
    let proxy = proxy::with_config(files).min_pairs(20).run().await;
    let first_pair = |p: &Proxy| p.compare_report().candidates.first().map(|c| c.pairs);

    send(&proxy, 1150..1200).await;
    assert_eventually!(first_pair(&proxy) == Some(50), "50 pairs compared");
    let url = proxy.admin_url("/");
    shows_the_verdict_and_chart(&render_async(url.clone(), None).await);

    // More traffic: the page shows it on its next refresh.
    send(&proxy, 1200..1230).await;
    assert_eventually!(first_pair(&proxy) == Some(80), "80 pairs compared");
    let dom = render_async(url.clone(), None).await;
    assert_eq!(
        pairs_shown(&dom),
        80,
        "the page updates while traffic flows"
    );

    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/compare-page.png");
    render_async(url, Some(shot.clone())).await;
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot written"
    );
    proxy.shutdown().await;
}
