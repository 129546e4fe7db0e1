//! The command line of chart sources: Helm's chart download flags and the `repo`, `search`,
//! `pull`, `package`, `dependency` and `show` commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::Format;

/// Where a chart named by reference comes from: Helm's chart download flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ChartSource {
    /// Use development versions too (pre-releases): without --version, `>0.0.0-0`.
    #[arg(long)]
    pub devel: bool,
    /// The chart repository URL to find the chart in (the chart is then a bare name).
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// Chart repository user name.
    #[arg(long)]
    pub username: Option<String>,
    /// Chart repository password.
    #[arg(long)]
    pub password: Option<String>,
    /// Send the credentials to every host, chart downloads on other hosts included.
    #[arg(long)]
    pub pass_credentials: bool,
    /// Verify the repository's TLS certificate with this CA bundle.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Identify with this client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Do not verify the repository's TLS certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Use plain HTTP for an `oci://` registry.
    #[arg(long)]
    pub plain_http: bool,
    /// Update the chart's dependencies (a chart directory) before using it.
    #[arg(long)]
    pub dependency_update: bool,
    /// Verify the chart's provenance (`.prov`) before using it.
    #[arg(long)]
    pub verify: bool,
    /// The keyring (public keys) to verify with.
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Let the remote renderer (--renderer) fetch the chart by reference, from the sources its
    /// operator allows, instead of resolving and uploading it here: `oci://...`, `repo/chart`
    /// (sent as the repository's URL) or a name with --repo.
    #[arg(long)]
    pub remote_chart: bool,
}

/// `capstan repo ...`.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum RepoCommand {
    /// Add a chart repository.
    Add(RepoAddArgs),
    /// List chart repositories.
    #[command(visible_alias = "ls")]
    List(RepoListArgs),
    /// Download the latest index of chart repositories.
    #[command(visible_alias = "up")]
    Update(RepoUpdateArgs),
    /// Remove chart repositories.
    #[command(visible_alias = "rm")]
    Remove(RepoRemoveArgs),
    /// Write an index.yaml for a directory of chart archives.
    Index(RepoIndexArgs),
}

/// Add a chart repository.
#[derive(Args, Debug)]
pub struct RepoAddArgs {
    /// The repository's name.
    pub name: String,
    /// The repository's URL (where index.yaml is).
    pub url: String,
    /// Chart repository user name.
    #[arg(long)]
    pub username: Option<String>,
    /// Chart repository password.
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Send the credentials to every host, chart downloads on other hosts included.
    #[arg(long)]
    pub pass_credentials: bool,
    /// Verify the repository's TLS certificate with this CA bundle.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Identify with this client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Do not verify the repository's TLS certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Replace a repository of the same name with a different configuration.
    #[arg(long)]
    pub force_update: bool,
    /// Ignored (Helm's deprecated flag).
    #[arg(long, hide = true)]
    pub no_update: bool,
}

/// List chart repositories.
#[derive(Args, Debug)]
pub struct RepoListArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Download the latest index of chart repositories.
#[derive(Args, Debug)]
pub struct RepoUpdateArgs {
    /// The repositories to update (default: all).
    pub names: Vec<String>,
    /// Accepted for Helm compatibility: a failed update always fails the command.
    #[arg(long, hide = true)]
    pub fail_on_repo_update_fail: bool,
}

/// Remove chart repositories.
#[derive(Args, Debug)]
pub struct RepoRemoveArgs {
    /// The repositories to remove.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Write an index.yaml for a directory of chart archives.
#[derive(Args, Debug)]
pub struct RepoIndexArgs {
    /// The directory of chart archives.
    pub dir: PathBuf,
    /// The URL of the chart repository (archive URLs are relative without it).
    #[arg(long, default_value = "")]
    pub url: String,
    /// Merge the generated index into this existing index file.
    #[arg(long, value_name = "FILE")]
    pub merge: Option<PathBuf>,
}

/// `capstan search ...`.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum SearchCommand {
    /// Search the added repositories' cached indexes.
    #[command(disable_version_flag = true)]
    Repo(SearchRepoArgs),
}

