//! The client's request body on its way to the primary ([`TeeBody`]), teed to mirrors
//! ([`Tap`] -> [`ChannelBody`]) and watched ([`Upload`]): how many bytes came, when the body
//! ended (the route timeout starts then, as Envoy's does), and, when it failed, whether the
//! client went away, sent a malformed body, or stalled past the upload idle timeout. A failure of
//! the client's body is the client's: it never counts against the upstream.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, Sleep};

use crate::model::cluster::clock_ms;
use crate::upstream::BoxError;

type FrameResult = Result<Frame<Bytes>, BoxError>;

/// Why a mirror's body was cut off.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The body grew past the mirror body limit.
    #[error("request body is larger than the mirror body limit")]
    TooLarge,
    /// The client's body failed (it went away, broke the body or stalled).
    #[error("the client's request body ended early")]
    Aborted,
    /// The primary's exchange ended before the client's body did (the upstream failed or
    /// answered early), so the rest of the body was never read.
    #[error("the primary stopped reading the request body")]
    PrimaryStopped,
}

/// How the client's body failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientBodyFailure {
    /// The client went away (or reset its stream) before the body ended.
    Aborted,
    /// The body could not be decoded (e.g. a bad chunk size).
    Malformed(String),
    /// No byte of the body came for this long.
    IdleTimeout(Duration),
}

/// The client's body failed (the error the upstream request's body ends with).
#[derive(Debug, thiserror::Error)]
#[error("the client's request body failed: {0:?}")]
pub struct ClientBodyError(pub ClientBodyFailure);

/// Progress of the client's upload, shared between the body and the request's steps.
#[derive(Debug)]
pub struct Upload {
    bytes: AtomicU64,
    ended: AtomicBool,
    notify: Notify,
    failure: OnceLock<ClientBodyFailure>,
    /// When the upstream connection last asked for more body ([`clock_ms`]).
    last_poll: AtomicU64,
    /// When the client last sent a byte of body.
    last_data: AtomicU64,
    /// The body is waiting for the client (it answered the upstream's last poll with
    /// "pending"); otherwise it waits for the upstream to ask for more.
    waiting_for_client: AtomicBool,
}

impl Default for Upload {
    fn default() -> Self {
        let now = clock_ms();
        Self {
            bytes: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            notify: Notify::new(),
            failure: OnceLock::new(),
            last_poll: AtomicU64::new(now),
            last_data: AtomicU64::new(now),
            waiting_for_client: AtomicBool::new(false),
        }
    }
}

/// Why an upload stopped moving before it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The upstream stopped reading the body (it is the upstream's fault).
    UpstreamNotReading,
    /// The client stopped sending it.
    ClientSilent,
}

impl Upload {
    /// Resolves when the upload has not moved for `idle` before it ended: the upstream asked
    /// for no more body, or the client sent none. Never resolves once the body has ended.
    /// (The body's own timer only runs while the upstream polls it; this one always does.)
    pub async fn stalled(&self, idle: Duration) -> Stall {
        let idle_ms = idle.as_millis() as u64;
        loop {
            if self.ended.load(Ordering::Acquire) {
                return std::future::pending().await;
            }
            let now = clock_ms();
            let (since, stall) = if self.waiting_for_client.load(Ordering::Relaxed) {
                (&self.last_data, Stall::ClientSilent)
            } else {
                (&self.last_poll, Stall::UpstreamNotReading)
            };
            let age = now.saturating_sub(since.load(Ordering::Relaxed));
            if age >= idle_ms {
                return stall;
            }
            let wait = idle_ms - age;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait.max(1))) => {}
                () = self.ended() => {}
            }
        }
    }

    /// Has the body ended (or failed)?
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Body bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// How the client's body failed, if it did.
    pub fn failure(&self) -> Option<&ClientBodyFailure> {
        self.failure.get()
    }

    /// Resolves once the body has ended (or failed).
    pub async fn ended(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.ended.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    fn fail(&self, failure: ClientBodyFailure) {
        let _ = self.failure.set(failure);
        self.end();
    }
}

/// One mirror's end of a tee.
pub struct Tap {
    tx: mpsc::UnboundedSender<FrameResult>,
    sent: usize,
    limit: usize,
}

