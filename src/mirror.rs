//! Mirroring: fire-and-forget copies of a request to shadow destinations.
//!
//! A mirrored copy never delays, fails or answers the user:
//! - it is sent from its own task; the primary never waits for it;
//! - its body comes from a [`Tap`] on the client's body, bounded by the mirror body limit
//!   (a request whose declared length is over the limit is not mirrored at all; one that grows
//!   past it is cut off); the tee never waits for a mirror;
//! - at most `max_in_flight` mirrors run at once (a semaphore; when none is free the copy is
//!   dropped and counted), and each is time-limited;
//! - its response is read to the end and dropped, after being handed to the telemetry hooks
//!   (the comparison uses it).
//!
//! Outcomes are counted in [`MirrorStats`] and reported per destination to observers. They are
//! not fed to outlier detection: a mirror cut off with its primary, or slower than the mirror
//! timeout, must not eject endpoints that serve real traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, header};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::model::Cluster;
use crate::proxy::body::{ChannelBody, Tap};
use crate::telemetry::{Exchange, Flag, Telemetry};
use crate::upstream::{BoxError, UpstreamError, Upstreams, classify, root_cause};

/// Mirroring limits.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// Mirrors in flight at once, across all destinations.
    pub max_in_flight: usize,
    /// Time limit for one mirrored exchange (request, response and its body).
    pub timeout: Duration,
    /// Request bodies larger than this are not mirrored.
    pub body_limit: usize,
    /// Append `-shadow` to the Host/`:authority` of mirrored copies (Envoy's default).
    pub shadow_host_suffix: bool,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            timeout: Duration::from_secs(10),
            body_limit: 1 << 20,
            shadow_host_suffix: true,
        }
    }
}

/// Mirror outcomes, as counted in `shadowmesh_mirror_requests_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MirrorOutcome {
    /// Sent and answered.
    Sent,
    /// Not selected by the mirror percentage.
    SkippedPercentage,
    /// Not sent: body over the limit.
    SkippedBodyTooLarge,
    /// Not sent: too many mirrors in flight.
    DroppedOverflow,
    /// Gave up after the mirror timeout.
    Timeout,
    /// Could not connect.
    ConnectError,
    /// Reset or protocol error.
    Reset,
}

impl MirrorOutcome {
    /// All outcomes.
    pub const ALL: [MirrorOutcome; 7] = [
        Self::Sent,
        Self::SkippedPercentage,
        Self::SkippedBodyTooLarge,
        Self::DroppedOverflow,
        Self::Timeout,
        Self::ConnectError,
        Self::Reset,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::SkippedPercentage => "skipped_percentage",
            Self::SkippedBodyTooLarge => "skipped_body_too_large",
            Self::DroppedOverflow => "dropped_overflow",
            Self::Timeout => "timeout",
            Self::ConnectError => "connect_error",
            Self::Reset => "reset",
        }
    }
}

/// Receives mirror outcomes (metrics).
pub trait MirrorObserver: Send + Sync {
    /// One mirror to `cluster` ended with `outcome`.
    fn on_mirror(&self, cluster: &Cluster, outcome: MirrorOutcome);
}

/// Counts of outcomes (all destinations), for tests and the admin page.
#[derive(Debug, Default)]
pub struct MirrorStats {
    counts: [AtomicU64; 7],
}

