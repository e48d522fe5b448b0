//! A real Prometheus server (Debian's `prometheus`) scraping one target every second, in a
//! temporary folder, killed (by its own pid) when dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::StatusCode;
use serde_json::Value;

use super::client::fetch;
use super::refusing_port;

/// The first `name` on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn binary() -> PathBuf {
    on_path("prometheus").unwrap_or_else(|| {
        panic!(
            "this test needs a real Prometheus server and none is on PATH; install it with: \
             sudo apt-get install -y prometheus (CI's .ci/run does)"
        )
    })
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts one scraping `target` as job `shadowmesh`; returns once it is ready (30 s at most).
    pub async fn scraping(target: SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shadowmesh\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let port = refusing_port().await;
        let child = Command::new(binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let p = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        for _ in 0..150 {
            if let Some((StatusCode::OK, _)) = fetch(&format!("{}/-/ready", p.url)).await {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("prometheus did not become ready within 30 s");
    }

    /// An instant query's result vector.
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!("{}/api/v1/query?query={}", self.url, url_encode(promql));
        let (status, body) = fetch(&url).await.expect("prometheus answers");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200, "{promql}: {body}");
        assert_eq!(v["status"], "success", "{promql}: {body}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `promql` until `check` holds on its result (at most 30 s).
    pub async fn until(&self, promql: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..150 {
            last = self.query(promql).await;
            if check(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{promql}: condition never held; last result {last:#?}");
    }
}

/// Percent-encodes a query parameter value.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
