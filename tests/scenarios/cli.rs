//! The binary as users run it: `validate` on good and broken configs, `run` with a bad config,
//! and graceful shutdown on SIGTERM with a request in flight.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

fn shadowmesh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shadowmesh"))
}

#[test]
fn validate_accepts_both_examples_with_a_one_line_summary() {
    for example in ["calcbackend", "greeter"] {
        let out = shadowmesh()
            .args(["validate", "-f"])
            .arg(examples().join(example))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.starts_with("valid: "), "{stdout}");
    }
    let out = shadowmesh()
        .args(["validate", "-f"])
        .arg(examples().join("calcbackend"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped Deployment jscalcbackend-new-v2"),
        "one info line for the Deployment: {stderr}"
    );
}

#[test]
fn validate_prints_every_error_with_file_resource_and_field() {
    let dir = config_dir(&[
        ("a-service.yaml", &calc_service_entry(9081, 9082, 9083)),
        (
            "b-rule.yaml",
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: calcbackend-rule, namespace: challengeistio}\nspec:\n  host: calcbackendsvc\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v1, labels: {version: v2}}\n",
        ),
        (
            "c-routes.yaml",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: backend-vs, namespace: challengeistio}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - match: [{headers: {user-agent: {regex: \"(Mobile\"}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n    mirror: {host: calcbackendsvc, subset: v3}\n    mirrorPercentage: {value: 101}\n",
        ),
        (
            "d-broken.yaml",
            "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata:\n  name: [oops\n",
        ),
    ]);
    let out = shadowmesh()
        .args(["validate", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expect = [
        (
            "b-rule.yaml",
            "DestinationRule challengeistio/calcbackend-rule",
            "spec.subsets[1].name",
        ),
        (
            "c-routes.yaml",
            "VirtualService challengeistio/backend-vs",
            "spec.http[0].match[0].headers.user-agent",
        ),
        (
            "c-routes.yaml",
            "VirtualService challengeistio/backend-vs",
            "spec.http[0].route[0].destination.subset",
        ),
        (
            "c-routes.yaml",
            "VirtualService challengeistio/backend-vs",
            "spec.http[1].mirrorPercentage.value",
        ),
        (
            "c-routes.yaml",
            "VirtualService challengeistio/backend-vs",
            "spec.http[1].mirror.subset",
        ),
    ];
    for (file, resource, field) in expect {
        assert!(
            stderr.lines().any(|l| l.starts_with("error: ")
                && l.contains(file)
                && l.contains(&format!("{resource}: {field}: "))),
            "missing {file} {resource} {field} in:\n{stderr}"
        );
    }
    assert!(
        stderr.lines().any(|l| l.contains("d-broken.yaml")
            && l.contains("YAML syntax error")
            && l.contains("line")),
        "{stderr}"
    );
    assert!(stderr.contains("invalid: 6 errors"), "{stderr}");
}

#[test]
fn run_refuses_to_start_on_a_bad_config() {
    let dir = config_dir(&[(
        "vs.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [nowhere]\n  http:\n  - route: [{destination: {host: nowhere}}]\n",
    )]);
    let out = shadowmesh()
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "-f",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.http[0].route[0].destination.host"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_drains_the_request_in_flight_and_exits_0() {
    let slow = Backend::start("v1", Behavior::Delay(Duration::from_millis(800))).await;
    let dir = seed_config(slow.addr.port(), slow.addr.port(), refusing_port().await);
    let port = refusing_port().await;
    let admin = refusing_port().await;
    let mut child = shadowmesh()
        .args([
            "run",
            "--namespace",
            "challengeistio",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin",
            &format!("127.0.0.1:{admin}"),
            "-f",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for readiness on the admin port.
    let ready = eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok()
    })
    .await;
    assert!(ready, "the proxy did not come up");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let in_flight = tokio::spawn(async move { get(addr, "calcbackendsvc", "/slow", None).await });
    assert!(
        eventually(Duration::from_secs(5), || slow.count() == 1).await,
        "request reached the backend"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "the request in flight finished");
    assert_eq!(answer.version(), "v1");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    // New connections are refused once it has stopped.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn access_log_lines_name_primary_and_mirror() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let v1 = Backend::start("v1", Behavior::Answer).await;
        let v3 = Backend::start("v3", Behavior::Answer).await;
        let dir = seed_config(v1.addr.port(), v1.addr.port(), v3.addr.port());
        let port = refusing_port().await;
        let mut child = shadowmesh()
            .args([
                "run",
                "--namespace",
                "challengeistio",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--admin",
                "127.0.0.1:0",
                "-f",
            ])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            eventually(Duration::from_secs(10), || std::net::TcpStream::connect(
                addr
            )
            .is_ok())
            .await
        );
        get(addr, "calcbackendsvc", "/hello", None).await;
        assert!(eventually(Duration::from_secs(5), || v3.count() == 1).await);
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .collect();
        child.wait().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("GET /hello 200 ")
                    && l.ends_with(" bytes -> calcbackendsvc v1")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("GET /hello 200 ")
                && l.ends_with(" bytes -> calcbackendsvc v3 (mirror)")),
            "{lines:#?}"
        );
    });
}
