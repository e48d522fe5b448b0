//! Telemetry: what happened in each upstream exchange, primary and mirrored alike, and where it
//! goes (access log, Istio's standard metrics, and the hooks other parts register).
//!
//! This is a bottom layer: it imports nothing else of the crate, so every layer can speak its
//! vocabulary ([`Exchange`], [`Flag`], [`Peer`]). The proxy records each exchange exactly once
//! through [`Telemetry::record`]; subsystems that count their own figures (mirroring, upstreams,
//! reloads, the comparison) register their own families into the [`prometheus_client`]
//! `Registry` handed to them, and [`metrics::encode`] writes the scrape.

pub mod access_log;
mod exchange;
pub mod metrics;
mod peer;

use std::sync::Arc;

pub use access_log::{AccessLog, LogFormat};
pub use exchange::{Exchange, Flag};
pub use peer::{Peer, PeerCaches};

/// Something that wants to see every exchange (metrics, comparison).
pub trait ExchangeHook: Send + Sync {
    /// Called once per exchange, off the client's path where possible.
    fn on_exchange(&self, ex: &Exchange);
    /// Bytes of response body this hook wants captured (0: none).
    fn capture_limit(&self) -> usize {
        0
    }
    /// Asked once per mirrored request: compare this one? (The comparison samples under load.)
    fn sample_pair(&self) -> bool {
        false
    }
}

/// The telemetry sinks of one proxy.
#[derive(Default)]
pub struct Telemetry {
    /// Access log.
    pub access_log: AccessLog,
    hooks: Vec<Arc<dyn ExchangeHook>>,
    capture_limit: usize,
}

impl Telemetry {
    /// Telemetry with an access log.
    pub fn new(access_log: AccessLog) -> Self {
        Self {
            access_log,
            hooks: Vec::new(),
            capture_limit: 0,
        }
    }

    /// Adds a hook.
    pub fn add_hook(&mut self, hook: Arc<dyn ExchangeHook>) {
        self.capture_limit = self.capture_limit.max(hook.capture_limit());
        self.hooks.push(hook);
    }

    /// Should this mirrored request be compared? (Any hook that compares says yes.)
    pub fn sample_pair(&self) -> bool {
        self.hooks.iter().any(|h| h.sample_pair())
    }

    /// Largest body capture any hook asked for.
    pub fn capture_limit(&self) -> usize {
        self.capture_limit
    }

    /// Records one exchange.
    pub fn record(&self, ex: &Exchange) {
        self.access_log.write(ex);
        for hook in &self.hooks {
            hook.on_exchange(ex);
        }
    }
}