impl Tap {
    /// A tap and the body it feeds. `limit` bounds the bytes the tap ever passes: past it the
    /// body ends with [`TapError::TooLarge`].
    pub fn new(limit: usize) -> (Self, ChannelBody) {
        let (tx, rx) = mpsc::unbounded_channel();
        let tap = Self { tx, sent: 0, limit };
        (tap, ChannelBody { rx })
    }
}

struct Taps {
    taps: Vec<Tap>,
    finished: bool,
    /// Whose fault an unfinished body is: the client's when its body failed.
    upload: Option<Arc<Upload>>,
}

impl Taps {
    fn data(&mut self, data: &Bytes) {
        self.taps.retain_mut(|tap| {
            tap.sent += data.len();
            if tap.sent > tap.limit {
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

    /// The body ended whole: each mirror's body ends too.
    fn finish(&mut self) {
        self.finished = true;
        self.taps.clear();
    }
}

impl Drop for Taps {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let client_failed = (self.upload.as_ref()).is_some_and(|u| u.failure().is_some());
        for tap in &self.taps {
            let why = if client_failed {
                TapError::Aborted
            } else {
                TapError::PrimaryStopped
            };
            let _ = tap.tx.send(Err(Box::new(why)));
        }
    }
}

pin_project! {
    /// The client's request body, teed to mirrors and watched.
    pub struct TeeBody<B> {
        #[pin]
        inner: B,
        taps: Taps,
        upload: Arc<Upload>,
        idle: Option<Duration>,
        idle_timer: Option<Pin<Box<Sleep>>>,
        progressed: bool,
    }
}

impl<B: Body> TeeBody<B> {
    /// Wraps `inner`, copying to `taps` and reporting to `upload`; `idle`: fail the body when
    /// no byte comes for this long.
    pub fn new(inner: B, taps: Vec<Tap>, upload: Arc<Upload>, idle: Option<Duration>) -> Self {
        let mut taps = Taps {
            taps,
            finished: false,
            upload: Some(upload.clone()),
        };
        if inner.is_end_stream() {
            // hyper may never poll an empty body: it has ended already.
            taps.finish();
            upload.end();
        }
        Self {
            inner,
            taps,
            upload,
            idle,
            idle_timer: None,
            progressed: true,
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

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FrameResult>> {
        let mut this = self.project();
        let now = clock_ms();
        this.upload.last_poll.store(now, Ordering::Relaxed);
        let polled = match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(polled) => {
                this.upload
                    .waiting_for_client
                    .store(false, Ordering::Relaxed);
                polled
            }
            Poll::Pending => {
                this.upload
                    .waiting_for_client
                    .store(true, Ordering::Relaxed);
                let Some(idle) = *this.idle else {
                    return Poll::Pending;
                };
                let timer = this
                    .idle_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if std::mem::take(this.progressed) {
                    timer.as_mut().reset(Instant::now() + idle);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let failure = ClientBodyFailure::IdleTimeout(idle);
                this.upload.fail(failure.clone());
                return Poll::Ready(Some(Err(Box::new(ClientBodyError(failure)))));
            }
        };
        *this.progressed = true;
        match polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let upload = &this.upload;
                    upload.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                    upload.last_data.store(now, Ordering::Relaxed);
                    if !this.taps.taps.is_empty() {
                        this.taps.data(data);
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    this.taps.trailers(trailers);
                }
                // An h2 client stops polling once the body says it has ended: end the taps now.
                if this.inner.is_end_stream() {
                    this.taps.finish();
                    this.upload.end();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                let e: BoxError = e.into();
                let failure = classify_client_error(&*e);
                this.upload.fail(failure.clone());
                Poll::Ready(Some(Err(Box::new(ClientBodyError(failure)))))
            }
            None => {
                this.taps.finish();
                this.upload.end();
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

/// A client gone away (the connection closed or reset mid-body) or a malformed body.
fn classify_client_error(err: &(dyn std::error::Error + 'static)) -> ClientBodyFailure {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return ClientBodyFailure::Aborted;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        {
            return ClientBodyFailure::Aborted;
        }
        cur = e.source();
    }
    ClientBodyFailure::Malformed(crate::upstream::root_cause(err))
}

/// Feeds `frames` through `tap` and ends its body whole (for tests of what reads a tap).
#[cfg(test)]
pub(crate) fn feed_for_test(tap: Tap, frames: impl Iterator<Item = Bytes>) {
    let mut taps = Taps {
        taps: vec![tap],
        finished: false,
        upload: None,
    };
    for data in frames {
        taps.data(&data);
    }
    taps.finish();
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
