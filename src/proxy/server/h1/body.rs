//! A request body read from an HTTP/1.1 client: the connection decodes it from its read buffer
//! ([`BodyFeed`]) and hands it frame by frame, one at a time, to the service's [`H1Body`].
//!
//! One frame in the pipe at a time, as hyper's server does: the client is read only as fast as
//! the service takes its body, so a slow upstream back-pressures the client, never the proxy's
//! memory. A body with `Expect: 100-continue` is not read until the service first asks for it
//! (the connection then writes `100 Continue`). A request without a body has no pipe at all.
//!
//! Errors reach the service as `io::Error`s the proxy already classifies: `UnexpectedEof` (the
//! client closed mid-body: `DC`), `InvalidData` (a malformed chunk: 400 `DPE`), or the read's
//! own error (a reset).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

use crate::upstream::wire::body::{Decoded, Decoder};
use crate::upstream::wire::response::BodyFraming;

/// What the two ends share.
#[derive(Default)]
struct Pipe {
    frame: Option<Result<Frame<Bytes>, io::Error>>,
    /// The connection has put the body's last frame (or its error).
    ended: bool,
    /// The service has asked for the body at least once.
    asked: bool,
    /// The service dropped its end.
    dropped: bool,
    service: Option<Waker>,
    connection: Option<Waker>,
}

