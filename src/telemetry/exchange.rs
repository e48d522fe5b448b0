//! [`Exchange`]: what happened in one upstream exchange (primary or mirrored) or one locally
//! answered request, and its [`Flag`] as Envoy spells it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::Peer;

/// Response flags, as Envoy spells them in access logs and Istio's `response_flags` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Flag {
    /// `-`: none.
    #[default]
    None,
    /// `NR`: no route.
    NoRoute,
    /// `UH`: no healthy upstream.
    NoHealthyUpstream,
    /// `UF`: upstream connection failure.
    ConnectFailure,
    /// `UC`: upstream connection terminated (reset).
    UpstreamReset,
    /// `UT`: upstream request timeout.
    Timeout,
    /// `UO`: overflow (connection pool limit).
    Overflow,
    /// `DC`: the downstream (client) went away.
    DownstreamClosed,
    /// `DPE`: the downstream (client) sent a malformed request (e.g. a bad chunked body).
    DownstreamProtocolError,
    /// `SI`: the client's stream was idle too long (a stalled upload).
    StreamIdleTimeout,
    /// `UPE`: upstream protocol error (e.g. reset mid-body).
    ProtocolError,
    /// `DI`: the request was delayed by fault injection.
    DelayInjected,
    /// `FI`: the request was aborted by fault injection.
    FaultInjected,
    /// `DI,FI`: delayed, then aborted, by fault injection (Envoy writes both flags).
    DelayedThenAborted,
    /// `MO`: mirror not sent because too many are in flight (shadowmesh's own).
    MirrorOverflow,
    /// `MB`: mirror not sent or cut off: the body is larger than the mirror limit (shadowmesh's own).
    MirrorBodyTooLarge,
}

impl Flag {
    /// The flag as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::NoRoute => "NR",
            Self::NoHealthyUpstream => "UH",
            Self::ConnectFailure => "UF",
            Self::UpstreamReset => "UC",
            Self::Timeout => "UT",
            Self::Overflow => "UO",
            Self::DownstreamClosed => "DC",
            Self::DownstreamProtocolError => "DPE",
            Self::StreamIdleTimeout => "SI",
            Self::ProtocolError => "UPE",
            Self::DelayInjected => "DI",
            Self::FaultInjected => "FI",
            Self::DelayedThenAborted => "DI,FI",
            Self::MirrorOverflow => "MO",
            Self::MirrorBodyTooLarge => "MB",
        }
    }

    /// The flags as written when the retry limit was also reached (`URX`), in Envoy's order.
    pub fn with_retry_limit(self) -> &'static str {
        match self {
            Self::None => "URX",
            Self::ConnectFailure => "UF,URX",
            Self::UpstreamReset => "UC,URX",
            Self::Timeout => "UT,URX",
            Self::ProtocolError => "URX,UPE",
            Self::DelayInjected => "DI,URX",
            other => other.as_str(),
        }
    }
}

/// One exchange, recorded once when it ends.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Method.
    pub method: http::Method,
    /// Path and query as sent upstream.
    pub path: String,
    /// Status code; 0 when no response was received.
    pub status: u16,
    /// From the request's arrival to the last response byte (primary) or to the end of the
    /// mirrored response.
    pub duration: Duration,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
    /// The destination; `None` when no upstream was chosen (404, local answers).
    pub peer: Option<Arc<Peer>>,
    /// A mirrored copy?
    pub mirror: bool,
    /// Response flag.
    pub flag: Flag,
    /// The retry limit was reached and the last try's outcome was retriable (Envoy's `URX`,
    /// written with the flag).
    pub retry_limit_exceeded: bool,
    /// Tries sent upstream (Envoy's `%UPSTREAM_REQUEST_ATTEMPT_COUNT%`): 0 when none was sent.
    pub attempts: u32,
    /// A short reason for errors.
    pub reason: Option<String>,
    /// `x-request-id`.
    pub request_id: Option<http::HeaderValue>,
    /// Route name.
    pub route: Option<Arc<str>>,
    /// `HTTP/1.1` or `HTTP/2` towards the upstream; `-` when none was reached.
    pub protocol: &'static str,
    /// A gRPC request (`content-type: application/grpc...`).
    pub grpc: bool,
    /// The response body, when a hook asked for it to be captured.
    pub body: Option<Bytes>,
    /// The response headers, when a hook asked for bodies to be captured
    /// ([`Exchange::capture_headers`]: detached from the connection's buffer, shared with the
    /// hooks without a copy).
    pub headers: Option<Arc<http::HeaderMap>>,
    /// Mirrored copies sent for this request (primary only).
    pub mirrors_sent: u8,
    /// Part of a sampled comparison (primary and its mirrors alike).
    pub compare: bool,
    /// Pairs the primary with its mirrors for the comparison: unique per request, made by the
    /// proxy (a client's `x-request-id` may repeat).
    pub pair: u64,
    /// Fields the comparison ignores on this route (`shadowmesh.io/compare-ignore`).
    pub compare_ignore: Option<Arc<Vec<String>>>,
    /// Arrays the comparison compares as sets on this route (`shadowmesh.io/compare-unordered`).
    pub compare_unordered: Option<Arc<Vec<String>>>,
}

