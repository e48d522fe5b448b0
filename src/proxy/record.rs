//! Recording a request exactly once (ztunnel's `ConnectionResult` is the model).
//!
//! [`ExchangeRecord`] is made when the request arrives and each step fills in what it learns
//! (route, destination, request id). It is recorded by exactly one of: a local answer
//! ([`ExchangeRecord::answer`]), an upstream failure ([`ExchangeRecord::upstream_failed`]), the
//! end of the response body ([`OnBodyEnd`]), or, as the fallback, [`Drop`]: a request dropped
//! unanswered means the client went away (`DC`), which never counts against an upstream.
//!
//! [`InFlight`] counts the request against its cluster's limit and its endpoint's load while it
//! lives, and feeds outlier detection with the outcome of upstream exchanges only.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Response, StatusCode};
use tokio::time::Instant;

use super::body::{BodySummary, ClientBodyFailure, OnBodyEnd, Upload};
use super::local;
use crate::model::Cluster;
use crate::model::cluster::Outcome;
use crate::telemetry::{Exchange, Flag, Telemetry};
use crate::upstream::{Failure, UpstreamBody};

/// The exchange of one request, recorded once.
pub(super) struct ExchangeRecord {
    telemetry: Arc<Telemetry>,
    started: Instant,
    /// What is known so far.
    pub exchange: Exchange,
    /// The client's upload (bytes, end, failure), watched by the tee.
    pub upload: Option<Arc<Upload>>,
    /// The request's hold on its cluster and endpoint, once one is chosen.
    pub in_flight: Option<InFlight>,
    recorded: bool,
}

impl ExchangeRecord {
    /// A record for a request that arrived at `started`.
    ///
    /// The box is allocated first and the record written into it (`Box::write`), so the
    /// exchange `start` makes is built in place: `Box::new(record)` built the record on the
    /// stack and copied its 400 bytes in.
    pub fn new(
        telemetry: Arc<Telemetry>,
        started: Instant,
        start: impl FnOnce() -> Exchange,
    ) -> Box<Self> {
        Box::write(
            Box::new_uninit(),
            Self {
                telemetry,
                started,
                exchange: start(),
                upload: None,
                in_flight: None,
                recorded: false,
            },
        )
    }

    /// Answers the client locally with `status` and `reason` (as a text body, or as a gRPC
    /// status to a gRPC client) and records it with `status`.
    pub fn answer(
        &mut self,
        status: StatusCode,
        flag: Flag,
        reason: String,
    ) -> Response<UpstreamBody> {
        let resp = if self.exchange.grpc {
            local::grpc(status, &reason)
        } else {
            local::text(status, format!("{reason}\n"))
        };
        self.exchange.response_bytes = http_body::Body::size_hint(resp.body()).lower();
        self.exchange.fail(status.as_u16(), flag, reason);
        self.record();
        resp
    }

    /// Records an upstream exchange that ended without a response, counting it against the
    /// endpoint, and answers the client as Envoy does.
    pub fn upstream_failed(&mut self, failure: Failure) -> Response<UpstreamBody> {
        if let Some(guard) = &self.in_flight {
            guard.record(Outcome::Failure);
        }
        let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY);
        self.answer(status, failure.flag, failure.reason)
    }

    /// Records a request whose body the client broke: gone away (`DC`, status 0), malformed
    /// (400 `DPE`) or stalled (408 `SI`), as Envoy answers them. Never counted against the
    /// upstream.
    pub fn client_body_failed(&mut self, failure: &ClientBodyFailure) -> Response<UpstreamBody> {
        match failure {
            ClientBodyFailure::Aborted => {
                // Nobody reads the answer: the exchange is recorded with no status, as Envoy's.
                let reason = "the client went away before its request body ended";
                self.exchange.fail(0, Flag::DownstreamClosed, reason);
                self.record();
                local::text(StatusCode::BAD_REQUEST, Bytes::new())
            }
            ClientBodyFailure::Malformed(why) => self.answer(
                StatusCode::BAD_REQUEST,
                Flag::DownstreamProtocolError,
                format!("the request body is malformed: {why}"),
            ),
            ClientBodyFailure::IdleTimeout(d) => self.answer(
                StatusCode::REQUEST_TIMEOUT,
                Flag::StreamIdleTimeout,
                format!("no byte of the request body came for {d:?}"),
            ),
        }
    }

    /// Records a response the proxy made itself without a failure (redirect, direct response).
    pub fn local_response(&mut self, resp: Response<UpstreamBody>) -> Response<UpstreamBody> {
        use http_body::Body as _;
        self.exchange.status = resp.status().as_u16();
        self.exchange.response_bytes = resp.body().size_hint().exact().unwrap_or(0);
        self.record();
        resp
    }

    fn record(&mut self) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        self.exchange.duration = self.started.elapsed();
        if let Some(upload) = &self.upload {
            self.exchange.request_bytes = upload.bytes();
        }
        self.telemetry.record(&self.exchange);
    }
}

/// Boxed: a request's record is made once and moved by pointer from step to step into the
/// answer's body (by value it was 400 bytes copied at each of six moves a request).
impl OnBodyEnd for Box<ExchangeRecord> {
    fn finish(mut self, summary: BodySummary) {
        self.body_ended(summary);
    }
}

impl ExchangeRecord {
    /// Records the exchange as its response body ended.
    fn body_ended(&mut self, summary: BodySummary) {
        self.exchange.response_bytes = summary.bytes;
        self.exchange.body = summary.captured;
        let outcome = if let Some(e) = summary.error {
            self.exchange.flag = Flag::ProtocolError;
            self.exchange.reason = Some(format!("response body failed: {e}"));
            Outcome::Failure
        } else {
            if summary.dropped {
                self.exchange.flag = Flag::DownstreamClosed;
                self.exchange.reason = Some("client went away before the response ended".into());
            }
            Outcome::Status(self.exchange.status)
        };
        if let Some(guard) = &self.in_flight {
            guard.record(outcome);
        }
        self.record();
    }
}

impl Drop for ExchangeRecord {
    /// The fallback: the request was dropped before any answer (the client went away while the
    /// upstream was working).
    fn drop(&mut self) {
        if !self.recorded {
            self.exchange.flag = Flag::DownstreamClosed;
            self.exchange.reason = Some("client went away before the response".into());
            self.record();
        }
    }
}

/// Counts a request against its cluster's and endpoint's in-flight figures while it lives.
pub(super) struct InFlight {
    cluster: Arc<Cluster>,
    endpoint: Option<usize>,
}

impl InFlight {
    /// Enters `cluster` (and `endpoint`); `None` when the cluster's request limit is reached.
    pub fn enter(cluster: &Arc<Cluster>, endpoint: Option<usize>) -> Option<Self> {
        let now = cluster.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        if cluster.policy.max_requests.is_some_and(|max| now > max) {
            cluster.in_flight.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        if let Some(i) = endpoint {
            cluster.endpoints[i].active.fetch_add(1, Ordering::Relaxed);
        }
        Some(Self {
            cluster: cluster.clone(),
            endpoint,
        })
    }

    /// Feeds outlier detection with the outcome of the exchange with the endpoint.
    pub fn record(&self, outcome: Outcome) {
        if let Some(i) = self.endpoint {
            self.cluster.record(&self.cluster.endpoints[i], outcome);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.cluster.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some(i) = self.endpoint {
            self.cluster.endpoints[i]
                .active
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}
