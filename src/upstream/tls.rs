//! TLS origination towards upstreams (tokio-rustls): the handshake a cluster's
//! [`UpstreamTls`] asks for, within the connect timeout, and the connection that results,
//! plain or TLS, as hyper reads and writes it ([`Stream`]). A failed handshake is a
//! [`TlsFailure`], which [`super::error`] answers as Envoy does (503 `UF`, `TLS_error`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::model::cluster::Protocol;
use crate::model::cluster::tls::UpstreamTls;

/// What one connection's handshake is made with: the configuration (with the cluster's ALPN)
/// and the server name (its SNI). Connections are pooled by [`Origination::key`].
#[derive(Clone)]
pub struct Origination {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    id: u64,
}

/// Pools and h2 connections are keyed by this: the setting's identity and the SNI.
pub type TlsKey = Option<(u64, ServerName<'static>)>;

impl Origination {
    /// The handshake `tls` asks for towards a cluster of `protocol`, for a request whose host
    /// is `host` (the SNI when `tls` sets none).
    pub fn new(tls: &UpstreamTls, protocol: Protocol, host: &str) -> Result<Self, String> {
        Ok(Self {
            config: tls.client_config(protocol).clone(),
            name: tls.server_name(host)?,
            id: tls.settings.id,
        })
    }

    /// The pool key of connections made with this.
    pub fn key(origination: Option<&Self>) -> TlsKey {
        origination.map(|o| (o.id, o.name.clone()))
    }

    /// The SNI, as logs name it (`-`: none is sent to an IP address).
    pub fn sni(&self) -> String {
        match &self.name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            _ => "-".to_string(),
        }
    }

    /// TLS over `tcp` to `endpoint`, within `timeout`.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Stream, TlsFailure> {
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let shake = connector.connect(self.name.clone(), tcp);
        let failure = |source| TlsFailure {
            endpoint: endpoint.to_string(),
            sni: self.sni(),
            source,
        };
        match tokio::time::timeout(timeout, shake).await {
            Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(TokioIo::new(tls)))),
            Ok(Err(e)) => Err(failure(e)),
            Err(_) => Err(failure(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no TLS handshake within {timeout:?}"),
            ))),
        }
    }
}

/// A TLS handshake with an upstream failed.
#[derive(Debug, thiserror::Error)]
#[error("TLS handshake with {endpoint} (SNI {sni}) failed: {source}")]
pub struct TlsFailure {
    /// `address:port`.
    pub endpoint: String,
    /// The SNI sent.
    pub sni: String,
    /// What rustls (or the socket) said.
    #[source]
    pub source: io::Error,
}

/// An upstream connection, plain or TLS.
pub enum Stream {
    /// Plaintext.
    Plain(TokioIo<TcpStream>),
    /// TLS over TCP.
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain(s) => s.connected(),
            Self::Tls(s) => {
                let (tcp, session) = s.inner().get_ref();
                let connected = tcp.connected();
                if session.alpn_protocol() == Some(b"h2") {
                    connected.negotiated_h2()
                } else {
                    connected
                }
            }
        }
    }
}
