//! One client connection read and written by its own task: the protocol sniffed from its first
//! bytes ([`Connection::sniff`]), then request heads read one after another
//! ([`Connection::serve`]), each exchanged with the service (`super::exchange`), until the
//! client or the proxy closes it.
//!
//! Timers: none per request. An idle connection (no request in flight) is closed by its
//! socket's [`super::super::IdleGuard`]; the header timeout is armed only when a head has not
//! arrived whole in one read (a slow or stalled client), and answers `408` as Envoy's
//! `request_headers_timeout` does.

use std::future::Future;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body::Body;
use hyper::service::Service;
use tokio::io::AsyncWrite;
use tokio::time::Sleep;

use super::answer;
use super::exchange::After;
use super::head::{self, Field, HeadLimits, RequestHead};
use super::out::Output;
use super::upgrade::Prefixed;
use crate::proxy::server::ClientIo;
use crate::proxy::server::client_body::ClientBody;
use crate::proxy::server::drain::DrainWatch;
use crate::upstream::BoxError;
use crate::upstream::wire::read_size::ReadSize;

/// The HTTP/2 connection preface a prior-knowledge h2c client opens with.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How the connection's requests are read.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub head: HeadLimits,
    /// A head not whole in its first read must be within this.
    pub header_timeout: Duration,
}

/// What the first bytes said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Http1,
    /// The h2c preface: the connection is HTTP/2 (prior knowledge).
    Http2,
    /// Closed, failed or idle before a byte came.
    Gone,
}

/// What ends the wait for a request head.
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, moved once; boxing the head would allocate per request"
)]
enum Next {
    Head(RequestHead),
    Close,
    Refuse(StatusCode),
}

/// One client connection.
pub struct Connection {
    pub(super) io: ClientIo,
    pub(super) read_buf: BytesMut,
    /// How much the next read asks for (more while a large body streams).
    pub(super) read_size: ReadSize,
    /// The client has closed its side.
    pub(super) eof: bool,
    pub(super) out: Output,
    pub(super) settings: Settings,
    pub(super) drain: DrainWatch,
    /// Scratch for the head parser, kept so a request costs no allocation for it.
    fields: Vec<Field>,
    /// How much of a partial head has been looked at.
    scanned: usize,
    header_timer: Option<Pin<Box<Sleep>>>,
}

impl Connection {
    pub fn new(io: ClientIo, settings: Settings, drain: DrainWatch) -> Self {
        Self {
            io,
            read_buf: BytesMut::new(),
            read_size: ReadSize::default(),
            eof: false,
            out: Output::default(),
            settings,
            drain,
            fields: Vec::new(),
            scanned: 0,
            header_timer: None,
        }
    }

    /// Reads until the protocol is known (a GET is known from its first byte).
    pub async fn sniff(&mut self) -> Sniffed {
        poll_fn(|cx| self.poll_sniff(cx)).await
    }

    fn poll_sniff(&mut self, cx: &mut Context<'_>) -> Poll<Sniffed> {
        loop {
            let buf = &self.read_buf[..];
            if buf.len() >= PREFACE.len() || !(buf.is_empty() || PREFACE.starts_with(buf)) {
                let h2 = buf.starts_with(PREFACE);
                return Poll::Ready(if h2 { Sniffed::Http2 } else { Sniffed::Http1 });
            }
            if self.eof {
                let gone = buf.is_empty();
                return Poll::Ready(if gone { Sniffed::Gone } else { Sniffed::Http1 });
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Sniffed::Gone),
                Poll::Pending if self.read_buf.is_empty() && self.drain.poll_draining(cx) => {
                    return Poll::Ready(Sniffed::Gone);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The socket, the bytes read from it and not yet used, and the drain signal.
    pub fn into_parts(self) -> (ClientIo, Bytes, DrainWatch) {
        (self.io, self.read_buf.freeze(), self.drain)
    }

    /// Serves requests until the connection ends.
    pub async fn serve<S, B>(mut self, service: &S)
    where
        S: Service<Request<ClientBody>, Response = Response<B>, Error = std::convert::Infallible>,
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        loop {
            let head = match poll_fn(|cx| self.poll_head(cx)).await {
                Next::Head(head) => head,
                Next::Close => break,
                Next::Refuse(status) => {
                    answer::encode_refusal(status, self.out.own());
                    self.out.queue_own();
                    break;
                }
            };
            // Made in place (`pin!`): a plain `.await` would build the exchange, with the
            // service's whole future in it, on the stack and copy it in, once a request.
            let after = std::pin::pin!(self.exchange(service, head)).await;
            match after {
                After::KeepAlive => {}
                After::Close => break,
                After::Abort => return,
                After::Upgrade(handover) => {
                    let (io, prefix, _) = self.into_parts();
                    let _ = handover.send(Prefixed::new(prefix, io));
                    return;
                }
            }
        }
        // The last answer written, then a FIN.
        if self.flush().await.is_ok() {
            let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
        }
    }

    /// Writes everything queued.
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.out.poll_write(&mut self.io, cx)).await
    }

