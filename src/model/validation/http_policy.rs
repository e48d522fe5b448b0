//! Istio's rules for a route's `fault` (`validateHTTPFaultInjection` and its abort and delay
//! parts) and `corsPolicy` (`validateCORSPolicy`), with the CRD's one-of rules. Each check
//! reports at its field and says whether the part it checked is usable.
//! Imports [`crate::config`] and, of the model, only leaf helpers: the duration parser, the gRPC
//! status names and the regex length limit and syntax check.

use std::time::Duration;

use crate::config::diag::Reporter;
use crate::config::wire::{CorsPolicy, FaultAbort, FaultDelay, HttpFaultInjection, Percent};
use crate::model::duration::parse_duration;
use crate::model::http_policy::grpc_status_code;
use crate::model::matchers::string::MAX_REGEX_LEN;

/// Methods Istio accepts in `allowMethods` (Go's, and `*`).
const CORS_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*",
];

/// `fault` at `f` (e.g. `spec.http[0].fault`); false when it has errors.
pub(crate) fn check_fault(fault: &HttpFaultInjection, r: &mut Reporter<'_>, f: &str) -> bool {
    let mut ok = true;
    if fault.abort.is_none() && fault.delay.is_none() {
        r.error(f, "HTTP fault injection must have an abort and/or a delay");
        ok = false;
    }
    if let Some(abort) = &fault.abort {
        ok &= check_abort(abort, r, &format!("{f}.abort"));
    }
    if let Some(delay) = &fault.delay {
        ok &= check_delay(delay, r, &format!("{f}.delay"));
    }
    ok
}

fn check_abort(abort: &FaultAbort, r: &mut Reporter<'_>, f: &str) -> bool {
    let mut ok = check_percentage(abort.percentage.as_ref(), r, f);
    let kinds = [
        abort.http_status.is_some(),
        abort.grpc_status.is_some(),
        abort.http2_error.is_some(),
    ];
    match kinds {
        [false, false, false] => r.warning(f, "abort configured, but error type not set"),
        [true, false, false] => {
            let status = abort.http_status.unwrap_or_default();
            if !(200..=600).contains(&status) {
                r.error(
                    format!("{f}.httpStatus"),
                    format!("HTTP status {status} is not in range 200-599"),
                );
                ok = false;
            }
        }
        [false, true, false] => {
            let name = abort.grpc_status.as_deref().unwrap_or_default();
            if grpc_status_code(name).is_none() {
                r.error(
                    format!("{f}.grpcStatus"),
                    format!(
                        "gRPC status {name:?} is not supported: use a name such as NOT_FOUND or UNAVAILABLE"
                    ),
                );
                ok = false;
            }
        }
        [false, false, true] => {
            r.error(
                format!("{f}.http2Error"),
                "HTTP/2 abort fault injection not supported yet",
            );
            ok = false;
        }
        _ => {
            r.error(f, "set only one of httpStatus, grpcStatus and http2Error");
            ok = false;
        }
    }
    ok
}

fn check_delay(delay: &FaultDelay, r: &mut Reporter<'_>, f: &str) -> bool {
    let mut ok = check_percentage(delay.percentage.as_ref(), r, f);
    if let Some(p) = delay.percent {
        if !(0..=100).contains(&p) {
            r.error(
                format!("{f}.percent"),
                format!("percentage {p} is not in range 0..100"),
            );
            ok = false;
        }
        r.warning(format!("{f}.percent"), "deprecated: use percentage.value");
    }
    if delay.fixed_delay.is_some() && delay.exponential_delay.is_some() {
        r.error(f, "set only one of fixedDelay and exponentialDelay");
        return false;
    }
    if let Some(d) = &delay.fixed_delay {
        ok &= check_duration(d, r, &format!("{f}.fixedDelay")).is_some();
    }
    if let Some(d) = &delay.exponential_delay {
        check_duration(d, r, &format!("{f}.exponentialDelay"));
        r.error(
            format!("{f}.exponentialDelay"),
            "exponentialDelay not supported yet",
        );
        ok = false;
    }
    ok
}

