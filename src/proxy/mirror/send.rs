//! Sending one mirrored copy from its own task: pick the endpoint, build the request from the
//! primary's head (Host `-shadow`), send it under the mirror timeout, read the answer to the end
//! (captured for the comparison when sampled), then count the outcome and record the exchange
//! once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderValue, Request, header};
use http_body_util::BodyExt;
use tokio::time::Instant;

use super::buffer::whole_body;
use super::{MirrorOutcome, MirrorRequest, Mirrorer, PendingMirror, shadow_host};
use crate::model::Cluster;
use crate::proxy::headers::is_grpc;
use crate::proxy::server::deadline::Deadline;
use crate::telemetry::{Exchange, Flag};
use crate::upstream::wire::passed::{self, PassedFields};
use crate::upstream::wire::spare;
use crate::upstream::{BoxError, UpstreamBody, UpstreamError};

/// A mirrored answer, read to the end.
struct Answer {
    status: u16,
    bytes: u64,
    body: Option<Bytes>,
    /// The head's fields, when captured.
    headers: Option<Captured>,
}

/// A mirrored answer's fields as captured.
enum Captured {
    /// A map whose values may be slices of the connection's read buffer (to be detached).
    Map(http::HeaderMap),
    /// Fields passed on as they came, already copied out of the read buffer.
    Detached(http::HeaderMap),
}

enum MirrorError {
    Client(UpstreamError),
    Body(u16, BoxError),
}

