//! One exchange as the comparison sees it ([`Observed`]): what the comparator copies out of an
//! [`Exchange`](crate::telemetry::Exchange) of a sampled request, primary or mirror, tagged with
//! the proxy-made pair id (`Exchange.pair`) that joins a primary with its mirrors.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::decode::{Decoded, codings, decode};
use super::diff::Side;
use crate::telemetry::Flag;

/// One exchange as the comparison sees it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Pairs the primary with its mirrors (made by the proxy, unique per request).
    pub pair: u64,
    /// A mirrored copy?
    pub mirror: bool,
    /// Fully qualified service (shared with the proxy's peer: the comparison's group keys are
    /// made of these three, cloned per pair).
    pub service: Arc<str>,
    /// Route name.
    pub route: Arc<str>,
    /// Version that answered.
    pub version: Arc<str>,
    /// Status (0: none).
    pub status: u16,
    /// Response flag.
    pub flag: Flag,
    /// Response headers (detached from the connection's buffer; shared with the exchange).
    pub headers: Option<Arc<HeaderMap>>,
    /// First bytes of the body.
    pub body: Option<Bytes>,
    /// Full body size.
    pub size: u64,
    /// Duration.
    pub duration: Duration,
    /// `GET /path?query`.
    pub request: String,
    /// Mirrors sent for this request (primary only).
    pub mirrors_sent: u8,
    /// Fields to ignore for this route (annotation `shadowmesh.io/compare-ignore`).
    pub ignore: Arc<Vec<String>>,
    /// Arrays compared as sets on this route (annotation `shadowmesh.io/compare-unordered`).
    pub unordered: Arc<Vec<String>>,
    /// The body did not decode per its `content-encoding` (set by the engine, which decodes).
    pub undecodable: bool,
}

impl Observed {
    /// The answer, as [`diff_pair`](super::diff::diff_pair) compares it.
    pub(super) fn side(&self) -> Side<'_> {
        Side {
            status: self.status,
            headers: self.headers.as_deref(),
            body: self.body.as_ref(),
            size: self.size,
            undecodable: self.undecodable,
        }
    }

    /// Decodes the body per its `content-encoding`, keeping at most `limit` bytes: the body
    /// becomes the decoded one (and `size` its size when whole), or `undecodable` is set.
    pub(super) fn decode_body(&mut self, limit: usize) {
        let codings = codings(self.headers.as_deref());
        let Some(body) = self.body.as_ref().filter(|_| !codings.is_empty()) else {
            return;
        };
        let whole = body.len() as u64 >= self.size;
        match decode(body, whole, &codings, limit) {
            Decoded::Body { bytes, complete } => {
                if complete {
                    self.size = bytes.len() as u64;
                }
                self.body = Some(bytes);
            }
            Decoded::Failed(_) => self.undecodable = true,
        }
    }

    /// What keeping it while it waits for its other half costs, roughly, in bytes.
    pub(super) fn bytes(&self) -> usize {
        256 + self.body.as_ref().map_or(0, Bytes::len)
            + self.service.len()
            + self.route.len()
            + self.version.len()
            + self.headers.as_ref().map_or(0, |h| h.len() * 64)
            + self.request.len()
    }

    /// No answer, or a 5xx.
    pub(super) fn failed(&self) -> bool {
        self.status == 0 || self.status >= 500
    }
}
