//! User story: "drop shadowmesh into a cluster": the real binary in Kubernetes mode against a
//! real kube-apiserver (`support::kube`), the seed's YAML applied verbatim with `kubectl`, a
//! Service, Pods (status patched to loopback IPs 127.0.0.2+ and Ready, as no kubelet runs) and
//! EndpointSlices made by the test, backends listening on those IPs. Then: routing, mirroring,
//! a live switch to the baseline, a DestinationRule change, an endpoint going unready, a bad
//! resource skipped alone (with its Event), and the API server stopped and restarted.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::backend::{self, Backend};
use crate::support::client::{Client, fetch, raw};
use crate::support::kube::{self, ApiServer};
use crate::support::{binary, config, eventually_async, example_file};

const NS: &str = "challengeistio";
const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
const MOBILE: &str = "Mozilla/5.0 (iPhone) Mobile Safari/604.1";
const IPS: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/// The seed's world in the cluster, and a proxy reading it.
struct World {
    server: &'static ApiServer,
    backends: Vec<Backend>,
    proxy: binary::Spawned,
    /// The proxy's port.
    port: u16,
    client: Client,
    admin: String,
    /// `-f` folder (kept until the test ends): its resources add to the cluster's.
    _files: tempfile::TempDir,
}

/// A VirtualService from a file (`-f`), next to the cluster's.
const FILE_VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: file-vs\n  namespace: challengeistio\nspec:\n  hosts: [filehost]\n  http:\n  - route:\n    - destination: {host: calcbackendsvc, subset: v3}\n";

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn pod(version: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: calcbackend-{version}\n  namespace: {NS}\n  labels: {{app: backend, version: {version}}}\nspec:\n  containers:\n  - {{name: app, image: calc:{version}}}\n"
    )
}

