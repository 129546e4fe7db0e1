//! `capstan lint`: examine charts for possible issues, as `helm lint` does.
//!
//! Each chart is loaded locally (Chart.yaml, values.yaml, the values schema) and then rendered
//! through the renderer service exactly as `template` renders it, so template errors are the
//! ones an install would hit. Output is Helm's: `==> Linting PATH`, one `[SEVERITY] file: problem`
//! line per finding, and a closing `N chart(s) linted, M chart(s) failed`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::bail;
use capstan_chart::{Chart, Limits, ValueLayer};
use capstan_proto::renderer::v1 as pb;

use crate::cli::{Global, LintArgs};
use crate::console::outln;
use crate::renderer;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Info,
    Warning,
    Error,
}

/// One finding: its severity, the chart-relative file it concerns, and the problem.
#[derive(Debug)]
struct Finding {
    severity: Severity,
    path: String,
    text: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        if self.path.is_empty() {
            write!(f, "[{label}] {}", self.text)
        } else {
            write!(f, "[{label}] {}: {}", self.path, self.text)
        }
    }
}

/// The findings for one chart.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, severity: Severity, path: impl Into<String>, text: impl Into<String>) {
        self.0.push(Finding {
            severity,
            path: path.into(),
            text: text.into(),
        });
    }

    /// Adds a message of the form `file: problem` (or `file:line:column: problem`).
    fn add_message(&mut self, severity: Severity, message: &str) {
        match message.split_once(": ") {
            Some((path, text)) if !path.contains(' ') => self.add(severity, path, text),
            _ => self.add(severity, "", message),
        }
    }
}

/// The values flags, read once, in the two forms lint needs: the renderer's layers and the
/// chart crate's (for the local schema check).
struct Layers {
    wire: Vec<pb::ValuesLayer>,
    local: Vec<ValueLayer>,
}

impl Layers {
    fn new(args: &LintArgs) -> anyhow::Result<Layers> {
        use pb::values_layer::Layer;
        let wire = args.values.layers()?;
        let local = wire
            .iter()
            .enumerate()
            .filter_map(|(i, layer)| {
                Some(match layer.layer.clone()? {
                    Layer::File(contents) => ValueLayer::File {
                        name: args
                            .values
                            .files
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| format!("values layer {}", i + 1)),
                        contents,
                    },
                    Layer::Json(contents) => ValueLayer::File {
                        name: format!("values layer {}", i + 1),
                        contents,
                    },
                    Layer::Set(e) => ValueLayer::Set(e),
                    Layer::SetString(e) => ValueLayer::SetString(e),
                    Layer::SetJson(e) => ValueLayer::SetJson(e),
                    Layer::SetFile(f) => ValueLayer::SetFile(f.expression),
                })
            })
            .collect();
        Ok(Layers { wire, local })
    }
}

pub async fn run(global: &Global, args: LintArgs) -> anyhow::Result<u8> {
    let mut paths = Vec::new();
    // Charts named by reference are downloaded into a directory that lives until the end.
    let downloads = tempfile::tempdir()?;
    for path in &args.paths {
        let path = match capstan_repo::ChartRef::parse(path, args.source.repo.as_deref()) {
            capstan_repo::ChartRef::Local(_) | capstan_repo::ChartRef::Missing(_) => {
                PathBuf::from(path)
            }
            _ => {
                let spec = crate::chart::ChartSpec {
                    reference: path,
                    version: args.version.as_deref(),
                    source: &args.source,
                };
                let fetched = crate::chart::resolve(global, spec).await?;
                let file = downloads.path().join(&fetched.file_name);
                std::fs::write(&file, &fetched.archive)?;
                file
            }
        };
        paths.push(path.clone());
        if args.with_subcharts {
            subcharts(&path, &mut paths);
        }
    }
    let layers = Layers::new(&args)?;
    let mut client = renderer::connect(global).await?;
    let mut failed = 0usize;
    for path in &paths {
        let findings = lint_chart(&mut client, global, &args, path, &layers).await;
        let worst = findings.0.iter().map(|f| f.severity).max();
        let fails = match worst {
            Some(Severity::Error) => true,
            Some(Severity::Warning) => args.strict,
            _ => false,
        };
        if fails {
            failed += 1;
        }
        if args.quiet && worst.is_none_or(|w| w == Severity::Info) {
            continue;
        }
        outln!("==> Linting {}", path.display());
        for finding in &findings.0 {
            if !(args.quiet && finding.severity == Severity::Info) {
                outln!("{finding}");
            }
        }
        outln!();
    }
    let summary = format!("{} chart(s) linted, {failed} chart(s) failed", paths.len());
    if failed > 0 {
        bail!(summary);
    }
    outln!("{summary}");
    Ok(0)
}

