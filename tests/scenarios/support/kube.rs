//! A real kube-apiserver (with etcd) on loopback for the Kubernetes-mode scenarios: one private
//! instance per test binary, on free ports, started by the project's script
//! (`tests/kube/apiserver.sh`, which also applies Istio's CRDs; its interface:
//! `start`/`stop` with `KP_HOME`, `KP_RUN`, `API_PORT`, `ETCD_PORT`, `ETCD_PEER_PORT`), stopped
//! by a watchdog when the test process exits. Tests take [`cluster`]'s lock, so they run one at
//! a time (one of them stops and restarts the server).
//!
//! When the kube-apiserver binary is not built the tests print a SKIPPED banner; with `CI`
//! set they fail instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use tokio::sync::{Mutex, MutexGuard};

/// A running API server.
pub struct ApiServer {
    script: PathBuf,
    env: Vec<(&'static str, String)>,
    run_dir: PathBuf,
    /// Its kubeconfig (token auth, `system:masters`).
    pub kubeconfig: PathBuf,
    /// The EndpointSlice version it serves (`discovery.k8s.io/v1` or `v1beta1`).
    pub slice_version: String,
}

static SERVER: OnceLock<Option<ApiServer>> = OnceLock::new();
static LOCK: Mutex<()> = Mutex::const_new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the kube-apiserver build lives: `KP_HOME`, else the project script's default
/// (`~/.cache/shadowmesh/kube-apiserver`).
fn kp_home() -> PathBuf {
    if let Some(home) = std::env::var_os("KP_HOME") {
        return PathBuf::from(home);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache"));
    cache.join("shadowmesh/kube-apiserver")
}

/// The project's script: builds, starts (with Istio's CRDs applied) and stops the server.
fn script() -> PathBuf {
    repo().join("tests/kube/apiserver.sh")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The API server, started on first use, and the lock that runs the tests one at a time.
/// `None` (after a loud SKIPPED banner) when it is not built; a failure when `CI` is set.
pub async fn cluster() -> Option<(MutexGuard<'static, ()>, &'static ApiServer)> {
    let guard = LOCK.lock().await;
    let server = tokio::task::spawn_blocking(|| SERVER.get_or_init(start).as_ref())
        .await
        .unwrap();
    server.map(|s| (guard, s))
}

fn start() -> Option<ApiServer> {
    let home = kp_home();
    if !home.join("bin/kube-apiserver").exists() {
        let banner = format!(
            "\n{0}\nSKIPPED: Kubernetes-mode scenarios: no kube-apiserver at {1}/bin.\nBuild it with `{2} install` (KP_HOME={1}); CI always does.\n{0}\n",
            "=".repeat(78),
            home.display(),
            script().display()
        );
        eprintln!("{banner}");
        assert!(std::env::var_os("CI").is_none(), "{banner}");
        return None;
    }
    let run_dir = std::env::temp_dir().join(format!("shadowmesh-kube-{}", std::process::id()));
    let env = vec![
        ("KP_HOME", home.display().to_string()),
        ("KP_RUN", run_dir.display().to_string()),
        ("API_PORT", free_port().to_string()),
        ("ETCD_PORT", free_port().to_string()),
        ("ETCD_PEER_PORT", free_port().to_string()),
    ];
    let mut server = ApiServer {
        script: script(),
        env,
        kubeconfig: run_dir.join("kubeconfig"),
        run_dir,
        slice_version: String::new(),
    };
    server.watchdog();
    server.start();
    let versions = String::from_utf8(server.kubectl(&["api-versions"]).stdout).unwrap();
    server.slice_version = if versions.lines().any(|l| l == "discovery.k8s.io/v1") {
        "discovery.k8s.io/v1".into()
    } else {
        "discovery.k8s.io/v1beta1".into()
    };
    Some(server)
}

impl ApiServer {
    fn script_cmd(&self, step: &str) -> Output {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg(step)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{} {step} failed:\n{}",
            self.script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts etcd and kube-apiserver (data kept from before).
    pub fn start(&self) {
        self.script_cmd("start");
    }

    /// Stops both.
    pub fn stop(&self) {
        self.script_cmd("stop");
    }

    /// Stops the server when this test process is gone, whatever way it ends.
    #[allow(
        clippy::zombie_processes,
        reason = "the watchdog outlives this process by design"
    )]
    fn watchdog(&self) {
        let me = std::process::id();
        let line = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; bash '{}' stop; rm -rf '{}'",
            self.script.display(),
            self.run_dir.display()
        );
        Command::new("sh")
            .args(["-c", &line])
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watchdog starts");
    }

    /// `kubectl ARGS` against this server; panics on failure.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_in(args, None)
    }

    /// `kubectl ARGS` with `input` on stdin (`-f -`).
    pub fn kubectl_in(&self, args: &[&str], input: Option<&str>) -> Output {
        let out = self.kubectl_try(args, input);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `kubectl ARGS`, whatever it exits with.
    pub fn kubectl_try(&self, args: &[&str], input: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.unwrap_or("").as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// `kubectl apply -f -` of `yaml`.
    pub fn apply(&self, yaml: &str) {
        self.kubectl_in(&["apply", "-f", "-"], Some(yaml));
    }

    /// Where its logs are.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }
}
