//! The command line's shape: global flags and subcommands, with Helm's names.

use std::path::PathBuf;
use std::time::Duration;

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
    /// Address of an applier daemon (in-process when not given).
    #[arg(long, global = true, env = "CAPSTAN_APPLIER")]
    pub applier: Option<String>,
    /// CA certificate (PEM) that signed the daemons' TLS certificates; turns TLS on.
    #[arg(long, global = true, env = "CAPSTAN_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The name the daemons' certificates are issued to, when not their address's host.
    #[arg(long, global = true, env = "CAPSTAN_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// Client certificate (PEM) for daemons that require mutual TLS.
    #[arg(
        long,
        global = true,
        env = "CAPSTAN_TLS_CLIENT_CERT",
        requires = "tls_client_key"
    )]
    pub tls_client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        global = true,
        env = "CAPSTAN_TLS_CLIENT_KEY",
        requires = "tls_client_cert"
    )]
    pub tls_client_key: Option<std::path::PathBuf>,
    /// Bearer token for the daemons (a token of the daemons' token file, or a Kubernetes
    /// service-account token).
    #[arg(long, global = true, env = "CAPSTAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the bearer token from this file, e.g. a projected service-account token
    /// (`/var/run/secrets/kubernetes.io/serviceaccount/token`); re-read on every run.
    #[arg(
        long,
        global = true,
        env = "CAPSTAN_TOKEN_PATH",
        conflicts_with = "token",
        value_name = "PATH"
    )]
    pub token_file: Option<PathBuf>,
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
    /// Install a chart as a new release.
    #[command(disable_version_flag = true)]
    Install(Box<InstallArgs>),
    /// Upgrade a release to a new chart or new values.
    #[command(disable_version_flag = true)]
    Upgrade(Box<UpgradeArgs>),
    /// Roll a release back to a previous revision.
    Rollback(RollbackArgs),
    /// Uninstall a release.
    #[command(visible_aliases = ["un", "delete", "del"])]
    Uninstall(UninstallArgs),
    /// List releases.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show a release's revisions.
    #[command(visible_alias = "hist")]
    History(HistoryArgs),
    /// Show a release's status.
    Status(StatusArgs),
    /// Run a release's tests (its `helm.sh/hook: test` hooks).
    Test(TestArgs),
    /// Show parts of a release.
    #[command(subcommand)]
    Get(GetCommand),
    /// Show what an upgrade or rollback would change, or how two revisions differ.
    #[command(subcommand)]
    Diff(DiffCommand),
    /// Render a chart locally and print the manifests.
    Template(Box<TemplateArgs>),
    /// Examine charts for possible issues (Chart.yaml, values and schema, templates).
    Lint(Box<LintArgs>),
    /// Print the shell completion script for bash, zsh, fish or powershell.
    Completion(CompletionArgs),
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
    /// Accepted as Helm accepts it; `template` creates nothing, so it changes nothing.
    #[arg(long)]
    pub skip_crds: bool,
}

/// `capstan lint [PATH...]`.
#[derive(Args, Debug)]
pub struct LintArgs {
    /// Charts to lint: directories or `.tgz` archives.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<String>,
    /// Values flags.
    #[command(flatten)]
    pub values: ValuesFlags,
    /// Fail on lint warnings too.
    #[arg(long)]
    pub strict: bool,
    /// Lint the charts under `charts/` too.
    #[arg(long)]
    pub with_subcharts: bool,
    /// Print only warnings and errors.
    #[arg(long)]
    pub quiet: bool,
    /// Kubernetes version for `Capabilities.KubeVersion`.
    #[arg(long)]
    pub kube_version: Option<String>,
}

