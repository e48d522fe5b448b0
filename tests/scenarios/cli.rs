//! User story: "I run the binary": `validate` on good and broken configs, `run` with a bad config,
//! graceful shutdown on SIGTERM with a request in flight, access-log lines naming primary and
//! mirror, and an idle proxy that sleeps (no timer ticking, no watch set off by its own reads).

use std::net::{SocketAddr, TcpStream};
use std::process::Output;
use std::time::Duration;

use crate::assert_eventually;
use crate::support::backend;
use crate::support::binary::{self, Spawned};
use crate::support::client::Client;
use crate::support::config::{self, Files};
use crate::support::{examples, refusing_port};

fn validate(dir: &std::path::Path) -> Output {
    binary::command()
        .args(["validate", "-f"])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn validate_accepts_both_examples_with_a_one_line_summary() {
    for example in ["calcbackend", "greeter"] {
        let out = validate(&examples().join(example));
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.starts_with("valid: "), "{stdout}");
    }
    let out = validate(&examples().join("calcbackend"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped Deployment jscalcbackend-new-v2"),
        "one info line for the Deployment: {stderr}"
    );
}

/// Six mistakes in four files: a duplicate subset, a bad regex, an unknown subset, a percentage
/// over 100, an unknown mirror subset, and broken YAML.
fn broken_config() -> Files {
    let rule = config::destination_rule("calcbackendsvc")
        .name("calcbackend-rule")
        .subset("v1", "v1")
        .subset("v1", "v2");
    config::files()
        .file("a-service.yaml", config::seed_service_entry(9081, 9082, 9083))
        .file("b-rule.yaml", rule.yaml())
        .file(
            "c-routes.yaml",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: backend-vs, namespace: challengeistio}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - match: [{headers: {user-agent: {regex: \"(Mobile\"}}}]\n    route: [{destination: {host: calcbackendsvc, subset: v2}}]\n  - route: [{destination: {host: calcbackendsvc, subset: v1}}]\n    mirror: {host: calcbackendsvc, subset: v3}\n    mirrorPercentage: {value: 101}\n",
        )
        .file(
            "d-broken.yaml",
            "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata:\n  name: [oops\n",
        )
}

#[test]
fn validate_prints_every_error_with_file_resource_and_field() {
    let dir = broken_config().write();
    let out = validate(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let vs = "VirtualService challengeistio/backend-vs";
    let expect = [
        (
            "b-rule.yaml",
            "DestinationRule challengeistio/calcbackend-rule",
            "spec.subsets[1].name",
        ),
        (
            "c-routes.yaml",
            vs,
            "spec.http[0].match[0].headers.user-agent",
        ),
        (
            "c-routes.yaml",
            vs,
            "spec.http[0].route[0].destination.subset",
        ),
        ("c-routes.yaml", vs, "spec.http[1].mirrorPercentage.value"),
        ("c-routes.yaml", vs, "spec.http[1].mirror.subset"),
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
    let dir = config::files()
        .file(
            "vs.yaml",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [nowhere]\n  http:\n  - route: [{destination: {host: nowhere}}]\n",
        )
        .write();
    let out = binary::command()
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

/// Waits (10 s at most) until something listens on `127.0.0.1:<port>`.
async fn wait_for_port(port: u16) {
    assert_eventually!(
        within Duration::from_secs(10),
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the proxy did not come up on port {port}"
    );
}

#[tokio::test]
async fn sigterm_drains_the_request_in_flight_and_exits_0() {
    let slow = backend::slow("v1", Duration::from_millis(800)).await;
    let dir = config::seed(slow.port(), slow.port(), refusing_port().await).write();
    let (port, admin) = (refusing_port().await, refusing_port().await);
    let mut child = binary::run(dir.path()).listen(port).admin(admin).spawn();
    wait_for_port(admin).await;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let in_flight = tokio::spawn(async move { Client::new(addr).get("/slow").send().await });
    assert_eventually!(slow.count() == 1, "request reached the backend");
    child.sigterm();
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "the request in flight finished");
    assert_eq!(answer.version(), "v1");
    assert_eq!(child.exit_code().await, Some(0));
    // New connections are refused once it has stopped.
    assert!(TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn access_log_lines_name_primary_and_mirror() {
    let v1 = backend::http1("v1").run().await;
    let v3 = backend::http1("v3").run().await;
    let dir = config::seed(v1.port(), v1.port(), v3.port()).write();
    let port = refusing_port().await;
    let mut child: Spawned = binary::run(dir.path())
        .listen(port)
        .admin(0)
        .capture_stdout()
        .spawn();
    wait_for_port(port).await;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    Client::new(addr).get("/hello").send().await;
    assert_eventually!(v3.count() == 1, "the mirror got /hello");
    child.sigterm();
    let lines = tokio::task::spawn_blocking(move || {
        let lines = child.stdout_lines();
        drop(child);
        lines
    })
    .await
    .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("GET /hello 200 ") && l.ends_with(" bytes -> calcbackendsvc v1")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("GET /hello 200 ")
            && l.ends_with(" bytes -> calcbackendsvc v3 (mirror)")),
        "{lines:#?}"
    );
}

#[test]
fn logs_are_plain_text_when_stderr_is_not_a_terminal() {
    use std::io::BufRead;
    let dir = config::seed(1, 2, 3).write();
    let mut child = binary::command()
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "-f",
        ])
        .arg(dir.path())
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let first = std::io::BufReader::new(stderr).lines().next();
        let _ = tx.send(first);
    });
    let line = rx.recv_timeout(Duration::from_secs(10));
    // End only the process this test started, by its PID.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let line = line.expect("a log line within 10 s").unwrap().unwrap();
    assert!(line.contains("shadowmesh listening on"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes in a pipe: {line:?}"
    );
}

/// Context switches of every thread of process `pid` so far.
fn context_switches(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the proxy's threads");
    (tasks.flatten())
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            (status.lines())
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[tokio::test]
async fn an_idle_proxy_sleeps_until_the_next_request() {
    let v1 = backend::http1("v1").run().await;
    let v3 = backend::http1("v3").run().await;
    let dir = config::seed(v1.port(), v1.port(), v3.port()).write();
    let port = refusing_port().await;
    let mut child = binary::run(dir.path()).listen(port).admin(0).spawn();
    wait_for_port(port).await;
    // A request and its mirror: the pools, the comparison and the access log have all run.
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    Client::new(addr).get("/hello").send().await;
    assert_eventually!(v3.count() == 1, "the mirror got /hello");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = context_switches(child.pid());
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Saturating: a thread that exits meanwhile takes its count with it.
    let woke = context_switches(child.pid()).saturating_sub(before);
    // Idle, it wakes for the pools' reaper (once a second per thread) and the files' poll
    // (every 2 s): about 20 switches in 3 s. A task on a 20 ms tick, or the files' watch
    // set off by its own reads, came to 470.
    assert!(
        woke < 120,
        "{woke} context switches in 3 s without a request"
    );
    child.sigterm();
    assert_eq!(child.exit_code().await, Some(0));
}

#[tokio::test]
async fn pinned_workers_each_run_on_one_cpu_of_their_own_and_still_serve() {
    let v1 = backend::http1("v1").run().await;
    let v3 = backend::http1("v3").run().await;
    let dir = config::seed(v1.port(), v1.port(), v3.port()).write();
    let port = refusing_port().await;
    let run = binary::run(dir.path()).listen(port).admin(0);
    let mut child = run.args(&["--workers", "2", "--pin-workers"]).spawn();
    wait_for_port(port).await;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(Client::new(addr).get("/hello").send().await.status, 200);
    // The CPUs this test may use are the proxy's too; its workers take the first two.
    let allowed = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    let mut expected: Vec<String> = allowed.iter().cycle().take(2).cloned().collect();
    expected.sort();
    let mut cpus = worker_cpus(child.pid());
    cpus.sort();
    assert_eq!(
        cpus, expected,
        "each worker's Cpus_allowed_list (allowed: {allowed:?})"
    );
    child.sigterm();
    assert_eq!(child.exit_code().await, Some(0));
}

/// The `Cpus_allowed_list` of each data-plane thread of process `pid`.
fn worker_cpus(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the proxy's threads");
    (tasks.flatten())
        .filter(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            comm.starts_with("shadowmesh-work")
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .map(|status| allowed_cpus(&status).join(","))
        .collect()
}

/// The CPUs a `/proc/*/status` allows, one by one (`Cpus_allowed_list: 0-2,5` -> 0 1 2 5).
fn allowed_cpus(status: &str) -> Vec<String> {
    let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:"));
    let list = line
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default();
    (list.split(','))
        .flat_map(|range| {
            let (low, high) = range.split_once('-').unwrap_or((range, range));
            let (low, high) = (low.parse::<u32>().unwrap(), high.parse::<u32>().unwrap());
            (low..=high).map(|cpu| cpu.to_string())
        })
        .collect()
}
