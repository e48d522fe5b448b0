//! A route's retry policy as an Istio sidecar's Envoy applies it: [`RetryPolicy`] compiled from
//! the VirtualService's `retries` (Istio's `retry.ConvertPolicy`), and the condition set
//! [`RetryOn`] deciding, purely, whether one try's [`TryOutcome`] is retried (Envoy's
//! `RetryStateImpl::wouldRetryFromHeaders` and `wouldRetryFromReset`).
//!
//! Istio's facts kept here:
//! - no `retries`: 2 retries on `connect-failure,refused-stream,unavailable,cancelled,
//!   retriable-status-codes` with no retriable status code (Istio 1.24 dropped the 503 it had:
//!   retrying a 503 is unsafe for non-idempotent requests), other hosts preferred;
//! - `attempts: 0` disables retries; `attempts` is the number of *retries* (Envoy's
//!   `num_retries`), so a request is tried at most `attempts + 1` times;
//! - an empty `retryOn` keeps the default conditions; numbers in `retryOn` are retriable status
//!   codes (and turn on `retriable-status-codes`); the named conditions given replace the default;
//! - the previous-hosts predicate (retry another host, `host_selection_retry_max_attempts: 5`) is
//!   on unless the destination balances by consistent hash, or `retryIgnorePreviousHosts` says;
//! - `backoff` is Envoy's base interval (max 10 times it); unset: 25 ms base, 250 ms max.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use std::time::Duration;

use crate::config::wire::HttpRetry;
use crate::model::duration::parse_duration;

/// Envoy's default retry back-off base interval.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(25);
/// How many times Envoy re-picks a host that was already tried (Istio's
/// `HostSelectionRetryMaxAttempts`).
pub const HOST_SELECTION_RETRY_MAX_ATTEMPTS: u32 = 5;
/// Istio's default `retryOn`.
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// Envoy's retry conditions, by name (`x-envoy-retry-on` and `x-envoy-retry-grpc-on`).
const CONDITIONS: [(&str, u32); 16] = [
    ("5xx", RetryOn::FIVE_XX),
    ("gateway-error", RetryOn::GATEWAY_ERROR),
    ("reset", RetryOn::RESET),
    ("reset-before-request", RetryOn::RESET_BEFORE_REQUEST),
    ("connect-failure", RetryOn::CONNECT_FAILURE),
    ("retriable-4xx", RetryOn::RETRIABLE_4XX),
    ("refused-stream", RetryOn::REFUSED_STREAM),
    ("retriable-status-codes", RetryOn::STATUS_CODES),
    ("retriable-headers", RetryOn::RETRIABLE_HEADERS),
    ("envoy-ratelimited", RetryOn::RATE_LIMITED),
    ("http3-post-connect-failure", RetryOn::HTTP3_POST_CONNECT),
    ("cancelled", RetryOn::GRPC_CANCELLED),
    ("deadline-exceeded", RetryOn::GRPC_DEADLINE_EXCEEDED),
    ("internal", RetryOn::GRPC_INTERNAL),
    ("resource-exhausted", RetryOn::GRPC_RESOURCE_EXHAUSTED),
    ("unavailable", RetryOn::GRPC_UNAVAILABLE),
];

/// The conditions a try is retried on, and the retriable status codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryOn {
    bits: u32,
    /// `retriable_status_codes` (numbers in `retryOn`).
    pub status_codes: Vec<u16>,
}

/// What one try came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryOutcome {
    /// Response headers arrived: the status, the `grpc-status` of a trailers-only head, and
    /// whether the upstream said it rate-limited (`x-envoy-ratelimited`).
    Response {
        /// HTTP status.
        status: u16,
        /// `grpc-status` in the head, if any.
        grpc_status: Option<u32>,
        /// `x-envoy-ratelimited` (or `x-envoy-overloaded`) present.
        rate_limited: bool,
    },
    /// No connection could be made (refused, connect timeout).
    ConnectFailure,
    /// The h2 stream was refused (`REFUSED_STREAM`): the upstream never processed it.
    RefusedStream,
    /// The connection or stream was reset before the response headers.
    Reset,
    /// No response headers within the per-try timeout.
    PerTryTimeout,
}

