//! Config folders and the YAML tests need: the seed's files (`config::seed(v1, v2, v3)`), and
//! small builders for a ServiceEntry with inline endpoints, a DestinationRule, a single-rule
//! VirtualService, and a delegating root with its delegate VirtualService.

use std::path::Path;

use super::example_file;

/// Config files (name, YAML) to be written to a fresh folder.
#[derive(Clone, Default)]
#[must_use]
pub struct Files(Vec<(String, String)>);

/// No files yet.
pub fn files() -> Files {
    Files::default()
}

/// Seed 000 (`examples/calcbackend`): its DestinationRule and VirtualService verbatim, and a
/// ServiceEntry putting v1, v2 and v3 on the given loopback ports.
pub fn seed(v1: u16, v2: u16, v3: u16) -> Files {
    files()
        .file("destinationrule.yaml", seed_file("destinationrule.yaml"))
        .file("virtualservice.yaml", seed_file("virtualservice.yaml"))
        .file("serviceentry.yaml", seed_service_entry(v1, v2, v3))
}

impl Files {
    /// Adds `name`, or replaces it if already there.
    pub fn file(mut self, name: &str, yaml: impl Into<String>) -> Self {
        let yaml = yaml.into();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = yaml,
            None => self.0.push((name.to_string(), yaml)),
        }
        self
    }

    /// Writes the files to a fresh temporary folder.
    pub fn write(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, yaml) in &self.0 {
            std::fs::write(dir.path().join(name), yaml).unwrap();
        }
        dir
    }
}

/// Replaces a config file atomically (write, then rename), as editors and ConfigMaps do.
pub fn replace_file(dir: &Path, name: &str, yaml: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// A seed 000 file from `examples/calcbackend`, verbatim.
pub fn seed_file(name: &str) -> String {
    example_file(&format!("calcbackend/{name}"))
}

/// Seed 000's ServiceEntry `calcbackendsvc` with WorkloadEntries v1, v2, v3 on the given ports.
pub fn seed_service_entry(v1: u16, v2: u16, v3: u16) -> String {
    let mut yaml = String::from(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: calcbackendsvc\n  namespace: challengeistio\nspec:\n  hosts: [calcbackendsvc]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: STATIC\n  workloadSelector:\n    labels: {app: backend}\n",
    );
    for (v, port) in [("v1", v1), ("v2", v2), ("v3", v3)] {
        yaml.push_str(&format!(
            "---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: calcbackend-{v}\n  namespace: challengeistio\nspec:\n  address: 127.0.0.1\n  ports: {{http: {port}}}\n  labels: {{app: backend, version: {v}}}\n"
        ));
    }
    yaml
}

/// `metadata` with a name and, when given, a namespace.
fn metadata(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("metadata: {{name: {name}, namespace: {ns}}}\n"),
        None => format!("metadata:\n  name: {name}\n"),
    }
}

/// A STATIC ServiceEntry named after its host, with endpoints on loopback labelled
/// `{app: <host>, version: <v>}`.
#[must_use]
pub struct ServiceEntry {
    host: String,
    namespace: Option<String>,
    port: u16,
    protocol: String,
    endpoints: Vec<(String, u16)>,
}

/// A ServiceEntry for `host` on port 80, protocol HTTP, in namespace `challengeistio`.
pub fn service_entry(host: &str) -> ServiceEntry {
    ServiceEntry {
        host: host.to_string(),
        namespace: Some("challengeistio".into()),
        port: 80,
        protocol: "HTTP".into(),
        endpoints: Vec::new(),
    }
}

impl ServiceEntry {
    /// No `metadata.namespace` (the proxy's own namespace applies).
    pub fn no_namespace(mut self) -> Self {
        self.namespace = None;
        self
    }

    /// The service port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The port's protocol (`HTTP`, `HTTP2`).
    pub fn protocol(mut self, protocol: &str) -> Self {
        self.protocol = protocol.to_string();
        self
    }

    /// An endpoint `127.0.0.1:<port>` labelled `version: <version>`.
    pub fn endpoint(mut self, version: &str, port: u16) -> Self {
        self.endpoints.push((version.to_string(), port));
        self
    }

    /// The YAML.
    pub fn yaml(&self) -> String {
        let (host, port, protocol) = (&self.host, self.port, &self.protocol);
        let mut yaml = format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n{}spec:\n  hosts: [{host}]\n  ports:\n  - {{number: {port}, name: http, protocol: {protocol}}}\n  resolution: STATIC\n  endpoints:\n",
            metadata(host, self.namespace.as_deref())
        );
        for (v, port) in &self.endpoints {
            yaml.push_str(&format!(
                "  - {{address: 127.0.0.1, ports: {{http: {port}}}, labels: {{app: {host}, version: {v}}}}}\n"
            ));
        }
        yaml
    }
}

/// A DestinationRule with subsets selected by `version`.
#[must_use]
pub struct DestinationRule {
    name: String,
    host: String,
    subsets: Vec<(String, String)>,
}

/// A DestinationRule for `host`, named after it, in namespace `challengeistio`.
pub fn destination_rule(host: &str) -> DestinationRule {
    DestinationRule {
        name: host.to_string(),
        host: host.to_string(),
        subsets: Vec::new(),
    }
}

impl DestinationRule {
    /// Another name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// A subset `name` selecting `version: <version>`.
    pub fn subset(mut self, name: &str, version: &str) -> Self {
        self.subsets.push((name.to_string(), version.to_string()));
        self
    }

