//! The access log: one line per upstream exchange, primary and mirror, as seed 004's service
//! log shows them (`GET /hello 200 9.303 ms 59 bytes -> greeter-service v2 (mirror)`), or one
//! JSON object per line with `--log-format json`. A request tried more than once says how many
//! times (Envoy's `%UPSTREAM_REQUEST_ATTEMPT_COUNT%`: `(3 attempts)`, JSON `attempts`), and
//! `URX` joins its flags when the retry limit was reached.

use std::io::Write;

use super::Exchange;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// No access log.
    Off,
}

/// Writes access log lines to standard output.
#[derive(Debug, Default)]
pub struct AccessLog {
    format: LogFormat,
}

impl AccessLog {
    /// A log in `format`.
    pub fn new(format: LogFormat) -> Self {
        Self { format }
    }

    /// Writes one line for `ex`.
    pub fn write(&self, ex: &Exchange) {
        let line = match self.format {
            LogFormat::Off => return,
            LogFormat::Text => text_line(ex),
            LogFormat::Json => json_line(ex),
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout must not take the proxy down.
        let _ = out.write_all(line.as_bytes());
    }
}

/// `GET /hello 200 9.303 ms 59 bytes -> greeter-service v1`, plus `(mirror)`, the flag and reason.
pub fn text_line(ex: &Exchange) -> String {
    let ms = ex.duration.as_secs_f64() * 1000.0;
    let mut line = format!(
        "{} {} {} {ms:.3} ms {} bytes -> ",
        ex.method, ex.path, ex.status, ex.response_bytes
    );
    match &ex.peer {
        Some(p) => {
            line.push_str(&p.service);
            if let Some(s) = &p.subset {
                line.push(' ');
                line.push_str(s);
            }
        }
        None => line.push('-'),
    }
    if ex.mirror {
        line.push_str(" (mirror)");
    }
    if ex.attempts > 1 {
        line.push_str(&format!(" ({} attempts)", ex.attempts));
    }
    if ex.flag != super::Flag::None || ex.retry_limit_exceeded {
        line.push(' ');
        line.push_str(ex.flags());
    }
    if let Some(reason) = &ex.reason {
        line.push_str(": ");
        line.push_str(reason);
    }
    line.push('\n');
    line
}

fn json_line(ex: &Exchange) -> String {
    let peer = ex.peer.as_deref();
    let v = serde_json::json!({
        "method": ex.method.as_str(),
        "path": ex.path,
        "status": ex.status,
        "duration_ms": ex.duration.as_secs_f64() * 1000.0,
        "request_bytes": ex.request_bytes,
        "response_bytes": ex.response_bytes,
        "service": peer.map(|p| &*p.service_fqdn),
        "subset": peer.and_then(|p| p.subset.as_deref()),
        "version": peer.map(|p| &*p.version),
        "workload": peer.map(|p| p.workload.as_str()),
        "upstream": peer.map(|p| p.address.as_str()),
        "mirror": ex.mirror,
        "flags": ex.flags(),
        "attempts": ex.attempts,
        "reason": ex.reason,
        "request_id": (ex.request_id.as_ref())
            .and_then(|v| v.to_str().ok())
            .filter(|id| !id.is_empty())
            .unwrap_or("-"),
        "route": ex.route,
        "protocol": ex.protocol,
    });
    let mut s = v.to_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Flag, Peer};
    use std::sync::Arc;
    use std::time::Duration;

    fn exchange(mirror: bool, flag: Flag) -> Exchange {
        Exchange {
            method: http::Method::GET,
            path: "/hello".into(),
            status: 200,
            duration: Duration::from_micros(9303),
            response_bytes: 59,
            peer: Some(Arc::new(Peer {
                service: "greeter-service".into(),
                service_fqdn: "greeter-service.default.svc.cluster.local".into(),
                namespace: "default".into(),
                subset: Some(if mirror { "v2" } else { "v1" }.into()),
                version: "v1".into(),
                workload: "greeter-v1".into(),
                workload_namespace: "default".into(),
                app: "greeter-service".into(),
                canonical_service: "greeter-service".into(),
                canonical_revision: "v1".into(),
                address: "127.0.0.1:3000".into(),
                ..Peer::default()
            })),
            mirror,
            flag,
            request_id: Some(http::HeaderValue::from_static("id")),
            protocol: "HTTP/1.1",
            ..Default::default()
        }
    }

    #[test]
    fn text_lines_read_like_the_seed() {
        assert_eq!(
            text_line(&exchange(false, Flag::None)),
            "GET /hello 200 9.303 ms 59 bytes -> greeter-service v1\n"
        );
        assert_eq!(
            text_line(&exchange(true, Flag::None)),
            "GET /hello 200 9.303 ms 59 bytes -> greeter-service v2 (mirror)\n"
        );
        let mut failed = exchange(true, Flag::ConnectFailure);
        failed.status = 0;
        failed.reason = Some("connection refused".into());
        assert!(
            text_line(&failed).ends_with("greeter-service v2 (mirror) UF: connection refused\n")
        );
    }

    #[test]
    fn injected_faults_carry_envoys_flags() {
        for (flag, text) in [
            (Flag::DelayInjected, " DI\n"),
            (Flag::FaultInjected, " FI\n"),
            (Flag::DelayedThenAborted, " DI,FI\n"),
        ] {
            let line = text_line(&exchange(false, flag));
            assert!(line.ends_with(text), "{line:?}");
        }
    }

    #[test]
    fn retried_requests_show_their_attempts_and_urx() {
        // (attempts, flag, limit reached, the line's end)
        for (attempts, flag, urx, end) in [
            (1, Flag::None, false, "v1\n"),
            (2, Flag::None, false, "v1 (2 attempts)\n"),
            (3, Flag::None, true, "v1 (3 attempts) URX\n"),
            (3, Flag::ConnectFailure, true, "v1 (3 attempts) UF,URX\n"),
            (2, Flag::Timeout, true, "v1 (2 attempts) UT,URX\n"),
            (2, Flag::UpstreamReset, false, "v1 (2 attempts) UC\n"),
        ] {
            let mut ex = exchange(false, flag);
            (ex.attempts, ex.retry_limit_exceeded) = (attempts, urx);
            let line = text_line(&ex);
            assert!(line.ends_with(end), "{line:?}");
            let v: serde_json::Value = serde_json::from_str(&json_line(&ex)).unwrap();
            assert_eq!(v["attempts"], attempts);
            assert_eq!(v["flags"], ex.flags());
        }
    }

    #[test]
    fn json_lines_parse() {
        let v: serde_json::Value =
            serde_json::from_str(&json_line(&exchange(true, Flag::None))).unwrap();
        assert_eq!(v["mirror"], true);
        assert_eq!(v["subset"], "v2");
        assert_eq!(v["flags"], "-");
    }
}