/// `capstan completion SHELL`.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses a Go duration (`5m0s`, `10m`, `30s`, `1h30m`, `500ms`, or plain seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let invalid = || format!("invalid duration {text:?} (expected e.g. 5m0s, 30s, 1h)");
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// `-o table|json|yaml`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns (the default).
    #[default]
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Flags of install and upgrade that decide how objects are applied and waited for.
#[derive(Args, Debug, Clone)]
pub struct ApplyFlags {
    /// Create the release namespace if it does not exist.
    #[arg(long)]
    pub create_namespace: bool,
    /// Wait until every object is ready (and hooks have completed) before succeeding.
    #[arg(long)]
    pub wait: bool,
    /// With --wait, also wait for Jobs to complete.
    #[arg(long)]
    pub wait_for_jobs: bool,
    /// How long to wait for each Kubernetes operation (a Go duration).
    #[arg(long, default_value = "5m0s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// On failure, undo the operation (uninstall an install, roll back an upgrade); implies --wait.
    #[arg(long, visible_alias = "rollback-on-failure")]
    pub atomic: bool,
    /// Simulate: `--dry-run` or `--dry-run=client` sends nothing, `--dry-run=server` asks the
    /// API server to validate every object.
    #[arg(long, num_args = 0..=1, default_missing_value = "client", require_equals = true, value_name = "MODE")]
    pub dry_run: Option<String>,
    /// A description for the revision.
    #[arg(long)]
    pub description: Option<String>,
    /// Replace objects instead of patching them.
    #[arg(long)]
    pub force: bool,
    /// Adopt existing objects that belong to no release or another one.
    #[arg(long)]
    pub take_ownership: bool,
    /// Do not run hooks.
    #[arg(long)]
    pub no_hooks: bool,
    /// Do not create the chart's CRDs (its `crds/` folders); by default those not yet
    /// present are created.
    #[arg(long)]
    pub skip_crds: bool,
    /// The chart version (ignored for charts on disk, whose version is their own).
    #[arg(long)]
    pub version: Option<String>,
    /// Wait this long for another operation's lock on the release instead of failing (a Go
    /// duration; bare: until --timeout).
    #[arg(long, num_args = 0..=1, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_lock: Option<Option<Duration>>,
    /// Server-side apply: `auto` (installs: true; upgrades and rollbacks: as the release was
    /// last applied), `true` or `false`.
    #[arg(long, num_args = 0..=1, default_value = "auto", default_missing_value = "true",
          value_parser = ["auto", "true", "false"], value_name = "MODE")]
    pub server_side: String,
    /// With server-side apply, take over fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Custom labels on the release record, `key=value,...` (added to the previous revision's).
    #[arg(long, value_delimiter = ',', value_parser = parse_label, value_name = "KEY=VALUE")]
    pub labels: Vec<(String, String)>,
}

/// Parses `key=value` of `--labels`.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("invalid label {text:?} (expected key=value)")),
    }
}

/// `capstan install [NAME] CHART`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The release name (not with --generate-name), then the chart: a directory or a `.tgz`.
    #[arg(num_args = 1..=2, value_names = ["NAME", "CHART"], required = true)]
    pub args: Vec<String>,
    /// Name the release `<chart>-<unix seconds>` instead of taking a NAME.
    #[arg(short = 'g', long)]
    pub generate_name: bool,
    /// Values flags.
    #[command(flatten)]
    pub values: ValuesFlags,
    /// Apply and wait flags.
    #[command(flatten)]
    pub apply: ApplyFlags,
    /// Re-use the name of a release that is uninstalled or failed.
    #[arg(long)]
    pub replace: bool,
    /// Revisions to keep (for later upgrades; install writes one).
    #[arg(long, env = "HELM_MAX_HISTORY", default_value_t = 10)]
    pub history_max: u32,
    /// Output format of the result.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

impl InstallArgs {
    /// The release name and the chart: `NAME CHART`, or `CHART` with --generate-name (named
    /// `<chart>-<unix seconds>`, as Helm does).
    pub fn name_and_chart(&self) -> Result<(String, String), String> {
        match (self.args.as_slice(), self.generate_name) {
            ([name, chart], false) => Ok((name.clone(), chart.clone())),
            ([chart], true) => {
                let seconds = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                Ok((generate_name(chart, seconds), chart.clone()))
            }
            ([_], false) => {
                Err("install needs a release name and a chart (or --generate-name)".into())
            }
            (_, true) => Err("install takes only a chart with --generate-name".into()),
            _ => Err("install takes a release name and a chart".into()),
        }
    }
}

