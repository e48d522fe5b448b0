//! HTTP/1.1 upstream connections driven by the task of the request that uses them, pooled per
//! data-plane thread.
//!
//! hyper-util's pool drives each connection in a task of its own: every request crossed from
//! its task to the connection's and back, and the response body came through a channel
//! between the two, so a request cost two extra wake-ups (and, on a multi-threaded runtime,
//! often a trip to another core). Here the request's own task polls the connection: while it
//! waits for the response head ([`exchange`]), then while the response body is read
//! ([`ResponseBody`]). When that body is dropped having ended cleanly, the connection goes
//! back to its pool; a body dropped early (the client went away) closes it, as a connection
//! with half a response on it cannot be reused.
//!
//! An idle connection is driven by nobody. Taking it from the pool polls it once (without
//! waiting): a peer that closed it is seen then and the next one is tried; a connection that
//! turns out closed before it took the request is replaced by a new one and the request sent
//! again (it was never written, so this is safe for any method). The pool's reaper closes
//! connections idle past their timeout, or closed by their peer, once a second.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use tokio::time::Instant;

use super::stall::StallGuard;
use super::tls::{Stream, TlsKey};
use super::upload;
use super::{UpstreamBody, UpstreamError};

/// The connection as hyper reads and writes it.
pub(super) type Io = StallGuard<Stream>;

/// A pool: endpoint, idle timeout, whether it carries mirrored copies, TLS setting and SNI.
pub(super) type H1Key = (Authority, Duration, bool, TlsKey);

/// One HTTP/1.1 connection: the half that sends requests and the half that does the I/O.
/// Always boxed (its buffers and TLS state are kilobytes, and it moves from pool to request to
/// body and back).
struct Conn {
    sender: http1::SendRequest<UpstreamBody>,
    driver: http1::Connection<Io, UpstreamBody>,
    /// The driver has finished (the connection is closed); it is not polled again.
    ended: bool,
    /// The pool it goes back to.
    home: Option<(Weak<H1Pools>, H1Key)>,
}

impl Conn {
    /// Lets the connection read and write what it can; false once it has closed.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.ended && Pin::new(&mut self.driver).poll(cx).is_ready() {
            self.ended = true;
        }
        !self.ended
    }

    /// Open, idle and ready for the next request (polled once, without waiting).
    fn reusable(&mut self) -> bool {
        self.drive(&mut Context::from_waker(Waker::noop())) && self.sender.is_ready()
    }
}

/// A connection resting in its pool.
struct Idle {
    conn: Box<Conn>,
    since: Instant,
}

/// The HTTP/1.1 pools of one data-plane thread.
#[derive(Default)]
pub(super) struct H1Pools {
    /// Idle connections by pool, most recently used last. Looked up twice per request (taken,
    /// put back): hashed with foldhash, not SipHash (which cost 3% of a request's instructions;
    /// the keys come from the configuration, not from clients).
    idle: Mutex<HashMap<H1Key, Vec<Idle>, foldhash::fast::RandomState>>,
    /// The reaper has been started (on the first connection put back).
    reaping: std::sync::atomic::AtomicBool,
}

impl H1Pools {
    /// Sends `req` on an idle connection of `key`'s pool, or a new one from `connect`. The
    /// request's URI is sent in origin form (its path and query).
    pub(super) async fn send<C, F>(
        self: &Arc<Self>,
        key: H1Key,
        req: Request<UpstreamBody>,
        connect: C,
    ) -> Result<Response<ResponseBody>, UpstreamError>
    where
        C: Fn() -> F,
        F: Future<Output = Result<Io, UpstreamError>>,
    {
        let (mut head, body) = req.into_parts();
        if let Some(path) = head.uri.path_and_query().cloned() {
            head.uri = http::Uri::from(path);
        }
        let (body, uploaded) = upload::watch(body);
        let mut req = Request::from_parts(head, body);
        loop {
            let (conn, reused) = match self.take(&key) {
                Some(conn) => (conn, true),
                // Boxed: a TLS handshake's state is large, and carried inline it would make
                // every request's future (moved several times per request) that much larger.
                None => (Box::pin(open_with(&connect)).await?, false),
            };
            match exchange(conn, req).await {
                Ok((response, mut conn)) => {
                    conn.home = Some((Arc::downgrade(self), key));
                    if uploaded.done() {
                        return Ok(response.map(|body| ResponseBody::pooled(body, conn)));
                    }
                    // The upstream answered before the upload ended (an early 401 or 413, or a
                    // full-duplex exchange): the upload must go on whatever the client does with
                    // the response (read it later, or not at all), so the connection is driven
                    // by a task of its own until both directions have ended.
                    if !conn.ended {
                        tokio::spawn(drive_to_end(conn));
                    }
                    return Ok(response.map(ResponseBody::plain));
                }
                Err(mut e) => match e.take_message() {
                    // A pooled connection closed before it took the request: try a new one.
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(e.into_error().into()),
                },
            }
        }
    }

