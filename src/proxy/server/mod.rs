//! Accept loops: HTTP/1.1 (the project's own server, `h1`; a 101 answer hands the connection
//! to the service's tunnel) and h2c (prior knowledge, hyper's) on one port, told apart by the
//! first bytes; the limits a client connection lives under ([`ClientLimits`]), and graceful
//! shutdown (stop accepting, let connections finish, bounded by a drain time: `drain`).
//!
//! A client cannot hold a connection for free: one that sends nothing, or stays idle between
//! requests, is closed after the idle timeout ([`IdleGuard`]); request headers must arrive within
//! the header timeout; header size and count, h2 streams and connections are bounded. Accept
//! errors (out of file descriptors) back off and are logged at most once a second.

mod affinity;
pub mod balance;
mod client_body;
pub mod deadline;
mod drain;
pub mod h1;
mod idle;
pub mod workers;

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http2;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::upstream::BoxError;
pub use client_body::ClientBody;
use drain::{Drain, DrainWatch};
use h1::{Connection, HeadLimits, Prefixed, Settings, Sniffed};
pub use idle::{ConnActivity, IdleGuard, InFlightBody};

/// A client connection's socket, as the servers read and write it.
pub type ClientIo = IdleGuard<TcpStream>;

/// The limits of client connections (defaults a production user can keep; see
/// `docs/limits.md`).
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// A request's headers must arrive within this (HTTP/1.1; counted from the first read that
    /// did not bring all of them).
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

    fn h1_settings(&self) -> Settings {
        Settings {
            head: HeadLimits {
                max_headers: self.max_headers,
                max_bytes: self.max_header_bytes.max(1024),
            },
            header_timeout: self.header_timeout,
        }
    }

    fn h2_builder(&self) -> http2::Builder<TokioExecutor> {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.max_h2_streams)
            .max_header_list_size(self.max_header_bytes as u32)
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        builder
    }
}

/// How an accept loop admits connections: the connection slots (shared by the workers
/// accepting on one address; see [`ClientLimits::slots`]), the drain time at shutdown, and this
/// worker's share of the address's balance (none with one worker, or on the admin port).
pub struct Admission {
    pub drain_time: Duration,
    pub slots: Arc<Semaphore>,
    pub balance: Option<balance::Share>,
}

impl Admission {
    /// Unbalanced: every connection served by the loop that accepts it.
    pub fn new(drain_time: Duration, slots: Arc<Semaphore>) -> Self {
        Self {
            drain_time,
            slots,
            balance: None,
        }
    }
}

/// What the accept loop got: a connection it accepted, or one another worker handed it.
enum Arrival {
    Accepted(std::io::Result<(TcpStream, SocketAddr)>),
    Handed(balance::Handoff),
}

