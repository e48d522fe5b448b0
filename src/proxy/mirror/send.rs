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

use super::{MirrorOutcome, MirrorRequest, Mirrorer, PendingMirror, shadow_host};
use crate::proxy::headers::is_grpc;
use crate::telemetry::{Exchange, Flag};
use crate::upstream::{BoxError, UpstreamBody, UpstreamError, root_cause};

/// A mirrored answer, read to the end.
struct Answer {
    status: u16,
    bytes: u64,
    body: Option<Bytes>,
    headers: Option<http::HeaderMap>,
}

enum MirrorError {
    Client(UpstreamError),
    Body(u16, BoxError),
}

impl Mirrorer {
    /// Sends `pending` as a copy of `req` from its own task; returns at once.
    pub fn spawn(self: &Arc<Self>, pending: PendingMirror, req: MirrorRequest<'_>) {
        let cluster = pending.cluster.clone();
        let mut ex = Exchange::new(req.head.method.clone(), req.path_and_query);
        ex.mirror = true;
        ex.request_id = req.request_id.to_string();
        ex.route = Some(req.route.to_string());
        ex.protocol = cluster.protocol.name();
        ex.grpc = is_grpc(&req.head.headers);
        ex.compare = req.pair.is_some();
        ex.pair = req.pair.unwrap_or(0);
        let Some(endpoint) = cluster.pick_index(fastrand::f64()) else {
            self.count(&cluster, MirrorOutcome::ConnectError);
            ex.peer = Some(cluster.peer(None).clone());
            ex.fail(0, Flag::NoHealthyUpstream, "no healthy upstream");
            self.telemetry.record(&ex);
            return;
        };
        ex.peer = Some(cluster.peer(Some(endpoint)).clone());
        let (body, cut_for_size) = match pending.body {
            Some((body, flag)) => (body.boxed_unsync(), Some(flag)),
            None => (
                http_body_util::Empty::new()
                    .map_err(|e| match e {})
                    .boxed_unsync(),
                None,
            ),
        };
        let target = &cluster.endpoints[endpoint].authority;
        let upstream_req = match self.build(&req, target, cluster.protocol.version(), body) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not build mirror request");
                self.count(&cluster, MirrorOutcome::Reset);
                return;
            }
        };
        let this = self.clone();
        let permit = pending.permit;
        tokio::spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            let active = &cluster.endpoints[endpoint].active;
            active.fetch_add(1, Ordering::Relaxed);
            let result = this
                .exchange(&cluster, endpoint, upstream_req, ex.compare)
                .await;
            active.fetch_sub(1, Ordering::Relaxed);
            ex.duration = started.elapsed();
            let cut = cut_for_size.is_some_and(|f| f.load(Ordering::Relaxed));
            let outcome = this.outcome(result, cut, &mut ex);
            this.count(&cluster, outcome);
            this.telemetry.record(&ex);
        });
    }

    /// The copy's request: the primary's head, to `endpoint`, Host `-shadow` when configured.
    fn build(
        &self,
        req: &MirrorRequest<'_>,
        endpoint: &http::uri::Authority,
        version: http::Version,
        body: UpstreamBody,
    ) -> Result<Request<UpstreamBody>, http::Error> {
        let mut builder = Request::builder()
            .method(req.head.method.clone())
            .uri(format!("http://{endpoint}{}", req.path_and_query))
            .version(version);
        if let Some(h) = builder.headers_mut() {
            *h = req.head.headers.clone();
            if self.config.shadow_host_suffix
                && let Some(host) = h.get(header::HOST).and_then(|v| v.to_str().ok())
                && let Ok(v) = HeaderValue::from_str(&shadow_host(host))
            {
                h.insert(header::HOST, v);
            }
        }
        builder.body(body)
    }

    /// Sends the copy and reads its answer to the end, within the mirror timeout (`None`: the
    /// timeout passed).
    async fn exchange(
        &self,
        cluster: &crate::model::Cluster,
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
        let send = self
            .upstreams
            .send(cluster.protocol, &cluster.policy, authority, req, true);
        let read = async {
            let resp = send.await.map_err(MirrorError::Client)?;
            read_answer(resp, capture).await
        };
        tokio::time::timeout(self.config.timeout, read).await.ok()
    }

    /// Names how the copy ended, filling `ex` with what is known.
    fn outcome(
        &self,
        result: Option<Result<Answer, MirrorError>>,
        cut_for_size: bool,
        ex: &mut Exchange,
    ) -> MirrorOutcome {
        match result {
            Some(Ok(answer)) => {
                ex.status = answer.status;
                ex.response_bytes = answer.bytes;
                ex.body = answer.body;
                ex.headers = answer.headers;
                MirrorOutcome::Sent
            }
            Some(Err(MirrorError::Client(e))) if cut_for_size => {
                let reason = format!("cut off: {}", root_cause(&e));
                ex.fail(0, Flag::MirrorBodyTooLarge, reason);
                MirrorOutcome::SkippedBodyTooLarge
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

/// Reads a mirrored answer to the end, keeping its head and first `capture` bytes when asked.
async fn read_answer(
    resp: http::Response<hyper::body::Incoming>,
    capture: usize,
) -> Result<Answer, MirrorError> {
    let status = resp.status().as_u16();
    let headers = (capture > 0).then(|| resp.headers().clone());
    let mut body = resp.into_body();
    let mut bytes = 0u64;
    let mut captured = (capture > 0).then(bytes::BytesMut::new);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| MirrorError::Body(status, Box::new(e)))?;
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
