//! Tests of `body.rs`.

use std::collections::VecDeque;

use super::*;

/// What the client sends, read by read: `Some(bytes)`, or `None` for its close.
struct Client(VecDeque<Option<&'static [u8]>>);

impl Client {
    fn sends(reads: &[Option<&'static [u8]>]) -> Self {
        Self(reads.iter().copied().collect())
    }

    /// A read: the next piece, `Ok(0)` once closed, Pending when nothing more was sent.
    fn fill(&mut self, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        match self.0.pop_front() {
            Some(Some(bytes)) => {
                buf.extend_from_slice(bytes);
                Poll::Ready(Ok(bytes.len()))
            }
            Some(None) => Poll::Ready(Ok(0)),
            None => Poll::Pending,
        }
    }
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn feed(feed: &mut BodyFeed, buf: &mut BytesMut, client: &mut Client) -> Poll<Fed> {
    feed.poll_feed(&mut cx(), buf, |_, buf| client.fill(buf))
}

fn next(body: &mut H1Body) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
    Pin::new(body).poll_frame(&mut cx())
}

fn data(polled: Poll<Option<Result<Frame<Bytes>, io::Error>>>) -> Bytes {
    match polled {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().expect("a data frame"),
        other => panic!("expected data, got {other:?}"),
    }
}

#[test]
fn a_length_body_passes_one_frame_at_a_time_and_leaves_the_next_request() {
    let (mut body, mut fd) = pipe(BodyFraming::Length(6), false);
    assert_eq!(body.size_hint().exact(), Some(6));
    let mut buf = BytesMut::from(&b"abc"[..]);
    let mut client = Client::sends(&[Some(b"defGET /next")]);
    assert!(
        feed(&mut fd, &mut buf, &mut client).is_pending(),
        "the pipe holds one frame"
    );
    assert_eq!(data(next(&mut body)), "abc");
    assert!(!body.is_end_stream());
    assert_eq!(feed(&mut fd, &mut buf, &mut client), Poll::Ready(Fed::Done));
    assert_eq!(data(next(&mut body)), "def");
    assert!(body.is_end_stream(), "a declared length used up is the end");
    assert!(matches!(next(&mut body), Poll::Ready(None)));
    assert_eq!(&buf[..], b"GET /next");
}

#[test]
fn a_chunked_body_ends_with_its_last_chunk_and_passes_trailers() {
    let (mut body, mut fd) = pipe(BodyFraming::Chunked, false);
    let mut buf = BytesMut::new();
    let mut client = Client::sends(&[Some(b"3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n")]);
    assert!(feed(&mut fd, &mut buf, &mut client).is_pending());
    assert_eq!(data(next(&mut body)), "abc");
    assert!(feed(&mut fd, &mut buf, &mut client).is_pending());
    match next(&mut body) {
        Poll::Ready(Some(Ok(frame))) => assert_eq!(frame.trailers_ref().unwrap()["x-t"], "1"),
        other => panic!("expected trailers, got {other:?}"),
    }
    assert_eq!(feed(&mut fd, &mut buf, &mut client), Poll::Ready(Fed::Done));
    assert!(matches!(next(&mut body), Poll::Ready(None)));
    assert!(body.is_end_stream());
}

#[test]
fn an_expecting_client_is_not_read_until_the_service_asks() {
    let (mut body, mut fd) = pipe(BodyFraming::Length(2), true);
    let mut buf = BytesMut::new();
    let mut client = Client::sends(&[Some(b"hi")]);
    assert!(feed(&mut fd, &mut buf, &mut client).is_pending());
    assert!(!fd.take_continue_due());
    assert_eq!(client.0.len(), 1, "nothing read before the service asks");
    assert!(next(&mut body).is_pending());
    assert_eq!(feed(&mut fd, &mut buf, &mut client), Poll::Ready(Fed::Done));
    assert!(fd.take_continue_due(), "100 Continue is due once");
    assert!(!fd.take_continue_due());
    assert_eq!(data(next(&mut body)), "hi");
}

#[test]
fn a_body_the_service_drops_is_skipped_only_if_already_here() {
    let (body, mut fd) = pipe(BodyFraming::Length(4), false);
    drop(body);
    let mut buf = BytesMut::from(&b"abcdGET"[..]);
    assert_eq!(
        feed(&mut fd, &mut buf, &mut Client::sends(&[])),
        Poll::Ready(Fed::Abandoned)
    );
    assert!(fd.skip_buffered(&mut buf));
    assert_eq!(&buf[..], b"GET");
    let (body, mut fd) = pipe(BodyFraming::Length(4), false);
    drop(body);
    let mut buf = BytesMut::from(&b"ab"[..]);
    assert_eq!(
        feed(&mut fd, &mut buf, &mut Client::sends(&[])),
        Poll::Ready(Fed::Abandoned)
    );
    assert!(
        !fd.skip_buffered(&mut buf),
        "the rest has not come: the connection closes"
    );
}

#[test]
fn a_client_closing_mid_body_or_sending_a_bad_chunk_fails_the_body_as_the_proxy_classifies() {
    let (mut body, mut fd) = pipe(BodyFraming::Length(10), false);
    let mut client = Client::sends(&[Some(b"abc"), None]);
    let mut buf = BytesMut::new();
    assert!(feed(&mut fd, &mut buf, &mut client).is_pending());
    assert_eq!(data(next(&mut body)), "abc");
    assert_eq!(
        feed(&mut fd, &mut buf, &mut client),
        Poll::Ready(Fed::Failed)
    );
    match next(&mut body) {
        Poll::Ready(Some(Err(e))) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(matches!(next(&mut body), Poll::Ready(None)));
    let (mut body, mut fd) = pipe(BodyFraming::Chunked, false);
    let mut client = Client::sends(&[Some(b"zz\r\n")]);
    assert_eq!(
        feed(&mut fd, &mut BytesMut::new(), &mut client),
        Poll::Ready(Fed::Failed)
    );
    match next(&mut body) {
        Poll::Ready(Some(Err(e))) => assert_eq!(e.kind(), io::ErrorKind::InvalidData),
        other => panic!("expected an error, got {other:?}"),
    }
}
