//! User story: "my upstream speaks TLS": a DestinationRule's `tls` makes shadowmesh originate
//! TLS as Envoy does under Istio (SIMPLE with a CA file, MUTUAL with a client certificate,
//! `sni`, `subjectAltNames`, `insecureSkipVerify`, ALPN h2 on HTTP2 ports), a mirror reaches a
//! TLS subset on its own connections, `caCrl` revokes, Istio's egress TLS origination YAML works, a refused
//! handshake is a 503 `UF` with Envoy's text and one log line, and a missing certificate file
//! is a config error naming file and field. Backends are tokio-rustls servers with
//! certificates made by the test (rcgen).

use std::net::SocketAddr;
use std::time::Duration;

use http::Version;

use crate::assert_eventually;
use crate::support::backend::{self, Backend};
use crate::support::binary;
use crate::support::client::{Answer, Client};
use crate::support::config::{self, Files};
use crate::support::proxy::{self, Proxy};
use crate::support::tls::{self, Pair, Pki};

const HOST: &str = "secure.example.com";
const TRANSPORT_FAILURE: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error: ";

/// A TLS backend presenting `pair` (requiring a client certificate from `client_ca`).
async fn tls_backend(pair: &Pair, client_ca: Option<&Pki>) -> Backend {
    let config = tls::server_config(pair, client_ca);
    backend::http1("v1").tls(config).run().await
}

/// A DestinationRule for [`HOST`] whose policy's `tls` is `tls` (a YAML flow mapping).
fn rule(tls: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: secure, namespace: challengeistio}}\nspec:\n  host: {HOST}\n  trafficPolicy:\n    tls: {tls}\n"
    )
}

/// [`HOST`] on `port` (protocol `protocol`), its rule with `tls`, and the test CA as `ca.pem`
/// beside them (the rule names it relative to its own file).
fn files(port: u16, protocol: &str, tls: &str, pki: &Pki) -> Files {
    let entry = config::service_entry(HOST)
        .protocol(protocol)
        .endpoint("v1", port);
    config::files()
        .file("a-service.yaml", entry.yaml())
        .file("b-rule.yaml", rule(tls))
        .file("ca.pem", pki.ca_pem())
}

async fn get(proxy: &Proxy) -> Answer {
    proxy.client().host(HOST).get("/hello").send().await
}

/// Asserts a 503 with Envoy's TLS text containing `why`, counted `UF` once.
async fn assert_tls_refused(proxy: &Proxy, answer: &Answer, why: &str) {
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(
        answer.body.starts_with(TRANSPORT_FAILURE),
        "{}",
        answer.body
    );
    assert!(answer.body.contains(why), "{why:?} in {}", answer.body);
    let metrics = proxy.metrics().await;
    let flagged = [
        ("reporter", "source"),
        ("response_code", "503"),
        ("response_flags", "UF"),
    ];
    let failed = metrics.sum("istio_requests_total", &flagged);
    assert_eq!(failed, 1.0, "one 503 UF: {}", metrics.text);
}

