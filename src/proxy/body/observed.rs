//! [`ObservedBody`]: a response body that counts bytes, optionally captures the first bytes,
//! and reports once ([`OnBodyEnd`]) when it ends, fails or is dropped.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::upstream::BoxError;

type FrameResult = Result<Frame<Bytes>, BoxError>;

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

/// Called once when an observed body ends. Taken by value, not boxed: the body is generic over
/// it, so the response's one box holds both.
pub trait OnBodyEnd: Send + 'static {
    /// Receives the summary.
    fn finish(self, summary: BodySummary);
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
    pub struct ObservedBody<B, E: OnBodyEnd> {
        #[pin]
        inner: B,
        bytes: u64,
        capture: Option<Capture>,
        capture_limit: usize,
        on_end: Option<E>,
    }

    impl<B, E: OnBodyEnd> PinnedDrop for ObservedBody<B, E> {
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

impl<B: Body, E: OnBodyEnd> ObservedBody<B, E> {
    /// Wraps `inner`; `capture_limit` 0 captures nothing. An empty body (which hyper may never
    /// poll) is reported at once.
    pub fn new(inner: B, capture_limit: usize, on_end: E) -> Self {
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

impl<B, E: OnBodyEnd> Body for ObservedBody<B, E>
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
                      on_end: &mut Option<E>| {
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