impl RetryOn {
    const FIVE_XX: u32 = 1;
    const GATEWAY_ERROR: u32 = 1 << 1;
    const RESET: u32 = 1 << 2;
    const RESET_BEFORE_REQUEST: u32 = 1 << 3;
    const CONNECT_FAILURE: u32 = 1 << 4;
    const RETRIABLE_4XX: u32 = 1 << 5;
    const REFUSED_STREAM: u32 = 1 << 6;
    const STATUS_CODES: u32 = 1 << 7;
    const RETRIABLE_HEADERS: u32 = 1 << 8;
    const RATE_LIMITED: u32 = 1 << 9;
    const HTTP3_POST_CONNECT: u32 = 1 << 10;
    const GRPC_CANCELLED: u32 = 1 << 11;
    const GRPC_DEADLINE_EXCEEDED: u32 = 1 << 12;
    const GRPC_INTERNAL: u32 = 1 << 13;
    const GRPC_RESOURCE_EXHAUSTED: u32 = 1 << 14;
    const GRPC_UNAVAILABLE: u32 = 1 << 15;

    /// Parses a `retryOn` list as Istio's `parseRetryOn` does: blanks skipped, a number Go knows
    /// as a status is a retriable code (and turns on `retriable-status-codes`), names are Envoy's
    /// conditions (an unknown one, which validation refuses, is ignored, as Envoy does).
    pub fn parse(list: &str) -> Self {
        let mut on = Self::default();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(code) = part.parse::<u16>().ok().filter(|c| (100..600).contains(c)) {
                on.status_codes.push(code);
                on.bits |= Self::STATUS_CODES;
            } else if let Some((_, bit)) = CONDITIONS.iter().find(|(n, _)| *n == part) {
                on.bits |= bit;
            }
        }
        on
    }

    /// The condition names, in Envoy's order, then the codes (for `/config_dump`).
    pub fn names(&self) -> Vec<String> {
        let names = CONDITIONS.iter().filter(|(_, b)| self.bits & b != 0);
        let names = names.map(|(n, _)| (*n).to_string());
        names
            .chain(self.status_codes.iter().map(u16::to_string))
            .collect()
    }

    fn has(&self, bit: u32) -> bool {
        self.bits & bit != 0
    }

    /// Would Envoy retry a try that came to `outcome` (were retries left)?
    pub fn would_retry(&self, outcome: TryOutcome) -> bool {
        match outcome {
            TryOutcome::Response {
                status,
                grpc_status,
                rate_limited,
            } => self.retries_response(status, grpc_status, rate_limited),
            // Envoy counts a reset (and a per-try timeout, a local reset) as a 5xx.
            TryOutcome::PerTryTimeout | TryOutcome::Reset => {
                self.has(Self::FIVE_XX | Self::GATEWAY_ERROR | Self::RESET)
            }
            TryOutcome::RefusedStream => self.has(
                Self::FIVE_XX
                    | Self::GATEWAY_ERROR
                    | Self::RESET
                    | Self::REFUSED_STREAM
                    | Self::RESET_BEFORE_REQUEST,
            ),
            TryOutcome::ConnectFailure => self.has(
                Self::FIVE_XX
                    | Self::GATEWAY_ERROR
                    | Self::RESET
                    | Self::CONNECT_FAILURE
                    | Self::RESET_BEFORE_REQUEST,
            ),
        }
    }

    fn retries_response(&self, status: u16, grpc: Option<u32>, rate_limited: bool) -> bool {
        if rate_limited {
            return self.has(Self::RATE_LIMITED);
        }
        let grpc_bit = match grpc {
            Some(1) => Self::GRPC_CANCELLED,
            Some(4) => Self::GRPC_DEADLINE_EXCEEDED,
            Some(8) => Self::GRPC_RESOURCE_EXHAUSTED,
            Some(13) => Self::GRPC_INTERNAL,
            Some(14) => Self::GRPC_UNAVAILABLE,
            _ => 0,
        };
        (self.has(Self::FIVE_XX) && (500..600).contains(&status))
            || (self.has(Self::GATEWAY_ERROR) && matches!(status, 502..=504))
            || (self.has(Self::RETRIABLE_4XX) && status == 409)
            || (self.has(Self::STATUS_CODES) && self.status_codes.contains(&status))
            || self.has(grpc_bit)
    }
}

