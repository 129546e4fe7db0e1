//! The command line's shape: global flags and subcommands, with Helm's names.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::values::ValuesFlags;

/// The exit codes, as `capstan --help` lists them (see [`crate::exit`]).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (for `diff --detailed-exitcode`: no changes)
  1  an error, including a malformed command line
  2  `diff --detailed-exitcode` found changes
  3  the release is locked by another operation
  4  timed out (waiting for readiness, or the operation's deadline, --atomic included)";

/// The examples each command's help ends with, as Helm's help has them.
mod examples {
    pub const INSTALL: &str = "\
Examples:
  capstan install web ./charts/webapp -n apps --create-namespace
  capstan install web ./webapp-1.2.0.tgz -f prod.yaml --set image.tag=1.27 --wait --timeout 10m
  capstan install ./charts/webapp --generate-name --dry-run";
    pub const UPGRADE: &str = "\
Examples:
  capstan upgrade web ./charts/webapp --reuse-values --set replicaCount=3
  capstan upgrade --install web ./charts/webapp -n apps --atomic --timeout 5m
  capstan upgrade web ./charts/webapp --dry-run=server";
    pub const ROLLBACK: &str = "\
Examples:
  capstan rollback web        # to the revision before the latest
  capstan rollback web 3 --wait";
    pub const UNINSTALL: &str = "\
Examples:
  capstan uninstall web -n apps
  capstan uninstall web --keep-history
  capstan uninstall web --ignore-not-found";
    pub const LIST: &str = "\
Examples:
  capstan list                  # deployed and failed releases in the namespace
  capstan list -A -a            # every release, every status, every namespace
  capstan list -d -r -m 5       # the five most recently deployed
  capstan list -l team=web -o json";
    pub const HISTORY: &str = "\
Examples:
  capstan history web --max 5 -o yaml";
    pub const STATUS: &str = "\
Examples:
  capstan status web
  capstan status web --revision 2 --show-desc
  capstan status web -o json | jq .info.status";
    pub const TEMPLATE: &str = "\
Examples:
  capstan template web ./charts/webapp -f prod.yaml
  capstan template ./charts/webapp -s templates/deployment.yaml
  capstan template web ./charts/webapp --output-dir out --release-name";
}

/// capstan: Helm's release lifecycle, as services.
#[derive(Parser, Debug)]
#[command(
    name = "capstan",
    version,
    about,
    after_help = EXIT_CODES,
    // As pflag: a flag given twice takes its last value (`-n a -n b` is `-n b`).
    args_override_self = true
)]
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
#[command(next_help_heading = "Global Flags")]
pub struct Global {
    /// Namespace of the release.
    #[arg(short = 'n', long, global = true, env = "HELM_NAMESPACE")]
    pub namespace: Option<String>,
    /// Path to the kubeconfig file.
    #[arg(long, global = true, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Name of the kubeconfig context to use.
    #[arg(long, global = true, env = "HELM_KUBECONTEXT")]
    pub kube_context: Option<String>,
    /// The Kubernetes connection's overrides of the kubeconfig.
    #[command(flatten)]
    pub kube: KubeFlags,
    /// The namespace of the kubeconfig's context in use, read once the command line is parsed
    /// (see [`crate::kubeconfig::context_namespace`]).
    #[arg(skip)]
    pub context_namespace: Option<String>,
    /// Print every cause of an error, and debug output.
    #[arg(long, global = true, env = "HELM_DEBUG", value_parser = go_bool)]
    pub debug: bool,
    /// Print no progress while an operation runs (only its result, or the error).
    #[arg(long, global = true, env = "CAPSTAN_QUIET", value_parser = go_bool)]
    pub quiet: bool,
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
    /// Path to the file of chart repositories (Helm's `repositories.yaml`).
    #[arg(
        long,
        global = true,
        env = "HELM_REPOSITORY_CONFIG",
        value_name = "FILE"
    )]
    pub repository_config: Option<PathBuf>,
    /// Path to the directory of cached repository indexes.
    #[arg(long, global = true, env = "HELM_REPOSITORY_CACHE", value_name = "DIR")]
    pub repository_cache: Option<PathBuf>,
}

