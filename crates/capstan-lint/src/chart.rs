//! The checks made on the chart itself before it is rendered: Chart.yaml and values.yaml parse,
//! the chart loads, its metadata, its files, and the values against `values.schema.json`.

use std::path::Path;

use capstan_chart::{Chart, Limits, TemplateSyntax, ValueLayer};

use crate::finding::{Findings, Severity, relative};

/// Checks the chart at `path` (a directory or an archive) with the user's `values` over its
/// defaults. Returns the loaded chart, or `None` when it could not be loaded (the findings say
/// why), and whether the values failed the schema.
pub(crate) fn check(
    findings: &mut Findings,
    path: &Path,
    values: &[ValueLayer],
) -> (Option<Chart>, bool) {
    let limits = Limits::default();
    if path.is_dir() {
        // Loading stops at the first bad file; check the two the user edits most on their own,
        // so both are reported.
        if let Ok(text) = std::fs::read_to_string(path.join("Chart.yaml"))
            && let Err(error) = capstan_chart::ChartMetadata::parse(&text, "Chart.yaml")
        {
            load_error(findings, &error);
        }
        if let Ok(text) = std::fs::read_to_string(path.join("values.yaml"))
            && let Err(error) = capstan_chart::parse_values_yaml(&text, "values.yaml")
        {
            load_error(findings, &error);
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
            return (None, false);
        }
    };
    lint_metadata(findings, &chart);
    findings.add(
        Severity::Info,
        "templates/",
        format!(
            "templates are read as {}{}",
            TemplateSyntax::of(&chart).name(),
            match TemplateSyntax::of(&chart) {
                TemplateSyntax::Go => " (Helm's language)",
                TemplateSyntax::Minijinja => {
                    " (Chart.yaml annotation capstan.dev/template-syntax)"
                }
            }
        ),
    );
    lint_files(findings, &chart, path);
    let schema_failed = lint_values(findings, &chart, values);
    (Some(chart), schema_failed)
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
fn lint_values(findings: &mut Findings, chart: &Chart, values: &[ValueLayer]) -> bool {
    let mut read_file =
        |path: &str| std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"));
    let result = capstan_chart::user_values(values, &mut read_file)
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
