//! A cluster's upstream TLS, compiled from a DestinationRule's `tls` (`SIMPLE` or `MUTUAL`): the
//! rustls client configurations (one per ALPN: `h2` for HTTP/2 clusters, `http/1.1` otherwise),
//! the SNI rule, and the server certificate check as Envoy makes it when Istio configures it:
//!
//! - `insecureSkipVerify`: no check of the server's certificate at all;
//! - otherwise the chain must lead to `caCertificates` (else the system roots), and not be
//!   revoked by `caCrl` when one is given; then the name:
//!   - `subjectAltNames` given: the certificate carries one of them (DNS names as Envoy matches
//!     them, wildcards in the certificate included; IP addresses; URIs such as SPIFFE IDs exactly);
//!   - else, with `sni` absent (Istio's auto SNI and auto SAN validation), the certificate is
//!     valid for the SNI sent, the request's host;
//!   - else (`sni` set, no `subjectAltNames`): the chain only, as Envoy does.
//!
//! Plain data and certificate logic: the handshake itself is `upstream`'s.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};

use super::Protocol;

/// A compiled upstream TLS setting (`SIMPLE` or `MUTUAL`; `DISABLE` is no setting at all).
#[derive(Debug, serde::Serialize)]
pub struct UpstreamTls {
    /// What was configured.
    #[serde(flatten)]
    pub settings: TlsSettings,
    #[serde(skip)]
    h1: Arc<ClientConfig>,
    #[serde(skip)]
    h2: Arc<ClientConfig>,
}

/// Equal when made of the same settings and files (the rustls configurations follow from them).
impl PartialEq for UpstreamTls {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
    }
}

/// What an [`UpstreamTls`] was made of (shown by `/config_dump`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsSettings {
    /// `SIMPLE` or `MUTUAL`.
    pub mode: &'static str,
    /// `sni` as configured; `None`: the request's host (Istio's auto SNI).
    pub sni: Option<String>,
    /// What the server's chain is checked against: the `caCertificates` path or `system`.
    pub roots: String,
    /// `subjectAltNames`.
    pub subject_alt_names: Vec<String>,
    /// `insecureSkipVerify`.
    pub insecure_skip_verify: bool,
    /// `caCrl` path, if any.
    pub ca_crl: Option<String>,
    /// `clientCertificate` path (`MUTUAL`).
    pub client_certificate: Option<String>,
    /// Equal for equal settings and file contents: connections are pooled by it (and the SNI).
    pub id: u64,
}

impl UpstreamTls {
    /// A setting; `config` (without ALPN) is cloned once per ALPN.
    pub fn new(settings: TlsSettings, config: ClientConfig) -> Self {
        let mut h1 = config.clone();
        h1.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut h2 = config;
        h2.alpn_protocols = vec![b"h2".to_vec()];
        Self {
            settings,
            h1: Arc::new(h1),
            h2: Arc::new(h2),
        }
    }

    /// The client configuration for a cluster of `protocol` (its ALPN).
    pub fn client_config(&self, protocol: Protocol) -> &Arc<ClientConfig> {
        match protocol {
            Protocol::Http1 => &self.h1,
            Protocol::Http2 => &self.h2,
        }
    }

    /// The name the handshake is for: `sni`, else the host of `authority` (the request's
    /// `Host`, its port dropped; an IP address sends no SNI, as Envoy's auto SNI).
    pub fn server_name(&self, authority: &str) -> Result<ServerName<'static>, String> {
        let host = match &self.settings.sni {
            Some(sni) => sni.as_str(),
            None => host_of(authority),
        };
        ServerName::try_from(host.to_string()).map_err(|e| format!("SNI {host:?}: {e}"))
    }
}

/// The host of an authority: `[::1]:80` is `::1`, `a.b:80` is `a.b`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The crypto provider shadowmesh uses: ring (aws-lc-rs, rustls's preferred one, needs cmake
/// and a long C build; ring lacks only the post-quantum key exchanges, hence the deprecation).
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which name the server's certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameCheck {
    /// `insecureSkipVerify`: nothing is checked.
    Insecure,
    /// The chain only (`sni` set, no `subjectAltNames`).
    ChainOnly,
    /// The SNI sent (auto SAN validation).
    Sni,
    /// One of these `subjectAltNames`.
    Sans(Vec<String>),
}

