//! HTTP/1.1 upstream connections driven by the task of the request that uses them, pooled per
//! data-plane thread, spoken with the project's own codec ([`super::h1_conn`]).
//!
//! The request's own task writes the request and reads the response head ([`H1Pools::send`]),
//! then reads the body through [`ResponseBody`]: no task hand-off, no channel. When that body
//! is dropped having ended cleanly, the connection goes back to its pool; a body dropped early
//! (the client went away) closes it, as a connection with half a response on it cannot be
//! reused. A response that arrives before the upload has ended (an early 401 or 413, or a
//! full-duplex exchange) is the exception: a task of its own ([`pump`]) then finishes the
//! upload whatever the client does with the response, passing the body on through a channel.
//!
//! An idle connection is driven by nobody. Taking it from the pool reads it once (without
//! waiting): a peer that closed it is seen then and the next one is tried; a request that
//! finds its connection closed before anything of it was written is sent on a new one (safe
//! for any method). The pool's reaper closes connections idle past their timeout, or closed by
//! their peer, once a second.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http::uri::Authority;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::h1_conn;
use super::stall::StallGuard;
use super::tls::{Stream, TlsKey};
use super::wire::WireError;
use super::{BoxError, UpstreamBody, UpstreamError};

/// The connection as the codec reads and writes it.
pub(super) type Io = StallGuard<Stream>;

/// A pool: endpoint, idle timeout, whether it carries mirrored copies, TLS setting and SNI.
pub(super) type H1Key = (Endpoint, Duration, bool, TlsKey);

/// An endpoint as a pool key: hashed and compared as the bytes it was configured with.
/// `Authority`'s own `Hash` and `Eq` fold case byte by byte, which made the two pool lookups
/// of every request cost about 1,400 instructions; endpoints come from the configuration, so
/// the same endpoint is always spelled the same way.
#[derive(Clone, Debug)]
pub(super) struct Endpoint(pub(super) Authority);

impl PartialEq for Endpoint {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Endpoint {}

impl std::hash::Hash for Endpoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

/// One HTTP/1.1 connection and the pool it goes back to. Always boxed (its buffers and TLS
/// state are kilobytes, and it moves from pool to request to body and back).
struct Conn {
    wire: h1_conn::Conn,
    home: Option<(Weak<H1Pools>, H1Key)>,
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
    /// Sends the request `head` with `body` on an idle connection of `key`'s pool, or a new one
    /// from `connect`. The head's URI is sent in origin form (its path and query).
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    pub(super) fn send<C, F>(
        self: &Arc<Self>,
        key: H1Key,
        (head, mut body): (&http::request::Parts, UpstreamBody),
        connect: C,
    ) -> impl Future<Output = Result<Response<ResponseBody>, UpstreamError>>
    where
        C: Fn() -> F,
        F: Future<Output = Result<Io, UpstreamError>>,
    {
        async move {
            let target = head.uri.path_and_query().map_or("/", |t| t.as_str());
            loop {
                let (mut conn, reused) = match self.take(&key) {
                    Some(conn) => (conn, true),
                    // Boxed: a TLS handshake's state is large, and carried inline it would make
                    // every request's future (moved several times per request) that much larger.
                    None => (Box::pin(open_with(&connect)).await?, false),
                };
                conn.wire.start(&head.method, target, &head.headers, body);
                let method = &head.method;
                let answer = poll_fn(|cx| conn.wire.poll_head(cx, method)).await;
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(e) => match conn.wire.take_unsent() {
                        // A pooled connection closed before it took the request: try a new one.
                        Some(unsent) if reused => {
                            body = unsent;
                            continue;
                        }
                        _ => return Err(e.into()),
                    },
                };
                let response = answer.into_response();
                conn.home = Some((Arc::downgrade(self), key));
                if conn.wire.upload_done() {
                    return Ok(response.map(|()| ResponseBody::pooled(conn)));
                }
                // The upstream answered before the upload ended: the upload must go on whatever
                // the client does with the response (read it later, or not at all).
                let (tx, rx) = mpsc::channel(2);
                tokio::spawn(pump(conn, tx));
                return Ok(response.map(|()| ResponseBody::pumped(rx)));
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
            if rest.conn.wire.reusable() {
                return Some(rest.conn);
            }
        }
        None
    }