/// Envoy's jittered exponential back-off between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first interval's bound.
    pub base: Duration,
    /// No interval is longer.
    pub max: Duration,
}

impl Backoff {
    /// A base interval and Envoy's default maximum, ten times it.
    pub fn with_base(base: Duration) -> Self {
        Self {
            base,
            max: base * 10,
        }
    }

    /// The wait before retry number `retry` (1 for the first), given a roll in `[0, 1)`:
    /// uniform below `base * 2^(retry-1)`, capped at `max` (Envoy's
    /// `JitteredExponentialBackOffStrategy`).
    pub fn delay(&self, retry: u32, roll: f64) -> Duration {
        let doubled = self
            .base
            .saturating_mul(1 << (retry.saturating_sub(1)).min(20));
        let bound = doubled.min(self.max);
        bound.mul_f64(roll.clamp(0.0, 1.0)).min(self.max)
    }
}

/// A route's retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (Envoy's `num_retries`).
    pub num_retries: u32,
    /// Each try's limit on its response headers (none: only the route timeout).
    pub per_try_timeout: Option<Duration>,
    /// When to retry.
    pub retry_on: RetryOn,
    /// `retryIgnorePreviousHosts` as given; `None`: Istio's default (avoid them unless the
    /// destination balances by consistent hash).
    pub ignore_previous_hosts: Option<bool>,
    /// Waits between tries.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// Istio's default policy (no `retries` on the route).
    pub fn istio_default() -> Self {
        Self {
            num_retries: 2,
            per_try_timeout: None,
            retry_on: RetryOn::parse(DEFAULT_RETRY_ON),
            ignore_previous_hosts: None,
            backoff: Backoff::with_base(DEFAULT_BACKOFF_BASE),
        }
    }

    /// Does a retry avoid the hosts already tried, for a destination that does (or does not)
    /// balance by consistent hash?
    pub fn avoids_previous_hosts(&self, hashing: bool) -> bool {
        self.ignore_previous_hosts.unwrap_or(!hashing)
    }
}

/// Why a `retries` block could not be compiled: the field (under `retries`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidRetry {
    /// `perTryTimeout` or `backoff`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Istio's `ConvertPolicy`: `None` (no retries) for `attempts: 0`, the default policy when the
/// route has no `retries`.
pub fn compile(retries: Option<&HttpRetry>) -> Result<Option<RetryPolicy>, InvalidRetry> {
    let Some(wire) = retries else {
        return Ok(Some(RetryPolicy::istio_default()));
    };
    if wire.attempts <= 0 {
        return Ok(None);
    }
    let duration = |field: &'static str, text: &Option<String>| match text.as_deref() {
        None => Ok(None),
        Some(t) => parse_duration(t)
            .map(Some)
            .map_err(|message| InvalidRetry { field, message }),
    };
    let mut policy = RetryPolicy::istio_default();
    policy.num_retries = u32::try_from(wire.attempts).unwrap_or(u32::MAX);
    if let Some(list) = wire.retry_on.as_deref().filter(|s| !s.is_empty()) {
        policy.retry_on = RetryOn::parse(list);
    }
    policy.per_try_timeout = duration("perTryTimeout", &wire.per_try_timeout)?;
    policy.ignore_previous_hosts = wire.retry_ignore_previous_hosts;
    if let Some(base) = duration("backoff", &wire.backoff)? {
        policy.backoff = Backoff::with_base(base);
    }
    Ok(Some(policy))
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