/// Search the added repositories' cached indexes.
#[derive(Args, Debug)]
pub struct SearchRepoArgs {
    /// A keyword (a regular expression with --regexp); every chart without one.
    pub keyword: Option<String>,
    /// Treat the keyword as a regular expression.
    #[arg(short = 'r', long)]
    pub regexp: bool,
    /// Include development versions (pre-releases).
    #[arg(long)]
    pub devel: bool,
    /// A version constraint (Masterminds syntax).
    #[arg(long)]
    pub version: Option<String>,
    /// Show every version, not only the newest.
    #[arg(short = 'l', long)]
    pub versions: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
    /// Widest column of the table.
    #[arg(long, default_value_t = 50)]
    pub max_col_width: usize,
    /// Fail when nothing is found.
    #[arg(long)]
    pub fail_on_no_result: bool,
}

/// Download a chart from a repository or an OCI registry (and optionally extract it).
#[derive(Args, Debug)]
pub struct PullArgs {
    /// The charts (`repo/chart`, a URL, `oci://...`, or a name with --repo).
    #[arg(required = true)]
    pub charts: Vec<String>,
    /// A version or constraint.
    #[arg(long)]
    pub version: Option<String>,
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: ChartSource,
    /// Extract the chart after downloading it.
    #[arg(long)]
    pub untar: bool,
    /// With --untar, the directory to extract into (relative to --destination).
    #[arg(long, default_value = ".")]
    pub untardir: PathBuf,
    /// Where to write the chart.
    #[arg(short = 'd', long, default_value = ".")]
    pub destination: PathBuf,
    /// Download the provenance file too.
    #[arg(long)]
    pub prov: bool,
}

/// Package a chart directory into a versioned chart archive.
#[derive(Args, Debug)]
pub struct PackageArgs {
    /// The chart directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Set the chart's version.
    #[arg(long)]
    pub version: Option<String>,
    /// Set the chart's appVersion.
    #[arg(long)]
    pub app_version: Option<String>,
    /// Update the dependencies in charts/ first.
    #[arg(short = 'u', long)]
    pub dependency_update: bool,
    /// Where to write the archive.
    #[arg(short = 'd', long, default_value = ".")]
    pub destination: PathBuf,
}

/// `capstan dependency ...`.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum DependencyCommand {
    /// List a chart's dependencies and whether charts/ holds them.
    #[command(visible_alias = "ls")]
    List(DependencyArgs),
    /// Resolve the dependencies to their newest allowed versions, fill charts/, write Chart.lock.
    #[command(visible_alias = "up")]
    Update(DependencyArgs),
    /// Fill charts/ with the versions Chart.lock names.
    Build(DependencyArgs),
}

// The flags of `dependency`'s subcommands. No doc comment: clap would make it the `about` of every
// subcommand, whose own about is the variant's (the subcommands are deferred).
#[allow(missing_docs)]
#[derive(Args, Debug)]
pub struct DependencyArgs {
    /// The chart directory.
    #[arg(default_value = ".")]
    pub chart: PathBuf,
    /// Use the cached repository indexes as they are.
    #[arg(long)]
    pub skip_refresh: bool,
    /// Chart repository user name, for repositories given by URL.
    #[arg(long)]
    pub username: Option<String>,
    /// Chart repository password.
    #[arg(long)]
    pub password: Option<String>,
    /// Verify repositories' TLS certificates with this CA bundle.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify repositories' TLS certificates.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
}

// Not deferred as the other commands are: its variants share `ShowArgs`, whose doc comment
// clap would give each of them as its `about` once built.
/// `capstan show ...`.
#[derive(Subcommand, Debug)]
pub enum ShowCommand {
    /// Chart.yaml, values, README and CRDs.
    #[command(disable_version_flag = true)]
    All(ShowArgs),
    /// Chart.yaml.
    #[command(disable_version_flag = true)]
    Chart(ShowArgs),
    /// The README.
    #[command(disable_version_flag = true)]
    Readme(ShowArgs),
    /// The default values.
    #[command(disable_version_flag = true)]
    Values(ShowArgs),
    /// The CRDs.
    #[command(disable_version_flag = true)]
    Crds(ShowArgs),
}

/// The flags of `show` commands.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The chart: a directory, a `.tgz`, `repo/chart`, a URL or `oci://...`.
    pub chart: String,
    /// A version or constraint.
    #[arg(long)]
    pub version: Option<String>,
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: ChartSource,
}
