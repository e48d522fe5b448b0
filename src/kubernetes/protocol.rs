//! A Service port's protocol, inferred as Istio infers it (`pkg/config/kube/conversion.go`):
//! UDP stays UDP; else `appProtocol` when set (with Kubernetes' `kubernetes.io/h2c`, `/ws` and
//! `/wss`), else the port name's prefix before the first `-` (`http-web` is HTTP, `grpc-web...`
//! is gRPC-Web), case-insensitive; a port of unknown protocol on a well-known TCP port (25, 53,
//! 3306, 27017) is TCP. `None` is Istio's "unsupported": detected from the traffic, which for
//! shadowmesh means HTTP/1.1.

/// Istio's protocol name (as a ServiceEntry port writes it) for a Service port, or `None` when
/// Istio would sniff it.
pub fn convert_protocol(
    port: i32,
    name: &str,
    protocol: Option<&str>,
    app_protocol: Option<&str>,
) -> Option<&'static str> {
    if protocol == Some("UDP") {
        return Some("UDP");
    }
    let name = match app_protocol {
        Some("kubernetes.io/h2c") => return Some("HTTP2"),
        Some("kubernetes.io/ws") => return Some("HTTP"),
        Some("kubernetes.io/wss") => return Some("HTTPS"),
        Some(app) => app,
        None => name,
    };
    if name.len() >= 8 && name[..8].eq_ignore_ascii_case("grpc-web") {
        return Some("GRPC-WEB");
    }
    let prefix = name.split('-').next().unwrap_or(name);
    let parsed = parse(prefix);
    if parsed.is_none() && matches!(port, 25 | 53 | 3306 | 27017) {
        return Some("TCP");
    }
    parsed
}

/// Istio's `protocol.Parse`, case-insensitive.
fn parse(s: &str) -> Option<&'static str> {
    Some(match s.to_ascii_lowercase().as_str() {
        "tcp" => "TCP",
        "udp" => "UDP",
        "grpc" => "GRPC",
        "grpc-web" => "GRPC-WEB",
        "http" => "HTTP",
        "http_proxy" => "HTTP_PROXY",
        "http2" => "HTTP2",
        "https" => "HTTPS",
        "tls" => "TLS",
        "mongo" => "MONGO",
        "redis" => "REDIS",
        "mysql" => "MYSQL",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::convert_protocol;

    /// (port, name, protocol, appProtocol, expected).
    type Case = (
        i32,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn protocols_are_inferred_as_istio_does() {
        // (port, name, protocol, appProtocol, expected): cases of Istio's conversion_test.go.
        let cases: &[Case] = &[
            (80, "http", None, None, Some("HTTP")),
            (80, "http-web", None, None, Some("HTTP")),
            (80, "HTTP-web", None, None, Some("HTTP")),
            (80, "http2-x", None, None, Some("HTTP2")),
            (80, "grpc", None, None, Some("GRPC")),
            (80, "grpc-web", None, None, Some("GRPC-WEB")),
            (80, "grpc-web-x", None, None, Some("GRPC-WEB")),
            (80, "grpc-x", None, None, Some("GRPC")),
            (80, "https-x", None, None, Some("HTTPS")),
            (80, "tcp", None, None, Some("TCP")),
            (80, "web", None, None, None),
            (80, "", None, None, None),
            (80, "httpx", None, None, None),
            (3306, "", None, None, Some("TCP")),
            (53, "dns", Some("UDP"), None, Some("UDP")),
            (80, "http", Some("UDP"), None, Some("UDP")),
            (80, "tcp", None, Some("http"), Some("HTTP")),
            (80, "http", None, Some("grpc"), Some("GRPC")),
            (80, "web", None, Some("kubernetes.io/h2c"), Some("HTTP2")),
            (80, "web", None, Some("kubernetes.io/ws"), Some("HTTP")),
            (80, "web", None, Some("kubernetes.io/wss"), Some("HTTPS")),
            (80, "http", None, Some("example.com/custom"), None),
        ];
        for (port, name, proto, app, want) in cases {
            assert_eq!(
                convert_protocol(*port, name, *proto, *app),
                *want,
                "port {port} name {name:?} protocol {proto:?} appProtocol {app:?}"
            );
        }
    }
}