impl Global {
    /// The namespace to use: `-n`, `HELM_NAMESPACE`, the namespace of the kubeconfig's context
    /// in use, or `default` (Helm's order).
    pub fn namespace(&self) -> String {
        self.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.context_namespace.clone())
            .unwrap_or_else(|| "default".into())
    }
}

/// Helm's `--kube-*` flags: overrides of the kubeconfig's cluster and user for the context in
/// use, each also read from its `HELM_*` variable.
#[derive(Args, Debug, Clone, Default)]
pub struct KubeFlags {
    /// The address and the port for the Kubernetes API server.
    #[arg(long, global = true, env = "HELM_KUBEAPISERVER", value_name = "URL")]
    pub kube_apiserver: Option<String>,
    /// Bearer token used for authentication.
    #[arg(long, global = true, env = "HELM_KUBETOKEN", hide_env_values = true)]
    pub kube_token: Option<String>,
    /// Username to impersonate for the operation.
    #[arg(long, global = true, env = "HELM_KUBEASUSER", value_name = "USER")]
    pub kube_as_user: Option<String>,
    /// Group to impersonate for the operation (repeatable).
    #[arg(
        long,
        global = true,
        env = "HELM_KUBEASGROUPS",
        value_delimiter = ',',
        value_name = "GROUP"
    )]
    pub kube_as_group: Vec<String>,
    /// The certificate authority file for the Kubernetes API server connection.
    #[arg(long, global = true, env = "HELM_KUBECAFILE", value_name = "FILE")]
    pub kube_ca_file: Option<PathBuf>,
    /// Do not check the Kubernetes API server's certificate (insecure).
    #[arg(
        long,
        global = true,
        env = "HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
        value_parser = go_bool
    )]
    pub kube_insecure_skip_tls_verify: bool,
    /// Server name to check the Kubernetes API server's certificate against (default: the
    /// host used to reach it).
    #[arg(
        long,
        global = true,
        env = "HELM_KUBETLS_SERVER_NAME",
        value_name = "NAME"
    )]
    pub kube_tls_server_name: Option<String>,
    /// Queries per second to the Kubernetes API once the burst is spent (0: no client-side
    /// throttling, capstan's default; Helm's client-go then allows 5).
    #[arg(long, global = true, env = "HELM_QPS", default_value_t = 0.0,
          value_parser = |t: &str| -> Result<f32, String> { Ok(t.parse().unwrap_or(0.0)) })]
    pub qps: f32,
    /// Client-side throttling burst limit: requests let through at once before --qps applies.
    #[arg(long, global = true, env = "HELM_BURST_LIMIT", default_value_t = 100,
          value_parser = |t: &str| -> Result<u32, String> { Ok(t.parse().unwrap_or(100)) })]
    pub burst_limit: u32,
}

