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

/// Compiles [`SEED_SERVICES`] (as `svc.yaml`) with `files` (name, YAML), as `validate` would,
/// for the proxy in namespace `default`: the table (none on errors) and every diagnostic.
pub(crate) fn compile_with_seed(
    files: &[(&str, &str)],
) -> (
    Option<crate::model::RouteTable>,
    Vec<crate::config::Diagnostic>,
) {
    let mut set = crate::config::ConfigSet::default();
    let mut diags = Vec::new();
    let seed = std::iter::once(("svc.yaml", SEED_SERVICES));
    for (file, text) in seed.chain(files.iter().copied()) {
        let path = std::path::Path::new(file);
        crate::config::parse_into(&mut set, path, text, "default", &mut diags);
    }
    let identity = crate::model::ProxyIdentity::default();
    let table = crate::model::compile(&set, &identity, &mut diags);
    (table, diags)
}
