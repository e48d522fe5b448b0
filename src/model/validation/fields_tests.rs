//! Tests of the shared field rules, ported from Istio's tables (`TestValidateHTTPHeaderName`,
//! `TestStrictValidateHTTPHeaderName`, `TestValidateHTTPHeaderValue`, `Test_validateExportTo`,
//! `agent` FQDN/wildcard/duration/port tests) plus cases of our own.

use super::fields::*;

#[test]
fn header_names_as_istio_tables_have_them() {
    // TestValidateHTTPHeaderName (match keys).
    for (name, valid) in [
        ("header1", true),
        ("X-Requested-With", true),
        (":authority", true),
        ("funky!$#_", true),
        ("", false),
        ("::", false),
        ("illegal\"char", false),
        ("@request.auth.claims.sub", true),
        ("@request.auth.claims[a][b]", true),
    ] {
        assert_eq!(header_name(name).is_ok(), valid, "{name:?}");
    }
    // TestStrictValidateHTTPHeaderName.
    for (name, valid) in [
        ("header1", true),
        ("X-Requested-With", true),
        (":authority", false),
        ("", false),
        ("foo_bar", true),
    ] {
        assert_eq!(strict_header_name(name).is_ok(), valid, "{name:?}");
    }
}

#[test]
fn header_operation_names() {
    for (name, with_authority, plain) in [
        ("x-a", true, true),
        (":authority", true, false),
        ("Host", true, false),
        (":path", false, false),
        ("", false, false),
    ] {
        assert_eq!(
            header_op_name_with_authority(name).is_ok(),
            with_authority,
            "{name}"
        );
        assert_eq!(header_op_name(name).is_ok(), plain, "{name}");
    }
}

#[test]
fn header_values_as_envoy_parses_them() {
    // TestValidateHTTPHeaderValue.
    for (value, valid) in [
        ("foo", true),
        ("%HOSTNAME%", true),
        ("100%%", true),
        ("prefix %HOSTNAME% suffix", true),
        ("%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%", true),
        ("%DYNAMIC_METADATA(com.test.my_filter)%", true),
        ("%START_TIME%%", false),
        ("abc%123", false),
        ("%REQ([\"a\", \"b\"])%", true),
        ("tab\tok", true),
        ("line\nbreak", false),
    ] {
        assert_eq!(header_value(value).is_ok(), valid, "{value:?}");
    }
}

#[test]
fn export_to_as_istio_checks_it() {
    use ExportToOf::*;
    // Test_validateExportTo: (entries, kind, valid).
    let cases: [(&[&str], ExportToOf, bool); 17] = [
        (&[], Config, true),
        (&["*"], Config, true),
        (&[".", "ns1"], Config, true),
        (&["ns1", "ns2", "ns5"], Config, true),
        (&["~"], ServiceEntry, true),
        (&["~", "ns1"], Config, false),
        (&[".", "*"], Config, false),
        (&["*", "ns1"], Config, false),
        (&[".", "ns5"], Config, false),
        (&["ns1", "ns2", "ns1"], Config, false),
        (&["~", "~", "ns1"], ServiceEntry, false),
        (&["ns1_"], Config, false),
        (&["~", "ns1"], ServiceEntry, false),
        (&["*"], DestinationRuleWithSelector, false),
        (&["."], DestinationRuleWithSelector, true),
        (&["somens"], DestinationRuleWithSelector, false),
        (&[".", "somens"], DestinationRuleWithSelector, false),
    ];
    for (entries, of, valid) in cases {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        let errors = export_to("ns5", &entries, of);
        assert_eq!(errors.is_empty(), valid, "{entries:?} {of:?}: {errors:?}");
    }
}

#[test]
fn hosts_fqdns_and_wildcards() {
    for (host, valid) in [
        ("reviews", true),
        ("reviews.default.svc.cluster.local", true),
        ("*.example.com", true),
        ("*", true),
        ("*-bar.example.com", true),
        ("foo.*.com", false),
        ("foo*.com", false),
        ("", false),
        ("-bad.com", false),
        ("example.123", false),
        ("istio.io.", true),
        (&"a".repeat(64), false),
        (&format!("{}.com", "a.".repeat(130)), false),
    ] {
        assert_eq!(wildcard_domain(host).is_ok(), valid, "{host}");
    }
    assert!(fqdn("*.example.com").is_err());
    assert!(fqdn("mesh").is_ok());
}

#[test]
fn host_overlap_and_subsets() {
    assert!(hosts_overlap("*.foo.com", "*.com"));
    assert!(hosts_overlap("a.foo.com", "*.foo.com"));
    assert!(!hosts_overlap("a.bar.com", "*.foo.com"));
    assert!(hosts_overlap("a", "a"));
    assert!(host_subset_of("a.foo.com", "*.foo.com"));
    assert!(!host_subset_of("*.foo.com", "a.foo.com"));
    assert!(host_subset_of("*.a.foo.com", "*.foo.com"));
}

#[test]
fn durations_ports_percentages() {
    for (text, valid) in [
        ("1ms", true),
        ("2s", true),
        ("0.5s", true),
        ("1m30s", true),
        ("0s", false),
        ("999us", false),
        ("2.0000001s", false),
        ("1.001s", true),
        ("ten", false),
    ] {
        assert_eq!(duration(text).is_ok(), valid, "{text}");
    }
    for (p, valid) in [
        (0, false),
        (1, true),
        (65535, true),
        (65536, false),
        (-1, false),
    ] {
        assert_eq!(port(p).is_ok(), valid, "{p}");
    }
    for (v, valid) in [
        (0.0, true),
        (0.00001, false),
        (0.0001, true),
        (100.0, true),
        (100.1, false),
        (-1.0, false),
    ] {
        assert_eq!(percentage_fraction(v).is_ok(), valid, "{v}");
    }
    assert!(percentage_range(0.00001).is_ok());
    assert!(percent(101).is_err() && percent(100).is_ok());
}

#[test]
fn labels_subsets_subnets_gateways() {
    let mut l = std::collections::BTreeMap::new();
    l.insert("app".to_string(), "reviews".to_string());
    l.insert("example.com/tier".to_string(), "a_b.c".to_string());
    assert!(labels(&l).is_ok());
    l.insert("bad key!".to_string(), "x".to_string());
    assert!(labels(&l).is_err());
    assert!(subset_name("v1").is_ok() && subset_name("").is_err() && subset_name("v_1").is_err());
    for (s, valid) in [
        ("10.0.0.0/8", true),
        ("1.2.3.4", true),
        ("2001:db8::/32", true),
        ("1.2.3.4/33", false),
        ("foo", false),
    ] {
        assert_eq!(ip_subnet(s).is_ok(), valid, "{s}");
    }
    assert_eq!(gateway_name("mesh"), Ok(None));
    assert_eq!(gateway_name("istio-system/gw"), Ok(None));
    assert!(matches!(gateway_name("gw.istio-system"), Ok(Some(_))));
    assert!(gateway_name("ns/").is_err() && gateway_name("ns/Gw_1").is_err());
}
