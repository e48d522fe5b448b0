//! Where a resource or a match applies, as Istio checks it: `exportTo` (`validateExportTo`),
//! gateway names (`validateGatewayNames`), source labels (`labels.Instance.Validate`),
//! source namespaces and a workload selector's labels (`validateWorkloadSelector`). Re-exported by [`super::fields`], where callers find them.
//! Imports only [`crate::model`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use super::fields::{Check, fqdn, is_dns1123_label};

const DNS1123_LABEL: &str = "[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?";

static TAG_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^({DNS1123_LABEL}(?:\.{DNS1123_LABEL})*/)?((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
    ))
    .expect("static regex")
});
static LABEL_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").expect("static regex")
});

/// Istio's `labels.Instance.Validate`: Kubernetes label keys and values.
pub(crate) fn labels(labels: &BTreeMap<String, String>) -> Check {
    let mut errors = Vec::new();
    for (k, v) in labels {
        if let Err(e) = label_key(k) {
            errors.push(e);
        }
        if !LABEL_VALUE.is_match(v) {
            errors.push(format!("invalid tag value: {v:?}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn label_key(k: &str) -> Check {
    let Some(caps) = TAG_KEY.captures(k) else {
        return Err(format!("invalid tag key: {k:?}"));
    };
    if caps.get(1).is_some_and(|p| p.as_str().len() - 1 > 253) {
        return Err(format!("invalid tag key: {k:?} (DNS prefix is too long)"));
    }
    if caps.get(2).is_some_and(|n| n.as_str().len() > 63) {
        return Err(format!("invalid tag key: {k:?} (name is too long)"));
    }
    Ok(())
}

/// Which resource an `exportTo` belongs to: the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportToOf {
    /// VirtualService, or a DestinationRule without a workload selector.
    Config,
    /// ServiceEntry: `~` (no one) is allowed.
    ServiceEntry,
    /// DestinationRule with a workload selector: only its own namespace.
    DestinationRuleWithSelector,
}

/// Istio's `validateExportTo`. Each error carries the index of the entry it is about (`None`
/// for the list as a whole).
pub(crate) fn export_to(
    namespace: &str,
    entries: &[String],
    of: ExportToOf,
) -> Vec<(Option<usize>, String)> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        let key = if e == "." { namespace } else { e.as_str() };
        if seen.contains(key) {
            let msg = if key != e {
                format!("duplicate entries in exportTo: . and current namespace {namespace}")
            } else {
                format!("duplicate entries in exportTo for entry {e}")
            };
            errors.push((Some(i), msg));
        } else if of == ExportToOf::ServiceEntry && e == "~" {
            seen.insert(key);
        } else if let Err(msg) = visibility(key) {
            errors.push((Some(i), msg));
        } else {
            seen.insert(key);
        }
    }
    if of == ExportToOf::DestinationRuleWithSelector && !seen.is_empty() {
        if !seen.contains(namespace) {
            errors.push((None, "destination rule with workload selector cannot have exportTo beyond current namespace".into()));
        } else if seen.len() > 1 {
            errors.push((
                None,
                "destination rule with workload selector cannot have multiple entries in exportTo"
                    .into(),
            ));
        }
    }
    if seen.contains("*") && entries.len() > 1 {
        errors.push((
            None,
            "cannot have both public (*) and non-public exportTo values for a resource".into(),
        ));
    }
    if seen.contains("~") && entries.len() > 1 {
        errors.push((
            None,
            "cannot export service entry to no one (~) and someone".into(),
        ));
    }
    errors
}

fn visibility(v: &str) -> Check {
    match v {
        "." | "*" => Ok(()),
        "~" => Err("exportTo ~ (none) is not allowed for Istio configuration objects".into()),
        _ if is_dns1123_label(v) => Ok(()),
        _ => Err("only .,*, or a valid DNS 1123 label is allowed as exportTo entry".into()),
    }
}

/// Istio's `validateGatewayNames` for one name: `namespace/name` (DNS labels) or a legacy
/// FQDN. `Ok(Some(warning))` for the legacy `name.namespace` form.
pub(crate) fn gateway_name(name: &str) -> Result<Option<String>, String> {
    let Some((ns, gw)) = name.split_once('/') else {
        let warning = name.split_once('.').map(|(gw, rest)| {
            let ns = rest.split('.').next().unwrap_or_default();
            format!(
                "using legacy gatewayName format {name:?}; prefer the <namespace>/<name> format: \"{ns}/{gw}\""
            )
        });
        return fqdn(name).map(|()| warning);
    };
    if ns.is_empty() || gw.is_empty() {
        return Err("config namespace and gateway name cannot be empty".into());
    }
    if !is_dns1123_label(ns) {
        return Err(format!("invalid value for namespace: {ns:?}"));
    }
    if !is_dns1123_label(gw) {
        return Err(format!("invalid value for gateway name: {gw:?}"));
    }
    Ok(None)
}

/// Istio's `IsDNS1123Label` check on a `sourceNamespace`.
pub(crate) fn source_namespace(ns: &str) -> Check {
    if is_dns1123_label(ns) {
        Ok(())
    } else {
        Err(format!("sourceNamespace match {ns} is invalid"))
    }
}

/// A workload selector's labels at field `f` (Istio's `validateWorkloadSelector`): no empty key,
/// no `*` in a key or value. Each error is `(field, message)`.
pub fn selector_labels(labels: &BTreeMap<String, String>, f: &str) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for (k, v) in labels {
        if k.is_empty() {
            errors.push((
                f.to_string(),
                format!("empty key is not supported in selector: \"{k}={v}\""),
            ));
        }
        if k.contains('*') || v.contains('*') {
            errors.push((
                format!("{f}.{k}"),
                format!("wildcard is not supported in selector: \"{k}={v}\""),
            ));
        }
    }
    errors
}
