//! The harness of the VirtualService validation tables ported from Istio's tests: a case is
//! YAML in (a whole `spec`, or one `http` route put in a VirtualService) and a verdict out
//! (valid, valid with a warning, or an error at a field path). Cases where we knowingly differ
//! from Istio are listed with the reason; the tables fail on any other difference.

use std::path::Path;

use crate::config::{ConfigSet, Diagnostic, parse_into};

/// What Istio says about a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// No error.
    Valid,
    /// No error and no warning (where Istio's table checks warnings too).
    Clean,
    /// No error, at least one warning.
    Warn,
    /// An error at this field path.
    Error(&'static str),
}

/// One case: the Istio test it comes from, its name there, the YAML `spec`, the verdict.
pub(super) struct Case {
    pub from: &'static str,
    pub name: &'static str,
    pub spec: String,
    pub want: Want,
}

/// A case on a whole `spec` (flow YAML).
pub(super) fn vs(from: &'static str, name: &'static str, spec: &str, want: Want) -> Case {
    Case {
        from,
        name,
        spec: spec.to_string(),
        want,
    }
}

/// A case on one `http` route of a VirtualService with hosts `[foo.bar]`.
pub(super) fn route(from: &'static str, name: &'static str, route: &str, want: Want) -> Case {
    vs(
        from,
        name,
        &format!("{{hosts: [foo.bar], http: [{route}]}}"),
        want,
    )
}

/// A case on one `http` route of a delegate VirtualService (no hosts).
pub(super) fn delegate_route(
    from: &'static str,
    name: &'static str,
    route: &str,
    want: Want,
) -> Case {
    vs(from, name, &format!("{{http: [{route}]}}"), want)
}

/// Validates `spec` as a VirtualService `default/vs` read from a file; every diagnostic,
/// those of reading included.
pub(super) fn diagnostics(spec: &str) -> Vec<Diagnostic> {
    let text = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: default}}\nspec: {spec}\n"
    );
    let mut set = ConfigSet::default();
    let mut diags = Vec::new();
    parse_into(&mut set, Path::new("vs.yaml"), &text, "default", &mut diags);
    super::validate(&set, &mut diags);
    diags
}

/// What we say about `spec`, in the terms of [`Want`] (for an error: its first field).
fn verdict(spec: &str, want: Want) -> (Want, Vec<Diagnostic>) {
    let diags = diagnostics(spec);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    let got = match (errors.as_slice(), want) {
        ([], Want::Clean) if diags.is_empty() => Want::Clean,
        ([], Want::Valid) => Want::Valid,
        ([], _) if diags.is_empty() => Want::Valid,
        ([], _) => Want::Warn,
        (_, Want::Error(field)) if errors.iter().any(|e| e.field.as_deref() == Some(field)) => want,
        ([first, ..], _) => Want::Error(leak(first.field.clone().unwrap_or_default())),
    };
    (got, diags)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Runs `cases`; `differ` lists `(istio test, case name, why)` for the cases where we knowingly
/// disagree. Panics on any other disagreement, and on a listed case that agrees. Returns
/// (ported, agreeing).
pub(super) fn run(cases: &[Case], differ: &[(&str, &str, &str)]) -> (usize, usize) {
    let mut failures = Vec::new();
    let mut agree = 0;
    for c in cases {
        let (got, diags) = verdict(&c.spec, c.want);
        let listed = differ.iter().any(|(f, n, _)| *f == c.from && *n == c.name);
        match (got == c.want, listed) {
            (true, false) => agree += 1,
            (false, true) => {}
            (true, true) => failures.push(format!(
                "{} / {}: listed as differing but agrees",
                c.from, c.name
            )),
            (false, false) => failures.push(format!(
                "{} / {}: Istio says {:?}, we say {got:?}\n  spec: {}\n  {}",
                c.from,
                c.name,
                c.want,
                c.spec,
                diags
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n  ")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} cases ported, {agree} agree with Istio", cases.len());
    (cases.len(), agree)
}
