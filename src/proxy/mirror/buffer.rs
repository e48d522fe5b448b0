//! A mirrored copy's body, read whole from its tap before the copy is sent ([`whole_body`]) and
//! held within the mirror memory budget ([`BufferedBody`] keeps its share of the budget until
//! the copy's request is done with it).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::MirrorOutcome;
use crate::proxy::body::{ChannelBody, TapError};
use crate::upstream::{BoxError, UpstreamBody};

/// The budget is counted in KiB.
const UNIT: usize = 1024;

/// A budget of `bytes` for mirrored bodies held at once.
pub(super) fn budget(bytes: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(
        bytes.div_ceil(UNIT).min(Semaphore::MAX_PERMITS),
    ))
}

/// The copy's whole body, read from its tap until the client's body ended; the outcome to count
/// when it did not end whole or did not fit the budget.
pub(super) async fn whole_body(
    tap: Option<ChannelBody>,
    budget: &Arc<Semaphore>,
) -> Result<UpstreamBody, MirrorOutcome> {
    let Some(mut tap) = tap else {
        return Ok(crate::upstream::empty_body());
    };
    let mut body = BufferedBody::default();
    while let Some(frame) = tap.frame().await {
        let frame = frame.map_err(|e| match e.downcast_ref::<TapError>() {
            Some(TapError::TooLarge) => MirrorOutcome::SkippedBodyTooLarge,
            Some(TapError::PrimaryStopped) => MirrorOutcome::PrimaryStopped,
            _ => MirrorOutcome::ClientAborted,
        })?;
        if let Some(data) = frame.data_ref() {
            body.reserve(data.len(), budget)?;
        }
        body.frames.push_back(frame);
    }
    Ok(body.boxed_unsync())
}

/// Frames held in memory, with their share of the mirror memory budget.
#[derive(Default)]
pub(super) struct BufferedBody {
    frames: VecDeque<Frame<Bytes>>,
    bytes: usize,
    budget: Option<OwnedSemaphorePermit>,
}

impl BufferedBody {
    /// Takes the budget for `more` bytes; `DroppedOverflow` when it is used up.
    fn reserve(&mut self, more: usize, budget: &Arc<Semaphore>) -> Result<(), MirrorOutcome> {
        let units = (self.bytes + more).div_ceil(UNIT) - self.bytes.div_ceil(UNIT);
        self.bytes += more;
        if units == 0 {
            return Ok(());
        }
        let units = u32::try_from(units).map_err(|_| MirrorOutcome::DroppedOverflow)?;
        let permit = (budget.clone())
            .try_acquire_many_owned(units)
            .map_err(|_| MirrorOutcome::DroppedOverflow)?;
        match &mut self.budget {
            Some(held) => held.merge(permit),
            None => self.budget = Some(permit),
        }
        Ok(())
    }
}

impl Body for BufferedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.frames.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        let data = self
            .frames
            .iter()
            .filter_map(|f| f.data_ref())
            .map(Bytes::len);
        SizeHint::with_exact(data.sum::<usize>() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::body::Tap;

    fn tapped(chunks: &[&'static [u8]], limit: usize) -> ChannelBody {
        let (tap, body) = Tap::new(limit);
        let frames = chunks.iter().map(|c| Bytes::from_static(c));
        crate::proxy::body::feed_for_test(tap, frames);
        body
    }

    #[tokio::test]
    async fn a_whole_body_is_kept_within_the_budget_until_dropped() {
        let budget = budget(4 * UNIT);
        let Ok(body) = whole_body(Some(tapped(&[b"abc", b"def"], 100)), &budget).await else {
            panic!("6 bytes fit a 4 KiB budget");
        };
        assert_eq!(budget.available_permits(), 3, "6 bytes hold one KiB");
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"abcdef");
        assert_eq!(budget.available_permits(), 4, "released once sent");
    }

    #[tokio::test]
    async fn over_the_budget_or_the_limit_nothing_is_sent() {
        let budget = budget(UNIT);
        let big: &'static [u8] = &[7u8; 2048];
        let over_budget = whole_body(Some(tapped(&[big], 1 << 20)), &budget).await;
        assert!(matches!(over_budget, Err(MirrorOutcome::DroppedOverflow)));
        assert_eq!(budget.available_permits(), 1);
        let over_limit = whole_body(Some(tapped(&[big], 1000)), &budget).await;
        assert!(matches!(
            over_limit,
            Err(MirrorOutcome::SkippedBodyTooLarge)
        ));
    }
}