impl MirrorStats {
    /// Adds one.
    pub fn add(&self, outcome: MirrorOutcome) {
        let i = MirrorOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Current count.
    pub fn get(&self, outcome: MirrorOutcome) -> u64 {
        let i = MirrorOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.counts[i].load(Ordering::Relaxed)
    }
}

/// Sends mirrored copies.
pub struct Mirrorer {
    /// Limits.
    pub config: MirrorConfig,
    upstreams: Arc<Upstreams>,
    telemetry: Arc<Telemetry>,
    permits: Arc<Semaphore>,
    /// Outcome counts.
    pub stats: MirrorStats,
    observers: Vec<Arc<dyn MirrorObserver>>,
}

/// A mirror that will be sent once the primary request is under way.
pub struct PendingMirror {
    /// Destination.
    pub cluster: Arc<Cluster>,
    permit: OwnedSemaphorePermit,
    body: Option<(ChannelBody, Arc<AtomicBool>)>,
}

impl Mirrorer {
    /// A mirrorer with `config`, sending through `upstreams` and recording to `telemetry`.
    pub fn new(config: MirrorConfig, upstreams: Arc<Upstreams>, telemetry: Arc<Telemetry>) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_in_flight));
        Self {
            config,
            upstreams,
            telemetry,
            permits,
            stats: MirrorStats::default(),
            observers: Vec::new(),
        }
    }

    /// Adds an observer of outcomes.
    pub fn add_observer(&mut self, o: Arc<dyn MirrorObserver>) {
        self.observers.push(o);
    }

    /// Mirrors in flight now.
    pub fn in_flight(&self) -> usize {
        self.config.max_in_flight - self.permits.available_permits()
    }

    /// Counts an outcome.
    pub fn count(&self, cluster: &Cluster, outcome: MirrorOutcome) {
        self.stats.add(outcome);
        for o in &self.observers {
            o.on_mirror(cluster, outcome);
        }
    }

    /// Prepares a mirror to `cluster`: takes a permit and, when the request has a body, a tap.
    /// `declared_len` is the request's Content-Length. Returns `None` (counted) when the copy
    /// cannot be sent.
    pub fn prepare(
        &self,
        cluster: &Arc<Cluster>,
        has_body: bool,
        declared_len: Option<u64>,
        taps: &mut Vec<Tap>,
    ) -> Option<PendingMirror> {
        if declared_len.is_some_and(|n| n > self.config.body_limit as u64) {
            self.count(cluster, MirrorOutcome::SkippedBodyTooLarge);
            return None;
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            self.count(cluster, MirrorOutcome::DroppedOverflow);
            return None;
        };
        let body = has_body.then(|| {
            let (tap, body, too_large) = Tap::new(self.config.body_limit);
            taps.push(tap);
            (body, too_large)
        });
        Some(PendingMirror {
            cluster: cluster.clone(),
            permit,
            body,
        })
    }

    /// Sends `pending` with `head` (the primary's upstream headers) from its own task.
    /// `(request_id, route)` name it in telemetry; `pair`: its answer is kept for comparison
    /// with the primary's under this pair id.
    pub fn spawn(
        self: &Arc<Self>,
        pending: PendingMirror,
        head: &http::request::Parts,
        path_and_query: &str,
        (request_id, route): (&str, &str),
        pair: Option<u64>,
    ) {
        let compare = pair.is_some();
        let pair = pair.unwrap_or(0);
        let (upstreams, telemetry) = (&self.upstreams, &self.telemetry);
        let cluster = pending.cluster.clone();
        let Some(endpoint_index) = cluster.pick_index(fastrand::f64()) else {
            self.count(&cluster, MirrorOutcome::ConnectError);
            let ex = Exchange {
                method: head.method.clone(),
                path: path_and_query.to_string(),
                peer: Some(cluster.peer(None).clone()),
                mirror: true,
                flag: Flag::NoHealthyUpstream,
                reason: Some("no healthy upstream".into()),
                request_id: request_id.to_string(),
                route: Some(route.to_string()),
                protocol: protocol_name(cluster.protocol),
                grpc: crate::proxy::headers::is_grpc(&head.headers),
                compare,
                pair,
                ..Default::default()
            };
            telemetry.record(&ex);
            return;
        };
        let endpoint = &cluster.endpoints[endpoint_index];
        let mut builder = Request::builder()
            .method(head.method.clone())
            .uri(format!("http://{}{}", endpoint.authority, path_and_query))
            .version(match cluster.protocol {
                crate::model::Protocol::Http1 => http::Version::HTTP_11,
                crate::model::Protocol::Http2 => http::Version::HTTP_2,
            });
        if let Some(h) = builder.headers_mut() {
            *h = head.headers.clone();
            if self.config.shadow_host_suffix
                && let Some(host) = h.get(header::HOST).and_then(|v| v.to_str().ok())
                && let Ok(v) = HeaderValue::from_str(&shadow_host(host))
            {
                h.insert(header::HOST, v);
            }
        }
        let (body, too_large) = match pending.body {
            Some((body, flag)) => (body.boxed_unsync(), Some(flag)),
            None => (
                http_body_util::Empty::new()
                    .map_err(|e| match e {})
                    .boxed_unsync(),
                None,
            ),
        };
        let req = match builder.body(body) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not build mirror request");
                self.count(&cluster, MirrorOutcome::Reset);
                return;
            }
        };
        let upstreams = upstreams.clone();
        let this = self.clone();
        let telemetry = telemetry.clone();
        let peer = cluster.peer(Some(endpoint_index)).clone();
        let method = head.method.clone();
        let grpc = crate::proxy::headers::is_grpc(&head.headers);
        let path = path_and_query.to_string();
        let request_id = request_id.to_string();
        let route = route.to_string();
        let permit = pending.permit;
        let capture = if compare {
            telemetry.capture_limit()
        } else {
            0
        };
        let timeout = self.config.timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            let endpoint = &cluster.endpoints[endpoint_index];
            endpoint.active.fetch_add(1, Ordering::Relaxed);
            let send = upstreams.send(
                cluster.protocol,
                &cluster.policy,
                &endpoint.authority,
                req,
                true,
            );
            let result = tokio::time::timeout(timeout, exchange(send, capture)).await;
            endpoint.active.fetch_sub(1, Ordering::Relaxed);
            let mut ex = Exchange {
                method,
                path,
                status: 0,
                duration: started.elapsed(),
                request_bytes: 0,
                response_bytes: 0,
                peer: Some(peer),
                mirror: true,
                flag: Flag::None,
                reason: None,
                request_id,
                route: Some(route),
                protocol: protocol_name(cluster.protocol),
                grpc,
                body: None,
                headers: None,
                mirrors_sent: 0,
                compare,
                pair,
                compare_ignore: None,
            };
            let cut_for_size = too_large.is_some_and(|f| f.load(Ordering::Relaxed));
            let outcome = match result {
                Ok(Ok((status, bytes, body, headers))) => {
                    ex.status = status;
                    ex.response_bytes = bytes;
                    ex.body = body;
                    ex.headers = headers;
                    MirrorOutcome::Sent
                }
                Ok(Err(MirrorError::Client(e))) if cut_for_size => {
                    ex.flag = Flag::MirrorBodyTooLarge;
                    ex.reason = Some(format!("cut off: {}", root_cause(&e)));
                    MirrorOutcome::SkippedBodyTooLarge
                }
                Ok(Err(MirrorError::Client(e))) => {
                    let (flag, _, reason) = classify(&e);
                    ex.flag = flag;
                    ex.reason = Some(reason);
                    if flag == Flag::ConnectFailure {
                        MirrorOutcome::ConnectError
                    } else {
                        MirrorOutcome::Reset
                    }
                }
                Ok(Err(MirrorError::Body(status, e))) => {
                    ex.status = status;
                    ex.flag = Flag::ProtocolError;
                    ex.reason = Some(format!("response body failed: {e}"));
                    MirrorOutcome::Reset
                }
                Err(_) => {
                    ex.flag = Flag::Timeout;
                    ex.reason = Some(format!("no complete answer within {timeout:?}"));
                    MirrorOutcome::Timeout
                }
            };
            this.count(&cluster, outcome);
            telemetry.record(&ex);
        });
    }
}