type Shared = Arc<Mutex<Pipe>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Pipe> {
    // A panic while holding this lock leaves nothing half-done: the state is plain fields.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The pipe for a body framed as `framing`: the service's end and the connection's.
pub fn pipe(framing: BodyFraming, expect_continue: bool) -> (H1Body, BodyFeed) {
    let shared = Shared::default();
    let remaining = match framing {
        BodyFraming::Length(n) => Some(n),
        _ => None,
    };
    let body = H1Body {
        shared: shared.clone(),
        remaining,
        finished: false,
    };
    let feed = BodyFeed {
        shared,
        decoder: Decoder::new(framing),
        awaiting_ask: expect_continue,
        continue_due: false,
        state: Fed::Feeding,
    };
    (body, feed)
}

/// The service's end of a request body.
pub struct H1Body {
    shared: Shared,
    /// Bytes still to come, when the length was declared.
    remaining: Option<u64>,
    finished: bool,
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        let mut pipe = lock(&this.shared);
        if let Some(frame) = pipe.frame.take() {
            if let Some(w) = pipe.connection.take() {
                w.wake();
            }
            drop(pipe);
            match &frame {
                Ok(f) => {
                    let len = f.data_ref().map_or(0, |d| d.len() as u64);
                    this.remaining = this.remaining.map(|r| r.saturating_sub(len));
                }
                Err(_) => this.finished = true,
            }
            return Poll::Ready(Some(frame));
        }
        if pipe.ended {
            this.finished = true;
            return Poll::Ready(None);
        }
        if !pipe.asked {
            pipe.asked = true;
            if let Some(w) = pipe.connection.take() {
                w.wake();
            }
        }
        if !(pipe.service.as_ref()).is_some_and(|w| w.will_wake(cx.waker())) {
            pipe.service = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.finished || self.remaining == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        self.remaining
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

impl Drop for H1Body {
    fn drop(&mut self) {
        let mut pipe = lock(&self.shared);
        pipe.dropped = true;
        if let Some(w) = pipe.connection.take() {
            w.wake();
        }
    }
}

/// How feeding a body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// More of it is to be read.
    Feeding,
    /// All of it was read from the client (the service may still be taking the last frame).
    Done,
    /// The service dropped its end before the body ended.
    Abandoned,
    /// The client broke it (closed, reset, malformed): the connection cannot go on.
    Failed,
    /// The service let it go and the rest of it, already read, was skipped.
    Skipped,
}

/// The connection's end of a request body.
pub struct BodyFeed {
    shared: Shared,
    decoder: Decoder,
    /// `Expect: 100-continue`: read nothing until the service asks.
    awaiting_ask: bool,
    /// The service has asked: `100 Continue` is to be written.
    continue_due: bool,
    state: Fed,
}

impl BodyFeed {
    pub fn state(&self) -> Fed {
        self.state
    }

    /// The state, with the service's end looked at: a body it dropped is `Abandoned`.
    pub fn refresh(&mut self) -> Fed {
        if self.state == Fed::Feeding && lock(&self.shared).dropped {
            self.state = Fed::Abandoned;
        }
        self.state
    }

    /// The service asked for a body the client holds back for `100 Continue` (once).
    pub fn take_continue_due(&mut self) -> bool {
        std::mem::take(&mut self.continue_due)
    }

    /// Moves the body from `buf` (filled by `fill`, which reads the client) into the pipe,
    /// as far as the service takes it. Ready once feeding has stopped for good.
    pub fn poll_feed(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        mut fill: impl FnMut(&mut Context<'_>, &mut BytesMut) -> Poll<io::Result<usize>>,
    ) -> Poll<Fed> {
        while self.state == Fed::Feeding {
            if !self.ready_for_frame(cx) {
                return Poll::Pending;
            }
            if self.state != Fed::Feeding {
                break;
            }
            let decoded = match self.decoder.decode(buf, false) {
                Ok(decoded) => decoded,
                Err(e) => {
                    self.fail(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                    break;
                }
            };
            match decoded {
                Decoded::Data(data) => {
                    // A length used up ends the body with its last bytes, not a read later.
                    let last = self.decoder.is_done();
                    self.put(Some(Frame::data(data)), last);
                }
                Decoded::Trailers(trailers) => self.put(Some(Frame::trailers(trailers)), false),
                Decoded::End => self.put(None, true),
                Decoded::NeedMore => match fill(cx, buf) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) => self.fail(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed the connection mid-body",
                    )),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => self.fail(e),
                },
            }
        }
        Poll::Ready(self.state)
    }

    /// Is the pipe free for the next frame? If not, the connection is woken when it is.
    fn ready_for_frame(&mut self, cx: &mut Context<'_>) -> bool {
        let mut pipe = lock(&self.shared);
        if pipe.dropped {
            self.state = Fed::Abandoned;
            return true;
        }
        if self.awaiting_ask && pipe.asked {
            self.awaiting_ask = false;
            self.continue_due = true;
        }
        if pipe.frame.is_none() && !self.awaiting_ask {
            return true;
        }
        if !(pipe.connection.as_ref()).is_some_and(|w| w.will_wake(cx.waker())) {
            pipe.connection = Some(cx.waker().clone());
        }
        false
    }

    /// Puts a frame in the pipe (`last`: the body ends with it) and wakes the service.
    fn put(&mut self, frame: Option<Frame<Bytes>>, last: bool) {
        let mut pipe = lock(&self.shared);
        pipe.frame = frame.map(Ok);
        if last {
            pipe.ended = true;
            self.state = Fed::Done;
        }
        if let Some(w) = pipe.service.take() {
            w.wake();
        }
    }

    fn fail(&mut self, e: io::Error) {
        let mut pipe = lock(&self.shared);
        pipe.frame = Some(Err(e));
        pipe.ended = true;
        self.state = Fed::Failed;
        if let Some(w) = pipe.service.take() {
            w.wake();
        }
    }

    /// The service gave up on the body: is the rest of it already in `buf`? Then it is
    /// skipped and the connection can carry the next request; if not, it must close.
    pub fn skip_buffered(&mut self, buf: &mut BytesMut) -> bool {
        if self.state == Fed::Skipped {
            return true;
        }
        loop {
            match self.decoder.decode(buf, false) {
                Ok(Decoded::Data(_) | Decoded::Trailers(_)) => {}
                Ok(Decoded::End) => {
                    self.state = Fed::Skipped;
                    return true;
                }
                Ok(Decoded::NeedMore) | Err(_) => return false,
            }
        }
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
