//! Sample services, inside the binary so the seed tutorials can be replayed by hand:
//! - `calc`: seed 000's prime-factor backend (`GET /api/calculation?number=N`), v1/v2 by trial
//!   division, v3 by Pollard's rho, optionally with the `perfect-powers` flaw;
//! - `greeter`: seed 004's `GET /hello`;
//! - `echo`: a minimal fast (or fixed-delay) upstream for benchmarks.
//!
//! Each logs its requests as seed 004's service log does, after its version:
//! `[v2] GET /hello 200 9.303 ms - 59` (`--quiet`: no log).

pub mod factor;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

/// Which sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Seed 000's calculation backend.
    Calc,
    /// Seed 004's greeter.
    Greeter,
    /// A minimal upstream for benchmarks.
    Echo,
}

/// A deliberate bug in a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flaw {
    /// v3 returns a wrong factor list for perfect powers (36 gives [2, 3]).
    PerfectPowers,
}

/// A sample service's settings.
#[derive(Debug, Clone)]
pub struct SampleConfig {
    /// Which sample.
    pub kind: Kind,
    /// `v1`, `v2`, `v3`.
    pub version: String,
    /// A deliberate bug.
    pub flaw: Option<Flaw>,
    /// Delay before each answer.
    pub delay: Duration,
    /// Log each request on stdout.
    pub log: bool,
}

impl SampleConfig {
    /// Seed 000's calculation backend, quiet, answering at once.
    pub fn calc(version: &str, flaw: Option<Flaw>) -> Self {
        Self {
            kind: Kind::Calc,
            version: version.into(),
            flaw,
            delay: Duration::ZERO,
            log: false,
        }
    }
}

/// A running sample service.
pub struct Sample {
    /// Bound address.
    pub addr: SocketAddr,
    /// Requests answered so far.
    pub requests: Arc<AtomicU64>,
    shutdown: watch::Sender<bool>,
}

impl Sample {
    /// Stops accepting connections.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Starts a sample on `addr`.
pub async fn start(addr: SocketAddr, config: SampleConfig) -> std::io::Result<Sample> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let (shutdown, rx) = watch::channel(false);
    let config = Arc::new(config);
    let counter = requests.clone();
    let limits = crate::proxy::server::ClientLimits::default();
    tokio::spawn(crate::proxy::server::serve(
        listener,
        rx,
        crate::proxy::server::Admission::new(Duration::from_secs(1), limits.slots()),
        limits,
        move |_, _| {
            let config = config.clone();
            let counter = counter.clone();
            service_fn(move |req| {
                let config = config.clone();
                let counter = counter.clone();
                async move { Ok::<_, Infallible>(answer(&config, &counter, req).await) }
            })
        },
    ));
    Ok(Sample {
        addr,
        requests,
        shutdown,
    })
}

async fn answer(
    config: &SampleConfig,
    counter: &AtomicU64,
    req: Request<crate::proxy::server::ClientBody>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    counter.fetch_add(1, Ordering::Relaxed);
    // Read the body whole (and drop it) before answering, as a real service does: hyper closes
    // a connection whose request body was left unread, and a client still sending it (a proxy
    // streaming a large POST) would see its write fail.
    let (req, mut body) = req.into_parts();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    if !config.delay.is_zero() {
        tokio::time::sleep(config.delay).await;
    }
    let (status, body) = match config.kind {
        Kind::Calc => {
            // Factoring is CPU work: keep it off the async workers, which also carry the proxy
            // when the demo runs everything in one process.
            let (cfg, uri, number_header) = (
                config.clone(),
                req.uri.clone(),
                req.headers.get("number").cloned(),
            );
            tokio::task::spawn_blocking(move || calc(&cfg, &uri, number_header.as_ref()))
                .await
                .unwrap_or((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"error":"calculation failed"}"#.into(),
                ))
        }
        Kind::Greeter => (
            StatusCode::OK,
            serde_json::json!({"message": "hello from greeter-service", "version": config.version})
                .to_string(),
        ),
        Kind::Echo => (StatusCode::OK, "ok\n".to_string()),
    };
    if config.log {
        let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        // The version first, so several samples logging to one terminal are told apart.
        println!(
            "[{}] {} {pq} {} {ms:.3} ms - {}",
            config.version,
            req.method,
            status.as_u16(),
            body.len()
        );
    }
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let content_type = if config.kind == Kind::Echo {
        "text/plain"
    } else {
        "application/json"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn calc(
    config: &SampleConfig,
    uri: &http::Uri,
    number_header: Option<&HeaderValue>,
) -> (StatusCode, String) {
    if uri.path() != "/api/calculation" {
        return (
            StatusCode::NOT_FOUND,
            r#"{"error":"try GET /api/calculation?number=42"}"#.into(),
        );
    }
    let from_query = uri
        .query()
        .and_then(|q| crate::model::matchers::query::query_value(q, "number"))
        .map(str::to_string);
    let from_header = number_header
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(raw) = from_query.or(from_header) else {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":"give a number: ?number=42 or the header number: 42"}"#.into(),
        );
    };
    let Ok(number) = raw.trim().parse::<u64>() else {
        return (
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": format!("{raw:?} is not a whole number from 1 to 18446744073709551615")}).to_string(),
        );
    };
    let factors = match (config.version.as_str(), config.flaw) {
        ("v3", Some(Flaw::PerfectPowers)) => factor::pollard_rho_flawed(number),
        ("v3", None) => factor::pollard_rho(number),
        _ => factor::trial_division(number),
    };
    let host =
        std::env::var("HOSTNAME").unwrap_or_else(|_| format!("calcbackend-{}", config.version));
    let body = serde_json::json!({
        "number": number,
        "factors": factors,
        "version": config.version,
        "host": host,
    });
    (StatusCode::OK, body.to_string())
}
