//! A DestinationRule's `tls` compiled: modes, files read relative to the YAML file (errors
//! naming file and field), warnings for what shadowmesh cannot do, the setting's identity, and
//! port-level settings replacing the policy as Istio merges them.

use std::path::Path;
use std::sync::Arc;

use super::tls::compile_tls;
use crate::config::Diagnostic;
use crate::config::diag::Reporter;
use crate::config::wire::ClientTlsSettings;
use crate::model::ProxyIdentity;
use crate::model::cluster::tls::UpstreamTls;

/// A CA, and a client certificate and key it signed, written into `dir`.
fn write_pki(dir: &Path) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
    let client = params.signed_by(&client_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), issuer.pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client-key.pem"), client_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("garbage.pem"), "not a certificate").unwrap();
}

/// `tls` (YAML) compiled for a rule read from `dir/dr.yaml`.
fn compiled(dir: &Path, tls: &str) -> (Option<Arc<UpstreamTls>>, Vec<Diagnostic>) {
    let tls: ClientTlsSettings = serde_yaml_ng::from_str(tls).expect(tls);
    let mut diags = Vec::new();
    let mut r = Reporter::new(&mut diags, dir.join("dr.yaml"), "DestinationRule".into());
    let out = compile_tls(&tls, &mut r, "spec.trafficPolicy.tls");
    (out, diags)
}

/// `field: message` of each diagnostic, `!` marking errors.
fn lines(diags: &[Diagnostic]) -> Vec<String> {
    let mark = |d: &Diagnostic| if d.is_error() { "!" } else { "" };
    (diags.iter())
        .map(|d| {
            format!(
                "{}{}: {}",
                mark(d),
                d.field.clone().unwrap_or_default(),
                d.message
            )
        })
        .collect()
}

/// (tls, originates TLS, the one diagnostic expected: field and words in its message)
type Case<'a> = (&'a str, bool, Option<(String, &'a str)>);

#[test]
fn modes_files_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let at = |f: &str| format!("spec.trafficPolicy.tls.{f}");
    let missing = dir.path().join("nope/ca.pem").display().to_string();
    let cases: &[Case<'_>] = &[
        ("{mode: DISABLE}", false, None),
        ("{}", false, None),
        (
            "{mode: ISTIO_MUTUAL}",
            false,
            Some((at("mode"), "mesh certificates")),
        ),
        ("{mode: SIMPLE}", true, None),
        ("{mode: SIMPLE, caCertificates: ca.pem}", true, None),
        (
            "{mode: SIMPLE, caCertificates: nope/ca.pem}",
            false,
            Some(("!".to_string() + &at("caCertificates"), missing.as_str())),
        ),
        (
            "{mode: SIMPLE, caCertificates: garbage.pem}",
            false,
            Some((
                "!".to_string() + &at("caCertificates"),
                "no PEM certificate",
            )),
        ),
        (
            "{mode: SIMPLE, caCrl: garbage.pem}",
            false,
            Some(("!".to_string() + &at("caCrl"), "no PEM CRL")),
        ),
        (
            "{mode: SIMPLE, sni: 'not a name'}",
            false,
            Some(("!".to_string() + &at("sni"), "cannot be sent as SNI")),
        ),
        (
            "{mode: SIMPLE, credentialName: my-secret}",
            true,
            Some((at("credentialName"), "Kubernetes secret")),
        ),
        (
            "{mode: MUTUAL, clientCertificate: client.pem, privateKey: client-key.pem}",
            true,
            None,
        ),
        (
            "{mode: MUTUAL, clientCertificate: client.pem, privateKey: ca.pem}",
            false,
            Some(("!".to_string() + &at("privateKey"), "no PEM private key")),
        ),
        (
            "{mode: MUTUAL, clientCertificate: gone.pem, privateKey: client-key.pem}",
            false,
            Some(("!".to_string() + &at("clientCertificate"), "cannot read")),
        ),
        ("{mode: SIMPLE, insecureSkipVerify: true}", true, None),
    ];
    for (tls, originates, expected) in cases {
        let (out, diags) = compiled(dir.path(), tls);
        assert_eq!(out.is_some(), *originates, "{tls}: {:?}", lines(&diags));
        let got = lines(&diags);
        match expected {
            None => assert!(got.is_empty(), "{tls}: {got:?}"),
            Some((field, words)) => {
                assert_eq!(got.len(), 1, "{tls}: {got:?}");
                assert!(got[0].starts_with(&format!("{field}: ")), "{tls}: {got:?}");
                assert!(got[0].contains(words), "{tls}: {words:?} in {got:?}");
            }
        }
    }
}

