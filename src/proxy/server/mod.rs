//! Accept loops: HTTP/1.1 (with upgrades: a 101 answer hands the connection to the service's
//! tunnel) and h2c (prior knowledge) on one port via hyper-util's auto builder,
//! the limits a client connection lives under ([`ClientLimits`]), and graceful shutdown (stop
//! accepting, let connections finish, bounded by a drain time).
//!
//! A client cannot hold a connection for free: one that sends nothing, or stays idle between
//! requests, is closed after the idle timeout ([`IdleGuard`]); request headers must arrive within
//! the header timeout; header size and count, h2 streams and connections are bounded. Accept
//! errors (out of file descriptors) back off and are logged at most once a second.

mod idle;
pub mod workers;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::upstream::BoxError;
pub use idle::{ConnActivity, IdleGuard, InFlightBody};

/// The limits of client connections (defaults a production user can keep; see
/// `docs/limits.md`).
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// A request's headers must arrive within this (HTTP/1.1; counted from the end of the
    /// previous response on a kept-alive connection).
    pub header_timeout: Duration,
    /// A connection with no request in flight and no byte for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; beyond them each worker holds one accepted connection
    /// waiting for a slot, and the rest wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Request headers per HTTP/1.1 request.
    pub max_headers: usize,
    /// Bytes of request head (HTTP/1.1 read buffer; HTTP/2 header list).
    pub max_header_bytes: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub max_h2_streams: u32,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_connections: 100_000,
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            max_h2_streams: 100,
        }
    }
}

impl ClientLimits {
    /// The connection slots of one listen address (`max_connections` of them).
    pub fn slots(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.max_connections.max(1)))
    }
}

/// Serves `listener` until `shutdown` turns true, then drains for at most `drain`.
/// `make_service` gets each connection's client address and activity (for in-flight counting).
/// `slots` bounds the connections open at once (shared by the workers accepting on one
/// address; see [`ClientLimits::slots`]).
pub async fn serve<F, S, B>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    (drain, slots): (Duration, Arc<Semaphore>),
    limits: ClientLimits,
    make_service: F,
) where
    F: Fn(SocketAddr, Arc<ConnActivity>) -> S,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let builder = builder(&limits);
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::default();
    loop {
        // Accepted first, then a slot awaited: with one socket per worker, a worker waiting for
        // a slot before accepting could leave a connection the kernel queued on its socket
        // unserved while another worker's freed slot waits for a connection that never comes.
        // So each worker holds at most one accepted connection waiting; the rest stay queued
        // in the kernel.
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                backoff.wait(&e).await;
                continue;
            }
        };
        backoff.reset();
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(ConnActivity::default());
        let io = IdleGuard::new(TokioIo::new(stream), activity.clone(), limits.idle_timeout)
            .holding(slot);
        let conn = builder.serve_connection_with_upgrades(io, make_service(remote, activity));
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(drain) => {
            tracing::warn!(?drain, "connections still open after the drain time; closing them");
        }
    }
}

/// The request headers hyper accepts when no limit is set.
const HYPER_MAX_HEADERS: usize = 100;

fn builder(limits: &ClientLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let mut http1 = builder.http1();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    // hyper's own limit is 100. Set explicitly, even to 100, it makes hyper fill two
    // 100-entry arrays for every request head it parses (4% of a request's instructions).
    if limits.max_headers != HYPER_MAX_HEADERS {
        http1.max_headers(limits.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_h2_streams)
        .max_header_list_size(limits.max_header_bytes as u32)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

/// Backs off after accept errors (5 ms doubling to 1 s) and logs at most once a second.
#[derive(Default)]
struct AcceptBackoff {
    delay: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    fn reset(&mut self) {
        self.delay = Duration::ZERO;
    }

    async fn wait(&mut self, e: &std::io::Error) {
        self.delay = (self.delay * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now - t >= Duration::from_secs(1))
        {
            tracing::warn!(
                error = %e,
                suppressed = self.suppressed,
                backoff = ?self.delay,
                "accept failed (out of file descriptors?); clients wait in the accept queue"
            );
            self.last_log = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        tokio::time::sleep(self.delay).await;
    }
}