/// The commands.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Install a chart as a new release.
    #[command(disable_version_flag = true, after_help = examples::INSTALL)]
    Install(Box<InstallArgs>),
    /// Upgrade a release to a new chart or new values.
    #[command(disable_version_flag = true, after_help = examples::UPGRADE)]
    Upgrade(Box<UpgradeArgs>),
    /// Roll a release back to a previous revision.
    #[command(after_help = examples::ROLLBACK)]
    Rollback(RollbackArgs),
    /// Uninstall a release.
    #[command(visible_aliases = ["un", "delete", "del"], after_help = examples::UNINSTALL)]
    Uninstall(UninstallArgs),
    /// List releases.
    #[command(visible_alias = "ls", after_help = examples::LIST)]
    List(ListArgs),
    /// Show a release's revisions.
    #[command(visible_alias = "hist", after_help = examples::HISTORY)]
    History(HistoryArgs),
    /// Show a release's status.
    #[command(after_help = examples::STATUS)]
    Status(StatusArgs),
    /// Run a release's tests (its `helm.sh/hook: test` hooks).
    Test(TestArgs),
    /// Show parts of a release.
    #[command(subcommand)]
    Get(GetCommand),
    /// Show what an upgrade or rollback would change, or how two revisions differ.
    #[command(subcommand, disable_version_flag = true)]
    Diff(DiffCommand),
    /// Render a chart locally and print the manifests.
    #[command(disable_version_flag = true, after_help = examples::TEMPLATE)]
    Template(Box<TemplateArgs>),
    /// Examine charts for possible issues (Chart.yaml, values and schema, templates).
    #[command(disable_version_flag = true)]
    Lint(Box<LintArgs>),
    /// Print the shell completion script for bash, zsh, fish or powershell.
    Completion(CompletionArgs),
    /// Add, list, update, remove and index chart repositories.
    #[command(subcommand)]
    Repo(crate::sources::RepoCommand),
    /// Search the chart repositories.
    #[command(subcommand, disable_version_flag = true)]
    Search(crate::sources::SearchCommand),
    /// Download a chart from a repository or an OCI registry (and optionally extract it).
    #[command(disable_version_flag = true)]
    Pull(Box<crate::sources::PullArgs>),
    /// Package a chart directory into a versioned chart archive.
    #[command(disable_version_flag = true)]
    Package(crate::sources::PackageArgs),
    /// Manage a chart's dependencies (charts/ and Chart.lock).
    #[command(subcommand, visible_aliases = ["dep", "dependencies"])]
    Dependency(crate::sources::DependencyCommand),
    /// Show a chart's information.
    #[command(subcommand, visible_alias = "inspect", disable_version_flag = true)]
    Show(crate::sources::ShowCommand),
    /// Print the client version.
    Version(VersionArgs),
    /// Print the `HELM_*` environment in effect (all of it, or one variable's value).
    Env(EnvArgs),
    /// Dynamic completion for the shell scripts of `completion` (as Helm's hidden command).
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
    /// Push a chart archive to an OCI registry.
    Push(Box<PushArgs>),
    /// Log in to or out of an OCI registry.
    #[command(subcommand)]
    Registry(RegistryCommand),
}

/// How to reach an OCI registry for `oci://` charts and `push`. Credentials default to the
/// registry's entry in Helm's credentials file (`HELM_REGISTRY_CONFIG`).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Talk plain HTTP to the registry instead of HTTPS.
    #[arg(long)]
    pub plain_http: bool,
    /// Do not verify the registry's TLS certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Verify the registry's certificate with this CA bundle (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for the registry.
    #[arg(long, value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Registry user name (instead of the credentials file).
    #[arg(long)]
    pub username: Option<String>,
    /// Registry password.
    #[arg(long, hide_env_values = true)]
    pub password: Option<String>,
}

/// Push a chart archive to an OCI registry.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The chart archive (`.tgz`); a `.prov` file next to it is pushed too.
    pub chart: PathBuf,
    /// The destination, `oci://host/path` (the chart's name and version are added).
    pub remote: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// `capstan registry login|logout`.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum RegistryCommand {
    /// Log in to a registry: check the credentials and store them in Helm's credentials file.
    Login(RegistryLoginArgs),
    /// Remove a registry's credentials from Helm's credentials file.
    Logout(RegistryLogoutArgs),
}

/// Log in to a registry: check the credentials and store them in Helm's credentials file.
#[derive(Args, Debug)]
pub struct RegistryLoginArgs {
    /// The registry, `host[:port]`.
    pub host: String,
    /// User name.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin).
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// Do not verify the registry's TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Talk plain HTTP to the registry.
    #[arg(long)]
    pub plain_http: bool,
    /// Verify the registry's certificate with this CA bundle (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

/// Remove a registry's credentials from Helm's credentials file.
#[derive(Args, Debug)]
pub struct RegistryLogoutArgs {
    /// The registry, `host[:port]`.
    pub host: String,
}

/// Dynamic completion for the shell scripts of `completion` (as Helm's hidden command).
#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// The words typed after `capstan`, the last one being the word at the cursor (maybe empty).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub words: Vec<String>,
}

