//! `shadowmesh validate`, and the configuration options it shares with `run` (files, and in
//! Kubernetes mode the cluster: `--kubernetes`, `--kubeconfig`, `--watch-namespace`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::parse_label;
use crate::config::Diagnostic;
use crate::kubernetes::{KubeOptions, validate_cluster as list_and_check};
use crate::model::{ProxyIdentity, build_snapshot};

/// Where the configuration is and who the proxy is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// YAML file or folder (all *.yaml/*.yml inside, sorted); repeatable. With --kubernetes,
    /// its resources add to the cluster's.
    #[arg(
        short = 'f',
        long = "file",
        required_unless_present = "kubernetes",
        value_name = "PATH"
    )]
    pub files: Vec<PathBuf>,
    /// Read the cluster's Istio config, Services, EndpointSlices and Pods (list+watch).
    #[arg(long)]
    pub kubernetes: bool,
    /// Kubeconfig for --kubernetes (default: in-cluster config inside a pod, else KUBECONFIG or
    /// ~/.kube/config).
    #[arg(long, value_name = "PATH", requires = "kubernetes")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace to read with --kubernetes (repeatable; default: all namespaces).
    #[arg(long = "watch-namespace", value_name = "NS", requires = "kubernetes")]
    pub watch_namespaces: Vec<String>,
    /// Namespace of this proxy; also the namespace of resources that name none.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Labels of this proxy's workload, for `sourceLabels` matches (k=v, repeatable).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

impl ConfigArgs {
    /// The cluster to read, with --kubernetes.
    pub(super) fn kube_options(&self) -> Option<KubeOptions> {
        self.kubernetes.then(|| KubeOptions {
            kubeconfig: self.kubeconfig.clone(),
            namespaces: self.watch_namespaces.clone(),
        })
    }

    pub(super) fn identity(&self) -> ProxyIdentity {
        ProxyIdentity {
            namespace: self.namespace.clone(),
            labels: self.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        }
    }
}

/// `shadowmesh validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

pub(super) fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

pub(super) fn validate(args: &ValidateArgs) -> ExitCode {
    if let Some(kube) = args.config.kube_options() {
        return validate_cluster(args, &kube);
    }
    match build_snapshot(&args.config.files, &args.config.identity(), 1) {
        Ok(snap) => {
            for line in snap.skipped_lines() {
                eprintln!("{line}");
            }
            print_diagnostics(&snap.warnings);
            println!("valid: {}", snap.summary);
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "invalid: {errors} error{}",
                if errors == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
    }
}

/// `validate --kubernetes`: lists the cluster once; each bad resource as
/// `KIND ns/name: field: problem`, then the findings about the rest.
fn validate_cluster(args: &ValidateArgs, kube: &KubeOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let identity = args.config.identity();
    let report = match runtime.block_on(list_and_check(kube, &identity, &args.config.files)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for line in &report.bad {
        eprintln!("{line}");
    }
    print_diagnostics(&report.findings);
    let errors = report.findings.iter().filter(|d| d.is_error()).count();
    match (&report.summary, report.bad.len() + errors) {
        (Some(summary), 0) => {
            println!("valid: {summary}");
            ExitCode::SUCCESS
        }
        (_, n) => {
            eprintln!("invalid: {n} error{}", if n == 1 { "" } else { "s" });
            ExitCode::FAILURE
        }
    }
}
