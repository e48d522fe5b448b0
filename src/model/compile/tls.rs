//! A DestinationRule's `tls` (`ClientTLSSettings`) to an [`UpstreamTls`]: the certificate, key,
//! CA and CRL files are read and parsed here, when the config is compiled, so a missing or bad
//! file is a config error naming the file and the field, and the last good config stays.
//! A relative path is relative to the folder of the YAML file that names it.
//!
//! Modes: `DISABLE` is plaintext; `SIMPLE` and `MUTUAL` originate TLS as Envoy does when
//! Istio configures it (see [`crate::model::cluster::tls`] for the checks); `ISTIO_MUTUAL`
//! needs Istio's mesh CA, which shadowmesh does not have: one warning, and plaintext (what a
//! workload in PERMISSIVE mode accepts). `credentialName` names a Kubernetes secret, which
//! shadowmesh cannot read: one warning; the system roots are used, and no client certificate.
//!
//! Values are checked beforehand by [`crate::model::validation`]; what it refuses is skipped
//! here without a second error. Imports only [`crate::config`] and [`crate::model`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, TrustAnchor,
};
use xxhash_rust::xxh64::Xxh64;

use crate::config::diag::Reporter;
use crate::config::wire::ClientTlsSettings;
use crate::model::cluster::tls::{NameCheck, TlsSettings, UpstreamTls, Verifier, provider};

const ISTIO_MUTUAL: &str = "ISTIO_MUTUAL needs Istio's mesh certificates, which shadowmesh does not have: it sends plaintext to these endpoints (as a workload in PERMISSIVE mode accepts); use SIMPLE or MUTUAL with certificate files for TLS";
const CREDENTIAL: &str = "names a Kubernetes secret, which shadowmesh cannot read: the server is checked against the system roots and no client certificate is sent; use caCertificates, clientCertificate and privateKey files";

/// `tls` (at `f`) compiled; `None`: plaintext (`DISABLE`, `ISTIO_MUTUAL`, or an error reported).
pub(super) fn compile_tls(
    tls: &ClientTlsSettings,
    r: &mut Reporter<'_>,
    f: &str,
) -> Option<Arc<UpstreamTls>> {
    let mode = match tls.mode.as_deref() {
        Some("SIMPLE") => "SIMPLE",
        Some("MUTUAL") => "MUTUAL",
        Some("ISTIO_MUTUAL") => {
            r.warning(format!("{f}.mode"), ISTIO_MUTUAL);
            return None;
        }
        _ => return None, // DISABLE, absent, or validation's error
    };
    let insecure = tls.insecure_skip_verify == Some(true);
    let mut files = Files::new(r.file());
    let described = format!("{mode}|{}|{insecure}|{:?}", tls.sni, tls.subject_alt_names);
    files.hash.update(described.as_bytes());
    if !tls.credential_name.is_empty() {
        r.warning(format!("{f}.credentialName"), CREDENTIAL);
    }
    let verifier = verifier(tls, &mut files, r, f)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mutual = mode == "MUTUAL" && tls.credential_name.is_empty();
    let config = if mutual {
        let (cert, key) = (&tls.client_certificate, &tls.private_key);
        if cert.is_empty() || key.is_empty() {
            return None; // validation's error
        }
        let chain = files.certs(r, &format!("{f}.clientCertificate"), cert)?;
        let key = files.key(r, &format!("{f}.privateKey"), key)?;
        match builder.with_client_auth_cert(chain, key) {
            Ok(c) => c,
            Err(e) => {
                let path = files.path(&tls.private_key);
                r.error(
                    format!("{f}.privateKey"),
                    format!("{}: {e}", path.display()),
                );
                return None;
            }
        }
    } else {
        builder.with_no_client_auth()
    };
    let shown = |name: &str| files.path(name).display().to_string();
    let settings = TlsSettings {
        mode,
        sni: (!tls.sni.is_empty()).then(|| tls.sni.clone()),
        roots: match tls.ca_certificates.as_str() {
            "" => "system".into(),
            ca => shown(ca),
        },
        subject_alt_names: tls.subject_alt_names.clone(),
        insecure_skip_verify: insecure,
        ca_crl: (!crls_empty(tls)).then(|| shown(&tls.ca_crl)),
        client_certificate: mutual.then(|| shown(&tls.client_certificate)),
        id: files.hash.digest(),
    };
    Some(Arc::new(UpstreamTls::new(settings, config)))
}

