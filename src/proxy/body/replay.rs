//! The primary's request body, kept for a retry ([`Replay`], [`ReplayBody`]).
//!
//! A try's body replays the frames earlier tries already took, then reads on from the client's
//! body (the [`super::TeeBody`], so each byte reaches the mirrors once, whatever the tries).
//! Every frame read from the client is kept, up to a bound ([`REPLAY_LIMIT`], Envoy's default
//! per-request buffer limit): past it nothing more is kept and the request is not retried, as
//! Envoy does not retry a request whose body outgrew its buffer. When the upstream connection
//! drops a try's body (the try ended, failed or was given up), the body hands its [`Replay`]
//! back through a oneshot channel: no lock, and nothing shared while the try runs.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::upstream::{BoxError, UpstreamBody};

/// The most request body kept for a retry: 1 MiB, Envoy's default buffer limit.
pub const REPLAY_LIMIT: usize = 1 << 20;

/// One kept frame.
#[derive(Debug, Clone)]
enum Kept {
    Data(Bytes),
    Trailers(HeaderMap),
}

/// The client's body as the tries share it: what was read so far (while it fits) and the rest.
pub struct Replay {
    kept: Vec<Kept>,
    kept_bytes: usize,
    limit: usize,
    /// More than `limit` bytes came: nothing is kept, no retry.
    overflowed: bool,
    /// The client's body failed while a try read it.
    failed: bool,
    /// The rest of the client's body; `None` once it ended.
    rest: Option<UpstreamBody>,
}

impl Replay {
    /// The client's `body`, keeping up to `limit` bytes for a retry.
    pub fn new(body: UpstreamBody, limit: usize) -> Self {
        Self {
            kept: Vec::new(),
            kept_bytes: 0,
            limit,
            overflowed: false,
            failed: false,
            rest: Some(body),
        }
    }

    /// Can another try send the whole body again?
    pub fn replayable(&self) -> bool {
        !self.overflowed && !self.failed
    }

    /// A try's body, and where it comes back once the try has dropped it.
    pub fn into_body(self) -> (ReplayBody, oneshot::Receiver<Replay>) {
        let (back, rx) = oneshot::channel();
        let body = ReplayBody {
            state: Some(self),
            pos: 0,
            back: Some(back),
        };
        (body, rx)
    }

    fn keep(&mut self, frame: &Frame<Bytes>) {
        if self.overflowed {
            return;
        }
        let kept = if let Some(data) = frame.data_ref() {
            self.kept_bytes += data.len();
            Kept::Data(data.clone())
        } else if let Some(trailers) = frame.trailers_ref() {
            Kept::Trailers(trailers.clone())
        } else {
            return;
        };
        if self.kept_bytes > self.limit {
            self.overflowed = true;
            self.kept = Vec::new();
        } else {
            self.kept.push(kept);
        }
    }
}

/// One try's request body: the kept frames again, then the rest of the client's body.
pub struct ReplayBody {
    state: Option<Replay>,
    /// Kept frames already sent by this try.
    pos: usize,
    back: Option<oneshot::Sender<Replay>>,
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(state) = this.state.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(kept) = state.kept.get(this.pos) {
            this.pos += 1;
            return Poll::Ready(Some(Ok(match kept {
                Kept::Data(d) => Frame::data(d.clone()),
                Kept::Trailers(t) => Frame::trailers(t.clone()),
            })));
        }
        let Some(rest) = state.rest.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(rest).poll_frame(cx)) {
            None => {
                state.rest = None;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                state.failed = true;
                Poll::Ready(Some(Err(e)))
            }
            Some(Ok(frame)) => {
                state.keep(&frame);
                this.pos = state.kept.len();
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state.as_ref().is_none_or(|s| {
            self.pos >= s.kept.len() && s.rest.as_ref().is_none_or(|r| r.is_end_stream())
        })
    }

    fn size_hint(&self) -> SizeHint {
        let Some(s) = &self.state else {
            return SizeHint::with_exact(0);
        };
        let replayed: usize = (s.kept.get(self.pos..).unwrap_or_default().iter())
            .map(|k| match k {
                Kept::Data(d) => d.len(),
                Kept::Trailers(_) => 0,
            })
            .sum();
        let rest = s
            .rest
            .as_ref()
            .map_or(SizeHint::with_exact(0), |r| r.size_hint());
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + replayed as u64);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + replayed as u64);
        }
        hint
    }
}

impl Drop for ReplayBody {
    /// Hands the body back for the next try (a try that never started gives it back whole).
    fn drop(&mut self) {
        if let (Some(state), Some(back)) = (self.state.take(), self.back.take()) {
            let _ = back.send(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn chunks(parts: &[&'static str]) -> UpstreamBody {
        let frames = parts
            .iter()
            .map(|p| Ok::<_, BoxError>(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect::<Vec<_>>();
        StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
    }

    #[tokio::test]
    async fn a_second_try_replays_what_the_first_took_then_reads_on() {
        let replay = Replay::new(chunks(&["ab", "cd", "ef"]), 100);
        let (mut first, back) = replay.into_body();
        // The first try takes two frames and is dropped (its upstream failed).
        let f = first.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "ab");
        first.frame().await.unwrap().unwrap();
        drop(first);
        let replay = back.await.unwrap();
        assert!(replay.replayable());
        let (second, back) = replay.into_body();
        assert_eq!(second.size_hint().lower(), 4);
        let all = second.collect().await.unwrap().to_bytes();
        assert_eq!(all, "abcdef");
        let (third, _) = back.await.unwrap().into_body();
        assert!(!third.is_end_stream());
        assert_eq!(third.collect().await.unwrap().to_bytes(), "abcdef");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_sent_once_and_never_replayed() {
        // (limit, body chunks, replayable after the whole body)
        for (limit, parts, want) in [
            (6, &["ab", "cd", "ef"][..], true),
            (5, &["ab", "cd", "ef"][..], false),
            (0, &[][..], true),
        ] {
            let (body, back) = Replay::new(chunks(parts), limit).into_body();
            let all = body.collect().await.unwrap().to_bytes();
            assert_eq!(all.len(), parts.concat().len());
            assert_eq!(back.await.unwrap().replayable(), want, "limit {limit}");
        }
    }

    #[tokio::test]
    async fn an_untouched_body_comes_back_whole() {
        let body = Full::new(Bytes::from_static(b"xyz"))
            .map_err(|e| match e {})
            .boxed_unsync();
        let (first, back) = Replay::new(body, 10).into_body();
        assert_eq!(first.size_hint().exact(), Some(3));
        drop(first);
        let (second, _) = back.await.unwrap().into_body();
        assert_eq!(second.collect().await.unwrap().to_bytes(), "xyz");
    }
}
