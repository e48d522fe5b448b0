//! A route's `fault` and `corsPolicy`, checked by [`crate::model::validation::http_policy`] and
//! compiled as Istio translates them for Envoy (`TranslateFault`, `TranslateCORSPolicy`):
//! percentages in parts per million, header values joined with `,`, `maxAge` in seconds.
//!
//! Imports only [`crate::config`] and [`crate::model`].

use http::header::HeaderValue;

use crate::config::diag::Reporter;
use crate::config::wire::{CorsPolicy, HttpFaultInjection, HttpRoute, Percent};
use crate::model::duration::parse_duration;
use crate::model::http_policy::{
    AbortAnswer, Cors, Fault, FaultAbort, FaultDelay, MILLION, grpc_status_code,
};
use crate::model::matchers::StringMatcher;
use crate::model::validation::http_policy::{check_cors, check_fault};

/// `fault` of route field `f`: `Err(())` when it has errors, `Ok(None)` when it injects nothing.
pub(super) fn fault(route: &HttpRoute, r: &mut Reporter<'_>, f: &str) -> Result<Option<Fault>, ()> {
    let Some(wire) = &route.fault else {
        return Ok(None);
    };
    let field = format!("{f}.fault");
    let mut ok = check_fault(wire, r, &field);
    for (set, what) in [
        (route.redirect.is_some(), "redirect"),
        (route.direct_response.is_some(), "direct_response"),
    ] {
        if set {
            r.error(
                &field,
                format!("HTTP route cannot contain both fault and {what}"),
            );
            ok = false;
        }
    }
    if !ok {
        return Err(());
    }
    Ok(translate_fault(wire))
}

/// Istio's `TranslateFault`, on a checked fault.
fn translate_fault(wire: &HttpFaultInjection) -> Option<Fault> {
    let delay = wire.delay.as_ref().and_then(|d| {
        let fixed = parse_duration(d.fixed_delay.as_deref()?).ok()?;
        let per_million = match (&d.percentage, d.percent) {
            (Some(p), _) => per_million(p),
            (None, Some(percent)) => u32::try_from(percent).unwrap_or(0) * (MILLION / 100),
            (None, None) => 0,
        };
        Some(FaultDelay { fixed, per_million })
    });
    let abort = wire.abort.as_ref().and_then(|a| {
        let answer = match (a.http_status, a.grpc_status.as_deref()) {
            (Some(s), _) => AbortAnswer::Http(http::StatusCode::from_u16(s as u16).ok()?),
            (None, Some(name)) => AbortAnswer::Grpc(grpc_status_code(name)?),
            (None, None) => return None,
        };
        let per_million = a.percentage.as_ref().map_or(0, per_million);
        Some(FaultAbort {
            answer,
            per_million,
        })
    });
    (delay.is_some() || abort.is_some()).then_some(Fault { delay, abort })
}

/// Istio's `translatePercentToFractionalPercent`: `value * 10000` parts per million.
fn per_million(p: &Percent) -> u32 {
    (p.value * 10_000.0) as u32
}

/// `corsPolicy` of route field `f`: `Err(())` when it has errors.
pub(super) fn cors(route: &HttpRoute, r: &mut Reporter<'_>, f: &str) -> Result<Option<Cors>, ()> {
    let Some(wire) = &route.cors_policy else {
        return Ok(None);
    };
    let field = format!("{f}.corsPolicy");
    if !check_cors(wire, r, &field) {
        return Err(());
    }
    if !wire.allow_origin.is_empty() {
        let msg = if wire.allow_origins.is_empty() {
            "deprecated: use allowOrigins"
        } else {
            "deprecated and overridden by allowOrigins"
        };
        r.warning(format!("{field}.allowOrigin"), msg);
    }
    translate_cors(wire).map(Some).ok_or_else(|| {
        r.error(&field, "a CORS header value is not a valid header value");
    })
}

