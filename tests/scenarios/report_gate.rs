//! User story: "my CI pipeline gates the release on the verdict": `shadowmesh report` exits 0
//! on promote, 1 on reject, 3 on hold, 2 when it cannot ask; `--wait` polls until the verdict
//! leaves hold or the time is up.

use std::time::{Duration, Instant};

use crate::compare::{compared, report};
use crate::support::backend;
use crate::support::binary;
use crate::support::proxy::Proxy;
use crate::support::refusing_port;
use shadowmesh::tools::sample::Flaw;

/// Seed 000's calculations for 2, 3, ... `n + 1` (perfect powers among them).
async fn calculations(proxy: &Proxy, n: u64) {
    let client = proxy.client();
    for i in 2..n + 2 {
        assert_eq!(client.calculation(i).send().await.status, 200);
    }
    proxy.candidate_after(n, "v3").await;
}

#[tokio::test]
async fn the_exit_code_carries_the_verdict() {
    let v1 = backend::calc("v1").run().await;
    let good = backend::calc("v3").run().await;
    let flawed = backend::calc("v3").flaw(Flaw::PerfectPowers).run().await;
    for (v3, want) in [(&good, 0), (&flawed, 1)] {
        let proxy = compared(v1.addr.port(), v3.addr.port(), &["v3"], "/version,/host")
            .min_pairs(60)
            .max_slowdown(1000.0) // the gate on answers; latency has its own test
            .run()
            .await;
        calculations(&proxy, 80).await;
        let (code, text) = report(&proxy, &[]).await;
        assert_eq!(code, Some(want), "{text}");
        let (code, json) = report(&proxy, &["--format", "json"]).await;
        assert_eq!(code, Some(want));
        assert!(json.ends_with("}\n"), "JSON ends with a newline");
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn wait_polls_until_the_deadline_while_the_verdict_holds() {
    let v1 = backend::calc("v1").run().await;
    let v3 = backend::calc("v3").run().await;
    let proxy = compared(v1.addr.port(), v3.addr.port(), &["v3"], "/version,/host")
        .min_pairs(1000)
        .run()
        .await;
    calculations(&proxy, 5).await;
    let started = Instant::now();
    let (code, text) = report(&proxy, &["--wait", "2s"]).await;
    assert_eq!(code, Some(3), "still hold: {text}");
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    proxy.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_proxy_exits_2_and_says_what_to_check() {
    let port = refusing_port().await;
    let out = tokio::task::spawn_blocking(move || {
        (binary::command().args(["report", "--admin", &format!("127.0.0.1:{port}")]))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is `shadowmesh run --admin"), "{stderr}");
}

#[tokio::test]
async fn two_replicas_are_judged_together_when_each_is_named() {
    let v1 = backend::calc("v1").run().await;
    let flawed = backend::calc("v3").flaw(Flaw::PerfectPowers).run().await;
    let replica = || {
        compared(
            v1.addr.port(),
            flawed.addr.port(),
            &["v3"],
            "/version,/host",
        )
        .min_pairs(60)
        .max_slowdown(1000.0)
        .run()
    };
    let (a, b) = (replica().await, replica().await);
    // Half the traffic through each: neither has the pairs it needs alone.
    calculations(&a, 40).await;
    calculations(&b, 40).await;
    let (alone, text) = report(&a, &[]).await;
    assert_eq!(alone, Some(3), "one replica alone holds: {text}");
    let both = ["--admin", &b.admin_addr.to_string()].map(String::from);
    let (code, text) = report(&a, &both.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(code, Some(1), "together they reject: {text}");
    assert!(
        text.starts_with(&format!(
            "merged from 2 replicas: {}, {}",
            a.admin_addr, b.admin_addr
        )),
        "{text}"
    );
    assert!(text.contains("pairs     80 "), "pairs summed: {text}");
    assert!(text.contains("REJECT: /factors"), "{text}");
    let (_, json) = report(
        &a,
        &["--admin", &b.admin_addr.to_string(), "--format", "json"],
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["candidates"][0]["pairs"], 80);
    assert!(
        json["candidates"][0].get("samples").is_none(),
        "no raw counts in the output"
    );
    a.shutdown().await;
    b.shutdown().await;
}