/// Adds the charts under `dir/charts/` (directories with a Chart.yaml, and `.tgz` archives),
/// recursively, as `--with-subcharts` lints them.
fn subcharts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir.join("charts")) else {
        return;
    };
    let mut found: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    found.sort();
    for path in found {
        if path.is_dir() && path.join("Chart.yaml").is_file() {
            out.push(path.clone());
            subcharts(&path, out);
        } else if path.extension().is_some_and(|e| e == "tgz") {
            out.push(path);
        }
    }
}

/// `prefix/rest` → `rest`: chart-relative paths carry the chart's name first.
fn relative(file: &str) -> &str {
    file.split_once('/').map_or(file, |(_, rest)| rest)
}

async fn lint_chart(
    client: &mut renderer::Client,
    global: &Global,
    args: &LintArgs,
    path: &Path,
    layers: &Layers,
) -> Findings {
    let mut findings = Findings::default();
    let limits = Limits::default();
    if path.is_dir() {
        // Loading stops at the first bad file; check the two the user edits most on their own,
        // so both are reported.
        if let Ok(text) = std::fs::read_to_string(path.join("Chart.yaml"))
            && let Err(error) = capstan_chart::ChartMetadata::parse(&text, "Chart.yaml")
        {
            load_error(&mut findings, &error);
        }
        if let Ok(text) = std::fs::read_to_string(path.join("values.yaml"))
            && let Err(error) = capstan_chart::parse_values_yaml(&text, "values.yaml")
        {
            load_error(&mut findings, &error);
        }
    }
    let chart = match Chart::load_path(path, &limits) {
        Ok(chart) => chart,
        Err(error) => {
            let mut loading = Findings::default();
            load_error(&mut loading, &error);
            for finding in loading.0 {
                let text = finding.to_string();
                if !findings.0.iter().any(|f| f.to_string() == text) {
                    findings.0.push(finding);
                }
            }
            return findings;
        }
    };
    lint_metadata(&mut findings, &chart);
    findings.add(
        Severity::Info,
        "templates/",
        format!(
            "templates are read as {}{}",
            capstan_chart::TemplateSyntax::of(&chart).name(),
            match capstan_chart::TemplateSyntax::of(&chart) {
                capstan_chart::TemplateSyntax::Go => " (Helm's language)",
                capstan_chart::TemplateSyntax::Minijinja => {
                    " (Chart.yaml annotation capstan.dev/template-syntax)"
                }
            }
        ),
    );
    lint_files(&mut findings, &chart, path);
    let schema_failed = lint_values(&mut findings, &chart, layers);
    if !chart.metadata.is_library()
        && let Err(error) = lint_render(&mut findings, client, global, args, path, layers).await
    {
        let message = format!("{error:#}");
        // The schema violations are already reported one by one.
        if !(schema_failed && message.contains("values don't meet the specifications")) {
            findings.add(
                Severity::Error,
                "templates/",
                format!("rendering failed: {message}"),
            );
        }
    }
    findings
}

fn load_error(findings: &mut Findings, error: &capstan_chart::Error) {
    use capstan_chart::Error;
    match error {
        Error::Metadata { file, message } => {
            findings.add(Severity::Error, relative(file), message.as_str());
        }
        Error::Yaml {
            file,
            line,
            column,
            message,
        } => findings.add(
            Severity::Error,
            format!("{}:{line}:{column}", relative(file)),
            format!("unable to parse YAML: {message}"),
        ),
        Error::MissingChartYaml { .. } => {
            findings.add(Severity::Error, "Chart.yaml", "file does not exist");
        }
        Error::InvalidSchema { file, message } => findings.add(
            Severity::Error,
            relative(file),
            format!("invalid JSON schema: {message}"),
        ),
        other => findings.add(
            Severity::Error,
            "",
            format!("unable to load chart: {}", other_error(other)),
        ),
    }
}