fn slice(server: &ApiServer, version: &str, ip: &str, port: u16, ready: bool) -> String {
    format!(
        "apiVersion: {}\nkind: EndpointSlice\nmetadata:\n  name: calcbackendsvc-{version}\n  namespace: {NS}\n  labels: {{kubernetes.io/service-name: calcbackendsvc}}\naddressType: IPv4\nports:\n- {{name: http, port: {port}, protocol: TCP}}\nendpoints:\n- addresses: [\"{ip}\"]\n  conditions: {{ready: {ready}}}\n  targetRef: {{kind: Pod, name: calcbackend-{version}, namespace: {NS}}}\n",
        server.slice_version
    )
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: calcbackendsvc\n  namespace: challengeistio\nspec:\n  selector: {app: backend}\n  ports:\n  - {name: http, port: 80, targetPort: 80}\n";

fn example_path(path: &str) -> String {
    format!("{}/examples/calcbackend/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// `shadowmesh run --kubernetes` on this server, reading namespace `NS`, with `--listen` `listen`
/// and the admin on `admin`; no access log.
fn kube_proxy(server: &ApiServer, listen: &str, admin: u16) -> std::process::Command {
    let mut cmd = binary::command();
    cmd.args(["run", "--kubernetes", "--kubeconfig"])
        .arg(&server.kubeconfig)
        .args([
            "--watch-namespace",
            NS,
            "--namespace",
            NS,
            "--log-format",
            "off",
        ])
        .args(["--listen", listen])
        .args(["--admin", &format!("127.0.0.1:{admin}")])
        .stdout(Stdio::null());
    cmd
}

impl World {
    async fn start(server: &'static ApiServer) -> World {
        server.kubectl_try(
            &[
                "delete",
                "virtualservices,destinationrules,services,endpointslices,pods,events",
                "--all",
                "-n",
                NS,
                "--grace-period=0",
                "--force",
            ],
            None,
        );
        server.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n"
        ));
        // The seed's YAML, verbatim.
        for f in ["destinationrule.yaml", "virtualservice.yaml"] {
            server.kubectl(&["apply", "-f", &example_path(f)]);
        }
        server.apply(SERVICE);
        let mut backends = Vec::new();
        for (i, version) in ["v1", "v2", "v3"].into_iter().enumerate() {
            let b = backend::http1(version).ip(IPS[i]).run().await;
            server.apply(&pod(version));
            let status = format!(
                r#"{{"status":{{"podIP":"{}","phase":"Running","conditions":[{{"type":"Ready","status":"True"}}]}}}}"#,
                IPS[i]
            );
            server.kubectl(&[
                "patch",
                "pod",
                &format!("calcbackend-{version}"),
                "-n",
                NS,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status,
            ]);
            server.apply(&slice(server, version, IPS[i], b.port(), true));
            backends.push(b);
        }
        let (port, admin_port) = (free_port().await, free_port().await);
        let log = std::fs::File::create(server.run_dir().join("shadowmesh.log")).unwrap();
        let files = config::files().file("file-vs.yaml", FILE_VS).write();
        let mut cmd = kube_proxy(server, &format!("127.0.0.1:{port}"), admin_port);
        cmd.arg("-f").arg(files.path()).stderr(log);
        let proxy = binary::Spawned::from_child(cmd.spawn().unwrap());
        let admin = format!("http://127.0.0.1:{admin_port}");
        let ready = eventually_async(Duration::from_secs(20), || async {
            matches!(fetch(&format!("{admin}/ready")).await, Some((s, _)) if s == 200)
        })
        .await;
        assert!(ready, "not ready; see {}", server.run_dir().display());
        let client = Client::new(format!("127.0.0.1:{port}").parse().unwrap());
        World {
            server,
            backends,
            proxy,
            port,
            client,
            admin,
            _files: files,
        }
    }

    /// The version answering a request with `ua` (or the status when not 200).
    async fn answer(&self, ua: &str) -> String {
        let a = self.client.calculation(1).user_agent(ua).send().await;
        if a.status != 200 {
            return a.status.as_u16().to_string();
        }
        a.version()
    }

    /// Waits until requests with `ua` are answered by `want`; how long it took.
    async fn until_answered(&self, ua: &str, want: &str) -> Duration {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.answer(ua).await == want {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{ua} never answered by {want}");
    }

    async fn dump(&self) -> serde_json::Value {
        let (_, body) = fetch(&format!("{}/config_dump", self.admin)).await.unwrap();
        serde_json::from_str(&body).unwrap()
    }

    async fn metric(&self, line_start: &str) -> Option<f64> {
        let (_, body) = fetch(&format!("{}/metrics", self.admin)).await?;
        body.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    fn mirrored(&self) -> usize {
        self.backends[2].count()
    }
}

#[tokio::test]
async fn seed_in_a_cluster_routes_mirrors_and_follows_every_change() {
    let Some((_lock, server)) = kube::cluster().await else {
        return;
    };
    let w = World::start(server).await;
    // Routing and mirroring as in Istio: Mobile to v2, the rest to v1, each v1 request to v3.
    for _ in 0..5 {
        assert_eq!(w.answer(DESKTOP).await, "v1");
        assert_eq!(w.answer(MOBILE).await, "v2");
    }
    let v1 = w.backends[0].count();
    assert!(
        eventually_async(Duration::from_secs(5), || async { w.mirrored() == v1 }).await,
        "v3 got {} copies of {v1} requests",
        w.mirrored()
    );
    let dump = w.dump().await;
    let vs = dump["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "VirtualService challengeistio/backend-vs")
        .expect("the VirtualService is listed");
    assert!(
        vs["source"]
            .as_str()
            .unwrap()
            .starts_with("kubernetes: challengeistio/backend-vs@")
    );
    assert_eq!(vs["state"], "accepted");
    // The file's VirtualService adds to the cluster's.
    let from_file = w
        .client
        .clone()
        .host("filehost")
        .calculation(1)
        .send()
        .await;
    assert_eq!(from_file.version(), "v3");
    let file_vs = dump["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "VirtualService challengeistio/file-vs")
        .expect("the file's VirtualService is listed")
        .clone();
    assert!(
        file_vs["source"]
            .as_str()
            .unwrap()
            .ends_with("file-vs.yaml"),
        "{file_vs}"
    );

    burst_is_applied_once(&w).await;

    // A live switch to the baseline: the mirror stops within a second or so.
    w.server
        .kubectl(&["apply", "-f", &example_path("baseline/virtualservice.yaml")]);
    let start = Instant::now();
    loop {
        let before = w.mirrored();
        assert_eq!(w.answer(DESKTOP).await, "v1");
        tokio::time::sleep(Duration::from_millis(150)).await;
        if w.mirrored() == before {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "still mirrored");
    }
    eprintln!("baseline live after {:?}", start.elapsed());

    // A DestinationRule change: subset v1 now selects the pods labelled v2.
    let dr =
        example_file("calcbackend/destinationrule.yaml").replacen("version: v1", "version: v2", 1);
    w.server.apply(&dr);
    let took = w.until_answered(DESKTOP, "v2").await;
    assert!(took < Duration::from_secs(3), "took {took:?}");
    w.server
        .kubectl(&["apply", "-f", &example_path("destinationrule.yaml")]);
    w.until_answered(DESKTOP, "v1").await;

    // v1's endpoint goes unready: subset v1 has no endpoint left (503), then it is back.
    let port = w.backends[0].port();
    w.server.apply(&slice(w.server, "v1", IPS[0], port, false));
    w.until_answered(DESKTOP, "503").await;
    assert_eq!(w.answer(MOBILE).await, "v2");
    w.server.apply(&slice(w.server, "v1", IPS[0], port, true));
    w.until_answered(DESKTOP, "v1").await;

    bad_resource_is_skipped_alone(&w).await;
    unreadable_object_fails_alone(&w).await;
}

/// An object nested 300 deep (made with `--validate=false`; the CRD keeps unknown fields) is
/// refused alone, named, while its kind keeps updating and traffic flows.
async fn unreadable_object_fails_alone(w: &World) {
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let object = format!(
        r#"{{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {{"name": "deep-dr", "namespace": "{NS}"}},
            "spec": {{"host": "deephost", "x": {deep}}}}}"#
    );
    w.server
        .kubectl_in(&["create", "--validate=false", "-f", "-"], Some(&object));
    let refused = eventually_async(Duration::from_secs(10), || async {
        let dump = w.dump().await;
        dump["resources"].as_array().is_some_and(|all| {
            all.iter().any(|r| {
                r["resource"] == format!("DestinationRule {NS}/deep-dr")
                    && r["state"] == "rejected"
                    && r["errors"].to_string().contains("not readable")
            })
        })
    })
    .await;
    assert!(
        refused,
        "the unreadable object is refused alone, named: {}",
        w.dump().await["resources"]
    );
    // Its kind still updates: the seed's DestinationRule, changed now, applies.
    let dr =
        example_file("calcbackend/destinationrule.yaml").replacen("version: v1", "version: v2", 1);
    w.server.apply(&dr);
    w.until_answered(DESKTOP, "v2").await;
    w.server
        .kubectl(&["apply", "-f", &example_path("destinationrule.yaml")]);
    w.until_answered(DESKTOP, "v1").await;
    w.server
        .kubectl(&["delete", "destinationrule", "deep-dr", "-n", NS]);
}

/// Twenty VirtualServices in one `kubectl apply`: a handful of recompiles, not twenty.
async fn burst_is_applied_once(w: &World) {
    let applied = || async {
        w.metric("shadowmesh_config_reloads_total{result=\"applied\"}")
            .await
            .unwrap()
    };
    let before = applied().await;
    let burst: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: burst-{i}\n  namespace: {NS}\nspec:\n  hosts: [burst-{i}]\n  http:\n  - route:\n    - destination: {{host: calcbackendsvc, subset: v2}}\n"
            )
        })
        .collect();
    w.server.apply(&burst.join("---\n"));
    let last = w.client.clone().host("burst-19");
    let served = eventually_async(Duration::from_secs(5), || async {
        last.calculation(1).send().await.version() == "v2"
    })
    .await;
    assert!(served, "the burst applies");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let rebuilds = applied().await - before;
    assert!(
        (1.0..=4.0).contains(&rebuilds),
        "{rebuilds} recompiles for one burst of 20 changes"
    );
    eprintln!("a burst of 20 changes: {rebuilds} recompiles");
}

