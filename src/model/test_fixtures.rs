//! Test fixtures shared by the model's and the router's unit tests: seed 000's service with
//! versions v1, v2 and v3 on loopback, as ServiceEntry endpoints and DestinationRule subsets.

/// `calcbackendsvc` in `challengeistio`, endpoints v1 (9081), v2 (9082), v3 (9083), and a
/// DestinationRule with a subset per version.
pub(crate) const SEED_SERVICES: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: calc, namespace: challengeistio}
spec:
  hosts: [calcbackendsvc]
  ports: [{number: 80, name: http}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: 9081}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: 9082}, labels: {version: v2}}
  - {address: 127.0.0.1, ports: {http: 9083}, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: calcbackend-rule, namespace: challengeistio}
spec:
  host: calcbackendsvc
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"#;
