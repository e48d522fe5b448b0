//! Istio's `TestValidateHTTPRetry`, `TestValidateHTTPRewrite`, `TestValidateUriRegexRewrite`,
//! `TestValidateHTTPRedirect`, `TestValidateHTTPDirectResponse`, `TestValidateDestination` and
//! `TestValidateRouteDestination` (validation_test.go), each case put in a VirtualService.

use super::vs_cases::{Case, Want, Want::*, route, run, vs};

const TO_BAZ: &str = "route: [{destination: {host: foo.baz}}]";

fn retry(name: &'static str, retries: &str, want: Want) -> Case {
    route(
        "TestValidateHTTPRetry",
        name,
        &format!("{{{TO_BAZ}, retries: {retries}}}"),
        want,
    )
}

fn rewrite(from: &'static str, name: &'static str, rw: &str, want: Want) -> Case {
    route(from, name, &format!("{{{TO_BAZ}, rewrite: {rw}}}"), want)
}

fn redirect(name: &'static str, rd: &str, want: Want) -> Case {
    route(
        "TestValidateHTTPRedirect",
        name,
        &format!("{{redirect: {rd}}}"),
        want,
    )
}

fn direct(name: &'static str, d: &str, want: Want) -> Case {
    route(
        "TestValidateHTTPDirectResponse",
        name,
        &format!("{{directResponse: {d}}}"),
        want,
    )
}

fn destination(name: &'static str, d: &str, want: Want) -> Case {
    route(
        "TestValidateDestination",
        name,
        &format!("{{route: [{{destination: {d}}}]}}"),
        want,
    )
}

/// `TestValidateRouteDestination` checks `RouteDestination`s, which TCP and TLS routes use.
fn tcp(name: &'static str, routes: &str, want: Want) -> Case {
    vs(
        "TestValidateRouteDestination",
        name,
        &format!("{{hosts: [foo.bar], tcp: [{{route: {routes}}}]}}"),
        want,
    )
}

const RE: &str = r"{match: '^/service/([^/]+)(/.*)$', rewrite: '\2/instance/\1'}";