/// A bad VirtualService next to a good one: the good one applies, the bad one is named in
/// `/config_dump`, the metric and an Event, and traffic goes on.
async fn bad_resource_is_skipped_alone(w: &World) {
    let bad = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: bad-vs\n  namespace: challengeistio\nspec:\n  hosts: [badhost]\n  http:\n  - retries: {attempts: -1}\n    route:\n    - destination: {host: calcbackendsvc, subset: v1}\n";
    let good = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: good-vs\n  namespace: challengeistio\nspec:\n  hosts: [goodhost]\n  http:\n  - route:\n    - destination: {host: calcbackendsvc, subset: v2}\n";
    w.server.apply(&format!("{bad}---\n{good}"));
    let good_client = w.client.clone().host("goodhost");
    let served = eventually_async(Duration::from_secs(5), || async {
        good_client.calculation(1).send().await.version() == "v2"
    })
    .await;
    assert!(
        served,
        "the good VirtualService applies next to the bad one"
    );
    assert_eq!(w.answer(MOBILE).await, "v2");
    assert_eq!(w.answer(DESKTOP).await, "v1");
    let dump = w.dump().await;
    let bad_status = dump["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "VirtualService challengeistio/bad-vs")
        .expect("the bad VirtualService is listed")
        .clone();
    assert_eq!(bad_status["state"], "rejected");
    let errors = bad_status["errors"].to_string();
    assert!(errors.contains("spec.http[0].retries.attempts"), "{errors}");
    assert_eq!(
        w.metric("shadowmesh_config_resources{state=\"rejected\"}")
            .await,
        Some(1.0)
    );
    let has_event = eventually_async(Duration::from_secs(5), || async {
        let out = w.server.kubectl(&[
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            "involvedObject.name=bad-vs",
            "-o",
            "jsonpath={.items[*].reason}: {.items[*].message}",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("ShadowmeshRejected") && text.contains("spec.http[0].retries.attempts")
    })
    .await;
    assert!(has_event, "kubectl describe shows why bad-vs was rejected");

    // `validate --kubernetes` names it too, and fails.
    let out = binary::command()
        .args(["validate", "--kubernetes", "--kubeconfig"])
        .arg(&w.server.kubeconfig)
        .args(["--watch-namespace", NS, "--namespace", NS])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.lines().any(|l| l
            .starts_with("VirtualService challengeistio/bad-vs: spec.http[0].retries.attempts: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("good-vs"), "{stderr}");
}

#[tokio::test]
async fn api_server_going_away_keeps_traffic_and_later_changes_apply() {
    let Some((_lock, server)) = kube::cluster().await else {
        return;
    };
    let w = World::start(server).await;
    assert_eq!(w.answer(DESKTOP).await, "v1");
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    // The last config keeps serving, and the config says it is stale.
    for _ in 0..10 {
        assert_eq!(w.answer(DESKTOP).await, "v1");
        assert_eq!(w.answer(MOBILE).await, "v2");
    }
    let stale = eventually_async(Duration::from_secs(15), || async {
        w.metric("shadowmesh_config_stale_seconds")
            .await
            .unwrap_or(0.0)
            > 0.0
    })
    .await;
    assert!(
        stale,
        "the stale metric says so while the API server is away"
    );
    let (s, _) = fetch(&format!("{}/ready", w.admin)).await.unwrap();
    assert_eq!(s, 200, "still ready: the last config serves");
    // A replica started during the outage waits, not ready, instead of exiting.
    let (late_port, late_admin) = (free_port().await, free_port().await);
    let late = kube_proxy(server, &format!("127.0.0.1:{late_port}"), late_admin)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut late = binary::Spawned::from_child(late);
    let late_ready = format!("http://127.0.0.1:{late_admin}/ready");
    let answers_not_ready = eventually_async(Duration::from_secs(10), || async {
        fetch(&late_ready).await.is_some_and(|(s, _)| s == 503)
    })
    .await;
    assert!(
        answers_not_ready,
        "the late replica serves its admin, not ready"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        late.is_running(),
        "the late replica keeps waiting for the API server"
    );
    tokio::task::spawn_blocking(move || server.start())
        .await
        .unwrap();
    let late_becomes_ready = eventually_async(Duration::from_secs(40), || async {
        fetch(&late_ready).await.is_some_and(|(s, _)| s == 200)
    })
    .await;
    assert!(
        late_becomes_ready,
        "the late replica is ready once the API server answers"
    );
    drop(late);
    // A change after the restart applies.
    w.server
        .kubectl(&["apply", "-f", &example_path("baseline/virtualservice.yaml")]);
    let dr =
        example_file("calcbackend/destinationrule.yaml").replacen("version: v1", "version: v2", 1);
    w.server.apply(&dr);
    w.until_answered(DESKTOP, "v2").await;
    let fresh = eventually_async(Duration::from_secs(15), || async {
        w.metric("shadowmesh_config_stale_seconds").await == Some(0.0)
    })
    .await;
    assert!(fresh, "fresh again after the restart");
    drop(w.proxy);
}

/// The version named in a raw HTTP/1.1 answer, or its status line.
fn version_in(answer: &str) -> String {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match v["version"].as_str() {
        Some(version) => version.to_string(),
        None => answer.lines().next().unwrap_or("").to_string(),
    }
}

/// Pattern 2: a second shadowmesh, as a sidecar would run it, bound to the service: a plain
/// request that names nothing reaches v1.
async fn sidecar_answers_on_its_bound_listener(server: &ApiServer) -> bool {
    let (port, admin) = (free_port().await, free_port().await);
    let sidecar = kube_proxy(server, &format!("127.0.0.1:{port}=calcbackendsvc"), admin)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _sidecar = binary::Spawned::from_child(sidecar);
    let plain =
        "GET /api/calculation?number=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let bound = format!("127.0.0.1:{port}").parse().unwrap();
    eventually_async(Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(bound).await.is_ok()
            && version_in(&raw(bound, plain).await) == "v1"
    })
    .await
}

/// README's deployment patterns, each as its example has clients call it: (1) the proxy as
/// `HTTP_PROXY` (absolute-form requests naming `calcbackendsvc`); (2) a listener bound to the
/// service (`--listen ADDR=calcbackendsvc`, plain requests that name nothing); (3) a front proxy
/// under the service's own name, its rules routing to `calcbackendsvc-origin`
/// (deploy/kubernetes/patterns/3-front-proxy.yaml applied as it is).
#[tokio::test]
async fn the_three_deployment_patterns_route_as_documented() {
    let Some((_lock, server)) = kube::cluster().await else {
        return;
    };
    let w = World::start(server).await;
    let get = |target: &str, ua: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: calcbackendsvc\r\nUser-Agent: {ua}\r\nConnection: close\r\n\r\n"
        )
    };
    let addr = format!("127.0.0.1:{}", w.port).parse().unwrap();
    let absolute = get("http://calcbackendsvc/api/calculation?number=7", MOBILE);
    assert_eq!(version_in(&raw(addr, &absolute).await), "v2", "pattern 1");

    assert!(
        sidecar_answers_on_its_bound_listener(server).await,
        "pattern 2: a plain request on the bound listener reaches v1"
    );

    server.kubectl(&["delete", "virtualservice", "backend-vs", "-n", NS]);
    server.kubectl(&[
        "apply",
        "-f",
        &format!(
            "{}/deploy/kubernetes/patterns/3-front-proxy.yaml",
            env!("CARGO_MANIFEST_DIR")
        ),
    ]);
    for (i, version) in ["v1", "v2", "v3"].into_iter().enumerate() {
        let origin = slice(server, version, IPS[i], w.backends[i].port(), true)
            .replace("calcbackendsvc", "calcbackendsvc-origin");
        server.apply(&origin);
    }
    w.until_answered(MOBILE, "v2").await;
    // The v3 slice was applied last: once a copy reaches v3, every later v1 request is mirrored.
    let mirrored = w.mirrored();
    let reached = eventually_async(Duration::from_secs(10), || async {
        w.answer(DESKTOP).await == "v1" && w.mirrored() > mirrored
    })
    .await;
    assert!(
        reached,
        "pattern 3: v1 requests are mirrored to v3 through the origin's subsets"
    );
    let mirrored = w.mirrored();
    for _ in 0..5 {
        assert_eq!(w.answer(DESKTOP).await, "v1", "pattern 3");
    }
    assert!(
        eventually_async(Duration::from_secs(5), || async {
            w.mirrored() >= mirrored + 5
        })
        .await,
        "pattern 3: each v1 request is mirrored to v3"
    );
    let dump = w.dump().await.to_string();
    assert!(
        dump.contains("calcbackendsvc-origin"),
        "the origin Service is a host"
    );
}