/// Print the client version.
#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Print the version number only (`v0.1.0`).
    #[arg(long)]
    pub short: bool,
    /// A Go template for the output, over `.Version`, `.GitCommit`, `.GitTreeState` and
    /// `.GoVersion` (e.g. `{{.Version}}`).
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
}

/// Print the `HELM_*` environment in effect (all of it, or one variable's value).
#[derive(Args, Debug)]
pub struct EnvArgs {
    /// Print only this variable's value.
    pub name: Option<String>,
}

/// Render a chart locally and print the manifests.
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
    /// The chart version or constraint (for charts from repositories).
    #[arg(long)]
    pub version: Option<String>,
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: crate::sources::ChartSource,
    /// Accepted as Helm accepts it; `template` creates nothing, so it changes nothing.
    #[arg(long)]
    pub skip_crds: bool,
    /// Leave test hooks (`helm.sh/hook: test`) out of the output.
    #[arg(long)]
    pub skip_tests: bool,
    /// With --output-dir, write under `<DIR>/<release name>/`.
    #[arg(long)]
    pub release_name: bool,
    /// Name the release `<chart>-<unix seconds>` instead of `release-name`.
    #[arg(short = 'g', long)]
    pub generate_name: bool,
    /// Check the rendered manifests against the cluster in use, as an install would (a
    /// server-side dry run; the objects' kinds must exist and pass the API server's validation).
    #[arg(long)]
    pub validate: bool,
    /// Post-rendering.
    #[command(flatten)]
    pub post_render: PostRenderFlags,
}

/// `--post-renderer PATH` and its `--post-renderer-args`.
#[derive(Args, Debug, Clone, Default)]
pub struct PostRenderFlags {
    /// An executable the rendered manifests are piped through (standard input to standard
    /// output) before they are applied or printed.
    #[arg(long, value_name = "PATH")]
    pub post_renderer: Option<PathBuf>,
    /// An argument for the post-renderer (repeatable).
    #[arg(long, value_name = "ARG", requires = "post_renderer")]
    pub post_renderer_args: Vec<String>,
}

/// Examine charts for possible issues (Chart.yaml, values and schema, templates).
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
    /// Kubernetes version for `Capabilities.KubeVersion`.
    #[arg(long)]
    pub kube_version: Option<String>,
    /// The chart version or constraint (for charts from repositories).
    #[arg(long)]
    pub version: Option<String>,
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: crate::sources::ChartSource,
}