impl Mirrorer {
    /// Sends `pending` as a copy of `req` from its own task; returns at once.
    pub fn spawn(self: &Arc<Self>, pending: PendingMirror, req: MirrorRequest<'_>) {
        let cluster = pending.cluster.clone();
        let path_and_query = (req.uri.path_and_query().cloned())
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        let mut ex = Exchange::new(req.head.method.clone(), path_and_query.as_str());
        ex.mirror = true;
        ex.request_id = req.request_id.cloned();
        ex.route = Some(req.route.clone());
        ex.protocol = cluster.protocol.name();
        ex.grpc = is_grpc(&req.head.headers);
        ex.compare = req.pair.is_some();
        ex.pair = req.pair.unwrap_or(0);
        let Some(endpoint) = cluster.pick_hashed(pending.hash, fastrand::f64()) else {
            self.count(&cluster, MirrorOutcome::ConnectError);
            ex.peer = Some(cluster.peer(None).clone());
            ex.fail(0, Flag::NoHealthyUpstream, "no healthy upstream");
            self.telemetry.record(&ex);
            return;
        };
        ex.peer = Some(cluster.peer(Some(endpoint)).clone());
        // A mirrored copy is sent once: no retry policy applies to it.
        ex.attempts = 1;
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(http::uri::Scheme::HTTP);
        uri.authority = Some(cluster.endpoints[endpoint].authority.clone());
        uri.path_and_query = Some(path_and_query);
        let Ok(uri) = http::Uri::from_parts(uri) else {
            tracing::warn!("could not build a mirror request URI");
            self.count(&cluster, MirrorOutcome::Reset);
            return;
        };
        let head = OwnedHead {
            method: req.head.method.clone(),
            uri,
            version: cluster.protocol.version(),
            headers: self.mirror_headers(&req.head.headers),
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _permit = pending.permit;
            // A mirror gets the whole body or nothing: it is sent once the body has ended.
            let body = match whole_body(pending.body, &this.budget).await {
                Ok(body) => body,
                Err(outcome) => {
                    this.not_sent(&cluster, outcome, &mut ex);
                    return;
                }
            };
            let upstream_req = head.into_request(body);
            let started = Instant::now();
            let active = &cluster.endpoints[endpoint].active;
            active.fetch_add(1, Ordering::Relaxed);
            // Boxed: the exchange's state (the upstream connection's futures) is large, and
            // inline it would be copied into every mirror task when it is spawned.
            let exchange = this.exchange(&cluster, endpoint, upstream_req, ex.compare);
            let result = Box::pin(exchange).await;
            active.fetch_sub(1, Ordering::Relaxed);
            ex.duration = started.elapsed();
            let outcome = this.outcome(result, &mut ex);
            this.count(&cluster, outcome);
            this.telemetry.record(&ex);
        });
    }

    /// The copy's headers: the primary's, with Host `-shadow` when configured.
    fn mirror_headers(&self, primary: &http::HeaderMap) -> http::HeaderMap {
        let mut headers = primary.clone();
        if self.config.shadow_host_suffix
            && let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok())
            && let Ok(v) = HeaderValue::from_str(&shadow_host(host))
        {
            headers.insert(header::HOST, v);
        }
        headers
    }

    /// Counts and records a copy that was not sent (its body was too large, the client went
    /// away mid-body).
    fn not_sent(&self, cluster: &Cluster, outcome: MirrorOutcome, ex: &mut Exchange) {
        let (flag, reason) = match outcome {
            MirrorOutcome::SkippedBodyTooLarge => (
                Flag::MirrorBodyTooLarge,
                "not sent: the body is larger than the mirror body limit",
            ),
            MirrorOutcome::DroppedOverflow => (
                Flag::MirrorOverflow,
                "not sent: the mirror memory budget is used up",
            ),
            MirrorOutcome::PrimaryStopped => (
                Flag::None,
                "not sent: the primary's exchange ended before the body was read whole",
            ),
            _ => (
                Flag::DownstreamClosed,
                "not sent: the client's body did not end whole",
            ),
        };
        ex.fail(0, flag, reason);
        self.count(cluster, outcome);
        self.telemetry.record(ex);
    }

    /// Sends the copy and reads its answer to the end, within the mirror timeout (`None`: the
    /// timeout passed).
    async fn exchange(
        &self,
        cluster: &Cluster,
        endpoint: usize,
        req: Request<UpstreamBody>,
        compare: bool,
    ) -> Option<Result<Answer, MirrorError>> {
        let capture = if compare {
            self.telemetry.capture_limit()
        } else {
            0
        };
        let authority = &cluster.endpoints[endpoint].authority;
        let (head, body) = req.into_parts();
        let send = (self.upstreams).send(
            cluster.protocol,
            &cluster.policy,
            authority,
            (&head, body),
            true,
        );
        let read = async {
            let resp = send.await.map_err(MirrorError::Client)?;
            read_answer(resp, capture).await
        };
        tokio::select! {
            // An answer whole when the deadline passes is an answer (as `tokio::time::timeout`
            // has it): the read is polled first.
            biased;
            answer = read => Some(answer),
            () = Deadline::after(self.config.timeout) => None,
        }
    }

    /// Names how the copy ended, filling `ex` with what is known.
    fn outcome(
        &self,
        result: Option<Result<Answer, MirrorError>>,
        ex: &mut Exchange,
    ) -> MirrorOutcome {
        match result {
            Some(Ok(answer)) => {
                ex.status = answer.status;
                ex.response_bytes = answer.bytes;
                ex.body = answer.body;
                match answer.headers {
                    Some(Captured::Map(headers)) => ex.capture_headers(&headers),
                    Some(Captured::Detached(headers)) => ex.keep_captured(headers),
                    None => {}
                }
                MirrorOutcome::Sent
            }
            Some(Err(MirrorError::Client(e))) => {
                let failure = e.failure();
                ex.fail(0, failure.flag, failure.reason);
                if failure.flag == Flag::ConnectFailure {
                    MirrorOutcome::ConnectError
                } else {
                    MirrorOutcome::Reset
                }
            }
            Some(Err(MirrorError::Body(status, e))) => {
                ex.fail(
                    status,
                    Flag::ProtocolError,
                    format!("response body failed: {e}"),
                );
                MirrorOutcome::Reset
            }
            None => {
                let reason = format!("no complete answer within {:?}", self.config.timeout);
                ex.fail(0, Flag::Timeout, reason);
                MirrorOutcome::Timeout
            }
        }
    }
}

/// The request head of a copy, owned by its task.
struct OwnedHead {
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
}

impl OwnedHead {
    fn into_request(self, body: UpstreamBody) -> Request<UpstreamBody> {
        let mut req = Request::new(body);
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers;
        req
    }
}

/// Reads a mirrored answer to the end, keeping its head and first `capture` bytes when asked.
async fn read_answer(
    resp: http::Response<crate::upstream::ResponseBody>,
    capture: usize,
) -> Result<Answer, MirrorError> {
    let status = resp.status().as_u16();
    let (head, mut body) = resp.into_parts();
    let passed = head.extensions.get::<PassedFields>();
    let headers = (capture > 0).then(|| match passed {
        Some(fields) => Captured::Detached(passed::detached(&head.headers, fields)),
        None => Captured::Map(head.headers),
    });
    if passed.is_some() {
        // The set came from the thread's stash (see `spare`): back it goes.
        spare::give_extensions(head.extensions);
    }
    let mut bytes = 0u64;
    let mut captured = (capture > 0).then(bytes::BytesMut::new);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| MirrorError::Body(status, e))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
            if let Some(buf) = captured.as_mut() {
                let room = capture.saturating_sub(buf.len());
                buf.extend_from_slice(&data[..room.min(data.len())]);
            }
        }
    }
    Ok(Answer {
        status,
        bytes,
        body: captured.map(|b| b.freeze()),
        headers,
    })
}
