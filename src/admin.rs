//! The admin listener (loopback by default). Endpoints:
//! - `GET /ready`: 200 once the config is loaded (in Kubernetes mode: every kind listed once)
//!   and the listeners are up, 503 before and while shutting down;
//! - `GET /config_dump`: the active config as JSON (generation, source files, compiled routes
//!   and clusters, and the errors of the last refused change, if any; in Kubernetes mode each
//!   resource with its source, `kubernetes: ns/name@resourceVersion` or the file, and state);
//! - `GET /metrics`: Prometheus text format (Istio's standard metrics and `shadowmesh_*`);
//! - `GET /compare`: the comparison report as JSON (`?samples=1`: with each group's raw counts,
//!   for `shadowmesh report` to merge replicas);
//! - `GET /`: the comparison web page (self-contained: no CDN), refreshed every 2 s;
//! - `GET /help`: this list.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;

use prometheus_client::registry::Registry;

use crate::compare::Comparator;
use crate::model::dump::config_dump;
use crate::proxy::mirror::{MirrorOutcome, Mirrorer};
use crate::reload::{Reloader, SourceStatus};
use crate::telemetry::metrics;

/// Admin state.
pub struct Admin {
    /// Set once listeners are up; cleared on shutdown.
    pub ready: Arc<AtomicBool>,
    /// Config source.
    pub reloader: Arc<Reloader>,
    /// Mirror counters.
    pub mirrorer: Arc<Mirrorer>,
    /// Every subsystem's metrics (none with `--no-metrics`).
    pub registry: Option<Arc<Registry>>,
    /// The comparison (none with `--no-compare`).
    pub compare: Option<Arc<Comparator>>,
}

const PAGE: &str = include_str!("compare/page.html");

/// The endpoints, as `GET /help` and `shadowmesh run --help` list them.
pub const ENDPOINTS: &str = "Admin endpoints (on --admin):
  GET /ready          200 once the config is loaded and the listeners are up
  GET /config_dump    the active config as JSON, and the errors of the last refused change
  GET /metrics        Prometheus metrics (Istio's standard names, shadowmesh_*)
  GET /compare        the comparison report as JSON (?samples=1: with raw counts to merge)
  GET /               the comparison web page
  GET /help           this list
";

impl Admin {
    /// Handles one admin request.
    pub async fn handle<B>(
        self: Arc<Self>,
        req: Request<B>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Ok(reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "use GET\n".into(),
            ));
        }
        Ok(match req.uri().path() {
            "/ready" => {
                if self.ready.load(Ordering::Relaxed) && self.reloader.synced() {
                    reply(StatusCode::OK, "text/plain", "ready\n".into())
                } else {
                    reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "not ready\n".into(),
                    )
                }
            }
            "/config_dump" => {
                let snap = self.reloader.snapshot.load();
                let mut dump = config_dump(&snap);
                let head = &mut dump.head;
                let errors = self.reloader.last_errors.load();
                head.insert(
                    "last_rejected".into(),
                    serde_json::json!(errors.iter().map(|d| d.to_string()).collect::<Vec<_>>()),
                );
                head.insert(
                    "mirror_outcomes".into(),
                    serde_json::json!(
                        MirrorOutcome::ALL
                            .iter()
                            .map(|o| (o.as_str().to_string(), self.mirrorer.stats.get(*o)))
                            .collect::<std::collections::BTreeMap<_, _>>()
                    ),
                );
                head.insert("mirrors_in_flight".into(), self.mirrorer.in_flight().into());
                source_status(head, &self.reloader.status.load());
                let body = serde_json::to_vec_pretty(&dump).unwrap_or_default();
                reply(StatusCode::OK, "application/json", body.into())
            }
            "/metrics" => match &self.registry {
                Some(r) => reply(
                    StatusCode::OK,
                    metrics::CONTENT_TYPE,
                    metrics::encode(r).into(),
                ),
                None => reply(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "metrics are off (--no-metrics)\n".into(),
                ),
            },
            "/compare" => self.compare_report(req.uri().query()),
            "/" => reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                Bytes::from_static(PAGE.as_bytes()),
            ),
            "/help" => reply(
                StatusCode::OK,
                "text/plain",
                Bytes::from_static(ENDPOINTS.as_bytes()),
            ),
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found; see GET /help\n".into(),
            ),
        })
    }
}

impl Admin {
    /// `GET /compare[?samples=1]`.
    fn compare_report(&self, query: Option<&str>) -> Response<Full<Bytes>> {
        let Some(c) = &self.compare else {
            let off = "comparison is off (--no-compare)\n";
            return reply(StatusCode::NOT_FOUND, "text/plain", off.into());
        };
        let samples = query.is_some_and(|q| q.split('&').any(|kv| kv == "samples=1"));
        let body = serde_json::to_string_pretty(&c.report_with(samples)).unwrap_or_default();
        reply(StatusCode::OK, "application/json", body.into())
    }
}

/// Cluster mode: each resource with its source and state, and the source's freshness.
fn source_status(dump: &mut serde_json::Map<String, serde_json::Value>, status: &SourceStatus) {
    if !status.kubernetes {
        return;
    }
    let since = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    dump.insert(
        "kubernetes".into(),
        serde_json::json!({
            "synced": status.synced,
            "stale_since_unix": status.stale_since.map(since),
            "stale_reason": status.stale_reason,
        }),
    );
    dump.insert(
        "resources".into(),
        serde_json::json!(
            status
                .resources
                .iter()
                .map(|r| serde_json::json!({
                    "resource": r.resource,
                    "source": r.source,
                    "state": r.state.as_str(),
                    "errors": r.errors,
                }))
                .collect::<Vec<_>>()
        ),
    );
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
