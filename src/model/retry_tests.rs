//! Tests of [`super`]: Envoy's "would retry?" for each condition and outcome, Istio's
//! `ConvertPolicy` cases (its `retry_test.go`), and the back-off bounds.

use std::time::Duration;

use super::*;

fn response(status: u16) -> TryOutcome {
    TryOutcome::Response {
        status,
        grpc_status: None,
        rate_limited: false,
    }
}

fn grpc(code: u32) -> TryOutcome {
    TryOutcome::Response {
        status: 200,
        grpc_status: Some(code),
        rate_limited: false,
    }
}

#[test]
fn each_condition_retries_what_envoy_retries() {
    use TryOutcome::{ConnectFailure, PerTryTimeout, RefusedStream, Reset};
    let limited = TryOutcome::Response {
        status: 503,
        grpc_status: None,
        rate_limited: true,
    };
    // (retryOn, outcome, retried?)
    let cases: &[(&str, TryOutcome, bool)] = &[
        ("5xx", response(500), true),
        ("5xx", response(503), true),
        ("5xx", response(599), true),
        ("5xx", response(404), false),
        ("5xx", response(200), false),
        ("5xx", ConnectFailure, true),
        ("5xx", Reset, true),
        ("5xx", RefusedStream, true),
        ("5xx", PerTryTimeout, true),
        ("5xx", limited, false),
        ("gateway-error", response(500), false),
        ("gateway-error", response(501), false),
        ("gateway-error", response(502), true),
        ("gateway-error", response(503), true),
        ("gateway-error", response(504), true),
        ("gateway-error", PerTryTimeout, true),
        ("gateway-error", ConnectFailure, true),
        ("reset", Reset, true),
        ("reset", PerTryTimeout, true),
        ("reset", ConnectFailure, true),
        ("reset", response(503), false),
        ("connect-failure", ConnectFailure, true),
        ("connect-failure", Reset, false),
        ("connect-failure", PerTryTimeout, false),
        ("connect-failure", response(503), false),
        ("refused-stream", RefusedStream, true),
        ("refused-stream", Reset, false),
        ("refused-stream", ConnectFailure, false),
        ("reset-before-request", ConnectFailure, true),
        ("reset-before-request", RefusedStream, true),
        ("reset-before-request", Reset, false),
        ("retriable-4xx", response(409), true),
        ("retriable-4xx", response(404), false),
        ("retriable-4xx", response(503), false),
        ("retriable-status-codes,404", response(404), true),
        ("retriable-status-codes,404", response(503), false),
        ("503", response(503), true),
        ("503", response(502), false),
        ("503", ConnectFailure, false),
        ("retriable-status-codes", response(503), false),
        ("envoy-ratelimited", limited, true),
        ("envoy-ratelimited", response(503), false),
        ("cancelled", grpc(1), true),
        ("deadline-exceeded", grpc(4), true),
        ("resource-exhausted", grpc(8), true),
        ("internal", grpc(13), true),
        ("unavailable", grpc(14), true),
        ("unavailable", grpc(13), false),
        ("unavailable", grpc(0), false),
        ("unavailable", response(503), false),
        (
            "cancelled,deadline-exceeded,internal,resource-exhausted",
            grpc(14),
            false,
        ),
        (DEFAULT_RETRY_ON, ConnectFailure, true),
        (DEFAULT_RETRY_ON, RefusedStream, true),
        (DEFAULT_RETRY_ON, grpc(14), true),
        (DEFAULT_RETRY_ON, grpc(1), true),
        (DEFAULT_RETRY_ON, response(503), false),
        (DEFAULT_RETRY_ON, Reset, false),
        (DEFAULT_RETRY_ON, PerTryTimeout, false),
        ("", response(503), false),
        ("", ConnectFailure, false),
    ];
    for (list, outcome, want) in cases {
        let on = RetryOn::parse(list);
        assert_eq!(
            on.would_retry(*outcome),
            *want,
            "retryOn {list:?}, {outcome:?}"
        );
    }
}