    /// The next request head, or why there is none.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        loop {
            skip_blank_lines(&mut self.read_buf, &mut self.scanned);
            // A head that came in pieces is parsed again only once a blank line may have come;
            // the scan goes on from where the last one stopped.
            let worth_parsing =
                self.scanned == 0 || head::may_complete(&self.read_buf, self.scanned);
            if !self.read_buf.is_empty() && worth_parsing {
                let limits = self.settings.head;
                match head::parse(&mut self.read_buf, limits, &mut self.fields) {
                    Ok(Some(head)) => {
                        self.scanned = 0;
                        self.header_timer = None;
                        return Poll::Ready(Next::Head(head));
                    }
                    Ok(None) => {}
                    Err(refusal) => return Poll::Ready(Next::Refuse(refusal.status)),
                }
            }
            self.scanned = self.read_buf.len();
            // Not whole within the limit: refused whether or not it is worth parsing yet (a
            // head that never ends must not be buffered without bound).
            if self.read_buf.len() >= self.settings.head.max_bytes {
                return Poll::Ready(Next::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
            }
            if self.eof {
                return Poll::Ready(Next::Close);
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Next::Close),
                Poll::Pending if self.read_buf.is_empty() => {
                    self.read_size.idle(&mut self.read_buf);
                    let draining = self.drain.poll_draining(cx);
                    return if draining {
                        Poll::Ready(Next::Close)
                    } else {
                        Poll::Pending
                    };
                }
                Poll::Pending => return self.poll_header_timer(cx),
            }
        }
    }

    /// A head has started but not ended: it has the header timeout, from now, to do so.
    fn poll_header_timer(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        let timeout = self.settings.header_timeout;
        let timer =
            (self.header_timer).get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        // Outside tokio's budget, as the idle timer: a budget spent by this poll's reads
        // would leave the timer unarmed.
        let fired = std::pin::pin!(tokio::task::unconstrained(timer.as_mut())).poll(cx);
        ready!(fired);
        Poll::Ready(Next::Refuse(StatusCode::REQUEST_TIMEOUT))
    }

    /// Reads what the client has sent into the read buffer (0: it has closed).
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let size = &mut self.read_size;
        fill(&mut self.io, (&mut self.read_buf, size), &mut self.eof, cx)
    }
}

/// Drops the empty lines a client may send between requests (RFC 9112 2.2: a CRLF after a
/// body); they start no head, so no header timeout.
fn skip_blank_lines(buf: &mut BytesMut, scanned: &mut usize) {
    let blank = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if blank > 0 {
        let _ = buf.split_to(blank);
        *scanned = scanned.saturating_sub(blank);
    }
}

/// Reads from `io` into `buf`, as much as `size` says, noting the end of input in `eof`.
pub(super) fn fill(
    io: &mut ClientIo,
    (buf, size): (&mut BytesMut, &mut ReadSize),
    eof: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let room = size.reserve(buf);
    let n = ready!(tokio_util::io::poll_read_buf(Pin::new(io), cx, buf))?;
    size.record(n, room);
    if n == 0 {
        *eof = true;
    }
    Poll::Ready(Ok(n))
}
