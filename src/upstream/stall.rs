//! Connections to mirrors that cannot stall forever: [`StallGuard`] fails a write that makes no
//! progress for the stall limit, so a mirror that stops reading (its socket buffer full) has its
//! connection closed, and the request body it held is freed, instead of pinning memory and a
//! file descriptor until the peer goes away. [`GuardedConnector`] is hyper-util's HTTP
//! connector with its connections so wrapped (no limit: passed through as they are), after the
//! TLS handshake when the pool originates TLS.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use tokio::time::{Instant, Sleep};

use super::tls::{Origination, Stream};

/// A connection whose writes fail after `limit` without progress.
pub struct StallGuard<T> {
    inner: T,
    limit: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    progressed: bool,
}

impl<T> StallGuard<T> {
    /// Wraps `inner`; `None`: no limit.
    pub fn new(inner: T, limit: Option<Duration>) -> Self {
        Self {
            inner,
            limit,
            timer: None,
            progressed: true,
        }
    }

    /// Polled when a write would wait: `Err` once it has waited past the limit.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let timer = (self.timer).get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if std::mem::take(&mut self.progressed) {
            timer.as_mut().reset(Instant::now() + limit);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the peer read nothing for {limit:?}"),
            )),
            Poll::Pending => Ok(()),
        }
    }

    fn after_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => match self.check_stall(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            ready => {
                self.progressed = true;
                ready
            }
        }
    }
}

impl<T: Read + Unpin> Read for StallGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for StallGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, r)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.after_write(cx, r)
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
        this.after_write(cx, r)
    }
}

impl<T: Connection> Connection for StallGuard<T> {
    fn connected(&self) -> Connected {
        self.inner.connected()
    }
}

/// hyper-util's HTTP connector, its connections wrapped in a [`StallGuard`], TLS first when
/// `tls` is set.
#[derive(Clone)]
pub struct GuardedConnector {
    http: HttpConnector,
    stall: Option<Duration>,
    tls: Option<(Origination, Duration)>,
}

impl GuardedConnector {
    /// Connections made by `http`, failing writes stalled for `stall`, with a TLS handshake
    /// (within its timeout) when `tls` is given.
    pub fn new(
        http: HttpConnector,
        stall: Option<Duration>,
        tls: Option<(Origination, Duration)>,
    ) -> Self {
        Self { http, stall, tls }
    }
}

type Connecting = Pin<Box<dyn Future<Output = Result<StallGuard<Stream>, BoxError>> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = StallGuard<Stream>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let endpoint = dst.authority().map(|a| a.to_string()).unwrap_or_default();
        let connecting = self.http.call(dst);
        let stall = self.stall;
        let tls = self.tls.clone();
        Box::pin(async move {
            let io = connecting.await?;
            let stream = match tls {
                Some((tls, timeout)) => tls.handshake(io.into_inner(), &endpoint, timeout).await?,
                None => Stream::Plain(io),
            };
            Ok(StallGuard::new(stream, stall))
        })
    }
}
