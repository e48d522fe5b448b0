//! Idle client connections: [`IdleGuard`] wraps a client connection's socket and fails its reads
//! once the connection has had no request in flight ([`ConnActivity`]) and no byte in either
//! direction for the idle timeout. hyper then closes the connection. [`InFlightBody`] holds a
//! request in flight until its response body is done.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::rt::{Read, ReadBufCursor, Write};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

/// Requests in flight on one client connection.
#[derive(Debug, Default)]
pub struct ConnActivity {
    in_flight: AtomicUsize,
}

impl ConnActivity {
    /// Counts a request in flight until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.clone())
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub struct InFlightGuard(Arc<ConnActivity>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client connection's socket that times out when idle.
pub struct IdleGuard<T> {
    inner: T,
    activity: Arc<ConnActivity>,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    progressed: bool,
}

impl<T> IdleGuard<T> {
    /// Wraps `inner`; it fails reads after `idle` without a request or a byte.
    pub fn new(inner: T, activity: Arc<ConnActivity>, idle: Duration) -> Self {
        Self {
            inner,
            activity,
            idle,
            timer: None,
            progressed: true,
        }
    }

    /// Called when a read would wait: has the connection been idle too long?
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.activity.busy() {
            self.progressed = true;
            return false;
        }
        let idle = self.idle;
        let timer = (self.timer).get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        if std::mem::take(&mut self.progressed) {
            timer.as_mut().reset(Instant::now() + idle);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

impl<T: Read + Unpin> Read for IdleGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.progressed = true;
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

impl<T: Write + Unpin> Write for IdleGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if r.is_ready() {
            this.progressed = true;
        }
        r
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
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            this.progressed = true;
        }
        r
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
