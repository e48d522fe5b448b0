//! User story: "it stays up for days": steady traffic through the real binary while its mirror
//! alternates slow / dead (connection refused) / resetting every two seconds, its VirtualService
//! is rewritten every second, and hostile clients (slowloris, garbage bytes, aborts mid-body)
//! keep at it. At the end no user request failed, the proxy's RSS (`VmRSS` of the child
//! process, from `/proc/<pid>/status`) is under [`RSS_BOUND_KIB`], and it holds no more file
//! descriptors (`/proc/<pid>/fd`) than after warming up.
//!
//! Short form: 20 s. `SHADOWMESH_SOAK_SECS=3600 cargo test --test scenarios soak` runs longer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::hostile::{abort_mid_body, web};
use crate::support::backend;
use crate::support::binary;
use crate::support::client::Client;
use crate::support::config::replace_file;
use crate::support::raw::exchange;
use crate::support::refusing_port;

/// The proxy's resident memory must stay under this (KiB).
const RSS_BOUND_KIB: u64 = 200 * 1024;
/// User requests sent at most (the load stops at the deadline or here).
const MAX_REQUESTS: u64 = 200_000;

fn soak_duration() -> Duration {
    let secs = std::env::var("SHADOWMESH_SOAK_SECS").ok();
    Duration::from_secs(secs.and_then(|s| s.parse().ok()).unwrap_or(20))
}