    /// The most recently used idle connection of `key` that is still open; those idle past
    /// the pool's timeout are closed.
    fn take(&self, key: &H1Key) -> Option<Box<Conn>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        while let Some(mut rest) = list.pop() {
            if now.duration_since(rest.since) >= key.1 {
                // The rest are older still.
                list.clear();
                return None;
            }
            if rest.conn.reusable() {
                return Some(rest.conn);
            }
        }
        None
    }

    /// Puts a connection whose exchange ended cleanly back in its pool.
    fn put(self: &Arc<Self>, key: H1Key, mut conn: Box<Conn>) {
        if !conn.reusable() {
            return;
        }
        let since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.entry(key).or_default().push(Idle { conn, since });
        drop(idle);
        self.start_reaper();
    }

    /// Starts the task that closes idle connections past their timeout or closed by their
    /// peer, once a second, for as long as the pools exist.
    fn start_reaper(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.reaping.load(Ordering::Relaxed) || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if self.reaping.swap(true, Ordering::Relaxed) {
            return;
        }
        let pools = Arc::downgrade(self);
        // Unconstrained: each idle connection's check is a read, and tokio's cooperative
        // budget (128 per poll of a task) would have every check past the 128th answer "not
        // ready", so a burst of connections the peer closed (a mirror restarting with a thousand
        // pooled) would sit in CLOSE-WAIT for seconds, 127 closed per tick.
        tokio::spawn(tokio::task::coop::unconstrained(reap(pools)));
    }

    /// Closes what has expired or closed.
    fn reap_once(&self) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|key, list| {
            list.retain_mut(|i| now.duration_since(i.since) < key.1 && i.conn.reusable());
            !list.is_empty()
        });
    }

    /// Pools with idle connections (for metrics).
    pub(super) fn pool_count(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.values().filter(|list| !list.is_empty()).count()
    }
}

async fn reap(pools: Weak<H1Pools>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(pools) = pools.upgrade() else {
            return;
        };
        pools.reap_once();
    }
}

/// Drives a connection whose response was handed over while its request was still being sent,
/// until the exchange has ended both ways (the upload written, the response read or abandoned)
/// and the connection has closed: with its sending half dropped, hyper closes it once idle.
/// Such a connection is not reused: early answers are rare (refusals, full-duplex exchanges),
/// and what the peer will do with the rest of an upload it refused is anyone's guess.
async fn drive_to_end(conn: Box<Conn>) {
    let Conn { sender, driver, .. } = *conn;
    drop(sender);
    if let Err(e) = driver.await {
        tracing::debug!(error = %e, "upstream connection ended after an early answer");
    }
}

/// A new connection from `connect`, with the HTTP/1.1 handshake (nothing is sent: it sets up
/// the connection's state).
async fn open_with<C, F>(connect: &C) -> Result<Box<Conn>, UpstreamError>
where
    C: Fn() -> F,
    F: Future<Output = Result<Io, UpstreamError>>,
{
    let io = connect().await?;
    let (sender, driver) = http1::Builder::new().handshake(io).await?;
    Ok(Box::new(Conn {
        sender,
        driver,
        ended: false,
        home: None,
    }))
}

/// Writes `req` and reads the response head, driving the connection in this task. On
/// failure, the request comes back in the error if it was never written.
async fn exchange(
    mut conn: Box<Conn>,
    req: Request<UpstreamBody>,
) -> Result<(Response<Incoming>, Box<Conn>), hyper::client::conn::TrySendError<Request<UpstreamBody>>>
{
    let mut response = std::pin::pin!(conn.sender.try_send_request(req));
    // The connection first (it writes the request, and reads the head when it is there), then
    // the response, which is then often ready in the same poll.
    let response = poll_fn(|cx| {
        conn.drive(cx);
        response.as_mut().poll(cx)
    })
    .await?;
    Ok((response, conn))
}

/// An upstream response body. For HTTP/1.1 it carries the connection it is read from and
/// drives it; dropped at its end, it puts the connection back in its pool.
pub struct ResponseBody {
    body: Incoming,
    conn: Option<Box<Conn>>,
    /// The last frame has been read.
    ended: bool,
}

impl ResponseBody {
    /// A body read through a connection driven elsewhere (h2, upgrades).
    pub(super) fn plain(body: Incoming) -> Self {
        Self {
            body,
            conn: None,
            ended: false,
        }
    }

    fn pooled(body: Incoming, conn: Box<Conn>) -> Self {
        Self {
            body,
            conn: Some(conn),
            ended: false,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Some(conn) = this.conn.as_mut() {
            conn.drive(cx);
        }
        let frame = std::task::ready!(Pin::new(&mut this.body).poll_frame(cx));
        match &frame {
            // Trailers end the body: hyper's server does not poll again after them.
            None => this.ended = true,
            Some(Ok(f)) => this.ended = f.is_trailers() || this.body.is_end_stream(),
            Some(Err(_)) => this.conn = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if !(self.ended || self.body.is_end_stream()) {
            return;
        }
        if let Some(mut conn) = self.conn.take()
            && let Some((pools, key)) = conn.home.take()
            && let Some(pools) = pools.upgrade()
        {
            pools.put(key, conn);
        }
    }
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