/// Print the shell completion script for bash, zsh, fish or powershell.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A boolean variable as Go's `strconv.ParseBool` reads it for Helm (`1`, `t`, `true`, `TRUE`...
/// are true); anything else is false, never an error (Helm ignores what it cannot parse).
pub fn go_bool(text: &str) -> Result<bool, String> {
    Ok(matches!(text, "1" | "t" | "T" | "true" | "TRUE" | "True"))
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
    /// Wait until every object is ready (and hooks have completed) before succeeding; Helm 4's
    /// strategies are accepted: `--wait` or `--wait=watcher`/`legacy` wait for every object,
    /// `--wait=hookOnly` only for hooks (as without --wait).
    #[arg(long = "wait", num_args = 0..=1, require_equals = true, default_missing_value = "watcher",
          value_parser = ["watcher", "legacy", "hookOnly", "true", "false"], value_name = "STRATEGY")]
    pub wait_strategy: Option<String>,
    /// With --wait, also wait for Jobs to complete.
    #[arg(long)]
    pub wait_for_jobs: bool,
    /// How long to wait for each Kubernetes operation (a Go duration).
    #[arg(long, default_value = "5m0s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Do not print the chart's NOTES.txt.
    #[arg(long)]
    pub hide_notes: bool,
    /// Render subcharts' NOTES.txt too, after the parent chart's.
    #[arg(long)]
    pub render_subchart_notes: bool,
    /// Post-rendering.
    #[command(flatten)]
    pub post_render: PostRenderFlags,
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
    /// Replace objects (a PUT, as Helm does) instead of patching them; an immutable field still
    /// cannot change.
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
    /// A pending latest revision that no capstan operation holds (left by Helm, or by a client
    /// killed without a lock) is marked failed and the operation proceeds. Only when no other
    /// client is working on the release.
    #[arg(long)]
    pub recover: bool,
    /// Server-side apply: `auto` (installs: true; upgrades and rollbacks: as the release was
    /// last applied), `true` or `false`.
    #[arg(long, num_args = 0..=1, default_value = "auto", default_missing_value = "true",
          value_parser = ["auto", "true", "false"], value_name = "MODE")]
    pub server_side: String,
    /// With server-side apply, take over fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Custom labels on the release record, `key=value,...` (added to the previous revision's).
    #[arg(short = 'l', long, value_delimiter = ',', value_parser = parse_label, value_name = "KEY=VALUE")]
    pub labels: Vec<(String, String)>,
}

impl ApplyFlags {
    /// Whether objects are waited for: `--wait`, `--wait=watcher|legacy|true`, or `--atomic`
    /// (which implies it); not `--wait=hookOnly` or `--wait=false`.
    pub fn waits(&self) -> bool {
        matches!(
            self.wait_strategy.as_deref(),
            Some("watcher" | "legacy" | "true")
        )
    }
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

/// Install a chart as a new release.
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
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: crate::sources::ChartSource,
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
    // An `oci://` reference's tag or digest is not part of the chart's name.
    let base = if chart_reference.starts_with("oci://") {
        base.split(['@', ':']).next().unwrap_or("")
    } else {
        base
    };
    let base = base.split('.').next().unwrap_or("");
    let base = if base.is_empty() { "chart" } else { base };
    format!("{base}-{unix_seconds}")
}

/// Upgrade a release to a new chart or new values.
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
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: crate::sources::ChartSource,
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
#[command(defer = true)]
pub enum DiffCommand {
    /// What an upgrade would change: the latest revision's manifest against the new render.
    #[command(disable_version_flag = true)]
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

/// What an upgrade would change: the latest revision's manifest against the new render.
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
    /// The chart version or constraint (for charts from repositories).
    #[arg(long)]
    pub version: Option<String>,
    /// Where the chart comes from.
    #[command(flatten)]
    pub source: crate::sources::ChartSource,
}

/// What a rollback would change: the latest revision against the target revision.
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

/// The difference between two revisions of a release.
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

/// Run a release's tests (its `helm.sh/hook: test` hooks).
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

/// Roll a release back to a previous revision.
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
    /// Replace objects (a PUT, as Helm does) instead of patching them; an immutable field still
    /// cannot change.
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
    /// A pending latest revision that no capstan operation holds (left by Helm, or by a client
    /// killed without a lock) is marked failed and the operation proceeds. Only when no other
    /// client is working on the release.
    #[arg(long)]
    pub recover: bool,
    /// Server-side apply: `auto` (installs: true; upgrades and rollbacks: as the release was
    /// last applied), `true` or `false`.
    #[arg(long, num_args = 0..=1, default_value = "auto", default_missing_value = "true",
          value_parser = ["auto", "true", "false"], value_name = "MODE")]
    pub server_side: String,
    /// With server-side apply, take over fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
}