/// The routes, with a header match that alternates between `a` and `b` on each reload.
fn routes(variant: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: web, namespace: challengeistio}}\nspec:\n  hosts: [web]\n  http:\n  - match: [{{headers: {{x-variant: {{exact: \"{variant}\"}}}}}}]\n    route: [{{destination: {{host: web, subset: ok}}}}]\n  - route: [{{destination: {{host: web, subset: ok}}}}]\n    mirror: {{host: web, subset: shadow}}\n"
    )
}

/// A mirror on `port` that is slow (300 ms), then dead (refused), then resetting, two seconds
/// each, until `deadline`.
async fn fickle_mirror(port: u16, deadline: Instant) {
    let mut phase = 0u32;
    while Instant::now() < deadline {
        let until = Instant::now() + Duration::from_secs(2);
        match phase % 3 {
            1 => tokio::time::sleep_until(until).await,
            mode => {
                let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let serving = serve_mirror(listener, mode == 0);
                let _ = tokio::time::timeout_at(until, serving).await;
            }
        }
        phase += 1;
    }
}

/// Accepts on `listener`: answers after 300 ms (`slow`) or resets each connection.
async fn serve_mirror(listener: TcpListener, slow: bool) {
    let mut conns = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        if !slow {
            // Linger 0: the close is a reset at once (it does not block).
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
            continue;
        }
        conns.spawn(async move {
            let svc = hyper::service::service_fn(|_req| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let body = http_body_util::Full::new(Bytes::from_static(b"shadow"));
                Ok::<_, std::convert::Infallible>(http::Response::new(body))
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// Users: `workers` clients sending GETs and small POSTs until `deadline`; (sent, failed).
async fn users(addr: SocketAddr, workers: usize, deadline: Instant) -> (u64, u64) {
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = JoinSet::new();
    for w in 0..workers {
        let (sent, failed) = (sent.clone(), failed.clone());
        let client = Client::new(addr).host("web");
        tasks.spawn(async move {
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS {
                let req = if w.is_multiple_of(2) {
                    client.get("/user")
                } else {
                    client.post("/user").body("x".repeat(2048))
                };
                let answer = tokio::time::timeout(Duration::from_secs(5), req.send()).await;
                if !matches!(answer, Ok(ref a) if a.status == 200) {
                    failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("user request failed: {answer:?}");
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (
        sent.load(Ordering::Relaxed).min(MAX_REQUESTS),
        failed.load(Ordering::Relaxed),
    )
}

/// Hostile clients until `deadline`: slowloris, garbage bytes and aborts mid-body.
async fn hostile_clients(addr: SocketAddr, deadline: Instant) {
    let slowloris = async move {
        while Instant::now() < deadline {
            let Ok(mut s) = TcpStream::connect(addr).await else {
                continue;
            };
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: web\r\n").await;
            for _ in 0..15 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if s.write_all(b"x").await.is_err() {
                    break;
                }
            }
        }
    };
    let garbage = async move {
        while Instant::now() < deadline {
            let junk: Vec<u8> = (0..512).map(|_| fastrand::u8(..)).collect();
            let _ = exchange(
                addr,
                &[&junk[..], b"\r\n\r\n"].concat(),
                Duration::from_millis(500),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let aborts = async move {
        let cut = b"POST /cut HTTP/1.1\r\nHost: web\r\nContent-Length: 5000\r\n\r\npartial";
        while Instant::now() < deadline {
            abort_mid_body(addr, cut).await;
        }
    };
    tokio::join!(slowloris, garbage, aborts);
}

/// `VmRSS` (KiB) and open descriptors of process `pid`.
fn rss_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"));
    let rss = rss
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_load_through_a_fickle_mirror_reloads_and_hostile_clients() {
    let ok = backend::http1("ok").run().await;
    let (port, mirror_port) = (refusing_port().await, refusing_port().await);
    let files = web(&[("ok", ok.port()), ("shadow", mirror_port)], "");
    let dir = files.file("routes.yaml", routes("a")).write();
    let mut proxy = binary::run(dir.path())
        .listen(port)
        .admin(0)
        .args(&["--mirror-timeout", "500ms", "--upload-idle-timeout", "1s"])
        .args(&[
            "--client-header-timeout",
            "2s",
            "--client-idle-timeout",
            "2s",
            "--log-format",
            "off",
        ])
        .spawn();
    let pid = proxy.pid();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let up = crate::support::eventually_async(Duration::from_secs(10), || async {
        TcpStream::connect(addr).await.is_ok()
    });
    assert!(up.await, "the proxy listens");
    let length = soak_duration();
    let deadline = Instant::now() + length;
    let mirror = tokio::spawn(fickle_mirror(mirror_port, deadline));
    let hostile = tokio::spawn(hostile_clients(addr, deadline));
    let reloads = tokio::spawn(reload_every_second(dir.path().to_path_buf(), deadline));
    let load = tokio::spawn(users(addr, 4, deadline));
    tokio::time::sleep(Duration::from_secs(3).min(length / 4)).await;
    let (rss_warm, fds_warm) = rss_and_fds(pid);
    let (sent, failed) = load.await.unwrap();
    let (_, _, _) = (mirror.await, hostile.await, reloads.await);
    // Hostile connections end with the 2 s header/idle timeouts; pooled ones stay.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_end, fds_end) = rss_and_fds(pid);
    eprintln!(
        "soak {length:?}: {sent} requests, {failed} failed; RSS {rss_warm} -> {rss_end} KiB; fds {fds_warm} -> {fds_end}"
    );
    assert_eq!(failed, 0, "of {sent} user requests");
    assert!(sent > 100, "{sent} user requests");
    assert!(rss_end < RSS_BOUND_KIB, "RSS {rss_end} KiB");
    assert!(
        fds_end <= fds_warm + 8,
        "descriptors {fds_warm} -> {fds_end}; the backend is on port {}, the mirror on {mirror_port}; the proxy's sockets:\n{}",
        ok.port(),
        sockets_of(pid)
    );
    assert!(proxy.is_running(), "the proxy is still up");
}

/// The TCP sockets of process `pid` (`ss -tanp`), for a failure message: their states and peers
/// say which side leaked.
fn sockets_of(pid: u32) -> String {
    let ss = std::process::Command::new("ss").arg("-tanp").output();
    let ss = ss.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let owned = format!("pid={pid},");
    let ss = ss.unwrap_or_else(|e| format!("(ss: {e})"));
    ss.lines()
        .filter(|l| l.contains(&owned))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rewrites the VirtualService every second, toggling its header match.
async fn reload_every_second(dir: std::path::PathBuf, deadline: Instant) {
    let mut n = 0u32;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        n += 1;
        replace_file(
            &dir,
            "routes.yaml",
            &routes(if n.is_multiple_of(2) { "a" } else { "b" }),
        );
    }
}
