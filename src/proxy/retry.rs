//! The forward step (8): the primary, tried and retried as Envoy's router retries it under the
//! route's [`RetryPolicy`].
//!
//! - Each try is classified ([`TryOutcome`]: a response's status and trailers-only
//!   `grpc-status`, a connect failure, a refused h2 stream, a reset, a per-try timeout) and
//!   retried while the policy's conditions hold and retries are left. A retriable last try is
//!   marked `URX` (the retry limit was reached).
//! - The route's `timeout` covers all tries (it starts when the client's body has ended, as
//!   Envoy's does) and is never retried; `perTryTimeout` limits each try's wait for headers.
//! - Between tries, Envoy's jittered exponential back-off (25 ms base, 250 ms max unless the
//!   policy sets a base). Each retry picks an endpoint avoiding the hosts tried (up to 5 re-picks,
//!   as Istio configures Envoy), unless the cluster balances by consistent hash.
//! - The body is replayed from a bounded copy ([`Replay`], [`REPLAY_LIMIT`]); a bigger body, a
//!   failed one, or a response that came before the body ended is not retried. Mirrors read the
//!   client's body through the tee once, whatever the tries: they are sent once, never retried.
//! - A retried try's outcome feeds outlier detection for its host; its response is dropped.
//!   Only the last try's answer reaches the client and is recorded (once).

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body as _;
use http_body_util::BodyExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use super::body::{ClientBodyFailure, REPLAY_LIMIT, Replay, Stall, Tap, TeeBody, Upload};
use super::record::InFlight;
use super::server::ClientBody;
use super::steps::{Routed, Step, Upstream};
use super::try_limits::{Limits, route_timeout};
use super::{Proxy, RequestCtx, headers};
use crate::model::Cluster;
use crate::model::cluster::Outcome;
use crate::model::retry::{HOST_SELECTION_RETRY_MAX_ATTEMPTS, RetryPolicy, TryOutcome};
use crate::telemetry::Flag;
use crate::upstream::wire::passed::{self, PassedFields};
use crate::upstream::wire::spare;
use crate::upstream::{Failure, ResponseBody, UpstreamBody, UpstreamError, empty_body};

/// The longest wait for a try's body to come back from the connection that dropped it.
const BODY_BACK_WAIT: Duration = Duration::from_secs(1);

/// The proxy's retry counters (Envoy's `upstream_rq_retry` and
/// `upstream_rq_retry_limit_exceeded`, over all destinations).
#[derive(Debug, Clone, Default)]
pub struct RetryMetrics {
    retries: Counter,
    limit_exceeded: Counter,
}

impl RetryMetrics {
    /// Counters registered into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "shadowmesh_upstream_retries",
            "Retries of primary requests (Envoy's upstream_rq_retry)",
            m.retries.clone(),
        );
        registry.register(
            "shadowmesh_upstream_retry_limit_exceeded",
            "Requests whose last try was retriable but no retry was left (URX)",
            m.limit_exceeded.clone(),
        );
        m
    }

    /// Retries made so far.
    pub fn retries(&self) -> u64 {
        self.retries.get()
    }
}

/// What one try came to.
enum TryEnd {
    /// Response headers.
    Response(Response<ResponseBody>),
    /// No response; the policy may retry it.
    Failed(Failure, TryOutcome),
    /// The route timeout, or an upstream that stopped reading the body: never retried.
    Final(Failure),
    /// The client's body failed: the client's fault, never retried.
    Client(ClientBodyFailure),
}

