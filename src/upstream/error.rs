//! Why an upstream exchange failed before a response arrived, and what the client is told: the
//! status and response flag Envoy gives the same failure.

use crate::telemetry::Flag;

/// Why an upstream exchange failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// HTTP/1 client error.
    #[error(transparent)]
    Client(#[from] hyper_util::client::legacy::Error),
    /// Could not connect.
    #[error("connect failed: {0}")]
    Connect(String),
    /// h2 stream or connection failure.
    #[error(transparent)]
    H2(#[from] hyper::Error),
}

/// A failed exchange as the client and the logs see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Envoy's response flag.
    pub flag: Flag,
    /// The status the client gets.
    pub status: u16,
    /// A short reason (access log, response body).
    pub reason: String,
}

impl UpstreamError {
    /// The answer Envoy gives this failure: connect failures 503 `UF`; a connection reset or
    /// closed before the response headers 503 `UC`; a response that breaks the protocol 502
    /// `UPE`.
    pub fn failure(&self) -> Failure {
        let protocol_error = |e: &(dyn std::error::Error + 'static)| {
            hyper_error(e).is_some_and(|h| h.is_parse() || h.is_parse_status())
        };
        let (flag, status, reason) = match self {
            Self::Client(e) if e.is_connect() => (
                Flag::ConnectFailure,
                503,
                format!("connect failed: {}", root_cause(e)),
            ),
            Self::Connect(e) => (Flag::ConnectFailure, 503, format!("connect failed: {e}")),
            Self::Client(e) if protocol_error(e) => (
                Flag::ProtocolError,
                502,
                format!("upstream protocol error: {}", root_cause(e)),
            ),
            Self::H2(e) if protocol_error(e) => (
                Flag::ProtocolError,
                502,
                format!("upstream protocol error: {}", root_cause(e)),
            ),
            Self::Client(e) => (
                Flag::UpstreamReset,
                503,
                format!("upstream reset before response headers: {}", root_cause(e)),
            ),
            Self::H2(e) => (
                Flag::UpstreamReset,
                503,
                format!("upstream reset before response headers: {}", root_cause(e)),
            ),
        };
        Failure {
            flag,
            status,
            reason,
        }
    }
}

impl UpstreamError {
    /// Did the upstream refuse the h2 stream (`REFUSED_STREAM`: it processed nothing)?
    pub fn refused_stream(&self) -> bool {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(h2) = e.downcast_ref::<h2::Error>() {
                return h2.reason() == Some(h2::Reason::REFUSED_STREAM);
            }
            cur = e.source();
        }
        false
    }
}

/// The first `hyper::Error` in the chain of `err`.
fn hyper_error<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e hyper::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            return Some(h);
        }
        cur = e.source();
    }
    None
}

/// The innermost error message.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
