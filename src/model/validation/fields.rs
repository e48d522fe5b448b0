//! Field rules shared by every kind: host names (FQDNs, wildcards, short names), ports,
//! durations, percentages, header names and values, labels, subsets, regexes and `exportTo`, as
//! Istio's validation checks them (`pkg/config/validation`, `agent/validation.go`,
//! `labels/instance.go`, `visibility`). Each check returns `Err(message)`; the caller names the
//! field. Imports only [`crate::model::duration`].

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::model::duration::parse_duration;

pub(crate) use super::scope::{
    ExportToOf, export_to, gateway_name, labels, selector_labels, source_namespace,
};

/// The outcome of one field check: `Err` holds what is wrong.
pub(crate) type Check = Result<(), String>;

/// Longest DNS-1123 label.
const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_LABEL: &str = "[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?";

fn anchored(re: &str) -> Regex {
    Regex::new(&format!("^(?:{re})$")).expect("static regex")
}

static LABEL: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_LABEL));
static WILDCARD_LABEL: LazyLock<Regex> =
    LazyLock::new(|| anchored(&format!(r"\*|(?:\*|\*-)?{DNS1123_LABEL}")));
static HEADER_NAME: LazyLock<Regex> = LazyLock::new(|| anchored("[!#$%&'*+\\-.^_`|~A-Za-z0-9]+"));
static STRICT_HEADER_NAME: LazyLock<Regex> = LazyLock::new(|| anchored("[-_A-Za-z0-9]+"));

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?` (either case), at most 63 characters.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    s.len() <= DNS1123_LABEL_MAX && LABEL.is_match(s)
}

/// A label that may start with `*` or `*-` (or be `*`).
pub(crate) fn is_wildcard_dns1123_label(s: &str) -> bool {
    s.len() <= DNS1123_LABEL_MAX && WILDCARD_LABEL.is_match(s)
}

fn dns1123_preconditions(name: &str) -> Check {
    if name.len() > 255 {
        return Err(format!("domain name {name:?} too long (max 255)"));
    }
    if name.is_empty() {
        return Err("empty domain name not allowed".into());
    }
    Ok(())
}

/// Every dot-separated label is a DNS-1123 label (a trailing dot is allowed); the top-level
/// label is not all digits.
pub(crate) fn dns1123_labels(domain: &str) -> Check {
    let parts: Vec<&str> = domain.split('.').collect();
    let top = parts[parts.len() - 1];
    if !top.is_empty() && top.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "domain name {domain:?} invalid (top level domain {top:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i == parts.len() - 1 && label.is_empty() {
            return Ok(());
        }
        if !is_dns1123_label(label) {
            return Err(format!(
                "domain name {domain:?} invalid (label {label:?} invalid)"
            ));
        }
    }
    Ok(())
}

/// Istio's `ValidateFQDN`: a DNS name (short names pass: they are one label).
pub(crate) fn fqdn(name: &str) -> Check {
    dns1123_preconditions(name)?;
    dns1123_labels(name)
}

/// Istio's `ValidateWildcardDomain`: a DNS name whose first label may be a wildcard
/// (`*`, `*.example.com`, `*-x.example.com`).
pub(crate) fn wildcard_domain(name: &str) -> Check {
    dns1123_preconditions(name)?;
    let (first, rest) = match name.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if !is_wildcard_dns1123_label(first) {
        return Err(format!(
            "domain name {name:?} invalid (label {first:?} invalid)"
        ));
    }
    rest.map_or(Ok(()), dns1123_labels)
}

/// An IP address (v4 or v6).
pub(crate) fn is_ip_address(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Istio's `ValidateIPSubnet`: `a.b.c.d/n`, `2001:db8::/32` or a bare address.
pub(crate) fn ip_subnet(s: &str) -> Check {
    if s.matches('/').count() == 1 {
        let (addr, bits) = s.split_once('/').unwrap_or((s, ""));
        let max = match addr.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => 32,
            Ok(IpAddr::V6(_)) => 128,
            Err(_) => return Err(format!("{s} is not a valid CIDR block")),
        };
        let ok = !bits.starts_with('+') && bits.parse::<u8>().is_ok_and(|b| b <= max);
        return if ok {
            Ok(())
        } else {
            Err(format!("{s} is not a valid CIDR block"))
        };
    }
    if is_ip_address(s) {
        Ok(())
    } else {
        Err(format!("{s} is not a valid IP"))
    }
}

/// Istio's `ValidatePort`: 1 to 65535.
pub(crate) fn port(n: i64) -> Check {
    if (1..=65535).contains(&n) {
        Ok(())
    } else {
        Err(format!("port number {n} must be in the range 1..65535"))
    }
}

/// Istio's `ValidateDuration` (and the CRDs' `duration(self) >= duration('1ms')`): a valid
/// duration of at least 1 ms, to millisecond precision. Returns the parsed duration.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(1) {
        return Err(format!("{text:?}: duration must be at least 1ms"));
    }
    if d.as_nanos() % 1_000_000 != 0 {
        return Err(format!(
            "{text:?}: only durations to ms precision are supported"
        ));
    }
    Ok(d)
}

/// Istio's `ValidatePercent`: an integer from 0 to 100.
#[allow(
    dead_code,
    reason = "shared: used by the DestinationRule and ServiceEntry rules"
)]
pub(crate) fn percent(value: i64) -> Check {
    if (0..=100).contains(&value) {
        Ok(())
    } else {
        Err(format!("percentage {value} is not in range 0..100"))
    }
}

/// A `Percent.value` from 0 to 100 (`mirrorPercentage`, `mirrors[].percentage`).
pub(crate) fn percentage_range(value: f64) -> Check {
    if (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{value} is outside 0 to 100"))
    }
}

/// Istio's `validatePercentage` (fault injection): 0, or 0.0001 to 100.
#[allow(
    dead_code,
    reason = "shared: used by the DestinationRule and ServiceEntry rules"
)]
pub(crate) fn percentage_fraction(value: f64) -> Check {
    if !(0.0..=100.0).contains(&value) || (value > 0.0 && value < 0.0001) {
        return Err(format!(
            "percentage {value} is neither 0.0, nor in range [0.0001, 100.0]"
        ));
    }
    Ok(())
}

/// A JWT-claim pseudo header (`@request.auth.claims.sub`, `@request.auth.claims[a][b]`).
pub(crate) fn is_jwt_claim_route(name: &str) -> bool {
    const PREFIX: &str = "@request.auth.claims";
    let Some(head) = name.get(..PREFIX.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(PREFIX) {
        return false;
    }
    let rest = &name[PREFIX.len()..];
    (rest.starts_with('.') && rest.len() > 1)
        || (rest.starts_with('[') && rest.ends_with(']') && rest.len() > 2)
}

const PSEUDO_HEADERS: [&str; 5] = [":method", ":scheme", ":authority", ":path", ":status"];

/// Istio's `ValidateHTTPHeaderNameOrJwtClaimRoute`: a token (RFC 7230), a pseudo-header or a
/// JWT claim. Used for match keys.
pub(crate) fn header_name(name: &str) -> Check {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if is_jwt_claim_route(name) || PSEUDO_HEADERS.contains(&name) || HEADER_NAME.is_match(name) {
        return Ok(());
    }
    Err(format!("header name {name} is not a valid header name"))
}

/// Istio's `ValidateStrictHTTPHeaderName`: letters, digits, `-` and `_`.
#[allow(
    dead_code,
    reason = "shared: used by the DestinationRule and ServiceEntry rules"
)]
pub(crate) fn strict_header_name(name: &str) -> Check {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if STRICT_HEADER_NAME.is_match(name) {
        Ok(())
    } else {
        Err(format!("header name {name} is not a valid header name"))
    }
}

/// `:authority` or `host`, any case.
pub(crate) fn is_authority_header(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

/// Istio's `ValidateHTTPHeaderWithAuthorityOperationName`: request `set`/`add` keys; the
/// authority (`:authority`, `host`) may be set, other pseudo-headers not.
pub(crate) fn header_op_name_with_authority(name: &str) -> Check {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.starts_with(':') && !is_authority_header(name) {
        return Err(format!(
            "invalid header {name:?}: header cannot have \":\" prefix"
        ));
    }
    Ok(())
}

/// Istio's `ValidateHTTPHeaderOperationName`: request `remove` and every response operation;
/// neither `host` nor a pseudo-header.
pub(crate) fn header_op_name(name: &str) -> Check {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(format!("invalid header {name:?}: cannot set Host header"));
    }
    if name.starts_with(':') {
        return Err(format!(
            "invalid header {name:?}: header cannot have \":\" prefix"
        ));
    }
    Ok(())
}

/// Istio's `ValidateHTTPHeaderValue`: no control characters but tab, and Envoy's `%VAR%`
/// syntax well formed (`%%` is a literal `%`).
pub(crate) fn header_value(value: &str) -> Check {
    if value
        .chars()
        .any(|c| matches!(c, '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'))
    {
        return Err(format!("header value configuration {value:?} is invalid"));
    }
    super::header_value::envoy_format(value).map_err(|e| format!("header value configuration: {e}"))
}

/// Istio's `validateSubsetName`: a non-empty DNS-1123 label.
pub(crate) fn subset_name(name: &str) -> Check {
    if name.is_empty() {
        return Err("subset name cannot be empty".into());
    }
    if !is_dns1123_label(name) {
        return Err(format!("subset name is invalid: {name}"));
    }
    Ok(())
}

/// Istio's `validateStringRegexp`: at most 1024 characters, RE2 syntax.
pub(crate) fn regex(re: &str) -> Check {
    if re.len() > 1024 {
        return Err(format!(
            "regex is {} characters long; Istio allows at most 1024",
            re.len()
        ));
    }
    crate::model::matchers::regex_cache::check_syntax(re).map_err(|e| {
        format!("invalid regex: {e}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)")
    })
}

/// Istio's `host.Name.Matches`: the two names (either may be a `*` wildcard) overlap.
pub(crate) fn hosts_overlap(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(sa), Some(sb)) => {
            if sa.len() < sb.len() {
                sb.ends_with(sa)
            } else {
                sa.ends_with(sb)
            }
        }
        (Some(sa), None) => b.ends_with(sa),
        (None, Some(sb)) => a.ends_with(sb),
        (None, None) => a == b,
    }
}

/// Istio's `host.Name.SubsetOf`: every name `a` matches is matched by `b`.
pub(crate) fn host_subset_of(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(sa), Some(sb)) => a.len() >= b.len() && sa.ends_with(sb),
        (Some(_), None) => false,
        (None, Some(sb)) => a.ends_with(sb),
        (None, None) => a == b,
    }
}
