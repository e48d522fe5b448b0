//! `ClientTLSSettings` (a DestinationRule's upstream TLS) as Istio's `agent.ValidateTLS`
//! checks it, plus the mode names the CRD allows.

use crate::config::diag::Reporter;
use crate::config::wire::ClientTlsSettings;

const MODES: [&str; 4] = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"];
const CONFIGMAP: &str = "configmap://";

/// Checks `tls` (at `f`) of a resource in namespace `ns`.
pub(super) fn client_tls(tls: &ClientTlsSettings, ns: &str, r: &mut Reporter<'_>, f: &str) {
    let mode = tls.mode.as_deref().unwrap_or("DISABLE");
    if !MODES.contains(&mode) {
        r.error(
            format!("{f}.mode"),
            format!("unknown TLS mode {mode:?}: use {}", MODES.join(", ")),
        );
    }
    if let Some(rest) = tls.credential_name.strip_prefix(CONFIGMAP) {
        let field = format!("{f}.credentialName");
        match rest.split_once('/') {
            Some((cm_ns, name)) if !cm_ns.is_empty() && !name.is_empty() => {
                if cm_ns != ns {
                    r.error(field, format!("invalid configmap:// credentialName: namespace must match the configuration namespace {ns:?}"));
                }
            }
            _ => r.error(
                field,
                format!(
                    "invalid configmap:// credentialName {:?}: expected configmap://namespace/name",
                    tls.credential_name
                ),
            ),
        }
    }
    let has_sans = !tls.subject_alt_names.is_empty();
    if tls.insecure_skip_verify == Some(true) {
        let field = format!("{f}.insecureSkipVerify");
        if mode == "SIMPLE"
            && (!tls.ca_certificates.is_empty() || !tls.credential_name.is_empty() || has_sans)
        {
            r.error(field.clone(), "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true");
        }
        if mode == "MUTUAL" && (!tls.ca_certificates.is_empty() || has_sans) {
            r.error(
                field,
                "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true",
            );
        }
    }
    let simple_or_mutual = mode == "SIMPLE" || mode == "MUTUAL";
    if simple_or_mutual && !tls.credential_name.is_empty() {
        if !tls.client_certificate.is_empty()
            || !tls.ca_certificates.is_empty()
            || !tls.private_key.is_empty()
            || !tls.ca_crl.is_empty()
        {
            r.error(
                format!("{f}.credentialName"),
                "cannot specify client certificates or CA certificate or CA CRL If credentialName is set",
            );
        }
        return;
    }
    if mode == "MUTUAL" {
        if tls.client_certificate.is_empty() {
            r.error(
                format!("{f}.clientCertificate"),
                "client certificate required for mutual tls",
            );
        }
        if tls.private_key.is_empty() {
            r.error(
                format!("{f}.privateKey"),
                "private key required for mutual tls",
            );
        }
    }
}