/// `percentage.value`: 0, or from 0.0001 to 100.
fn check_percentage(p: Option<&Percent>, r: &mut Reporter<'_>, f: &str) -> bool {
    let Some(Percent { value }) = p else {
        return true;
    };
    let v = *value;
    if !(0.0..=100.0).contains(&v) || (v > 0.0 && v < 0.0001) {
        r.error(
            format!("{f}.percentage.value"),
            format!("percentage {v} is neither 0.0, nor in range [0.0001, 100.0]"),
        );
        return false;
    }
    true
}

/// A duration Istio accepts: at least 1ms, to the millisecond.
fn check_duration(text: &str, r: &mut Reporter<'_>, f: &str) -> Option<Duration> {
    let d = match parse_duration(text) {
        Ok(d) => d,
        Err(e) => {
            r.error(f, e);
            return None;
        }
    };
    if d < Duration::from_millis(1) {
        r.error(f, "duration must be greater than 1ms");
        return None;
    }
    if d.subsec_nanos() % 1_000_000 != 0 {
        r.error(f, "only durations to ms precision are supported");
        return None;
    }
    Some(d)
}

/// `corsPolicy` at `f`; false when it has errors.
pub(crate) fn check_cors(cors: &CorsPolicy, r: &mut Reporter<'_>, f: &str) -> bool {
    let mut bad = Counter::default();
    for (i, origin) in cors.allow_origins.iter().enumerate() {
        let field = format!("{f}.allowOrigins[{i}]");
        let value = [&origin.exact, &origin.prefix, &origin.regex]
            .into_iter()
            .flatten()
            .next();
        match value {
            None => bad.add(
                r,
                field,
                "'' is not a valid match type for CORS allow origins",
            ),
            Some(v) if v.is_empty() => bad.add(
                r,
                field,
                "'' is not a valid match type for CORS allow origins",
            ),
            Some(_) => {}
        }
        if let Some(re) = origin.regex.as_deref().filter(|re| !re.is_empty()) {
            if re.len() > MAX_REGEX_LEN {
                bad.add(r, format!("{f}.allowOrigins[{i}].regex"), "regex too long");
            } else if let Err(e) = crate::model::matchers::regex_cache::check_syntax(re) {
                bad.add(r, format!("{f}.allowOrigins[{i}].regex"), e.to_string());
            }
        }
    }
    for (i, m) in cors.allow_methods.iter().enumerate() {
        if !CORS_METHODS.contains(&m.as_str()) {
            let msg = format!("{m:?} is not a supported HTTP method");
            bad.add(r, format!("{f}.allowMethods[{i}]"), msg);
        }
    }
    for (list, name) in [
        (&cors.allow_headers, "allowHeaders"),
        (&cors.expose_headers, "exposeHeaders"),
    ] {
        for (i, h) in list.iter().enumerate() {
            if let Err(msg) = cors_header_name(h) {
                bad.add(r, format!("{f}.{name}[{i}]"), msg);
            }
        }
    }
    if let Some(age) = &cors.max_age {
        match check_duration(age, r, &format!("{f}.maxAge")) {
            None => bad.0 += 1,
            Some(d) if d.subsec_nanos() > 0 => bad.add(
                r,
                format!("{f}.maxAge"),
                "max_age duration is accurate only to seconds precision",
            ),
            Some(_) => {}
        }
    }
    if let Some(u) = &cors.unmatched_preflights
        && !matches!(u.as_str(), "UNSPECIFIED" | "FORWARD" | "IGNORE")
    {
        let msg = format!("{u:?} is not one of UNSPECIFIED, FORWARD, IGNORE");
        bad.add(r, format!("{f}.unmatchedPreflights"), msg);
    }
    bad.0 == 0
}

/// Istio's `ValidateCORSHTTPHeaderName`: `*`, or RFC 7230 token characters.
fn cors_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name == "*" || name.chars().all(tchar) {
        Ok(())
    } else {
        Err(format!("header name {name} is not a valid header name"))
    }
}

/// Counts errors while reporting them.
#[derive(Default, Clone, Copy)]
struct Counter(usize);

impl Counter {
    fn add(&mut self, r: &mut Reporter<'_>, field: impl Into<String>, msg: impl Into<String>) {
        r.error(field, msg);
        self.0 += 1;
    }
}

#[cfg(test)]
#[path = "http_policy_tests.rs"]
mod tests;