/// The server certificate check `tls` (at `f`) asks for: its roots and CRLs read, the SNI
/// checked, the name rule chosen as Istio's auto SNI and auto SAN validation choose it.
fn verifier(
    tls: &ClientTlsSettings,
    files: &mut Files,
    r: &mut Reporter<'_>,
    f: &str,
) -> Option<Verifier> {
    let insecure = tls.insecure_skip_verify == Some(true);
    let roots = if insecure {
        Arc::new(Vec::new())
    } else if tls.ca_certificates.is_empty() {
        system_roots()
    } else {
        let field = format!("{f}.caCertificates");
        Arc::new(files.anchors(r, &field, &tls.ca_certificates)?)
    };
    let crls = if crls_empty(tls) {
        Vec::new()
    } else {
        files.crls(r, &format!("{f}.caCrl"), &tls.ca_crl)?
    };
    if !tls.sni.is_empty()
        && let Err(e) = ServerName::try_from(tls.sni.as_str())
    {
        let msg = format!("{:?} cannot be sent as SNI: {e}", tls.sni);
        r.error(format!("{f}.sni"), msg);
        return None;
    }
    let names = match () {
        () if insecure => NameCheck::Insecure,
        () if !tls.subject_alt_names.is_empty() => NameCheck::Sans(tls.subject_alt_names.clone()),
        () if !tls.sni.is_empty() => NameCheck::ChainOnly,
        () => NameCheck::Sni,
    };
    Some(Verifier::new(roots, crls, names))
}

fn crls_empty(tls: &ClientTlsSettings) -> bool {
    tls.ca_crl.is_empty() || tls.insecure_skip_verify == Some(true)
}

/// The system's trust anchors, read once (`VERIFY_CERTIFICATE_AT_CLIENT`: Istio checks an
/// upstream without `caCertificates` against them); Mozilla's (webpki-roots) when the system
/// has none.
fn system_roots() -> Arc<Vec<TrustAnchor<'static>>> {
    static ROOTS: OnceLock<Arc<Vec<TrustAnchor<'static>>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = rustls::RootCertStore::empty();
            store.add_parsable_certificates(found.certs);
            if store.roots.is_empty() {
                tracing::warn!("no system CA certificates found: using Mozilla's roots");
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store.roots)
        })
        .clone()
}

/// Reads the files one setting names, relative to the YAML file's folder, hashing what it
/// reads into the setting's identity.
struct Files {
    base: PathBuf,
    hash: Xxh64,
}

impl Files {
    fn new(yaml: &Path) -> Self {
        Self {
            base: yaml.parent().map(Path::to_path_buf).unwrap_or_default(),
            hash: Xxh64::new(0),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    fn read(
        &mut self,
        r: &mut Reporter<'_>,
        field: &str,
        name: &str,
    ) -> Option<(PathBuf, Vec<u8>)> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                self.hash.update(name.as_bytes());
                self.hash.update(&bytes);
                Some((path, bytes))
            }
            Err(e) => {
                r.error(field, format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    fn certs(
        &mut self,
        r: &mut Reporter<'_>,
        field: &str,
        name: &str,
    ) -> Option<Vec<CertificateDer<'static>>> {
        let (path, pem) = self.read(r, field, name)?;
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
        match certs {
            Ok(certs) if !certs.is_empty() => Some(certs),
            Ok(_) => {
                let msg = format!("{}: no PEM certificate in it", path.display());
                r.error(field, msg);
                None
            }
            Err(e) => {
                r.error(
                    field,
                    format!("{}: not PEM certificates: {e}", path.display()),
                );
                None
            }
        }
    }

    fn anchors(
        &mut self,
        r: &mut Reporter<'_>,
        field: &str,
        name: &str,
    ) -> Option<Vec<TrustAnchor<'static>>> {
        let certs = self.certs(r, field, name)?;
        let mut store = rustls::RootCertStore::empty();
        let (_, bad) = store.add_parsable_certificates(certs);
        if bad > 0 || store.roots.is_empty() {
            let path = self.path(name);
            let msg = format!(
                "{}: {bad} certificate(s) cannot be trust anchors",
                path.display()
            );
            r.error(field, msg);
            return None;
        }
        Some(store.roots)
    }

    fn key(
        &mut self,
        r: &mut Reporter<'_>,
        field: &str,
        name: &str,
    ) -> Option<PrivateKeyDer<'static>> {
        let (path, pem) = self.read(r, field, name)?;
        match PrivateKeyDer::from_pem_slice(&pem) {
            Ok(key) => Some(key),
            Err(e) => {
                r.error(
                    field,
                    format!("{}: no PEM private key: {e}", path.display()),
                );
                None
            }
        }
    }

    fn crls(
        &mut self,
        r: &mut Reporter<'_>,
        field: &str,
        name: &str,
    ) -> Option<Vec<webpki::CertRevocationList<'static>>> {
        let (path, pem) = self.read(r, field, name)?;
        let parsed: Result<Vec<_>, String> = CertificateRevocationListDer::pem_slice_iter(&pem)
            .map(|der| {
                let der = der.map_err(|e| e.to_string())?;
                let owned = webpki::OwnedCertRevocationList::from_der(der.as_ref())
                    .map_err(|e| format!("{e:?}"))?;
                Ok(webpki::CertRevocationList::from(owned))
            })
            .collect();
        match parsed {
            Ok(crls) if !crls.is_empty() => Some(crls),
            Ok(_) => {
                r.error(field, format!("{}: no PEM CRL in it", path.display()));
                None
            }
            Err(e) => {
                r.error(field, format!("{}: not a CRL: {e}", path.display()));
                None
            }
        }
    }
}
