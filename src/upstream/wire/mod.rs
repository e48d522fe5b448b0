//! HTTP/1.1 as the proxy speaks it to upstreams, without I/O: the request head written
//! ([`request`]), the response head parsed and its body's framing decided ([`response`]), the
//! body decoded ([`body`]), a head's fields passed on as they came ([`passed`]). Pure functions over buffers, so every rule is unit-tested; the
//! connection that feeds them is `super::h1_conn`.
//!
//! Why not hyper's client: it costs a task hand-off per request (a channel to its dispatcher and
//! one for the body) and its general state machine ran to about 30% of a proxied request's
//! instructions. The rules are hyper's and RFC 9112's: framing as section 6.3 decides it, 1xx
//! answers skipped, `Connection` and the version deciding keep-alive.

pub mod body;
pub mod fields;
pub mod passed;
pub mod read_size;
pub mod request;
pub mod response;
pub mod spare;

/// What went wrong on an HTTP/1.1 upstream connection.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The answer breaks HTTP/1.1 (502 `UPE`).
    #[error("{0}")]
    Protocol(&'static str),
    /// The peer closed the connection before the answer was whole.
    #[error("connection closed before the message completed")]
    Incomplete,
    /// Reading or writing failed (a reset, a TLS alert, a stalled mirror). Not transparent:
    /// the `io::Error` itself is the source, so a TLS alert inside it can be found.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The request body being sent failed (the client went away mid-body).
    #[error("request body failed: {0}")]
    Upload(crate::upstream::BoxError),
}

impl WireError {
    /// The answer breaks the protocol (as opposed to the connection failing).
    pub fn is_protocol(&self) -> bool {
        matches!(self, Self::Protocol(_))
    }
}