/// `--generate-name`: `<chart>-<unix seconds>`, from the chart reference's last path element
/// without its extension (`chart` when there is none).
pub fn generate_name(chart_reference: &str, unix_seconds: u64) -> String {
    let base = chart_reference
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let base = base.split('.').next().unwrap_or("");
    let base = if base.is_empty() { "chart" } else { base };
    format!("{base}-{unix_seconds}")
}

/// `capstan upgrade NAME CHART`.
#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// The release name.
    pub name: String,
    /// The chart: a directory or a `.tgz` archive.
    pub chart: String,
    /// Values flags.
    #[command(flatten)]
    pub values: ValuesFlags,
    /// Apply and wait flags.
    #[command(flatten)]
    pub apply: ApplyFlags,
    /// Install the release if it does not exist.
    #[arg(short = 'i', long)]
    pub install: bool,
    /// How the previous release's values are used.
    #[command(flatten)]
    pub value_mode: ValueMode,
    /// Revisions to keep (0 = unlimited).
    #[arg(long, env = "HELM_MAX_HISTORY", default_value_t = 10)]
    pub history_max: u32,
    /// Delete the objects this upgrade created when it fails.
    #[arg(long)]
    pub cleanup_on_fail: bool,
    /// Output format of the result.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

impl UpgradeArgs {
    /// The value flags' mode.
    pub fn value_mode(&self) -> ValueMode {
        self.value_mode.clone()
    }
}

/// `--reset-values`, `--reuse-values`, `--reset-then-reuse-values`.
#[derive(Args, Debug, Clone, Default)]
pub struct ValueMode {
    /// Use only the values given now (and the chart's defaults).
    #[arg(long)]
    pub reset_values: bool,
    /// Merge the values given now over the previous release's values.
    #[arg(long)]
    pub reuse_values: bool,
    /// Merge the values given now over the previous release's values, with the new chart's defaults.
    #[arg(long)]
    pub reset_then_reuse_values: bool,
}

/// `capstan diff upgrade|rollback|revision`.
#[derive(Subcommand, Debug)]
pub enum DiffCommand {
    /// What an upgrade would change: the latest revision's manifest against the new render.
    Upgrade(Box<DiffUpgradeArgs>),
    /// What a rollback would change: the latest revision against the target revision.
    Rollback(DiffRollbackArgs),
    /// The difference between two revisions of a release.
    Revision(DiffRevisionArgs),
}

/// Output flags of every `diff` command.
#[derive(Args, Debug, Clone)]
pub struct DiffOutput {
    /// Exit with 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Lines of context around each change.
    #[arg(short = 'C', long, default_value_t = 3)]
    pub context: usize,
    /// Never colour the output (it is coloured only on a terminal anyway).
    #[arg(long)]
    pub no_color: bool,
}

/// `capstan diff upgrade NAME CHART`.
#[derive(Args, Debug)]
pub struct DiffUpgradeArgs {
    /// The release name.
    pub name: String,
    /// The chart: a directory or a `.tgz` archive.
    pub chart: String,
    /// Values flags.
    #[command(flatten)]
    pub values: ValuesFlags,
    /// How the previous release's values are used.
    #[command(flatten)]
    pub value_mode: ValueMode,
    /// Compare the live objects with what the upgrade would make of them (a server-side dry run
    /// of the upgrade), instead of the stored manifests: changes made by hand show up too.
    #[arg(long, alias = "three-way-merge")]
    pub three_way: bool,
    /// Output flags.
    #[command(flatten)]
    pub output: DiffOutput,
}

/// `capstan diff rollback NAME [REVISION]`.
#[derive(Args, Debug)]
pub struct DiffRollbackArgs {
    /// The release name.
    pub name: String,
    /// The revision to roll back to (default: the one before the latest).
    pub revision: Option<u32>,
    /// Output flags.
    #[command(flatten)]
    pub output: DiffOutput,
}