impl Exchange {
    /// The start of an exchange for `method` and `path`; the rest is filled in as it goes.
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            protocol: "-",
            ..Default::default()
        }
    }

    /// The response flags as written: the flag, with `URX` when the retry limit was reached.
    pub fn flags(&self) -> &'static str {
        if self.retry_limit_exceeded {
            self.flag.with_retry_limit()
        } else {
            self.flag.as_str()
        }
    }

    /// Keeps a copy of the response's `headers` for the hooks that asked for captures. Header
    /// values parsed from a connection are slices of its read buffer: an exchange waiting in
    /// the comparison for its other half with such values would hold that whole buffer, so the
    /// copy's values are moved into one allocation of their own. The map itself is cloned (no
    /// name is hashed again) and its values replaced in place.
    pub fn capture_headers(&mut self, headers: &http::HeaderMap) {
        self.headers = Some(Arc::new(detached(headers)));
    }

    /// Keeps `headers` for the hooks that asked for captures: a copy the caller made that owns
    /// its bytes already (as [`Exchange::capture_headers`] makes one).
    pub fn keep_captured(&mut self, headers: http::HeaderMap) {
        self.headers = Some(Arc::new(headers));
    }

    /// Marks the exchange failed: `status` (0: no response), `flag` and a short reason.
    pub fn fail(&mut self, status: u16, flag: Flag, reason: impl Into<String>) {
        self.status = status;
        self.flag = flag;
        self.reason = Some(reason.into());
    }
}

/// A copy of `headers` whose values own their bytes, all in one allocation, in order.
fn detached(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut all = bytes::BytesMut::with_capacity(headers.values().map(|v| v.len()).sum());
    for value in headers.values() {
        all.extend_from_slice(value.as_bytes());
    }
    let mut all = all.freeze();
    let mut copy = headers.clone();
    // `values_mut` walks the values in the order `values` did.
    for value in copy.values_mut() {
        let bytes = all.split_to(value.len());
        if let Ok(mut owned) = http::HeaderValue::from_maybe_shared(bytes) {
            owned.set_sensitive(value.is_sensitive());
            *value = owned;
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn captured_headers_keep_every_value_in_order_and_none_of_the_read_buffer() {
        let buffer = Bytes::from_static(b"a=1b=2application/jsonsecret").to_vec();
        let buffer = Bytes::from(buffer);
        let slice = |from: usize, to: usize| HeaderValue::from_maybe_shared(buffer.slice(from..to));
        let mut h = HeaderMap::new();
        h.append("set-cookie", slice(0, 3).unwrap());
        h.append("set-cookie", slice(3, 6).unwrap());
        h.insert("content-type", slice(6, 22).unwrap());
        h.insert("x-empty", HeaderValue::from_static(""));
        let mut secret = slice(22, 28).unwrap();
        secret.set_sensitive(true);
        h.insert("authorization", secret);
        let mut ex = Exchange::default();
        ex.capture_headers(&h);
        let copy = ex.headers.expect("captured");
        assert_eq!(*copy, h);
        let cookies: Vec<_> = copy.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(copy["authorization"].is_sensitive());
        let read_buffer = buffer.as_ptr_range();
        for value in copy.values().filter(|v| !v.is_empty()) {
            let at = value.as_bytes().as_ptr();
            assert!(
                !read_buffer.contains(&at),
                "{value:?} still points into the read buffer"
            );
        }
    }
}
