//! `ServiceEntry` and `WorkloadEntry` rules of Istio's `pkg/config/validation` that need only
//! the resource itself.

use crate::config::{Diagnostic, Resource, wire::ServiceEntrySpec, wire::WorkloadEntrySpec};

/// Checks one ServiceEntry; pushes what it finds to `diags`.
pub(super) fn validate_service_entry(
    _resource: &Resource<ServiceEntrySpec>,
    _diags: &mut Vec<Diagnostic>,
) {
}

/// Checks one WorkloadEntry; pushes what it finds to `diags`.
pub(super) fn validate_workload_entry(
    _resource: &Resource<WorkloadEntrySpec>,
    _diags: &mut Vec<Diagnostic>,
) {
}
