//! A client connection handed over after a `101 Switching Protocols` ([`OnUpgrade`], found in
//! the upgrade request's extensions), and the socket with the bytes already read from it put
//! back in front ([`Prefixed`]: also how a connection sniffed as HTTP/2 reaches hyper's h2
//! server).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use super::super::ClientIo;

/// A socket whose first reads return `prefix`: bytes read from it before it changed hands.
pub struct Prefixed<T> {
    prefix: Bytes,
    io: T,
}

impl<T> Prefixed<T> {
    pub fn new(prefix: Bytes, io: T) -> Self {
        Self { prefix, io }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A client connection after its 101.
pub type Upgraded = Prefixed<ClientIo>;

/// The client's connection, handed over once its 101 is written (an upgrade request's
/// extension: clonable, as extensions are, but only one clone gets the connection). Fails if
/// the connection ended first or answered something else.
pub struct OnUpgrade {
    shared: Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>,
    taken: Option<oneshot::Receiver<Upgraded>>,
}

impl OnUpgrade {
    pub(super) fn new(rx: oneshot::Receiver<Upgraded>) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Some(rx))),
            taken: None,
        }
    }
}

impl Clone for OnUpgrade {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            taken: None,
        }
    }
}

impl Future for OnUpgrade {
    type Output = io::Result<Upgraded>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.taken.is_none() {
            let mut shared = this.shared.lock().unwrap_or_else(PoisonError::into_inner);
            this.taken = shared.take();
        }
        let not_handed = || {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the client connection was not handed over",
            )
        };
        match &mut this.taken {
            Some(rx) => Pin::new(rx).poll(cx).map_err(|_| not_handed()),
            None => Poll::Ready(Err(not_handed())),
        }
    }
}
