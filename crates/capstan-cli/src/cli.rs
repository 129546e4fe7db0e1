//! The command line's shape: global flags and subcommands, with Helm's names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::values::ValuesFlags;

/// capstan: Helm's release lifecycle, as services.
#[derive(Parser, Debug)]
#[command(name = "capstan", version, about, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Namespace of the release.
    #[arg(short = 'n', long, global = true, env = "HELM_NAMESPACE")]
    pub namespace: Option<String>,
    /// Path to the kubeconfig file.
    #[arg(long, global = true, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub kube_context: Option<String>,
    /// Print every cause of an error, and debug output.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Address of a renderer daemon (in-process when not given).
    #[arg(long, global = true, env = "CAPSTAN_RENDERER")]
    pub renderer: Option<String>,
}

impl Global {
    /// The namespace to use: `-n`, `HELM_NAMESPACE`, or `default`.
    pub fn namespace(&self) -> String {
        self.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into())
    }
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render a chart locally and print the manifests.
    Template(Box<TemplateArgs>),
    /// Print the client version.
    Version,
}

/// `capstan template [NAME] CHART`.
#[derive(Args, Debug)]
pub struct TemplateArgs {
    /// Release name (defaults to `release-name`), then the chart (a directory or `.tgz`).
    #[arg(num_args = 1..=2, value_names = ["NAME", "CHART"], required = true)]
    pub args: Vec<String>,
    /// Values flags.
    #[command(flatten)]
    pub values: ValuesFlags,
    /// Only show manifests rendered from these templates (e.g. `templates/deployment.yaml`).
    #[arg(short = 's', long = "show-only", value_name = "TEMPLATE")]
    pub show_only: Vec<String>,
    /// Write each template's output to a file under this directory instead of standard output.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Kubernetes version for `Capabilities.KubeVersion`.
    #[arg(long)]
    pub kube_version: Option<String>,
    /// Extra API versions for `Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions")]
    pub api_versions: Vec<String>,
    /// Render as an upgrade (`Release.IsUpgrade`) instead of an install.
    #[arg(long)]
    pub is_upgrade: bool,
    /// Leave hooks out of the output.
    #[arg(long)]
    pub no_hooks: bool,
    /// Include the chart's CRDs in the output.
    #[arg(long)]
    pub include_crds: bool,
}