/// Istio's `TranslateCORSPolicy`, on a checked policy.
fn translate_cors(wire: &CorsPolicy) -> Option<Cors> {
    let origins = if wire.allow_origins.is_empty() {
        (wire.allow_origin.iter())
            .map(|o| StringMatcher::Exact(o.clone()))
            .collect()
    } else {
        (wire.allow_origins.iter())
            .map(|m| StringMatcher::try_from(m).ok())
            .collect::<Option<Vec<_>>>()?
    };
    let joined = |list: &[String]| -> Result<Option<HeaderValue>, ()> {
        if list.is_empty() {
            return Ok(None);
        }
        HeaderValue::from_str(&list.join(","))
            .map(Some)
            .map_err(|_| ())
    };
    let max_age = match &wire.max_age {
        Some(age) => Some(HeaderValue::from(parse_duration(age).ok()?.as_secs())),
        None => None,
    };
    Some(Cors {
        origins,
        allow_methods: joined(&wire.allow_methods).ok()?,
        allow_headers: joined(&wire.allow_headers).ok()?,
        expose_headers: joined(&wire.expose_headers).ok()?,
        max_age,
        allow_credentials: wire.allow_credentials == Some(true),
        forward_unmatched_preflights: wire.unmatched_preflights.as_deref() != Some("IGNORE"),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Diagnostic;
    use crate::model::test_fixtures::SEED_SERVICES;
    use crate::model::{ProxyIdentity, compile_text};

    /// Diagnostics (field, error?) of a VirtualService with one rule made of `rule` lines.
    fn diagnostics(rule: &str) -> Vec<(String, bool, String)> {
        let yaml = format!(
            "{SEED_SERVICES}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - {rule}\n"
        );
        let (_, diags) = compile_text("vs.yaml", &yaml, &ProxyIdentity::default());
        (diags.iter())
            .map(|d: &Diagnostic| {
                (
                    d.field.clone().unwrap_or_default(),
                    d.is_error(),
                    d.message.clone(),
                )
            })
            .collect()
    }

    const ROUTE: &str =
        "route: [{destination: {host: calcbackendsvc.challengeistio.svc.cluster.local}}]";

    #[test]
    fn errors_name_the_field_of_the_route() {
        let cases = [
            (
                format!("{ROUTE}\n    fault: {{abort: {{httpStatus: 9000}}}}"),
                "spec.http[0].fault.abort.httpStatus",
            ),
            (
                "redirect: {uri: /x}\n    fault: {delay: {fixedDelay: 1s}}".into(),
                "spec.http[0].fault",
            ),
            (
                format!("{ROUTE}\n    fault: {{delay: {{fixedDelay: 1us}}}}"),
                "spec.http[0].fault.delay.fixedDelay",
            ),
            (
                format!("{ROUTE}\n    corsPolicy: {{allowMethods: [GET, FETCH]}}"),
                "spec.http[0].corsPolicy.allowMethods[1]",
            ),
            (
                format!("{ROUTE}\n    corsPolicy: {{maxAge: 1500ms}}"),
                "spec.http[0].corsPolicy.maxAge",
            ),
            (
                format!("{ROUTE}\n    rewrite: {{uriRegexRewrite: {{match: \"(\", rewrite: x}}}}"),
                "spec.http[0].rewrite.uriRegexRewrite.match",
            ),
            (
                "redirect: {uri: /x, prefixRewrite: /y}".into(),
                "spec.http[0].redirect",
            ),
            (
                "redirect: {derivePort: FROM_NOWHERE}".into(),
                "spec.http[0].redirect.derivePort",
            ),
            (
                "redirect: {uri: /x, redirectCode: 304}".into(),
                "spec.http[0].redirect.redirectCode",
            ),
            (
                format!(
                    "{ROUTE}\n    headers: {{request: {{set: {{\":authority\": \"a\\nb\"}}}}}}"
                ),
                "spec.http[0].headers.request.set.:authority",
            ),
        ];
        for (rule, field) in cases {
            let errors: Vec<_> = (diagnostics(&rule).into_iter())
                .filter(|(_, error, _)| *error)
                .collect();
            assert_eq!(errors.len(), 1, "{rule}: {errors:#?}");
            assert_eq!(errors[0].0, field, "{rule}: {errors:#?}");
        }
    }

    #[test]
    fn fault_and_cors_are_acted_on_not_warned_about() {
        let rule = format!(
            "{ROUTE}\n    fault: {{abort: {{httpStatus: 503, percentage: {{value: 1}}}}}}\n    corsPolicy: {{allowOrigins: [{{exact: a.com}}]}}"
        );
        assert_eq!(diagnostics(&rule), []);
        let legacy = format!("{ROUTE}\n    corsPolicy: {{allowOrigin: [a.com]}}");
        let warned = diagnostics(&legacy);
        assert_eq!(warned.len(), 1, "{warned:#?}");
        assert_eq!(warned[0].0, "spec.http[0].corsPolicy.allowOrigin");
    }
}
