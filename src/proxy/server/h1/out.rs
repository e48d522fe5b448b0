//! What is waiting to be written to the client: response heads written into one owned buffer,
//! chunk-size lines kept inline in their piece, body data kept as the `Bytes` it came in (never
//! copied), all of it sent with vectored writes.
//!
//! The owned buffer holds heads only, and is cleared whenever everything queued is written: a
//! long stream of small chunks to a slow client (whose queue never empties) must not grow it.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::AsyncWrite;

use super::answer::{self, Framing};

/// Slices per vectored write.
const MAX_SLICES: usize = 16;

enum Piece {
    /// A range of the owned buffer.
    Own(Range<usize>),
    Data(Bytes),
    /// A chunk-size line.
    Size([u8; answer::CHUNK_LINE], u8),
}

impl Piece {
    fn bytes<'a>(&'a self, own: &'a [u8]) -> &'a [u8] {
        match self {
            Self::Own(range) => &own[range.clone()],
            Self::Data(data) => data,
            Self::Size(line, len) => &line[..usize::from(*len)],
        }
    }
}

/// The write queue.
#[derive(Default)]
pub struct Output {
    own: Vec<u8>,
    /// Where the owned bytes not yet in a piece start.
    own_queued: usize,
    pieces: VecDeque<Piece>,
    /// Bytes of the first piece already written.
    front_written: usize,
    queued: usize,
}

impl Output {
    /// The owned buffer, to write a head or framing into; [`Self::queue_own`] queues it.
    pub fn own(&mut self) -> &mut Vec<u8> {
        &mut self.own
    }

    /// Queues what was written into the owned buffer since the last call.
    pub fn queue_own(&mut self) {
        let range = self.own_queued..self.own.len();
        if !range.is_empty() {
            self.queued += range.len();
            self.own_queued = range.end;
            self.pieces.push_back(Piece::Own(range));
        }
    }

    pub fn queue_data(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.queued += data.len();
            self.pieces.push_back(Piece::Data(data));
        }
    }

    /// Queues a piece of body as `framing` frames it; `left` is what a declared length still
    /// allows (the rest of a longer body is dropped).
    pub fn queue_body(&mut self, framing: Framing, mut data: Bytes, left: &mut u64) {
        match framing {
            Framing::None => {}
            Framing::Length(_) => {
                data.truncate(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= data.len() as u64;
                self.queue_data(data);
            }
            Framing::Chunked if !data.is_empty() => {
                let (line, len) = answer::chunk_size_line(data.len());
                self.queued += usize::from(len);
                self.pieces.push_back(Piece::Size(line, len));
                self.queue_data(data);
                self.queue_data(Bytes::from_static(b"\r\n"));
            }
            Framing::Chunked => {}
            Framing::UntilClose => self.queue_data(data),
        }
    }

    /// Queues the end of a chunked body (no trailers: the proxy strips `Trailer`).
    pub fn queue_last_chunk(&mut self) {
        self.queue_data(Bytes::from_static(b"0\r\n\r\n"));
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Writes everything queued.
    pub fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.pieces.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            for (i, piece) in self.pieces.iter().take(MAX_SLICES).enumerate() {
                let bytes = piece.bytes(&self.own);
                slices[i] = IoSlice::new(if i == 0 {
                    &bytes[self.front_written..]
                } else {
                    bytes
                });
                n = i + 1;
            }
            let written = if n == 1 {
                ready!(Pin::new(&mut *io).poll_write(cx, &slices[0]))?
            } else {
                ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..n]))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(written);
        }
        self.own.clear();
        self.own_queued = 0;
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut written: usize) {
        self.queued -= written;
        while let Some(front) = self.pieces.front() {
            let left = front.bytes(&self.own).len() - self.front_written;
            if written < left {
                self.front_written += written;
                return;
            }
            written -= left;
            self.front_written = 0;
            self.pieces.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `per_write` bytes a write.
    struct Trickle {
        got: Vec<u8>,
        per_write: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let n = b.len().min(this.per_write);
            this.got.extend_from_slice(&b[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            self.poll_write(cx, first)
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn heads_chunks_and_lengths_go_out_in_order_however_the_socket_takes_them() {
        for per_write in [1, 3, 1000] {
            let mut out = Output::default();
            out.own().extend_from_slice(b"HEAD\r\n");
            out.queue_own();
            let mut left = u64::MAX;
            out.queue_body(Framing::Chunked, Bytes::from_static(b"hello"), &mut left);
            out.queue_body(Framing::Chunked, Bytes::new(), &mut left);
            out.queue_last_chunk();
            let mut left = 4;
            out.queue_body(Framing::Length(4), Bytes::from_static(b"abcdef"), &mut left);
            assert_eq!(left, 0, "a longer body is cut at its length");
            let mut io = Trickle {
                got: Vec::new(),
                per_write,
            };
            let waker = std::task::Waker::noop();
            let done = out.poll_write(&mut io, &mut Context::from_waker(waker));
            assert!(matches!(done, Poll::Ready(Ok(()))));
            assert_eq!(
                io.got, b"HEAD\r\n5\r\nhello\r\n0\r\n\r\nabcd",
                "{per_write}"
            );
            assert_eq!(out.queued(), 0);
        }
    }

    #[test]
    fn chunk_framing_never_piles_up_in_the_owned_buffer() {
        let mut out = Output::default();
        out.own().extend_from_slice(b"HEAD\r\n");
        out.queue_own();
        let mut left = u64::MAX;
        for _ in 0..10_000 {
            out.queue_body(Framing::Chunked, Bytes::from_static(b"x"), &mut left);
        }
        out.queue_last_chunk();
        assert_eq!(out.own.len(), 6, "only the head is owned");
        assert_eq!(out.queued(), 6 + 10_000 * 6 + 5);
    }
}