impl Proxy {
    /// 8. forward: the primary, through the pooled client, retried as the route's policy says.
    ///    A failed client body is the client's fault and never counts against the upstream.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    pub(super) fn forward(
        &self,
        cx: &mut RequestCtx,
        routed: &Routed<'_>,
        mut upstream: Upstream,
        body: ClientBody,
        taps: Vec<Tap>,
        hash: Option<u64>,
    ) -> impl Future<Output = Step<Response<ResponseBody>>> {
        async move {
            let upload = Arc::new(Upload::default());
            cx.record.upload = Some(upload.clone());
            let idle = self.options.upload_idle_timeout;
            // A request without a body (most GETs) sends nothing: no tee to poll, no copy kept
            // for a retry, no boxes (the tee has told the mirrors and the upload it ended).
            let body = TeeBody::new(body, taps, upload.clone(), idle);
            let body = (!body.is_end_stream()).then(|| body.boxed_unsync());
            // The head is the upstream requests' (mirrors have copied it already): each try
            // sends it as it is then (aimed at the try's endpoint, with its attempt count).
            let head = std::mem::replace(&mut cx.parts, Request::new(()).into_parts().0);
            let from_h1 = head.version != http::Version::HTTP_2;
            let mut head = SpareOnDrop(head, from_h1);
            let timeout = match routed.decision.route.timeout {
                Some(t) if t.is_zero() => None,
                Some(t) => Some(t),
                None => self.options.request_timeout,
            };
            let mut limits = Limits::new(&upload, timeout, idle);
            cx.record.exchange.attempts = 1;
            let Some(policy) = routed.decision.route.retry.as_ref() else {
                let body = body.unwrap_or_else(empty_body);
                aim(&mut head.0, &upstream, routed.cluster);
                let req = (&head.0, body);
                let end = pin!(self.try_once(routed.cluster, req, None, &mut limits)).await;
                return cx.finish(end);
            };
            let mut replay = body.map(|body| Replay::new(body, REPLAY_LIMIT));
            let mut tried = Vec::new();
            for attempt in 1.. {
                cx.record.exchange.attempts = attempt;
                let (try_body, back) = body_of_try(replay.take());
                if attempt > 1 {
                    // The first try's count was set with the head (mirrors carry it too).
                    let count = headers::attempt_count(attempt);
                    (head.0.headers).insert(headers::X_ENVOY_ATTEMPT_COUNT.clone(), count);
                }
                aim(&mut head.0, &upstream, routed.cluster);
                let req = (&head.0, try_body);
                let per_try = policy.per_try_timeout;
                let end = pin!(self.try_once(routed.cluster, req, per_try, &mut limits)).await;
                let outcome = match &end {
                    TryEnd::Response(r) => outcome_of(r),
                    TryEnd::Failed(_, o) => *o,
                    TryEnd::Final(_) | TryEnd::Client(_) => return cx.finish(end),
                };
                if !policy.retry_on.would_retry(outcome) {
                    return cx.finish(end);
                }
                if attempt > policy.num_retries {
                    cx.record.exchange.retry_limit_exceeded = true;
                    self.retry_metrics.limit_exceeded.inc();
                    return cx.finish(end);
                }
                if matches!(end, TryEnd::Response(_)) && !upload.has_ended() {
                    // Answered before the client's body ended: passed on, not retried.
                    return cx.finish(end);
                }
                if let Some(back) = back {
                    let back = tokio::select! {
                        r = back => r.ok().filter(Replay::replayable),
                        () = &mut limits.deadline => return cx.finish(TryEnd::Final(limits.timed_out())),
                        () = tokio::time::sleep(BODY_BACK_WAIT) => None,
                    };
                    let Some(back) = back else {
                        return cx.finish(end);
                    };
                    replay = Some(back);
                }
                if let Some(guard) = &cx.record.in_flight {
                    guard.record(match outcome {
                        TryOutcome::Response { status, .. } => Outcome::Status(status),
                        _ => Outcome::Failure,
                    });
                }
                drop(end);
                self.retry_metrics.retries.inc();
                let wait = policy.backoff.delay(attempt, fastrand::f64());
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut limits.deadline => return cx.finish(TryEnd::Final(limits.timed_out())),
                }
                upstream = cx.next_endpoint(routed, upstream, &mut tried, hash, policy)?;
            }
            unreachable!("the tries end by returning")
        }
    }

    /// One try, under the per-try timeout and the limits spanning all tries.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future; see ARCHITECTURE.md, \"Small futures\""
    )]
    fn try_once(
        &self,
        cluster: &Cluster,
        req: (&http::request::Parts, UpstreamBody),
        per_try: Option<Duration>,
        limits: &mut Limits,
    ) -> impl Future<Output = TryEnd> {
        async move {
            let endpoint = (req.0.uri.authority()).expect("aimed at an endpoint");
            // Pinned where it is made: `select!` then holds a pointer, not a second copy of the
            // send's 1.4 KB future (a copy into memory the request had not touched yet).
            let sent = pin!((self.upstreams).send(
                cluster.protocol,
                &cluster.policy,
                endpoint,
                req,
                false
            ));
            let upload = limits.upload.clone();
            let per_try_timer = async {
                match per_try {
                    Some(t) => {
                        upload.ended().await;
                        tokio::time::sleep(t).await;
                    }
                    None => std::future::pending().await,
                }
            };
            let idle = limits.idle.unwrap_or_default();
            let timeout = limits.timeout;
            let Limits {
                upload,
                deadline,
                stalled,
                ..
            } = limits;
            let stalled = async {
                match stalled.as_mut() {
                    Some(stalled) => stalled.as_mut().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                sent = sent => match sent {
                    Ok(resp) => TryEnd::Response(resp),
                    Err(e) => match upload.failure() {
                        Some(failure) => TryEnd::Client(failure.clone()),
                        None => failed(&e),
                    },
                },
                () = &mut *deadline => TryEnd::Final(route_timeout(timeout)),
                () = per_try_timer => TryEnd::Failed(
                    Failure {
                        flag: Flag::Timeout,
                        status: 504,
                        reason: format!("upstream per-try timeout ({:?})", per_try.unwrap_or_default()),
                    },
                    TryOutcome::PerTryTimeout,
                ),
                stall = stalled => match stall {
                    Stall::ClientSilent => TryEnd::Client(ClientBodyFailure::IdleTimeout(idle)),
                    Stall::UpstreamNotReading => TryEnd::Final(Failure {
                        flag: Flag::Timeout,
                        status: 504,
                        reason: format!("the upstream read none of the request body for {idle:?}"),
                    }),
                },
            }
        }
    }
}