    /// The YAML.
    pub fn yaml(&self) -> String {
        let mut yaml = format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n{}spec:\n  host: {}\n  subsets:\n",
            metadata(&self.name, Some("challengeistio")),
            self.host
        );
        for (name, version) in &self.subsets {
            yaml.push_str(&format!(
                "  - {{name: {name}, labels: {{version: {version}}}}}\n"
            ));
        }
        yaml
    }
}

/// A VirtualService with one catch-all rule: weighted routes, mirrors, and extra fields.
#[must_use]
pub struct VirtualService {
    name: String,
    host: String,
    api_version: String,
    annotations: Vec<(String, String)>,
    routes: Vec<(String, Option<u32>)>,
    lines: Vec<String>,
}

/// A VirtualService `name` for `host` in namespace `challengeistio`.
pub fn virtual_service(name: &str, host: &str) -> VirtualService {
    VirtualService {
        name: name.to_string(),
        host: host.to_string(),
        api_version: "networking.istio.io/v1".into(),
        annotations: Vec::new(),
        routes: Vec::new(),
        lines: Vec::new(),
    }
}

impl VirtualService {
    /// Another `apiVersion`.
    pub fn api_version(mut self, api_version: &str) -> Self {
        self.api_version = api_version.to_string();
        self
    }

    /// A `metadata.annotations` entry.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.to_string(), value.to_string()));
        self
    }

    /// Routes to `subset` (unweighted).
    pub fn route(mut self, subset: &str) -> Self {
        self.routes.push((subset.to_string(), None));
        self
    }

    /// Routes to `subset` with `weight`.
    pub fn weighted(mut self, subset: &str, weight: u32) -> Self {
        self.routes.push((subset.to_string(), Some(weight)));
        self
    }

    /// `mirror:` to `subset`.
    pub fn mirror(self, subset: &str) -> Self {
        let host = self.host.clone();
        self.field(&format!("mirror: {{host: {host}, subset: {subset}}}"))
    }

    /// `mirrors:` to each of `subsets`.
    pub fn mirrors(mut self, subsets: &[&str]) -> Self {
        self.lines.push("mirrors:".into());
        for s in subsets {
            let line = format!("- destination: {{host: {}, subset: {s}}}", self.host);
            self.lines.push(line);
        }
        self
    }

    /// Another field of the rule, as one line of YAML (`mirrorPercentage: {value: 50}`).
    pub fn field(mut self, line: &str) -> Self {
        self.lines.push(line.to_string());
        self
    }

    /// The YAML.
    pub fn yaml(&self) -> String {
        let mut yaml = format!(
            "apiVersion: {}\nkind: VirtualService\nmetadata:\n  name: {}\n  namespace: challengeistio\n",
            self.api_version, self.name
        );
        if !self.annotations.is_empty() {
            yaml.push_str("  annotations:\n");
            for (k, v) in &self.annotations {
                yaml.push_str(&format!("    {k}: \"{v}\"\n"));
            }
        }
        yaml.push_str(&format!(
            "spec:\n  hosts: [{}]\n  http:\n  - route:\n",
            self.host
        ));
        for (subset, weight) in &self.routes {
            yaml.push_str(&format!(
                "    - destination: {{host: {}, subset: {subset}}}\n",
                self.host
            ));
            if let Some(w) = weight {
                yaml.push_str(&format!("      weight: {w}\n"));
            }
        }
        for line in &self.lines {
            yaml.push_str(&format!("    {line}\n"));
        }
        yaml
    }
}

/// A root VirtualService for `calcbackendsvc` in `challengeistio`: requests under `prefix` are
/// delegated to `ns/name`, the rest go to subset `rest`.
pub fn delegating_root(prefix: &str, ns: &str, name: &str, rest: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: root, namespace: challengeistio}}\nspec:\n  hosts: [calcbackendsvc]\n  http:\n  - name: api\n    match: [{{uri: {{prefix: {prefix}}}}}]\n    delegate: {{name: {name}, namespace: {ns}}}\n  - name: rest\n    route: [{{destination: {{host: calcbackendsvc, subset: {rest}}}}}]\n"
    )
}

/// A delegate VirtualService (no hosts) whose rules route to subsets of `calcbackendsvc`
/// (named by its full name, so it works from any namespace).
#[must_use]
pub struct DelegateVs {
    ns: String,
    name: String,
    rules: Vec<String>,
}

/// A delegate VirtualService `ns/name` with no rules yet.
pub fn delegate_vs(ns: &str, name: &str) -> DelegateVs {
    DelegateVs {
        ns: ns.to_string(),
        name: name.to_string(),
        rules: Vec::new(),
    }
}

const CALC_FQDN: &str = "calcbackendsvc.challengeistio.svc.cluster.local";

impl DelegateVs {
    /// A rule `name` for requests whose path matches `uri` (`{prefix: /a}`), to `subset`.
    pub fn rule(mut self, name: &str, uri: &str, subset: &str) -> Self {
        self.rules.push(format!(
            "  - name: {name}\n    match: [{{uri: {uri}}}]\n    route: [{{destination: {{host: {CALC_FQDN}, subset: {subset}}}}}]\n"
        ));
        self
    }

    /// Mirrors the last rule to `subset`.
    pub fn mirror(mut self, subset: &str) -> Self {
        let last = self.rules.last_mut().expect("a rule to mirror");
        last.push_str(&format!(
            "    mirror: {{host: {CALC_FQDN}, subset: {subset}}}\n"
        ));
        self
    }

    /// The YAML.
    pub fn yaml(&self) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {}, namespace: {}}}\nspec:\n  http:\n{}",
            self.name,
            self.ns,
            self.rules.concat()
        )
    }
}