#[test]
fn the_summary_names_what_is_checked_and_the_identity_follows_settings_and_files() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let tls = "{mode: MUTUAL, caCertificates: ca.pem, clientCertificate: client.pem, privateKey: client-key.pem, sni: a.example.com}";
    let first = compiled(dir.path(), tls).0.unwrap();
    let s = &first.settings;
    assert_eq!(s.mode, "MUTUAL");
    assert_eq!(s.sni.as_deref(), Some("a.example.com"));
    assert_eq!(s.roots, dir.path().join("ca.pem").display().to_string());
    assert!(
        s.client_certificate
            .as_deref()
            .unwrap()
            .ends_with("client.pem")
    );
    let id = |tls: &str| compiled(dir.path(), tls).0.unwrap().settings.id;
    assert_eq!(id(tls), s.id, "same settings, same files: same pools");
    assert_ne!(id(&tls.replace("a.example.com", "b.example.com")), s.id);
    assert_ne!(
        id("{mode: SIMPLE}"),
        id("{mode: SIMPLE, insecureSkipVerify: true}")
    );
    write_pki(dir.path()); // new certificates, same names
    assert_ne!(id(tls), s.id, "changed files: new pools");
    assert_eq!(
        compiled(dir.path(), "{mode: SIMPLE}")
            .0
            .unwrap()
            .settings
            .roots,
        "system"
    );
}

/// A service on ports 80 and 443, a rule with port-level TLS and a subset with port-level
/// settings, and a route to each (port, subset).
const PORT_LEVEL: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http}, {number: 443, name: https, protocol: HTTPS}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, labels: {version: v1}}
  - {address: 127.0.0.2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api.example.com
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    tls: {mode: SIMPLE, sni: rule.example.com}
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE, caCertificates: ca.pem, sni: port.example.com}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: LEAST_REQUEST}
      portLevelSettings:
      - port: {number: 80}
        connectionPool: {tcp: {connectTimeout: 3s}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  http:
  - {match: [{uri: {prefix: /a}}], route: [{destination: {host: api.example.com, port: {number: 80}}}]}
  - {match: [{uri: {prefix: /b}}], route: [{destination: {host: api.example.com, port: {number: 443}}}]}
  - {match: [{uri: {prefix: /c}}], route: [{destination: {host: api.example.com, port: {number: 80}, subset: v1}}]}
  - {match: [{uri: {prefix: /d}}], route: [{destination: {host: api.example.com, port: {number: 443}, subset: v1}}]}
  - {match: [{uri: {prefix: /e}}], route: [{destination: {host: api.example.com, port: {number: 80}, subset: v2}}]}
  - {match: [{uri: {prefix: /f}}], route: [{destination: {host: api.example.com, port: {number: 443}, subset: v2}}]}
"#;

#[test]
fn port_level_settings_replace_the_policy_and_subsets_merge_over_them() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let file = dir.path().join("all.yaml");
    let identity = ProxyIdentity::default();
    let path = file.display().to_string();
    let (table, diags) = crate::model::compile_text(&path, PORT_LEVEL, &identity);
    let table = table.unwrap_or_else(|| panic!("{:?}", lines(&diags)));
    let sni = |port: u16, subset: Option<&str>| {
        let c = (table.clusters.iter())
            .find(|c| c.port == port && c.subset.as_deref() == subset)
            .unwrap_or_else(|| panic!("cluster {port} {subset:?}"));
        let tls = c.policy.tls.as_ref().and_then(|t| t.settings.sni.clone());
        (
            tls,
            format!("{:?}", c.policy.lb),
            c.policy.connect_timeout.as_secs(),
        )
    };
    let some = |s: &str| Some(s.to_string());
    // (port, subset): (SNI, balancing, connect timeout)
    let cases = [
        ((80, None), (some("rule.example.com"), "Random", 10)),
        ((443, None), (some("port.example.com"), "RoundRobin", 10)),
        ((80, Some("v1")), (some("rule.example.com"), "Random", 10)),
        (
            (443, Some("v1")),
            (some("port.example.com"), "RoundRobin", 10),
        ),
        // The subset's port settings replace everything, TLS included.
        ((80, Some("v2")), (None, "RoundRobin", 3)),
        // The subset's policy over the rule's port settings, field by field.
        (
            (443, Some("v2")),
            (some("port.example.com"), "LeastRequest", 10),
        ),
    ];
    for ((port, subset), (want_sni, want_lb, want_timeout)) in cases {
        let (got_sni, got_lb, got_timeout) = sni(port, subset);
        assert_eq!(got_sni, want_sni, "{port} {subset:?}");
        assert_eq!(got_lb, want_lb, "{port} {subset:?}");
        assert_eq!(got_timeout, want_timeout, "{port} {subset:?}");
    }
}
