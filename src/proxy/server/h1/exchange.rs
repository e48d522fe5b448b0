//! One request's exchange on a client connection, as steps: the request handed to the service
//! (its body, if any, through a pipe), the service's answer awaited while the body is fed and
//! the client watched, the answer written (head and body in vectored writes, framed as
//! [`super::answer`] decides), the rest of the request body read or skipped, and the
//! connection's fate: kept, closed, aborted or handed over after a 101.
//!
//! Like hyper's server (and Envoy), one request at a time: a pipelined request waits in the
//! read buffer until the one before it has been answered. A client that closes its side while
//! its request is in flight ends it (the service's future is dropped: `DC`).

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use hyper::service::Service;
use tokio::sync::oneshot;

use super::answer::{self, Asked, BodyHint, Framing};
use super::body::{self, BodyFeed, Fed};
use super::conn::{Connection, fill};
use super::head::RequestHead;
use super::upgrade::{OnUpgrade, Upgraded};
use crate::proxy::server::client_body::ClientBody;
use crate::upstream::BoxError;
use crate::upstream::wire::passed::PassedFields;
use crate::upstream::wire::response::BodyFraming;
use crate::upstream::wire::spare;

/// Body bytes queued for the client at most before the body is asked for more.
const MAX_QUEUED: usize = 64 * 1024;
/// Written when a client's `Expect: 100-continue` body is first asked for.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What happens to the connection after an exchange.
pub enum After {
    KeepAlive,
    /// Closed after what was written (a FIN).
    Close,
    /// Dropped at once: the client went away, or the answer could not be finished.
    Abort,
    /// Answered 101: the socket goes to whoever holds the request's [`OnUpgrade`].
    Upgrade(oneshot::Sender<Upgraded>),
}

