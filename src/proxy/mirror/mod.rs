//! Mirroring: fire-and-forget copies of a request to shadow destinations.
//!
//! A mirrored copy never delays, fails or answers the user:
//! - it is sent from its own task ([`send`]); the primary never waits for it;
//! - its body comes from a [`Tap`] on the client's body, bounded by the mirror body limit, and it
//!   is sent only once that body has ended whole: a request whose declared length is over the
//!   limit, whose body grows past it, or whose client goes away mid-body is not mirrored at all
//!   (a mirror never sees a request it will not get whole); the tee never waits for a mirror;
//! - at most `max_in_flight` mirrors run at once (a semaphore; when none is free the copy is
//!   dropped and counted), and each is time-limited;
//! - its response is read to the end and dropped, after being handed to the telemetry hooks
//!   (the comparison uses it).
//!
//! Outcomes are counted ([`outcome`]). They are not fed to outlier detection: a mirror cut off
//! with its primary, or slower than the mirror timeout, must not eject endpoints that serve real
//! traffic.

mod buffer;
mod outcome;
mod send;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::{ChannelBody, Tap};
use crate::model::Cluster;
use crate::model::host::split_authority;
use crate::telemetry::Telemetry;
use crate::upstream::Upstreams;
pub use outcome::{MirrorMetrics, MirrorOutcome, MirrorStats};

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
    /// Bytes of mirrored request bodies held at once, across all mirrors; a copy that does not
    /// fit is dropped (`dropped_overflow`).
    pub memory_budget: usize,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            timeout: Duration::from_secs(10),
            body_limit: 1 << 20,
            shadow_host_suffix: true,
            memory_budget: 64 << 20,
        }
    }
}

/// Sends mirrored copies.
pub struct Mirrorer {
    /// Limits.
    pub config: MirrorConfig,
    upstreams: Arc<Upstreams>,
    telemetry: Arc<Telemetry>,
    permits: Arc<Semaphore>,
    budget: Arc<Semaphore>,
    /// Outcome counts.
    pub stats: MirrorStats,
    metrics: Option<MirrorMetrics>,
}

/// A mirror that will be sent once the primary request is under way.
pub struct PendingMirror {
    /// Destination.
    pub cluster: Arc<Cluster>,
    /// The request's consistent-hash key for this cluster, if it hashes.
    pub hash: Option<u64>,
    permit: OwnedSemaphorePermit,
    body: Option<ChannelBody>,
}

/// What a mirrored copy is made of: the primary's upstream request head and names.
#[derive(Debug, Clone, Copy)]
pub struct MirrorRequest<'a> {
    /// The primary's upstream head (headers after the proxy's own additions).
    pub head: &'a http::request::Parts,
    /// The primary's upstream URI (its path and query are the copy's).
    pub uri: &'a http::Uri,
    /// `x-request-id`.
    pub request_id: Option<&'a http::HeaderValue>,
    /// Route name.
    pub route: &'a std::sync::Arc<str>,
    /// Compare the answer with the primary's under this pair id.
    pub pair: Option<u64>,
}

impl Mirrorer {
    /// A mirrorer with `config`, sending through `upstreams`, recording to `telemetry` and
    /// registering its metrics into `registry` (none: metrics off).
    pub fn new(
        config: MirrorConfig,
        upstreams: Arc<Upstreams>,
        telemetry: Arc<Telemetry>,
        registry: Option<&mut Registry>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_in_flight));
        let metrics =
            registry.map(|r| MirrorMetrics::new(r, permits.clone(), config.max_in_flight));
        Self {
            budget: buffer::budget(config.memory_budget),
            config,
            upstreams,
            telemetry,
            permits,
            stats: MirrorStats::default(),
            metrics,
        }
    }

    /// Mirrors in flight now.
    pub fn in_flight(&self) -> usize {
        self.config.max_in_flight - self.permits.available_permits()
    }

    /// Counts an outcome.
    pub fn count(&self, cluster: &Cluster, outcome: MirrorOutcome) {
        self.stats.add(outcome);
        if let Some(m) = &self.metrics {
            m.count(cluster, outcome);
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
            let (tap, body) = Tap::new(self.config.body_limit);
            taps.push(tap);
            body
        });
        Some(PendingMirror {
            cluster: cluster.clone(),
            hash: None,
            permit,
            body,
        })
    }
}

/// `-shadow` appended to the host part, as Envoy does for mirrored copies.
///
/// ```
/// use shadowmesh::proxy::mirror::shadow_host;
///
/// assert_eq!(shadow_host("calcbackendsvc"), "calcbackendsvc-shadow");
/// assert_eq!(shadow_host("greeter-service:3000"), "greeter-service-shadow:3000");
/// ```
pub fn shadow_host(host: &str) -> String {
    let (name, port) = split_authority(host);
    let bracketed = host.starts_with('[');
    match (port, bracketed) {
        (Some(p), false) => format!("{name}-shadow:{p}"),
        _ => format!("{host}-shadow"),
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
        assert_eq!(shadow_host("[::1]:8080"), "[::1]:8080-shadow");
        assert_eq!(
            shadow_host("calcbackendsvc.challengeistio.svc.cluster.local"),
            "calcbackendsvc.challengeistio.svc.cluster.local-shadow"
        );
    }
}