#[tokio::test]
async fn simple_with_the_test_ca_sends_the_host_as_sni_and_keeps_good_config() {
    let pki = Pki::new("test CA");
    let backend = tls_backend(&pki.server(&[HOST]), None).await;
    let tls = "{mode: SIMPLE, caCertificates: ca.pem}";
    let proxy = proxy::with_config(files(backend.port(), "HTTP", tls, &pki))
        .run()
        .await;
    let answer = get(&proxy).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = backend.seen();
    let handshake = seen[0].tls.clone().expect("the backend saw TLS");
    assert_eq!(
        handshake.sni.as_deref(),
        Some(HOST),
        "auto SNI: the request's host"
    );
    assert_eq!(handshake.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(seen[0].authority, HOST);
    // A rule naming a missing file is refused whole; the last good config keeps working.
    proxy.replace_file(
        "b-rule.yaml",
        &rule("{mode: SIMPLE, caCertificates: gone.pem}"),
    );
    assert_eventually!(proxy.reloads_rejected() >= 1, "the bad rule is refused");
    let errors = proxy.reload_errors().join("\n");
    assert!(
        errors.contains("spec.trafficPolicy.tls.caCertificates"),
        "{errors}"
    );
    assert!(errors.contains("gone.pem"), "{errors}");
    assert_eq!(get(&proxy).await.status, 200, "the last good config stays");
    proxy.shutdown().await;
}

#[tokio::test]
async fn mutual_sends_the_client_certificate_and_without_one_is_503_uf() {
    let pki = Pki::new("test CA");
    let backend = tls_backend(&pki.server(&[HOST]), Some(&pki)).await;
    let mutual = "{mode: MUTUAL, caCertificates: ca.pem, clientCertificate: client.pem, privateKey: client-key.pem}";
    let client = pki.client("shadowmesh");
    let with_cert = files(backend.port(), "HTTP", mutual, &pki)
        .file("client.pem", client.cert_pem.clone())
        .file("client-key.pem", client.key_pem.clone());
    let proxy = proxy::with_config(with_cert).run().await;
    assert_eq!(
        get(&proxy).await.status,
        200,
        "the server took the client certificate"
    );
    proxy.shutdown().await;

    let simple = "{mode: SIMPLE, caCertificates: ca.pem}";
    let proxy = proxy::with_config(files(backend.port(), "HTTP", simple, &pki))
        .run()
        .await;
    let answer = get(&proxy).await;
    assert_tls_refused(&proxy, &answer, "CertificateRequired").await;
    assert_eq!(backend.count(), 1, "only the mutual request got through");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_certificate_the_ca_did_not_sign_is_503_uf() {
    let (pki, other) = (Pki::new("test CA"), Pki::new("another CA"));
    let backend = tls_backend(&other.server(&[HOST]), None).await;
    let tls = "{mode: SIMPLE, caCertificates: ca.pem}";
    let proxy = proxy::with_config(files(backend.port(), "HTTP", tls, &pki))
        .run()
        .await;
    let answer = get(&proxy).await;
    assert_tls_refused(&proxy, &answer, "CERTIFICATE_VERIFY_FAILED: UnknownIssuer").await;
    assert_eq!(backend.count(), 0, "no request reached it");
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_certificate_must_carry_a_subject_alt_name_or_the_sni() {
    let pki = Pki::new("test CA");
    let spiffe = "spiffe://cluster.local/ns/challengeistio/sa/secure";
    let backend = tls_backend(&pki.server(&[HOST, spiffe]), None).await;
    // (subjectAltNames, sni, answer): without either, the request's host is checked.
    let cases: [(&str, &str, u16); 7] = [
        ("[secure.example.com]", "", 200),
        (&format!("[{spiffe}]"), "", 200),
        ("[other.example.com]", "", 503),
        (
            "[spiffe://cluster.local/ns/challengeistio/sa/other]",
            "",
            503,
        ),
        ("[other.example.com, secure.example.com]", "", 200),
        ("[]", "", 200),
        ("[]", "other.example.com", 200),
    ];
    for (sans, sni, expected) in cases {
        let sni = if sni.is_empty() {
            String::new()
        } else {
            format!(", sni: {sni}")
        };
        let tls = format!("{{mode: SIMPLE, caCertificates: ca.pem, subjectAltNames: {sans}{sni}}}");
        let proxy = proxy::with_config(files(backend.port(), "HTTP", &tls, &pki))
            .run()
            .await;
        let answer = get(&proxy).await;
        assert_eq!(answer.status, expected, "{tls}: {answer:?}");
        if expected == 503 {
            assert_tls_refused(&proxy, &answer, "subjectAltNames").await;
        }
        proxy.shutdown().await;
    }
    // Auto SAN validation: a certificate not valid for the request's host is refused.
    let elsewhere = tls_backend(&pki.server(&["other.example.com"]), None).await;
    let tls = "{mode: SIMPLE, caCertificates: ca.pem}";
    let proxy = proxy::with_config(files(elsewhere.port(), "HTTP", tls, &pki))
        .run()
        .await;
    let answer = get(&proxy).await;
    assert_tls_refused(&proxy, &answer, "certificate not valid for name").await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_certificate_the_ca_crl_revokes_is_503_uf() {
    let pki = Pki::new("test CA");
    let backend = tls_backend(&pki.server_serial(&[HOST], 7), None).await;
    let tls = "{mode: SIMPLE, caCertificates: ca.pem, caCrl: crl.pem}";
    for (revoked, expected) in [(8, 200), (7, 503)] {
        let files = files(backend.port(), "HTTP", tls, &pki).file("crl.pem", pki.crl(&[revoked]));
        let proxy = proxy::with_config(files).run().await;
        let answer = get(&proxy).await;
        assert_eq!(
            answer.status, expected,
            "serial {revoked} revoked: {answer:?}"
        );
        if expected == 503 {
            assert_tls_refused(&proxy, &answer, "Revoked").await;
        }
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn insecure_skip_verify_accepts_a_self_signed_certificate_the_system_roots_refuse() {
    let pki = Pki::new("unused CA");
    let backend = tls_backend(&tls::self_signed(&[HOST]), None).await;
    let insecure = "{mode: SIMPLE, insecureSkipVerify: true}";
    let proxy = proxy::with_config(files(backend.port(), "HTTP", insecure, &pki))
        .run()
        .await;
    assert_eq!(get(&proxy).await.status, 200, "nothing is checked");
    proxy.shutdown().await;

    let system = "{mode: SIMPLE}";
    let proxy = proxy::with_config(files(backend.port(), "HTTP", system, &pki))
        .run()
        .await;
    let answer = get(&proxy).await;
    assert_tls_refused(&proxy, &answer, "UnknownIssuer").await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn sni_is_sent_as_configured() {
    let pki = Pki::new("test CA");
    let backend = tls_backend(&pki.server(&["backend.internal"]), None).await;
    let tls = "{mode: SIMPLE, caCertificates: ca.pem, sni: backend.internal}";
    let proxy = proxy::with_config(files(backend.port(), "HTTP", tls, &pki))
        .run()
        .await;
    assert_eq!(get(&proxy).await.status, 200);
    let handshake = backend.seen()[0].tls.clone().expect("TLS");
    assert_eq!(handshake.sni.as_deref(), Some("backend.internal"));
    assert_eq!(
        backend.seen()[0].authority,
        HOST,
        "the Host header is the service's"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn an_http2_port_over_tls_negotiates_h2() {
    let pki = Pki::new("test CA");
    let backend = tls_backend(&pki.server(&[HOST]), None).await;
    let tls = "{mode: SIMPLE, caCertificates: ca.pem}";
    // One data-plane thread: each keeps its own upstream connections (as Envoy's workers do),
    // and the client's three connections could land on different threads.
    let proxy = proxy::with_config(files(backend.port(), "HTTP2", tls, &pki))
        .workers(1)
        .run()
        .await;
    for _ in 0..3 {
        assert_eq!(get(&proxy).await.status, 200);
    }
    let seen = backend.seen();
    assert_eq!(seen[0].version, Version::HTTP_2);
    let handshake = seen[0].tls.clone().expect("TLS");
    assert_eq!(handshake.alpn.as_deref(), Some("h2"));
    assert_eq!(handshake.sni.as_deref(), Some(HOST));
    assert_eq!(backend.accepted(), 1, "one multiplexed connection");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_mirror_reaches_a_tls_subset_while_the_primary_is_plaintext() {
    let pki = Pki::new("test CA");
    let plain = backend::http1("v1").run().await;
    let config = tls::server_config(&pki.server(&[HOST]), None);
    let secure = backend::http1("v2").tls(config).run().await;
    let entry = config::service_entry(HOST)
        .endpoint("v1", plain.port())
        .endpoint("v2", secure.port());
    // The mirror's Host is `secure.example.com-shadow`: the subset names its SNI.
    let rule = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: secure, namespace: challengeistio}}\nspec:\n  host: {HOST}\n  subsets:\n  - name: v1\n    labels: {{version: v1}}\n  - name: v2\n    labels: {{version: v2}}\n    trafficPolicy:\n      tls: {{mode: SIMPLE, caCertificates: ca.pem, sni: {HOST}}}\n"
    );
    let vs = config::virtual_service("secure", HOST)
        .route("v1")
        .mirror("v2");
    let files = config::files()
        .file("a-service.yaml", entry.yaml())
        .file("b-rule.yaml", rule)
        .file("c-vs.yaml", vs.yaml())
        .file("ca.pem", pki.ca_pem());
    let proxy = proxy::with_config(files).run().await;
    let answer = get(&proxy).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.version(), "v1", "the primary answers");
    assert!(plain.seen()[0].tls.is_none(), "the primary is plaintext");
    assert_eventually!(secure.count() == 1, "the mirror reached the TLS subset");
    let handshake = secure.seen()[0].tls.clone().expect("TLS");
    assert_eq!(handshake.sni.as_deref(), Some(HOST));
    assert_eq!(secure.seen()[0].authority, format!("{HOST}-shadow"));
    proxy.shutdown().await;
}

#[tokio::test]
async fn istio_egress_tls_origination_yaml_works() {
    // Istio's "Egress TLS Origination" task: the client speaks HTTP to port 80, whose
    // targetPort is the HTTPS port; the rule's port-level settings originate TLS on port 80.
    let pki = Pki::new("test CA");
    let backend = tls_backend(&pki.server(&["localhost"]), None).await;
    let port = backend.port();
    let entry = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: localhost, namespace: challengeistio}}\nspec:\n  hosts: [localhost]\n  ports:\n  - number: 80\n    name: http-port\n    protocol: HTTP\n    targetPort: {port}\n  - number: 443\n    name: https-port\n    protocol: HTTPS\n  resolution: DNS\n"
    );
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: localhost, namespace: challengeistio}\nspec:\n  host: localhost\n  trafficPolicy:\n    portLevelSettings:\n    - port:\n        number: 80\n      tls:\n        mode: SIMPLE\n        caCertificates: ca.pem\n";
    let files = config::files()
        .file("a-service.yaml", entry)
        .file("b-rule.yaml", rule)
        .file("ca.pem", pki.ca_pem());
    let proxy = proxy::with_config(files).run().await;
    let answer = proxy
        .client()
        .host("localhost")
        .get("/politics")
        .send()
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let handshake = backend.seen()[0].tls.clone().expect("TLS");
    assert_eq!(handshake.sni.as_deref(), Some("localhost"));
    proxy.shutdown().await;
}

#[test]
fn validate_refuses_a_missing_ca_file_naming_file_resource_and_field() {
    let files = files(
        8443,
        "HTTP",
        "{mode: SIMPLE, caCertificates: missing/ca.pem}",
        &Pki::new("x"),
    );
    let dir = files.write();
    let out = (binary::command()
        .args(["validate", "-f"])
        .arg(dir.path())
        .output())
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("spec.trafficPolicy.tls.caCertificates"))
        .unwrap_or_else(|| panic!("no line names the field: {stderr}"));
    let missing = dir.path().join("missing/ca.pem");
    for part in [
        "b-rule.yaml",
        "DestinationRule challengeistio/secure",
        "cannot read",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    assert!(line.contains(&missing.display().to_string()), "{line}");
}

#[tokio::test]
async fn a_refused_handshake_logs_one_line_per_try_with_endpoint_sni_and_reason() {
    let (pki, other) = (Pki::new("test CA"), Pki::new("another CA"));
    let backend = tls_backend(&other.server(&[HOST]), None).await;
    let dir = files(
        backend.port(),
        "HTTP",
        "{mode: SIMPLE, caCertificates: ca.pem}",
        &pki,
    )
    .write();
    let port = crate::support::refusing_port().await;
    let mut child = binary::run(dir.path())
        .listen(port)
        .admin(0)
        .capture_stderr()
        .spawn();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eventually!(
        within Duration::from_secs(10),
        std::net::TcpStream::connect(addr).is_ok(),
        "the proxy did not come up"
    );
    let answer = Client::new(addr).host(HOST).get("/hello").send().await;
    assert_eq!(answer.status, 503);
    child.sigterm();
    let lines = tokio::task::spawn_blocking(move || child.stderr_lines())
        .await
        .unwrap();
    let failed: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("upstream TLS failed"))
        .collect();
    // One line per try: a refused handshake is a connect failure, which Istio's default
    // retry policy retries twice (on the same endpoint: there is no other).
    assert_eq!(failed.len(), 3, "{lines:#?}");
    let endpoint = format!("127.0.0.1:{}", backend.port());
    for line in failed {
        for part in [endpoint.as_str(), HOST, "UnknownIssuer"] {
            assert!(line.contains(part), "{part:?} in {line}");
        }
    }
}
