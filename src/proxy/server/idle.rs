//! Idle client connections: [`IdleGuard`] wraps a client connection's socket and fails its reads
//! once the connection has had no request in flight ([`ConnActivity`]) for the idle timeout,
//! counted from its last request's end (or from its start: a silent connection). Bytes alone
//! (HTTP/2 pings) do not keep a connection alive. hyper then closes the connection.
//! A connection upgraded to a tunnel (WebSocket, [`ConnActivity::tunnel`]) is idle when no byte
//! has crossed it either way for the idle timeout (Envoy's stream idle timeout applies to
//! upgraded streams): an active tunnel lives as long as both sides keep it.
//! [`InFlightBody`] holds a request in flight until its response body is done.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

/// Requests in flight on one client connection, and when the last one ended.
#[derive(Debug)]
pub struct ConnActivity {
    in_flight: AtomicUsize,
    /// When the connection last had a request in flight, as [`since_epoch`] counts.
    last_active: AtomicU64,
    /// The connection was upgraded: bytes, not requests, keep it alive.
    tunneled: AtomicBool,
}

impl Default for ConnActivity {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(since_epoch()),
            tunneled: AtomicBool::new(false),
        }
    }
}

impl ConnActivity {
    /// Counts a request in flight until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.clone())
    }

    /// Marks the connection upgraded (answered 101): from now on it is idle when no byte
    /// crosses it, whatever requests it had.
    pub fn tunnel(&self) {
        self.last_active.store(since_epoch(), Ordering::Relaxed);
        self.tunneled.store(true, Ordering::Relaxed);
    }

    /// Notes bytes crossing an upgraded connection (nothing on a plain one).
    fn moved_bytes(&self) {
        if self.tunneled.load(Ordering::Relaxed) {
            self.last_active.store(since_epoch(), Ordering::Relaxed);
        }
    }

    /// How long the connection has had no request in flight (`None`: one is in flight), or,
    /// once upgraded, no byte either way.
    fn idle_for(&self) -> Option<Duration> {
        let tunneled = self.tunneled.load(Ordering::Relaxed);
        if !tunneled && self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let since = self.last_active.load(Ordering::Relaxed);
        Some(Duration::from_millis(since_epoch().saturating_sub(since)))
    }
}

/// Milliseconds on a process-wide monotonic clock.
fn since_epoch() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// One request in flight on a connection.
#[derive(Debug)]
pub struct InFlightGuard(Arc<ConnActivity>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.last_active.store(since_epoch(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client connection's socket that times out when idle.
pub struct IdleGuard<T> {
    inner: T,
    activity: Arc<ConnActivity>,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// The task the timer was last polled from (it wakes that task when it fires).
    timer_task: Option<Waker>,
    /// The connection's place under `--max-connections`, held as long as the socket lives
    /// (through a tunnel after an upgrade, which outlives hyper's connection).
    _slot: Option<OwnedSemaphorePermit>,
    /// The connection's count on its worker under the listen address's balance.
    _open: Option<super::balance::Open>,
}

impl<T> IdleGuard<T> {
    /// Wraps `inner`; it fails reads after `idle` without a request or a byte.
    pub fn new(inner: T, activity: Arc<ConnActivity>, idle: Duration) -> Self {
        Self {
            inner,
            activity,
            idle,
            timer: None,
            timer_task: None,
            _slot: None,
            _open: None,
        }
    }

    /// Holds `slot` until the socket is dropped.
    pub fn holding(mut self, slot: OwnedSemaphorePermit) -> Self {
        self._slot = Some(slot);
        self
    }

    /// Counts the connection on its worker until the socket is dropped.
    pub fn counted(mut self, open: Option<super::balance::Open>) -> Self {
        self._open = open;
        self
    }

    /// Called when a read would wait: has the connection been idle too long? The timer is set
    /// once and only moved when it fires early (the connection was busy meanwhile): moving a
    /// timer on every read would cost a timer-wheel update per request.
    ///
    /// The timer is polled only when it has fired or the task is not the one it would wake
    /// (a tunnel's, after an upgrade): a read waits three times a request, and polling a
    /// timer that has already registered this task's waker costs 120 instructions each time.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let idle = self.idle;
        let timer = (self.timer).get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        let same_task = (self.timer_task.as_ref()).is_some_and(|w| w.will_wake(cx.waker()));
        if same_task && !timer.is_elapsed() {
            return false;
        }
        if !same_task {
            self.timer_task = Some(cx.waker().clone());
        }
        if poll_timer(timer, cx).is_pending() {
            return false;
        }
        match self.activity.idle_for() {
            Some(idle_for) if idle_for >= idle => true,
            idle_for => {
                // Not idle long enough (or busy): wake again when it could be.
                let left = idle - idle_for.unwrap_or_default().min(idle);
                timer
                    .as_mut()
                    .reset(Instant::now() + left.max(Duration::from_millis(1)));
                let _ = poll_timer(timer, cx);
                false
            }
        }
    }
}

/// Polls `timer` outside tokio's task budget. Within it, a poll made after the task's reads
/// used the budget up returns Pending without arming the timer or registering the task, and
/// the timer is not polled again until it fires: it would never fire.
fn poll_timer(timer: &mut Pin<Box<Sleep>>, cx: &mut Context<'_>) -> Poll<()> {
    std::pin::pin!(tokio::task::unconstrained(timer.as_mut())).poll(cx)
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.activity.moved_bytes();
                Poll::Ready(r)
            }
            Poll::Pending if this.idle_expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("client connection idle for {:?}", this.idle),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.moved_bytes();
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.moved_bytes();
        }
        written
    }
}

pin_project! {
    /// A response body that keeps its request in flight until it is done.
    pub struct InFlightBody<B> {
        #[pin]
        inner: B,
        guard: InFlightGuard,
    }
}

impl<B> InFlightBody<B> {
    /// `inner`, counted in flight by `guard`.
    pub fn new(inner: B, guard: InFlightGuard) -> Self {
        Self { inner, guard }
    }
}

impl<B: Body<Data = Bytes>> Body for InFlightBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that never sends a byte.
    struct Silent;

    impl AsyncRead for Silent {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    /// Uses up the task's tokio budget, as many reads that found bytes in one poll do.
    fn spend_budget(cx: &mut Context<'_>) {
        loop {
            let spend = std::pin::pin!(tokio::task::consume_budget());
            if spend.poll(cx).is_pending() {
                return;
            }
        }
    }

    #[tokio::test]
    async fn the_idle_timer_is_armed_even_when_the_task_had_spent_its_budget() {
        let activity = Arc::new(ConnActivity::default());
        let mut guard = IdleGuard::new(Silent, activity, Duration::from_millis(50));
        let mut bytes = [0u8; 16];
        let mut buf = ReadBuf::new(&mut bytes);
        std::future::poll_fn(|cx| {
            spend_budget(cx);
            let read = Pin::new(&mut guard).poll_read(cx, &mut buf);
            assert!(read.is_pending(), "a silent client's read waits");
            Poll::Ready(())
        })
        .await;
        let read = std::future::poll_fn(|cx| Pin::new(&mut guard).poll_read(cx, &mut buf));
        let closed = tokio::time::timeout(Duration::from_secs(2), read).await;
        let err = (closed.expect("the idle connection was never closed")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
