//! Test support in linkerd's style (`linkerd/app/integration`): builders that start real things
//! on loopback ports and hand back handles.
//!
//! - [`backend`]: fake upstreams (`backend::http1("v1").delay(d).run().await`, `backend::h2c`,
//!   `backend::calc` for the sample calculation service);
//! - [`config`]: config folders and the seed's YAML (`config::seed(v1, v2, v3)`);
//! - [`grpc`]: tonic gRPC servers and an h2c tonic client (`grpc::server("v1").run().await`,
//!   `GrpcClient::connect(proxy.addr(), host)`), messages hand-written with prost;
//! - [`proxy`]: the proxy in-process (`proxy::with_config(files).mirror_timeout(d).run().await`);
//! - [`client`]: a client (`proxy.client().get(path).host(h).header(k, v).send().await`);
//! - [`binary`]: the `shadowmesh` binary as a child process;
//! - [`kube`]: a real kube-apiserver on loopback (one per test binary) and `kubectl`;
//! - [`load`]: a client sending steadily until told to stop;
//! - [`raw`]: raw TCP for hostile clients and broken peers;
//! - [`tls`]: a test CA, certificates and TLS server configurations for backends;
//! - [`websocket`]: a WebSocket echo backend and client on raw sockets, framing by hand;
//! - [`prometheus`] and [`browser`]: real Prometheus and headless Chromium;
//! - [`eventually`] and [`assert_eventually!`]: bounded patience for asynchronous effects.

#![allow(dead_code)]

pub mod backend;
pub mod binary;
pub mod browser;
pub mod client;
pub mod config;
pub mod grpc;
pub mod kube;
pub mod load;
pub mod metrics;
pub mod prometheus;
pub mod proxy;
pub mod raw;
pub mod tls;
pub mod websocket;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;

/// How long [`assert_eventually!`] waits by default.
pub const PATIENCE: Duration = Duration::from_secs(5);

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

/// Waits until the future `check` makes resolves true, polling every 50 ms for at most
/// `patience` (for checks that scrape `/metrics`).
pub async fn eventually_async<F, Fut>(patience: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that `check` holds within [`PATIENCE`] (or the patience given first, as
/// `assert_eventually!(within Duration::from_secs(10), check, "why")`).
#[macro_export]
macro_rules! assert_eventually {
    (within $patience:expr, $check:expr, $($msg:tt)+) => {
        assert!($crate::support::eventually($patience, || $check).await, $($msg)+)
    };
    ($check:expr, $($msg:tt)+) => {
        assert!(
            $crate::support::eventually($crate::support::PATIENCE, || $check).await,
            $($msg)+
        )
    };
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

/// A file from the repository's `examples/`, verbatim.
pub fn example_file(path: &str) -> String {
    std::fs::read_to_string(examples().join(path)).unwrap()
}
