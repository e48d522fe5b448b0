//! `VirtualService` rules of Istio's `pkg/config/validation` that need only the resource itself.

use crate::config::{Diagnostic, Resource, wire::VirtualServiceSpec};

/// Checks one VirtualService; pushes what it finds to `diags`.
pub(super) fn validate(_resource: &Resource<VirtualServiceSpec>, _diags: &mut Vec<Diagnostic>) {}