/// The error with its causes, for a one-line report.
fn other_error(error: &capstan_chart::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Chart.yaml checks beyond those loading makes (which reject an invalid chart outright).
fn lint_metadata(findings: &mut Findings, chart: &Chart) {
    let metadata = &chart.metadata;
    if metadata.icon.is_empty() {
        findings.add(Severity::Info, "Chart.yaml", "icon is recommended");
    }
    let missing: Vec<&str> = metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if !missing.is_empty() {
        findings.add(
            Severity::Warning,
            "",
            format!(
                "chart directory is missing these dependencies: {}",
                missing.join(",")
            ),
        );
    }
}

/// values.yaml presence and the templates directory's contents.
fn lint_files(findings: &mut Findings, chart: &Chart, path: &Path) {
    if path.is_dir() && !path.join("values.yaml").is_file() {
        findings.add(Severity::Info, "values.yaml", "file does not exist");
    }
    let has_templates = if path.is_dir() {
        path.join("templates").is_dir()
    } else {
        !chart.templates.is_empty()
    };
    if !has_templates {
        findings.add(Severity::Warning, "templates/", "directory not found");
    }
    for template in &chart.templates {
        let allowed = [".yaml", ".yml", ".tpl", ".txt"];
        if !allowed.iter().any(|ext| template.name.ends_with(ext)) {
            let extension = Path::new(&template.name)
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            findings.add(
                Severity::Error,
                template.name.as_str(),
                format!(
                    "file extension '{extension}' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt"
                ),
            );
        }
    }
}

/// The user's values over the chart's defaults, against `values.schema.json` of the chart and
/// its subcharts: one finding per violation. Returns whether any was found.
fn lint_values(findings: &mut Findings, chart: &Chart, layers: &Layers) -> bool {
    let mut read_file =
        |path: &str| std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"));
    let result = capstan_chart::user_values(&layers.local, &mut read_file)
        .and_then(|user| capstan_chart::compute_values(chart, &user))
        .and_then(|(processed, values)| capstan_chart::validate_values(&processed, &values));
    match result {
        Ok(()) => false,
        Err(capstan_chart::Error::Schema { violations }) => {
            for violation in &violations {
                let file = match violation.chart.split_once('/') {
                    Some((_, sub)) => format!("{sub}/values.yaml"),
                    None => "values.yaml".to_string(),
                };
                findings.add(
                    Severity::Error,
                    file,
                    format!("{}: {}", violation.path, violation.message),
                );
            }
            true
        }
        Err(error) => {
            findings.add_message(Severity::Error, &other_error(&error));
            false
        }
    }
}

/// Renders the chart through the renderer service (as `template` does) and checks every
/// rendered object. A render error becomes one finding naming the file, line and column.
async fn lint_render(
    findings: &mut Findings,
    client: &mut renderer::Client,
    global: &Global,
    args: &LintArgs,
    path: &Path,
    layers: &Layers,
) -> anyhow::Result<()> {
    let archive = crate::chart::archive(path)?;
    let source = renderer::ensure_chart(client, archive).await?;
    let mut capabilities = pb::Capabilities::default();
    if let Some(version) = &args.kube_version {
        capabilities.kube_version = version.clone();
    }
    let request = pb::RenderRequest {
        chart: Some(source),
        values: layers.wire.clone(),
        release: Some(pb::ReleaseContext {
            name: "release-name".into(),
            namespace: global.namespace(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        capabilities: Some(capabilities),
        chart_values_json: None,
        lookups: None,
        // As Helm's lint: a missing `required` value or a `fail` is logged, not an error.
        lint_mode: true,
        render_subchart_notes: false,
    };
    let rendered = match client.render(request).await {
        Ok(response) => response.into_inner(),
        Err(status)
            if status.code() == tonic::Code::InvalidArgument
                && !status
                    .message()
                    .contains("values don't meet the specifications") =>
        {
            // `chart/templates/x.yaml:3:12: message` (then indented detail lines).
            findings.add_message(Severity::Error, relative(status.message()));
            return Ok(());
        }
        Err(status) => return Err(renderer::status(status)),
    };
    // Helm's engine logs these on standard error in lint mode; the lint itself passes.
    for message in &rendered.lint_messages {
        crate::console::eoutln!("[INFO] {message}");
    }
    for manifest in &rendered.manifests {
        check_object(
            findings,
            relative(&manifest.source),
            &manifest.api_version,
            &manifest.kind,
            &manifest.name,
        );
    }
    for hook in &rendered.hooks {
        let api_version = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&hook.yaml)
            .ok()
            .and_then(|v| v.get("apiVersion")?.as_str().map(str::to_string))
            .unwrap_or_default();
        check_object(
            findings,
            relative(&hook.path),
            &api_version,
            &hook.kind,
            &hook.name,
        );
    }
    Ok(())
}

/// The checks Helm makes on each rendered object: it names its API version, kind and name; its
/// name is valid for its kind; its API version is not deprecated or removed.
fn check_object(findings: &mut Findings, file: &str, api_version: &str, kind: &str, name: &str) {
    if api_version.is_empty() {
        findings.add(
            Severity::Error,
            file,
            format!("{kind} is missing apiVersion"),
        );
    }
    if kind.is_empty() {
        findings.add(Severity::Error, file, "object is missing kind");
    }
    if name.is_empty() {
        findings.add(
            Severity::Error,
            file,
            format!("{kind} is missing metadata.name"),
        );
    } else if let Err(rule) = valid_name(kind, name) {
        findings.add(
            Severity::Error,
            file,
            format!(
                "object name does not conform to Kubernetes naming requirements: {name:?}: {rule}"
            ),
        );
    }
    if let Some((since, removed, replacement)) = deprecation(api_version, kind) {
        findings.add(
            Severity::Warning,
            file,
            format!(
                "{api_version} {kind} is deprecated in v{since}+, unavailable in v{removed}+; use {replacement} {kind}"
            ),
        );
    }
}

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters";
const DNS1035_RULE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, end with an alphanumeric character, and be at most 63 characters";

/// Whether `name` is a valid name for an object of `kind`, by the rule Kubernetes applies to it;
/// kinds Kubernetes does not define (custom resources) are not checked.
fn valid_name(kind: &str, name: &str) -> Result<(), String> {
    match kind {
        "Service" => dns1035_label(name).then_some(()).ok_or(DNS1035_RULE.into()),
        "Namespace" => dns1123_label(name).then_some(()).ok_or(LABEL_RULE.into()),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            if name == "." || name == ".." {
                Err(format!("may not be {name:?}"))
            } else if name.contains('/') || name.contains('%') {
                Err("may not contain '/' or '%'".into())
            } else {
                Ok(())
            }
        }
        "Pod"
        | "ConfigMap"
        | "Secret"
        | "ServiceAccount"
        | "Endpoints"
        | "ResourceQuota"
        | "LimitRange"
        | "PersistentVolume"
        | "PersistentVolumeClaim"
        | "ReplicationController"
        | "Deployment"
        | "DaemonSet"
        | "StatefulSet"
        | "ReplicaSet"
        | "ControllerRevision"
        | "Job"
        | "CronJob"
        | "Ingress"
        | "IngressClass"
        | "NetworkPolicy"
        | "HorizontalPodAutoscaler"
        | "PodDisruptionBudget"
        | "PriorityClass"
        | "StorageClass"
        | "RuntimeClass"
        | "Lease"
        | "CustomResourceDefinition"
        | "MutatingWebhookConfiguration"
        | "ValidatingWebhookConfiguration" => dns1123_subdomain(name)
            .then_some(())
            .ok_or(SUBDOMAIN_RULE.into()),
        _ => Ok(()),
    }
}

fn dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn dns1035_label(name: &str) -> bool {
    dns1123_label(name) && name.as_bytes()[0].is_ascii_lowercase()
}

fn dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(dns1123_label)
}

/// Deprecated or removed API versions Helm's linter warns about: (deprecated in, removed in,
/// replacement).
fn deprecation(
    api_version: &str,
    kind: &str,
) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match (api_version, kind) {
        ("extensions/v1beta1", "Ingress") => ("1.14", "1.22", "networking.k8s.io/v1"),
        ("networking.k8s.io/v1beta1", "Ingress" | "IngressClass") => {
            ("1.19", "1.22", "networking.k8s.io/v1")
        }
        (
            "extensions/v1beta1" | "apps/v1beta1" | "apps/v1beta2",
            "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet",
        ) => ("1.9", "1.16", "apps/v1"),
        ("extensions/v1beta1", "NetworkPolicy") => ("1.9", "1.16", "networking.k8s.io/v1"),
        ("batch/v1beta1", "CronJob") => ("1.21", "1.25", "batch/v1"),
        ("policy/v1beta1", "PodDisruptionBudget") => ("1.21", "1.25", "policy/v1"),
        ("autoscaling/v2beta1" | "autoscaling/v2beta2", "HorizontalPodAutoscaler") => {
            ("1.23", "1.26", "autoscaling/v2")
        }
        ("rbac.authorization.k8s.io/v1beta1", _) => {
            ("1.17", "1.22", "rbac.authorization.k8s.io/v1")
        }
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition") => {
            ("1.16", "1.22", "apiextensions.k8s.io/v1")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kinds_rules() {
        assert!(valid_name("Deployment", "prod-api.web").is_ok());
        assert!(valid_name("Deployment", "Prod_API").is_err());
        assert!(valid_name("Service", "9web").is_err());
        assert!(valid_name("Service", "web-9").is_ok());
        assert!(valid_name("Namespace", "a.b").is_err());
        assert!(valid_name("ClusterRole", "system:Reader").is_ok());
        assert!(valid_name("ClusterRole", "a/b").is_err());
        assert!(valid_name("Widget", "Any_Name").is_ok());
        assert!(valid_name("ConfigMap", &"a".repeat(254)).is_err());
    }

    #[test]
    fn messages_split_into_file_and_problem() {
        let mut findings = Findings::default();
        findings.add_message(Severity::Error, "templates/x.yaml:3:12: unexpected end");
        findings.add_message(Severity::Error, "values don't meet: x");
        assert_eq!(
            findings.0[0].to_string(),
            "[ERROR] templates/x.yaml:3:12: unexpected end"
        );
        assert_eq!(findings.0[1].to_string(), "[ERROR] values don't meet: x");
    }
}
