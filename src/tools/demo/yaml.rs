//! The YAML of each demo step (seed 000's resources, with WorkloadEntries standing in for the
//! pods), and writing it so the running proxy never reads half a file.

use std::path::Path;

use super::NS;

pub(super) fn service_entry(ports: &[(&str, u16)]) -> String {
    let mut yaml = format!(
        "# Stands in for the Kubernetes Service calcbackendsvc and its pods.\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: calcbackendsvc\n  namespace: {NS}\nspec:\n  hosts:\n  - calcbackendsvc\n  ports:\n  - number: 80\n    name: http\n    protocol: HTTP\n  resolution: STATIC\n  workloadSelector:\n    labels:\n      app: backend\n"
    );
    for (version, port) in ports {
        yaml.push_str(&format!(
            "---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: calcbackend-{version}\n  namespace: {NS}\nspec:\n  address: 127.0.0.1\n  ports:\n    http: {port}\n  labels:\n    app: backend\n    version: {version}\n"
        ));
    }
    yaml
}

pub(super) fn destination_rule(versions: &[&str]) -> String {
    let mut yaml = format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata:\n  name: calcbackend-rule\n  namespace: {NS}\nspec:\n  host: calcbackendsvc\n  subsets:\n"
    );
    for v in versions {
        yaml.push_str(&format!("  - name: {v}\n    labels:\n      version: {v}\n"));
    }
    yaml
}

pub(super) fn virtual_service(mirror: bool) -> String {
    let mut yaml = format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: backend-vs\n  namespace: {NS}\n  annotations:\n    # The answers name the version and host that made them: not a difference to judge.\n    shadowmesh.io/compare-ignore: \"/version,/host\"\nspec:\n  hosts:\n  - calcbackendsvc\n  http:\n  - match:\n    - headers:\n        user-agent:\n          regex: .*Mobile.*\n    route:\n      - destination:\n          host: calcbackendsvc\n          subset: v2\n  - route:\n    - destination:\n        host: calcbackendsvc\n        subset: v1\n      weight: 100\n"
    );
    if mirror {
        yaml.push_str("    mirror:\n      host: calcbackendsvc\n      subset: v3\n");
    }
    yaml
}

pub(super) fn write(dir: &Path, name: &str, yaml: &str) -> std::io::Result<()> {
    // Write then rename, so the proxy never reads half a file.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, yaml)?;
    std::fs::rename(tmp, dir.join(name))
}

pub(super) fn show(name: &str, yaml: &str) {
    println!("      --- {name}");
    for line in yaml.lines() {
        println!("      | {line}");
    }
}