impl RequestCtx {
    /// The last try's answer: its response, or the failure recorded and answered.
    fn finish(&mut self, end: TryEnd) -> Step<Response<ResponseBody>> {
        match end {
            TryEnd::Response(resp) => Ok(resp),
            TryEnd::Failed(failure, _) | TryEnd::Final(failure) => {
                Err(Box::new(self.record.upstream_failed(failure)))
            }
            TryEnd::Client(failure) => Err(Box::new(self.record.client_body_failed(&failure))),
        }
    }

    /// The endpoint of the next try: the load balancer's pick, re-picked (up to Envoy's 5 times)
    /// while it is a host already tried, unless the policy keeps previous hosts.
    fn next_endpoint(
        &mut self,
        routed: &Routed<'_>,
        previous: Upstream,
        tried: &mut Vec<usize>,
        hash: Option<u64>,
        policy: &RetryPolicy,
    ) -> Step<Upstream> {
        let cluster = routed.cluster;
        // The previous try's hold on its cluster and endpoint ends before the next one's.
        self.record.in_flight = None;
        let Some(prev) = previous.endpoint else {
            // Passthrough: the host the request named, again.
            let Some(guard) = InFlight::enter(cluster, None) else {
                return Err(self.overflow());
            };
            self.record.in_flight = Some(guard);
            return Ok(previous);
        };
        tried.push(prev);
        let avoid = policy.avoids_previous_hosts(cluster.policy.lb.is_hash());
        let mut pick = cluster.pick_hashed(hash, fastrand::f64());
        for _ in 0..HOST_SELECTION_RETRY_MAX_ATTEMPTS {
            match pick {
                Some(i) if avoid && tried.contains(&i) => {
                    // A hashing cluster re-picks at random, as Envoy's ring walks on.
                    pick = cluster.pick_hashed(None, fastrand::f64());
                }
                _ => break,
            }
        }
        let Some(i) = pick else {
            let reason = "no healthy upstream".to_string();
            return Err(self.answer(
                http::StatusCode::SERVICE_UNAVAILABLE,
                Flag::NoHealthyUpstream,
                reason,
            ));
        };
        self.record.exchange.peer = Some(cluster.peer(Some(i)).clone());
        let Some(guard) = InFlight::enter(cluster, Some(i)) else {
            return Err(self.overflow());
        };
        self.record.in_flight = Some(guard);
        Ok(previous.to(cluster.endpoints[i].authority.clone(), Some(i)))
    }

    fn overflow(&mut self) -> Box<Response<UpstreamBody>> {
        let reason = "upstream connection pool overflow".to_string();
        self.answer(
            http::StatusCode::SERVICE_UNAVAILABLE,
            Flag::Overflow,
            reason,
        )
    }
}

/// The upstream requests' head: its header map goes back to the thread's spares when the
/// forward step ends, however it ends (`upstream::wire::spare`), if the project's HTTP/1.1
/// parser made it (the second field). An HTTP/2 client's map is hyper's, and may hold
/// thousands of repeated values in a table `HeaderMap::capacity` does not count.
struct SpareOnDrop(http::request::Parts, bool);

impl Drop for SpareOnDrop {
    fn drop(&mut self) {
        if self.1 {
            spare::give(std::mem::take(&mut self.0.headers));
        }
    }
}

/// Aims the head at the try's endpoint (its URI) with the cluster's HTTP version.
fn aim(head: &mut http::request::Parts, upstream: &Upstream, cluster: &Cluster) {
    head.uri = upstream.uri.clone();
    head.version = cluster.protocol.version();
}

/// A try's body: the kept body replayed and where it comes back, or none.
fn body_of_try(
    replay: Option<Replay>,
) -> (UpstreamBody, Option<tokio::sync::oneshot::Receiver<Replay>>) {
    match replay {
        Some(replay) => {
            let (body, back) = replay.into_body();
            (body.boxed_unsync(), Some(back))
        }
        None => (empty_body(), None),
    }
}

/// A failed try as the client would be told, and as the retry conditions see it.
fn failed(e: &UpstreamError) -> TryEnd {
    let failure = e.failure();
    let outcome = match failure.flag {
        Flag::ConnectFailure => TryOutcome::ConnectFailure,
        _ if e.refused_stream() => TryOutcome::RefusedStream,
        _ => TryOutcome::Reset,
    };
    TryEnd::Failed(failure, outcome)
}

/// A response's head as the retry conditions see it.
fn outcome_of(resp: &Response<ResponseBody>) -> TryOutcome {
    let passed = resp.extensions().get::<PassedFields>();
    let field = |name| passed::field(resp.headers(), passed, name);
    TryOutcome::Response {
        status: resp.status().as_u16(),
        grpc_status: (field(&headers::GRPC_STATUS))
            .and_then(|v| std::str::from_utf8(v.trim_ascii()).ok())
            .and_then(|v| v.parse().ok()),
        rate_limited: field(&headers::X_ENVOY_RATELIMITED).is_some(),
    }
}