enum MirrorError {
    Client(UpstreamError),
    Body(u16, BoxError),
}

async fn exchange(
    send: impl std::future::Future<
        Output = Result<http::Response<hyper::body::Incoming>, UpstreamError>,
    >,
    capture: usize,
) -> Result<(u16, u64, Option<Bytes>, Option<http::HeaderMap>), MirrorError> {
    let resp = send.await.map_err(MirrorError::Client)?;
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
    Ok((status, bytes, captured.map(|b| b.freeze()), headers))
}

/// `-shadow` appended to the host part, as Envoy does for mirrored copies.
///
/// ```
/// use shadowmesh::mirror::shadow_host;
///
/// assert_eq!(shadow_host("calcbackendsvc"), "calcbackendsvc-shadow");
/// assert_eq!(shadow_host("greeter-service:3000"), "greeter-service-shadow:3000");
/// ```
pub fn shadow_host(host: &str) -> String {
    let (name, port) = crate::model::host::split_authority(host);
    let bracketed = host.starts_with('[');
    match (port, bracketed) {
        (Some(p), false) => format!("{name}-shadow:{p}"),
        _ => format!("{host}-shadow"),
    }
}

/// `HTTP/1.1` or `HTTP/2`.
pub fn protocol_name(p: crate::model::Protocol) -> &'static str {
    match p {
        crate::model::Protocol::Http1 => "HTTP/1.1",
        crate::model::Protocol::Http2 => "HTTP/2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_host_goes_before_the_port() {
        assert_eq!(shadow_host("calcbackendsvc"), "calcbackendsvc-shadow");
        assert_eq!(shadow_host("host:8080"), "host-shadow:8080");
        assert_eq!(
            shadow_host("greeter-service:3000"),
            "greeter-service-shadow:3000"
        );
        assert_eq!(
            shadow_host("calcbackendsvc.challengeistio.svc.cluster.local"),
            "calcbackendsvc.challengeistio.svc.cluster.local-shadow"
        );
    }
}