#[test]
fn retry_on_lists_parse_as_istio_splits_them() {
    // (retryOn, conditions, codes), after Istio's retry_test.go.
    let cases: &[(&str, &[&str], &[u16])] = &[
        ("5xx,gateway-error", &["5xx", "gateway-error"], &[]),
        (
            "gateway-error,retriable-status-codes,503",
            &["gateway-error", "retriable-status-codes"],
            &[503],
        ),
        (
            "some,fake,5xx,404,conditions,503",
            &["5xx", "retriable-status-codes"],
            &[404, 503],
        ),
        (" 5xx , ,503", &["5xx", "retriable-status-codes"], &[503]),
        ("503", &["retriable-status-codes"], &[503]),
    ];
    for (list, names, codes) in cases {
        let on = RetryOn::parse(list);
        assert_eq!(on.status_codes, *codes, "{list:?}");
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.extend(codes.iter().map(u16::to_string));
        assert_eq!(on.names(), want, "{list:?}");
    }
}

fn wire(yaml: &str) -> HttpRetry {
    serde_yaml_ng::from_str(yaml).unwrap()
}

#[test]
fn istio_converts_policies_as_convert_policy_does() {
    let default = RetryPolicy::istio_default();
    assert_eq!(default.num_retries, 2);
    assert_eq!(default.retry_on, RetryOn::parse(DEFAULT_RETRY_ON));
    assert!(
        default.retry_on.status_codes.is_empty(),
        "no 503 since Istio 1.24"
    );
    assert_eq!(compile(None), Ok(Some(default.clone())));
    // attempts: 0 disables retries.
    assert_eq!(compile(Some(&wire("{attempts: 0}"))), Ok(None));
    // attempts only: the default conditions, that many retries.
    let p = compile(Some(&wire("{attempts: 5}"))).unwrap().unwrap();
    assert_eq!((p.num_retries, &p.retry_on), (5, &default.retry_on));
    let p = compile(Some(&wire("{attempts: 3, retryOn: ''}")))
        .unwrap()
        .unwrap();
    assert_eq!(
        p.retry_on, default.retry_on,
        "an empty retryOn keeps the default"
    );
    let p = compile(Some(&wire(
        "{attempts: 3, perTryTimeout: 2s, retryOn: '5xx,503', backoff: 10ms, retryIgnorePreviousHosts: false, retryRemoteLocalities: true}",
    )))
    .unwrap()
    .unwrap();
    assert_eq!(p.num_retries, 3);
    assert_eq!(p.per_try_timeout, Some(Duration::from_secs(2)));
    assert_eq!(p.retry_on.names(), ["5xx", "retriable-status-codes", "503"]);
    assert_eq!(
        p.backoff,
        Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100)
        }
    );
    assert!(!p.avoids_previous_hosts(false));
    let err = compile(Some(&wire("{attempts: 1, perTryTimeout: soon}"))).unwrap_err();
    assert_eq!(err.field, "perTryTimeout");
}

#[test]
fn previous_hosts_are_avoided_unless_the_destination_hashes() {
    let default = RetryPolicy::istio_default();
    assert!(default.avoids_previous_hosts(false));
    assert!(!default.avoids_previous_hosts(true));
    let told = compile(Some(&wire("{attempts: 1, retryIgnorePreviousHosts: true}")));
    assert!(told.unwrap().unwrap().avoids_previous_hosts(true));
}

#[test]
fn backoff_is_jittered_exponential_under_envoys_bounds() {
    let b = Backoff::with_base(DEFAULT_BACKOFF_BASE);
    assert_eq!(b.max, Duration::from_millis(250));
    // (retry, roll, delay)
    for (retry, roll, want_ms) in [
        (1, 0.0, 0.0),
        (1, 0.5, 12.5),
        (1, 0.999, 24.975),
        (2, 0.5, 25.0),
        (3, 0.5, 50.0),
        (4, 0.999, 199.8),
        (5, 0.999, 249.75),
        (30, 0.999, 249.75),
    ] {
        let got = b.delay(retry, roll).as_secs_f64() * 1000.0;
        assert!(
            (got - want_ms).abs() < 0.01,
            "retry {retry} roll {roll}: {got}"
        );
    }
}