/// Serves `listener` until `shutdown` turns true, then drains for at most the admission's
/// drain time. `make_service` gets each connection's client address and activity (for
/// in-flight counting).
pub async fn serve<F, S, B>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    mut admission: Admission,
    limits: ClientLimits,
    make_service: F,
) where
    F: Fn(SocketAddr, Arc<ConnActivity>) -> S,
    S: Service<Request<ClientBody>, Response = Response<B>, Error = Infallible>,
    S: Send + Sync + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (settings, h2) = (limits.h1_settings(), limits.h2_builder());
    let (drain, connections) = (Drain::default(), TaskTracker::new());
    let mut backoff = AcceptBackoff::default();
    loop {
        // Accepted first, then a slot awaited: with one socket per worker, a worker waiting for
        // a slot before accepting could leave a connection the kernel queued on its socket
        // unserved while another worker's freed slot waits for a connection that never comes.
        // So each worker holds at most one accepted connection waiting; the rest stay queued
        // in the kernel.
        let arrival = tokio::select! {
            accepted = listener.accept() => Arrival::Accepted(accepted),
            handed = handed(&mut admission.balance) => Arrival::Handed(handed),
            _ = shutdown.changed() => break,
        };
        let (stream, remote, seat) = match arrival {
            Arrival::Handed(h) => match TcpStream::from_std(h.stream) {
                Ok(stream) => (stream, h.remote, Seat::counted(h.slot, h.open)),
                Err(e) => {
                    tracing::debug!(error = %e, "a handed-off connection cannot be served");
                    continue;
                }
            },
            Arrival::Accepted(Err(e)) => {
                backoff.wait(&e).await;
                continue;
            }
            Arrival::Accepted(Ok((stream, remote))) => {
                backoff.reset();
                let slot = tokio::select! {
                    slot = admission.slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = shutdown.changed() => break,
                };
                let Some((stream, seat)) = place(admission.balance.as_ref(), stream, remote, slot)
                else {
                    continue;
                };
                (stream, remote, seat)
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(ConnActivity::default());
        let io = IdleGuard::new(stream, activity.clone(), limits.idle_timeout)
            .holding(seat.slot)
            .counted(seat.open);
        let service = make_service(remote, activity);
        let conn = Connection::new(io, settings, drain.watch());
        // Not boxed, though tokio's task then keeps room on the stack for the future's whole
        // state (16 KB in `raw::poll`'s frame, 13 data-cache misses a request under
        // callgrind): boxed, the proxy's peak memory with 32 connections and a mirror rose by
        // 0.6 MB (BENCHMARKS.md, fourteenth session).
        connections.spawn(serve_client(conn, service, h2.clone()));
    }
    drop(listener);
    drain.start();
    connections.close();
    tokio::select! {
        _ = connections.wait() => {}
        _ = tokio::time::sleep(admission.drain_time) => {
            tracing::warn!(drain = ?admission.drain_time, "connections still open after the drain time; closing them");
        }
    }
}

/// The next connection another worker hands this loop (never, without a balance).
async fn handed(balance: &mut Option<balance::Share>) -> balance::Handoff {
    match balance {
        Some(share) => share.handed().await,
        None => std::future::pending().await,
    }
}

/// A connection's places: its slot under the connection limit, its count on its worker.
struct Seat {
    slot: OwnedSemaphorePermit,
    open: Option<balance::Open>,
}

impl Seat {
    fn counted(slot: OwnedSemaphorePermit, open: balance::Open) -> Self {
        let open = Some(open);
        Self { slot, open }
    }
}

/// A connection this loop accepted, with its slot: kept (returned, counted on this worker)
/// or handed to the worker with fewer connections (`None`).
fn place(
    balance: Option<&balance::Share>,
    stream: TcpStream,
    remote: SocketAddr,
    slot: OwnedSemaphorePermit,
) -> Option<(TcpStream, Seat)> {
    let Some(share) = balance else {
        return Some((stream, Seat { slot, open: None }));
    };
    let (worker, open) = match share.place() {
        balance::Placement::Here(open) => return Some((stream, Seat::counted(slot, open))),
        balance::Placement::There(worker, open) => (worker, open),
    };
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(error = %e, "an accepted connection cannot be handed off");
            return None;
        }
    };
    let handoff = balance::Handoff {
        stream,
        remote,
        slot,
        open,
    };
    let back = share.hand_off(worker, handoff).err()?;
    // The other worker has stopped: served here after all.
    let stream = TcpStream::from_std(back.stream).ok()?;
    let open = back.open.move_to(share.worker());
    Some((stream, Seat::counted(back.slot, open)))
}

/// Serves one client connection in the protocol its first bytes speak.
async fn serve_client<S, B>(mut conn: Connection, service: S, h2: http2::Builder<TokioExecutor>)
where
    S: Service<Request<ClientBody>, Response = Response<B>, Error = Infallible>,
    S: Send + Sync + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    match conn.sniff().await {
        Sniffed::Gone => {}
        Sniffed::Http1 => conn.serve(&service).await,
        Sniffed::Http2 => {
            let (io, prefix, drain) = conn.into_parts();
            // Boxed and called through a `dyn`, so hyper's HTTP/2 server is not inlined here:
            // its locals made this function's stack frame 33 KB, and every poll of an
            // HTTP/1.1 connection paid for touching it (a stack probe a page).
            let h2: Pin<Box<dyn Future<Output = ()> + Send + '_>> =
                Box::pin(serve_h2(Prefixed::new(prefix, io), service, &h2, drain));
            h2.await;
        }
    }
}

/// Serves an h2c connection with hyper, shutting it down gracefully (GOAWAY) on drain.
async fn serve_h2<S, B>(
    io: Prefixed<ClientIo>,
    service: S,
    h2: &http2::Builder<TokioExecutor>,
    mut drain: DrainWatch,
) where
    S: Service<Request<ClientBody>, Response = Response<B>, Error = Infallible>,
    S: Send + Sync + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let service = Arc::new(service);
    let streams = hyper::service::service_fn(move |req: Request<Incoming>| {
        service.call(req.map(ClientBody::Http2))
    });
    let mut conn = pin!(h2.serve_connection(TokioIo::new(io), streams));
    let mut closing = false;
    let ended = poll_fn(|cx| {
        if !closing && drain.poll_draining(cx) {
            closing = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = ended {
        tracing::debug!(error = %e, "client connection ended with an error");
    }
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
