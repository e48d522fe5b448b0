//! Telemetry: what happened in each upstream exchange, primary and mirrored alike.
//!
//! The proxy builds one [`Exchange`] per upstream exchange (and per locally answered request)
//! and hands it to [`Telemetry::record`], which writes the access log and feeds the hooks other
//! parts register (metrics, comparison).

pub mod access_log;
pub mod metrics;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use access_log::{AccessLog, LogFormat};

/// Response flags, as Envoy spells them in access logs and Istio's `response_flags` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    /// `UPE`: upstream protocol error (e.g. reset mid-body).
    ProtocolError,
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
            Self::ProtocolError => "UPE",
            Self::MirrorOverflow => "MO",
            Self::MirrorBodyTooLarge => "MB",
        }
    }
}

pub use crate::model::cluster::Peer;

/// One exchange, recorded when it ends.
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
    /// A short reason for errors.
    pub reason: Option<String>,
    /// `x-request-id`.
    pub request_id: String,
    /// Route name.
    pub route: Option<String>,
    /// `HTTP/1.1` or `HTTP/2` towards the upstream.
    pub protocol: &'static str,
    /// A gRPC request (`content-type: application/grpc...`).
    pub grpc: bool,
    /// The response body, when a hook asked for it to be captured.
    pub body: Option<Bytes>,
    /// The response headers, when a hook asked for bodies to be captured.
    pub headers: Option<http::HeaderMap>,
    /// Mirrored copies sent for this request (primary only).
    pub mirrors_sent: u8,
    /// Part of a sampled comparison (primary and its mirrors alike).
    pub compare: bool,
    /// Pairs the primary with its mirrors for the comparison: unique per request, made by the
    /// proxy (a client's `x-request-id` may repeat).
    pub pair: u64,
    /// Fields the comparison ignores on this route (`shadowmesh.io/compare-ignore`).
    pub compare_ignore: Option<Arc<Vec<String>>>,
}

/// Something that wants to see every exchange (metrics, comparison).
pub trait ExchangeHook: Send + Sync {
    /// Called once per exchange, off the client's path where possible.
    fn on_exchange(&self, ex: &Exchange);
    /// Bytes of response body this hook wants captured (0: none).
    fn capture_limit(&self) -> usize {
        0
    }
    /// Asked once per mirrored request: compare this one? (The comparison samples under load.)
    fn sample_pair(&self) -> bool {
        false
    }
}

/// The telemetry sinks of one proxy.
#[derive(Default)]
pub struct Telemetry {
    /// Access log.
    pub access_log: AccessLog,
    hooks: Vec<Arc<dyn ExchangeHook>>,
    capture_limit: usize,
}

impl Telemetry {
    /// Telemetry with an access log.
    pub fn new(access_log: AccessLog) -> Self {
        Self {
            access_log,
            hooks: Vec::new(),
            capture_limit: 0,
        }
    }

    /// Adds a hook.
    pub fn add_hook(&mut self, hook: Arc<dyn ExchangeHook>) {
        self.capture_limit = self.capture_limit.max(hook.capture_limit());
        self.hooks.push(hook);
    }

    /// Should this mirrored request be compared? (Any hook that compares says yes.)
    pub fn sample_pair(&self) -> bool {
        self.hooks.iter().any(|h| h.sample_pair())
    }

    /// Largest body capture any hook asked for.
    pub fn capture_limit(&self) -> usize {
        self.capture_limit
    }

    /// Records one exchange.
    pub fn record(&self, ex: &Exchange) {
        self.access_log.write(ex);
        for hook in &self.hooks {
            hook.on_exchange(ex);
        }
    }
}
