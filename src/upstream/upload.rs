//! A request body that says when it has been sent whole ([`watch`]), so the HTTP/1.1 pool knows
//! whether a response arrived before the upload ended (an early 401 or 413, or a full-duplex
//! exchange), in which case the connection must keep being driven for the upload's sake.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::{BoxError, UpstreamBody};

/// Set once the body has been read to its end. A body that had nothing to send is done from
/// the start, without a flag to share (most requests: no allocation for them).
#[derive(Clone)]
pub(super) struct Uploaded(Option<Arc<AtomicBool>>);

impl Uploaded {
    /// The body has been read to its end.
    pub(super) fn done(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|flag| flag.load(Ordering::Acquire))
    }

    fn set(&self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Release);
        }
    }
}

/// `body`, watched: the flag is set when it has been read to its end. A body with nothing to
/// send is passed through as it is, already done.
pub(super) fn watch(body: UpstreamBody) -> (UpstreamBody, Uploaded) {
    if body.is_end_stream() {
        return (body, Uploaded(None));
    }
    let uploaded = Uploaded(Some(Arc::default()));
    let watched = Watched {
        inner: body,
        uploaded: uploaded.clone(),
    };
    (watched.boxed_unsync(), uploaded)
}

struct Watched {
    inner: UpstreamBody,
    uploaded: Uploaded,
}

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.uploaded.set();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.uploaded.set();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Empty, Full, StreamBody};

    fn boxed<B>(body: B) -> UpstreamBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        body.map_err(Into::into).boxed_unsync()
    }

    #[tokio::test]
    async fn an_empty_body_is_uploaded_from_the_start_a_full_one_once_read() {
        let (_, empty) = watch(boxed(Empty::<Bytes>::new()));
        assert!(empty.done());
        let (body, full) = watch(boxed(Full::new(Bytes::from_static(b"abc"))));
        assert!(!full.done());
        let read = body.collect().await.unwrap().to_bytes();
        assert_eq!(&read[..], b"abc");
        assert!(full.done());
    }

    #[tokio::test]
    async fn a_streamed_body_is_uploaded_only_after_its_last_frame() {
        let chunks = ["a", "b"].map(|c| Ok::<_, BoxError>(Frame::data(Bytes::from(c))));
        let (mut body, uploaded) =
            watch(boxed(StreamBody::new(futures_util::stream::iter(chunks))));
        body.frame().await.unwrap().unwrap();
        assert!(!uploaded.done(), "one frame of two");
        body.frame().await.unwrap().unwrap();
        assert!(body.frame().await.is_none());
        assert!(uploaded.done());
    }
}
