//! The limits that span all tries of a request ([`Limits`]): the route timeout (from the end of
//! the client's body; [`RouteDeadline`]) and the upload's stall watch, each made once per
//! request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::body::{Stall, Upload};
use super::server::deadline::Deadline;
use crate::telemetry::Flag;
use crate::upstream::Failure;

/// The limits that span all tries: the route timeout and the upload's stall watch.
pub(super) struct Limits {
    pub(super) upload: Arc<Upload>,
    pub(super) deadline: RouteDeadline,
    /// None when there is no body to watch (it had ended when the tries began: a request
    /// without a body, most of them), which spares them a timer.
    pub(super) stalled: Option<Pin<Box<dyn Future<Output = Stall> + Send>>>,
    pub(super) timeout: Option<Duration>,
    pub(super) idle: Option<Duration>,
}

impl Limits {
    /// The limits of a request whose upload is `upload`: the route `timeout` (none: no limit),
    /// counted from the upload's end, and the stall watch after `idle` without progress.
    pub(super) fn new(
        upload: &Arc<Upload>,
        timeout: Option<Duration>,
        idle: Option<Duration>,
    ) -> Self {
        let ended = upload.has_ended();
        let deadline = match timeout {
            Some(t) if ended => RouteDeadline::At(Deadline::after(t)),
            Some(t) => {
                let up = upload.clone();
                RouteDeadline::AfterUpload(Box::pin(async move {
                    up.ended().await;
                    Deadline::after(t).await;
                }))
            }
            None => RouteDeadline::Never,
        };
        let stalled = match idle {
            Some(idle) if !ended => {
                let up = upload.clone();
                Some(Box::pin(async move { up.stalled(idle).await }) as Pin<Box<_>>)
            }
            _ => None,
        };
        Self {
            upload: upload.clone(),
            deadline,
            stalled,
            timeout,
            idle,
        }
    }

    /// The route timeout's failure (504 `UT`).
    pub(super) fn timed_out(&self) -> Failure {
        route_timeout(self.timeout)
    }
}

/// When the route timeout runs out.
pub(super) enum RouteDeadline {
    /// No route timeout.
    Never,
    /// The timeout from the tries' start: the client's body had ended (a request without a
    /// body, most of them). On a worker thread, no tokio timer of its own
    /// ([`Deadline`]).
    At(Deadline),
    /// The timeout from the end of the client's body, still arriving when the tries began.
    AfterUpload(Pin<Box<dyn Future<Output = ()> + Send>>),
}

impl Future for RouteDeadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Self::Never => Poll::Pending,
            Self::At(deadline) => Pin::new(deadline).poll(cx),
            Self::AfterUpload(wait) => wait.as_mut().poll(cx),
        }
    }
}

/// The failure of a request that ran out of its route `timeout` (504 `UT`).
pub(super) fn route_timeout(timeout: Option<Duration>) -> Failure {
    Failure {
        flag: Flag::Timeout,
        status: 504,
        reason: format!(
            "upstream request timeout ({:?})",
            timeout.unwrap_or_default()
        ),
    }
}