/// `capstan diff revision NAME REVISION [REVISION]`.
#[derive(Args, Debug)]
pub struct DiffRevisionArgs {
    /// The release name.
    pub name: String,
    /// The revision to compare from.
    pub from: u32,
    /// The revision to compare to (default: the latest).
    pub to: Option<u32>,
    /// Output flags.
    #[command(flatten)]
    pub output: DiffOutput,
}

/// `capstan test NAME`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// The release name.
    pub name: String,
    /// How long to wait for each test (a Go duration).
    #[arg(long, default_value = "5m0s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the test pods' logs after the results (simulated pods have none: the API
    /// server's answer is printed instead).
    #[arg(long)]
    pub logs: bool,
    /// Run only the tests named (`name=NAME`) or all but them (`!name=NAME`); repeatable,
    /// comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Do not print the release's notes.
    #[arg(long)]
    pub hide_notes: bool,
}

/// `capstan rollback NAME [REVISION]`.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The release name.
    pub name: String,
    /// The revision to roll back to (default: the one before the latest).
    pub revision: Option<u32>,
    /// Wait until every object is ready.
    #[arg(long)]
    pub wait: bool,
    /// With --wait, also wait for Jobs to complete.
    #[arg(long)]
    pub wait_for_jobs: bool,
    /// How long to wait (a Go duration).
    #[arg(long, default_value = "5m0s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Replace objects instead of patching them.
    #[arg(long)]
    pub force: bool,
    /// Revisions to keep (0 = unlimited).
    #[arg(long, env = "HELM_MAX_HISTORY", default_value_t = 10)]
    pub history_max: u32,
    /// Delete the objects this rollback created when it fails.
    #[arg(long)]
    pub cleanup_on_fail: bool,
    /// Simulate the rollback.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not run hooks.
    #[arg(long)]
    pub no_hooks: bool,
    /// Wait this long for another operation's lock on the release instead of failing (a Go
    /// duration; bare: until --timeout).
    #[arg(long, num_args = 0..=1, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_lock: Option<Option<Duration>>,
    /// Server-side apply: `auto` (installs: true; upgrades and rollbacks: as the release was
    /// last applied), `true` or `false`.
    #[arg(long, num_args = 0..=1, default_value = "auto", default_missing_value = "true",
          value_parser = ["auto", "true", "false"], value_name = "MODE")]
    pub server_side: String,
    /// With server-side apply, take over fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
}

/// `capstan uninstall NAME`.
#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// The release names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Keep the release's history (mark it uninstalled); `rollback` re-installs it.
    #[arg(long)]
    pub keep_history: bool,
    /// Wait until every object is deleted.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait (a Go duration).
    #[arg(long, default_value = "5m0s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Simulate the uninstall.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not run hooks.
    #[arg(long)]
    pub no_hooks: bool,
    /// A description for the uninstalled revision.
    #[arg(long)]
    pub description: Option<String>,
    /// background, foreground or orphan.
    #[arg(long, default_value = "background")]
    pub cascade: String,
    /// Wait this long for another operation's lock on the release instead of failing (a Go
    /// duration; bare: until --timeout).
    #[arg(long, num_args = 0..=1, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_lock: Option<Option<Duration>>,
}

/// `capstan list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// List releases in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Every status (the default).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Deployed releases.
    #[arg(long)]
    pub deployed: bool,
    /// Failed releases.
    #[arg(long)]
    pub failed: bool,
    /// Pending releases.
    #[arg(long)]
    pub pending: bool,
    /// Superseded revisions.
    #[arg(long)]
    pub superseded: bool,
    /// Uninstalled releases (with --keep-history).
    #[arg(long)]
    pub uninstalled: bool,
    /// Releases being uninstalled.
    #[arg(long)]
    pub uninstalling: bool,
    /// A regular expression release names must match.
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Names only.
    #[arg(short = 'q', long)]
    pub short: bool,
    /// Leave out the header.
    #[arg(long)]
    pub no_headers: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// `capstan history NAME`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The release name.
    pub name: String,
    /// The most recent revisions to show.
    #[arg(long, default_value_t = 256)]
    pub max: u32,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// `capstan status NAME`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The release name.
    pub name: String,
    /// The revision (default: the latest).
    #[arg(long)]
    pub revision: Option<u32>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// `capstan get ...`.
