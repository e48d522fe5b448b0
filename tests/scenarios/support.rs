//! Test support: real backends on loopback ports, config folders, the proxy started in-process,
//! a client, and `eventually` for things that take effect asynchronously (reloads, mirrors).

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use shadowmesh::app::{self, RunOptions, Running};

/// What a backend saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: Version,
    /// `:authority` for HTTP/2, else the Host header.
    pub authority: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// How a backend answers.
#[derive(Debug, Clone, Copy)]
pub enum Behavior {
    /// 200 with a JSON body naming the version.
    Answer,
    /// Like `Answer`, after a delay.
    Delay(Duration),
    /// Accept, read the request head, then close the connection without answering.
    Reset,
    /// Like `Answer`, plus a random `timestamp` field (noise).
    Timestamped,
}

/// A backend on a loopback port that records every request it receives.
pub struct Backend {
    pub addr: SocketAddr,
    pub version: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Responses fully written (for ordering checks).
    pub completed: Arc<AtomicUsize>,
    /// Connections accepted (for reset backends, which record nothing else).
    pub accepted: Arc<AtomicUsize>,
}

impl Backend {
    pub async fn start(version: &str, behavior: Behavior) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let completed = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let backend = Self {
            addr,
            version: version.to_string(),
            seen: seen.clone(),
            completed: completed.clone(),
            accepted: accepted.clone(),
        };
        let version = version.to_string();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                if let Behavior::Reset = behavior {
                    tokio::spawn(async move {
                        use tokio::io::AsyncReadExt;
                        let mut buf = [0u8; 1024];
                        let _ = stream.read(&mut buf).await;
                        drop(stream);
                    });
                    continue;
                }
                let seen = seen.clone();
                let completed = completed.clone();
                let version = version.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        let completed = completed.clone();
                        let version = version.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let path = parts
                                .uri
                                .path_and_query()
                                .map_or("/", |p| p.as_str())
                                .to_string();
                            let authority = match parts.uri.authority() {
                                Some(a) => a.to_string(),
                                None => parts
                                    .headers
                                    .get("host")
                                    .and_then(|h| h.to_str().ok())
                                    .unwrap_or("")
                                    .to_string(),
                            };
                            seen.lock().unwrap().push(Seen {
                                authority,
                                method: parts.method.to_string(),
                                path: path.clone(),
                                headers: parts.headers.clone(),
                                body: body.clone(),
                                version: parts.version,
                            });
                            if let Behavior::Delay(d) = behavior {
                                tokio::time::sleep(d).await;
                            }
                            let json = if let Behavior::Timestamped = behavior {
                                format!(
                                    r#"{{"version":"{version}","path":"{path}","body_len":{},"timestamp":{}}}"#,
                                    body.len(),
                                    fastrand::u64(..)
                                )
                            } else {
                                format!(
                                    r#"{{"version":"{version}","path":"{path}","body_len":{}}}"#,
                                    body.len()
                                )
                            };
                            let resp = Response::builder()
                                .header("content-type", "application/json")
                                .header("x-served-by", version.as_str())
                                .body(Full::new(Bytes::from(json)))
                                .unwrap();
                            completed.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        backend
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests seen so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A loopback port nobody listens on (connections are refused).
pub async fn refusing_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A config folder holding `files` (name, YAML).
pub fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, yaml) in files {
        std::fs::write(dir.path().join(name), yaml).unwrap();
    }
    dir
}

/// Replaces a config file atomically (write, then rename), as editors and ConfigMaps do.
pub fn replace_file(dir: &Path, name: &str, yaml: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// The seed 000 ServiceEntry with WorkloadEntries v1, v2, v3 on the given ports.
pub fn calc_service_entry(v1: u16, v2: u16, v3: u16) -> String {
    let mut yaml = String::from(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: calcbackendsvc\n  namespace: challengeistio\nspec:\n  hosts: [calcbackendsvc]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: STATIC\n  workloadSelector:\n    labels: {app: backend}\n",
    );
    for (v, port) in [("v1", v1), ("v2", v2), ("v3", v3)] {
        yaml.push_str(&format!(
            "---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: calcbackend-{v}\n  namespace: challengeistio\nspec:\n  address: 127.0.0.1\n  ports: {{http: {port}}}\n  labels: {{app: backend, version: {v}}}\n"
        ));
    }
    yaml
}

/// A config folder with seed 000's DestinationRule and VirtualService (verbatim) and a
/// ServiceEntry putting v1, v2 and v3 on the given ports.
pub fn seed_config(v1: u16, v2: u16, v3: u16) -> tempfile::TempDir {
    config_dir(&[
        ("destinationrule.yaml", &seed_file("destinationrule.yaml")),
        ("virtualservice.yaml", &seed_file("virtualservice.yaml")),
        ("serviceentry.yaml", &calc_service_entry(v1, v2, v3)),
    ])
}

/// A seed file from `examples/calcbackend`, verbatim.
pub fn seed_file(name: &str) -> String {
    std::fs::read_to_string(examples().join("calcbackend").join(name)).unwrap()
}

/// Starts the proxy on loopback with `opts` adjusted by `tweak`.
pub async fn start_proxy(paths: Vec<PathBuf>, tweak: impl FnOnce(&mut RunOptions)) -> Running {
    let mut opts = RunOptions::for_test(paths);
    opts.log_format = shadowmesh::telemetry::LogFormat::Off;
    opts.identity.namespace = "challengeistio".into();
    opts.reload_poll = Duration::from_millis(200);
    tweak(&mut opts);
    match app::start(opts).await {
        Ok(r) => r,
        Err(app::StartError::Config(d)) => panic!("config errors: {d:#?}"),
        Err(e) => panic!("{e}"),
    }
}

/// A plain HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The `version` field of a backend's JSON answer.
    pub fn version(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        v["version"].as_str().unwrap_or("").to_string()
    }
}

/// Sends a request to the proxy at `proxy` for `host`.
pub async fn send(
    proxy: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{proxy}{path}"))
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client()
        .request(req.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET with optional user agent.
pub async fn get(proxy: SocketAddr, host: &str, path: &str, user_agent: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = user_agent
        .map(|ua| ("user-agent", ua))
        .into_iter()
        .collect();
    send(proxy, "GET", host, path, &headers, Bytes::new()).await
}

/// Waits until `check` holds, polling every 20 ms for at most `patience`.
pub async fn eventually(patience: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts `check` holds within 5 s.
#[macro_export]
macro_rules! assert_eventually {
    ($check:expr, $($msg:tt)+) => {
        assert!(
            $crate::support::eventually(std::time::Duration::from_secs(5), || $check).await,
            $($msg)+
        )
    };
}

/// Percent-encodes a query parameter value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET `url` and return status and body.
pub async fn http_get(url: &str) -> Option<(StatusCode, String)> {
    let req = Request::builder()
        .uri(url)
        .body(Full::new(Bytes::new()))
        .ok()?;
    let resp = client().request(req).await.ok()?;
    let status = resp.status();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}
