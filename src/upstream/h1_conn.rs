//! One HTTP/1.1 upstream connection, read and written by whichever task polls it: the request
//! head and body going out ([`Conn::start`], [`Conn::poll_upload`]), the response head and body
//! coming in ([`Conn::poll_head`], [`Conn::poll_frame`]), through the pure codec in
//! [`super::wire`]. It knows when it may carry another request ([`Conn::reusable`]).
//!
//! Writes gather the head and the body's ready frames into one vectored write; reads go into
//! one buffer that the response head and body are sliced from (no copies).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Method};
use http_body::{Body, Frame};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;

use super::h1_upload::Upload;
use super::wire::WireError;
use super::wire::body::{Decoded, Decoder};
use super::wire::read_size::ReadSize;
use super::wire::request::{self, BodySize};
use super::wire::response::{self, ResponseHead};
use super::{Io, UpstreamBody};

/// Body bytes queued for one write at most.
const MAX_QUEUED: usize = 64 * 1024;

/// One connection's state.
pub struct Conn {
    io: TokioIo<Io>,
    read_buf: BytesMut,
    /// How much the next read asks for (more while a large answer streams).
    read_size: ReadSize,
    /// The peer has closed its side: no more bytes will come.
    eof: bool,
    /// The request head being written (kept between requests for its capacity).
    head: Vec<u8>,
    head_written: usize,
    /// Body bytes queued after the head.
    data: VecDeque<Bytes>,
    queued: usize,
    needs_flush: bool,
    upload: Option<Upload>,
    /// A write failed: nothing more is sent (the answer may still be read).
    write_failed: Option<std::io::Error>,
    /// Some bytes of the current request have been written.
    sent_any: bool,
    decoder: Decoder,
    keep_alive: bool,
    /// It failed or broke the protocol: never reused.
    broken: bool,
}

impl Conn {
    pub fn new(io: Io) -> Self {
        Self {
            io: TokioIo::new(io),
            read_buf: BytesMut::new(),
            read_size: ReadSize::default(),
            eof: false,
            head: Vec::new(),
            head_written: 0,
            data: VecDeque::new(),
            queued: 0,
            needs_flush: false,
            upload: None,
            write_failed: None,
            sent_any: false,
            decoder: Decoder::Done,
            keep_alive: true,
            broken: false,
        }
    }

    /// Queues a request: its head now, its body as [`Self::poll_upload`] takes it.
    pub fn start(
        &mut self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        body: UpstreamBody,
    ) {
        let size = if body.is_end_stream() {
            BodySize::Empty
        } else {
            body.size_hint()
                .exact()
                .map_or(BodySize::Unknown, BodySize::Exact)
        };
        self.read_size.idle(&mut self.read_buf);
        self.head.clear();
        self.head_written = 0;
        self.sent_any = false;
        let framing = request::encode_head(method, target, headers, size, &mut self.head);
        self.upload = Some(Upload::new(body, framing));
    }

    /// The request's body back, if nothing of the request was written and no frame taken from
    /// it (the connection turned out closed): it can go on another connection.
    pub fn take_unsent(&mut self) -> Option<UpstreamBody> {
        if self.sent_any || self.upload.as_ref().is_none_or(|u| u.polled) {
            return None;
        }
        self.upload.take().map(|u| u.body)
    }

    /// All of the request has been written (or writing failed: nothing more will be).
    pub fn upload_done(&self) -> bool {
        self.write_failed.is_some()
            || (self.upload.as_ref().is_none_or(|u| u.finished) && self.unwritten() == 0)
    }

    fn unwritten(&self) -> usize {
        self.head.len() - self.head_written + self.queued
    }

    /// Writes the request as far as the socket and the body allow; ready once all is written.
    pub fn poll_upload(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WireError>> {
        if let Some(e) = &self.write_failed {
            return Poll::Ready(Err(WireError::Io(std::io::Error::new(
                e.kind(),
                e.to_string(),
            ))));
        }
        loop {
            // Take what the body has ready first, so it leaves with the head in one write.
            while self.queued < MAX_QUEUED
                && let Some(upload) = self.upload.as_mut().filter(|u| !u.finished)
            {
                match upload.poll_queue(cx, &mut self.data, &mut self.queued) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => {
                        self.broken = true;
                        return Poll::Ready(Err(e));
                    }
                    Poll::Pending => break,
                }
            }
            if self.unwritten() == 0 {
                if self.needs_flush {
                    ready!(Pin::new(&mut self.io).poll_flush(cx)).map_err(|e| self.failed(e))?;
                    self.needs_flush = false;
                }
                if !self.upload_done() {
                    return Poll::Pending;
                }
                // All written: the body goes now, not with the connection (a retry waits for
                // it to come back to send it again).
                self.upload = None;
                return Poll::Ready(Ok(()));
            }
            let written = ready!(self.poll_write_queued(cx)).map_err(|e| self.failed(e))?;
            self.advance(written);
        }
    }