#[allow(clippy::too_many_lines, reason = "a table of cases, one entry each")]
fn cases() -> Vec<Case> {
    let rw = "TestValidateHTTPRewrite";
    let rr = "TestValidateUriRegexRewrite";
    let big = |n: usize| "a".repeat(n);
    let b64 = |n: usize| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(vec![b'a'; n])
    };
    vec![
        retry(
            "valid",
            "{attempts: 10, perTryTimeout: 2s, retryOn: '5xx,gateway-error'}",
            Valid,
        ),
        retry("disable retries", "{attempts: 0}", Valid),
        retry(
            "invalid, retry policy configured but attempts set to zero",
            "{attempts: 0, perTryTimeout: 2s, retryOn: '5xx,gateway-error'}",
            Error("spec.http[0].retries"),
        ),
        retry("valid default", "{attempts: 10}", Valid),
        retry(
            "valid http status retryOn",
            "{attempts: 10, perTryTimeout: 2s, retryOn: '503,connect-failure'}",
            Valid,
        ),
        retry(
            "invalid attempts",
            "{attempts: -1, perTryTimeout: 2s}",
            Error("spec.http[0].retries.attempts"),
        ),
        retry(
            "invalid timeout",
            "{attempts: 10, perTryTimeout: 2.000000001s}",
            Error("spec.http[0].retries.perTryTimeout"),
        ),
        retry(
            "timeout too small",
            "{attempts: 10, perTryTimeout: 999ns}",
            Error("spec.http[0].retries.perTryTimeout"),
        ),
        retry(
            "invalid backoff",
            "{attempts: 10, backoff: 999ns}",
            Error("spec.http[0].retries.backoff"),
        ),
        retry(
            "invalid policy retryOn",
            "{attempts: 10, perTryTimeout: 2s, retryOn: '5xx,invalid policy'}",
            Error("spec.http[0].retries.retryOn"),
        ),
        retry(
            "invalid http status retryOn",
            "{attempts: 10, perTryTimeout: 2s, retryOn: '600,connect-failure'}",
            Error("spec.http[0].retries.retryOn"),
        ),
        retry(
            "invalid, retryRemoteLocalities configured but attempts set to zero",
            "{attempts: 0, retryRemoteLocalities: false}",
            Error("spec.http[0].retries"),
        ),
        route(
            "TestValidateHTTPRewrite",
            "nil in",
            &format!("{{{TO_BAZ}}}"),
            Valid,
        ),
        rewrite(
            rw,
            "uri and authority",
            "{uri: /path/to/resource, authority: foobar.org}",
            Valid,
        ),
        rewrite(rw, "uri", "{uri: /path/to/resource}", Valid),
        rewrite(rw, "authority", "{authority: foobar.org}", Valid),
        rewrite(
            rw,
            "uriRegexRewrite",
            &format!("{{uriRegexRewrite: {RE}}}"),
            Valid,
        ),
        rewrite(
            rw,
            "uriRegexRewrite and authority",
            &format!("{{authority: foobar.org, uriRegexRewrite: {RE}}}"),
            Valid,
        ),
        rewrite(
            rw,
            "uriRegexRewrite and uri",
            &format!("{{uri: /path/to/resource, uriRegexRewrite: {RE}}}"),
            Error("spec.http[0].rewrite"),
        ),
        rewrite(
            rw,
            "no uri, uriRegexRewrite, or authority",
            "{}",
            Error("spec.http[0].rewrite"),
        ),
        rewrite(
            rr,
            "uriRegexRewrite happy path",
            &format!("{{uriRegexRewrite: {RE}}}"),
            Valid,
        ),
        rewrite(
            rr,
            "uriRegexRewrite missing match",
            r"{uriRegexRewrite: {rewrite: '\2/instance/\1'}}",
            Error("spec.http[0].rewrite.uriRegexRewrite"),
        ),
        rewrite(
            rr,
            "uriRegexRewrite missing rewrite",
            "{uriRegexRewrite: {match: '^/service/([^/]+)(/.*)$'}}",
            Error("spec.http[0].rewrite.uriRegexRewrite"),
        ),
        rewrite(
            rr,
            "uriRegexRewrite invalid regex patterns",
            "{uriRegexRewrite: {match: '[', rewrite: '['}}",
            Error("spec.http[0].rewrite.uriRegexRewrite.match"),
        ),
        redirect(
            "empty uri and authority",
            "{uri: '', authority: ''}",
            Error("spec.http[0].redirect"),
        ),
        redirect(
            "too small redirect code",
            "{uri: t, authority: '', redirectCode: 299}",
            Error("spec.http[0].redirect.redirectCode"),
        ),
        redirect(
            "too large redirect code",
            "{uri: t, authority: '', redirectCode: 400}",
            Error("spec.http[0].redirect.redirectCode"),
        ),
        redirect("empty authority", "{uri: t, authority: ''}", Valid),
        redirect("empty uri", "{uri: '', authority: t}", Valid),
        redirect(
            "empty redirect code",
            "{uri: t, authority: t, redirectCode: 0}",
            Valid,
        ),
        redirect(
            "normal redirect",
            "{uri: t, authority: t, redirectCode: 308}",
            Valid,
        ),
        redirect("prefix_rewrite alone", "{prefixRewrite: /bar}", Valid),
        redirect(
            "prefix_rewrite with authority",
            "{authority: foo.example.com, prefixRewrite: /}",
            Valid,
        ),
        redirect(
            "uri and prefix_rewrite mutually exclusive",
            "{uri: /old, prefixRewrite: /new}",
            Error("spec.http[0].redirect"),
        ),
        direct("status 200", "{status: 200}", Valid),
        direct(
            "status 100",
            "{status: 199}",
            Error("spec.http[0].directResponse.status"),
        ),
        direct(
            "status 600",
            "{status: 601}",
            Error("spec.http[0].directResponse.status"),
        ),
        direct(
            "with string body",
            "{status: 200, body: {string: hello}}",
            Valid,
        ),
        direct(
            "with string body over 100kb",
            &format!("{{status: 200, body: {{string: {}}}}}", big(101 * 1024)),
            Warn,
        ),
        direct(
            "with string body over 1mb",
            &format!(
                "{{status: 200, body: {{string: {}}}}}",
                big(2 * 1024 * 1024)
            ),
            Error("spec.http[0].directResponse.body"),
        ),
        direct(
            "with bytes body",
            &format!("{{status: 200, body: {{bytes: {}}}}}", b64(5)),
            Valid,
        ),
        direct(
            "with bytes body over 100kb",
            &format!("{{status: 200, body: {{bytes: {}}}}}", b64(100 * 1024 + 1)),
            Warn,
        ),
        direct(
            "with bytes body over 1mb",
            &format!("{{status: 200, body: {{bytes: {}}}}}", b64(1024 * 1024 + 1)),
            Error("spec.http[0].directResponse.body"),
        ),
        destination(
            "empty",
            "{}",
            Error("spec.http[0].route[0].destination.host"),
        ),
        destination("simple", "{host: foo.bar}", Valid),
        destination(
            "full",
            "{host: foo.bar, subset: shiny, port: {number: 5000}}",
            Valid,
        ),
        destination(
            "unnumbered-selector",
            "{host: foo.bar, subset: shiny, port: {}}",
            Error("spec.http[0].route[0].destination.port.number"),
        ),
        tcp("simple", "[{destination: {host: foo.baz}}]", Valid),
        tcp(
            "wildcard dash",
            "[{destination: {host: '*-foo.baz'}}]",
            Valid,
        ),
        tcp(
            "wildcard prefix",
            "[{destination: {host: '*foo.baz'}}]",
            Valid,
        ),
        tcp(
            "wildcard",
            "[{destination: {host: '*'}}]",
            Error("spec.tcp[0].route[0].destination.host"),
        ),
        tcp(
            "bad wildcard",
            "[{destination: {host: 'foo.*'}}]",
            Error("spec.tcp[0].route[0].destination.host"),
        ),
        tcp(
            "bad fqdn",
            "[{destination: {host: default/baz}}]",
            Error("spec.tcp[0].route[0].destination.host"),
        ),
        tcp(
            "no destination",
            "[{}]",
            Error("spec.tcp[0].route[0].destination"),
        ),
        tcp(
            "weighted",
            "[{destination: {host: foo.baz.south}, weight: 25}, {destination: {host: foo.baz.east}, weight: 75}]",
            Valid,
        ),
        tcp(
            "weight < 0",
            "[{destination: {host: foo.baz.south}, weight: 5}, {destination: {host: foo.baz.east}, weight: -1}]",
            Error("spec.tcp[0].route[1].weight"),
        ),
        tcp(
            "total weight > 100",
            "[{destination: {host: foo.baz.south}, weight: 550}, {destination: {host: foo.baz.east}, weight: 500}]",
            Valid,
        ),
        tcp(
            "total weight < 100",
            "[{destination: {host: foo.baz.south}, weight: 49}, {destination: {host: foo.baz.east}, weight: 50}]",
            Valid,
        ),
        tcp(
            "total weight = 100",
            "[{destination: {host: foo.baz.south}, weight: 100}, {destination: {host: foo.baz.east}, weight: 0}]",
            Valid,
        ),
        tcp(
            "weight = 0",
            "[{destination: {host: foo.baz.south}, weight: 0}]",
            Valid,
        ),
        tcp(
            "total weight = 0 with multi RouteDestination",
            "[{destination: {host: foo.baz.south}, weight: 0}, {destination: {host: foo.baz.east}, weight: 0}]",
            Error("spec.tcp[0].route"),
        ),
    ]
}

#[test]
fn istio_http_action_and_destination_tables() {
    run(&cases(), &[]);
}
