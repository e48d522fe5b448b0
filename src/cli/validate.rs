//! `shadowmesh validate`, and the configuration options it shares with `run`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::parse_label;
use crate::config::Diagnostic;
use crate::model::{ProxyIdentity, build_snapshot};

/// Where the configuration is and who the proxy is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// YAML file or folder (all *.yaml/*.yml inside, sorted); repeatable.
    #[arg(short = 'f', long = "file", required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Namespace of this proxy; also the namespace of resources that name none.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Labels of this proxy's workload, for `sourceLabels` matches (k=v, repeatable).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

impl ConfigArgs {
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
