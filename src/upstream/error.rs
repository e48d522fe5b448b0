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
    /// The answer Envoy gives this failure: connect failures 503 `UF`, resets 502 `UC`.
    pub fn failure(&self) -> Failure {
        let (flag, status, reason) = match self {
            Self::Client(e) if e.is_connect() => (
                Flag::ConnectFailure,
                503,
                format!("connect failed: {}", root_cause(e)),
            ),
            Self::Connect(e) => (Flag::ConnectFailure, 503, format!("connect failed: {e}")),
            Self::Client(e) => (
                Flag::UpstreamReset,
                502,
                format!("upstream reset: {}", root_cause(e)),
            ),
            Self::H2(e) => (
                Flag::UpstreamReset,
                502,
                format!("upstream reset: {}", root_cause(e)),
            ),
        };
        Failure {
            flag,
            status,
            reason,
        }
    }
}

/// The innermost error message.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
