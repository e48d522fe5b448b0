//! The request body on its way to an HTTP/1.1 upstream: frames taken from the body and queued
//! for the connection's next write, as they are (a `Content-Length` body, whose length is
//! held to) or as chunks (with the last chunk and any trailers at the end).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::Body;

use super::UpstreamBody;
use super::wire::WireError;
use super::wire::request::Framing;

/// The request body being sent.
pub(super) struct Upload {
    pub(super) body: UpstreamBody,
    framing: Framing,
    /// Bytes still to send of a `Content-Length` body.
    left: u64,
    /// A frame has been taken from the body (it can no longer be sent again elsewhere).
    pub(super) polled: bool,
    /// Everything has been queued (the last chunk too).
    pub(super) finished: bool,
    /// Trailers to send after the last chunk.
    trailers: Option<HeaderMap>,
}

impl Upload {
    pub(super) fn new(body: UpstreamBody, framing: Framing) -> Self {
        Self {
            body,
            framing,
            left: if let Framing::Length(n) = framing {
                n
            } else {
                0
            },
            polled: false,
            finished: framing == Framing::Length(0),
            trailers: None,
        }
    }

    /// Takes one frame from the body into the write queue (framed as chunks when chunked);
    /// ready when something was queued or the body ended.
    pub(super) fn poll_queue(
        &mut self,
        cx: &mut Context<'_>,
        data: &mut VecDeque<Bytes>,
        queued: &mut usize,
    ) -> Poll<Result<(), WireError>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        self.polled = true;
        let mut push = |bytes: Bytes| {
            *queued += bytes.len();
            data.push_back(bytes);
        };
        let ended = frame.is_none();
        match frame {
            Some(Err(e)) => return Poll::Ready(Err(WireError::Upload(e))),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) if chunk.is_empty() => {}
                Ok(chunk) => match self.framing {
                    Framing::Length(_) => {
                        if chunk.len() as u64 > self.left {
                            let e = "the request body is longer than its Content-Length";
                            return Poll::Ready(Err(WireError::Upload(e.into())));
                        }
                        self.left -= chunk.len() as u64;
                        push(chunk);
                    }
                    Framing::Chunked => {
                        push(Bytes::from(format!("{:x}\r\n", chunk.len())));
                        push(chunk);
                        push(Bytes::from_static(b"\r\n"));
                    }
                },
                Err(frame) => self.trailers = frame.into_trailers().ok(),
            },
            None => {}
        }
        if ended || self.body.is_end_stream() {
            self.finish(&mut push)?;
        }
        Poll::Ready(Ok(()))
    }

    /// The body has ended: a length must have been met; chunks end with the last chunk.
    fn finish(&mut self, push: &mut impl FnMut(Bytes)) -> Result<(), WireError> {
        self.finished = true;
        match self.framing {
            Framing::Length(_) if self.left > 0 => {
                let e = "the request body ended before its Content-Length";
                Err(WireError::Upload(e.into()))
            }
            Framing::Length(_) => Ok(()),
            Framing::Chunked => {
                let mut end = b"0\r\n".to_vec();
                for (name, value) in self.trailers.take().iter().flatten() {
                    end.extend_from_slice(name.as_str().as_bytes());
                    end.extend_from_slice(b": ");
                    end.extend_from_slice(value.as_bytes());
                    end.extend_from_slice(b"\r\n");
                }
                end.extend_from_slice(b"\r\n");
                push(Bytes::from(end));
                Ok(())
            }
        }
    }
}
