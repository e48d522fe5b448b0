//! User story: "a bad file never takes my proxy down or hangs my tools": an emptied config file
//! under a running proxy is refused (the last good config keeps serving), a folder without YAML
//! is an error, and `validate` reports absurd durations and deeply nested YAML as errors, fast,
//! without panicking.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::assert_eventually;
use crate::hostile::{ALL_OF_WEB, web};
use crate::support::backend;
use crate::support::binary;
use crate::support::config::Files;
use crate::support::proxy;

/// `shadowmesh validate -f <dir>`, killed (by its pid) if it runs past `deadline`; its output
/// and how long it ran.
fn validate_within(dir: &Path, deadline: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = binary::command()
        .args(["validate", "-f"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

/// A valid `web` config (one endpoint on port 9) with `file` added.
fn web_plus(name: &str, yaml: &str) -> Files {
    web(&[("ok", 9)], ALL_OF_WEB).file(name, yaml)
}

#[tokio::test]
async fn an_emptied_file_under_a_running_proxy_is_refused() {
    let ok = backend::http1("ok").run().await;
    let proxy = proxy::with_config(web(&[("ok", ok.port())], ALL_OF_WEB))
        .run()
        .await;
    let client = proxy.client().host("web");
    assert_eq!(client.get("/").send().await.status, 200);
    // `: > routes.yaml`: truncated in place, as a shell does.
    std::fs::File::create(proxy.config_dir().join("routes.yaml")).unwrap();
    assert_eventually!(proxy.reloads_rejected() >= 1, "the empty file is refused");
    let errors = proxy.reload_errors().join("\n");
    assert!(errors.contains("empty"), "{errors}");
    assert_eq!(proxy.generation(), 1, "the last good config stays");
    assert_eq!(client.get("/still").send().await.status, 200);
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "not yaml").unwrap();
    let (out, _) = validate_within(empty.path(), Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a folder without YAML: {stderr}");
    assert!(stderr.contains("no YAML files"), "{stderr}");
}

const ROUTE_TIMEOUT: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: t, namespace: challengeistio}\nspec:\n  hosts: [other]\n  http:\n  - timeout: DURATION\n    route: [{destination: {host: web}}]\n";

const POLICY: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: p, namespace: challengeistio}\nspec:\n  host: web\n  trafficPolicy:\n    FIELD\n";

#[test]
fn absurd_durations_are_errors_not_panics() {
    let policies = [
        "connectionPool: {tcp: {connectTimeout: 18446744073709551616s}}",
        "connectionPool: {http: {idleTimeout: 99999999999999999999h}}",
        "outlierDetection: {baseEjectionTime: 18446744073709551616s}",
        "outlierDetection: {interval: 1e400s}",
    ];
    let mut cases: Vec<(String, Files)> = ["18446744073709551616s", "99999999999999999999h"]
        .iter()
        .map(|d| {
            (
                d.to_string(),
                web_plus("t.yaml", &ROUTE_TIMEOUT.replace("DURATION", d)),
            )
        })
        .collect();
    for p in policies {
        cases.push((
            p.to_string(),
            web_plus("rule.yaml", &POLICY.replace("FIELD", p)),
        ));
    }
    for (what, files) in cases {
        let dir = files.write();
        let (out, took) = validate_within(dir.path(), Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(stderr.contains("error"), "{what}: {stderr}");
        assert!(took < Duration::from_secs(2), "{what}: {took:?}");
    }
}

#[test]
fn deeply_nested_yaml_is_refused_fast() {
    let deep = "[".repeat(100_000);
    for (what, text) in [
        ("100 KB of [", deep.clone()),
        (
            "after a plain scalar with a quote",
            format!("kind: don't\nspec: {deep}\n"),
        ),
        (
            "inside a flow list after a quote",
            format!("a: [it 'x, {deep}\n"),
        ),
        ("100 KB of {", "{".repeat(100_000)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("deep.yaml"), &text).unwrap();
        let (out, took) = validate_within(dir.path(), Duration::from_secs(40));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(
            took < Duration::from_secs(2),
            "{what}: refused after {took:?}"
        );
    }
}
