//! Per-resource validation, as Istio's `pkg/config/validation` does it: every rule that can be
//! checked on one resource alone (host names, durations, percentages, header names, retries,
//! fault, CORS, traffic policies, ServiceEntry/WorkloadEntry shapes), run on every resource
//! whether or not its cross-references resolve. Cross-resource findings (a host with no
//! service, a missing subset) belong to the compiler.
//!
//! - [`fields`]: the shared field rules (hosts, FQDNs and wildcards, ports, durations,
//!   percentages, header names and values, labels, subsets, regexes, `exportTo`, gateways);
//! - `header_value`: Envoy's `%VAR%` syntax in header values; `scope`: `exportTo`, gateway
//!   names, source labels and namespaces (re-exported by [`fields`]);
//! - [`virtual_service`]: `VirtualService` (hosts, delegates, gateways, `exportTo`, `tls`, `tcp`),
//!   [`http_route`] its `http` routes and [`http_action`] their redirect, rewrite, direct
//!   response and retries; `unreachable`: Istio's warnings about rules never used;
//! - [`http_policy`]: a route's `fault` and `corsPolicy`, called by the compiler;
//! - [`destination_rule`]: `DestinationRule`; its traffic policies in [`traffic_policy`]
//!   (connection pool, outlier detection, per-port settings, tunnel), [`load_balancer`] and
//!   [`tls`];
//! - [`service_entry`]: `ServiceEntry` and `WorkloadEntry`; what depends on `resolution` in
//!   [`service_entry_rules`].
//!
//! Tests: Istio's own tables ported case by case (`vs_cases` and `istio_cases/` hold them;
//! `*_tests.rs`). Where validation and the compiler flag the same field, `model::compile`
//! keeps one error. Imports only [`crate::config`] and [`crate::model::duration`].

mod destination_rule;
pub(crate) mod fields;
#[cfg(test)]
mod fields_tests;
mod header_value;
mod http_action;
#[cfg(test)]
mod http_action_tests;
pub(crate) mod http_policy;
mod http_route;
#[cfg(test)]
mod http_route_tests;
#[cfg(test)]
mod istio_cases;
mod load_balancer;
#[cfg(test)]
mod parity_tests;
mod scope;
mod service_entry;
mod service_entry_rules;
mod tls;
mod traffic_policy;
mod unreachable;
mod virtual_service;
#[cfg(test)]
mod virtual_service_tests;
#[cfg(test)]
mod vs_cases;

use crate::config::diag::Reporter;
use crate::config::{ConfigSet, Diagnostic};

/// Checks every resource of `set` on its own; pushes errors and warnings to `diags`.
pub fn validate(set: &ConfigSet, diags: &mut Vec<Diagnostic>) {
    for vs in &set.virtual_services {
        virtual_service::validate(vs, diags);
    }
    for dr in &set.destination_rules {
        destination_rule::validate(dr, diags);
    }
    for se in &set.service_entries {
        service_entry::validate_service_entry(se, diags);
    }
    for we in &set.workload_entries {
        service_entry::validate_workload_entry(we, diags);
    }
}

/// Reports `check`'s error, if any, at `field`.
fn report(r: &mut Reporter<'_>, field: impl Into<String>, check: fields::Check) {
    if let Err(e) = check {
        r.error(field, e);
    }
}
