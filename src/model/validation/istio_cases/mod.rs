//! Istio's own validation tables (`pkg/config/validation/validation_test.go` and
//! `agent/validation_test.go`) for DestinationRule, ServiceEntry and WorkloadEntry, ported as
//! YAML: each case names the Istio test and case it came from, and says "valid" (no error;
//! a warning at a field when Istio expects one) or "error at field X". A case we knowingly
//! disagree on is listed with the reason, and must still disagree (so the list stays true).
//!
//! - this file: the harness;
//! - `destination_rule`: `TestValidateDestinationRule`, `TestValidateTrafficPolicy`;
//! - `traffic_policy`: `TestValidateConnectionPool`, `TestValidateLoadBalancer`,
//!   `TestValidateOutlierDetection`;
//! - `tls_locality`: `TestValidateTLS`, `TestValidateLocalityLbSetting`,
//!   `TestValidateZoneAwareLbSetting`;
//! - `service_entry`, `service_entry_more`: `TestValidateServiceEntries`;
//! - `workload_entry`: `TestValidateWorkloadEntry`.

mod destination_rule;
mod service_entry;
mod service_entry_more;
mod tls_locality;
mod traffic_policy;
mod workload_entry;

use std::path::Path;

use crate::config::{ConfigSet, Diagnostic, parse_into};

/// What Istio says of a case.
#[derive(Debug, Clone, Copy)]
pub(super) enum Want {
    /// Valid, no warning asked for.
    Ok,
    /// Valid, with a warning at this field (relative to the table's prefix).
    Warn(&'static str),
    /// Invalid, with an error at this field (relative to the table's prefix).
    Err(&'static str),
}

/// One case: Istio's case name, the YAML under test (flow style), what Istio says.
pub(super) type Case = (&'static str, &'static str, Want);

/// A table: the Istio test, the kind, how a case's YAML becomes the resource's `spec`, the
/// field prefix the wanted fields are relative to, and the cases we knowingly disagree on.
pub(super) struct Table<'a> {
    pub(super) test: &'a str,
    pub(super) kind: &'a str,
    pub(super) spec: &'a dyn Fn(&str) -> String,
    pub(super) prefix: &'a str,
    pub(super) disagree: &'a [(&'a str, &'a str)],
    /// Whether Istio's test checks warnings too: then `Ok` also means "no warning".
    pub(super) warnings: bool,
}

/// Parses one resource (in namespace `default`) and validates it. A `spec` of the form
/// `META{k: v}|{...}` also sets the resource's labels.
pub(super) fn diagnostics(kind: &str, spec: &str) -> Vec<Diagnostic> {
    let (labels, spec) = match spec.strip_prefix("META").and_then(|s| s.split_once('|')) {
        Some((labels, spec)) => (labels, spec),
        None => ("{}", spec),
    };
    let doc = format!(
        "apiVersion: networking.istio.io/v1\nkind: {kind}\nmetadata: {{name: x, namespace: default, labels: {labels}}}\nspec: {spec}\n"
    );
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    parse_into(&mut set, Path::new("t.yaml"), &doc, "default", &mut diags);
    super::validate(&set, &mut diags);
    diags
}

fn full(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => field.to_string(),
        (false, false) => format!("{prefix}.{field}"),
    }
}

/// `Ok` when `diags` say what `want` says (`strict`: `Want::Ok` also means no warning).
fn agrees(want: Want, prefix: &str, strict: bool, diags: &[Diagnostic]) -> Result<(), String> {
    let at = |d: &Diagnostic, f: &str| d.field.as_deref() == Some(f);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    match want {
        Want::Ok if errors.is_empty() && (!strict || diags.is_empty()) => Ok(()),
        Want::Warn(f) if errors.is_empty() && diags.iter().any(|d| at(d, &full(prefix, f))) => {
            Ok(())
        }
        Want::Err(f) if errors.iter().any(|d| at(d, &full(prefix, f))) => Ok(()),
        _ => Err(format!("wanted {want:?}, got {diags:#?}")),
    }
}

/// Runs `cases`; panics listing every case that does not agree (and is not a known
/// disagreement) or that agrees though listed as a disagreement. Returns (ported, agreeing).
pub(super) fn run(table: &Table<'_>, cases: &[Case]) -> (usize, usize) {
    let mut failures = Vec::new();
    let mut agree = 0;
    for (name, yaml, want) in cases {
        let diags = diagnostics(table.kind, &(table.spec)(yaml));
        let known = table.disagree.iter().any(|(n, _)| n == name);
        match (agrees(*want, table.prefix, table.warnings, &diags), known) {
            (Ok(()), false) => agree += 1,
            (Err(_), true) => {}
            (Ok(()), true) => failures.push(format!("{name}: listed as a disagreement but agrees")),
            (Err(e), false) => failures.push(format!("{name}: {e}")),
        }
    }
    for (name, _) in table.disagree {
        assert!(
            cases.iter().any(|c| c.0 == *name),
            "{}: no case {name}",
            table.test
        );
    }
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        table.test,
        failures.join("\n")
    );
    eprintln!(
        "{}: {} cases ported, {agree} agree",
        table.test,
        cases.len()
    );
    (cases.len(), agree)
}

/// A DestinationRule `spec` for host `reviews` with `trafficPolicy: tp`.
pub(super) fn with_policy(tp: &str) -> String {
    format!("{{host: reviews, trafficPolicy: {tp}}}")
}
