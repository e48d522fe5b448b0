//! Why an upstream exchange failed before a response arrived, and what the client is told: the
//! status and response flag Envoy gives the same failure. A TLS failure (the handshake, or the
//! server's alert refusing the client's certificate right after it) is a connection failure:
//! 503 `UF` with Envoy's text, `... transport failure reason: TLS_error: ...`.

use std::error::Error;

use crate::telemetry::Flag;

use super::tls::TlsFailure;
use super::wire::WireError;

/// How Envoy begins the body of a transport (TLS) failure's 503.
const TRANSPORT_FAILURE: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason";

/// Why an upstream exchange failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// hyper-util client error (upgrades).
    #[error(transparent)]
    Client(#[from] hyper_util::client::legacy::Error),
    /// Could not connect.
    #[error("connect failed: {0}")]
    Connect(String),
    /// HTTP/1.1 or h2 exchange or connection failure.
    #[error(transparent)]
    H2(#[from] hyper::Error),
    /// The TLS handshake of an h2 connection failed.
    #[error(transparent)]
    Tls(#[from] TlsFailure),
    /// An HTTP/1.1 exchange failed (the project's own codec).
    #[error(transparent)]
    H1(#[from] WireError),
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
        if let Some(tls) = tls_reason(self) {
            return Failure {
                flag: Flag::ConnectFailure,
                status: 503,
                reason: format!("{TRANSPORT_FAILURE}: {tls}"),
            };
        }
        let (flag, status, reason) = match self {
            Self::Tls(e) => (Flag::ConnectFailure, 503, format!("connect failed: {e}")),
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
            Self::H1(e) if e.is_protocol() => (
                Flag::ProtocolError,
                502,
                format!("upstream protocol error: {e}"),
            ),
            Self::H1(e) => (
                Flag::UpstreamReset,
                503,
                format!("upstream reset before response headers: {}", root_cause(e)),
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

/// The TLS error in the chain of `err` as Envoy's transport failure reason names it
/// (`TLS_error: ...`), if TLS is why it failed.
pub fn tls_reason(err: &(dyn Error + 'static)) -> Option<String> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(tls));
        }
        if let Some(failed) = e.downcast_ref::<TlsFailure>() {
            let inner = failed.source.get_ref();
            return Some(
                match inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(tls) => describe(tls),
                    // A handshake that failed without a rustls error (reset, timeout).
                    None => format!("TLS_error: {}", failed.source),
                },
            );
        }
        // An io::Error's `source()` skips the error it wraps: look at that one itself.
        cur = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// A rustls error in Envoy's words: a refused certificate is `CERTIFICATE_VERIFY_FAILED`.
fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            format!("TLS_error: CERTIFICATE_VERIFY_FAILED: {other}")
        }
        rustls::Error::InvalidCertificate(cert) => {
            format!("TLS_error: CERTIFICATE_VERIFY_FAILED: {cert}")
        }
        other => format!("TLS_error: {other}"),
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