impl Connection {
    /// Exchanges one request with `service`.
    pub(super) async fn exchange<S, B>(&mut self, service: &S, head: RequestHead) -> After
    where
        S: Service<Request<ClientBody>, Response = Response<B>, Error = Infallible>,
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let RequestHead {
            parts,
            body,
            keep_alive,
            expect_continue,
            upgrade,
        } = head;
        let asked = Asked {
            head: parts.method == Method::HEAD,
            version: parts.version,
            keep_alive,
        };
        let (body, mut feed) = match body {
            BodyFraming::Length(0) => (ClientBody::Empty, None),
            framing => {
                let (body, feed) = body::pipe(framing, expect_continue);
                (ClientBody::Http1(body), Some(feed))
            }
        };
        let mut req = Request::from_parts(parts, body);
        let handover = upgrade.then(|| {
            let (tx, rx) = oneshot::channel();
            req.extensions_mut().insert(OnUpgrade::new(rx));
            tx
        });
        let mut call = pin!(service.call(req));
        let answered = poll_fn(|cx| self.poll_answer(cx, call.as_mut(), &mut feed)).await;
        let Some(response) = answered else {
            return After::Abort;
        };
        let status = response.status();
        let Some(keep_alive) = pin!(self.send(response, asked, &mut feed)).await else {
            return After::Abort;
        };
        let keep_alive = match feed {
            Some(mut feed) => self.finish_body(&mut feed).await && keep_alive,
            None => keep_alive,
        };
        if self.flush().await.is_err() {
            return After::Abort;
        }
        match handover {
            Some(handover) if status == StatusCode::SWITCHING_PROTOCOLS => After::Upgrade(handover),
            _ if keep_alive => After::KeepAlive,
            _ => After::Close,
        }
    }

    /// The service's answer, the request body fed meanwhile; `None`: the client went away.
    fn poll_answer<F, B>(
        &mut self,
        cx: &mut Context<'_>,
        call: Pin<&mut F>,
        feed: &mut Option<BodyFeed>,
    ) -> Poll<Option<Response<B>>>
    where
        F: Future<Output = Result<Response<B>, Infallible>>,
    {
        if let Some(feed) = feed {
            let _ = self.feed(feed, cx);
            if feed.take_continue_due() {
                self.out.queue_data(Bytes::from_static(CONTINUE));
            }
        }
        if let Poll::Ready(Ok(response)) = call.poll(cx) {
            return Poll::Ready(Some(response));
        }
        if self.out.queued() > 0 && matches!(self.poll_write(cx), Poll::Ready(Err(_))) {
            return Poll::Ready(None);
        }
        if self.client_gone(cx, feed) {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    /// Feeds the request body as far as it goes now.
    fn feed(&mut self, feed: &mut BodyFeed, cx: &mut Context<'_>) -> Poll<Fed> {
        let (io, eof, size) = (&mut self.io, &mut self.eof, &mut self.read_size);
        feed.poll_feed(cx, &mut self.read_buf, |cx, buf| {
            fill(io, (buf, size), eof, cx)
        })
    }

    /// Has the client closed or reset its side? Looked for only once its body has been read
    /// (the feed reads the socket until then) and while nothing it sent is waiting: pipelined
    /// requests are answered first, even if it closed after them (as hyper does); bytes read
    /// here are kept for the next head.
    fn client_gone(&mut self, cx: &mut Context<'_>, feed: &Option<BodyFeed>) -> bool {
        let feeding = feed.as_ref().is_some_and(|f| f.state() == Fed::Feeding);
        if feeding || !self.read_buf.is_empty() {
            return false;
        }
        if self.eof {
            return true;
        }
        match self.poll_fill(cx) {
            Poll::Ready(Ok(n)) => n == 0,
            Poll::Ready(Err(_)) => true,
            Poll::Pending => false,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.out.poll_write(&mut self.io, cx)
    }

    /// Writes the answer; `Some(keep_alive)` once it is all written, `None` if it could not be
    /// finished (the connection must be dropped).
    async fn send<B>(
        &mut self,
        response: Response<B>,
        asked: Asked,
        feed: &mut Option<BodyFeed>,
    ) -> Option<bool>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = response.into_parts();
        let asked = Asked {
            keep_alive: asked.keep_alive && self.body_can_end(feed) && !self.drain.is_draining(),
            ..asked
        };
        let hint = BodyHint {
            end_stream: body.is_end_stream(),
            exact: body.size_hint().exact(),
        };
        let written = answer::encode_head(&parts, asked, hint, self.out.own());
        self.out.queue_own();
        spare::give(parts.headers);
        if parts.extensions.get::<PassedFields>().is_some() {
            spare::give_extensions(parts.extensions);
        }
        if written.framing == Framing::None {
            // Nothing of it can be sent; dropped unpolled, as hyper does.
            return Some(written.keep_alive);
        }
        let mut body = pin!(body);
        let mut sending = Sending {
            framing: written.framing,
            left: match written.framing {
                Framing::Length(n) => n,
                _ => u64::MAX,
            },
            ended: false,
        };
        let sent = poll_fn(|cx| self.poll_send(cx, body.as_mut(), &mut sending, feed)).await;
        sent.then_some(written.keep_alive)
    }

    /// Writes the body as it comes; `false`: it failed or ended short of its length.
    fn poll_send<B>(
        &mut self,
        cx: &mut Context<'_>,
        mut body: Pin<&mut B>,
        sending: &mut Sending,
        feed: &mut Option<BodyFeed>,
    ) -> Poll<bool>
    where
        B: Body<Data = Bytes>,
    {
        loop {
            // The upload goes on while the answer is written (an early answer).
            if let Some(feed) = feed.as_mut().filter(|f| f.state() == Fed::Feeding) {
                let _ = self.feed(feed, cx);
            }
            let mut body_waits = false;
            while !sending.ended && self.out.queued() < MAX_QUEUED {
                match body.as_mut().poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            self.out
                                .queue_body(sending.framing, data, &mut sending.left);
                        }
                        let cut =
                            matches!(sending.framing, Framing::Length(_)) && sending.left == 0;
                        if (cut || body.is_end_stream()) && !self.end_body(sending) {
                            return Poll::Ready(false);
                        }
                    }
                    Poll::Ready(Some(Err(_))) => return Poll::Ready(false),
                    Poll::Ready(None) if !self.end_body(sending) => return Poll::Ready(false),
                    Poll::Ready(None) => {}
                    Poll::Pending => {
                        body_waits = true;
                        break;
                    }
                }
            }
            if ready!(self.poll_write(cx)).is_err() {
                return Poll::Ready(false);
            }
            if sending.ended {
                return Poll::Ready(true);
            }
            if body_waits {
                // A client gone while the answer streams ends it (the upstream is let go).
                if self.client_gone(cx, feed) {
                    return Poll::Ready(false);
                }
                return Poll::Pending;
            }
        }
    }

    /// The body has ended: a chunked one is closed; one short of its length fails.
    fn end_body(&mut self, sending: &mut Sending) -> bool {
        sending.ended = true;
        match sending.framing {
            Framing::Chunked => {
                self.out.queue_last_chunk();
                true
            }
            Framing::Length(_) => sending.left == 0,
            Framing::None | Framing::UntilClose => true,
        }
    }

    /// Can the request body still end cleanly, so the connection carry another request? Not if
    /// the client broke it, nor if the service let it go and the rest has not come: the answer
    /// then says `connection: close` (hyper and Envoy close such a connection too).
    fn body_can_end(&mut self, feed: &mut Option<BodyFeed>) -> bool {
        let Some(feed) = feed else {
            return true;
        };
        match feed.refresh() {
            Fed::Done | Fed::Feeding | Fed::Skipped => true,
            Fed::Failed => false,
            Fed::Abandoned => feed.skip_buffered(&mut self.read_buf),
        }
    }

    /// After the answer: the rest of the request body is read (the service may still be
    /// taking it) or, if the service let it go, skipped if already here. `false`: the
    /// connection cannot carry another request.
    async fn finish_body(&mut self, feed: &mut BodyFeed) -> bool {
        loop {
            match feed.state() {
                Fed::Done => return true,
                Fed::Failed => return false,
                Fed::Abandoned => return feed.skip_buffered(&mut self.read_buf),
                Fed::Skipped => return true,
                Fed::Feeding => {
                    poll_fn(|cx| self.feed(feed, cx)).await;
                }
            }
        }
    }
}

/// Where writing a body stands.
struct Sending {
    framing: Framing,
    /// Bytes a declared length still allows.
    left: u64,
    ended: bool,
}
