//! Bodies the proxy wraps around hyper's:
//! - [`TeeBody`]: the client's request body on its way to the primary, copying each data frame
//!   (a refcounted `Bytes` clone) to every mirror's channel, never waiting for a mirror;
//! - [`ChannelBody`]: a mirror's request body, fed by that channel;
//! - [`ObservedBody`]: a response body that counts bytes, optionally captures the first bytes,
//!   and reports once when it ends, fails or is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::mpsc;

use crate::upstream::BoxError;

type FrameResult = Result<Frame<Bytes>, BoxError>;

/// Why a mirror's body was cut off.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The body grew past the mirror body limit.
    #[error("request body is larger than the mirror body limit")]
    TooLarge,
    /// The client's body failed or the primary stopped reading it.
    #[error("the client's request body ended early")]
    Aborted,
}

/// One mirror's end of a tee.
pub struct Tap {
    tx: mpsc::UnboundedSender<FrameResult>,
    sent: usize,
    limit: usize,
    /// Set when the tap was cut for size (the mirror reports `MB`, not a reset).
    pub too_large: Arc<AtomicBool>,
}

impl Tap {
    /// A tap and the body the mirror request will send. `limit` bounds the bytes the tap ever
    /// holds, so a mirror that reads slowly costs at most `limit` bytes of memory.
    pub fn new(limit: usize) -> (Self, ChannelBody, Arc<AtomicBool>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let too_large = Arc::new(AtomicBool::new(false));
        (
            Self {
                tx,
                sent: 0,
                limit,
                too_large: too_large.clone(),
            },
            ChannelBody { rx },
            too_large,
        )
    }
}

struct Taps {
    taps: Vec<Tap>,
    finished: bool,
}

impl Taps {
    fn data(&mut self, data: &Bytes) {
        self.taps.retain_mut(|tap| {
            tap.sent += data.len();
            if tap.sent > tap.limit {
                tap.too_large.store(true, Ordering::Relaxed);
                let _ = tap.tx.send(Err(Box::new(TapError::TooLarge)));
                return false;
            }
            // A mirror that has gone away is simply dropped from the tee.
            tap.tx.send(Ok(Frame::data(data.clone()))).is_ok()
        });
    }

    fn trailers(&mut self, trailers: &http::HeaderMap) {
        for tap in &self.taps {
            let _ = tap.tx.send(Ok(Frame::trailers(trailers.clone())));
        }
    }
}

impl Drop for Taps {
    fn drop(&mut self) {
        if !self.finished {
            for tap in &self.taps {
                let _ = tap.tx.send(Err(Box::new(TapError::Aborted)));
            }
        }
    }
}

pin_project! {
    /// The client's request body, teed to mirrors and counted.
    pub struct TeeBody<B> {
        #[pin]
        inner: B,
        taps: Taps,
        bytes: Arc<AtomicU64>,
    }
}

impl<B> TeeBody<B> {
    /// Wraps `inner`, copying to `taps` and counting into `bytes`.
    pub fn new(inner: B, taps: Vec<Tap>, bytes: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            taps: Taps {
                taps,
                finished: false,
            },
            bytes,
        }
    }
}

impl<B> Body for TeeBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                    if !this.taps.taps.is_empty() {
                        this.taps.data(data);
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    this.taps.trailers(trailers);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => {
                this.taps.finished = true;
                this.taps.taps.clear();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A mirror's request body, fed by a [`Tap`].
pub struct ChannelBody {
    rx: mpsc::UnboundedReceiver<FrameResult>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FrameResult>> {
        self.rx.poll_recv(cx)
    }
}

/// What an [`ObservedBody`] saw.
#[derive(Debug, Default)]
pub struct BodySummary {
    /// Bytes that passed.
    pub bytes: u64,
    /// The first bytes, up to the capture limit.
    pub captured: Option<Bytes>,
    /// The body failed with this error.
    pub error: Option<String>,
    /// The body was dropped before its end (the client went away).
    pub dropped: bool,
}

/// Called once when an observed body ends.
pub trait OnBodyEnd: Send + 'static {
    /// Receives the summary.
    fn finish(self: Box<Self>, summary: BodySummary);
}

/// The first bytes of a body. Copied when frozen: a slice would keep the connection's whole
/// read buffer alive while the comparison holds it.
#[derive(Default)]
struct Capture {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Capture {
    fn push(&mut self, data: &Bytes, limit: usize) {
        let room = limit.saturating_sub(self.len);
        if room > 0 {
            let take = room.min(data.len());
            self.chunks.push(data.slice(..take));
            self.len += take;
        }
    }

    fn freeze(mut self) -> Bytes {
        let mut all = BytesMut::with_capacity(self.len);
        for c in self.chunks.drain(..) {
            all.extend_from_slice(&c);
        }
        all.freeze()
    }
}

pin_project! {
    /// A response body that reports once when it ends.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        bytes: u64,
        capture: Option<Capture>,
        capture_limit: usize,
        on_end: Option<Box<dyn OnBodyEnd>>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(on_end) = this.on_end.take() {
                on_end.finish(BodySummary {
                    bytes: *this.bytes,
                    captured: this.capture.take().map(Capture::freeze),
                    error: None,
                    dropped: true,
                });
            }
        }
    }
}

impl<B: Body> ObservedBody<B> {
    /// Wraps `inner`; `capture_limit` 0 captures nothing. An empty body (which hyper may never
    /// poll) is reported at once.
    pub fn new(inner: B, capture_limit: usize, on_end: Box<dyn OnBodyEnd>) -> Self {
        let on_end = if inner.is_end_stream() {
            on_end.finish(BodySummary::default());
            None
        } else {
            Some(on_end)
        };
        Self {
            inner,
            bytes: 0,
            capture: (capture_limit > 0).then(Capture::default),
            capture_limit,
            on_end,
        }
    }
}

impl<B> Body for ObservedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FrameResult>> {
        let mut this = self.project();
        let polled = ready!(this.inner.as_mut().poll_frame(cx));
        let finish = |error: Option<String>,
                      this_bytes: u64,
                      capture: &mut Option<Capture>,
                      on_end: &mut Option<Box<dyn OnBodyEnd>>| {
            if let Some(on_end) = on_end.take() {
                on_end.finish(BodySummary {
                    bytes: this_bytes,
                    captured: capture.take().map(Capture::freeze),
                    error,
                    dropped: false,
                });
            }
        };
        match polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.len() as u64;
                    if let Some(buf) = this.capture.as_mut() {
                        buf.push(data, *this.capture_limit);
                    }
                }
                if this.inner.is_end_stream() {
                    finish(None, *this.bytes, this.capture, this.on_end);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                let e: BoxError = e.into();
                finish(Some(e.to_string()), *this.bytes, this.capture, this.on_end);
                Poll::Ready(Some(Err(e)))
            }
            None => {
                finish(None, *this.bytes, this.capture, this.on_end);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
