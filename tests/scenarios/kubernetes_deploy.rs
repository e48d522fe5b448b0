//! User story: "kubectl apply -f deploy/kubernetes/ works, and gives shadowmesh no more than it
//! needs": the manifests and the three deployment patterns pass the real API server's own
//! validation (`kubectl apply --dry-run=server`), and the read-only role they grant is enough
//! for the real binary in Kubernetes mode, and no more.

use std::process::Stdio;
use std::time::Duration;

use crate::support::binary;
use crate::support::client::fetch;
use crate::support::eventually_async;
use crate::support::kube::{self, ApiServer};

fn deploy(file: &str) -> String {
    let path = format!("{}/deploy/kubernetes/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `kubectl apply --dry-run=server` of `yaml`: what the server says it would create.
fn dry_run(server: &ApiServer, yaml: &str) -> String {
    let out = server.kubectl_in(&["apply", "--dry-run=server", "-f", "-"], Some(yaml));
    String::from_utf8(out.stdout).unwrap()
}

/// Did the dry run accept `object` (`created`, or `configured`/`unchanged` when another test
/// made it already)?
fn dry_run_accepted(said: &str, object: &str) -> bool {
    said.lines()
        .any(|l| l.starts_with(&format!("{object} ")) && l.ends_with("(server dry run)"))
}

/// policy/v1 PodDisruptionBudgets are served from Kubernetes 1.21; the test server is 1.20,
/// which serves the same fields as policy/v1beta1.
fn served_pdb(server: &ApiServer, yaml: &str) -> String {
    let versions = String::from_utf8(server.kubectl(&["api-versions"]).stdout).unwrap();
    if versions.lines().any(|l| l == "policy/v1") {
        yaml.to_string()
    } else {
        yaml.replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n")
    }
}

#[tokio::test]
async fn the_manifests_and_patterns_pass_the_api_servers_validation() {
    let Some((_lock, server)) = kube::cluster().await else {
        return;
    };
    server.apply(&deploy("namespace.yaml"));
    server.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: challengeistio}\n");
    // What the README's `kubectl apply -k deploy/kubernetes/` applies, in the order it does.
    let dir = format!("{}/deploy/kubernetes", env!("CARGO_MANIFEST_DIR"));
    let built = server.kubectl(&["kustomize", &dir]);
    assert!(built.status.success(), "kubectl kustomize {dir} failed");
    let manifests = String::from_utf8(built.stdout).unwrap();
    let kinds: Vec<&str> = manifests
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(kinds.first(), Some(&"Namespace"), "{kinds:?}");
    let said = dry_run(server, &served_pdb(server, &manifests));
    for object in [
        "serviceaccount/shadowmesh",
        "clusterrole.rbac.authorization.k8s.io/shadowmesh-reader",
        "clusterrolebinding.rbac.authorization.k8s.io/shadowmesh-reader",
        "deployment.apps/shadowmesh",
        "service/shadowmesh",
        "service/shadowmesh-admin",
        "poddisruptionbudget.policy/shadowmesh",
    ] {
        assert!(dry_run_accepted(&said, object), "{object}:\n{said}");
    }
    for (pattern, objects) in [
        ("1-http-proxy.yaml", &["deployment.apps/calc-client"][..]),
        (
            "2-sidecar.yaml",
            &[
                "serviceaccount/calc-client-sidecar",
                "deployment.apps/calc-client-sidecar",
            ],
        ),
        (
            "3-front-proxy.yaml",
            &[
                "service/calcbackendsvc-origin",
                "deployment.apps/calcbackend-front-proxy",
                "virtualservice.networking.istio.io/calcbackend",
            ],
        ),
    ] {
        let said = dry_run(server, &deploy(&format!("patterns/{pattern}")));
        for object in objects {
            assert!(
                dry_run_accepted(&said, object),
                "{pattern}: {object}:\n{said}"
            );
        }
    }
}

/// `kubectl auth can-i VERB RESOURCE -A` as the test's reader user.
fn reader_can(server: &ApiServer, verb: &str, resource: &str) -> bool {
    let reader = server.run_dir().join("kubeconfig-reader");
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&reader)
        .args(["auth", "can-i", verb, resource, "-A"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

#[tokio::test]
async fn the_read_only_role_is_enough_and_no_more() {
    let Some((_lock, server)) = kube::cluster().await else {
        return;
    };
    server.apply(&deploy("namespace.yaml"));
    server.apply(&deploy("rbac.yaml"));
    // The role, bound to the script's token user that stands in for the pod's service account.
    server.apply("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: shadowmesh-reader-test-user}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: shadowmesh-reader}\nsubjects:\n- {kind: User, name: shadowmesh-reader, apiGroup: rbac.authorization.k8s.io}\n");
    let granted = [
        ("list", "virtualservices.networking.istio.io"),
        ("watch", "destinationrules.networking.istio.io"),
        ("list", "serviceentries.networking.istio.io"),
        ("watch", "workloadentries.networking.istio.io"),
        ("watch", "services"),
        ("watch", "pods"),
        ("watch", "endpointslices.discovery.k8s.io"),
        ("create", "events"),
    ];
    assert!(
        eventually_async(Duration::from_secs(10), || async {
            granted
                .iter()
                .all(|(verb, what)| reader_can(server, verb, what))
        })
        .await,
        "the role grants {granted:?}"
    );
    for (verb, what) in [
        ("get", "secrets"),
        ("delete", "virtualservices.networking.istio.io"),
        ("update", "pods"),
        ("create", "services"),
    ] {
        assert!(
            !reader_can(server, verb, what),
            "the role must not grant {verb} {what}"
        );
    }
    // The real binary, with only that role, lists every kind and becomes ready.
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = binary::command()
        .args(["run", "--kubernetes", "--kubeconfig"])
        .arg(server.run_dir().join("kubeconfig-reader"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin",
            &format!("127.0.0.1:{admin}"),
            "--log-format",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _proxy = binary::Spawned::from_child(child);
    let ready = eventually_async(Duration::from_secs(20), || async {
        fetch(&format!("http://127.0.0.1:{admin}/ready"))
            .await
            .is_some_and(|(s, _)| s == 200)
    })
    .await;
    assert!(
        ready,
        "shadowmesh with the read-only role never became ready"
    );
}