#[derive(Subcommand, Debug)]
pub enum GetCommand {
    /// The release's values (user-supplied, or all with --all).
    Values(GetArgs),
    /// The rendered manifest.
    Manifest(GetArgs),
    /// The rendered NOTES.txt.
    Notes(GetArgs),
    /// The hooks.
    Hooks(GetArgs),
    /// The release's metadata.
    Metadata(GetArgs),
    /// Everything.
    All(GetArgs),
}

/// The flags of `get` subcommands.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The release name.
    pub name: String,
    /// The revision (default: the latest).
    #[arg(long)]
    pub revision: Option<u32>,
    /// For values: every value, with the chart's defaults.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Output format (values and metadata).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lock_apply_and_label_flags_parse() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().command;
        let Command::Upgrade(args) = parse(&[
            "capstan",
            "upgrade",
            "web",
            "./chart",
            "--wait-for-lock",
            "30s",
            "--server-side=false",
            "--labels",
            "team=api,tier=web",
        ]) else {
            panic!("an upgrade")
        };
        assert_eq!(
            args.apply.wait_for_lock,
            Some(Some(Duration::from_secs(30)))
        );
        assert_eq!(args.apply.server_side, "false");
        assert_eq!(
            args.apply.labels,
            [("team".into(), "api".into()), ("tier".into(), "web".into())]
        );
        let Command::Rollback(args) = parse(&["capstan", "rollback", "web", "--wait-for-lock"])
        else {
            panic!("a rollback")
        };
        assert_eq!(args.wait_for_lock, Some(None));
        assert_eq!(args.server_side, "auto");
        let Command::Install(args) = parse(&[
            "capstan",
            "install",
            "./charts/webapp",
            "--generate-name",
            "--server-side",
        ]) else {
            panic!("an install")
        };
        assert_eq!(args.apply.server_side, "true");
        let (name, chart) = args.name_and_chart().unwrap();
        assert!(name.starts_with("webapp-"), "{name}");
        assert_eq!(chart, "./charts/webapp");
        let Command::Install(args) = parse(&["capstan", "install", "./chart"]) else {
            panic!("an install")
        };
        assert!(args.name_and_chart().is_err());
        assert!(Cli::try_parse_from(["capstan", "install", "w", "c", "--labels", "x"]).is_err());
        assert!(
            Cli::try_parse_from(["capstan", "upgrade", "w", "c", "--server-side=maybe"]).is_err()
        );
        assert_eq!(generate_name("charts/nginx-1.2.0.tgz", 7), "nginx-1-7");
        assert_eq!(generate_name("./", 7), "chart-7");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_duration("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn helm_flags_parse() {
        let cli = Cli::try_parse_from([
            "capstan",
            "upgrade",
            "prod-api",
            "./chart",
            "-i",
            "--atomic",
            "--timeout",
            "10m",
            "--history-max",
            "15",
            "--version",
            "1.3.0",
            "--dry-run=server",
            "-n",
            "production",
        ])
        .unwrap();
        let Command::Upgrade(args) = cli.command else {
            panic!("an upgrade")
        };
        assert!(args.install && args.apply.atomic);
        assert_eq!(args.apply.timeout, Duration::from_secs(600));
        assert_eq!(args.history_max, 15);
        assert_eq!(args.apply.dry_run.as_deref(), Some("server"));
        assert_eq!(cli.global.namespace(), "production");
        let cli = Cli::try_parse_from(["capstan", "ls", "-A", "--failed", "-o", "json"]).unwrap();
        assert!(
            matches!(cli.command, Command::List(ref l) if l.all_namespaces && l.failed && l.output == Format::Json)
        );
        let cli = Cli::try_parse_from(["capstan", "rollback", "prod-api", "2", "--wait"]).unwrap();
        assert!(matches!(cli.command, Command::Rollback(ref r) if r.revision == Some(2) && r.wait));
    }
}