    /// Puts a connection whose exchange ended cleanly back in its pool.
    fn put(self: &Arc<Self>, key: H1Key, conn: Box<Conn>) {
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
            list.retain_mut(|i| now.duration_since(i.since) < key.1 && i.conn.wire.reusable());
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

/// Finishes the upload of a connection whose response was handed over before it ended, and
/// passes the response body on through `tx` as the client reads it (reading stops while it
/// does not; the upload goes on). The connection is not reused: early answers are rare
/// (refusals, full-duplex exchanges), and what the peer will do with the rest of an upload it
/// refused is anyone's guess.
async fn pump(mut conn: Box<Conn>, tx: mpsc::Sender<Result<Frame<Bytes>, WireError>>) {
    let mut uploading = true;
    let mut reading = true;
    let mut reserve = None;
    let failed = poll_fn(|cx| {
        if uploading {
            match conn.wire.poll_upload(cx) {
                Poll::Ready(Ok(())) => uploading = false,
                // The upload failed: the exchange is over.
                Poll::Ready(Err(e)) => return Poll::Ready(Some(e)),
                Poll::Pending => {}
            }
        }
        while reading {
            // A place in the channel first: a frame is read only when it can be passed on.
            let reserving = reserve.get_or_insert_with(|| Box::pin(tx.clone().reserve_owned()));
            let Poll::Ready(permit) = reserving.as_mut().poll(cx) else {
                break;
            };
            reserve = None;
            let Ok(permit) = permit else {
                // Nobody reads the response any more.
                reading = false;
                break;
            };
            // Without a frame ready the place is given back, and asked for again next time.
            let Poll::Ready(frame) = conn.wire.poll_frame(cx) else {
                break;
            };
            reading = matches!(frame, Some(Ok(_)));
            if let Some(frame) = frame {
                permit.send(frame);
            }
        }
        if uploading || reading {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    })
    .await;
    if let Some(e) = failed {
        tracing::debug!(error = %e, "upload after an early answer failed");
        if reading {
            // The body must end in an error, not look whole.
            let _ = tx.send(Err(e)).await;
        }
        return;
    }
    // Both ways ended: pooled (else an upstream answering before it reads the body, as
    // nginx's `return`, would cost a new connection per request).
    go_home(conn);
}

/// Puts a connection whose exchange ended cleanly back in the pool it came from.
fn go_home(mut conn: Box<Conn>) {
    if !conn.wire.finished_cleanly() {
        return;
    }
    if let Some((pools, key)) = conn.home.take()
        && let Some(pools) = pools.upgrade()
    {
        pools.put(key, conn);
    }
}

/// A new connection from `connect`.
async fn open_with<C, F>(connect: &C) -> Result<Box<Conn>, UpstreamError>
where
    C: Fn() -> F,
    F: Future<Output = Result<Io, UpstreamError>>,
{
    let io = connect().await?;
    Ok(Box::new(Conn {
        wire: h1_conn::Conn::new(io),
        home: None,
    }))
}

/// An upstream response body. For HTTP/1.1 it carries the connection it is read from and
/// reads it; dropped at its end, it puts the connection back in its pool.
pub struct ResponseBody(Kind);

enum Kind {
    /// Read from the connection by the task that polls the body.
    Pooled { conn: Box<Conn>, ended: bool },
    /// Passed on by a [`pump`].
    Pumped(mpsc::Receiver<Result<Frame<Bytes>, WireError>>),
    /// Read through a connection driven elsewhere (h2, upgrades).
    Plain(Incoming),
    /// Nothing (what is left of a pooled body whose connection went back to its pool).
    Gone,
}

impl ResponseBody {
    /// A body read through a connection driven elsewhere (h2, upgrades).
    pub(super) fn plain(body: Incoming) -> Self {
        Self(Kind::Plain(body))
    }

    fn pooled(conn: Box<Conn>) -> Self {
        let ended = conn.wire.body_done();
        Self(Kind::Pooled { conn, ended })
    }

    fn pumped(rx: mpsc::Receiver<Result<Frame<Bytes>, WireError>>) -> Self {
        Self(Kind::Pumped(rx))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Kind::Pooled { conn, ended } => {
                if *ended {
                    return Poll::Ready(None);
                }
                let frame = std::task::ready!(conn.wire.poll_frame(cx));
                *ended = match &frame {
                    None => true,
                    // Trailers end the body: hyper's server does not poll again after them.
                    Some(Ok(f)) => f.is_trailers() || conn.wire.body_done(),
                    Some(Err(_)) => false,
                };
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Kind::Pumped(rx) => rx.poll_recv(cx).map(|f| f.map(|f| f.map_err(Into::into))),
            Kind::Plain(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Kind::Gone => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Pooled { conn, ended } => *ended || conn.wire.body_done(),
            Kind::Pumped(_) => false,
            Kind::Plain(body) => body.is_end_stream(),
            Kind::Gone => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Pooled { conn, .. } => conn
                .wire
                .body_left()
                .map_or_else(SizeHint::default, SizeHint::with_exact),
            Kind::Pumped(_) => SizeHint::default(),
            Kind::Plain(body) => body.size_hint(),
            Kind::Gone => SizeHint::with_exact(0),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Kind::Pooled { conn, .. } = std::mem::replace(&mut self.0, Kind::Gone) {
            go_home(conn);
        }
    }
}

#[cfg(test)]
#[path = "h1_early_tests.rs"]
mod early_tests;
#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