/// Envoy's check of an upstream's certificate (see the module doc).
pub struct Verifier {
    roots: Arc<Vec<TrustAnchor<'static>>>,
    crls: Vec<webpki::CertRevocationList<'static>>,
    names: NameCheck,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("roots", &self.roots.len())
            .field("crls", &self.crls.len())
            .field("names", &self.names)
            .finish()
    }
}

impl Verifier {
    /// A verifier trusting `roots`, refusing what `crls` revoke, checking `names`.
    pub fn new(
        roots: Arc<Vec<TrustAnchor<'static>>>,
        crls: Vec<webpki::CertRevocationList<'static>>,
        names: NameCheck,
    ) -> Self {
        Self {
            roots,
            crls,
            names,
            provider: provider(),
        }
    }

    fn check_chain(
        &self,
        ee: &webpki::EndEntityCert<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let crls: Vec<&webpki::CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = webpki::RevocationOptionsBuilder::new(&crls).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Deny)
                .build()
        });
        let algs = self.provider.signature_verification_algorithms.all;
        (ee.verify_for_usage(
            algs,
            &self.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            revocation,
            None,
        ))
        .map(|_| ())
        .map_err(pki_error)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.names == NameCheck::Insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let ee = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
        self.check_chain(&ee, intermediates, now)?;
        match &self.names {
            NameCheck::Insecure | NameCheck::ChainOnly => {}
            NameCheck::Sni => {
                (ee.verify_is_valid_for_subject_name(server_name)).map_err(pki_error)?;
            }
            NameCheck::Sans(sans) => {
                if !sans.iter().any(|san| carries(&ee, end_entity, san)) {
                    return Err(CertificateError::Other(OtherError(Arc::new(SanMismatch(
                        sans.clone(),
                    ))))
                    .into());
                }
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        (self.provider.signature_verification_algorithms).supported_schemes()
    }
}

/// Does the certificate carry `san`? A URI (`spiffe://...`) is looked for as the exact
/// `uniformResourceIdentifier` entry (`[6] IA5String`) of its DER; IP addresses and DNS names
/// as webpki matches a reference name.
fn carries(ee: &webpki::EndEntityCert<'_>, der: &[u8], san: &str) -> bool {
    if san.contains("://") {
        let Ok(len) = u8::try_from(san.len()) else {
            return false;
        };
        let mut needle = vec![0x86, len];
        needle.extend_from_slice(san.as_bytes());
        return len < 0x80 && der.windows(needle.len()).any(|w| w == needle.as_slice());
    }
    let name = match san.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => match ServerName::try_from(san) {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    ee.verify_is_valid_for_subject_name(&name).is_ok()
}

/// The certificate carries none of the `subjectAltNames`.
#[derive(Debug)]
struct SanMismatch(Vec<String>);

impl fmt::Display for SanMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate not valid for any of the subjectAltNames {:?}",
            self.0
        )
    }
}

impl std::error::Error for SanMismatch {}

/// webpki's error as rustls names it (the subset a server certificate check meets).
fn pki_error(e: webpki::Error) -> rustls::Error {
    use webpki::Error as E;
    let cert = match e {
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CertificateError::BadEncoding,
        E::CertNotValidYet { time, not_before } => {
            CertificateError::NotValidYetContext { time, not_before }
        }
        E::CertExpired { time, not_after } => CertificateError::ExpiredContext { time, not_after },
        E::InvalidCertValidity => CertificateError::Expired,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::CertNotValidForName(cx) => CertificateError::NotValidForNameContext {
            expected: cx.expected,
            presented: cx.presented,
        },
        E::CertRevoked => CertificateError::Revoked,
        E::UnknownRevocationStatus => CertificateError::UnknownRevocationStatus,
        E::CrlExpired { time, next_update } => {
            CertificateError::ExpiredRevocationListContext { time, next_update }
        }
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    cert.into()
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_drops_the_port() {
        for (authority, host) in [
            ("api.example.com", "api.example.com"),
            ("api.example.com:8443", "api.example.com"),
            ("10.0.0.1:80", "10.0.0.1"),
            ("[::1]:443", "::1"),
            ("[::1]", "::1"),
        ] {
            assert_eq!(host_of(authority), host, "{authority}");
        }
    }
}