/// Uninstall a release.
#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// The release names.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Keep the release's history (mark it uninstalled); `rollback` re-installs it.
    #[arg(long)]
    pub keep_history: bool,
    /// Succeed when a release does not exist (say so and go on).
    #[arg(long)]
    pub ignore_not_found: bool,
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
    /// A pending latest revision that no capstan operation holds (left by Helm, or by a client
    /// killed without a lock) is marked failed and the operation proceeds. Only when no other
    /// client is working on the release.
    #[arg(long)]
    pub recover: bool,
}

/// List releases.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// List releases in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Every status, without any filter applied.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Deployed releases (with --failed, the default when no status is asked for).
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
    /// Sort by release date (oldest first; with --reverse, newest first).
    #[arg(short = 'd', long)]
    pub date: bool,
    /// Reverse the sort order.
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// Most releases to show (0: no limit).
    #[arg(short = 'm', long, default_value_t = 256)]
    pub max: usize,
    /// How many releases of the sorted list to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Label query on the release records (`key=value`, `key==value`, `key!=value`, comma-separated);
    /// the labels are Helm's (`name`, `owner`, `status`, `version`) and the release's own.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Format times with a Go layout, e.g. `--time-format "2006-01-02 15:04:05Z0700"`.
    #[arg(long, value_name = "LAYOUT")]
    pub time_format: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Show a release's revisions.
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

/// Show a release's status.
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
    /// Print the revision's description.
    #[arg(long)]
    pub show_desc: bool,
    /// Print the release's objects and their readiness (capstan prints them anyway).
    #[arg(long)]
    pub show_resources: bool,
}

/// `capstan get ...`.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
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

// The flags of `get`'s subcommands. No doc comment: clap would make it the `about` of every
// subcommand, whose own about is the variant's (the subcommands are deferred).
#[allow(missing_docs)]
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

    /// A subcommand's arguments are built only when it is parsed (`#[command(defer = true)]`:
    /// building the whole tree was most of a short command's own work). Built, its help takes
    /// the `about` of its arguments' struct; its parent's list of commands, the variant's: the
    /// two must say the same.
    #[test]
    fn deferred_subcommands_keep_their_about() {
        fn check(parent: &clap::Command, checked: &mut usize) {
            for sub in parent.get_subcommands() {
                let mut built = sub.clone();
                built.build();
                let about = |c: &clap::Command| c.get_about().map(ToString::to_string);
                assert_eq!(about(sub), about(&built), "`{}`", sub.get_name());
                assert!(about(sub).is_some(), "`{}` has no about", sub.get_name());
                *checked += 1;
                check(sub, checked);
            }
        }
        let mut checked = 0;
        check(&Cli::command(), &mut checked);
        assert!(checked > 40, "{checked} subcommands");
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
        // A flag given twice takes its last value, as pflag's do.
        let twice = Cli::try_parse_from(["capstan", "status", "w", "-n", "a", "-n", "b"]).unwrap();
        assert_eq!(twice.global.namespace.as_deref(), Some("b"));
        let twice = Cli::try_parse_from([
            "capstan",
            "upgrade",
            "w",
            "c",
            "--timeout",
            "1s",
            "--timeout",
            "2m",
        ]);
        assert!(twice.is_ok());
        assert!(
            Cli::try_parse_from(["capstan", "upgrade", "w", "c", "--server-side=maybe"]).is_err()
        );
        assert_eq!(generate_name("charts/nginx-1.2.0.tgz", 7), "nginx-1-7");
        assert_eq!(generate_name("./", 7), "chart-7");
        assert_eq!(
            generate_name("oci://r.io:5000/charts/web:1.2.0@sha256:ab", 7),
            "web-7"
        );
    }

    #[test]
    fn helm_boolean_variables_never_fail() {
        for (text, value) in [("1", true), ("true", true), ("0", false), ("yes", false)] {
            assert_eq!(go_bool(text), Ok(value));
        }
        assert!(
            Cli::try_parse_from(["capstan", "list", "--debug"])
                .unwrap()
                .global
                .debug
        );
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