    /// One vectored write of the head's rest and the queued body bytes.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); 16];
        let mut n = 0;
        if self.head_written < self.head.len() {
            slices[0] = IoSlice::new(&self.head[self.head_written..]);
            n = 1;
        }
        for chunk in self.data.iter().take(slices.len() - n) {
            slices[n] = IoSlice::new(chunk);
            n += 1;
        }
        let written = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n]))?;
        if written == 0 {
            return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
        }
        Poll::Ready(Ok(written))
    }

    fn advance(&mut self, mut written: usize) {
        self.sent_any = true;
        self.needs_flush = true;
        let head_left = self.head.len() - self.head_written;
        let from_head = head_left.min(written);
        self.head_written += from_head;
        written -= from_head;
        self.queued -= written;
        while written > 0 {
            let Some(front) = self.data.front_mut() else {
                break;
            };
            if front.len() > written {
                front.advance(written);
                break;
            }
            written -= front.len();
            self.data.pop_front();
        }
    }

    /// A failed write: the connection is done for, and nothing more is sent on it.
    fn failed(&mut self, e: std::io::Error) -> WireError {
        self.broken = true;
        if self.sent_any {
            self.upload = None;
        }
        self.write_failed = Some(std::io::Error::new(e.kind(), e.to_string()));
        WireError::Io(e)
    }

    /// Writes the request and reads until the response head is whole. After a failed write
    /// an answer already there is still taken (a 413 sent before the peer stopped reading a
    /// large upload); none is waited for.
    pub fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        method: &Method,
    ) -> Poll<Result<ResponseHead, WireError>> {
        loop {
            if let Poll::Ready(Err(e @ WireError::Upload(_))) = self.poll_upload(cx) {
                return Poll::Ready(Err(e));
            }
            // Parsed only when there is something new to parse: on entry with bytes already
            // read (a pipelined answer), then after each read.
            let parsed = match self.read_buf.is_empty() {
                true => Ok(None),
                false => response::parse(&mut self.read_buf, method),
            };
            match parsed {
                Ok(Some(head)) => {
                    self.decoder = Decoder::new(head.framing);
                    self.keep_alive = head.keep_alive;
                    return Poll::Ready(Ok(head));
                }
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Err(e));
                }
            }
            if self.eof {
                self.broken = true;
                return Poll::Ready(Err(match self.write_failed.take() {
                    Some(e) => WireError::Io(e),
                    None => WireError::Incomplete,
                }));
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => match self.write_failed.take() {
                    Some(e) => return Poll::Ready(Err(WireError::Io(e))),
                    None => return Poll::Pending,
                },
            }
        }
    }

    /// The next frame of the response body (`None`: it has ended).
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WireError>>> {
        loop {
            match self.decoder.decode(&mut self.read_buf, self.eof) {
                Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(Decoded::Trailers(t)) => return Poll::Ready(Some(Ok(Frame::trailers(t)))),
                Ok(Decoded::End) => return Poll::Ready(None),
                Ok(Decoded::NeedMore) => {}
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if let Err(e) = ready!(self.poll_fill(cx)) {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }

    /// The response body has been read to its end.
    pub fn body_done(&self) -> bool {
        self.decoder.is_done()
    }

    /// Bytes of the response body still to come, when its length says.
    pub fn body_left(&self) -> Option<u64> {
        match self.decoder {
            Decoder::Done => Some(0),
            Decoder::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Reads what the socket has into the buffer (0: the peer closed).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, WireError>> {
        let room = self.read_size.reserve(&mut self.read_buf);
        let read = tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read_buf);
        let read = ready!(read);
        if let Ok(n) = read {
            self.read_size.record(n, room);
        }
        match read {
            Ok(0) => {
                self.eof = true;
                Poll::Ready(Ok(0))
            }
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) => {
                self.broken = true;
                Poll::Ready(Err(WireError::Io(e)))
            }
        }
    }

    /// The exchange has ended cleanly both ways and the connection may carry another request.
    pub fn finished_cleanly(&self) -> bool {
        !self.broken
            && self.keep_alive
            && self.decoder.is_done()
            && self.upload_done()
            && self.write_failed.is_none()
            && self.read_buf.is_empty()
            && !self.eof
    }

    /// Idle, open and ready for another request: checked by one read that must find nothing
    /// (a close, or bytes nobody asked for, make it unusable). Never waits.
    pub fn reusable(&mut self) -> bool {
        if !self.finished_cleanly() {
            return false;
        }
        // Idle in its pool: a buffer grown for a large answer is freed, not kept (or grown
        // again by this probe) while the connection waits.
        self.read_size.idle(&mut self.read_buf);
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_fill(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(_) => {
                self.broken = true;
                false
            }
        }
    }
}

#[cfg(test)]
#[path = "h1_conn_tests.rs"]
mod tests;
